//! The scenarios, each a function that drives the running stack and adds its figures to the
//! report. They share one [`Bench`] (the stack and direct clients) and run in the order of
//! [`Scenario::ALL`], with the heavy table fill of the query scenario last so that nothing
//! else runs beside ClickHouse's work on it. The anchors are run by the scenarios they
//! anchor, each anchor run right before the run it is compared with.

pub mod anchors;
pub mod batch;
pub mod explorer;
pub mod lag;
pub mod query;
pub mod queued;
pub mod scale;
pub mod single;

use crate::{clickhouse::ClickHouse, load::Target, procfs::CpuTimes, settings::Settings};
use anyhow::Context;
use redis::AsyncCommands;
use serde::Serialize;
use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};
use traceflow_testkit::TestStack;

/// A scenario, as named on the command line (`--only`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// Single-event POST /ingest at 64 connections, and redis-benchmark LPUSH.
    Single,
    /// Batch POST /ingest, Elasticsearch bulk and Loki push, end to end into ClickHouse, and
    /// direct ClickHouse INSERT.
    Batch,
    /// 202 -> visible lag at a fixed rate.
    Lag,
    /// Batch ingest end to end with one process of each against two workers and two
    /// ingestion processes, and with REDIS_MIN_REPLICAS=1.
    Scale,
    /// Worker memory while it drains a deep queue.
    Queued,
    /// GET /logs on a large table, and the same SQL sent directly; the explorer's page load.
    Query,
}

impl Scenario {
    pub const ALL: [Scenario; 6] = [
        Scenario::Single,
        Scenario::Batch,
        Scenario::Lag,
        Scenario::Scale,
        Scenario::Queued,
        Scenario::Query,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Single => "single",
            Scenario::Batch => "batch",
            Scenario::Lag => "lag",
            Scenario::Scale => "scale",
            Scenario::Queued => "queued",
            Scenario::Query => "query",
        }
    }
}

/// The running stack and direct clients for its Redis and ClickHouse.
pub struct Bench {
    pub stack: TestStack,
    pub settings: Settings,
    pub clickhouse: ClickHouse,
    pub redis: redis::aio::MultiplexedConnection,
    pub redis_port: u16,
    pub ingestion: Target,
    pub query: Target,
}

impl Bench {
    pub async fn new(
        stack: TestStack,
        settings: Settings,
        redis_port: u16,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            clickhouse: ClickHouse::connect(&stack.clickhouse_url).await?,
            redis: stack.redis().await,
            ingestion: Target::parse(&stack.ingestion_url).await?,
            query: Target::parse(&stack.query_url).await?,
            stack,
            settings,
            redis_port,
        })
    }

    /// `<database>.logs`, the table the services use.
    pub fn logs_table(&self) -> String {
        format!("{}.logs", self.stack.database)
    }

    /// Empties the queue and every list derived from it (processing lists, dead letters),
    /// so the next scenario starts from an empty queue. Only for moments when no worker
    /// runs.
    pub async fn clear_queue(&mut self) -> anyhow::Result<()> {
        let queue_keys = &self.stack.queue_keys;
        let mut keys: Vec<String> = self.redis.keys(queue_keys.derived_pattern()).await?;
        keys.push(queue_keys.queue().to_owned());
        let _: () = self.redis.del(keys).await?;
        Ok(())
    }

    pub async fn queue_depth(&mut self) -> anyhow::Result<u64> {
        Ok(self.redis.llen(self.stack.queue_keys.queue()).await?)
    }

    /// Polls the row count of `logs` every `every` until it reaches `rows`; returns when
    /// the poll that saw it finished. Errs after `timeout` with the count it last saw.
    pub async fn wait_for_rows(
        &self,
        rows: u64,
        every: Duration,
        timeout: Duration,
    ) -> anyhow::Result<Instant> {
        let table = self.logs_table();
        let deadline = Instant::now() + timeout;
        loop {
            let count = self.clickhouse.count(&table).await?;
            if count >= rows {
                return Ok(Instant::now());
            }
            if Instant::now() > deadline {
                anyhow::bail!("{table} holds {count} rows after {timeout:?}, expected {rows}");
            }
            tokio::time::sleep(every).await;
        }
    }

    /// Waits until the worker has emptied the queue and what it holds is stored, so that
    /// a scenario's leftovers do not run into the next one.
    pub async fn settle(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        while self.queue_depth().await? > 0 {
            anyhow::ensure!(
                Instant::now() < deadline,
                "the queue did not drain within {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The last batch claimed may still be on its way into ClickHouse.
        let processing = self.stack.queue_keys.processing_pattern();
        loop {
            let keys: Vec<String> = self.redis.keys(&processing).await?;
            let mut held = 0u64;
            for key in keys {
                let len: u64 = self.redis.llen(&key).await?;
                held += len;
            }
            if held == 0 {
                return Ok(());
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "the worker still holds {held} events after {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Where a stretch of a run started: each process's CPU time and the worker's INSERT count.
pub struct Activity {
    cpu: CpuTimes,
    inserts: u64,
    at: Instant,
}

/// What the stack did over a stretch of a run: the cores each process kept busy, and the
/// INSERTs per second the worker sent ClickHouse.
#[derive(Debug, Serialize)]
pub struct Usage {
    pub cpu_cores: BTreeMap<&'static str, f64>,
    pub inserts_per_second: f64,
}

impl Bench {
    /// The worker's INSERTs so far: its `traceflow_worker_batches_total` (one INSERT per
    /// batch; the harness's events are all valid, so no batch is split).
    async fn inserts(&self) -> anyhow::Result<u64> {
        let url = format!("{}/metrics", self.stack.worker_http_url);
        let text = reqwest::get(&url).await?.text().await?;
        text.lines()
            .find_map(|line| line.strip_prefix("traceflow_worker_batches_total "))
            .map_or(Ok(0), |value| value.trim().parse::<f64>().map(|n| n as u64))
            .with_context(|| format!("unreadable batch count in {url}"))
    }

    /// Marks the start of a stretch whose [`Usage`] is wanted; the worker must run.
    pub async fn activity(&self) -> anyhow::Result<Activity> {
        Ok(Activity {
            cpu: CpuTimes::now(),
            inserts: self.inserts().await?,
            at: Instant::now(),
        })
    }

    /// What the stack did since `start`.
    pub async fn usage_since(&self, start: &Activity) -> anyhow::Result<Usage> {
        let seconds = start.at.elapsed().as_secs_f64();
        let inserts = self.inserts().await?.saturating_sub(start.inserts);
        Ok(Usage {
            cpu_cores: CpuTimes::now().cores_since(&start.cpu, seconds),
            inserts_per_second: (inserts as f64 / seconds * 10.0).round() / 10.0,
        })
    }
}

/// Longest a measured run waits for ClickHouse's merges of earlier runs to finish.
pub const QUIET_MERGES_TIMEOUT: Duration = Duration::from_secs(60);

/// Seconds with millisecond precision, for the JSON details.
pub fn secs(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1e3).round() / 1e3
}

/// `"a, b, c"` of the per-run values, for a figure's note.
pub fn runs(values: &[f64], format: impl Fn(f64) -> String) -> String {
    values
        .iter()
        .map(|&v| format(v))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Context for an error from a service answer: the status and the body.
pub fn answer_context(what: &str, answer: &crate::load::Answer) -> String {
    format!("{what} answered {} {}", answer.status, answer.text().trim())
}

/// `"12.0 INSERTs/s and CPU cores busy: ingestion 0.9, ..."`, for a note.
pub fn usage(usage: &Usage) -> String {
    format!(
        "{:.1} INSERTs/s and CPU cores busy: {}",
        usage.inserts_per_second,
        cores(&usage.cpu_cores)
    )
}

/// `"ingestion 0.9, redis 0.4, ..."`: the cores each process kept busy, for a note.
pub fn cores(cores: &std::collections::BTreeMap<&'static str, f64>) -> String {
    let mut busy: Vec<_> = cores.iter().filter(|(_, c)| **c >= 0.01).collect();
    busy.sort_by(|a, b| b.1.total_cmp(a.1));
    busy.iter()
        .map(|(name, cores)| format!("{name} {cores:.2}"))
        .collect::<Vec<_>>()
        .join(", ")
}
