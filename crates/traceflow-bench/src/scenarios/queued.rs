//! Worker memory with a deep queue: with the worker stopped, 1,000,000 valid queue entries
//! (`traceflow_queue::encode_entry`, what ingestion pushes) go straight into Redis through
//! the queue's producer, 1,000 per push; then the worker starts and its resident memory is
//! sampled every 100 ms while it drains the queue.
//! The figure is the kernel's peak (`VmHWM`), which also catches spikes between samples.
//! How fast it drains is reported alongside (no target: the batch scenario is the
//! throughput figure).
//!
//! Before this scenario, the worker's peak under the earlier scenarios' load is recorded.

use super::{Bench, secs};
use crate::{
    events, procfs,
    report::{Report, Target, Unit},
};
use anyhow::{Context, ensure};
use serde::Serialize;
use std::time::{Duration, Instant};

pub const PEAK: &str = "worker peak RSS, deep queue";
pub const DRAIN: &str = "worker drain rate, deep queue";

/// Entries per push: big enough that pushing a million entries takes seconds, small enough
/// that no single transaction blocks Redis for long.
const PER_PUSH: u64 = 1000;

#[derive(Debug, Serialize)]
struct Outcome {
    queued: u64,
    push_seconds: f64,
    drain_seconds: f64,
    drained_per_second: f64,
    samples: usize,
    peak_sampled_rss_mb: f64,
    peak_rss_mb: f64,
}

pub async fn run(bench: &mut Bench, report: &mut Report) -> anyhow::Result<()> {
    let queued = bench.settings.queued_events;
    bench.stack.stop_worker().await;
    bench.clear_queue().await?;

    let producer = bench.stack.producer().await;
    let pushed = Instant::now();
    let now = chrono::Utc::now();
    let mut n = 0;
    while n < queued {
        let chunk: Vec<Vec<u8>> = (n..(n + PER_PUSH).min(queued))
            .map(|i| traceflow_queue::encode_entry(&[events::event(i, now)]))
            .collect();
        n += chunk.len() as u64;
        producer.push_entries(&chunk).await?;
    }
    let push_seconds = secs(pushed.elapsed());
    ensure!(
        bench.queue_depth().await? == queued,
        "the queue does not hold the {queued} entries pushed"
    );

    let table = bench.logs_table();
    let baseline = bench.clickhouse.count(&table).await?;
    let timeout = Duration::from_secs(if bench.settings.quick { 60 } else { 180 });
    bench.stack.start_worker().await;
    let started = Instant::now();
    let pid = procfs::child_pid("worker").context("the worker process is not found")?;
    let mut peak_sampled: f64 = 0.0;
    let mut samples = 0;
    let mut last_count = Instant::now();
    let mut stored = 0;
    loop {
        if let Some(memory) = procfs::memory(pid) {
            peak_sampled = peak_sampled.max(memory.rss_mb);
            samples += 1;
        }
        // Counting rows costs ClickHouse a scan: five times a second is enough.
        if last_count.elapsed() >= Duration::from_millis(200) {
            last_count = Instant::now();
            stored = bench.clickhouse.count(&table).await? - baseline;
            if stored >= queued {
                break;
            }
        }
        if started.elapsed() > timeout {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let drain = started.elapsed();
    let peak = procfs::memory(pid)
        .context("the worker exited while draining")?
        .peak_mb;
    let drained = stored >= queued;
    // Leave an empty queue and an idle worker for the query scenario.
    bench.stack.stop_worker().await;
    bench.clear_queue().await?;

    let outcome = Outcome {
        queued,
        push_seconds,
        drain_seconds: secs(drain),
        drained_per_second: stored as f64 / drain.as_secs_f64(),
        samples,
        peak_sampled_rss_mb: peak_sampled,
        peak_rss_mb: peak,
    };
    let drained_note = if drained {
        format!("drained {queued} in {:.1} s", drain.as_secs_f64())
    } else {
        format!(
            "NOT drained: {stored} of {queued} stored after {:.0} s",
            drain.as_secs_f64()
        )
    };
    report
        .figure(
            "memory",
            format!("{PEAK} ({queued} queued)"),
            Some(peak),
            Unit::Megabytes,
            format!("VmHWM; {drained_note}"),
        )
        .target(Target::Below(150.0));
    report.figure(
        "end to end",
        DRAIN,
        Some(outcome.drained_per_second),
        Unit::PerSecond,
        format!("{queued} events queued before the worker started; {drained_note}"),
    );
    report.detail("queued", &outcome);
    Ok(())
}
