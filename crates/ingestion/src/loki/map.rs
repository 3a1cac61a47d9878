//! Loki entries to events, entry by entry: each becomes a [`Draft`] checked by the event
//! crate's rules; one that breaks a rule is refused on its own, the rest are kept.
//!
//! - `metadata`: the stream's labels, then the entry's structured metadata (which wins on a
//!   name they share), then the request's `X-Scope-OrgID` under that name, then, when the
//!   line is a JSON object and `LOKI_PARSE_JSON_LINES` is on, the line's fields: nested
//!   objects flattened with dots, strings as they are, any other value as its JSON text; a
//!   field whose name is already taken is stored as `<name>_extracted`, as LogQL's `json`
//!   parser names it.
//! - `service`: the first non-blank of `service_name`, `service`, `app`, `job` in the
//!   metadata, else `unknown_service` (Loki's own name for a stream without one).
//! - `level`: the first of `level`, `detected_level`, `severity` in the metadata whose value
//!   names a level (see [`level_named`]), else INFO.
//! - `message`: the line; for a parsed line, its `message` or else its `msg` field when that
//!   is a non-blank string (which then is not repeated in the metadata).
//! - `timestamp`: the entry's; an entry without one (protobuf only) gets the server's time.
//! - `trace_id`: the metadata's `trace_id` (structured metadata, as Loki's OTLP endpoint
//!   and Alloy store it, a label, or a field of the line), else the request's trace id.

use super::{
    decode::{Entry, Stream},
    labels,
};
use crate::rejection::Refusal;
use serde::{
    Deserialize, Deserializer,
    de::{self, MapAccess},
};
use serde_json::value::RawValue;
use std::{borrow::Cow, fmt};
use traceflow_event::{
    Defaults, Draft, Event, Field, Level, Limits, Metadata, Text, Time, Wording, quoted_key,
};

/// The service of an entry whose metadata names none.
pub const UNKNOWN_SERVICE: &str = "unknown_service";

/// The metadata key that keeps the request's tenant (`X-Scope-OrgID`), until tenants are
/// part of the event.
pub const TENANT_KEY: &str = "X-Scope-OrgID";

const SERVICE_KEYS: [&str; 4] = ["service_name", "service", "app", "job"];
const LEVEL_KEYS: [&str; 3] = ["level", "detected_level", "severity"];
const MESSAGE_FIELDS: [&str; 2] = ["message", "msg"];
const TRACE_ID_KEY: &str = "trace_id";

/// What applies to every entry of a request.
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    /// `LOKI_PARSE_JSON_LINES`.
    pub parse_json_lines: bool,
    /// The request's `X-Scope-OrgID`.
    pub tenant: Option<&'a str>,
}

/// An entry that was not kept, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// Where it is in the request, with its stream's labels:
    /// `streams[0].values[3] {job="api"}`.
    pub location: String,
    pub refusal: Refusal,
}

/// What became of a request's entries.
#[derive(Debug, Default)]
pub struct Mapped<'a> {
    pub events: Vec<Event<'a>>,
    pub refused: Vec<Refused>,
}

/// How many entries a push holds.
pub fn entry_count(streams: &[Stream<'_>]) -> usize {
    streams.iter().map(|stream| stream.entries.len()).sum()
}

/// Maps and checks every entry of `streams`; `defaults` stand in for a missing trace id and
/// time.
pub fn map_streams<'a>(
    streams: &'a [Stream<'_>],
    options: Options<'a>,
    defaults: Defaults<'a>,
    limits: &Limits,
) -> Mapped<'a> {
    let mut mapped = Mapped::default();
    for (s, stream) in streams.iter().enumerate() {
        for (e, entry) in stream.entries.iter().enumerate() {
            let (draft, service_key) = draft(&stream.labels, entry, options);
            match draft.check(defaults, limits) {
                Ok(event) => mapped.events.push(event),
                Err(violation) => mapped.refused.push(Refused {
                    location: format!(
                        "streams[{s}].{}[{e}] {}",
                        stream.entries_field,
                        labels::shown(&stream.labels)
                    ),
                    refusal: Refusal::of(&violation, &LokiWording { service_key }),
                }),
            }
        }
    }
    mapped
}

/// The entry as a draft, and the metadata key its service came from.
fn draft<'a>(
    labels: &'a Metadata<'_>,
    entry: &'a Entry<'_>,
    options: Options<'a>,
) -> (Draft<'a>, Option<&'static str>) {
    let borrowed = |(key, value): (&'a Cow<'_, str>, &'a Cow<'_, str>)| {
        (Cow::Borrowed(key.as_ref()), Cow::Borrowed(value.as_ref()))
    };
    let mut metadata: Metadata<'a> = labels.iter().map(borrowed).collect();
    metadata.extend(entry.structured_metadata.iter().map(borrowed));
    if let Some(tenant) = options.tenant {
        metadata.insert(Cow::Borrowed(TENANT_KEY), Cow::Borrowed(tenant));
    }
    let mut message = Cow::Borrowed(entry.line.as_ref());
    if options.parse_json_lines
        && let Some(fields) = json_fields(&entry.line)
    {
        if let Some(text) = fields.message {
            message = text;
        }
        for (key, value) in fields.rest {
            let key = if metadata.contains_key(&key) {
                Cow::Owned(format!("{key}_extracted"))
            } else {
                key
            };
            metadata.insert(key, value);
        }
    }

    let (service_key, service) = SERVICE_KEYS
        .iter()
        .find_map(|key| {
            let value = metadata
                .get(*key)
                .filter(|value| !value.trim().is_empty())?;
            Some((Some(*key), value.clone()))
        })
        .unwrap_or((None, Cow::Borrowed(UNKNOWN_SERVICE)));
    let level = LEVEL_KEYS
        .iter()
        .find_map(|key| level_named(metadata.get(*key)?))
        .unwrap_or(Level::Info);
    let draft = Draft {
        service: Some(service),
        level: Some(Cow::Borrowed(level.as_str())),
        message: Some(message),
        timestamp: entry.time.as_ref().map(borrowed_time),
        trace_id: metadata.get(TRACE_ID_KEY).cloned(),
        metadata,
    };
    (draft, service_key)
}

fn borrowed_time<'a>(time: &'a Time<'_>) -> Time<'a> {
    match time {
        Time::Text(text) => Time::Text(Cow::Borrowed(text)),
        Time::Epoch(text) => Time::Epoch(Cow::Borrowed(text)),
        Time::At(at) => Time::At(*at),
    }
}

/// A level's name as loggers and Loki's clients write it, any case: ours, and `warning`,
/// `err`, `critical`, `crit`, `emerg`, `alert`, `panic`, `notice`, `informational`;
/// `None` for anything else (Loki's `unknown`, a number).
pub fn level_named(name: &str) -> Option<Level> {
    let name = name.trim();
    if let Ok(level) = name.parse() {
        return Some(level);
    }
    let aliases = [
        ("warning", Level::Warn),
        ("err", Level::Error),
        ("critical", Level::Fatal),
        ("crit", Level::Fatal),
        ("emerg", Level::Fatal),
        ("alert", Level::Fatal),
        ("panic", Level::Fatal),
        ("notice", Level::Info),
        ("informational", Level::Info),
    ];
    aliases
        .into_iter()
        .find(|(alias, _)| alias.eq_ignore_ascii_case(name))
        .map(|(_, level)| level)
}

/// A line's fields, when it is a JSON object.
#[derive(Debug, PartialEq, Eq)]
struct Fields<'a> {
    /// Its `message` or else `msg`, when a non-blank string.
    message: Option<Cow<'a, str>>,
    /// The other fields, flattened, in the line's order.
    rest: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

/// `line`'s fields when it is a JSON object; `None` for any other line, which is kept as
/// it is.
fn json_fields(line: &str) -> Option<Fields<'_>> {
    let line = line.trim();
    if !(line.starts_with('{') && line.ends_with('}')) {
        return None;
    }
    let JsonObject(mut fields) = serde_json::from_str(line).ok()?;
    let message = MESSAGE_FIELDS.iter().find_map(|name| {
        let at = fields.iter().position(|(key, raw)| {
            key == name && raw.get().starts_with('"') && !string(raw.get()).trim().is_empty()
        })?;
        Some(string(fields.remove(at).1.get()))
    });
    let mut rest = Vec::with_capacity(fields.len());
    for (key, raw) in fields {
        flatten(key, raw, &mut rest);
    }
    Some(Fields { message, rest })
}

/// `raw` under `key`: an object's fields under `key.<field>` (an empty one as `{}`), a
/// string as its text, anything else as its JSON text.
fn flatten<'a>(key: Cow<'a, str>, raw: &'a RawValue, out: &mut Vec<(Cow<'a, str>, Cow<'a, str>)>) {
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'{') => match serde_json::from_str::<JsonObject>(text) {
            Ok(JsonObject(fields)) if !fields.is_empty() => {
                for (field, raw) in fields {
                    flatten(Cow::Owned(format!("{key}.{field}")), raw, out);
                }
            }
            _ => out.push((key, Cow::Borrowed(text))),
        },
        Some(b'"') => out.push((key, string(text))),
        _ => out.push((key, Cow::Borrowed(text))),
    }
}

/// A JSON string's text, borrowed when it has no escapes.
fn string(raw: &str) -> Cow<'_, str> {
    if raw.contains('\\') {
        serde_json::from_str(raw).map_or(Cow::Borrowed(raw), Cow::Owned)
    } else {
        Cow::Borrowed(&raw[1..raw.len() - 1])
    }
}

/// A JSON object's fields in order, values unparsed, text borrowed where it can be.
struct JsonObject<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for JsonObject<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> de::Visitor<'de> for Visitor {
            type Value = JsonObject<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut fields = Vec::new();
                while let Some((Text(key), raw)) = map.next_entry()? {
                    fields.push((key, raw));
                }
                Ok(JsonObject(fields))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

/// The event's fields as a Loki push has them, for the reasons of refused entries.
struct LokiWording {
    service_key: Option<&'static str>,
}

impl Wording for LokiWording {
    fn name(&self, field: &Field) -> String {
        match field {
            Field::Service => match self.service_key {
                Some(key) => format!("the service ({key})"),
                None => "the service".to_owned(),
            },
            Field::Level => "the level".to_owned(),
            Field::Message => "the line".to_owned(),
            Field::Timestamp => "the timestamp".to_owned(),
            Field::TraceId => TRACE_ID_KEY.to_owned(),
            Field::Metadata => {
                "the labels, structured metadata and line fields together".to_owned()
            }
            Field::MetadataKey(key) => format!("the name {}", quoted_key(key)),
            Field::MetadataValue(key) => format!("the value of {key}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rejection::Reason;
    use chrono::{DateTime, TimeDelta, Utc};
    use traceflow_event::{
        TimeWindow,
        testing::{TRACE_ID as TRACE, pairs, summary},
    };

    fn now() -> DateTime<Utc> {
        "2026-05-05T12:00:00.123456Z".parse().unwrap()
    }

    fn metadata(pairs: &[(&str, &str)]) -> Metadata<'static> {
        pairs
            .iter()
            .map(|(k, v)| (Cow::Owned(k.to_string()), Cow::Owned(v.to_string())))
            .collect()
    }

    fn entry(line: &str, structured: &[(&str, &str)]) -> Entry<'static> {
        Entry {
            time: Some(Time::At("2026-05-05T10:00:00.250999Z".parse().unwrap())),
            line: Cow::Owned(line.to_owned()),
            structured_metadata: metadata(structured),
        }
    }

    fn stream(labels: &[(&str, &str)], entries: Vec<Entry<'static>>) -> Stream<'static> {
        Stream {
            labels: metadata(labels),
            entries_field: "values",
            entries,
        }
    }

    const PARSE: Options = Options {
        parse_json_lines: true,
        tenant: None,
    };

    fn map<'a>(streams: &'a [Stream<'_>], options: Options<'a>) -> Mapped<'a> {
        let limits = Limits {
            window: TimeWindow {
                retention_days: 36_500,
                max_future_skew: TimeDelta::minutes(10),
            },
            ..Limits::default()
        };
        let defaults = Defaults {
            tenant: traceflow_event::DEFAULT_TENANT,
            trace_id: TRACE,
            now: now(),
            retention_days: None,
        };
        map_streams(streams, options, defaults, &limits)
    }

    #[test]
    fn labels_and_structured_metadata_become_metadata_and_name_the_fields() {
        let streams = [stream(
            &[
                ("job", "varlogs"),
                ("app", "checkout"),
                ("level", "warning"),
                ("env", "prod"),
            ],
            vec![entry(
                "card declined",
                &[
                    ("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"),
                    ("env", "canary"),
                ],
            )],
        )];
        let options = Options {
            parse_json_lines: true,
            tenant: Some("acme"),
        };
        let mapped = map(&streams, options);
        assert!(mapped.refused.is_empty(), "{:?}", mapped.refused);
        let event = &mapped.events[0];
        assert_eq!(
            summary(event),
            "2026-05-05T10:00:00.250Z checkout WARN 4bf92f3577b34da6a3ce929d0e0e4736 card declined"
        );
        assert_eq!(
            pairs(event),
            [
                ("X-Scope-OrgID", "acme"),
                ("app", "checkout"),
                ("env", "canary"),
                ("job", "varlogs"),
                ("level", "warning"),
                ("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"),
            ]
        );
    }

    #[test]
    fn the_service_and_level_fall_back_in_order() {
        let service_and_level = |labels: &[(&str, &str)]| {
            let streams = [stream(labels, vec![entry("m", &[])])];
            let mapped = map(&streams, PARSE);
            let event = &mapped.events[0];
            (event.service.to_string(), event.level)
        };
        assert_eq!(
            service_and_level(&[]),
            (UNKNOWN_SERVICE.to_owned(), Level::Info)
        );
        assert_eq!(
            service_and_level(&[
                ("job", "j"),
                ("app", "a"),
                ("service", " "),
                ("severity", "err")
            ]),
            ("a".to_owned(), Level::Error)
        );
        assert_eq!(
            service_and_level(&[
                ("job", "j"),
                ("service_name", "s"),
                ("level", "unknown"),
                ("detected_level", "critical"),
                ("severity", "debug")
            ]),
            ("s".to_owned(), Level::Fatal)
        );
    }

    #[test]
    fn level_names_and_aliases() {
        let cases = [
            ("TRACE", Some(Level::Trace)),
            (" debug ", Some(Level::Debug)),
            ("Info", Some(Level::Info)),
            ("notice", Some(Level::Info)),
            ("informational", Some(Level::Info)),
            ("warn", Some(Level::Warn)),
            ("WARNING", Some(Level::Warn)),
            ("err", Some(Level::Error)),
            ("error", Some(Level::Error)),
            ("crit", Some(Level::Fatal)),
            ("critical", Some(Level::Fatal)),
            ("emerg", Some(Level::Fatal)),
            ("alert", Some(Level::Fatal)),
            ("panic", Some(Level::Fatal)),
            ("fatal", Some(Level::Fatal)),
            ("unknown", None),
            ("30", None),
            ("", None),
        ];
        for (name, level) in cases {
            assert_eq!(level_named(name), level, "{name:?}");
        }
    }

    #[test]
    fn a_json_line_is_read_into_fields() {
        let line = r#" {"level":30,"time":1777975200250,"msg":"card \"4242\" declined","user":{"id":7,"tags":["a","b"],"empty":{}},"job":"from line","trace_id":"line-trace","ok":true,"none":null,"ratio":1.50} "#;
        let streams = [stream(
            &[("job", "api"), ("level", "error")],
            vec![entry(line, &[])],
        )];
        let mapped = map(&streams, PARSE);
        let event = &mapped.events[0];
        assert_eq!(event.message, r#"card "4242" declined"#);
        assert_eq!(event.service, "api");
        assert_eq!(event.level, Level::Error);
        assert_eq!(event.trace_id, "line-trace");
        assert_eq!(
            pairs(event),
            [
                ("job", "api"),
                ("job_extracted", "from line"),
                ("level", "error"),
                ("level_extracted", "30"),
                ("none", "null"),
                ("ok", "true"),
                ("ratio", "1.50"),
                ("time", "1777975200250"),
                ("trace_id", "line-trace"),
                ("user.empty", "{}"),
                ("user.id", "7"),
                ("user.tags", r#"["a","b"]"#),
            ]
        );

        // Off, the line is stored as it is.
        let kept = map(
            &streams,
            Options {
                parse_json_lines: false,
                tenant: None,
            },
        );
        assert_eq!(kept.events[0].message, line);
        assert_eq!(pairs(&kept.events[0]), [("job", "api"), ("level", "error")]);
    }

    #[test]
    fn fields_give_the_level_service_and_message_when_labels_do_not() {
        let streams = [stream(
            &[],
            vec![
                entry(
                    r#"{"message":"m1","msg":"m2","severity":"warning","service":"svc"}"#,
                    &[],
                ),
                entry(r#"{"msg":"  ","x":1}"#, &[]),
                entry(r#"{"msg":"a", "bad": }"#, &[]),
                entry("[1,2]", &[]),
            ],
        )];
        let mapped = map(&streams, PARSE);
        let events = &mapped.events;
        assert_eq!(events[0].message, "m1");
        assert_eq!(events[0].level, Level::Warn);
        assert_eq!(events[0].service, "svc");
        assert_eq!(
            pairs(&events[0]),
            [("msg", "m2"), ("service", "svc"), ("severity", "warning")]
        );
        // A blank msg is no message: the line is, and msg stays a field.
        assert_eq!(events[1].message, r#"{"msg":"  ","x":1}"#);
        assert_eq!(pairs(&events[1]), [("msg", "  "), ("x", "1")]);
        // Not an object, or not JSON: as it is.
        assert_eq!(events[2].message, r#"{"msg":"a", "bad": }"#);
        assert!(events[2].metadata.is_empty());
        assert_eq!(events[3].message, "[1,2]");
    }

    #[test]
    fn entries_breaking_a_rule_are_refused_one_by_one_naming_stream_and_entry() {
        let long = "x".repeat(Limits::default().message_bytes + 1);
        let mut untimed = entry("no time: the server's", &[]);
        untimed.time = None;
        let mut too_old = entry("old", &[]);
        too_old.time = Some(Time::Text("1969-12-31T23:59:59Z".into()));
        let streams = [
            stream(
                &[("job", "ok")],
                vec![entry("kept", &[]), entry("", &[]), untimed],
            ),
            stream(&[("service_name", "bad\u{1b}name")], vec![entry("m", &[])]),
            stream(
                &[("job", "j")],
                vec![entry(&long, &[]), too_old, entry("m", &[("a\nb", "v")])],
            ),
        ];
        let mapped = map(&streams, PARSE);
        let kept: Vec<&str> = mapped.events.iter().map(|e| e.message.as_ref()).collect();
        assert_eq!(kept, ["kept", "no time: the server's"]);
        assert_eq!(
            mapped.events[1].timestamp.to_rfc3339(),
            "2026-05-05T12:00:00.123+00:00"
        );
        assert_eq!(mapped.events[1].trace_id, TRACE);
        let refused: Vec<(&str, &str, Reason)> = mapped
            .refused
            .iter()
            .map(|r| {
                (
                    r.location.as_str(),
                    r.refusal.message.as_str(),
                    r.refusal.reason,
                )
            })
            .collect();
        assert_eq!(
            refused,
            [
                (
                    "streams[0].values[1] {job=\"ok\"}",
                    "the line must not be blank",
                    Reason::Invalid
                ),
                (
                    "streams[1].values[0] {service_name=\"bad\\u{1b}name\"}",
                    "the service (service_name) must not contain control characters",
                    Reason::Invalid
                ),
                (
                    "streams[2].values[0] {job=\"j\"}",
                    "the line is longer than 262144 bytes",
                    Reason::Invalid
                ),
                (
                    "streams[2].values[1] {job=\"j\"}",
                    "the timestamp must be between 1970-01-01T00:00:00Z and \
                     2105-12-31T23:59:59Z, got \"1969-12-31T23:59:59Z\"",
                    Reason::Invalid
                ),
                (
                    "streams[2].values[2] {job=\"j\"}",
                    "the name \"a\\nb\" must not contain control characters",
                    Reason::Invalid
                ),
            ]
        );
    }

    #[test]
    fn entries_are_counted_across_streams() {
        let streams = [
            stream(&[], vec![entry("a", &[]), entry("b", &[])]),
            stream(&[], vec![]),
            stream(&[], vec![entry("c", &[])]),
        ];
        assert_eq!(entry_count(&streams), 3);
    }
}
