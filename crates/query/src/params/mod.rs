//! Query parameters of each endpoint, parsed strictly, so that a typo is a 400 rather than
//! a silently unfiltered answer (or, for `DELETE`, a wider deletion).
//!
//! Every endpoint takes the filter parameters (`service`, `level`, `from`, `to`, `q`,
//! `trace_id`, `metadata.<key>`) and some of its own; every one but `DELETE` takes the
//! exclusions too (`not.service`, `not.level`, `not.trace_id`, `not.q`,
//! `not.metadata.<key>`). An unknown parameter, one given twice, or a value that is not
//! UTF-8 once decoded is refused, naming it.

mod form;
mod text;
mod value;

use crate::{cursor::Cursor, export::Format};
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::BTreeMap;
use traceflow_event::Level;
use traceflow_storage::{
    ContextQuery, Exclusions, FacetsQuery, GroupBy, LogFilter, LogQuery, MAX_BUCKETS, MAX_CONTEXT,
    MAX_FACET_VALUES, MAX_LIMIT, Order, Page, Position, StatsQuery, bucket_count,
};
use uuid::Uuid;

/// Stands for every `metadata.<key>` parameter in a list of accepted names.
const METADATA: &str = "metadata.<key>";
const METADATA_PREFIX: &str = "metadata.";
/// Stands for every `not.metadata.<key>` parameter.
const NOT_METADATA: &str = "not.metadata.<key>";
const NOT_METADATA_PREFIX: &str = "not.metadata.";
/// Most metadata conditions (and, separately, metadata exclusions) one request may have.
const MAX_METADATA: usize = 16;

const FILTER: [&str; 7] = ["service", "level", "from", "to", "q", "trace_id", METADATA];
const EXCLUSIONS: [&str; 5] = [
    "not.service",
    "not.level",
    "not.trace_id",
    "not.q",
    NOT_METADATA,
];

/// `GET /logs`' page size when not told.
const DEFAULT_LIMIT: u32 = 100;
/// Events on each side of `GET /logs/context` when not told.
const DEFAULT_CONTEXT: u32 = 10;
/// Values per facet when not told.
const DEFAULT_FACET_VALUES: u32 = 10;

/// The range `GET /logs/stats` and `GET /logs/facets` count when not told.
const DEFAULT_STATS_RANGE: TimeDelta = TimeDelta::hours(1);
/// The range `GET /services` looks at when not told.
const DEFAULT_SERVICES_RANGE: TimeDelta = TimeDelta::hours(24);

/// The decoded parameters of one request, each checked against what the endpoint accepts.
struct Params {
    values: BTreeMap<String, String>,
}

impl Params {
    fn parse(raw: Option<&str>, accepted: &[&str]) -> Result<Self, String> {
        let mut values = BTreeMap::new();
        for pair in form::form_pairs(raw.unwrap_or_default()) {
            let (name, value) = pair?;
            let known = accepted.contains(&name.as_str())
                || (name.starts_with(METADATA_PREFIX) && accepted.contains(&METADATA))
                || (name.starts_with(NOT_METADATA_PREFIX) && accepted.contains(&NOT_METADATA));
            if !known {
                return Err(format!(
                    "unknown parameter {name:?}; expected {}",
                    one_of(accepted)
                ));
            }
            if values.contains_key(&name) {
                return Err(format!("parameter {name} given more than once"));
            }
            values.insert(name, value);
        }
        Ok(Self { values })
    }

    /// The value, without surrounding white space.
    fn take(&mut self, name: &str) -> Option<String> {
        self.values
            .remove(name)
            .map(|value| value.trim().to_owned())
    }

    fn take_non_empty(&mut self, name: &str) -> Result<Option<String>, String> {
        match self.take(name) {
            Some(value) if value.is_empty() => Err(format!("{name} must not be empty")),
            other => Ok(other),
        }
    }

    fn take_level(&mut self, name: &str) -> Result<Option<Level>, String> {
        self.take(name)
            .map(|raw| raw.parse::<Level>().map_err(|err| format!("{name} {err}")))
            .transpose()
    }

    /// The words and phrases of `q` or `not.q`.
    fn take_terms(&mut self, name: &str) -> Result<Vec<String>, String> {
        Ok(self
            .take(name)
            .map(|raw| text::search_terms(name, &raw))
            .transpose()?
            .unwrap_or_default())
    }

    /// The `<prefix><key>` entries (`metadata.` conditions or `not.metadata.` exclusions),
    /// values exactly as given (metadata values are stored verbatim, surrounding spaces
    /// included). `what` names them in errors.
    fn take_metadata(&mut self, prefix: &str, what: &str) -> Result<Vec<(String, String)>, String> {
        let names: Vec<String> = self
            .values
            .keys()
            .filter(|name| name.starts_with(prefix))
            .cloned()
            .collect();
        if names.len() > MAX_METADATA {
            return Err(format!(
                "{} metadata {what}s given; at most {MAX_METADATA} are allowed",
                names.len()
            ));
        }
        names
            .into_iter()
            .map(|name| {
                let value = self.values.remove(&name).unwrap_or_default();
                let key = &name[prefix.len()..];
                if key.is_empty() {
                    return Err(format!(
                        "a metadata {what} needs a key: {prefix}<key>=<value>"
                    ));
                }
                Ok((key.to_owned(), value))
            })
            .collect()
    }

    /// The filter parameters, and the exclusions where the endpoint accepts them (where it
    /// does not, [`Params::parse`] has refused them already).
    fn take_filter(&mut self, tenant: &str) -> Result<LogFilter, String> {
        let mut filter = LogFilter {
            tenant: tenant.to_owned(),
            service: self.take_non_empty("service")?,
            level: self.take_level("level")?,
            from: self
                .take("from")
                .map(|raw| value::time("from", &raw, false))
                .transpose()?,
            to: self
                .take("to")
                .map(|raw| value::time("to", &raw, true))
                .transpose()?,
            text: self.take_terms("q")?,
            trace_id: self.take_non_empty("trace_id")?,
            metadata: self.take_metadata(METADATA_PREFIX, "condition")?,
            exclude: Exclusions {
                service: self.take_non_empty("not.service")?,
                level: self.take_level("not.level")?,
                trace_id: self.take_non_empty("not.trace_id")?,
                text: self.take_terms("not.q")?,
                metadata: self.take_metadata(NOT_METADATA_PREFIX, "exclusion")?,
            },
        };
        // No event is older than the epoch (the column cannot hold it), and ClickHouse 18.16
        // refuses to compare the column with a negative number: an earlier `from` is the
        // epoch, an earlier `to` can match nothing.
        if filter.to.is_some_and(|to| to < DateTime::UNIX_EPOCH) {
            return Err("to must not be before 1970-01-01T00:00:00Z: no event is that old".into());
        }
        filter.from = filter.from.map(|from| from.max(DateTime::UNIX_EPOCH));
        check_range(filter.from, filter.to)?;
        Ok(filter)
    }
}

fn check_range(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Result<(), String> {
    match (from, to) {
        (Some(from), Some(to)) if from > to => Err("from must not be after to".into()),
        _ => Ok(()),
    }
}

/// `a, b or c`.
fn one_of(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [only] => (*only).to_owned(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// `FILTER` and `EXCLUSIONS`, followed by an endpoint's own parameters.
fn with_filter<const N: usize>(own: [&'static str; N]) -> Vec<&'static str> {
    FILTER
        .iter()
        .chain(&EXCLUSIONS)
        .copied()
        .chain(own)
        .collect()
}

/// `GET /logs`: the filter, `limit`, and a page given by `offset` or `cursor`, in `order`.
pub fn log_query(tenant: &str, raw: Option<&str>) -> Result<LogQuery, String> {
    let mut params = Params::parse(raw, &with_filter(["limit", "offset", "order", "cursor"]))?;
    let filter = params.take_filter(tenant)?;
    let limit = params
        .take("limit")
        .map(|raw| value::limit("limit", &raw, DEFAULT_LIMIT, MAX_LIMIT))
        .transpose()?;
    let offset = params
        .take("offset")
        .map(|raw| value::offset(&raw))
        .transpose()?;
    let order = params
        .take("order")
        .map(|raw| value::order(&raw))
        .transpose()?;
    let cursor = params
        .take("cursor")
        .map(|raw| Cursor::decode(&raw).ok_or("cursor is not one this service gave out"))
        .transpose()?;
    let defaults = LogQuery::default();
    let (order, page) = match (cursor, offset) {
        (Some(_), Some(_)) => {
            return Err(
                "cursor and offset cannot be combined: a cursor already says where the page starts"
                    .into(),
            );
        }
        (Some(cursor), None) => {
            if order.is_some_and(|order| order != cursor.order) {
                return Err(format!(
                    "order must be {} with this cursor, or left out",
                    cursor.order.as_str()
                ));
            }
            (cursor.order, Page::After(cursor.position))
        }
        (None, offset) => (
            order.unwrap_or(defaults.order),
            Page::Offset(offset.unwrap_or_default()),
        ),
    };
    Ok(LogQuery {
        filter,
        order,
        page,
        limit: limit.unwrap_or(defaults.limit),
    })
}

/// `GET /logs/context`: the event's `id` and, optionally, its `timestamp`; `before` and
/// `after`, the neighbours on each side (default 10, at most 100).
pub fn context_query(tenant: &str, raw: Option<&str>) -> Result<ContextQuery, String> {
    let mut params = Params::parse(raw, &["id", "timestamp", "before", "after"])?;
    let id = params
        .take("id")
        .ok_or("id is required: the id of an event, as GET /logs answers it")?;
    let id =
        Uuid::parse_str(&id).map_err(|_| format!("id must be an event id (a UUID), got {id:?}"))?;
    let at = params
        .take("timestamp")
        .map(|raw| value::time("timestamp", &raw, false))
        .transpose()?;
    let mut side = |name: &str| {
        params
            .take(name)
            .map(|raw| value::count(name, &raw, MAX_CONTEXT))
            .transpose()
            .map(|count| count.unwrap_or(DEFAULT_CONTEXT))
    };
    Ok(ContextQuery {
        tenant: tenant.to_owned(),
        id,
        at,
        before: side("before")?,
        after: side("after")?,
    })
}

/// `GET /logs/facets`: the filter and `limit` (values per facet: default 10, at most 100);
/// the range defaults to the hour before `now`.
pub fn facets_query(
    tenant: &str,
    raw: Option<&str>,
    now: DateTime<Utc>,
) -> Result<FacetsQuery, String> {
    let mut params = Params::parse(raw, &with_filter(["limit"]))?;
    let mut filter = params.take_filter(tenant)?;
    let limit = params
        .take("limit")
        .map(|raw| value::limit("limit", &raw, DEFAULT_FACET_VALUES, MAX_FACET_VALUES))
        .transpose()?
        .unwrap_or(DEFAULT_FACET_VALUES);
    let (from, to) = range(&mut filter, now, DEFAULT_STATS_RANGE)?;
    Ok(FacetsQuery {
        filter,
        from,
        to,
        limit,
    })
}

/// A validated `GET /logs/export`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRequest {
    /// Its `to` is always set: the export ends where the request came.
    pub filter: LogFilter,
    pub order: Order,
    pub format: Format,
}

/// `GET /logs/export`: the filter, `order` and `format`; `to` defaults to `now`, so that
/// the export is a snapshot rather than a chase after what is being stored.
pub fn export_query(
    tenant: &str,
    raw: Option<&str>,
    now: DateTime<Utc>,
) -> Result<ExportRequest, String> {
    let mut params = Params::parse(raw, &with_filter(["order", "format"]))?;
    let mut filter = params.take_filter(tenant)?;
    filter.to = filter.to.or(Some(now));
    check_range(filter.from, filter.to)?;
    let order = params
        .take("order")
        .map(|raw| value::order(&raw))
        .transpose()?
        .unwrap_or_default();
    let format = params
        .take("format")
        .map(|raw| {
            Format::ALL
                .into_iter()
                .find(|format| format.name().eq_ignore_ascii_case(&raw))
                .ok_or_else(|| format!("format must be ndjson or csv, got {raw:?}"))
        })
        .transpose()?
        .unwrap_or(Format::Ndjson);
    Ok(ExportRequest {
        filter,
        order,
        format,
    })
}

/// `GET /logs/count`: the filter alone.
pub fn count_filter(tenant: &str, raw: Option<&str>) -> Result<LogFilter, String> {
    Params::parse(raw, &with_filter([]))?.take_filter(tenant)
}

/// `GET /logs/stats`: the filter, `interval` and `group_by`; the range defaults to the hour
/// before `now` and may hold at most [`MAX_BUCKETS`] buckets.
pub fn stats_query(
    tenant: &str,
    raw: Option<&str>,
    now: DateTime<Utc>,
) -> Result<StatsQuery, String> {
    let mut params = Params::parse(raw, &with_filter(["interval", "group_by"]))?;
    let mut filter = params.take_filter(tenant)?;
    let interval = params
        .take("interval")
        .map(|raw| value::interval(&raw))
        .transpose()?;
    let group_by = match params.take("group_by").as_deref() {
        None => GroupBy::default(),
        Some("level") => GroupBy {
            level: true,
            ..GroupBy::default()
        },
        Some("service") => GroupBy {
            service: true,
            ..GroupBy::default()
        },
        Some(other) => return Err(format!("group_by must be level or service, got {other:?}")),
    };
    let (from, to) = range(&mut filter, now, DEFAULT_STATS_RANGE)?;
    if let Some(interval) = interval {
        let buckets = bucket_count(from, to, interval);
        if buckets > MAX_BUCKETS {
            return Err(format!(
                "interval gives {buckets} buckets from {} to {}; at most {MAX_BUCKETS} are allowed: widen the interval or narrow from and to",
                from.to_rfc3339(),
                to.to_rfc3339()
            ));
        }
    }
    Ok(StatsQuery {
        filter,
        from,
        to,
        interval,
        group_by,
    })
}

/// `GET /services`: the filter; the range defaults to the 24 hours before `now`.
pub fn services_query(
    tenant: &str,
    raw: Option<&str>,
    now: DateTime<Utc>,
) -> Result<StatsQuery, String> {
    let mut filter = count_filter(tenant, raw)?;
    let (from, to) = range(&mut filter, now, DEFAULT_SERVICES_RANGE)?;
    Ok(StatsQuery {
        filter,
        from,
        to,
        interval: None,
        group_by: GroupBy {
            service: true,
            level: true,
        },
    })
}

/// Takes the filter's time range out of it, with defaults: `to` now, `from` `span` before
/// `to`.
fn range(
    filter: &mut LogFilter,
    now: DateTime<Utc>,
    span: TimeDelta,
) -> Result<(DateTime<Utc>, DateTime<Utc>), String> {
    let to = filter.to.take().unwrap_or(now);
    let from = filter
        .from
        .take()
        .unwrap_or_else(|| (to - span).max(DateTime::UNIX_EPOCH));
    check_range(Some(from), Some(to))?;
    Ok((from, to))
}

/// `GET /logs/tail`: the filter without a time range (a tail follows what is stored next).
pub fn tail_filter(tenant: &str, raw: Option<&str>) -> Result<LogFilter, String> {
    let accepted: Vec<&str> = with_filter([])
        .into_iter()
        .filter(|name| !matches!(*name, "from" | "to"))
        .collect();
    let mut filter = Params::parse(raw, &accepted)?.take_filter(tenant)?;
    // Equal filters share one reader: the order metadata entries came in is irrelevant.
    filter.metadata.sort();
    filter.exclude.metadata.sort();
    Ok(filter)
}

/// `Last-Event-ID`: the position of the last event a tail client received.
pub fn resume_position(header: &[u8]) -> Result<Position, String> {
    std::str::from_utf8(header)
        .ok()
        .and_then(|id| Cursor::decode(id.trim()))
        .map(|cursor| cursor.position)
        .ok_or_else(|| "Last-Event-ID is not an event id this service gave out".into())
}

/// `DELETE /logs`: the filter, which must name a time range (`from` and `to`) and at least
/// one other condition, so that no request deletes everything by accident. No exclusions: a
/// deletion says what it removes, not what it spares.
pub fn delete_filter(tenant: &str, raw: Option<&str>) -> Result<LogFilter, String> {
    let filter = Params::parse(raw, &FILTER)?.take_filter(tenant)?;
    if filter.from.is_none() || filter.to.is_none() {
        return Err("DELETE needs a time range: give both from and to".into());
    }
    if !filter.has_condition_besides_time() {
        return Err(
            "DELETE needs a condition besides the time range: service, level, q, trace_id or metadata.<key>"
                .into(),
        );
    }
    Ok(filter)
}

#[cfg(test)]
mod tests {
    use super::*;
    use traceflow_event::DEFAULT_TENANT;
    use traceflow_storage::Order;
    use uuid::Uuid;

    fn parse(raw: &str) -> Result<LogQuery, String> {
        log_query(DEFAULT_TENANT, Some(raw))
    }

    fn at(raw: &str) -> DateTime<Utc> {
        raw.parse().unwrap()
    }

    #[test]
    fn every_parameter_is_read() {
        let query = parse("service=auth-service&level=error&from=2026-05-05T00:00:00Z&to=2026-05-05T23:59:59Z&limit=50&offset=10&q=db+%22conn+failed%22&trace_id=abc&metadata.user=42&metadata.host=%20db%20&order=ASC").unwrap();
        let filter = &query.filter;
        assert_eq!(filter.service.as_deref(), Some("auth-service"));
        assert_eq!(filter.level, Some(Level::Error));
        assert_eq!(
            filter.from.unwrap().to_rfc3339(),
            "2026-05-05T00:00:00+00:00"
        );
        assert_eq!(
            filter.to.unwrap().to_rfc3339(),
            "2026-05-05T23:59:59.999+00:00"
        );
        assert_eq!(filter.text, vec!["db", "conn failed"]);
        assert_eq!(filter.trace_id.as_deref(), Some("abc"));
        assert_eq!(
            filter.metadata,
            vec![
                ("host".to_owned(), " db ".to_owned()),
                ("user".to_owned(), "42".to_owned())
            ]
        );
        assert_eq!(
            (query.limit, query.page, query.order),
            (50, Page::Offset(10), Order::Asc)
        );
        let unencoded_offset = parse("from=2026-05-05T10:00:00.5+02:00").unwrap();
        assert_eq!(
            unencoded_offset.filter.from.unwrap().to_rfc3339(),
            "2026-05-05T08:00:00.500+00:00"
        );
        assert_eq!(parse("").unwrap(), LogQuery::default());
    }

    #[test]
    fn exclusions_are_read_like_the_conditions() {
        let query = parse("not.service=health&not.level=debug&not.trace_id=t1&not.q=ping+%22GET+%2Fhealth%22&not.metadata.host=lb-1&not.metadata.user=%20&metadata.host=db").unwrap();
        assert_eq!(
            query.filter.exclude,
            Exclusions {
                service: Some("health".into()),
                level: Some(Level::Debug),
                trace_id: Some("t1".into()),
                text: vec!["ping".into(), "GET /health".into()],
                metadata: vec![("host".into(), "lb-1".into()), ("user".into(), " ".into())],
            }
        );
        assert_eq!(query.filter.metadata, vec![("host".into(), "db".into())]);
        for (raw, error) in [
            ("not.service=", "not.service must not be empty"),
            (
                "not.level=LOUD",
                "not.level must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL (any case), got \"LOUD\"",
            ),
            ("not.q=%22open", "not.q has an unmatched double quote"),
            ("not.trace_id=%20", "not.trace_id must not be empty"),
            (
                "not.metadata.=x",
                "a metadata exclusion needs a key: not.metadata.<key>=<value>",
            ),
            (
                "not.service=a&not.service=b",
                "parameter not.service given more than once",
            ),
            (
                "not.metadata.k=a&not.metadata.k=b",
                "parameter not.metadata.k given more than once",
            ),
            (
                "not.host=a",
                "unknown parameter \"not.host\"; expected service, level, from, to, q, trace_id, metadata.<key>, not.service, not.level, not.trace_id, not.q, not.metadata.<key>, limit, offset, order or cursor",
            ),
        ] {
            assert_eq!(parse(raw).unwrap_err(), error, "{raw}");
        }
        let many: String = (0..17).map(|i| format!("not.metadata.k{i}=v&")).collect();
        assert_eq!(
            parse(&many).unwrap_err(),
            "17 metadata exclusions given; at most 16 are allowed"
        );
        // Sixteen of each is fine: the limits are separate.
        let both: String = (0..16)
            .map(|i| format!("metadata.k{i}=v&not.metadata.k{i}=w&"))
            .collect();
        assert!(parse(&both).is_ok());
        let tail = tail_filter(
            DEFAULT_TENANT,
            Some("not.metadata.b=2&not.metadata.a=1&not.level=info"),
        )
        .unwrap();
        assert_eq!(
            tail.exclude.metadata,
            vec![("a".into(), "1".into()), ("b".into(), "2".into())]
        );
        assert_eq!(
            count_filter(DEFAULT_TENANT, Some("not.level=error"))
                .unwrap()
                .exclude
                .level,
            Some(Level::Error)
        );
    }

    #[test]
    fn a_cursor_sets_the_page_and_the_order() {
        let position = Position {
            seconds: 7,
            millisecond: 8,
            event_id: Uuid::now_v7(),
        };
        let cursor = Cursor {
            order: Order::Asc,
            position,
        }
        .encode();
        let query = parse(&format!("cursor={cursor}&limit=5")).unwrap();
        assert_eq!(
            (query.order, query.page, query.limit),
            (Order::Asc, Page::After(position), 5)
        );
        assert_eq!(
            parse(&format!("cursor={cursor}&order=asc")).unwrap().page,
            Page::After(position)
        );
        for (raw, error) in [
            (
                format!("cursor={cursor}&order=desc"),
                "order must be asc with this cursor, or left out",
            ),
            (
                format!("cursor={cursor}&offset=0"),
                "cursor and offset cannot be combined: a cursor already says where the page starts",
            ),
            (
                "cursor=abc".to_owned(),
                "cursor is not one this service gave out",
            ),
        ] {
            assert_eq!(parse(&raw).unwrap_err(), error, "{raw}");
        }
    }

    #[test]
    fn limits_are_clamped() {
        for (raw, limit) in [
            ("0", 100),
            ("-5", 100),
            ("1000", 1000),
            ("1001", 1000),
            ("99999999999999999999999999999999999999999", 1000),
            ("7", 7),
        ] {
            assert_eq!(
                parse(&format!("limit={raw}")).unwrap().limit,
                limit,
                "limit={raw}"
            );
        }
    }

    #[test]
    fn bad_parameters_are_named() {
        let cases = [
            ("limit=ten", "limit must be a whole number, got \"ten\""),
            ("offset=-1", "offset must not be negative, got -1"),
            ("offset=1.5", "offset must be a whole number, got \"1.5\""),
            (
                "level=LOUD",
                "level must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL (any case), got \"LOUD\"",
            ),
            (
                "from=yesterday",
                "from must be an RFC 3339 time such as 2026-05-05T10:00:00Z, got \"yesterday\"",
            ),
            ("service=", "service must not be empty"),
            ("trace_id=%20", "trace_id must not be empty"),
            ("q=%22open", "q has an unmatched double quote"),
            ("q=", "q must contain a word or a quoted phrase"),
            (
                "order=sideways",
                "order must be asc or desc, got \"sideways\"",
            ),
            (
                "metadata.=x",
                "a metadata condition needs a key: metadata.<key>=<value>",
            ),
            (
                "to=2026-05-05'%20OR%201=1",
                "to must be an RFC 3339 time such as 2026-05-05T10:00:00Z, got \"2026-05-05' OR 1=1\"",
            ),
            (
                "from=2026-05-06T00:00:00Z&to=2026-05-05T00:00:00Z",
                "from must not be after to",
            ),
            (
                "servce=auth",
                "unknown parameter \"servce\"; expected service, level, from, to, q, trace_id, metadata.<key>, not.service, not.level, not.trace_id, not.q, not.metadata.<key>, limit, offset, order or cursor",
            ),
        ];
        for (raw, expected) in cases {
            assert_eq!(parse(raw).unwrap_err(), expected, "{raw}");
        }
        let many: String = (0..17).map(|i| format!("metadata.k{i}=v&")).collect();
        assert_eq!(
            parse(&many).unwrap_err(),
            "17 metadata conditions given; at most 16 are allowed"
        );
    }

    #[test]
    fn times_before_the_epoch_are_the_epoch_or_refused() {
        assert_eq!(
            parse("from=0001-01-01T00:00:00Z").unwrap().filter.from,
            Some(DateTime::UNIX_EPOCH)
        );
        assert_eq!(
            parse("to=1969-12-31T23:59:59.999Z").unwrap_err(),
            "to must not be before 1970-01-01T00:00:00Z: no event is that old"
        );
        assert_eq!(
            parse("to=1970-01-01T00:00:00Z")
                .unwrap()
                .filter
                .to
                .unwrap()
                .to_rfc3339(),
            "1970-01-01T00:00:00.999+00:00"
        );
    }

    #[test]
    fn a_repeated_parameter_is_refused() {
        for (name, value) in [
            ("service", "auth"),
            ("level", "INFO"),
            ("from", "2026-05-05T00:00:00Z"),
            ("to", "2026-05-05T00:00:00Z"),
            ("limit", "5"),
            ("offset", "5"),
            ("q", "x"),
            ("trace_id", "t"),
            ("metadata.user", "42"),
            ("order", "asc"),
            ("cursor", "00"),
        ] {
            let raw = format!("{name}={value}&{name}={value}");
            assert_eq!(
                parse(&raw).unwrap_err(),
                format!("parameter {name} given more than once"),
                "{raw}"
            );
        }
    }

    #[test]
    fn decoding_is_form_urlencoded_but_strict_about_utf8() {
        let cases = [
            ("service=a+b%20c", "a b c"),
            ("service=%F0%9F%94%A5", "\u{1F525}"),
            ("service=%zz%4", "%zz%4"),
            ("service=100%", "100%"),
            ("service=%2B%26%3D", "+&="),
            ("service=%EF%BF%BD", "\u{FFFD}"),
            ("&&service=x&&", "x"),
        ];
        for (raw, service) in cases {
            assert_eq!(
                parse(raw).unwrap().filter.service.as_deref(),
                Some(service),
                "{raw}"
            );
        }
        assert_eq!(
            parse("service=%FF").unwrap_err(),
            "service is not valid UTF-8 once percent-decoded"
        );
        assert_eq!(
            parse("limit=%C3").unwrap_err(),
            "limit is not valid UTF-8 once percent-decoded"
        );
        assert_eq!(
            parse("%FF=1").unwrap_err(),
            "parameter name \"%FF\" is not valid UTF-8 once percent-decoded"
        );
    }

    #[test]
    fn each_endpoint_takes_its_own_parameters() {
        let now = at("2026-05-05T12:00:00Z");
        assert_eq!(
            count_filter(DEFAULT_TENANT, Some("limit=5")).unwrap_err(),
            "unknown parameter \"limit\"; expected service, level, from, to, q, trace_id, metadata.<key>, not.service, not.level, not.trace_id, not.q or not.metadata.<key>"
        );
        assert_eq!(
            tail_filter(DEFAULT_TENANT, Some("from=2026-05-05T00:00:00Z")).unwrap_err(),
            "unknown parameter \"from\"; expected service, level, q, trace_id, metadata.<key>, not.service, not.level, not.trace_id, not.q or not.metadata.<key>"
        );
        assert_eq!(
            stats_query(DEFAULT_TENANT, Some("order=asc"), now).unwrap_err(),
            "unknown parameter \"order\"; expected service, level, from, to, q, trace_id, metadata.<key>, not.service, not.level, not.trace_id, not.q, not.metadata.<key>, interval or group_by"
        );
        assert_eq!(
            services_query(DEFAULT_TENANT, Some("group_by=level"), now).unwrap_err(),
            "unknown parameter \"group_by\"; expected service, level, from, to, q, trace_id, metadata.<key>, not.service, not.level, not.trace_id, not.q or not.metadata.<key>"
        );
        assert_eq!(
            tail_filter(DEFAULT_TENANT, Some("metadata.b=2&metadata.a=1"))
                .unwrap()
                .metadata,
            vec![("a".into(), "1".into()), ("b".into(), "2".into())]
        );
    }

    #[test]
    fn stats_have_a_default_range_and_a_bucket_cap() {
        let now = at("2026-05-05T12:00:00Z");
        let stats = stats_query(
            DEFAULT_TENANT,
            Some("interval=1m&group_by=level&service=api"),
            now,
        )
        .unwrap();
        assert_eq!((stats.from, stats.to), (at("2026-05-05T11:00:00Z"), now));
        assert_eq!(stats.interval, Some(60));
        assert!(stats.group_by.level && !stats.group_by.service);
        assert_eq!(stats.filter.service.as_deref(), Some("api"));
        assert_eq!((stats.filter.from, stats.filter.to), (None, None));
        assert_eq!(
            stats_query(DEFAULT_TENANT, Some("interval=1s"), now).unwrap_err(),
            "interval gives 3601 buckets from 2026-05-05T11:00:00+00:00 to 2026-05-05T12:00:00+00:00; at most 1000 are allowed: widen the interval or narrow from and to"
        );
        assert_eq!(
            stats_query(DEFAULT_TENANT, Some("group_by=host"), now).unwrap_err(),
            "group_by must be level or service, got \"host\""
        );
        assert_eq!(
            stats_query(DEFAULT_TENANT, Some("from=2026-05-06T00:00:00Z"), now).unwrap_err(),
            "from must not be after to"
        );
        let services =
            services_query(DEFAULT_TENANT, Some("to=2026-05-05T10:00:00Z"), now).unwrap();
        assert_eq!(
            (services.from, services.to),
            (
                at("2026-05-04T10:00:00.999Z"),
                at("2026-05-05T10:00:00.999Z")
            )
        );
        assert!(services.group_by.service && services.group_by.level);
    }

    #[test]
    fn context_needs_an_id_and_caps_its_sides() {
        let id = "0196a0b0-0000-7000-8000-000000000004";
        let query = context_query(DEFAULT_TENANT, Some(&format!("id={id}"))).unwrap();
        assert_eq!(
            query,
            ContextQuery {
                tenant: DEFAULT_TENANT.to_owned(),
                id: id.parse().unwrap(),
                at: None,
                before: 10,
                after: 10,
            }
        );
        let query = context_query(
            DEFAULT_TENANT,
            Some(&format!(
                "id={id}&timestamp=2026-05-05T10:00:00.250Z&before=0&after=1000"
            )),
        )
        .unwrap();
        assert_eq!(
            (query.at, query.before, query.after),
            (Some(at("2026-05-05T10:00:00.250Z")), 0, 100)
        );
        for (raw, error) in [
            (
                String::new(),
                "id is required: the id of an event, as GET /logs answers it",
            ),
            (
                "id=42".to_owned(),
                "id must be an event id (a UUID), got \"42\"",
            ),
            (
                format!("id={id}&timestamp=noon"),
                "timestamp must be an RFC 3339 time such as 2026-05-05T10:00:00Z, got \"noon\"",
            ),
            (
                format!("id={id}&before=-1"),
                "before must not be negative, got -1",
            ),
            (
                format!("id={id}&after=few"),
                "after must be a whole number, got \"few\"",
            ),
            (
                format!("id={id}&service=api"),
                "unknown parameter \"service\"; expected id, timestamp, before or after",
            ),
        ] {
            assert_eq!(
                context_query(DEFAULT_TENANT, Some(&raw)).unwrap_err(),
                error,
                "{raw}"
            );
        }
    }

    #[test]
    fn facets_default_to_the_last_hour_and_ten_values() {
        let now = at("2026-05-05T12:00:00Z");
        let facets =
            facets_query(DEFAULT_TENANT, Some("level=error&not.service=health"), now).unwrap();
        assert_eq!(
            (facets.from, facets.to, facets.limit),
            (at("2026-05-05T11:00:00Z"), now, 10)
        );
        assert_eq!(facets.filter.level, Some(Level::Error));
        assert_eq!(facets.filter.exclude.service.as_deref(), Some("health"));
        assert_eq!((facets.filter.from, facets.filter.to), (None, None));
        for (raw, limit) in [("0", 10), ("3", 3), ("500", 100)] {
            assert_eq!(
                facets_query(DEFAULT_TENANT, Some(&format!("limit={raw}")), now)
                    .unwrap()
                    .limit,
                limit
            );
        }
        assert_eq!(
            facets_query(DEFAULT_TENANT, Some("limit=many"), now).unwrap_err(),
            "limit must be a whole number, got \"many\""
        );
        assert_eq!(
            facets_query(DEFAULT_TENANT, Some("order=asc"), now).unwrap_err(),
            "unknown parameter \"order\"; expected service, level, from, to, q, trace_id, metadata.<key>, not.service, not.level, not.trace_id, not.q, not.metadata.<key> or limit"
        );
    }

    #[test]
    fn an_export_ends_now_unless_told_and_names_its_format() {
        let now = at("2026-05-05T12:00:00Z");
        let export = export_query(DEFAULT_TENANT, Some("service=api"), now).unwrap();
        assert_eq!(
            (
                export.filter.from,
                export.filter.to,
                export.order,
                export.format
            ),
            (None, Some(now), Order::Desc, Format::Ndjson)
        );
        let export = export_query(
            DEFAULT_TENANT,
            Some("order=asc&format=CSV&from=2026-05-05T00:00:00Z&to=2026-05-05T01:00:00Z"),
            now,
        )
        .unwrap();
        assert_eq!(
            (export.filter.to, export.order, export.format),
            (
                Some(at("2026-05-05T01:00:00.999Z")),
                Order::Asc,
                Format::Csv
            )
        );
        for (raw, error) in [
            ("format=xlsx", "format must be ndjson or csv, got \"xlsx\""),
            ("order=up", "order must be asc or desc, got \"up\""),
            ("from=2026-05-06T00:00:00Z", "from must not be after to"),
            (
                "limit=10",
                "unknown parameter \"limit\"; expected service, level, from, to, q, trace_id, metadata.<key>, not.service, not.level, not.trace_id, not.q, not.metadata.<key>, order or format",
            ),
        ] {
            assert_eq!(
                export_query(DEFAULT_TENANT, Some(raw), now).unwrap_err(),
                error,
                "{raw}"
            );
        }
    }

    #[test]
    fn delete_needs_a_range_and_another_condition() {
        let range = "from=2026-05-05T00:00:00Z&to=2026-05-05T23:59:59Z";
        assert!(delete_filter(DEFAULT_TENANT, Some(&format!("{range}&service=api"))).is_ok());
        assert!(delete_filter(DEFAULT_TENANT, Some(&format!("{range}&metadata.user=1"))).is_ok());
        for (raw, error) in [
            (
                "service=api".to_owned(),
                "DELETE needs a time range: give both from and to",
            ),
            (
                "service=api&from=2026-05-05T00:00:00Z".to_owned(),
                "DELETE needs a time range: give both from and to",
            ),
            (
                range.to_owned(),
                "DELETE needs a condition besides the time range: service, level, q, trace_id or metadata.<key>",
            ),
            (
                format!("{range}&limit=1"),
                "unknown parameter \"limit\"; expected service, level, from, to, q, trace_id or metadata.<key>",
            ),
            (
                format!("{range}&service=api&not.level=error"),
                "unknown parameter \"not.level\"; expected service, level, from, to, q, trace_id or metadata.<key>",
            ),
        ] {
            assert_eq!(
                delete_filter(DEFAULT_TENANT, Some(&raw)).unwrap_err(),
                error,
                "{raw}"
            );
        }
    }

    #[test]
    fn last_event_id_is_a_cursor() {
        let position = Position {
            seconds: 1,
            millisecond: 2,
            event_id: Uuid::now_v7(),
        };
        let id = Cursor {
            order: Order::Asc,
            position,
        }
        .encode();
        assert_eq!(resume_position(id.as_bytes()), Ok(position));
        for junk in [&b"42"[..], b"\xff"] {
            assert_eq!(
                resume_position(junk).unwrap_err(),
                "Last-Event-ID is not an event id this service gave out"
            );
        }
    }
}
