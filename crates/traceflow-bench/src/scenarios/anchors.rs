//! The anchors: what the machine does without Traceflow in between, measured in the same run
//! so that the pipeline's figures can be read as ratios that do not depend on how busy or
//! fast this machine happens to be.
//!
//! - `redis-benchmark` LPUSH at 64 connections with the queue entries' payload size: the
//!   ceiling for single-event ingest, which is an HTTP request around one LPUSH.
//! - Direct ClickHouse INSERTs of the same events the batch scenario sends (JSONEachRow,
//!   10,000-row batches, over HTTP, one after another as the one worker does): the ceiling
//!   for what the pipeline can store end to end.

use super::{Bench, runs, secs};
use crate::{
    events,
    report::{Report, Unit},
    stats::median,
};
use anyhow::{Context, bail};
use serde::Serialize;
use std::time::Instant;
use tokio::process::Command;

#[derive(Debug, Serialize)]
struct RedisBenchmarkRun {
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

#[derive(Debug, Serialize)]
struct InsertRun {
    rows: u64,
    seconds: f64,
    rows_per_second: f64,
}

pub const REDIS_BENCHMARK: &str = "anchor: redis-benchmark LPUSH, 64 conns";
pub const DIRECT_INSERT: &str = "anchor: direct INSERT, JSONEachRow 10k/batch";

pub async fn run(bench: &mut Bench, report: &mut Report) -> anyhow::Result<()> {
    // Both are attempted, whatever the other does.
    let redis = redis_benchmark(bench, report).await;
    let insert = direct_insert(bench, report).await;
    redis.and(insert)
}

/// The mean length of a queue entry, which is what ingestion pushes per event.
fn payload_size() -> usize {
    let now = chrono::Utc::now();
    let total: usize = (0..1000)
        .map(|n| events::event(n, now).to_wire().len())
        .sum();
    total / 1000
}

async fn redis_benchmark(bench: &mut Bench, report: &mut Report) -> anyhow::Result<()> {
    let size = payload_size();
    let requests = bench.settings.redis_benchmark_requests;
    let mut results = Vec::new();
    for _ in 0..bench.settings.reps {
        let output = Command::new("redis-benchmark")
            .args(["-h", "127.0.0.1", "-p", &bench.redis_port.to_string()])
            .args(["-t", "lpush", "-c", "64", "--csv"])
            .args(["-n", &requests.to_string(), "-d", &size.to_string()])
            .output()
            .await
            .context("cannot run redis-benchmark (Debian's redis-tools)")?;
        if !output.status.success() {
            bail!(
                "redis-benchmark failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        results.push(parse_csv(&String::from_utf8_lossy(&output.stdout))?);
        // redis-benchmark's list; the private Redis holds nothing else of value.
        let _: () = redis::cmd("DEL")
            .arg("mylist")
            .query_async(&mut bench.redis)
            .await?;
    }
    let rates: Vec<f64> = results.iter().map(|r| r.requests_per_second).collect();
    report.figure(
        "anchors",
        REDIS_BENCHMARK,
        median(rates.iter().copied()),
        Unit::PerSecond,
        format!(
            "{requests} LPUSHes of {size} bytes per run; runs {}; p99 {} ms",
            runs(&rates, |v| format!("{v:.0}")),
            runs(
                &results.iter().map(|r| r.p99_ms).collect::<Vec<_>>(),
                |v| format!("{v:.2}")
            ),
        ),
    );
    report.detail(
        "redis_benchmark",
        serde_json::json!({"payload_bytes": size, "requests": requests, "runs": results}),
    );
    Ok(())
}

/// redis-benchmark's `--csv` output: a header, then
/// `"LPUSH","rps","avg","min","p50","p95","p99","max"`.
fn parse_csv(output: &str) -> anyhow::Result<RedisBenchmarkRun> {
    let line = output
        .lines()
        .find(|line| line.starts_with("\"LPUSH"))
        .with_context(|| format!("no LPUSH line in redis-benchmark's output: {output:?}"))?;
    let fields: Vec<f64> = line
        .split(',')
        .skip(1)
        .map(|field| field.trim_matches('"').parse())
        .collect::<Result<_, _>>()
        .with_context(|| format!("unexpected redis-benchmark line {line:?}"))?;
    match fields[..] {
        [rps, _avg, _min, p50, _p95, p99, ..] => Ok(RedisBenchmarkRun {
            requests_per_second: rps,
            p50_ms: p50,
            p99_ms: p99,
        }),
        _ => bail!("unexpected redis-benchmark line {line:?}"),
    }
}

async fn direct_insert(bench: &mut Bench, report: &mut Report) -> anyhow::Result<()> {
    let rows = bench.settings.batch_events;
    let per_insert = bench.settings.anchor_insert_rows;
    // The batch scenario's events: same generator, same count.
    let now = chrono::Utc::now();
    let all: Vec<_> = (0..rows).map(|n| events::event(n, now)).collect();
    let bodies: Vec<_> = all.chunks(per_insert).map(events::json_each_row).collect();
    drop(all);

    // A table of its own with the logs table's exact definition, so the anchor writes
    // into the same engine, ordering and partitioning without touching the stack's rows.
    let table = format!("{}.bench_anchor", bench.stack.database);
    let ch = &bench.clickhouse;
    ch.query(&format!("DROP TABLE IF EXISTS {table}")).await?;
    ch.query(&format!("CREATE TABLE {table} AS {}", bench.logs_table()))
        .await?;
    let mut results = Vec::new();
    for _ in 0..bench.settings.reps {
        ch.query(&format!("TRUNCATE TABLE {table}")).await?;
        let start = Instant::now();
        for body in &bodies {
            ch.insert(&table, "JSONEachRow", body.clone()).await?;
        }
        let elapsed = start.elapsed();
        let stored = ch.count(&table).await?;
        if stored != rows {
            bail!("the anchor table holds {stored} rows after inserting {rows}");
        }
        results.push(InsertRun {
            rows,
            seconds: secs(elapsed),
            rows_per_second: rows as f64 / elapsed.as_secs_f64(),
        });
    }
    ch.query(&format!("DROP TABLE IF EXISTS {table}")).await?;
    let rates: Vec<f64> = results.iter().map(|r| r.rows_per_second).collect();
    report.figure(
        "anchors",
        DIRECT_INSERT,
        median(rates.iter().copied()),
        Unit::PerSecond,
        format!(
            "{rows} rows per run, sequential INSERTs; runs {}",
            runs(&rates, |v| format!("{v:.0}"))
        ),
    );
    report.detail("direct_insert", &results);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_benchmark_csv_is_parsed() {
        let output = "\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\",\"p95_latency_ms\",\"p99_latency_ms\",\"max_latency_ms\"\n\"LPUSH\",\"103092.78\",\"0.339\",\"0.128\",\"0.311\",\"0.519\",\"0.831\",\"2.135\"\n";
        let run = parse_csv(output).unwrap();
        assert_eq!(run.requests_per_second, 103092.78);
        assert_eq!(run.p50_ms, 0.311);
        assert_eq!(run.p99_ms, 0.831);
        assert!(parse_csv("nothing").is_err());
    }
}
