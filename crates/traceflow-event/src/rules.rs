//! The rules every event obeys, whatever protocol brought it: [`Draft::check`] turns what a
//! decoder read into an [`Event`] or the one [`Violation`] that stops it. A protocol renders
//! a violation in its own words by naming the fields its way ([`Wording`]).

use chrono::{DateTime, DurationRound, TimeDelta, Timelike, Utc};
use std::{borrow::Cow, fmt};
use uuid::Uuid;

use crate::{Event, Level, Metadata, UnknownLevel};

/// Limits on an event: the size of single fields, so one event cannot bloat a batch or the
/// table, and the window its time must fall in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub service_chars: usize,
    pub message_bytes: usize,
    pub trace_id_chars: usize,
    pub metadata_keys: usize,
    pub metadata_key_chars: usize,
    pub metadata_value_bytes: usize,
    pub window: TimeWindow,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            service_chars: 256,
            message_bytes: 256 * 1024,
            trace_id_chars: 128,
            metadata_keys: 128,
            metadata_key_chars: 256,
            metadata_value_bytes: 16 * 1024,
            window: TimeWindow::default(),
        }
    }
}

/// The times an event may have, relative to when it is accepted: no older than the data
/// is kept (an older event would be stored only to be expired at once, or, where
/// ClickHouse has TTL, not stored at all), and not further ahead than a clock may be wrong
/// (an event from the future would head every newest-first view for as long as it is kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    /// `RETENTION_DAYS`.
    pub retention_days: u32,
    /// `MAX_FUTURE_SKEW`.
    pub max_future_skew: TimeDelta,
}

impl Default for TimeWindow {
    fn default() -> Self {
        Self {
            retention_days: 30,
            max_future_skew: TimeDelta::minutes(10),
        }
    }
}

impl TimeWindow {
    /// The earliest time accepted at `now`.
    pub fn earliest(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - TimeDelta::days(i64::from(self.retention_days))
    }

    /// The latest time accepted at `now`.
    pub fn latest(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now + self.max_future_skew
    }
}

/// The earliest time the `timestamp` column (DateTime, unsigned seconds) holds.
pub const EARLIEST: DateTime<Utc> = DateTime::UNIX_EPOCH;

/// The latest time the `timestamp` column holds: 2105-12-31T23:59:59.999Z.
pub fn latest() -> DateTime<Utc> {
    DateTime::from_timestamp(4_291_747_199, 999_999_999).expect("a valid constant")
}

/// An event's time as a decoder found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Time<'a> {
    /// Text to be read as RFC 3339.
    Text(Cow<'a, str>),
    /// A number since the epoch, as its text: seconds, milliseconds, microseconds or
    /// nanoseconds, told apart by size (see [`from_epoch`]).
    Epoch(Cow<'a, str>),
    /// Already a point in time (a protocol's nanoseconds since the epoch, say).
    At(DateTime<Utc>),
}

/// An event as a protocol decoded it, before any rule is applied: every field may be
/// missing, text is borrowed where the input allows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Draft<'a> {
    pub service: Option<Cow<'a, str>>,
    /// A level's name, any case.
    pub level: Option<Cow<'a, str>>,
    pub message: Option<Cow<'a, str>>,
    /// Missing: the time it is accepted.
    pub timestamp: Option<Time<'a>>,
    /// Missing (or blank): the request's trace id.
    pub trace_id: Option<Cow<'a, str>>,
    pub metadata: Metadata<'a>,
}

/// What stands in for the fields a draft leaves out.
#[derive(Debug, Clone, Copy)]
pub struct Defaults<'a> {
    /// The tenant the request acts for.
    pub tenant: &'a str,
    /// The trace id of the request that carried the event.
    pub trace_id: &'a str,
    /// When the event was accepted.
    pub now: DateTime<Utc>,
    /// The tenant's own retention (`retention_days` in the keys file), which replaces
    /// `RETENTION_DAYS` in the window its events' times must fall in.
    pub retention_days: Option<u32>,
}

/// A field of the event, as a rule names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    Service,
    Level,
    Message,
    Timestamp,
    TraceId,
    /// The metadata as a whole.
    Metadata,
    /// One metadata key (the key itself).
    MetadataKey(String),
    /// The value of a metadata key.
    MetadataValue(String),
}

/// What a length limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Characters,
    Bytes,
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unit::Characters => "characters",
            Unit::Bytes => "bytes",
        })
    }
}

/// The rule an event broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    Missing(Field),
    Blank(Field),
    TooLong {
        field: Field,
        limit: usize,
        unit: Unit,
    },
    /// Names (service, trace id, metadata keys) are filtered on and shown on terminals.
    ControlCharacters(Field),
    UnknownLevel(String),
    /// Time text that is not RFC 3339.
    UnreadableTime(String),
    /// Outside what the table can hold; the time as given.
    TimeOutOfRange(String),
    /// Older than the retention window: the time as given, and the earliest accepted.
    TooOld {
        got: String,
        earliest: DateTime<Utc>,
        retention_days: u32,
        /// Whether the window is the tenant's own (`retention_days` in the keys file)
        /// rather than `RETENTION_DAYS`.
        tenants_own: bool,
    },
    /// Further ahead of the server's clock than allowed: the time as given, and the latest
    /// accepted.
    TooNew {
        got: String,
        latest: DateTime<Utc>,
        max_future_skew: TimeDelta,
    },
    TooManyMetadataKeys {
        count: usize,
        limit: usize,
    },
    EmptyMetadataKey,
}

/// How a protocol names the event's fields in its answers (`body` for the message in
/// OTLP, say); the sentences around the names are the same everywhere.
pub trait Wording {
    fn name(&self, field: &Field) -> String;
}

/// The event's own field names, as `/ingest` takes them.
#[derive(Debug, Clone, Copy, Default)]
pub struct EventWording;

impl Wording for EventWording {
    fn name(&self, field: &Field) -> String {
        match field {
            Field::Service => "service".to_owned(),
            Field::Level => "level".to_owned(),
            Field::Message => "message".to_owned(),
            Field::Timestamp => "timestamp".to_owned(),
            Field::TraceId => "trace_id".to_owned(),
            Field::Metadata => "metadata".to_owned(),
            Field::MetadataKey(key) => format!("metadata key {}", quoted_key(key)),
            Field::MetadataValue(key) => format!("metadata.{key}"),
        }
    }
}

/// A key as an answer quotes it: escaped, and cut to its first 32 characters when longer.
pub fn quoted_key(key: &str) -> String {
    const SHOWN: usize = 32;
    match key.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{:?}...", &key[..cut]),
        None => format!("{key:?}"),
    }
}

impl Violation {
    /// The violation as a sentence, with fields named by `wording`.
    pub fn describe(&self, wording: &impl Wording) -> String {
        let name = |field: &Field| wording.name(field);
        match self {
            Violation::Missing(field) => format!("{} is required", name(field)),
            Violation::Blank(field) => format!("{} must not be blank", name(field)),
            Violation::TooLong { field, limit, unit } => {
                format!("{} is longer than {limit} {unit}", name(field))
            }
            Violation::ControlCharacters(field) => {
                format!("{} must not contain control characters", name(field))
            }
            Violation::UnknownLevel(raw) => {
                format!("{} {}", name(&Field::Level), UnknownLevel(raw.clone()))
            }
            Violation::UnreadableTime(raw) => format!(
                "{} must be an RFC 3339 time such as 2026-05-05T10:00:00Z, got {raw:?}",
                name(&Field::Timestamp)
            ),
            Violation::TimeOutOfRange(got) => format!(
                "{} must be between 1970-01-01T00:00:00Z and 2105-12-31T23:59:59Z, got {got:?}",
                name(&Field::Timestamp)
            ),
            Violation::TooOld {
                got,
                earliest,
                retention_days,
                tenants_own,
            } => format!(
                "{} must be within the retention window of {retention_days} days ({}): \
                 not before {}, got {got:?}",
                name(&Field::Timestamp),
                if *tenants_own {
                    "the tenant's retention_days"
                } else {
                    "RETENTION_DAYS"
                },
                millis(*earliest)
            ),
            Violation::TooNew {
                got,
                latest,
                max_future_skew,
            } => format!(
                "{} must not be more than {} ahead of the server's clock (MAX_FUTURE_SKEW): \
                 not after {}, got {got:?}",
                name(&Field::Timestamp),
                span(*max_future_skew),
                millis(*latest)
            ),
            Violation::TooManyMetadataKeys { count, limit } => format!(
                "{} must not have more than {limit} keys, got {count}",
                name(&Field::Metadata)
            ),
            Violation::EmptyMetadataKey => {
                format!("{} must not have an empty key", name(&Field::Metadata))
            }
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe(&EventWording))
    }
}

impl std::error::Error for Violation {}

fn required<'a>(field: Field, value: Option<Cow<'a, str>>) -> Result<Cow<'a, str>, Violation> {
    let value = value.ok_or_else(|| Violation::Missing(field.clone()))?;
    if value.trim().is_empty() {
        return Err(Violation::Blank(field));
    }
    Ok(value)
}

/// `text` without leading and trailing whitespace, still borrowed if it was.
fn trimmed(text: Cow<'_, str>) -> Cow<'_, str> {
    match text {
        Cow::Borrowed(text) => Cow::Borrowed(text.trim()),
        Cow::Owned(text) if text.trim().len() == text.len() => Cow::Owned(text),
        Cow::Owned(text) => Cow::Owned(text.trim().to_owned()),
    }
}

/// A name: at most `limit` characters, none of them a control character (NUL, newline,
/// escape sequences, C1). Free text (message, metadata values) keeps control characters.
fn check_name(field: Field, value: &str, limit: usize) -> Result<(), Violation> {
    // Counting characters is only needed when the bytes could exceed the limit.
    if value.len() > limit && value.chars().count() > limit {
        return Err(Violation::TooLong {
            field,
            limit,
            unit: Unit::Characters,
        });
    }
    if value.chars().any(char::is_control) {
        return Err(Violation::ControlCharacters(field));
    }
    Ok(())
}

fn check_bytes(field: Field, value: &str, limit: usize) -> Result<(), Violation> {
    if value.len() > limit {
        return Err(Violation::TooLong {
            field,
            limit,
            unit: Unit::Bytes,
        });
    }
    Ok(())
}

fn check_metadata(metadata: &Metadata<'_>, limits: &Limits) -> Result<(), Violation> {
    if metadata.len() > limits.metadata_keys {
        return Err(Violation::TooManyMetadataKeys {
            count: metadata.len(),
            limit: limits.metadata_keys,
        });
    }
    for (key, value) in metadata {
        if key.is_empty() {
            return Err(Violation::EmptyMetadataKey);
        }
        check_name(
            Field::MetadataKey(key.to_string()),
            key,
            limits.metadata_key_chars,
        )?;
        check_bytes(
            Field::MetadataValue(key.to_string()),
            value,
            limits.metadata_value_bytes,
        )?;
    }
    Ok(())
}

/// A time as answers show it: UTC, to the second, or the millisecond when it has one.
fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// A number since the epoch, in the unit its size gives, as VictoriaLogs reads them: below
/// 1e11 seconds (up to the year 5138), below 1e14 milliseconds, below 1e17 microseconds,
/// else nanoseconds. Fractions are kept (to the nanosecond a double holds); `None` for a
/// negative number, or text that is not a number.
pub fn from_epoch(raw: &str) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    // Decimal text is read exactly (a double would round nanoseconds since 1970 by
    // hundreds); anything else (an exponent) through a double.
    let (whole, fraction) = raw.split_once('.').unwrap_or((raw, ""));
    if let (Ok(whole), true) = (
        whole.parse::<u64>(),
        fraction.bytes().all(|byte| byte.is_ascii_digit()),
    ) {
        let unit: u128 = match whole {
            n if n < 100_000_000_000 => 1_000_000_000,
            n if n < 100_000_000_000_000 => 1_000_000,
            n if n < 100_000_000_000_000_000 => 1_000,
            _ => 1,
        };
        // The fraction's first nine digits are more than any unit needs.
        let digits = &fraction[..fraction.len().min(9)];
        let scale = 10u128.pow(digits.len() as u32);
        let part = digits.parse::<u128>().unwrap_or(0) * unit / scale;
        let nanos = u128::from(whole) * unit + part;
        return i64::try_from(nanos)
            .ok()
            .map(DateTime::from_timestamp_nanos);
    }
    let number: f64 = raw
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite() && *n >= 0.0)?;
    let nanos_per_unit = match number {
        n if n < 1e11 => 1e9,
        n if n < 1e14 => 1e6,
        n if n < 1e17 => 1e3,
        _ => 1.0,
    };
    // To the microsecond, what a double keeps of a time since 1970.
    let micros = (number * nanos_per_unit / 1e3).round();
    (micros < i64::MAX as f64)
        .then(|| DateTime::from_timestamp_micros(micros as i64))
        .flatten()
}

/// A limit as answers show it: UTC, to the millisecond.
fn millis(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A span in its largest whole unit: `10m`, `2h`, `90s`, `1d`.
fn span(span: TimeDelta) -> String {
    let seconds = span.num_seconds();
    [(86_400, "d"), (3_600, "h"), (60, "m")]
        .into_iter()
        .find(|(unit, _)| seconds != 0 && seconds % unit == 0)
        .map_or_else(
            || format!("{seconds}s"),
            |(unit, name)| format!("{}{name}", seconds / unit),
        )
}

fn timestamp(
    time: Time<'_>,
    limits: &Limits,
    defaults: &Defaults<'_>,
) -> Result<DateTime<Utc>, Violation> {
    let window = TimeWindow {
        retention_days: defaults
            .retention_days
            .unwrap_or(limits.window.retention_days),
        ..limits.window
    };
    let now = defaults.now;
    let (time, given) = match time {
        Time::Text(raw) => {
            let time = DateTime::parse_from_rfc3339(raw.trim())
                .map_err(|_| Violation::UnreadableTime(raw.to_string()))?
                .with_timezone(&Utc);
            (time, raw)
        }
        Time::Epoch(raw) => {
            let time =
                from_epoch(&raw).ok_or_else(|| Violation::TimeOutOfRange(raw.to_string()))?;
            (time, raw)
        }
        Time::At(time) => (time, Cow::Owned(rfc3339(time))),
    };
    if time < EARLIEST || time > latest() {
        return Err(Violation::TimeOutOfRange(given.into_owned()));
    }
    let earliest = window.earliest(now);
    if time < earliest {
        return Err(Violation::TooOld {
            got: given.into_owned(),
            earliest,
            retention_days: window.retention_days,
            tenants_own: defaults.retention_days.is_some(),
        });
    }
    let latest = window.latest(now);
    if time > latest {
        return Err(Violation::TooNew {
            got: given.into_owned(),
            latest,
            max_future_skew: window.max_future_skew,
        });
    }
    Ok(truncate_to_millis(time))
}

/// The time as the table keeps it: to the millisecond. A leap second (`23:59:60`) has no
/// place in the column: it becomes the last millisecond before it, so the queued event and
/// the stored row agree.
fn truncate_to_millis(time: DateTime<Utc>) -> DateTime<Utc> {
    let time = if time.nanosecond() >= 1_000_000_000 {
        time.with_nanosecond(999_999_999).unwrap_or(time)
    } else {
        time
    };
    time.duration_trunc(TimeDelta::milliseconds(1))
        .unwrap_or(time)
}

impl<'a> Draft<'a> {
    /// The event, with a new id and `defaults` for what is missing, or the first rule it
    /// breaks (fields in the order service, level, message, timestamp, trace id, metadata).
    pub fn check(self, defaults: Defaults<'a>, limits: &Limits) -> Result<Event<'a>, Violation> {
        let service = trimmed(required(Field::Service, self.service)?);
        check_name(Field::Service, &service, limits.service_chars)?;
        let level = required(Field::Level, self.level)?
            .trim()
            .parse::<Level>()
            .map_err(|UnknownLevel(raw)| Violation::UnknownLevel(raw))?;
        let message = required(Field::Message, self.message)?;
        check_bytes(Field::Message, &message, limits.message_bytes)?;
        let timestamp = match self.timestamp {
            None => truncate_to_millis(defaults.now),
            Some(time) => timestamp(time, limits, &defaults)?,
        };
        let trace_id = match self.trace_id.map(trimmed) {
            Some(id) if !id.is_empty() => id,
            _ => Cow::Borrowed(defaults.trace_id),
        };
        check_name(Field::TraceId, &trace_id, limits.trace_id_chars)?;
        check_metadata(&self.metadata, limits)?;
        Ok(Event {
            id: Uuid::now_v7(),
            tenant: Cow::Borrowed(defaults.tenant),
            timestamp,
            service,
            level,
            message,
            trace_id,
            metadata: self.metadata,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testing::{TRACE_ID as TRACE, any_time as limits};

    fn defaults() -> Defaults<'static> {
        crate::testing::defaults("2026-05-05T12:00:00.123456Z")
    }

    fn draft() -> Draft<'static> {
        Draft {
            service: Some("auth".into()),
            level: Some("info".into()),
            message: Some("m".into()),
            ..Draft::default()
        }
    }

    fn check(draft: Draft<'static>) -> Result<Event<'static>, Violation> {
        draft.check(defaults(), &limits())
    }

    fn refused(draft: Draft<'static>) -> String {
        check(draft).unwrap_err().to_string()
    }

    #[test]
    fn defaults_fill_the_time_and_trace_id_and_names_are_trimmed() {
        let event = check(Draft {
            service: Some(" auth ".into()),
            trace_id: Some("  ".into()),
            ..draft()
        })
        .unwrap();
        assert_eq!(event.service, "auth");
        assert_eq!(event.level, Level::Info);
        assert_eq!(event.trace_id, TRACE);
        assert_eq!(
            event.timestamp.to_rfc3339(),
            "2026-05-05T12:00:00.123+00:00"
        );
        assert!(matches!(event.service, Cow::Borrowed("auth")));
    }

    #[test]
    fn each_field_has_its_rule() {
        let limits = Limits::default();
        let cases = [
            (
                Draft {
                    service: None,
                    ..draft()
                },
                "service is required",
            ),
            (
                Draft {
                    service: Some(" ".into()),
                    ..draft()
                },
                "service must not be blank",
            ),
            (
                Draft {
                    service: Some("a\u{85}b".into()),
                    ..draft()
                },
                "service must not contain control characters",
            ),
            (
                Draft {
                    service: Some("s".repeat(257).into()),
                    ..draft()
                },
                "service is longer than 256 characters",
            ),
            (
                Draft {
                    level: Some("LOUD".into()),
                    ..draft()
                },
                "level must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL (any case), got \"LOUD\"",
            ),
            (
                Draft {
                    message: Some("".into()),
                    ..draft()
                },
                "message must not be blank",
            ),
            (
                Draft {
                    message: Some("x".repeat(limits.message_bytes + 1).into()),
                    ..draft()
                },
                "message is longer than 262144 bytes",
            ),
            (
                Draft {
                    timestamp: Some(Time::Text("yesterday".into())),
                    ..draft()
                },
                "timestamp must be an RFC 3339 time such as 2026-05-05T10:00:00Z, got \"yesterday\"",
            ),
            (
                Draft {
                    timestamp: Some(Time::Text("1969-12-31T23:59:59Z".into())),
                    ..draft()
                },
                "timestamp must be between 1970-01-01T00:00:00Z and 2105-12-31T23:59:59Z, got \"1969-12-31T23:59:59Z\"",
            ),
            (
                Draft {
                    trace_id: Some("x\ty".into()),
                    ..draft()
                },
                "trace_id must not contain control characters",
            ),
            (
                Draft {
                    metadata: Metadata::from([("".into(), "v".into())]),
                    ..draft()
                },
                "metadata must not have an empty key",
            ),
            (
                Draft {
                    metadata: Metadata::from([("a\nb".into(), "v".into())]),
                    ..draft()
                },
                r#"metadata key "a\nb" must not contain control characters"#,
            ),
            (
                Draft {
                    metadata: Metadata::from([("k".repeat(257).into(), "v".into())]),
                    ..draft()
                },
                r#"metadata key "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"... is longer than 256 characters"#,
            ),
            (
                Draft {
                    metadata: Metadata::from([("big".into(), "v".repeat(16 * 1024 + 1).into())]),
                    ..draft()
                },
                "metadata.big is longer than 16384 bytes",
            ),
            (
                Draft {
                    metadata: (0..=128)
                        .map(|i| (format!("k{i}").into(), "v".into()))
                        .collect(),
                    ..draft()
                },
                "metadata must not have more than 128 keys, got 129",
            ),
        ];
        for (draft, expected) in cases {
            assert_eq!(refused(draft), expected);
        }
    }

    #[test]
    fn the_time_is_kept_to_the_millisecond_a_leap_second_just_before_it() {
        let at = |raw: &'static str| {
            check(Draft {
                timestamp: Some(Time::Text(raw.into())),
                ..draft()
            })
            .unwrap()
            .timestamp
            .to_rfc3339()
        };
        assert_eq!(
            at("2026-05-05T12:00:00.5+02:00"),
            "2026-05-05T10:00:00.500+00:00"
        );
        assert_eq!(
            at("2016-12-31T23:59:60.5Z"),
            "2016-12-31T23:59:59.999+00:00"
        );
        assert_eq!(
            at("2105-12-31T23:59:59.9999Z"),
            "2105-12-31T23:59:59.999+00:00"
        );
        let after = latest() + TimeDelta::nanoseconds(1);
        assert_eq!(
            refused(Draft {
                timestamp: Some(Time::At(after)),
                ..draft()
            }),
            "timestamp must be between 1970-01-01T00:00:00Z and 2105-12-31T23:59:59Z, got \"2106-01-01T00:00:00Z\""
        );
    }

    #[test]
    fn the_time_must_be_inside_the_retention_window_and_not_too_far_ahead() {
        let window = Limits::default();
        let at = |raw: &'static str| {
            Draft {
                timestamp: Some(Time::Text(raw.into())),
                ..draft()
            }
            .check(defaults(), &window)
        };
        // Now is 2026-05-05T12:00:00.123456Z: 30 days back, 10 minutes ahead.
        assert!(at("2026-04-05T12:00:00.124Z").is_ok());
        assert!(at("2026-05-05T12:10:00.123Z").is_ok());
        assert_eq!(
            at("2026-04-05T12:00:00.123Z").unwrap_err().to_string(),
            "timestamp must be within the retention window of 30 days (RETENTION_DAYS): \
             not before 2026-04-05T12:00:00.123Z, got \"2026-04-05T12:00:00.123Z\""
        );
        assert_eq!(
            at("2026-05-05T14:10:01+02:00").unwrap_err().to_string(),
            "timestamp must not be more than 10m ahead of the server's clock (MAX_FUTURE_SKEW): \
             not after 2026-05-05T12:10:00.123Z, got \"2026-05-05T14:10:01+02:00\""
        );
        assert!(matches!(
            at("2099-01-01T00:00:00Z"),
            Err(Violation::TooNew { .. })
        ));
        // The time the event is accepted is inside any window.
        assert!(draft().check(defaults(), &window).is_ok());

        // A tenant's own retention replaces RETENTION_DAYS.
        let for_tenant = Defaults {
            retention_days: Some(7),
            ..defaults()
        };
        let eight_days_old = Draft {
            timestamp: Some(Time::Text("2026-04-27T12:00:00Z".into())),
            ..draft()
        };
        assert_eq!(
            eight_days_old
                .check(for_tenant, &window)
                .unwrap_err()
                .to_string(),
            "timestamp must be within the retention window of 7 days (the tenant's \
             retention_days): not before 2026-04-28T12:00:00.123Z, got \"2026-04-27T12:00:00Z\""
        );
    }

    #[test]
    fn epoch_numbers_are_read_in_the_unit_their_size_gives() {
        let cases = [
            ("1777975200", "2026-05-05T10:00:00+00:00"),
            ("1777975200.25", "2026-05-05T10:00:00.250+00:00"),
            ("1777975200250", "2026-05-05T10:00:00.250+00:00"),
            ("1777975200250000", "2026-05-05T10:00:00.250+00:00"),
            ("1777975200250000000", "2026-05-05T10:00:00.250+00:00"),
            ("0", "1970-01-01T00:00:00+00:00"),
            ("1.777975200250e9", "2026-05-05T10:00:00.250+00:00"),
        ];
        for (raw, expected) in cases {
            let time = from_epoch(raw).unwrap();
            assert_eq!(truncate_to_millis(time).to_rfc3339(), expected, "{raw}");
        }
        assert_eq!(from_epoch("-1"), None);
        assert_eq!(from_epoch("soon"), None);
        assert_eq!(from_epoch("1e400"), None);
        assert_eq!(
            refused(Draft {
                timestamp: Some(Time::Epoch("-5".into())),
                ..draft()
            }),
            "timestamp must be between 1970-01-01T00:00:00Z and 2105-12-31T23:59:59Z, got \"-5\""
        );
    }

    #[test]
    fn spans_are_shown_in_their_largest_whole_unit() {
        let cases = [
            (600, "10m"),
            (7200, "2h"),
            (90, "90s"),
            (86_400 * 2, "2d"),
            (0, "0s"),
        ];
        for (seconds, shown) in cases {
            assert_eq!(span(TimeDelta::seconds(seconds)), shown);
        }
    }

    #[test]
    fn a_protocol_names_the_fields_its_way() {
        struct Otlp;
        impl Wording for Otlp {
            fn name(&self, field: &Field) -> String {
                match field {
                    Field::Message => "body".to_owned(),
                    other => EventWording.name(other),
                }
            }
        }
        let violation = check(Draft {
            message: None,
            ..draft()
        })
        .unwrap_err();
        assert_eq!(violation.describe(&Otlp), "body is required");
        assert_eq!(violation.to_string(), "message is required");
    }

    #[test]
    fn long_keys_are_quoted_by_their_start() {
        assert_eq!(quoted_key("a\"b"), r#""a\"b""#);
        assert_eq!(
            quoted_key(&"é".repeat(40)),
            format!("{:?}...", "é".repeat(32))
        );
    }
}
