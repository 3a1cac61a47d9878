//! Single parameter values: times, numbers, intervals and choices, each refused with a
//! message naming the parameter.

use chrono::{DateTime, TimeDelta, Utc};
use traceflow_storage::Order;

/// Longest histogram bucket: a year.
const MAX_INTERVAL_SECONDS: u64 = 366 * 24 * 3600;

/// RFC 3339. An upper bound given to the second (no fraction) covers that whole second,
/// so `to=...T23:59:59Z` includes an event at 23:59:59.500.
///
/// An unencoded `+02:00` offset arrives as ` 02:00` (form decoding), so a space is read as
/// the `+` it must have been.
pub(super) fn time(name: &str, raw: &str, upper_bound: bool) -> Result<DateTime<Utc>, String> {
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

/// A page size: zero or negative means `default`; more than `max` means `max`.
pub(super) fn limit(name: &str, raw: &str, default: u32, max: u32) -> Result<u32, String> {
    let number = integer(name, raw)?;
    Ok(if number <= 0 {
        default
    } else {
        number.min(i128::from(max)) as u32
    })
}

/// A number of events from 0 up; more than `max` means `max`.
pub(super) fn count(name: &str, raw: &str, max: u32) -> Result<u32, String> {
    let number = integer(name, raw)?;
    if number < 0 {
        return Err(format!("{name} must not be negative, got {raw}"));
    }
    Ok(number.min(i128::from(max)) as u32)
}

pub(super) fn offset(raw: &str) -> Result<u64, String> {
    let number = integer("offset", raw)?;
    if number < 0 {
        return Err(format!("offset must not be negative, got {raw}"));
    }
    u64::try_from(number).map_err(|_| format!("offset is too large, got {raw}"))
}

/// A whole number; digits beyond i128 still count as "huge" rather than as malformed.
fn integer(name: &str, raw: &str) -> Result<i128, String> {
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

pub(super) fn order(raw: &str) -> Result<Order, String> {
    [Order::Desc, Order::Asc]
        .into_iter()
        .find(|order| order.as_str().eq_ignore_ascii_case(raw))
        .ok_or_else(|| format!("order must be asc or desc, got {raw:?}"))
}

/// A bucket width: a whole number of seconds, minutes, hours or days (`10s`, `1m`, `1h`,
/// `1d`), in seconds.
pub(super) fn interval(raw: &str) -> Result<u32, String> {
    let refuse = || format!("interval must be a duration such as 10s, 1m, 1h or 1d, got {raw:?}");
    let split = raw.find(|c: char| !c.is_ascii_digit()).ok_or_else(refuse)?;
    let (number, unit) = raw.split_at(split);
    let unit_seconds: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(refuse()),
    };
    let seconds = number
        .parse::<u64>()
        .ok()
        .and_then(|number| number.checked_mul(unit_seconds))
        .ok_or_else(refuse)?;
    if seconds == 0 {
        return Err(format!("interval must be at least 1s, got {raw:?}"));
    }
    if seconds > MAX_INTERVAL_SECONDS {
        return Err(format!("interval must be at most 366d, got {raw:?}"));
    }
    Ok(seconds as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_take_a_unit() {
        for (raw, seconds) in [("10s", 10), ("1m", 60), ("2h", 7200), ("1d", 86_400)] {
            assert_eq!(interval(raw), Ok(seconds), "{raw}");
        }
        for (raw, error) in [
            (
                "10",
                "interval must be a duration such as 10s, 1m, 1h or 1d, got \"10\"",
            ),
            (
                "m",
                "interval must be a duration such as 10s, 1m, 1h or 1d, got \"m\"",
            ),
            (
                "1.5m",
                "interval must be a duration such as 10s, 1m, 1h or 1d, got \"1.5m\"",
            ),
            (
                "-1m",
                "interval must be a duration such as 10s, 1m, 1h or 1d, got \"-1m\"",
            ),
            (
                "1w",
                "interval must be a duration such as 10s, 1m, 1h or 1d, got \"1w\"",
            ),
            ("0s", "interval must be at least 1s, got \"0s\""),
            ("367d", "interval must be at most 366d, got \"367d\""),
            (
                "99999999999999999999d",
                "interval must be a duration such as 10s, 1m, 1h or 1d, got \"99999999999999999999d\"",
            ),
        ] {
            assert_eq!(interval(raw).unwrap_err(), error, "{raw}");
        }
    }

    #[test]
    fn order_is_asc_or_desc_in_any_case() {
        assert_eq!(order("ASC"), Ok(Order::Asc));
        assert_eq!(order("desc"), Ok(Order::Desc));
        assert_eq!(
            order("up").unwrap_err(),
            "order must be asc or desc, got \"up\""
        );
    }
}
