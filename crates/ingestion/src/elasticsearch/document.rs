//! One Elasticsearch document to a [`Draft`]. The document is flattened first (nested
//! objects to dotted keys, so `{"service": {"name": "x"}}` and `{"service.name": "x"}` are
//! the same field); then each event field takes the first of its candidate fields the
//! document has, and every other field becomes metadata.
//!
//! | event field | candidates (defaults) | otherwise |
//! |---|---|---|
//! | message | `message`, `msg`, `log`, `MESSAGE` | refused |
//! | timestamp | `@timestamp`, `timestamp`, `time`, `ts`: RFC 3339, or a number since the epoch (as a number or as text) | now |
//! | service | `service.name`, `service`, `app`, `PROGRAM` | the index name without a date suffix |
//! | level | `level`, `log.level`, `severity`, `lvl`, `PRIORITY`: our names and their syslog and common spellings, syslog numbers 0-7, pino's 10-60 | INFO, the field kept in metadata |
//! | trace id | `trace_id`, `trace.id`, `traceId` | the request's |
//!
//! A request replaces a list with a query argument (`_msg_field`, `_time_field`,
//! `_service_field`, `_level_field`, `_trace_id_field`) or a header (`Traceflow-Msg-Field`,
//! ...): comma-separated field names, tried in order; an empty list uses none.
//!
//! Metadata values: strings as they are, numbers and booleans as their JSON text (`1.0`
//! stays `1.0`), arrays as compact JSON, empty objects as `{}`; `null` is no value.

use crate::rejection::Refusal;
use axum::http::HeaderMap;
use serde::{
    Deserialize, Deserializer,
    de::{self, MapAccess},
};
use serde_json::value::RawValue;
use std::{borrow::Cow, fmt};
use traceflow_event::{Draft, Field, Level, Metadata, Text, Time, Wording, quoted_key};

/// One event field's candidate document fields: where a request names them, and the
/// defaults.
struct Role {
    /// What answers call it when no field holds it.
    what: &'static str,
    /// The query argument naming its fields; the header is `Traceflow-` and the argument's
    /// words (`_msg_field`: `Traceflow-Msg-Field`).
    query: &'static str,
    defaults: &'static [&'static str],
}

impl Role {
    fn header(&self) -> String {
        format!(
            "traceflow-{}",
            self.query.trim_matches('_').replace('_', "-")
        )
    }
}

// One line each, as a table: `PRIORITY` is syslog-ng's name for the severity in its default
// template.
#[rustfmt::skip]
mod roles {
    use super::Role;
    pub(super) const MESSAGE: Role = Role { what: "message", query: "_msg_field", defaults: &["message", "msg", "log", "MESSAGE"] };
    pub(super) const TIME: Role = Role { what: "time", query: "_time_field", defaults: &["@timestamp", "timestamp", "time", "ts"] };
    pub(super) const SERVICE: Role = Role { what: "service", query: "_service_field", defaults: &["service.name", "service", "app", "PROGRAM"] };
    pub(super) const LEVEL: Role = Role { what: "level", query: "_level_field", defaults: &["level", "log.level", "severity", "lvl", "PRIORITY"] };
    pub(super) const TRACE_ID: Role = Role { what: "trace id", query: "_trace_id_field", defaults: &["trace_id", "trace.id", "traceId"] };
}
use roles::{LEVEL, MESSAGE, SERVICE, TIME, TRACE_ID};

/// The query arguments that choose the fields; any other argument (`refresh`,
/// `filter_path`, `pipeline`, ...) is accepted and ignored.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct FieldQuery {
    /// The document fields the message is read from, comma-separated, first present wins
    /// (default `message,msg,log,MESSAGE`); also the header `Traceflow-Msg-Field`.
    #[serde(rename = "_msg_field")]
    message: Option<String>,
    /// The time's fields (default `@timestamp,timestamp,time,ts`); also
    /// `Traceflow-Time-Field`.
    #[serde(rename = "_time_field")]
    time: Option<String>,
    /// The service's fields (default `service.name,service,app,PROGRAM`; without one, the
    /// index name); also `Traceflow-Service-Field`.
    #[serde(rename = "_service_field")]
    service: Option<String>,
    /// The level's fields (default `level,log.level,severity,lvl,PRIORITY`); also
    /// `Traceflow-Level-Field`.
    #[serde(rename = "_level_field")]
    level: Option<String>,
    /// The trace id's fields (default `trace_id,trace.id,traceId`); also
    /// `Traceflow-Trace-Id-Field`.
    #[serde(rename = "_trace_id_field")]
    trace_id: Option<String>,
}

/// Where a request's documents keep each event field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fields {
    message: Vec<String>,
    time: Vec<String>,
    service: Vec<String>,
    level: Vec<String>,
    trace_id: Vec<String>,
}

impl Default for Fields {
    fn default() -> Self {
        let defaults = |role: &Role| role.defaults.iter().map(|&name| name.to_owned()).collect();
        Self {
            message: defaults(&MESSAGE),
            time: defaults(&TIME),
            service: defaults(&SERVICE),
            level: defaults(&LEVEL),
            trace_id: defaults(&TRACE_ID),
        }
    }
}

impl Fields {
    /// The fields a request names (its query argument, else its header), the defaults for
    /// the rest.
    pub(crate) fn of(query: &FieldQuery, headers: &HeaderMap) -> Result<Self, Refusal> {
        let pick = |role: &Role, given: &Option<String>| -> Result<Vec<String>, Refusal> {
            let header = role.header();
            let list = match (given, headers.get(&header)) {
                (Some(list), _) => list.as_str(),
                (None, Some(value)) => value.to_str().map_err(|_| {
                    Refusal::malformed(format!(
                        "the header {header} must be comma-separated field names in ASCII"
                    ))
                })?,
                (None, None) => return Ok(role.defaults.iter().map(|&n| n.to_owned()).collect()),
            };
            Ok(list
                .split(',')
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .map(str::to_owned)
                .collect())
        };
        Ok(Self {
            message: pick(&MESSAGE, &query.message)?,
            time: pick(&TIME, &query.time)?,
            service: pick(&SERVICE, &query.service)?,
            level: pick(&LEVEL, &query.level)?,
            trace_id: pick(&TRACE_ID, &query.trace_id)?,
        })
    }
}

/// The document field each event field was read from, for the words of a refusal.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sources<'f> {
    message: Option<&'f str>,
    time: Option<&'f str>,
    service: Option<&'f str>,
    /// The service is the index name.
    index: bool,
    level: Option<&'f str>,
    trace_id: Option<&'f str>,
}

/// A document's fields as the event names them in answers: the field each came from, or
/// the candidates when the document has none.
pub(crate) struct DocumentWording<'a> {
    pub(crate) sources: Sources<'a>,
    pub(crate) fields: &'a Fields,
}

impl DocumentWording<'_> {
    fn candidates(role: &Role, names: &[String]) -> String {
        match names {
            [] => format!(
                "a {} field (the request's {} names none)",
                role.what, role.query
            ),
            [one] => format!("a {} field ({one})", role.what),
            [init @ .., last] => format!("a {} field ({} or {last})", role.what, init.join(", ")),
        }
    }
}

impl Wording for DocumentWording<'_> {
    fn name(&self, field: &Field) -> String {
        let (source, role, names) = match field {
            Field::Message => (self.sources.message, &MESSAGE, &self.fields.message),
            Field::Timestamp => (self.sources.time, &TIME, &self.fields.time),
            Field::Level => (self.sources.level, &LEVEL, &self.fields.level),
            Field::TraceId => (self.sources.trace_id, &TRACE_ID, &self.fields.trace_id),
            Field::Service if self.sources.index => return "the index name".to_owned(),
            Field::Service if self.sources.service.is_none() => {
                return format!(
                    "{} or an index",
                    Self::candidates(&SERVICE, &self.fields.service)
                );
            }
            Field::Service => (self.sources.service, &SERVICE, &self.fields.service),
            Field::Metadata => return "the document's other fields".to_owned(),
            Field::MetadataKey(key) => return format!("field name {}", quoted_key(key)),
            Field::MetadataValue(key) => return format!("field {key}"),
        };
        source.map_or_else(|| Self::candidates(role, names), str::to_owned)
    }
}

/// A JSON object's entries in order, keys and values borrowed from the input.
struct Entries<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Entries<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> de::Visitor<'de> for Visitor {
            type Value = Entries<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries<'de>, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some((Text(key), value)) = map.next_entry::<Text, &RawValue>()? {
                    entries.push((key, value));
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

/// A JSON text as one object's entries; the error without serde's position in the line.
pub(crate) fn entries(json: &str) -> Result<Vec<(Cow<'_, str>, &RawValue)>, String> {
    serde_json::from_str::<Entries>(json)
        .map(|Entries(entries)| entries)
        .map_err(|error| {
            let message = error.to_string();
            let position = format!(" at line {} column {}", error.line(), error.column());
            match message.strip_suffix(&position) {
                Some(what) => format!("{what} at column {}", error.column()),
                None => message,
            }
        })
}

/// A JSON string's text, borrowed unless it has escapes.
pub(crate) fn string(raw: &RawValue) -> Option<Cow<'_, str>> {
    let text = raw.get();
    if !text.starts_with('"') {
        return None;
    }
    if !text.contains('\\') {
        return Some(Cow::Borrowed(&text[1..text.len() - 1]));
    }
    serde_json::from_str(text).ok().map(Cow::Owned)
}

/// A value as metadata keeps it; `None` for `null`.
fn scalar(raw: &RawValue) -> Option<Cow<'_, str>> {
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'"') => string(raw),
        Some(b'n') => None,
        // Arrays compact, whatever spacing the sender used.
        Some(b'[') => serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .map(|value| Cow::Owned(value.to_string())),
        // A number or a boolean, exactly as sent.
        _ => Some(Cow::Borrowed(text)),
    }
}

/// Adds the object `entries` under `prefix` (dotted) to `out`; a later key wins.
fn flatten<'a>(
    prefix: Option<&str>,
    entries: Vec<(Cow<'a, str>, &'a RawValue)>,
    out: &mut Metadata<'a>,
) -> Result<(), String> {
    for (key, value) in entries {
        let key = match prefix {
            None => key,
            Some(prefix) => Cow::Owned(format!("{prefix}.{key}")),
        };
        if value.get().starts_with('{') {
            let inner = entries_of(value)?;
            if inner.is_empty() {
                out.insert(key, Cow::Borrowed("{}"));
            } else {
                flatten(Some(&key), inner, out)?;
            }
        } else if let Some(text) = scalar(value) {
            out.insert(key, text);
        }
    }
    Ok(())
}

fn entries_of(value: &RawValue) -> Result<Vec<(Cow<'_, str>, &RawValue)>, String> {
    entries(value.get())
}

/// The level a document's text names: ours in any case, the syslog names and common
/// spellings, syslog's numbers (0 emergency to 7 debug) and pino's (10 trace to 60 fatal).
pub(crate) fn level(text: &str) -> Option<Level> {
    let text = text.trim();
    if let Ok(level) = text.parse::<Level>() {
        return Some(level);
    }
    let level = match text.to_ascii_lowercase().as_str() {
        "emerg" | "emergency" | "panic" | "alert" | "crit" | "critical" | "0" | "1" | "2" => {
            Level::Fatal
        }
        "err" | "3" | "50" => Level::Error,
        "warning" | "4" | "40" => Level::Warn,
        "notice" | "informational" | "information" | "5" | "6" | "30" => Level::Info,
        "7" | "20" => Level::Debug,
        "10" => Level::Trace,
        "60" => Level::Fatal,
        _ => return None,
    };
    Some(level)
}

/// Time text: a number since the epoch (Filebeat's and pino's numbers, also when sent as a
/// string, exponents included), else RFC 3339.
fn time(text: Cow<'_, str>) -> Time<'_> {
    let trimmed = text.trim();
    // A leading digit or minus keeps "inf" and "NaN" (which parse as numbers) out.
    let numeric = trimmed.starts_with(|c: char| c.is_ascii_digit() || c == '-')
        && trimmed.parse::<f64>().is_ok();
    if numeric {
        Time::Epoch(text)
    } else {
        Time::Text(text)
    }
}

/// The index name as a service: without the date that daily indices end in
/// (`logstash-2026.05.05`, `vector-2026-05-05`, `app-2026.05`).
pub(crate) fn service_of_index(index: &str) -> &str {
    let bytes = index.as_bytes();
    let is_date = |tail: &[u8]| {
        let shape = |pattern: &[u8]| {
            tail.len() == pattern.len()
                && tail.iter().zip(pattern).all(|(&b, &p)| match p {
                    b'9' => b.is_ascii_digit(),
                    b'.' => b == b'.' || b == b'-',
                    _ => b == p,
                })
        };
        shape(b"9999.99.99") || shape(b"9999.99")
    };
    for length in [10, 7] {
        if bytes.len() > length + 1 {
            let cut = bytes.len() - length;
            if matches!(bytes[cut - 1], b'-' | b'_') && is_date(&bytes[cut..]) {
                return &index[..cut - 1];
            }
        }
    }
    index
}

/// The first of `names` that `metadata` has, removed from it.
fn take<'a, 'f>(
    metadata: &mut Metadata<'a>,
    names: &'f [String],
) -> Option<(&'f str, Cow<'a, str>)> {
    names.iter().find_map(|name| {
        metadata
            .remove(name.as_str())
            .map(|value| (name.as_str(), value))
    })
}

/// `document` (one JSON object) as a draft, and where each field came from; `index` is the
/// service when no field names one. Refused when it is not a JSON object.
pub(crate) fn draft<'a, 'f>(
    document: &'a [u8],
    index: Option<&'a str>,
    fields: &'f Fields,
) -> Result<(Draft<'a>, Sources<'f>), Refusal> {
    let document = std::str::from_utf8(document)
        .map_err(|_| Refusal::malformed("the document is not valid UTF-8"))?;
    if !document.trim_start().starts_with('{') {
        return Err(Refusal::malformed(
            "the document must be a JSON object such as {\"message\": \"...\"}",
        ));
    }
    let mut metadata = Metadata::new();
    entries(document)
        .and_then(|entries| flatten(None, entries, &mut metadata))
        .map_err(|error| Refusal::malformed(format!("the document is not valid JSON: {error}")))?;

    let mut sources = Sources::default();
    let message = take(&mut metadata, &fields.message).map(|(name, text)| {
        sources.message = Some(name);
        text
    });
    let timestamp = take(&mut metadata, &fields.time).map(|(name, text)| {
        sources.time = Some(name);
        time(text)
    });
    let service = match take(&mut metadata, &fields.service) {
        Some((name, text)) => {
            sources.service = Some(name);
            Some(text)
        }
        None => index.map(|index| {
            sources.index = true;
            Cow::Borrowed(service_of_index(index))
        }),
    };
    // A level we cannot read stays in the metadata as it was sent; the event is INFO.
    let level = fields
        .level
        .iter()
        .find_map(|name| {
            let found = level(metadata.get(name.as_str())?)?;
            metadata.remove(name.as_str());
            sources.level = Some(name.as_str());
            Some(found)
        })
        .unwrap_or(Level::Info);
    let trace_id = take(&mut metadata, &fields.trace_id).map(|(name, text)| {
        sources.trace_id = Some(name);
        text
    });
    let draft = Draft {
        service,
        level: Some(Cow::Borrowed(level.as_str())),
        message,
        timestamp,
        trace_id,
        metadata,
    };
    Ok((draft, sources))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use traceflow_event::testing::any_time;

    fn mapped<'a>(document: &'a str, index: Option<&'a str>, fields: &'a Fields) -> Draft<'a> {
        draft(document.as_bytes(), index, fields).unwrap().0
    }

    /// The document's event, or the refusal's message.
    fn checked(document: &str, index: Option<&str>, fields: &Fields) -> Result<String, String> {
        let (draft, sources) = draft(document.as_bytes(), index, fields).map_err(|r| r.message)?;
        draft
            .check(
                traceflow_event::testing::defaults("2026-05-05T12:00:00.123Z"),
                &any_time(),
            )
            .map(|event| {
                format!(
                    "{} {} {} {} {} {:?}",
                    event.timestamp.to_rfc3339(),
                    event.service,
                    event.level,
                    event.message,
                    event.trace_id,
                    event.metadata
                )
            })
            .map_err(|violation| {
                Refusal::of(&violation, &DocumentWording { sources, fields }).message
            })
    }

    #[test]
    fn an_ecs_document_maps_every_field_and_flattens_the_rest() {
        let fields = Fields::default();
        let document = r#"{"@timestamp":"2026-05-05T10:00:00.250Z","message":"card declined",
            "service":{"name":"payments","version":"1.2"},"log":{"level":"warn","logger":"pay"},
            "trace":{"id":"4bf92f3577b34da6a3ce929d0e0e4736"},"host":{"name":"web-1","ip":["10.0.0.1","::1"]},
            "amount":42.50,"retry":false,"gone":null,"empty":{},"quote":"say \"hi\""}"#;
        assert_eq!(
            checked(document, Some("filebeat-8.19.0"), &fields).unwrap(),
            "2026-05-05T10:00:00.250+00:00 payments WARN card declined \
             4bf92f3577b34da6a3ce929d0e0e4736 {\"amount\": \"42.50\", \"empty\": \"{}\", \
             \"host.ip\": \"[\\\"10.0.0.1\\\",\\\"::1\\\"]\", \"host.name\": \"web-1\", \
             \"log.logger\": \"pay\", \"quote\": \"say \\\"hi\\\"\", \"retry\": \"false\", \
             \"service.version\": \"1.2\"}"
        );
    }

    #[test]
    fn pino_fluent_bit_and_syslog_ng_documents_suit_the_defaults() {
        let fields = Fields::default();
        // pino: numeric level, epoch milliseconds, msg.
        let pino = mapped(
            r#"{"level":50,"time":1777975200250,"pid":7,"hostname":"h","msg":"boom","app":"api"}"#,
            None,
            &fields,
        );
        assert_eq!(pino.level.as_deref(), Some("ERROR"));
        assert_eq!(pino.message.as_deref(), Some("boom"));
        assert_eq!(pino.service.as_deref(), Some("api"));
        assert_eq!(pino.timestamp, Some(Time::Epoch("1777975200250".into())));
        // Fluent Bit's tail input: the line is `log`; the service is the index.
        let fluent = mapped(
            r#"{"@timestamp":"2026-05-05T10:00:00.000Z","log":"GET /","stream":"stdout"}"#,
            Some("logstash-2026.05.05"),
            &fields,
        );
        assert_eq!(fluent.message.as_deref(), Some("GET /"));
        assert_eq!(fluent.service.as_deref(), Some("logstash"));
        assert_eq!(fluent.level.as_deref(), Some("INFO"));
        // syslog-ng's elasticsearch-http() default template.
        let syslog_ng = mapped(
            r#"{"PROGRAM":"sshd","PRIORITY":"err","PID":"42","MESSAGE":"denied","HOST":"h","@timestamp":"2026-05-05T10:00:00+02:00"}"#,
            Some("syslog-ng"),
            &fields,
        );
        assert_eq!(syslog_ng.service.as_deref(), Some("sshd"));
        assert_eq!(syslog_ng.level.as_deref(), Some("ERROR"));
        assert_eq!(syslog_ng.message.as_deref(), Some("denied"));
        let keys: Vec<&str> = syslog_ng.metadata.keys().map(|k| k.as_ref()).collect();
        assert_eq!(keys, ["HOST", "PID"]);
    }

    #[test]
    fn levels_in_every_spelling_and_unknown_ones_kept_as_metadata() {
        let cases = [
            ("trace", Some(Level::Trace)),
            ("Warning", Some(Level::Warn)),
            ("err", Some(Level::Error)),
            ("crit", Some(Level::Fatal)),
            ("emerg", Some(Level::Fatal)),
            ("notice", Some(Level::Info)),
            (" informational ", Some(Level::Info)),
            ("0", Some(Level::Fatal)),
            ("4", Some(Level::Warn)),
            ("7", Some(Level::Debug)),
            ("10", Some(Level::Trace)),
            ("20", Some(Level::Debug)),
            ("30", Some(Level::Info)),
            ("40", Some(Level::Warn)),
            ("60", Some(Level::Fatal)),
            ("8", None),
            ("loud", None),
        ];
        for (text, expected) in cases {
            assert_eq!(level(text), expected, "{text:?}");
        }
        let fields = Fields::default();
        let unknown = mapped(
            r#"{"message":"m","level":"loud","severity":"err"}"#,
            None,
            &fields,
        );
        // The first readable candidate wins; the unreadable one stays.
        assert_eq!(unknown.level.as_deref(), Some("ERROR"));
        assert_eq!(unknown.metadata["level"], "loud");
        let none = mapped(r#"{"message":"m","lvl":"shout"}"#, None, &fields);
        assert_eq!(none.level.as_deref(), Some("INFO"));
        assert_eq!(none.metadata["lvl"], "shout");
    }

    #[test]
    fn times_are_rfc_3339_or_epoch_numbers_in_either_json_type() {
        let fields = Fields::default();
        let at = |document: &'static str| {
            mapped(document, None, &fields)
                .timestamp
                .map(|time| match time {
                    Time::Epoch(text) => Time::Epoch(Cow::Owned(text.into_owned())),
                    Time::Text(text) => Time::Text(Cow::Owned(text.into_owned())),
                    at => at,
                })
        };
        assert_eq!(
            at(r#"{"ts":1777975200}"#),
            Some(Time::Epoch("1777975200".into()))
        );
        assert_eq!(
            at(r#"{"ts":"1777975200.5"}"#),
            Some(Time::Epoch("1777975200.5".into()))
        );
        assert_eq!(
            at(r#"{"timestamp":"2026-05-05T10:00:00Z"}"#),
            Some(Time::Text("2026-05-05T10:00:00Z".into()))
        );
        assert_eq!(at(r#"{"time":"1.2.3"}"#), Some(Time::Text("1.2.3".into())));
        assert_eq!(at(r#"{"time":1.7e9}"#), Some(Time::Epoch("1.7e9".into())));
        assert_eq!(at(r#"{"time":"NaN"}"#), Some(Time::Text("NaN".into())));
        assert_eq!(at(r#"{"time":-5}"#), Some(Time::Epoch("-5".into())));
        assert_eq!(at(r#"{"message":"m"}"#), None);
    }

    #[test]
    fn the_index_is_the_service_without_its_date() {
        for (index, service) in [
            ("logstash-2026.05.05", "logstash"),
            ("vector-2026-05-05", "vector"),
            ("app_2026.05", "app"),
            ("filebeat-8.19.0", "filebeat-8.19.0"),
            ("2026.05.05", "2026.05.05"),
            ("logs-generic-default", "logs-generic-default"),
            ("x-2026.5.05", "x-2026.5.05"),
        ] {
            assert_eq!(service_of_index(index), service, "{index}");
        }
    }

    #[test]
    fn requests_name_their_own_fields_by_query_or_header() {
        let query = FieldQuery {
            message: Some("text, body".into()),
            service: Some(String::new()),
            ..FieldQuery::default()
        };
        let mut headers = HeaderMap::new();
        headers.insert("traceflow-msg-field", HeaderValue::from_static("ignored"));
        headers.insert("traceflow-level-field", HeaderValue::from_static("sev"));
        let fields = Fields::of(&query, &headers).unwrap();
        assert_eq!(fields.message, ["text", "body"]);
        assert!(fields.service.is_empty());
        assert_eq!(fields.level, ["sev"]);
        assert_eq!(fields.time, Fields::default().time);
        let draft = mapped(
            r#"{"body":"b","message":"kept","app":"not used","sev":"debug"}"#,
            Some("idx"),
            &fields,
        );
        assert_eq!(draft.message.as_deref(), Some("b"));
        assert_eq!(draft.service.as_deref(), Some("idx"));
        assert_eq!(draft.level.as_deref(), Some("DEBUG"));
        assert_eq!(draft.metadata["message"], "kept");
        assert_eq!(draft.metadata["app"], "not used");

        let mut bad = HeaderMap::new();
        bad.insert(
            "traceflow-time-field",
            HeaderValue::from_bytes(b"t\xff").unwrap(),
        );
        assert_eq!(
            Fields::of(&FieldQuery::default(), &bad)
                .unwrap_err()
                .message,
            "the header traceflow-time-field must be comma-separated field names in ASCII"
        );
    }

    #[test]
    fn refusals_name_the_field_the_value_came_from_or_the_candidates() {
        let fields = Fields::default();
        let refused =
            |document: &str, index: Option<&str>| checked(document, index, &fields).unwrap_err();
        assert_eq!(
            refused(r#"{"text":"no message"}"#, Some("i")),
            "a message field (message, msg, log or MESSAGE) is required"
        );
        assert_eq!(
            refused(r#"{"message":"m"}"#, None),
            "a service field (service.name, service, app or PROGRAM) or an index is required"
        );
        assert_eq!(
            refused(r#"{"msg":"  ","app":"a"}"#, None),
            "msg must not be blank"
        );
        assert_eq!(
            refused(r#"{"message":"m","@timestamp":"yesterday"}"#, Some("i")),
            "@timestamp must be an RFC 3339 time such as 2026-05-05T10:00:00Z, got \"yesterday\""
        );
        assert_eq!(
            refused(r#"{"message":"m","service":{"name":"a\u0007b"}}"#, None),
            "service.name must not contain control characters"
        );
        assert_eq!(
            refused(
                r#"{"message":"m","big":"xxx"}"#.replace("xxx", &"x".repeat(16_385)).as_str(),
                Some("i")
            ),
            "field big is longer than 16384 bytes"
        );
        assert_eq!(
            refused(r#"{"message":"m","a\nb":1}"#, Some("i")),
            "field name \"a\\nb\" must not contain control characters"
        );
        assert_eq!(
            refused(r#"{"message":"m"}"#, Some("a\u{1b}")),
            "the index name must not contain control characters"
        );
        let none = Fields::of(
            &FieldQuery {
                message: Some(String::new()),
                ..FieldQuery::default()
            },
            &HeaderMap::new(),
        )
        .unwrap();
        assert_eq!(
            checked(r#"{"message":"m"}"#, Some("i"), &none).unwrap_err(),
            "a message field (the request's _msg_field names none) is required"
        );
    }

    #[test]
    fn documents_that_are_not_objects_are_refused() {
        let fields = Fields::default();
        let refused = |document: &[u8]| draft(document, None, &fields).unwrap_err().message;
        assert_eq!(
            refused(b"[1,2]"),
            "the document must be a JSON object such as {\"message\": \"...\"}"
        );
        assert_eq!(
            refused(br#"{"message": "m","#),
            "the document is not valid JSON: EOF while parsing a value at column 16"
        );
        assert_eq!(
            refused(br#"{"message": "m"} x"#),
            "the document is not valid JSON: trailing characters at column 18"
        );
        assert_eq!(
            refused(b"{\"message\": \"\xff\"}"),
            "the document is not valid UTF-8"
        );
    }
}
