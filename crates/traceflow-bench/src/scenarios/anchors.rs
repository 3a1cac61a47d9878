//! The anchors: what the machine does without Traceflow in between, so that the pipeline's
//! figures can be read as ratios that depend less on how busy or fast the machine is.
//!
//! - `redis-benchmark` LPUSH at 64 connections with the queue entries' payload size: the
//!   ceiling for single-event ingest, which is an HTTP request around one LPUSH.
//! - Direct ClickHouse INSERTs of the same events the batch scenario sends (JSONEachRow,
//!   10,000-row batches, over HTTP, one after another as the one worker does): the ceiling
//!   for what the pipeline can store end to end.
//!
//! - nginx (Debian's `nginx-light`, one worker process) answering every `POST /ingest` with
//!   202 and a body like ours, driven by the same load generator at 64 connections: the
//!   HTTP floor of a single-event request on this machine.
//!
//! Each anchor run is made right before the run it anchors (single-event ingest, batch
//! ingest), and the ratio is taken per pair: the machine is shared, and a build starting
//! elsewhere halfway through a scenario would otherwise skew a ratio of figures measured
//! minutes apart.

use super::{Bench, runs};
use crate::{
    events,
    load::{Connection, Target},
    report::{Figure, Report, Unit},
    stats::median,
};
use anyhow::{Context, bail};
use bytes::Bytes;
use serde::Serialize;
use std::time::Instant;
use tokio::process::Command;

pub const REDIS_BENCHMARK: &str = "anchor: redis-benchmark LPUSH, 64 conns";
pub const DIRECT_INSERT: &str = "anchor: direct INSERT, JSONEachRow 10k/batch";
pub const NGINX: &str = "anchor: nginx return 202, 64 conns";

/// A private nginx on a free port, one process (no master), answering every request with 202 and
/// an answer of the size ours has. Stopped when dropped.
pub struct Nginx {
    pub target: Target,
    process: tokio::process::Child,
    _dir: tempfile::TempDir,
}

impl Nginx {
    pub async fn start() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let port = traceflow_testkit::free_port();
        let prefix = dir.path().display();
        // Our 202 body, with a trace id of the same length.
        let body =
            r#"{"status":"accepted","count":1,"trace_id":"0123456789abcdef0123456789abcdef"}"#;
        let config = format!(
            "worker_processes 1;
master_process off;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            default_type application/json;
            return 202 '{body}';
        }}
    }}
}}
"
        );
        let file = dir.path().join("nginx.conf");
        std::fs::write(&file, config)?;
        let process = Command::new("nginx")
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&file)
            .kill_on_drop(true)
            .spawn()
            .context("cannot run nginx (Debian's nginx-light)")?;
        let target = Target::parse(&format!("http://127.0.0.1:{port}")).await?;
        let deadline = Instant::now() + std::time::Duration::from_secs(10);
        while Connection::open(&target).await.is_err() {
            if Instant::now() > deadline {
                bail!("nginx did not listen on port {port} within 10 s");
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        Ok(Self {
            target,
            process,
            _dir: dir,
        })
    }

    /// Whether it still runs (a crash would make its figure meaningless).
    pub fn running(&mut self) -> bool {
        matches!(self.process.try_wait(), Ok(None))
    }
}

#[derive(Debug, Serialize)]
pub struct RedisBenchmarkRun {
    pub requests: u64,
    pub payload_bytes: usize,
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// The scenario's `name` figure in "ratios": the median of each run's rate divided by the
/// rate of the anchor run made right before it (`rates` and `anchor_rates` pair up in order).
pub fn ratio_figure<'r>(
    report: &'r mut Report,
    name: &'static str,
    rates: &[f64],
    anchor_rates: &[f64],
) -> &'r mut Figure {
    let ratios: Vec<f64> = rates.iter().zip(anchor_rates).map(|(r, a)| r / a).collect();
    report.figure(
        "ratios",
        name,
        median(ratios.iter().copied()),
        Unit::Ratio,
        format!(
            "median of each run's ratio to its anchor; runs {}",
            runs(&ratios, |v| format!("{v:.2}"))
        ),
    )
}

/// The mean length of a queue entry, which is what ingestion pushes per event.
fn payload_size() -> usize {
    let now = chrono::Utc::now();
    let total: usize = (0..1000)
        .map(|n| traceflow_queue::encode_entry(&[events::event(n, now)]).len())
        .sum();
    total / 1000
}

/// One `redis-benchmark -t lpush -c 64` run against the stack's Redis.
pub async fn redis_benchmark(bench: &mut Bench) -> anyhow::Result<RedisBenchmarkRun> {
    let size = payload_size();
    let requests = bench.settings.redis_benchmark_requests;
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
    // redis-benchmark's list; the private Redis holds nothing else of value under it.
    let _: () = redis::cmd("DEL")
        .arg("mylist")
        .query_async(&mut bench.redis)
        .await?;
    let (requests_per_second, p50_ms, p99_ms) =
        parse_csv(&String::from_utf8_lossy(&output.stdout))?;
    Ok(RedisBenchmarkRun {
        requests,
        payload_bytes: size,
        requests_per_second,
        p50_ms,
        p99_ms,
    })
}

/// redis-benchmark's `--csv` output: a header, then
/// `"LPUSH","rps","avg","min","p50","p95","p99","max"`; returns (rps, p50, p99).
fn parse_csv(output: &str) -> anyhow::Result<(f64, f64, f64)> {
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
        [rps, _avg, _min, p50, _p95, p99, ..] => Ok((rps, p50, p99)),
        _ => bail!("unexpected redis-benchmark line {line:?}"),
    }
}

#[derive(Debug, Serialize)]
pub struct InsertRun {
    /// How long the run waited for earlier merges to finish before it started.
    pub waited_for_merges_seconds: f64,
    pub rows: u64,
    pub seconds: f64,
    pub rows_per_second: f64,
}

/// Direct INSERTs into a table of its own with the logs table's exact definition (same
/// engine, ordering, partitioning), so the anchor writes what the worker writes without
/// touching the stack's rows. Dropped with [`DirectInsert::finish`].
pub struct DirectInsert {
    table: String,
    bodies: Vec<Bytes>,
    rows: u64,
}

impl DirectInsert {
    /// Creates the table and encodes `events` as JSONEachRow, 10,000 rows per body.
    pub async fn prepare(
        bench: &Bench,
        events: &[traceflow_event::LogEvent],
    ) -> anyhow::Result<Self> {
        let table = format!("{}.bench_anchor", bench.stack.database);
        let ch = &bench.clickhouse;
        ch.query(&format!("DROP TABLE IF EXISTS {table}")).await?;
        ch.query(&format!("CREATE TABLE {table} AS {}", bench.logs_table()))
            .await?;
        Ok(Self {
            table,
            bodies: events
                .chunks(bench.settings.anchor_insert_rows)
                .map(events::json_each_row)
                .collect(),
            rows: events.len() as u64,
        })
    }

    /// Inserts every body, one INSERT after another, into the empty table once no merge
    /// runs; checks that all rows arrived, then empties the table again, so that merging
    /// them does not run into the next measurement.
    pub async fn run(&self, bench: &Bench) -> anyhow::Result<InsertRun> {
        let ch = &bench.clickhouse;
        let waited = ch.wait_for_merges(super::QUIET_MERGES_TIMEOUT).await?;
        let start = Instant::now();
        for body in &self.bodies {
            ch.insert(&self.table, "JSONEachRow", body.clone()).await?;
        }
        let elapsed = start.elapsed();
        let stored = ch.count(&self.table).await?;
        if stored != self.rows {
            bail!(
                "the anchor table holds {stored} rows after inserting {}",
                self.rows
            );
        }
        ch.query(&format!("TRUNCATE TABLE {}", self.table)).await?;
        Ok(InsertRun {
            waited_for_merges_seconds: super::secs(waited),
            rows: self.rows,
            seconds: super::secs(elapsed),
            rows_per_second: self.rows as f64 / elapsed.as_secs_f64(),
        })
    }

    pub async fn finish(self, bench: &Bench) -> anyhow::Result<()> {
        bench
            .clickhouse
            .query(&format!("DROP TABLE IF EXISTS {}", self.table))
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_benchmark_csv_is_parsed() {
        let output = "\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\",\"p95_latency_ms\",\"p99_latency_ms\",\"max_latency_ms\"\n\"LPUSH\",\"103092.78\",\"0.339\",\"0.128\",\"0.311\",\"0.519\",\"0.831\",\"2.135\"\n";
        assert_eq!(parse_csv(output).unwrap(), (103092.78, 0.311, 0.831));
        assert!(parse_csv("nothing").is_err());
    }

    #[test]
    fn the_ratio_is_taken_per_pair_of_runs() {
        let mut report = Report::new("quick", serde_json::Value::Null);
        // Per pair 0.5, 1.5 and 0.2, so 0.5; the ratio of the medians would be 20 / 20.
        let figure = ratio_figure(&mut report, "r", &[10.0, 30.0, 20.0], &[20.0, 20.0, 100.0]);
        assert_eq!(figure.section, "ratios");
        assert_eq!(figure.value, Some(0.5));
        assert_eq!(
            figure.note,
            "median of each run's ratio to its anchor; runs 0.50, 1.50, 0.20"
        );
    }
}
