//! Where an event sits in the table's sort order `(timestamp, millisecond, event_id)`: what
//! cursors and live tails resume from.

use chrono::{DateTime, Timelike, Utc};
use std::cmp::Ordering;
use traceflow_event::LogEvent;
use uuid::Uuid;

/// Newest first or oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Order {
    #[default]
    Desc,
    Asc,
}

impl Order {
    pub fn as_str(self) -> &'static str {
        match self {
            Order::Desc => "desc",
            Order::Asc => "asc",
        }
    }
}

/// An event's place in the sort key. Ordered exactly as ClickHouse orders the key, so that
/// what Rust considers "after" is what `(timestamp, millisecond, event_id) > (...)` selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Position {
    /// Whole seconds since the epoch (the `timestamp` column).
    pub seconds: u32,
    pub millisecond: u16,
    pub event_id: Uuid,
}

impl Position {
    /// Before every event of that millisecond: the nil UUID sorts first in any order.
    pub fn start_of(time: DateTime<Utc>) -> Self {
        Self {
            // Times the column cannot hold clamp to its range.
            seconds: u32::try_from(time.timestamp().max(0)).unwrap_or(u32::MAX),
            millisecond: (time.nanosecond() / 1_000_000).min(999) as u16,
            event_id: Uuid::nil(),
        }
    }

    pub fn of(event: &LogEvent) -> Self {
        Self {
            event_id: event.id,
            ..Self::start_of(event.timestamp)
        }
    }

    /// The time part of the position.
    pub fn time(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(
            i64::from(self.seconds),
            u32::from(self.millisecond) * 1_000_000,
        )
        .expect("any u32 of seconds is a valid time")
    }

    /// ClickHouse compares a UUID as two 64-bit halves, the second half first (checked on
    /// 18.16 and 26.x); Rust's `Uuid` compares bytes left to right.
    fn uuid_key(&self) -> (u64, u64) {
        let (high, low) = self.event_id.as_u64_pair();
        (low, high)
    }
}

impl Ord for Position {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.seconds, self.millisecond, self.uuid_key()).cmp(&(
            other.seconds,
            other.millisecond,
            other.uuid_key(),
        ))
    }
}

impl PartialOrd for Position {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(event_id: &str) -> Position {
        Position {
            seconds: 1,
            millisecond: 2,
            event_id: event_id.parse().unwrap(),
        }
    }

    #[test]
    fn uuids_order_second_half_first_as_clickhouse_does() {
        // The order `SELECT ... ORDER BY u` gives for these four on 18.16 and 26.x.
        let clickhouse_order = [
            at("00000000-0000-0001-0000-000000000000"),
            at("01000000-0000-0000-0000-000000000000"),
            at("00000000-0000-0000-0000-000000000001"),
            at("00000000-0000-0000-0100-000000000000"),
        ];
        let mut sorted = clickhouse_order;
        sorted.sort();
        assert_eq!(sorted, clickhouse_order);
    }

    #[test]
    fn time_orders_before_the_event_id() {
        let early = Position::start_of("2026-05-05T10:00:00.250Z".parse().unwrap());
        assert_eq!((early.seconds, early.millisecond), (1_777_975_200, 250));
        let later = Position {
            millisecond: 251,
            ..early
        };
        assert!(early < later);
        assert_eq!(later.time().to_rfc3339(), "2026-05-05T10:00:00.251+00:00");
    }
}
