//! End-to-end lag at a fixed rate: how long after its 202 an event can be read back.
//!
//! Sending: open loop at 5,000 events/s (the single-event scenario also sends a few hundred
//! a second this way alongside its full load). Event `i` is due at `start + i / rate` and is sent
//! then (by one of 64 keep-alive connections, each taking every 64th event, so a slow answer
//! holds back few others; how late sends were against the schedule is reported), whatever happened to earlier events; each carries a marker (`lag probe <i>`,
//! service `bench-lag-<run>`) and, as its timestamp, the time it was due. The time its 202
//! arrives is recorded.
//!
//! Visibility: every 20 ms the harness asks ClickHouse which markers are stored:
//! `SELECT message FROM <db>.logs WHERE service = 'bench-lag-<run>' AND timestamp >= W`,
//! where `W` is one second before the timestamp of the oldest event not yet seen, so each
//! poll reads about a second of rows however long the run. An event's visible time is the
//! end of the first poll that returned it: an upper bound, late by at most one poll interval
//! plus one query, so the lag reported is never flattering.
//!
//! Why ClickHouse and not `GET /logs`: `GET /logs` is a SELECT on the same table with no
//! cache in between, so a row is visible to it exactly when it is visible to this query;
//! polling through the service instead would add its response time to the resolution and,
//! with at most 1,000 rows per page newest first, could not see every event of a busy
//! second. At the end of each run, `GET /logs?service=bench-lag-<run>&limit=1` must return
//! an event from the last accepted event's millisecond, which checks the two agree.

use super::{Bench, Usage, answer_context, secs};
use crate::{
    events,
    load::Connection,
    report::{Report, Target, Unit},
    stats::{Latency, median, percentile},
};
use anyhow::{Context, bail, ensure};
use bytes::Bytes;
use serde::Serialize;
use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};
use tokio::task::JoinSet;

pub const P50: &str = "lag 202 -> visible at 5,000/s, p50";
pub const P99: &str = "lag 202 -> visible at 5,000/s, p99";

/// How long after the last send every accepted event must have become visible.
const SETTLE: Duration = Duration::from_secs(30);
/// Time between planning a run and its first event being due.
const LEAD: Duration = Duration::from_secs(1);
/// Not yet accepted / not yet visible.
const NOT_YET: u64 = u64::MAX;

/// The load a lag measurement sends: `rate` probes a second for `seconds`, spread over
/// `connections`.
#[derive(Debug, Clone, Copy)]
pub struct Probe {
    pub rate: u64,
    pub seconds: u64,
    pub connections: usize,
}

#[derive(Debug, Serialize)]
pub struct Run {
    service: String,
    sent: u64,
    pub accepted: u64,
    /// Accepted events per second over the sending period.
    accepted_per_second: f64,
    /// How late the sender was against the schedule (p99, max), in ms: shows whether the
    /// harness held the rate.
    send_slip_p99_ms: f64,
    send_slip_max_ms: f64,
    first_problem: Option<String>,
    polls: u64,
    pub lag: Latency,
    /// Cores each process kept busy while sending (5,000 events/s is a fixed load, so
    /// this shows what it costs).
    usage: Option<Usage>,
}

/// Times in microseconds since the run's start, per event, shared by senders and watcher.
struct Timeline {
    start: Instant,
    accepted: Vec<AtomicU64>,
    visible: Vec<AtomicU64>,
}

impl Timeline {
    fn now(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }
}

pub async fn run(bench: &mut Bench, report: &mut Report) -> anyhow::Result<()> {
    let probe = Probe {
        rate: bench.settings.lag_rate,
        seconds: bench.settings.lag_seconds,
        connections: bench.settings.lag_connections,
    };
    let mut results = Vec::new();
    for run in 0..bench.settings.reps {
        results.push(measure(bench, &format!("bench-lag-{run}"), probe).await?);
        // Leftovers of this run must not delay the next.
        bench.settle(SETTLE).await?;
    }
    let p50s: Vec<f64> = results.iter().map(|r| r.lag.p50_ms).collect();
    let p99s: Vec<f64> = results.iter().map(|r| r.lag.p99_ms).collect();
    let settings = &bench.settings;
    report.figure(
        "end to end",
        P50,
        median(p50s.iter().copied()),
        Unit::Millis,
        format!(
            "median of {} runs of {} s; visibility polled every {} ms (an upper bound); in \
             the last run {}",
            results.len(),
            settings.lag_seconds,
            settings.lag_poll_ms,
            results
                .last()
                .and_then(|run| run.usage.as_ref())
                .map_or_else(|| "no usage measured".to_owned(), super::usage)
        ),
    );
    report
        .figure(
            "end to end",
            P99,
            median(p99s.iter().copied()),
            Unit::Millis,
            format!(
                "runs {} ms; max {} ms; sends late against the schedule by p99 {} ms",
                super::runs(&p99s, |v| format!("{v:.0}")),
                super::runs(
                    &results.iter().map(|r| r.lag.max_ms).collect::<Vec<_>>(),
                    |v| format!("{v:.0}")
                ),
                super::runs(
                    &results
                        .iter()
                        .map(|r| r.send_slip_p99_ms)
                        .collect::<Vec<_>>(),
                    |v| format!("{v:.0}")
                )
            ),
        )
        .target(Target::Below(1000.0));
    report.detail("lag", &results);
    Ok(())
}

/// Sends `probe`'s events with service `service` and times each from its 202 until a poll
/// finds it stored; other load may run meanwhile.
pub async fn measure(bench: &Bench, service: &str, probe: Probe) -> anyhow::Result<Run> {
    let settings = bench.settings.clone();
    let rate = probe.rate;
    let total = rate * probe.seconds;
    let service = service.to_owned();
    let interval_ns = 1e9 / rate as f64;
    // The first event is due after a lead long enough to build the bodies (which carry
    // their due times) and open every connection; were it too short, the first events
    // would all go late, and the schedule slip in the report would show it.
    let start = Instant::now() + LEAD;
    let wall_start = chrono::Utc::now() + chrono::TimeDelta::from_std(LEAD).expect("small");
    let due = move |i: u64| Duration::from_nanos((i as f64 * interval_ns) as u64);
    let wall_due = move |i: u64| wall_start + chrono::TimeDelta::from_std(due(i)).expect("small");
    let bodies: Arc<[Bytes]> = (0..total)
        .map(|i| {
            let mut event = events::event(i, wall_due(i));
            event.service = service.clone().into();
            event.message = format!("lag probe {i}").into();
            events::ingest_body(&event)
        })
        .collect();
    let timeline = Arc::new(Timeline {
        start,
        accepted: (0..total).map(|_| AtomicU64::new(NOT_YET)).collect(),
        visible: (0..total).map(|_| AtomicU64::new(NOT_YET)).collect(),
    });

    let activity = bench.activity().await?;
    let connections = probe.connections as u64;
    let mut senders = JoinSet::new();
    for first in 0..connections {
        let (target, bodies, timeline) =
            (bench.ingestion.clone(), bodies.clone(), timeline.clone());
        senders.spawn(async move {
            let mut connection = Connection::open(&target).await?;
            let mut slips = Vec::new();
            let mut problem = None;
            for i in (first..total).step_by(connections as usize) {
                let due_at = start + due(i);
                tokio::time::sleep_until(due_at.into()).await;
                slips.push(Instant::now() - due_at);
                let answer = connection
                    .post("/ingest", "application/json", bodies[i as usize].clone())
                    .await?;
                if answer.status == 202 {
                    timeline.accepted[i as usize].store(timeline.now(), Ordering::Relaxed);
                } else if problem.is_none() {
                    problem = Some(answer_context("POST /ingest", &answer));
                }
            }
            anyhow::Ok((slips, problem))
        });
    }

    // Watch while sending; stop once every accepted event is visible after the last send.
    let mut polls = 0;
    let mut cursor = 0usize;
    let mut sending_done: Option<Instant> = None;
    let mut slips = Vec::new();
    let mut first_problem = None;
    let mut usage = None;
    let mut ticker = tokio::time::interval(Duration::from_millis(settings.lag_poll_ms));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if sending_done.is_none() {
            while let Some(sender) = senders.try_join_next() {
                let (mut run_slips, problem) = sender??;
                slips.append(&mut run_slips);
                first_problem = first_problem.or(problem);
            }
            if senders.is_empty() {
                sending_done = Some(Instant::now());
                usage = Some(bench.usage_since(&activity).await?);
            }
        }
        if Instant::now() < start {
            continue;
        }
        // Events up to the cursor are all visible; W is a second before the next one's.
        while cursor < total as usize && timeline.visible[cursor].load(Ordering::Relaxed) != NOT_YET
        {
            cursor += 1;
        }
        let watermark = wall_due(cursor as u64).timestamp() - 1;
        let sql = format!(
            "SELECT message FROM {} WHERE service = '{service}' AND timestamp >= {watermark} \
             FORMAT TabSeparated",
            bench.logs_table()
        );
        let rows = bench.clickhouse.query(&sql).await?;
        let seen_at = timeline.now();
        polls += 1;
        for line in rows.lines() {
            let index: usize = line
                .strip_prefix("lag probe ")
                .and_then(|n| n.parse().ok())
                .with_context(|| format!("unexpected message {line:?}"))?;
            let _ = timeline.visible[index].compare_exchange(
                NOT_YET,
                seen_at,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
        if let Some(done) = sending_done {
            let accepted = count_set(&timeline.accepted);
            let both = (0..total as usize)
                .filter(|&i| {
                    timeline.accepted[i].load(Ordering::Relaxed) != NOT_YET
                        && timeline.visible[i].load(Ordering::Relaxed) != NOT_YET
                })
                .count() as u64;
            if both == accepted {
                break;
            }
            if done.elapsed() > SETTLE {
                bail!(
                    "{} of {accepted} accepted events were not visible {SETTLE:?} after the \
                     last was sent",
                    accepted - both
                );
            }
        }
    }

    let accepted = count_set(&timeline.accepted);
    ensure!(
        accepted > 0,
        "no event was accepted: {}",
        first_problem.as_deref().unwrap_or("no answer")
    );
    let lags: Vec<Duration> = (0..total as usize)
        .filter_map(|i| {
            let accepted = timeline.accepted[i].load(Ordering::Relaxed);
            let visible = timeline.visible[i].load(Ordering::Relaxed);
            // A poll may finish before the 202 is read: that event's lag is zero.
            (accepted != NOT_YET).then(|| Duration::from_micros(visible.saturating_sub(accepted)))
        })
        .collect();
    let last_accepted = (0..total as usize)
        .rev()
        .find(|&i| timeline.accepted[i].load(Ordering::Relaxed) != NOT_YET)
        .expect("some event was accepted");
    check_get_logs(bench, &service, wall_due(last_accepted as u64)).await?;

    slips.sort_unstable();
    let sending = Duration::from_micros(
        timeline
            .accepted
            .iter()
            .map(|t| t.load(Ordering::Relaxed))
            .filter(|&t| t != NOT_YET)
            .max()
            .unwrap_or(1),
    );
    Ok(Run {
        service,
        sent: total,
        accepted,
        accepted_per_second: accepted as f64 / sending.as_secs_f64(),
        send_slip_p99_ms: secs(percentile(&slips, 0.99)) * 1e3,
        send_slip_max_ms: secs(*slips.last().expect("events were sent")) * 1e3,
        first_problem,
        polls,
        lag: Latency::of(lags).expect("accepted events have lags"),
        usage,
    })
}

fn count_set(times: &[AtomicU64]) -> u64 {
    times
        .iter()
        .filter(|t| t.load(Ordering::Relaxed) != NOT_YET)
        .count() as u64
}

/// `GET /logs` must agree with the direct polls: its newest event for the run's service is
/// from the millisecond the last accepted event was due in (several events share each
/// millisecond at this rate, and ties are broken by event id, so any of them may be first).
async fn check_get_logs(
    bench: &Bench,
    service: &str,
    last: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    let mut connection = Connection::open(&bench.query).await?;
    let answer = connection
        .get(&format!("/logs?service={service}&limit=1"))
        .await?;
    let body: serde_json::Value = serde_json::from_slice(&answer.body)
        .with_context(|| answer_context("GET /logs", &answer))?;
    let newest = body["logs"][0]["timestamp"].as_str().unwrap_or_default();
    let expected = last.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    ensure!(
        newest == expected,
        "GET /logs?service={service} returns an event of {newest:?} as the newest, expected \
         {expected:?}: the query service and the direct polls disagree"
    );
    Ok(())
}
