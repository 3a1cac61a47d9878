//! Batch ingest, end to end: the same events posted 1,000 to a request by a few concurrent
//! clients, in each of the three batch forms shippers use (`POST /ingest` JSON arrays,
//! Elasticsearch bulk, Loki push), and the time from the first POST until ClickHouse counts
//! the last row (the row count of `<db>.logs`, polled every 10 ms once every request is
//! accepted; the last row cannot be stored before its request was accepted). The worker runs
//! with its defaults (BATCH_SIZE 20, adaptive up to its MAX_BATCH_SIZE), as deployed.
//!
//! Each repetition starts with its anchor, direct INSERTs of the same events (see
//! `anchors`), then runs `/ingest`, then the other two forms: the ratio of `/ingest` to the
//! anchor is the share of ClickHouse's own insert rate the pipeline keeps, and each other
//! form's ratio to `/ingest` of the same repetition is what its decoding costs.

use super::{Bench, Usage, anchors, answer_context, runs, secs};
use crate::{
    events,
    load::{Answer, Connection},
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
use traceflow_event::LogEvent;

pub const END_TO_END: &str = "batch ingest (1,000/request): end to end";
pub const ACCEPTED: &str = "batch ingest: accepted (202)";
pub const RATIO: &str = "batch end to end / direct INSERT anchor";

/// A way to post a batch: the route, its body and what its success looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Form {
    Ingest,
    ElasticsearchBulk,
    LokiPush,
}

impl Form {
    /// `/ingest` first: its run is the one right after the anchor.
    const ALL: [Form; 3] = [Form::Ingest, Form::ElasticsearchBulk, Form::LokiPush];

    fn path(self) -> &'static str {
        match self {
            Form::Ingest => "/ingest",
            Form::ElasticsearchBulk => "/es/_bulk",
            Form::LokiPush => "/loki/api/v1/push",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Form::ElasticsearchBulk => "application/x-ndjson",
            Form::Ingest | Form::LokiPush => "application/json",
        }
    }

    pub(super) fn body(self, events: &[LogEvent]) -> Bytes {
        match self {
            Form::Ingest => events::ingest_array(events),
            Form::ElasticsearchBulk => events::bulk(events),
            Form::LokiPush => events::loki_push(events),
        }
    }

    /// The status of an answer that accepted the request.
    fn success(self) -> u16 {
        match self {
            Form::Ingest => 202,
            Form::ElasticsearchBulk => 200,
            Form::LokiPush => 204,
        }
    }

    /// Whether `answer` says all `count` events of the request were accepted: 202 with the
    /// count, a bulk answer without errors and an item each, Loki's 204. The probe checks
    /// this; the timed runs check the status alone (and then count the stored rows), so
    /// that reading answers does not take the harness's CPU from the services.
    fn accepted(self, answer: &Answer, count: usize) -> bool {
        let body = || serde_json::from_slice::<serde_json::Value>(&answer.body).ok();
        answer.status == self.success()
            && match self {
                Form::Ingest => body().and_then(|b| b["count"].as_u64()) == Some(count as u64),
                Form::ElasticsearchBulk => body().is_some_and(|b| {
                    b["errors"] == false && b["items"].as_array().map(Vec::len) == Some(count)
                }),
                Form::LokiPush => true,
            }
    }

    /// The end-to-end figure's name, and the name of its ratio to `/ingest`.
    fn figures(self) -> (&'static str, &'static str) {
        match self {
            Form::Ingest => (END_TO_END, RATIO),
            Form::ElasticsearchBulk => (
                "Elasticsearch bulk (1,000/request): end to end",
                "Elasticsearch bulk / batch ingest, end to end",
            ),
            Form::LokiPush => (
                "Loki push, JSON (1,000/request): end to end",
                "Loki push / batch ingest, end to end",
            ),
        }
    }
}

#[derive(Debug, Serialize)]
pub(super) struct Run {
    form: Form,
    /// How long the run waited for earlier merges to finish before it started.
    waited_for_merges_seconds: f64,
    events: u64,
    request_bytes: usize,
    /// First POST to last accepting answer.
    accepted_seconds: f64,
    /// First POST to the poll that counted the last row.
    end_to_end_seconds: f64,
    pub(super) end_to_end_per_second: f64,
    accepted_per_second: f64,
    /// Cores each process kept busy and INSERTs per second, first POST to last row.
    usage: Usage,
}

pub async fn run(bench: &mut Bench, report: &mut Report) -> anyhow::Result<()> {
    let settings = bench.settings.clone();
    let per_request = settings.batch_request_events;
    let all = run_events(&settings);
    let total = all.len() as u64;
    let bodies: BTreeMap<Form, Arc<[Bytes]>> = Form::ALL
        .into_iter()
        .map(|form| {
            (
                form,
                all.chunks(per_request).map(|c| form.body(c)).collect(),
            )
        })
        .collect();
    // The anchor inserts the same events.
    let anchor = anchors::DirectInsert::prepare(bench, &all).await?;
    drop(all);
    let table = bench.logs_table();
    let timeout = stored_within(&settings);

    // One request of each form first: checks that the route takes the batch (with a clear
    // message if not), and warms up the path.
    for (form, bodies) in &bodies {
        let baseline = bench.clickhouse.count(&table).await?;
        let mut probe = Connection::open(&bench.ingestion).await?;
        let answer = probe
            .post(form.path(), form.content_type(), bodies[0].clone())
            .await?;
        if !form.accepted(&answer, per_request) {
            bail!(
                "batch ingest is not available: {}",
                answer_context(
                    &format!("POST {} with {per_request} events", form.path()),
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
    }

    let (mut results, mut anchor_runs) = (Vec::new(), Vec::new());
    for _ in 0..settings.reps {
        // The anchor right before the run it anchors.
        anchor_runs.push(anchor.run(bench).await?);
        for (form, bodies) in &bodies {
            let ingestion = [bench.ingestion.clone()];
            let run = timed_run(
                bench,
                *form,
                bodies.clone(),
                per_request,
                timeout,
                &ingestion,
            );
            results.push(run.await?);
        }
    }

    let rates = |form: Form| -> Vec<f64> {
        results
            .iter()
            .filter(|r| r.form == form)
            .map(|r| r.end_to_end_per_second)
            .collect()
    };
    let ingest_rates = rates(Form::Ingest);
    for form in Form::ALL {
        let form_rates = rates(form);
        let last = results.iter().rev().find(|r| r.form == form).expect("runs");
        let (end_to_end, _) = form.figures();
        report.figure(
            "end to end",
            end_to_end,
            median(form_rates.iter().copied()),
            Unit::PerSecond,
            format!(
                "{total} events per run ({} KB per request), POST {}, {} clients, first POST \
                 to last row counted; runs {}; in the last run {}",
                last.request_bytes / 1000,
                form.path(),
                settings.batch_connections,
                runs(&form_rates, |v| format!("{v:.0}")),
                super::usage(&last.usage)
            ),
        );
        if form == Form::Ingest {
            let accepted: Vec<f64> = results
                .iter()
                .filter(|r| r.form == form)
                .map(|r| r.accepted_per_second)
                .collect();
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
        }
    }
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
    anchors::ratio_figure(report, RATIO, &ingest_rates, &anchor_rates)
        .target(Target::AtLeast(0.40));
    for form in [Form::ElasticsearchBulk, Form::LokiPush] {
        let (_, ratio) = form.figures();
        anchors::ratio_figure(report, ratio, &rates(form), &ingest_rates);
    }
    report.detail(
        "batch",
        serde_json::json!({"runs": results, "direct_insert": anchor_runs}),
    );
    Ok(())
}

/// The events of one run: `batch_events`, rounded up to whole requests.
pub(super) fn run_events(settings: &crate::settings::Settings) -> Vec<LogEvent> {
    let per_request = settings.batch_request_events;
    let requests = (settings.batch_events as usize).div_ceil(per_request);
    let now = chrono::Utc::now();
    (0..(requests * per_request) as u64)
        .map(|n| events::event(n, now))
        .collect()
}

/// How long a run's events may take to be stored: generous, so that a slow worker is
/// reported with its rate rather than cut off early.
pub(super) fn stored_within(settings: &crate::settings::Settings) -> Duration {
    Duration::from_secs(if settings.quick { 60 } else { 150 })
}

/// One run of `form`: every body posted by the scenario's clients, timed until the last row
/// is counted. The clients are spread over `targets` (ingestion processes), as a load
/// balancer spreads connections.
pub(super) async fn timed_run(
    bench: &mut Bench,
    form: Form,
    bodies: Arc<[Bytes]>,
    per_request: usize,
    timeout: Duration,
    targets: &[crate::load::Target],
) -> anyhow::Result<Run> {
    let table = bench.logs_table();
    let total = (bodies.len() * per_request) as u64;
    let waited = bench
        .clickhouse
        .wait_for_merges(super::QUIET_MERGES_TIMEOUT)
        .await?;
    let baseline = bench.clickhouse.count(&table).await?;
    let next = Arc::new(AtomicUsize::new(0));
    let activity = bench.activity().await?;
    let start = Instant::now();
    let mut senders = JoinSet::new();
    for client in 0..bench.settings.batch_connections {
        let target = targets[client % targets.len()].clone();
        let (bodies, next) = (bodies.clone(), next.clone());
        senders.spawn(async move {
            let mut connection = Connection::open(&target).await?;
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(index) else {
                    return anyhow::Ok(Instant::now());
                };
                let answer = connection
                    .post(form.path(), form.content_type(), body.clone())
                    .await?;
                if answer.status != form.success() {
                    bail!(answer_context(
                        &format!("a batch POST {}", form.path()),
                        &answer
                    ));
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
        .with_context(|| {
            format!(
                "{total} events accepted by POST {} were not all stored",
                form.path()
            )
        })?;
    let (accepted, end_to_end) = (last_accepted - start, visible - start);
    Ok(Run {
        form,
        waited_for_merges_seconds: secs(waited),
        events: total,
        request_bytes: bodies.iter().map(Bytes::len).sum::<usize>() / bodies.len(),
        accepted_seconds: secs(accepted),
        end_to_end_seconds: secs(end_to_end),
        end_to_end_per_second: total as f64 / end_to_end.as_secs_f64(),
        accepted_per_second: total as f64 / accepted.as_secs_f64(),
        usage: bench.usage_since(&activity).await?,
    })
}
