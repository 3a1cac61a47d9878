//! A `/ingest` body to a [`Draft`]: the JSON decoding and its error messages. The rules are
//! the event crate's ([`Draft::check`]). The event borrows its text from the body wherever
//! the JSON has no escapes, so accepting it copies nothing until its queue entry is written.

use crate::rejection::Refusal;
use serde::{
    Deserialize, Deserializer,
    de::{self, MapAccess, Unexpected},
};
use serde_json::value::RawValue;
use std::{borrow::Cow, fmt};
use traceflow_event::{Defaults, Draft, Event, Limits, Metadata, Text, Time};

/// What a client sends. Every field is optional here so that a missing one gets a message
/// of ours ("service is required") rather than serde's.
#[derive(Default, utoipa::ToSchema)]
#[schema(as = Event, example = json!({"service": "auth-service", "level": "ERROR", "message": "DB connection failed", "metadata": {"user_id": "42"}}))]
pub(crate) struct IncomingEvent<'a> {
    /// Required, not blank, at most 256 characters.
    #[schema(required = true, value_type = String)]
    service: Option<Cow<'a, str>>,
    /// Required: TRACE, DEBUG, INFO, WARN, ERROR or FATAL, any case.
    #[schema(required = true, value_type = String)]
    level: Option<Cow<'a, str>>,
    /// Required, not blank, at most 256 KiB.
    #[schema(required = true, value_type = String)]
    message: Option<Cow<'a, str>>,
    /// RFC 3339, or a number since the epoch (seconds, milliseconds, microseconds or
    /// nanoseconds, told apart by size); missing means the server's time.
    #[schema(value_type = Option<String>, format = DateTime)]
    timestamp: Option<Time<'a>>,
    /// Missing means the request's trace id.
    #[schema(value_type = Option<String>)]
    trace_id: Option<Cow<'a, str>>,
    /// At most 128 keys; values are strings, numbers or booleans, kept as their text.
    #[schema(value_type = Option<std::collections::HashMap<String, String>>)]
    metadata: Option<Metadata<'a>>,
}

const FIELDS: &[&str] = &[
    "service",
    "level",
    "message",
    "timestamp",
    "trace_id",
    "metadata",
];

/// A field name, as its index in [`FIELDS`]. An unknown name fails as the key is read, so
/// the error's path names it.
struct Field(usize);

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<Field, E> {
                FIELDS
                    .iter()
                    .position(|field| *field == name)
                    .map(Field)
                    .ok_or_else(|| E::unknown_field(name, FIELDS))
            }
        }
        deserializer.deserialize_identifier(Visitor)
    }
}

/// Written out rather than derived: a derived struct would also accept an array (`["a",
/// "INFO", "m"]`) as an event, and an event is an object. A field given twice or unknown is
/// refused; `null` counts as absent.
impl<'de> Deserialize<'de> for IncomingEvent<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> de::Visitor<'de> for Visitor {
            type Value = IncomingEvent<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an event object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut event = IncomingEvent::default();
                let mut seen = [false; FIELDS.len()];
                while let Some(Field(index)) = map.next_key()? {
                    if std::mem::replace(&mut seen[index], true) {
                        return Err(de::Error::custom(format_args!(
                            "{} is given more than once",
                            FIELDS[index]
                        )));
                    }
                    let text = |value: Option<Text<'de>>| value.map(|Text(text)| text);
                    match index {
                        0 => event.service = text(map.next_value()?),
                        1 => event.level = text(map.next_value()?),
                        2 => event.message = text(map.next_value()?),
                        3 => {
                            event.timestamp = map
                                .next_value::<Option<TimeValue>>()?
                                .map(|TimeValue(time)| time)
                        }
                        4 => event.trace_id = text(map.next_value()?),
                        _ => {
                            event.metadata =
                                map.next_value::<Option<IncomingMetadata>>()?.map(|m| m.0)
                        }
                    }
                }
                Ok(event)
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

/// The `metadata` object (and Loki's label and structured metadata objects). A key given
/// twice is refused rather than one value silently winning.
pub(crate) struct IncomingMetadata<'a>(pub(crate) Metadata<'a>);

impl<'de> Deserialize<'de> for IncomingMetadata<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> de::Visitor<'de> for Visitor {
            type Value = IncomingMetadata<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Metadata::new();
                while let Some(Text(key)) = map.next_key()? {
                    if entries.contains_key(&key) {
                        return Err(de::Error::custom(format_args!(
                            "key {key:?} is given more than once"
                        )));
                    }
                    let MetadataValue(value) = map.next_value()?;
                    entries.insert(key, value);
                }
                Ok(IncomingMetadata(entries))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

/// `timestamp`: RFC 3339 text, or a number since the epoch (seconds, milliseconds,
/// microseconds or nanoseconds, by its size), both borrowed from the body.
struct TimeValue<'a>(Time<'a>);

impl<'de> Deserialize<'de> for TimeValue<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = <&RawValue>::deserialize(deserializer)?;
        let text = raw.get();
        match text.as_bytes().first() {
            Some(b'"') => {
                let Text(time) = serde_json::from_str(text).map_err(de::Error::custom)?;
                Ok(TimeValue(Time::Text(time)))
            }
            Some(b'-' | b'0'..=b'9') => Ok(TimeValue(Time::Epoch(Cow::Borrowed(text)))),
            first => {
                let unexpected = match first {
                    Some(b'{') => Unexpected::Map,
                    Some(b'[') => Unexpected::Seq,
                    _ => Unexpected::Other("a boolean"),
                };
                Err(de::Error::invalid_type(
                    unexpected,
                    &"an RFC 3339 time or a number since the epoch",
                ))
            }
        }
    }
}

/// Metadata values are text; numbers and booleans are accepted and kept as their JSON text,
/// exactly as sent (`1.0` stays `1.0`, a 30-digit id keeps its digits).
struct MetadataValue<'a>(Cow<'a, str>);

const METADATA_VALUE: &str = "a string, number or boolean";

impl<'de> Deserialize<'de> for MetadataValue<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // The raw text, already checked to be well-formed JSON (nesting depth included),
        // borrowed from the body.
        let raw = <&RawValue>::deserialize(deserializer)?;
        let text = raw.get();
        let unexpected = match text.as_bytes().first() {
            // A string without escapes is its text between the quotes.
            Some(b'"') if !text.contains('\\') => {
                return Ok(MetadataValue(Cow::Borrowed(&text[1..text.len() - 1])));
            }
            Some(b'"') => {
                // Only a bad escape (a lone surrogate) can fail here. The position is the
                // caller's to add: this one would count from the value's start.
                return serde_json::from_str(text)
                    .map(|text: String| MetadataValue(Cow::Owned(text)))
                    .map_err(|err| {
                        let err = err.to_string();
                        let what = err.split(" at line ").next().unwrap_or_default();
                        de::Error::custom(format_args!("invalid string: {what}"))
                    });
            }
            Some(b'{') => Unexpected::Map,
            Some(b'[') => Unexpected::Seq,
            Some(b'n') => Unexpected::Other("null"),
            // A number or a boolean.
            _ => return Ok(MetadataValue(Cow::Borrowed(text))),
        };
        Err(de::Error::invalid_type(unexpected, &METADATA_VALUE))
    }
}

/// Parses one event and checks it; the error says what is wrong, naming the field.
pub(crate) fn parse_event<'a>(
    body: &'a [u8],
    defaults: Defaults<'a>,
    limits: &Limits,
) -> Result<Event<'a>, Refusal> {
    let malformed = |message: &str| Err(Refusal::malformed(message));
    match body.iter().find(|byte| !byte.is_ascii_whitespace()) {
        None => return malformed("malformed JSON: the body is empty"),
        Some(b'{') => {}
        Some(_) if serde_json::from_slice::<serde::de::IgnoredAny>(body).is_err() => {
            return malformed("malformed JSON: expected an object such as {\"service\": ...}");
        }
        Some(_) => return malformed("invalid event: the body must be a JSON object"),
    }
    let incoming: IncomingEvent<'a> = parse_incoming(body).map_err(Refusal::malformed)?;
    Ok(incoming.into_draft().check(defaults, limits)?)
}

/// `body` as events not yet validated: one object, or (`T` a `Vec`) an array of them.
pub(crate) fn parse_incoming<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, String> {
    // Tracking the path slows every parse down, so it is only done to explain a failure.
    deserialize_whole(body).map_err(|error| explain_parse_failure::<T>(body, &error))
}

/// `body` as one `T`, with nothing after it.
fn deserialize_whole<'de, T: Deserialize<'de>>(body: &'de [u8]) -> serde_json::Result<T> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = T::deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

/// Why `body`, which failed to parse as a `T` with `error`, is not one, naming the field at
/// fault.
fn explain_parse_failure<'a, T: Deserialize<'a>>(
    body: &'a [u8],
    error: &serde_json::Error,
) -> String {
    let deserializer = &mut serde_json::Deserializer::from_slice(body);
    let parsed: Result<T, String> =
        serde_path_to_error::deserialize(&mut *deserializer).map_err(|err| {
            let path = err.path().to_string();
            let inner = err.into_inner();
            match inner.classify() {
                // An error of the whole object (a field given twice) names the field itself.
                serde_json::error::Category::Data if path == "." => without_position(&inner),
                serde_json::error::Category::Data => {
                    format!("{path}: {}", without_position(&inner))
                }
                _ => format!("malformed JSON: {inner}"),
            }
        });
    // Anything after the object (a second event, garbage) would otherwise be dropped unseen.
    match parsed.and_then(|_| {
        deserializer
            .end()
            .map_err(|err| format!("malformed JSON: {err}"))
    }) {
        Err(message) => message,
        // Not expected: tracking the path does not change what parses.
        Ok(()) => format!("malformed JSON: {error}"),
    }
}

/// A data error's message without serde_json's "at line L column C": the path names where.
fn without_position(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    message
        .strip_suffix(&position)
        .map(str::to_owned)
        .unwrap_or(message)
}

impl<'a> IncomingEvent<'a> {
    /// The event as the rules see it.
    pub(crate) fn into_draft(self) -> Draft<'a> {
        Draft {
            service: self.service,
            level: self.level,
            message: self.message,
            timestamp: self.timestamp,
            trace_id: self.trace_id,
            metadata: self.metadata.unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use traceflow_event::Level;

    const TRACE: &str = "0123456789abcdef0123456789abcdef";

    fn parse(body: &str) -> Result<Event<'_>, String> {
        parse_refused(body).map_err(|refusal| refusal.message)
    }

    fn parse_refused(body: &str) -> Result<Event<'_>, Refusal> {
        let defaults = Defaults {
            tenant: traceflow_event::DEFAULT_TENANT,
            trace_id: TRACE,
            now: "2026-05-05T12:00:00.123456Z".parse().unwrap(),
            retention_days: None,
        };
        parse_event(body.as_bytes(), defaults, &Limits::default())
    }

    #[test]
    fn a_full_event_is_kept_as_sent() {
        let event = parse(
            r#"{"service":"auth-service","level":"error","message":"DB connection failed",
                "timestamp":"2026-05-05T12:00:00.5+02:00","trace_id":"abc",
                "metadata":{"user_id":"42","retries":3,"ok":false,"ratio":0.5}}"#,
        )
        .unwrap();
        assert_eq!(event.service, "auth-service");
        assert_eq!(event.level, Level::Error);
        assert_eq!(
            event.timestamp.to_rfc3339(),
            "2026-05-05T10:00:00.500+00:00"
        );
        assert_eq!(event.trace_id, "abc");
        assert_eq!(event.metadata["user_id"], "42");
        assert_eq!(event.metadata["retries"], "3");
        assert_eq!(event.metadata["ok"], "false");
        assert_eq!(event.metadata["ratio"], "0.5");
    }

    #[test]
    fn text_is_borrowed_from_the_body_unless_it_had_escapes() {
        let body = r#"{"service":" auth ","level":"INFO","message":"line\nbreak",
            "trace_id":"abc","metadata":{"plain":"v","escaped":"a\"b","n":7}}"#;
        let event = parse(body).unwrap();
        assert!(matches!(event.service, Cow::Borrowed("auth")));
        assert!(matches!(event.trace_id, Cow::Borrowed("abc")));
        assert!(matches!(&event.message, Cow::Owned(message) if message == "line\nbreak"));
        assert!(matches!(event.metadata["plain"], Cow::Borrowed("v")));
        assert!(matches!(event.metadata["n"], Cow::Borrowed("7")));
        assert!(matches!(&event.metadata["escaped"], Cow::Owned(value) if value == "a\"b"));
    }

    #[test]
    fn the_event_rules_apply_in_the_events_words() {
        let cases = [
            (r#"{"level":"INFO","message":"m"}"#, "service is required"),
            (
                r#"{"service":"a","level":"LOUD","message":"m"}"#,
                "level must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL (any case), got \"LOUD\"",
            ),
            (
                r#"{"service":"a","level":"INFO","message":"m","timestamp":"yesterday"}"#,
                "timestamp must be an RFC 3339 time such as 2026-05-05T10:00:00Z, got \"yesterday\"",
            ),
            (
                r#"{"service":"a","level":"INFO","message":"m","metadata":{"a\nb":"x"}}"#,
                r#"metadata key "a\nb" must not contain control characters"#,
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(parse(body).unwrap_err(), expected, "body: {body}");
        }
    }

    #[test]
    fn type_errors_name_the_path() {
        let err = parse(r#"{"service":5,"level":"INFO","message":"m"}"#).unwrap_err();
        assert!(
            err.starts_with("service: invalid type: integer `5`, expected a string"),
            "{err}"
        );
        let err = parse(r#"{"service":"a","level":"INFO","message":"m","metadata":{"k":{"x":1}}}"#)
            .unwrap_err();
        assert!(
            err.starts_with("metadata.k: invalid type: map, expected a string, number or boolean"),
            "{err}"
        );
        let err =
            parse(r#"{"service":"a","level":"INFO","message":"m","colour":"red"}"#).unwrap_err();
        assert!(
            err.starts_with("colour: unknown field `colour`")
                || err.contains("unknown field `colour`"),
            "{err}"
        );
    }

    #[test]
    fn escaped_control_characters_in_free_text_are_kept() {
        let event = parse(
            r#"{"service":"a","level":"INFO","message":"a\u0000b\u001b[31m",
                "metadata":{"k":"\u0000\r\n"}}"#,
        )
        .unwrap();
        assert_eq!(event.message, "a\0b\u{1b}[31m");
        assert_eq!(event.metadata["k"], "\0\r\n");
    }

    #[test]
    fn metadata_numbers_keep_their_exact_text() {
        let event = parse(
            r#"{"service":"a","level":"INFO","message":"m","metadata":
                {"big":123456789012345678901234567890,"f":1.0,"e":1e3,"z":-0,"huge":1e400,"t":true}}"#,
        )
        .unwrap();
        let text: Vec<(&str, &str)> = event
            .metadata
            .iter()
            .map(|(k, v)| (k.as_ref(), v.as_ref()))
            .collect();
        assert_eq!(
            text,
            [
                ("big", "123456789012345678901234567890"),
                ("e", "1e3"),
                ("f", "1.0"),
                ("huge", "1e400"),
                ("t", "true"),
                ("z", "-0"),
            ]
        );
    }

    #[test]
    fn duplicates_and_trailing_data_are_refused() {
        assert_eq!(
            parse(r#"{"service":"a","service":"b","level":"INFO","message":"m"}"#).unwrap_err(),
            "service is given more than once"
        );
        assert_eq!(
            parse(r#"{"service":"a","level":"INFO","message":"m","metadata":{"k":"1","k":"2"}}"#)
                .unwrap_err(),
            r#"metadata: key "k" is given more than once"#
        );
        assert_eq!(
            parse(r#"{"service":"a","level":"INFO","message":"m"} {"service":"b"}"#).unwrap_err(),
            "malformed JSON: trailing characters at line 1 column 46"
        );
        // Trailing whitespace (a file's last newline) is fine.
        assert!(parse("{\"service\":\"a\",\"level\":\"INFO\",\"message\":\"m\"}\r\n").is_ok());
    }

    #[test]
    fn deep_nesting_is_refused_without_recursion() {
        let deep = format!(
            r#"{{"service":"a","level":"INFO","message":"m","metadata":{{"k":{}{}}}}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert!(
            parse(&deep)
                .unwrap_err()
                .starts_with("metadata.k: invalid type: sequence"),
        );
        let lone_surrogate =
            parse(r#"{"service":"a","level":"INFO","message":"m","metadata":{"k":"\ud800"}}"#)
                .unwrap_err();
        assert!(
            lone_surrogate.starts_with("metadata.k: invalid string: "),
            "{lone_surrogate}"
        );
    }

    #[test]
    fn malformed_json_says_so() {
        assert!(
            parse(r#"{"service":"a""#)
                .unwrap_err()
                .starts_with("malformed JSON: ")
        );
        assert!(parse("").unwrap_err().starts_with("malformed JSON: "));
        assert_eq!(
            parse("  ").unwrap_err(),
            "malformed JSON: the body is empty"
        );
        assert_eq!(
            parse("[1]").unwrap_err(),
            "invalid event: the body must be a JSON object"
        );
        assert_eq!(
            parse("\"x\"").unwrap_err(),
            "invalid event: the body must be a JSON object"
        );
        assert!(parse("nope").unwrap_err().starts_with("malformed JSON: "));
    }
}
