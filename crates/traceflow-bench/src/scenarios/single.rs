//! Single-event `POST /ingest` at 64 keep-alive connections, closed loop, for a fixed time:
//! how many events ingestion accepts (202) per second and how long each answer takes.
//!
//! Each run is preceded by its anchor, `redis-benchmark` LPUSH (see `anchors`).
//!
//! The worker is stopped for this scenario and the queue emptied before each run. What is
//! measured is ingestion's own path (HTTP, validation, one LPUSH), the same work its anchor,
//! redis-benchmark LPUSH, measures without the service. With the worker running, on two
//! cores, the figure would mostly measure how much CPU the worker and ClickHouse take while
//! draining a queue that grows by hundreds of thousands of events per run; the pipeline as
//! a whole is what the batch and lag scenarios measure.

use super::{Bench, anchors, runs, secs};
use crate::{
    events,
    load::{self, ClosedLoopOutcome},
    procfs::CpuTimes,
    report::{Report, Target, Unit},
    stats::{Latency, median},
};
use anyhow::bail;
use bytes::Bytes;
use hyper::StatusCode;
use serde::Serialize;
use std::{collections::BTreeMap, sync::Arc, time::Duration};

pub const RATE: &str = "single-event ingest, 64 conns: accepted";
pub const P50: &str = "single-event ingest latency p50";
pub const P99: &str = "single-event ingest latency p99";
pub const RATIO: &str = "single-event accepted / redis-benchmark LPUSH";

#[derive(Debug, Serialize)]
struct Run {
    seconds: f64,
    accepted: u64,
    accepted_per_second: f64,
    statuses: BTreeMap<u16, u64>,
    failures: u64,
    first_problem: Option<String>,
    latency: Option<Latency>,
    /// Cores each process kept busy during the run.
    cpu_cores: BTreeMap<&'static str, f64>,
}

impl Run {
    fn of(outcome: ClosedLoopOutcome, cpu_cores: BTreeMap<&'static str, f64>) -> Self {
        let accepted = outcome.count(StatusCode::ACCEPTED);
        Self {
            seconds: secs(outcome.elapsed),
            accepted,
            accepted_per_second: accepted as f64 / outcome.elapsed.as_secs_f64(),
            statuses: outcome.statuses,
            failures: outcome.failures,
            first_problem: outcome.first_problem,
            latency: Latency::of(outcome.latencies),
            cpu_cores,
        }
    }
}

pub async fn run(bench: &mut Bench, report: &mut Report) -> anyhow::Result<()> {
    bench.stack.stop_worker().await;
    let result = measure(bench, report).await;
    // Leave the stack as the other scenarios expect it, whatever happened.
    bench.clear_queue().await?;
    bench.stack.start_worker().await;
    result
}

async fn measure(bench: &mut Bench, report: &mut Report) -> anyhow::Result<()> {
    let settings = bench.settings.clone();
    // Enough distinct bodies that requests differ; built before the clock starts.
    let now = chrono::Utc::now();
    let bodies: Arc<[Bytes]> = (0..4096)
        .map(|n| events::ingest_body(&events::event(n, now)))
        .collect();
    let target = bench.ingestion.clone();
    let post = |duration: Duration| {
        load::post_closed_loop(
            &target,
            settings.single_connections,
            duration,
            "/ingest",
            "application/json",
            bodies.clone(),
            StatusCode::ACCEPTED,
        )
    };
    // Warm-up, not counted: connections, Redis's first allocations, the service's pools.
    post(Duration::from_secs(1)).await?;

    let (mut results, mut anchor_runs) = (Vec::new(), Vec::new());
    for _ in 0..settings.reps {
        // The anchor right before the run it anchors, on the same (empty) Redis.
        anchor_runs.push(anchors::redis_benchmark(bench).await?);
        bench.clear_queue().await?;
        let cpu = CpuTimes::now();
        let outcome = post(Duration::from_secs(settings.single_seconds)).await?;
        let cores = CpuTimes::now().cores_since(&cpu, outcome.elapsed.as_secs_f64());
        let run = Run::of(outcome, cores);
        if run.accepted == 0 {
            bail!(
                "no event was accepted: {}",
                run.first_problem.as_deref().unwrap_or("no answer")
            );
        }
        results.push(run);
    }

    let rates: Vec<f64> = results.iter().map(|r| r.accepted_per_second).collect();
    let p50s: Vec<f64> = results
        .iter()
        .filter_map(|r| r.latency.map(|l| l.p50_ms))
        .collect();
    let p99s: Vec<f64> = results
        .iter()
        .filter_map(|r| r.latency.map(|l| l.p99_ms))
        .collect();
    let refused: u64 = results
        .iter()
        .map(|r| {
            r.statuses
                .iter()
                .filter(|(s, _)| **s != 202)
                .map(|(_, n)| n)
                .sum::<u64>()
                + r.failures
        })
        .sum();
    let refused_note = if refused > 0 {
        format!("; {refused} requests not accepted (see details)")
    } else {
        String::new()
    };
    report
        .figure(
            "ingest",
            RATE,
            median(rates.iter().copied()),
            Unit::PerSecond,
            format!(
                "median of {} runs of {} s, worker stopped; runs {}{refused_note}; CPU cores \
                 busy in the last run: {}",
                results.len(),
                settings.single_seconds,
                runs(&rates, |v| format!("{v:.0}")),
                super::cores(&results.last().expect("runs").cpu_cores)
            ),
        )
        .target(Target::AtLeast(25_000.0));
    report.figure(
        "ingest",
        P50,
        median(p50s.iter().copied()),
        Unit::Millis,
        "",
    );
    report
        .figure(
            "ingest",
            P99,
            median(p99s.iter().copied()),
            Unit::Millis,
            format!(
                "median of the runs' p99; runs {} ms",
                runs(&p99s, |v| format!("{v:.2}"))
            ),
        )
        .target(Target::Below(25.0));
    let anchor_rates: Vec<f64> = anchor_runs.iter().map(|r| r.requests_per_second).collect();
    report.figure(
        "anchors",
        anchors::REDIS_BENCHMARK,
        median(anchor_rates.iter().copied()),
        Unit::PerSecond,
        format!(
            "{} LPUSHes of {} bytes per run, each run right before a single-event run; runs \
             {}; p99 {} ms",
            settings.redis_benchmark_requests,
            anchor_runs[0].payload_bytes,
            runs(&anchor_rates, |v| format!("{v:.0}")),
            runs(
                &anchor_runs.iter().map(|r| r.p99_ms).collect::<Vec<_>>(),
                |v| format!("{v:.2}")
            ),
        ),
    );
    anchors::ratio_figure(report, RATIO, &rates, &anchor_rates);
    report.detail(
        "single",
        serde_json::json!({"runs": results, "redis_benchmark": anchor_runs}),
    );
    Ok(())
}
