//! What the protocols' unit tests share (feature `testing`): a fixed trace id and time, and
//! limits whose window takes their fixtures' fixed 2026 timestamps on any day.

use crate::{Defaults, Event, Limits, TimeWindow};
use chrono::{SecondsFormat, TimeDelta};

pub const TRACE_ID: &str = "0123456789abcdef0123456789abcdef";

/// A request's defaults: [`TRACE_ID`], and `now` (RFC 3339) as the server's time.
pub fn defaults(now: &str) -> Defaults<'static> {
    Defaults {
        tenant: crate::DEFAULT_TENANT,
        trace_id: TRACE_ID,
        now: now.parse().expect("an RFC 3339 time"),
        retention_days: None,
    }
}

/// The default limits, with a window wide enough for any time a fixture has (the window
/// itself is tested on its own).
pub fn any_time() -> Limits {
    Limits {
        window: TimeWindow {
            retention_days: 36_500,
            max_future_skew: TimeDelta::days(36_500),
        },
        ..Limits::default()
    }
}

/// `time service LEVEL trace_id message`, the fields a mapping test checks, in one line.
pub fn summary(event: &Event) -> String {
    format!(
        "{} {} {} {} {}",
        event.timestamp.to_rfc3339_opts(SecondsFormat::Millis, true),
        event.service,
        event.level,
        event.trace_id,
        event.message
    )
}

/// The metadata as `(key, value)` pairs, in key order.
pub fn pairs<'e>(event: &'e Event) -> Vec<(&'e str, &'e str)> {
    event
        .metadata
        .iter()
        .map(|(key, value)| (key.as_ref(), value.as_ref()))
        .collect()
}
