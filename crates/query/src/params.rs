//! `GET /logs` query parameters: parsed strictly, so a typo is a 400 rather than a silently
//! unfiltered answer.

use chrono::{DateTime, TimeDelta, Utc};
use traceflow_queue::Level;
use traceflow_storage::{LogQuery, MAX_LIMIT};

const DEFAULT_LIMIT: u32 = 100;

const PARAMETERS: [&str; 6] = ["service", "level", "from", "to", "limit", "offset"];

/// Builds a [`LogQuery`] from a raw query string, or names the parameter that is wrong.
/// A parameter given twice is refused: which one should win is a guess either way.
pub fn parse_log_query(raw: Option<&str>) -> Result<LogQuery, String> {
    let mut query = LogQuery::default();
    let mut seen = [false; PARAMETERS.len()];
    for pair in form_pairs(raw.unwrap_or_default()) {
        let (name, value) = pair?;
        if let Some(index) = PARAMETERS.iter().position(|known| *known == name) {
            if seen[index] {
                return Err(format!("parameter {name} given more than once"));
            }
            seen[index] = true;
        }
        let value = value.trim();
        match name.as_str() {
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
    // No event is older than the epoch (the column cannot hold it), and ClickHouse 18.16
    // refuses to compare the column with a negative number: an earlier `from` is the
    // epoch, an earlier `to` can match nothing.
    if query.to.is_some_and(|to| to < DateTime::UNIX_EPOCH) {
        return Err("to must not be before 1970-01-01T00:00:00Z: no event is that old".into());
    }
    query.from = query.from.map(|from| from.max(DateTime::UNIX_EPOCH));
    if let (Some(from), Some(to)) = (query.from, query.to)
        && from > to
    {
        return Err("from must not be after to".into());
    }
    Ok(query)
}

/// The `name=value` pairs of an `application/x-www-form-urlencoded` query string, decoded
/// as `url::form_urlencoded` does (`+` is a space, a `%` not followed by two hex digits is
/// kept as is), except that bytes that are not UTF-8 once decoded are an error naming the
/// parameter rather than silently becoming U+FFFD.
fn form_pairs(raw: &str) -> impl Iterator<Item = Result<(String, String), String>> + '_ {
    raw.split('&').filter(|pair| !pair.is_empty()).map(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = percent_decode(name).ok_or_else(|| {
            format!("parameter name {name:?} is not valid UTF-8 once percent-decoded")
        })?;
        let value = percent_decode(value)
            .ok_or_else(|| format!("{name} is not valid UTF-8 once percent-decoded"))?;
        Ok((name, value))
    })
}

fn percent_decode(raw: &str) -> Option<String> {
    fn hex(digit: u8) -> Option<u8> {
        (digit as char).to_digit(16).map(|value| value as u8)
    }
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = match bytes[index..] {
            [b'%', high, low, ..] => hex(high).zip(hex(low)).map(|(h, l)| h << 4 | l),
            _ => None,
        };
        match (escaped, bytes[index]) {
            (Some(byte), _) => {
                decoded.push(byte);
                index += 3;
            }
            (None, b'+') => {
                decoded.push(b' ');
                index += 1;
            }
            (None, byte) => {
                decoded.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8(decoded).ok()
}

/// RFC 3339. An upper bound given to the second (no fraction) covers that whole second,
/// so `to=...T23:59:59Z` includes an event at 23:59:59.500.
///
/// An unencoded `+02:00` offset arrives as ` 02:00` (form decoding), so a space is read as
/// the `+` it must have been.
fn parse_time(name: &str, raw: &str, upper_bound: bool) -> Result<DateTime<Utc>, String> {
    // The error quotes what was sent, not the repaired text.
    let repaired = &raw.replace(' ', "+");
    let time = DateTime::parse_from_rfc3339(repaired)
        .map_err(|_| {
            format!("{name} must be an RFC 3339 time such as 2026-05-05T10:00:00Z, got {raw:?}")
        })?
        .with_timezone(&Utc);
    let has_fraction = repaired.contains('.');
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
                "to=2026-05-05'%20OR%201=1",
                "to must be an RFC 3339 time such as 2026-05-05T10:00:00Z, got \"2026-05-05' OR 1=1\"",
            ),
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

    #[test]
    fn times_before_the_epoch_are_the_epoch_or_refused() {
        assert_eq!(
            parse("from=0001-01-01T00:00:00Z").unwrap().from,
            Some(DateTime::UNIX_EPOCH)
        );
        assert_eq!(
            parse("to=1969-12-31T23:59:59.999Z").unwrap_err(),
            "to must not be before 1970-01-01T00:00:00Z: no event is that old"
        );
        assert_eq!(
            parse("to=1970-01-01T00:00:00Z")
                .unwrap()
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
                parse(raw).unwrap().service.as_deref(),
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
}
