//! Single-event `POST /ingest` at 64 keep-alive connections, closed loop, for a fixed time:
//! how many events ingestion accepts (202) per second and how long each answer takes, in two
//! settings.
//!
//! - **Whole pipeline**, as users run it: the worker drains the queue into ClickHouse while
//!   ingestion takes events. Each run is preceded by its anchor, nginx answering 202 to the
//!   same requests (the HTTP floor, see `anchors`); after it, every accepted event must be
//!   stored. The report has the INSERTs per second the worker made during the run, and the
//!   lag of probes sent alongside the load (`lag::measure` at a low rate of its own).
//! - **Ingestion alone**: the worker stopped and the queue emptied before each run, so the
//!   figure is ingestion's own path (HTTP, validation, one push), the same work as its
//!   anchor, redis-benchmark LPUSH, run right before it.

use super::{Bench, Usage, anchors, lag, runs, secs};
use crate::{
    events,
    load::{self, ClosedLoopOutcome},
    procfs::CpuTimes,
    report::{Report, Target, Unit},
    settings::Settings,
    stats::{Latency, median},
};
use anyhow::{Context, bail};
use bytes::Bytes;
use hyper::StatusCode;
use serde::Serialize;
use std::{collections::BTreeMap, sync::Arc, time::Duration};

pub const PIPELINE_RATE: &str = "single-event ingest, whole pipeline: accepted";
pub const PIPELINE_P99: &str = "single-event ingest, whole pipeline: latency p99";
pub const PIPELINE_INSERTS: &str = "  its INSERTs per second into ClickHouse";
pub const PIPELINE_LAG_P99: &str = "  its lag 202 -> visible (probes), p99";
pub const PIPELINE_RATIO: &str = "single-event whole pipeline / nginx";
pub const RATE: &str = "single-event ingest alone (worker stopped): accepted";
pub const P50: &str = "single-event ingest alone: latency p50";
pub const P99: &str = "single-event ingest alone: latency p99";
pub const RATIO: &str = "single-event alone / redis-benchmark LPUSH";

/// Lag probes per second during a whole-pipeline run.
const LAG_PROBE_RATE: u64 = 200;
/// Longest the whole-pipeline run's accepted events may take to be stored after it.
const STORED_WITHIN: Duration = Duration::from_secs(120);

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

impl Run {
    /// The run, unless it accepted nothing: then its first problem is the error.
    fn accepted_some(self) -> anyhow::Result<Self> {
        if self.accepted == 0 {
            bail!(
                "no event was accepted: {}",
                self.first_problem.as_deref().unwrap_or("no answer")
            );
        }
        Ok(self)
    }
}

/// The median of the runs' p99 latencies as figure `name`, with the target.
fn p99_figure<'r>(report: &mut Report, name: &'static str, runs_: impl Iterator<Item = &'r Run>) {
    let p99s: Vec<f64> = runs_.filter_map(|r| r.latency.map(|l| l.p99_ms)).collect();
    report
        .figure(
            "ingest",
            name,
            median(p99s.iter().copied()),
            Unit::Millis,
            format!(
                "median of the runs' p99; runs {} ms",
                runs(&p99s, |v| format!("{v:.2}"))
            ),
        )
        .target(Target::Below(25.0));
}

/// One whole-pipeline run: the load, and what the stack did meanwhile.
#[derive(Debug, Serialize)]
struct PipelineRun {
    #[serde(flatten)]
    run: Run,
    usage: Usage,
    /// From the end of the load until the last accepted event was counted in ClickHouse.
    stored_after_seconds: f64,
    /// The lag probes sent during the load.
    lag: lag::Run,
}

/// The lag probes sent alongside each whole-pipeline run, a small share of its load: they
/// start a second into the run (the probe's lead) and end a second before it.
fn lag_probe(settings: &Settings) -> lag::Probe {
    lag::Probe {
        rate: LAG_PROBE_RATE,
        seconds: settings.single_seconds.saturating_sub(2).max(1),
        connections: 4,
    }
}

pub async fn run(bench: &mut Bench, report: &mut Report) -> anyhow::Result<()> {
    // Enough distinct bodies that requests differ; built before the clock starts.
    let now = chrono::Utc::now();
    let bodies: Arc<[Bytes]> = (0..4096)
        .map(|n| events::ingest_body(&events::event(n, now)))
        .collect();
    whole_pipeline(bench, report, bodies.clone()).await?;
    bench.stack.stop_worker().await;
    let result = ingestion_alone(bench, report, bodies).await;
    // Leave the stack as the other scenarios expect it, whatever happened.
    bench.clear_queue().await?;
    bench.stack.start_worker().await;
    result
}

/// `POST /ingest` of `bodies` by the scenario's connections to `target` for `duration`.
pub(super) async fn post(
    bench: &Bench,
    target: &load::Target,
    bodies: &Arc<[Bytes]>,
    duration: Duration,
) -> anyhow::Result<ClosedLoopOutcome> {
    load::post_closed_loop(
        target,
        bench.settings.single_connections,
        duration,
        "/ingest",
        "application/json",
        bodies.clone(),
        StatusCode::ACCEPTED,
    )
    .await
}

async fn whole_pipeline(
    bench: &mut Bench,
    report: &mut Report,
    bodies: Arc<[Bytes]>,
) -> anyhow::Result<()> {
    let settings = bench.settings.clone();
    let duration = Duration::from_secs(settings.single_seconds);
    let mut nginx = anchors::Nginx::start().await?;
    let table = bench.logs_table();
    // Warm-up, not counted, and what it queued stored before the first run.
    post(bench, &bench.ingestion, &bodies, Duration::from_secs(1)).await?;
    bench.settle(STORED_WITHIN).await?;

    let (mut results, mut anchor_runs) = (Vec::new(), Vec::new());
    for _ in 0..settings.reps {
        let anchor = post(bench, &nginx.target, &bodies, duration).await?;
        anyhow::ensure!(nginx.running(), "nginx stopped during its run");
        anchor_runs.push(Run::of(anchor, BTreeMap::new()));
        let baseline = bench.clickhouse.count(&table).await?;
        let activity = bench.activity().await?;
        let service = format!("bench-single-lag-{}", results.len());
        let (outcome, lag) = tokio::join!(
            post(bench, &bench.ingestion, &bodies, duration),
            lag::measure(bench, &service, lag_probe(&settings)),
        );
        let (outcome, lag) = (outcome?, lag?);
        let usage = bench.usage_since(&activity).await?;
        let ended = std::time::Instant::now();
        let run = Run::of(outcome, usage.cpu_cores.clone()).accepted_some()?;
        let stored = bench
            .wait_for_rows(
                baseline + run.accepted + lag.accepted,
                Duration::from_millis(20),
                STORED_WITHIN,
            )
            .await
            .with_context(|| {
                format!(
                    "{} single events accepted with the worker running",
                    run.accepted
                )
            })?;
        results.push(PipelineRun {
            run,
            usage,
            stored_after_seconds: secs(stored - ended),
            lag,
        });
    }
    drop(nginx);

    let rates: Vec<f64> = results.iter().map(|r| r.run.accepted_per_second).collect();
    let inserts: Vec<f64> = results.iter().map(|r| r.usage.inserts_per_second).collect();
    let stored_after: Vec<f64> = results.iter().map(|r| r.stored_after_seconds).collect();
    let last = results.last().expect("runs");
    report.figure(
        "ingest",
        PIPELINE_RATE,
        median(rates.iter().copied()),
        Unit::PerSecond,
        format!(
            "median of {} runs of {} s, worker running, every accepted event then counted in \
             ClickHouse (stored {} s after each run's end); runs {}; in the last run {}",
            results.len(),
            settings.single_seconds,
            runs(&stored_after, |v| format!("{v:.1}")),
            runs(&rates, |v| format!("{v:.0}")),
            super::usage(&last.usage)
        ),
    );
    p99_figure(report, PIPELINE_P99, results.iter().map(|r| &r.run));
    report
        .figure(
            "ingest",
            PIPELINE_INSERTS,
            median(inserts.iter().copied()),
            Unit::PerSecond,
            format!(
                "the worker's batches during each run; runs {}",
                runs(&inserts, |v| format!("{v:.1}"))
            ),
        )
        .target(Target::AtMost(10.0));
    let lag_p99s: Vec<f64> = results.iter().map(|r| r.lag.lag.p99_ms).collect();
    report
        .figure(
            "ingest",
            PIPELINE_LAG_P99,
            median(lag_p99s.iter().copied()),
            Unit::Millis,
            format!(
                "{LAG_PROBE_RATE} probes a second sent with the load, each timed from its 202 \
                 until a poll of ClickHouse found it (as in the lag scenario); runs {} ms",
                runs(&lag_p99s, |v| format!("{v:.0}"))
            ),
        )
        .target(Target::Below(1000.0));
    let anchor_rates: Vec<f64> = anchor_runs.iter().map(|r| r.accepted_per_second).collect();
    report.figure(
        "anchors",
        anchors::NGINX,
        median(anchor_rates.iter().copied()),
        Unit::PerSecond,
        format!(
            "the same requests, {} s per run, each right before a whole-pipeline run; runs {}; \
             p99 {} ms",
            settings.single_seconds,
            runs(&anchor_rates, |v| format!("{v:.0}")),
            runs(
                &anchor_runs
                    .iter()
                    .filter_map(|r| r.latency.map(|l| l.p99_ms))
                    .collect::<Vec<_>>(),
                |v| format!("{v:.2}")
            ),
        ),
    );
    anchors::ratio_figure(report, PIPELINE_RATIO, &rates, &anchor_rates)
        .target(Target::AtLeast(0.35));
    report.detail(
        "single_whole_pipeline",
        serde_json::json!({"runs": results, "nginx": anchor_runs}),
    );
    Ok(())
}

async fn ingestion_alone(
    bench: &mut Bench,
    report: &mut Report,
    bodies: Arc<[Bytes]>,
) -> anyhow::Result<()> {
    let settings = bench.settings.clone();
    let target = bench.ingestion.clone();
    // Warm-up, not counted: connections, Redis's first allocations, the service's pools.
    post(bench, &target, &bodies, Duration::from_secs(1)).await?;

    let (mut results, mut anchor_runs) = (Vec::new(), Vec::new());
    for _ in 0..settings.reps {
        // The anchor right before the run it anchors, on the same (empty) Redis.
        anchor_runs.push(anchors::redis_benchmark(bench).await?);
        bench.clear_queue().await?;
        let cpu = CpuTimes::now();
        let outcome = post(
            bench,
            &target,
            &bodies,
            Duration::from_secs(settings.single_seconds),
        )
        .await?;
        let cores = CpuTimes::now().cores_since(&cpu, outcome.elapsed.as_secs_f64());
        let run = Run::of(outcome, cores).accepted_some()?;
        results.push(run);
    }

    let rates: Vec<f64> = results.iter().map(|r| r.accepted_per_second).collect();
    let p50s: Vec<f64> = results
        .iter()
        .filter_map(|r| r.latency.map(|l| l.p50_ms))
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
    p99_figure(report, P99, results.iter());
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
