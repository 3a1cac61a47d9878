//! Batch ingest, end to end: events posted as JSON arrays of 1,000, from a few concurrent
//! clients, and the time from the first POST until ClickHouse counts the last row
//! (the row count of `<db>.logs`, polled every 10 ms once every request is accepted;
//! the last row cannot be stored before its request was accepted). The worker runs with its
//! defaults (BATCH_SIZE 20, adaptive up to its MAX_BATCH_SIZE), as deployed.
//!
//! Each run is preceded by its anchor, direct INSERTs of the same events (see `anchors`), so
//! the ratio of the two is the share of ClickHouse's own insert rate the pipeline keeps.

use super::{Bench, anchors, answer_context, runs, secs};
use crate::{
    events,
    load::Connection,
    procfs::CpuTimes,
    report::{Report, Target, Unit},
    stats::median,
};
use anyhow::{Context, bail};
use bytes::Bytes;
use serde::Serialize;
use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};
use tokio::task::JoinSet;

pub const END_TO_END: &str = "batch ingest (1,000/request): end to end";
pub const ACCEPTED: &str = "batch ingest: accepted (202)";
pub const RATIO: &str = "batch end to end / direct INSERT anchor";

#[derive(Debug, Serialize)]
struct Run {
    /// How long the run waited for earlier merges to finish before it started.
    waited_for_merges_seconds: f64,
    events: u64,
    /// First POST to last 202.
    accepted_seconds: f64,
    /// First POST to the poll that counted the last row.
    end_to_end_seconds: f64,
    end_to_end_per_second: f64,
    accepted_per_second: f64,
    /// Cores each process kept busy from the first POST to the last row.
    cpu_cores: BTreeMap<&'static str, f64>,
}

pub async fn run(bench: &mut Bench, report: &mut Report) -> anyhow::Result<()> {
    let settings = bench.settings.clone();
    let per_request = settings.batch_request_events;
    let requests = (settings.batch_events as usize).div_ceil(per_request);
    let total = (requests * per_request) as u64;
    let now = chrono::Utc::now();
    let all: Vec<_> = (0..total).map(|n| events::event(n, now)).collect();
    let bodies: Arc<[Bytes]> = all.chunks(per_request).map(events::ingest_array).collect();
    // The anchor inserts the same events.
    let anchor = anchors::DirectInsert::prepare(bench, &all).await?;
    drop(all);
    let table = bench.logs_table();
    // Generous, so that a slow worker is reported with its rate rather than cut off early.
    let timeout = Duration::from_secs(if settings.quick { 60 } else { 150 });

    // One request first: checks that batch ingest exists (with a clear message until it
    // does), and warms up the path.
    let baseline = bench.clickhouse.count(&table).await?;
    let mut probe = Connection::open(&bench.ingestion).await?;
    let answer = probe
        .post("/ingest", "application/json", bodies[0].clone())
        .await?;
    let count = serde_json::from_slice::<serde_json::Value>(&answer.body)
        .ok()
        .and_then(|body| body["count"].as_u64());
    if answer.status != 202 || count != Some(per_request as u64) {
        bail!(
            "batch ingest is not available: {}; expected 202 with \"count\":{per_request}",
            answer_context(
                &format!("POST /ingest with a JSON array of {per_request} events"),
                &answer
            )
        );
    }
    bench
        .wait_for_rows(
            baseline + per_request as u64,
            Duration::from_millis(20),
            timeout,
        )
        .await?;

    let (mut results, mut anchor_runs) = (Vec::new(), Vec::new());
    for _ in 0..settings.reps {
        // The anchor right before the run it anchors.
        anchor_runs.push(anchor.run(bench).await?);
        let waited = bench
            .clickhouse
            .wait_for_merges(super::QUIET_MERGES_TIMEOUT)
            .await?;
        let baseline = bench.clickhouse.count(&table).await?;
        let next = Arc::new(AtomicUsize::new(0));
        let cpu = CpuTimes::now();
        let start = Instant::now();
        let mut senders = JoinSet::new();
        for _ in 0..settings.batch_connections {
            let (target, bodies, next) = (bench.ingestion.clone(), bodies.clone(), next.clone());
            senders.spawn(async move {
                let mut connection = Connection::open(&target).await?;
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(index) else {
                        return anyhow::Ok(Instant::now());
                    };
                    let answer = connection
                        .post("/ingest", "application/json", body.clone())
                        .await?;
                    if answer.status != 202 {
                        bail!(answer_context("a batch POST /ingest", &answer));
                    }
                }
            });
        }
        let mut last_accepted = start;
        while let Some(sender) = senders.join_next().await {
            last_accepted = last_accepted.max(sender??);
        }
        let visible = bench
            .wait_for_rows(baseline + total, Duration::from_millis(10), timeout)
            .await
            .with_context(|| format!("{total} events accepted in batches were not all stored"))?;
        let (accepted, end_to_end) = (last_accepted - start, visible - start);
        results.push(Run {
            waited_for_merges_seconds: secs(waited),
            events: total,
            accepted_seconds: secs(accepted),
            end_to_end_seconds: secs(end_to_end),
            end_to_end_per_second: total as f64 / end_to_end.as_secs_f64(),
            accepted_per_second: total as f64 / accepted.as_secs_f64(),
            cpu_cores: CpuTimes::now().cores_since(&cpu, end_to_end.as_secs_f64()),
        });
    }

    let rates: Vec<f64> = results.iter().map(|r| r.end_to_end_per_second).collect();
    let accepted: Vec<f64> = results.iter().map(|r| r.accepted_per_second).collect();
    report.figure(
        "end to end",
        END_TO_END,
        median(rates.iter().copied()),
        Unit::PerSecond,
        format!(
            "{total} events per run, {} clients, first POST to last row counted; runs {}; CPU \
             cores busy in the last run: {}",
            settings.batch_connections,
            runs(&rates, |v| format!("{v:.0}")),
            super::cores(&results.last().expect("runs").cpu_cores)
        ),
    );
    report.figure(
        "end to end",
        ACCEPTED,
        median(accepted.iter().copied()),
        Unit::PerSecond,
        format!(
            "first POST to last 202 of the same runs; runs {}",
            runs(&accepted, |v| format!("{v:.0}"))
        ),
    );
    anchor.finish(bench).await?;
    let anchor_rates: Vec<f64> = anchor_runs.iter().map(|r| r.rows_per_second).collect();
    report.figure(
        "anchors",
        anchors::DIRECT_INSERT,
        median(anchor_rates.iter().copied()),
        Unit::PerSecond,
        format!(
            "the same {total} events per run, sequential INSERTs, each run right before a batch \
             run; runs {}",
            runs(&anchor_rates, |v| format!("{v:.0}"))
        ),
    );
    anchors::ratio_figure(report, RATIO, &rates, &anchor_rates).target(Target::AtLeast(0.40));
    report.detail(
        "batch",
        serde_json::json!({"runs": results, "direct_insert": anchor_runs}),
    );
    Ok(())
}
