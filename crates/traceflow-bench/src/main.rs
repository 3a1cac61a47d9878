//! The Traceflow benchmark harness (`scripts/bench.sh`, docs/benchmarks.md).
//!
//! It starts private Redis and ClickHouse servers and the three services as release-mode
//! processes (the test kit does both), runs the scenarios in one go, and prints a table of
//! figures with the targets, then writes every detail as JSON. On a small shared
//! machine absolute figures say little, so each throughput and latency is paired with an
//! anchor measured in the same run (redis-benchmark, direct ClickHouse INSERT and SELECT)
//! and reported as a ratio too.
//!
//! Modules: [`load`] is the HTTP load generator, [`scenarios`] drive the stack (one module
//! each), [`report`] holds the figures and prints them; [`clickhouse`], [`procfs`],
//! [`events`] and [`stats`] are what they share.

mod clickhouse;
mod events;
mod load;
mod procfs;
mod report;
mod scenarios;
mod settings;
mod stats;

use clap::Parser;
use report::{Report, Target, Unit};
use scenarios::{Bench, Scenario};
use serde_json::{Value, json};
use settings::{Cli, Settings};
use std::time::Instant;
use traceflow_testkit::{ClickHouseServer, RedisServer, StackOptions, TestStack};

/// Two runtime threads: the load generator needs some CPU, but every core it takes is one
/// the services under test do not get on this two-core machine.
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::from(&cli);
    traceflow_testkit::require_binaries();

    eprintln!("==> starting private Redis (append-only file, as deployed) and ClickHouse");
    let (redis, clickhouse) = tokio::task::spawn_blocking(|| {
        (RedisServer::start_persistent(), ClickHouseServer::start())
    })
    .await?;
    eprintln!("==> building the services (release) and starting them as processes");
    let stack = TestStack::spawn_with(StackOptions {
        processes: true,
        redis_url: Some(redis.url()),
        clickhouse_url: Some(clickhouse.url()),
        ..StackOptions::default()
    })
    .await;
    let mut bench = Bench::new(stack, settings.clone(), redis.port()).await?;
    let mode = if settings.quick { "quick" } else { "full" };
    let mut report = Report::new(mode, serde_json::to_value(&settings)?);
    report.environment = environment(&mut bench).await;

    let mut worker_peak_recorded = false;
    for scenario in settings.scenarios.iter().copied() {
        if scenario == Scenario::Queued {
            // The queued scenario restarts the worker, which resets its peak.
            worker_peak_recorded = record_worker_peak(&mut report, &settings);
        }
        eprintln!("==> {}", scenario.name());
        let started = Instant::now();
        let result = match scenario {
            Scenario::Single => scenarios::single::run(&mut bench, &mut report).await,
            Scenario::Batch => scenarios::batch::run(&mut bench, &mut report).await,
            Scenario::Lag => scenarios::lag::run(&mut bench, &mut report).await,
            Scenario::Scale => scenarios::scale::run(&mut bench, &mut report).await,
            Scenario::Queued => scenarios::queued::run(&mut bench, &mut report).await,
            Scenario::Query => scenarios::query::run(&mut bench, &mut report).await,
        };
        if let Err(error) = result {
            eprintln!("    not measured: {error:#}");
            report.problem(scenario.name(), &error);
        }
        eprintln!("    ({:.0} s)", started.elapsed().as_secs_f64());
    }
    if !worker_peak_recorded {
        record_worker_peak(&mut report, &settings);
    }
    record_service_peaks(&mut report, &settings);
    report
        .environment
        .insert("load_average_at_end".into(), load_average().into());

    println!("{}", header(&report));
    println!("{}", report.table());
    report.write_json(&cli.output)?;
    eprintln!("report written to {}", cli.output.display());

    bench.stack.shutdown().await;
    tokio::task::spawn_blocking(move || drop((redis, clickhouse))).await?;
    Ok(())
}

/// The worker's peak since it last started (after the single scenario, which stops it),
/// if it runs.
fn record_worker_peak(report: &mut Report, settings: &Settings) -> bool {
    let Some(memory) = procfs::service_memory("worker") else {
        return false;
    };
    let loads = loads(settings, &[Scenario::Batch, Scenario::Lag]);
    report.figure(
        "memory",
        "worker peak RSS under load",
        Some(memory.peak_mb),
        Unit::Megabytes,
        format!("VmHWM over {loads}"),
    );
    true
}

/// Ingestion's and query's peaks over the whole run: each has been up since the start.
fn record_service_peaks(report: &mut Report, settings: &Settings) {
    for (service, load) in [
        (
            "ingestion",
            [Scenario::Single, Scenario::Batch, Scenario::Lag].as_slice(),
        ),
        ("query", [Scenario::Query].as_slice()),
    ] {
        let memory = procfs::service_memory(service);
        report
            .figure(
                "memory",
                format!("{service} peak RSS under load"),
                memory.map(|m| m.peak_mb),
                Unit::Megabytes,
                format!("VmHWM over {}", loads(settings, load)),
            )
            .target(Target::Below(100.0));
    }
}

/// `"the batch and lag scenarios"`, or what of them this run ran.
fn loads(settings: &Settings, loading: &[Scenario]) -> String {
    let ran: Vec<&str> = loading
        .iter()
        .filter(|s| settings.scenarios.contains(s))
        .map(|s| s.name())
        .collect();
    match ran.as_slice() {
        [] => "an idle run (no scenario loaded it)".to_owned(),
        [one] => format!("the {one} scenario"),
        [first @ .., last] => format!("the {} and {last} scenarios", first.join(", ")),
    }
}

/// Machine, versions and revision, as recorded in docs/benchmarks.md.
async fn environment(bench: &mut Bench) -> serde_json::Map<String, Value> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_default();
    let memory_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            let line = info
                .lines()
                .find(|l| l.starts_with("MemTotal:"))?
                .to_owned();
            let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some((kib / 1024.0 / 1024.0 * 10.0).round() / 10.0)
        });
    let redis_info: String = redis::cmd("INFO")
        .arg("server")
        .query_async(&mut bench.redis)
        .await
        .unwrap_or_default();
    let redis_version = redis_info
        .lines()
        .find_map(|line| line.strip_prefix("redis_version:"))
        .unwrap_or_default()
        .trim()
        .to_owned();
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    let dirty = !git(&["status", "--porcelain"]).is_empty();
    let revision = format!(
        "{}{}",
        git(&["rev-parse", "--short", "HEAD"]),
        if dirty {
            " (with uncommitted changes)"
        } else {
            ""
        }
    );
    match json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu_model": cpu,
        "memory_gib": memory_gib,
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
        // Anything else running on the machine skews every figure: say how busy it was.
        "load_average_at_start": load_average(),
        "clickhouse_version": bench.clickhouse.version(),
        "redis_version": redis_version,
        "revision": revision,
    }) {
        Value::Object(map) => map,
        _ => unreachable!("an object literal"),
    }
}

/// `/proc/loadavg`'s 1, 5 and 15 minute averages.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn header(report: &Report) -> String {
    let env = &report.environment;
    let field = |key: &str| match &env[key] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    format!(
        "Traceflow benchmark ({} run), {}\n{} CPUs ({}), {} GiB; ClickHouse {}, Redis {}; revision {}\n\
         load average at start {}, at end {}\n",
        report.mode,
        report.started_at,
        field("cpus"),
        field("cpu_model"),
        field("memory_gib"),
        field("clickhouse_version"),
        field("redis_version"),
        field("revision"),
        field("load_average_at_start"),
        field("load_average_at_end"),
    )
}
