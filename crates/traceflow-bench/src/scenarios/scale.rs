//! Scaling out on this machine: batch ingest end to end, as the batch scenario's `/ingest`
//! runs, through one ingestion process and one worker, then with a second worker, then with
//! a second ingestion process too (the clients spread over the two as a load balancer
//! spreads connections). Then what durability against losing Redis costs: the same run
//! through an ingestion process with `REDIS_MIN_REPLICAS=1`, whose pushes wait for a
//! replica of the bench's Redis. Each repetition runs all four, so each ratio is to the one
//! process of each of the same repetition.

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

/// The figures of the scaled-out shapes, each with its ratio's name.
const SHAPES: [(&str, &str); 3] = [
    (TWO_WORKERS, "2 workers / 1, end to end"),
    (
        TWO_OF_EACH,
        "2 ingestion and 2 workers / 1 of each, end to end",
    ),
    (REPLICATED, "REDIS_MIN_REPLICAS=1 / without, end to end"),
];

pub async fn run(bench: &mut Bench, report: &mut Report) -> anyhow::Result<()> {
    let settings = bench.settings.clone();
    let per_request = settings.batch_request_events;
    let requests = (settings.batch_events as usize).div_ceil(per_request);
    let total = (requests * per_request) as u64;
    let now = chrono::Utc::now();
    let all: Vec<_> = (0..total).map(|n| events::event(n, now)).collect();
    let bodies: Arc<[Bytes]> = all
        .chunks(per_request)
        .map(|chunk| batch::Form::Ingest.body(chunk))
        .collect();
    drop(all);
    let timeout = Duration::from_secs(if settings.quick { 60 } else { 150 });

    let primary = bench.redis_port;
    let replica =
        tokio::task::spawn_blocking(move || RedisServer::start_replica_of(primary)).await?;
    let (replicated, replicated_url) = bench
        .stack
        .start_another(Service::Ingestion, &[("REDIS_MIN_REPLICAS", "1")])
        .await;
    let replicated_target = Target::parse(&replicated_url).await?;
    until_replicated(bench, &replicated_url, &bodies[0]).await?;

    let mut rates: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
    for _ in 0..settings.reps {
        let one = [bench.ingestion.clone()];
        let form = batch::Form::Ingest;
        let mut timed = async |bench: &mut Bench, name: &'static str, targets: &[Target]| {
            let run = batch::timed_run(bench, form, bodies.clone(), per_request, timeout, targets);
            let run = run.await.with_context(|| format!("the {name} run"))?;
            rates
                .entry(name)
                .or_default()
                .push(run.end_to_end_per_second);
            anyhow::Ok(())
        };
        timed(bench, ONE_OF_EACH, &one).await?;
        timed(bench, REPLICATED, std::slice::from_ref(&replicated_target)).await?;
        let (second_worker, _) = bench.stack.start_another(Service::Worker, &[]).await;
        timed(bench, TWO_WORKERS, &one).await?;
        let (second_ingestion, url) = bench.stack.start_another(Service::Ingestion, &[]).await;
        let two = [bench.ingestion.clone(), Target::parse(&url).await?];
        timed(bench, TWO_OF_EACH, &two).await?;
        // Stopping waits for the processes to exit: off the runtime.
        tokio::task::spawn_blocking(move || drop((second_worker, second_ingestion))).await?;
    }
    tokio::task::spawn_blocking(move || drop((replicated, replica))).await?;

    let one = rates[ONE_OF_EACH].clone();
    for (name, values) in &rates {
        report.figure(
            "scale-out",
            *name,
            median(values.iter().copied()),
            Unit::PerSecond,
            format!(
                "{total} events per run, POST /ingest 1,000 a request, {} clients; runs {}",
                settings.batch_connections,
                runs(values, |v| format!("{v:.0}"))
            ),
        );
    }
    for (name, ratio) in SHAPES {
        super::anchors::ratio_figure(report, ratio, &rates[name], &one);
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
