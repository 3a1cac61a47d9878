//! The log event and its JSON wire format in the Redis list.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, de};
use std::{borrow::Cow, collections::BTreeMap, fmt, str::FromStr};
use uuid::Uuid;

/// Severity, stored upper-case. TRACE and FATAL extend the seed's four so that
/// OpenTelemetry severities map onto it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

impl Level {
    pub const ALL: [Level; 6] = [
        Level::Trace,
        Level::Debug,
        Level::Info,
        Level::Warn,
        Level::Error,
        Level::Fatal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
            Level::Fatal => "FATAL",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error names the accepted values, so it can be shown to a client as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL (any case), got {0:?}")]
pub struct UnknownLevel(pub String);

impl FromStr for Level {
    type Err = UnknownLevel;

    /// Case-insensitive.
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Level::ALL
            .into_iter()
            .find(|level| level.as_str().eq_ignore_ascii_case(raw))
            .ok_or_else(|| UnknownLevel(raw.to_owned()))
    }
}

/// One accepted log event, as queued and as stored. Its text is borrowed from whatever it
/// was read from (a request body, a queue entry) where that text needs no unescaping, so the
/// hot paths copy nothing; [`LogEvent`] is the same event owning its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event<'a> {
    /// Assigned at ingestion; identifies the event through retries and re-deliveries.
    pub id: Uuid,
    /// UTC, millisecond precision.
    #[serde(with = "rfc3339_millis")]
    pub timestamp: DateTime<Utc>,
    #[serde(borrow)]
    pub service: Cow<'a, str>,
    pub level: Level,
    #[serde(borrow)]
    pub message: Cow<'a, str>,
    #[serde(borrow)]
    pub trace_id: Cow<'a, str>,
    #[serde(default, borrow, deserialize_with = "deserialize_metadata")]
    pub metadata: Metadata<'a>,
}

/// An event that owns its text: what is built by hand, read back from ClickHouse, or kept.
pub type LogEvent = Event<'static>;

/// Metadata keys and their values, in key order.
pub type Metadata<'a> = BTreeMap<Cow<'a, str>, Cow<'a, str>>;

/// A JSON string, borrowed from the input when it has no escapes, copied otherwise. (Serde
/// copies a `Cow<str>` unless it is a field of its own marked `borrow`.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text<'a>(pub Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> de::Visitor<'de> for Visitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(text)))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(text.to_owned())))
            }
            fn visit_string<E: de::Error>(self, text: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(text)))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

fn deserialize_metadata<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Metadata<'de>, D::Error> {
    struct Visitor;
    impl<'de> de::Visitor<'de> for Visitor {
        type Value = Metadata<'de>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object of strings")
        }
        fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Metadata<'de>, A::Error> {
            let mut metadata = Metadata::new();
            while let Some((Text(key), Text(value))) = map.next_entry()? {
                metadata.insert(key, value);
            }
            Ok(metadata)
        }
    }
    deserializer.deserialize_map(Visitor)
}

/// A queue entry that is not a valid event.
#[derive(Debug, thiserror::Error)]
#[error("not a valid queued event: {0}")]
pub struct WireError(#[from] serde_json::Error);

/// Most events one queue entry carries; a larger request is split over several entries, so
/// a worker's batch can be made close to its size out of whole entries.
pub const ENTRY_MAX_EVENTS: usize = 1000;

impl<'a> Event<'a> {
    /// The event's JSON: one line of a queue entry.
    pub fn to_wire(&self) -> String {
        serde_json::to_string(self).expect("an Event always serializes")
    }

    /// The event of one line of a queue entry, borrowing its text from the line.
    pub fn from_wire(line: &'a [u8]) -> Result<Self, WireError> {
        Ok(serde_json::from_slice(line)?)
    }

    /// The same event, owning its text.
    pub fn into_owned(self) -> LogEvent {
        let owned = |text: Cow<'a, str>| Cow::Owned(text.into_owned());
        Event {
            id: self.id,
            timestamp: self.timestamp,
            service: owned(self.service),
            level: self.level,
            message: owned(self.message),
            trace_id: owned(self.trace_id),
            metadata: self
                .metadata
                .into_iter()
                .map(|(key, value)| (owned(key), owned(value)))
                .collect(),
        }
    }
}

/// A queue entry: the events' JSON, one per line (`\n` between them, none after; JSON
/// escapes any newline inside a string). A request's events travel as one entry, so Redis
/// handles one value per request rather than one per event; an entry of one event is just
/// that event's JSON.
pub fn encode_entry(events: &[Event<'_>]) -> Vec<u8> {
    let mut entry = Vec::with_capacity(events.len() * 320);
    for (index, event) in events.iter().enumerate() {
        if index > 0 {
            entry.push(b'\n');
        }
        serde_json::to_writer(&mut entry, event).expect("an Event always serializes");
    }
    entry
}

/// The events' lines of a queue entry, in order (blank lines skipped).
pub fn entry_lines(entry: &[u8]) -> impl Iterator<Item = &[u8]> {
    entry
        .split(|byte| *byte == b'\n')
        .filter(|line| !line.trim_ascii().is_empty())
}

mod rfc3339_millis {
    use super::*;
    use serde::Serializer;

    pub fn serialize<S: Serializer>(time: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&time.to_rfc3339_opts(SecondsFormat::Millis, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let Text(raw) = Text::deserialize(d)?;
        DateTime::parse_from_rfc3339(&raw)
            .map(|time| time.with_timezone(&Utc))
            .map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> LogEvent {
        LogEvent {
            id: Uuid::now_v7(),
            timestamp: "2026-05-05T10:00:00.123Z".parse().unwrap(),
            service: "auth-service".into(),
            level: Level::Error,
            message: "DB connection failed".into(),
            trace_id: "0123456789abcdef0123456789abcdef".into(),
            metadata: BTreeMap::from([("user_id".into(), "42".into())]),
        }
    }

    #[test]
    fn wire_format_round_trips() {
        let event = sample();
        let wire = event.to_wire();
        assert!(
            wire.contains(r#""timestamp":"2026-05-05T10:00:00.123Z""#),
            "{wire}"
        );
        assert!(wire.contains(r#""level":"ERROR""#), "{wire}");
        assert_eq!(Event::from_wire(wire.as_bytes()).unwrap(), event);
    }

    #[test]
    fn an_entry_holds_its_events_one_per_line_in_order() {
        let events = [sample(), sample(), sample()];
        let entry = encode_entry(&events);
        assert_eq!(entry.iter().filter(|byte| **byte == b'\n').count(), 2);
        let decoded: Vec<Event> = entry_lines(&entry)
            .map(|line| Event::from_wire(line).unwrap())
            .collect();
        assert_eq!(decoded, events);
        // One event's entry is that event's JSON, the format entries always had.
        assert_eq!(encode_entry(&events[..1]), events[0].to_wire().as_bytes());
    }

    #[test]
    fn a_newline_inside_a_field_stays_inside_its_line() {
        let mut event = sample();
        event.message = "two\nlines".into();
        let entry = encode_entry(&[event.clone(), sample()]);
        let lines: Vec<&[u8]> = entry_lines(&entry).collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(Event::from_wire(lines[0]).unwrap(), event);
    }

    #[test]
    fn garbage_is_a_wire_error() {
        let err = Event::from_wire(b"{not json").unwrap_err();
        assert!(
            err.to_string().starts_with("not a valid queued event: "),
            "{err}"
        );
        assert!(Event::from_wire(br#"{"id":"x"}"#).is_err());
    }

    #[test]
    fn levels_parse_in_any_case() {
        assert_eq!("warn".parse::<Level>().unwrap(), Level::Warn);
        assert_eq!("Fatal".parse::<Level>().unwrap(), Level::Fatal);
        assert_eq!(
            "LOUD".parse::<Level>().unwrap_err().to_string(),
            "must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL (any case), got \"LOUD\""
        );
    }
}
