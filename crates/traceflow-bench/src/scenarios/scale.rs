//! Scaling out on this machine: batch ingest end to end, as the batch scenario's `/ingest`
//! runs, through one ingestion process and one worker, then with a second worker, then with
//! a second ingestion process too (the clients spread over the two as a load balancer
//! spreads connections). Then what durability against losing Redis costs: the same batch
//! run, and single-event `POST /ingest` at the single scenario's 64 connections, through an
//! ingestion process with `REDIS_MIN_REPLICAS=1`, whose pushes wait for a replica of the
//! bench's Redis, against the stack's own ingestion process, in alternating order. Each
//! repetition runs every shape, so each ratio is to the one process of each of the same
//! repetition; a warm-up run comes first, not counted.

use super::{Bench, batch, runs};
use crate::{
    events,
    load::Target,
    report::{Report, Unit},
    stats::median,
};
use anyhow::{Context, bail};
use bytes::Bytes;
use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};
use traceflow_testkit::{RedisServer, Service};

pub const ONE_OF_EACH: &str = "scale-out: 1 ingestion, 1 worker, end to end";
pub const TWO_WORKERS: &str = "scale-out: 1 ingestion, 2 workers, end to end";
pub const TWO_OF_EACH: &str = "scale-out: 2 ingestion, 2 workers, end to end";
pub const REPLICATED: &str = "REDIS_MIN_REPLICAS=1 (a replica waited for), end to end";
pub const SINGLE: &str = "scale-out: single events accepted, REDIS_MIN_REPLICAS=0";
pub const SINGLE_REPLICATED: &str = "scale-out: single events accepted, REDIS_MIN_REPLICAS=1";

/// Each ratio's figure, the figure it divides and its name.
const SHAPES: [(&str, &str, &str); 4] = [
    (TWO_WORKERS, ONE_OF_EACH, "2 workers / 1, end to end"),
    (
        TWO_OF_EACH,
        ONE_OF_EACH,
        "2 ingestion and 2 workers / 1 of each, end to end",
    ),
    (
        REPLICATED,
        ONE_OF_EACH,
        "REDIS_MIN_REPLICAS=1 / without, end to end",
    ),
    (
        SINGLE_REPLICATED,
        SINGLE,
        "REDIS_MIN_REPLICAS=1 / without, single events accepted",
    ),
];

pub async fn run(bench: &mut Bench, report: &mut Report) -> anyhow::Result<()> {
    let settings = bench.settings.clone();
    let per_request = settings.batch_request_events;
    let all = batch::run_events(&settings);
    let total = all.len() as u64;
    let bodies: Arc<[Bytes]> = all
        .chunks(per_request)
        .map(|chunk| batch::Form::Ingest.body(chunk))
        .collect();
    drop(all);
    let timeout = batch::stored_within(&settings);

    let primary = bench.redis_port;
    let replica =
        tokio::task::spawn_blocking(move || RedisServer::start_replica_of(primary)).await?;
    let (replicated, replicated_url) = bench
        .stack
        .start_another(Service::Ingestion, &[("REDIS_MIN_REPLICAS", "1")])
        .await;
    let replicated_target = Target::parse(&replicated_url).await?;
    until_replicated(bench, &replicated_url, &bodies[0]).await?;

    let now = chrono::Utc::now();
    let singles: Arc<[Bytes]> = (0..4096)
        .map(|n| events::ingest_body(&events::event(n, now)))
        .collect();
    let single_duration = Duration::from_secs(settings.single_seconds);
    let mut rates: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
    let one = [bench.ingestion.clone()];
    let form = batch::Form::Ingest;
    let mut timed = async |bench: &mut Bench, name: Option<&'static str>, targets: &[Target]| {
        let run = batch::timed_run(bench, form, bodies.clone(), per_request, timeout, targets);
        let run = run.await.with_context(|| format!("the {name:?} run"))?;
        if let Some(name) = name {
            rates
                .entry(name)
                .or_default()
                .push(run.end_to_end_per_second);
        }
        anyhow::Ok(())
    };
    timed(bench, None, &one).await?;
    for rep in 0..settings.reps {
        let through_replica = std::slice::from_ref(&replicated_target);
        let mut pair = [(ONE_OF_EACH, &one[..]), (REPLICATED, through_replica)];
        if rep % 2 == 1 {
            pair.reverse();
        }
        for (name, targets) in pair {
            timed(bench, Some(name), targets).await?;
        }
        let (second_worker, _) = bench.stack.start_another(Service::Worker, &[]).await;
        timed(bench, Some(TWO_WORKERS), &one).await?;
        let (second_ingestion, url) = bench.stack.start_another(Service::Ingestion, &[]).await;
        let two = [bench.ingestion.clone(), Target::parse(&url).await?];
        timed(bench, Some(TWO_OF_EACH), &two).await?;
        // Stopping waits for the processes to exit: off the runtime.
        tokio::task::spawn_blocking(move || drop((second_worker, second_ingestion))).await?;
    }
    let mut single_rates: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
    for rep in 0..settings.reps {
        let mut pair = [
            (SINGLE, bench.ingestion.clone()),
            (SINGLE_REPLICATED, replicated_target.clone()),
        ];
        if rep % 2 == 1 {
            pair.reverse();
        }
        for (name, target) in pair {
            let outcome = super::single::post(bench, &target, &singles, single_duration).await?;
            let accepted = outcome.count(reqwest::StatusCode::ACCEPTED);
            if let Some(problem) = &outcome.first_problem {
                bail!("single events through {name}: {problem}");
            }
            let rate = accepted as f64 / outcome.elapsed.as_secs_f64();
            single_rates.entry(name).or_default().push(rate);
            bench.settle(timeout).await?;
        }
    }
    rates.extend(single_rates);
    tokio::task::spawn_blocking(move || drop((replicated, replica))).await?;
    for (name, values) in &rates {
        let load = if [SINGLE, SINGLE_REPLICATED].contains(name) {
            format!(
                "single-event POST /ingest, {} connections for {} s, the worker running",
                settings.single_connections, settings.single_seconds
            )
        } else {
            format!(
                "{total} events per run, POST /ingest 1,000 a request, {} clients",
                settings.batch_connections
            )
        };
        report.figure(
            "scale-out",
            *name,
            median(values.iter().copied()),
            Unit::PerSecond,
            format!("{load}; runs {}", runs(values, |v| format!("{v:.0}"))),
        );
    }
    for (name, base, ratio) in SHAPES {
        super::anchors::ratio_figure(report, ratio, &rates[name], &rates[base]);
    }
    report.detail("scale", &rates);
    Ok(())
}

/// Waits until a push through the ingestion process at `url` is confirmed by the replica,
/// whose first sync takes a moment.
async fn until_replicated(bench: &Bench, url: &str, body: &Bytes) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let http = &bench.stack.http;
    loop {
        let answer = http
            .post(format!("{url}/ingest"))
            .header("Content-Type", "application/json")
            .body(body.clone())
            .send()
            .await?;
        if answer.status() == 202 {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "no push was confirmed by the replica within 30 s: {} {}",
                answer.status(),
                answer.text().await.unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
