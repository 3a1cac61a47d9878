//! Command line and the sizes it selects.

use crate::scenarios::Scenario;
use clap::Parser;
use serde::Serialize;
use std::path::PathBuf;

/// Starts the Traceflow stack in release mode (private Redis and ClickHouse, the three
/// services as processes), measures it and its anchors in one run, prints a table and
/// writes a JSON report. See docs/benchmarks.md.
#[derive(Debug, Parser)]
#[command(name = "traceflow-bench")]
pub struct Cli {
    /// Smaller sizes and one repetition each: a smoke run of about two minutes.
    #[arg(long)]
    pub quick: bool,
    /// Rows in the table `GET /logs` is measured on [default: 10000000; --quick 1000000].
    #[arg(long)]
    pub rows: Option<u64>,
    /// Repetitions of each repeated scenario; figures are their medians [default: 5;
    /// --quick 1].
    #[arg(long)]
    pub reps: Option<usize>,
    /// Seconds of each single-event and lag run [default: 10; --quick 3].
    #[arg(long)]
    pub seconds: Option<u64>,
    /// Events queued directly in Redis for the worker-memory scenario [default: 1000000;
    /// --quick 100000].
    #[arg(long)]
    pub queued: Option<u64>,
    /// Where the JSON report is written.
    #[arg(long, default_value = "target/bench/report.json")]
    pub output: PathBuf,
    /// Run only these scenarios (comma-separated), e.g. `--only single,lag`.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub only: Vec<Scenario>,
}

/// Every size and rate a run uses; recorded in the report.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub quick: bool,
    pub scenarios: Vec<Scenario>,
    pub reps: usize,
    /// Keep-alive connections of the single-event run (the 64).
    pub single_connections: usize,
    pub single_seconds: u64,
    /// Events per batch-ingest repetition.
    pub batch_events: u64,
    /// Events per batch request (the 1,000).
    pub batch_request_events: usize,
    /// Concurrent batch requests: a few clients, each sending its next batch as soon as
    /// the previous one is accepted.
    pub batch_connections: usize,
    /// Events per second of the lag run (the 5,000).
    pub lag_rate: u64,
    pub lag_seconds: u64,
    /// Connections the lag run spreads its requests over: each sends every 64th event, so
    /// one slow answer delays few others (the schedule slip is reported).
    pub lag_connections: usize,
    /// How often the lag run asks ClickHouse which events are visible.
    pub lag_poll_ms: u64,
    pub queued_events: u64,
    pub query_rows: u64,
    /// Distinct `GET /logs` searches timed, each also sent directly to ClickHouse.
    pub queries: usize,
    /// Rows per direct INSERT of the anchor (the 10,000).
    pub anchor_insert_rows: usize,
    /// Requests per redis-benchmark run.
    pub redis_benchmark_requests: u64,
}

impl Settings {
    pub fn from(cli: &Cli) -> Self {
        let pick = |full: u64, quick: u64| if cli.quick { quick } else { full };
        let seconds = cli.seconds.unwrap_or(pick(10, 3));
        Self {
            quick: cli.quick,
            scenarios: if cli.only.is_empty() {
                Scenario::ALL.to_vec()
            } else {
                Scenario::ALL
                    .into_iter()
                    .filter(|s| cli.only.contains(s))
                    .collect()
            },
            reps: cli.reps.unwrap_or(pick(5, 1) as usize).max(1),
            single_connections: 64,
            single_seconds: seconds,
            batch_events: pick(200_000, 50_000),
            batch_request_events: 1000,
            batch_connections: 4,
            lag_rate: 5000,
            lag_seconds: seconds,
            lag_connections: 64,
            lag_poll_ms: 20,
            queued_events: cli.queued.unwrap_or(pick(1_000_000, 100_000)),
            query_rows: cli.rows.unwrap_or(pick(10_000_000, 1_000_000)),
            queries: pick(200, 40) as usize,
            anchor_insert_rows: 10_000,
            redis_benchmark_requests: pick(500_000, 100_000),
        }
    }
}
