//! `GET /logs` query parameters: parsed strictly, so a typo is a 400 rather than a silently
//! unfiltered answer.

use chrono::{DateTime, TimeDelta, Utc};
use traceflow_queue::Level;
use traceflow_storage::{LogQuery, MAX_LIMIT};

const DEFAULT_LIMIT: u32 = 100;

/// Builds a [`LogQuery`] from a raw query string, or names the parameter that is wrong.
pub fn parse_log_query(raw: Option<&str>) -> Result<LogQuery, String> {
    let mut query = LogQuery::default();
    for (name, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        let value = value.trim();
        match name.as_ref() {
            "service" if value.is_empty() => return Err("service must not be empty".into()),
            "service" => query.service = Some(value.to_owned()),
            "level" => {
                query.level = Some(
                    value
                        .parse::<Level>()
                        .map_err(|err| format!("level {err}"))?,
                )
            }
            "from" => query.from = Some(parse_time("from", value, false)?),
            "to" => query.to = Some(parse_time("to", value, true)?),
            "limit" => query.limit = parse_limit(value)?,
            "offset" => query.offset = parse_offset(value)?,
            other => {
                return Err(format!(
                    "unknown parameter {other:?}; expected service, level, from, to, limit or offset"
                ));
            }
        }
    }
    if let (Some(from), Some(to)) = (query.from, query.to)
        && from > to
    {
        return Err("from must not be after to".into());
    }
    Ok(query)
}

/// RFC 3339. An upper bound given to the second (no fraction) covers that whole second,
/// so `to=...T23:59:59Z` includes an event at 23:59:59.500.
///
/// An unencoded `+02:00` offset arrives as ` 02:00` (form decoding), so a space is read as
/// the `+` it must have been.
fn parse_time(name: &str, raw: &str, upper_bound: bool) -> Result<DateTime<Utc>, String> {
    let raw = &raw.replace(' ', "+");
    let time = DateTime::parse_from_rfc3339(raw)
        .map_err(|_| {
            format!("{name} must be an RFC 3339 time such as 2026-05-05T10:00:00Z, got {raw:?}")
        })?
        .with_timezone(&Utc);
    let has_fraction = raw.contains('.');
    Ok(if upper_bound && !has_fraction {
        time + TimeDelta::milliseconds(999)
    } else {
        time
    })
}

/// Absent, zero or negative means the default; more than the maximum means the maximum.
fn parse_limit(raw: &str) -> Result<u32, String> {
    let number = parse_integer("limit", raw)?;
    Ok(if number <= 0 {
        DEFAULT_LIMIT
    } else {
        number.min(i128::from(MAX_LIMIT)) as u32
    })
}

fn parse_offset(raw: &str) -> Result<u64, String> {
    let number = parse_integer("offset", raw)?;
    if number < 0 {
        return Err(format!("offset must not be negative, got {raw}"));
    }
    u64::try_from(number).map_err(|_| format!("offset is too large, got {raw}"))
}

/// A whole number; digits beyond i128 still count as "huge" rather than as malformed.
fn parse_integer(name: &str, raw: &str) -> Result<i128, String> {
    let digits = raw.strip_prefix(['-', '+']).unwrap_or(raw);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{name} must be a whole number, got {raw:?}"));
    }
    Ok(raw.parse::<i128>().unwrap_or(if raw.starts_with('-') {
        i128::MIN
    } else {
        i128::MAX
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<LogQuery, String> {
        parse_log_query(Some(raw))
    }

    #[test]
    fn every_parameter_is_read() {
        let query = parse("service=auth-service&level=error&from=2026-05-05T00:00:00Z&to=2026-05-05T23:59:59Z&limit=50&offset=10").unwrap();
        assert_eq!(query.service.as_deref(), Some("auth-service"));
        assert_eq!(query.level, Some(Level::Error));
        assert_eq!(
            query.from.unwrap().to_rfc3339(),
            "2026-05-05T00:00:00+00:00"
        );
        assert_eq!(
            query.to.unwrap().to_rfc3339(),
            "2026-05-05T23:59:59.999+00:00"
        );
        assert_eq!((query.limit, query.offset), (50, 10));
        let unencoded_offset = parse("from=2026-05-05T10:00:00.5+02:00").unwrap();
        assert_eq!(
            unencoded_offset.from.unwrap().to_rfc3339(),
            "2026-05-05T08:00:00.500+00:00"
        );
        assert_eq!(parse("").unwrap(), LogQuery::default());
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
            (
                "from=2026-05-06T00:00:00Z&to=2026-05-05T00:00:00Z",
                "from must not be after to",
            ),
            (
                "servce=auth",
                "unknown parameter \"servce\"; expected service, level, from, to, limit or offset",
            ),
        ];
        for (raw, expected) in cases {
            assert_eq!(parse(raw).unwrap_err(), expected, "{raw}");
        }
    }
}
