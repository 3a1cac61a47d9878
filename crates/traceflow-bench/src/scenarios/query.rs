//! `GET /logs` on a large table, against the same SQL sent straight to ClickHouse.
//!
//! The stack's `logs` table is emptied and filled server-side with `INSERT ... SELECT ...
//! FROM numbers(N)` (10 million rows by default, seconds rather than minutes): timestamps
//! spread evenly over the 7 days before now with random milliseconds, the 20 services and
//! the level split of the other scenarios' events, varied messages, random UUIDs and trace
//! ids, two or three metadata keys. `OPTIMIZE ... FINAL` then merges each day into one part,
//! the steady state of a table whose background merges have caught up, so that merges
//! neither run during the timing nor leave it depending on how far they got.
//!
//! The searches are service + level + time window (1, 6 or 24 hours, anywhere in the 7
//! days), default limit 100, chosen by a seeded generator so every run times the same ones.
//! Each is timed through `GET /logs` and as its SQL sent directly (the query service's own
//! parser and SQL builder render it, `?fields` replaced as the client does, `FORMAT
//! RowBinary` as the client asks), alternating which goes first so neither gets a warmer
//! cache. Both read the whole answer over a keep-alive connection, one request at a time.

use super::{Bench, answer_context, secs};
use crate::{
    events::{self, LEVEL_PERCENT, SERVICES},
    load::Connection,
    report::{Report, Target, Unit},
    stats::Latency,
};
use anyhow::{Context, ensure};
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use clickhouse::Row;
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde::Serialize;
use std::time::{Duration, Instant};
use traceflow_event::Level;
use traceflow_storage::StoredLogRow;

pub const SERVICE_P50: &str = "GET /logs latency p50";
pub const SERVICE_P99: &str = "GET /logs latency p99";
pub const DIRECT_P50: &str = "anchor: same SQL direct to ClickHouse, p50";
pub const DIRECT_P99: &str = "anchor: same SQL direct to ClickHouse, p99";
pub const RATIO: &str = "GET /logs p50 / direct p50";

/// What a search exercises; each kind gets its own latency figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `GET /logs`: service + level + time window (the issue 4 target).
    Filters,
    /// `GET /logs?q=`: text search over the whole table.
    Text,
    /// `GET /logs?trace_id=`: one trace over the whole table.
    Trace,
    /// `GET /logs/stats`: an hourly histogram by level over the whole table.
    Stats,
}

impl Kind {
    const ALL: [Kind; 4] = [Kind::Filters, Kind::Text, Kind::Trace, Kind::Stats];

    /// How the figures name it.
    fn label(self) -> &'static str {
        match self {
            Kind::Filters => "GET /logs",
            Kind::Text => "GET /logs?q=",
            Kind::Trace => "GET /logs?trace_id=",
            Kind::Stats => "GET /logs/stats",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Kind::Stats => "/logs/stats",
            _ => "/logs",
        }
    }
}

/// Searches of the other kinds than filters (each scans far more than a filter search).
const OTHER_SEARCHES: usize = 30;

const DAYS: i64 = 7;
const WINDOWS_HOURS: [i64; 3] = [1, 6, 24];
/// Searches whose row counts are compared between the two paths before timing.
const CHECKED: usize = 5;
const WARM_UP: usize = 10;

#[derive(Debug, Serialize)]
struct Outcome {
    rows: u64,
    fill_seconds: f64,
    optimize_seconds: f64,
    parts: u64,
    searches: usize,
    /// Mean rows a search returned.
    mean_rows_returned: f64,
    example_sql: String,
    get_logs: Latency,
    direct: Latency,
    /// Text, trace and stats searches.
    others: Vec<OtherOutcome>,
}

#[derive(Debug, Serialize)]
struct OtherOutcome {
    endpoint: &'static str,
    example_params: String,
    example_sql: String,
    via_service: Latency,
    direct: Latency,
}

/// One search: the endpoint and query string, and the SQL the query service sends for it.
struct Search {
    kind: Kind,
    params: String,
    sql: String,
    /// Rows `GET /logs` answers at most; the SQL may fetch one more, to tell whether there
    /// is a next page.
    limit: u64,
}

pub async fn run(bench: &mut Bench, report: &mut Report) -> anyhow::Result<()> {
    let rows = bench.settings.query_rows;
    let table = bench.logs_table();
    let end = Utc::now();
    let ch = bench.clickhouse.clone();

    ch.query(&format!("TRUNCATE TABLE {table}")).await?;
    let filling = Instant::now();
    ch.query(&fill_sql(&table, rows, end)).await?;
    let fill = filling.elapsed();
    let optimizing = Instant::now();
    ch.query(&format!("OPTIMIZE TABLE {table} FINAL")).await?;
    let optimize = optimizing.elapsed();
    let stored = ch.count(&table).await?;
    ensure!(
        stored == rows,
        "{table} holds {stored} rows, expected {rows}"
    );
    let parts: u64 = ch
        .query(&format!(
            "SELECT count() FROM system.parts WHERE active AND database = '{}' AND table = 'logs'",
            bench.stack.database
        ))
        .await?
        .trim()
        .parse()?;

    let trace_ids = sample_trace_ids(&ch, &table).await?;
    let mut searches = filter_searches(bench.settings.queries, end)?;
    searches.extend(other_searches(end, &trace_ids)?);
    let database = bench.stack.database.clone();
    let mut service = Connection::open(&bench.query).await?;

    // Both paths must find the same rows, or the comparison is meaningless.
    for kind in Kind::ALL.into_iter().filter(|kind| *kind != Kind::Stats) {
        for search in searches.iter().filter(|s| s.kind == kind).take(CHECKED) {
            let via_service = get(&mut service, search).await?;
            let json = ch
                .query_raw(
                    &database,
                    &search.sql.replace("FORMAT RowBinary", "FORMAT JSON"),
                )
                .await?;
            let direct: serde_json::Value = serde_json::from_slice(&json)?;
            let direct_rows = direct["rows"]
                .as_u64()
                .context("no row count from ClickHouse")?;
            ensure!(
                direct_rows.min(search.limit) == via_service,
                "GET {}?{} returned {via_service} rows, the same SQL sent directly {direct_rows} \
                 (limit {})",
                kind.path(),
                search.params,
                search.limit
            );
        }
    }
    for search in searches.iter().cycle().take(WARM_UP) {
        get(&mut service, search).await?;
        ch.query_raw(&database, &search.sql).await?;
    }

    let mut timings: Vec<(Kind, Duration, Duration)> = Vec::with_capacity(searches.len());
    let mut returned = 0u64;
    for (k, search) in searches.iter().enumerate() {
        let service_first = k % 2 == 0;
        let mut direct = None;
        if !service_first {
            direct = Some(time_direct(bench, &database, search).await?);
        }
        let started = Instant::now();
        let rows = get(&mut service, search).await?;
        let via_service = started.elapsed();
        if search.kind == Kind::Filters {
            returned += rows;
        }
        if service_first {
            direct = Some(time_direct(bench, &database, search).await?);
        }
        timings.push((
            search.kind,
            via_service,
            direct.expect("timed in either order"),
        ));
    }
    let latencies = |kind: Kind| -> anyhow::Result<(Latency, Latency)> {
        let (via_service, direct): (Vec<_>, Vec<_>) = timings
            .iter()
            .filter(|(k, _, _)| *k == kind)
            .map(|(_, service, direct)| (*service, *direct))
            .unzip();
        Ok((
            Latency::of(via_service).context("no searches were timed")?,
            Latency::of(direct).context("no searches were timed")?,
        ))
    };

    let filters = searches.iter().filter(|s| s.kind == Kind::Filters).count();
    let (get_logs, direct) = latencies(Kind::Filters)?;
    let mut others = Vec::new();
    for kind in [Kind::Text, Kind::Trace, Kind::Stats] {
        let (via_service, direct) = latencies(kind)?;
        let example = searches
            .iter()
            .find(|s| s.kind == kind)
            .expect("searches of every kind");
        others.push(OtherOutcome {
            endpoint: kind.label(),
            example_params: example.params.clone(),
            example_sql: example.sql.clone(),
            via_service,
            direct,
        });
    }
    let outcome = Outcome {
        rows,
        fill_seconds: secs(fill),
        optimize_seconds: secs(optimize),
        parts,
        searches: filters,
        mean_rows_returned: returned as f64 / filters as f64,
        example_sql: searches[0].sql.clone(),
        get_logs,
        direct,
        others,
    };
    let note = format!(
        "{} searches (service+level+1/6/24 h window, limit 100) on {rows} rows, one at a time; \
         mean {:.0} rows returned",
        outcome.searches, outcome.mean_rows_returned
    );
    report.figure(
        "query",
        SERVICE_P50,
        Some(outcome.get_logs.p50_ms),
        Unit::Millis,
        note,
    );
    report.figure(
        "query",
        SERVICE_P99,
        Some(outcome.get_logs.p99_ms),
        Unit::Millis,
        "",
    );
    report.figure(
        "query",
        DIRECT_P50,
        Some(outcome.direct.p50_ms),
        Unit::Millis,
        "",
    );
    report.figure(
        "query",
        DIRECT_P99,
        Some(outcome.direct.p99_ms),
        Unit::Millis,
        "",
    );
    for other in &outcome.others {
        report.figure(
            "query",
            format!("{} latency p50", other.endpoint),
            Some(other.via_service.p50_ms),
            Unit::Millis,
            format!(
                "{OTHER_SEARCHES} searches like ?{}; p99 {:.1} ms",
                other.example_params, other.via_service.p99_ms
            ),
        );
        report.figure(
            "query",
            format!("  same SQL direct, p50 ({})", other.endpoint),
            Some(other.direct.p50_ms),
            Unit::Millis,
            format!("p99 {:.1} ms", other.direct.p99_ms),
        );
    }
    report
        .figure(
            "ratios",
            RATIO,
            Some(outcome.get_logs.p50_ms / outcome.direct.p50_ms),
            Unit::Ratio,
            format!(
                "table filled in {:.1} s, merged to {parts} parts in {:.1} s",
                fill.as_secs_f64(),
                optimize.as_secs_f64()
            ),
        )
        .target(Target::AtMost(1.5));
    report.detail("query", &outcome);
    // The page load is measured on the same table; without a browser the query figures
    // above still stand.
    if let Err(error) = super::explorer::run(bench, report, rows).await {
        eprintln!("    explorer page load not measured: {error:#}");
        report.problem("query", &error.context("the explorer's page load"));
    }
    Ok(())
}

/// Trace ids present in the filled table, one per hour of it, for the trace searches.
async fn sample_trace_ids(
    ch: &crate::clickhouse::ClickHouse,
    table: &str,
) -> anyhow::Result<Vec<String>> {
    let answer = ch
        .query(&format!(
            "SELECT any(trace_id) FROM {table} GROUP BY intDiv(toUInt32(timestamp), 3600) \
             ORDER BY intDiv(toUInt32(timestamp), 3600) LIMIT {OTHER_SEARCHES}"
        ))
        .await?;
    let ids: Vec<String> = answer.lines().map(str::to_owned).collect();
    ensure!(
        ids.len() == OTHER_SEARCHES,
        "only {} trace ids sampled",
        ids.len()
    );
    Ok(ids)
}

async fn time_direct(bench: &Bench, database: &str, search: &Search) -> anyhow::Result<Duration> {
    let started = Instant::now();
    bench.clickhouse.query_raw(database, &search.sql).await?;
    Ok(started.elapsed())
}

/// The search through the query service, read to the end; returns how many rows (or, for
/// stats, buckets) it answered.
async fn get(connection: &mut Connection, search: &Search) -> anyhow::Result<u64> {
    let target = format!("{}?{}", search.kind.path(), search.params);
    let answer = connection.get(&target).await?;
    ensure!(
        answer.status == 200,
        answer_context(&format!("GET {target}"), &answer)
    );
    let body: serde_json::Value = serde_json::from_slice(&answer.body)?;
    match search.kind {
        Kind::Stats => body["buckets"]
            .as_array()
            .map(|buckets| buckets.len() as u64),
        _ => body["count"].as_u64(),
    }
    .with_context(|| answer_context(&format!("GET {target}"), &answer))
}

/// `GET /logs` (or `/logs/stats`) with `params` as the query service parses it, and the SQL
/// it sends for it.
fn search(kind: Kind, params: String) -> anyhow::Result<Search> {
    let client = clickhouse::Client::default();
    let refused = |error: String| anyhow::anyhow!("the query service refuses {params}: {error}");
    let (sql, limit) = match kind {
        Kind::Stats => {
            let query = query::parse_stats_query(
                traceflow_event::DEFAULT_TENANT,
                Some(&params),
                Utc::now(),
            )
            .map_err(refused)?;
            (query.to_query(&client).sql_display().to_string(), u64::MAX)
        }
        _ => {
            let query = query::parse_log_query(traceflow_event::DEFAULT_TENANT, Some(&params))
                .map_err(refused)?;
            let columns = StoredLogRow::COLUMN_NAMES
                .iter()
                .map(|name| format!("`{name}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = query.to_query(&client).sql_display().to_string();
            (sql.replace("?fields", &columns), u64::from(query.limit))
        }
    };
    Ok(Search {
        kind,
        params,
        sql: format!("{sql} FORMAT RowBinary"),
        limit,
    })
}

/// Text, trace and stats searches over the whole table (the same in every run): a word of
/// the messages, a rare token, one trace each, an hourly histogram by level.
fn other_searches(end: DateTime<Utc>, trace_ids: &[String]) -> anyhow::Result<Vec<Search>> {
    let start = end - TimeDelta::days(DAYS);
    let time = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
    let mut searches = Vec::new();
    for (k, trace_id) in trace_ids.iter().enumerate() {
        // Alternately a common word and a token that occurs once (request ids are unique).
        let q = if k % 2 == 0 {
            events::MESSAGES[k / 2 % events::MESSAGES.len()]
                .split(' ')
                .next_back()
                .unwrap_or("handled")
                .to_owned()
        } else {
            format!("request_id={}", 1_000_003 * k)
        };
        searches.push(search(Kind::Text, format!("q={}", q.replace('=', "%3D")))?);
        searches.push(search(Kind::Trace, format!("trace_id={trace_id}"))?);
        searches.push(search(
            Kind::Stats,
            format!(
                "interval=1h&group_by=level&from={}&to={}",
                time(start),
                time(end)
            ),
        )?);
    }
    Ok(searches)
}

/// The filter searches, the same in every run: a fixed seed.
fn filter_searches(count: usize, end: DateTime<Utc>) -> anyhow::Result<Vec<Search>> {
    let mut rng = StdRng::seed_from_u64(4);
    let start = end - TimeDelta::days(DAYS);
    (0..count)
        .map(|_| {
            let service = SERVICES[rng.random_range(0..SERVICES.len())];
            let level = Level::ALL[rng.random_range(0..Level::ALL.len())];
            let window = TimeDelta::hours(WINDOWS_HOURS[rng.random_range(0..WINDOWS_HOURS.len())]);
            let span = (end - start - window).num_seconds();
            let from = start + TimeDelta::seconds(rng.random_range(0..span));
            let to = from + window;
            // With fractional seconds, `to` is taken as given (not extended to the end of
            // its second), so the parameters mean exactly this window.
            let time = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
            let params = format!(
                "service={service}&level={level}&from={}&to={}",
                time(from),
                time(to)
            );
            // The query service's own parsing and SQL, so this is the SQL it sends.
            search(Kind::Filters, params)
        })
        .collect()
}

/// The server-side fill: `rows` rows over the 7 days before `end`, in time order (as a log
/// table is written), every column in the shape the worker writes it.
fn fill_sql(table: &str, rows: u64, end: DateTime<Utc>) -> String {
    let quoted = |items: &[&str]| {
        items
            .iter()
            .map(|item| format!("'{item}'"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let services = quoted(&SERVICES);
    let messages = quoted(&events::MESSAGES);
    // multiIf(p < 2, 'TRACE', p < 22, 'DEBUG', ...): the same split as the events.
    let mut levels = String::from("multiIf(");
    let mut below = 0;
    for (level, share) in &LEVEL_PERCENT[..LEVEL_PERCENT.len() - 1] {
        below += share;
        levels.push_str(&format!("p < {below}, '{level}', "));
    }
    levels.push_str(&format!("'{}')", LEVEL_PERCENT[LEVEL_PERCENT.len() - 1].0));
    let span = TimeDelta::days(DAYS).num_seconds();
    let start = end.timestamp() - span;
    format!(
        "INSERT INTO {table} (timestamp, millisecond, event_id, service, level, message, \
         trace_id, metadata, metadata_keys, metadata_values)
SELECT
    toDateTime({start} + intDiv(number * {span}, {rows})),
    toUInt16(intHash32(number) % 1000),
    generateUUIDv4(),
    [{services}][1 + intHash32(number * 7 + 1) % 20],
    {levels},
    concat([{messages}][1 + intHash32(number * 13 + 5) % {message_count}],
           ' request_id=', toString(number), ' took ', toString(intHash32(number * 5) % 2000), 'ms'),
    replaceAll(toString(generateUUIDv4()), '-', ''),
    if(with_region,
       concat('{{\"host\":\"', host, '\",\"region\":\"', region, '\",\"user_id\":\"', user_id, '\"}}'),
       concat('{{\"host\":\"', host, '\",\"user_id\":\"', user_id, '\"}}')),
    if(with_region, ['host', 'region', 'user_id'], ['host', 'user_id']),
    if(with_region, [host, region, user_id], [host, user_id])
FROM
(
    SELECT
        number,
        intHash32(number * 3 + 1) % 100 AS p,
        concat('node-', toString(intHash32(number * 11) % 32)) AS host,
        toString(intHash32(number * 17) % 100000) AS user_id,
        intHash32(number * 19) % 3 = 0 AS with_region,
        ['eu-west', 'us-east', 'ap-south'][1 + intHash32(number * 23) % 3] AS region
    FROM numbers({rows})
)",
        message_count = events::MESSAGES.len(),
    )
}
