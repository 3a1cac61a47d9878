//! OTLP log records to events, record by record: each record becomes a [`Draft`] checked by
//! the event crate's rules; one that breaks a rule is rejected on its own (the answer's
//! `partial_success` counts it), the rest are kept.
//!
//! - `service`: the resource attribute `service.name`, else `unknown_service`.
//! - `level`: `severityText` when it names one of our levels (any case), else the
//!   `severityNumber` range (1-4 TRACE, 5-8 DEBUG, 9-12 INFO, 13-16 WARN, 17-20 ERROR,
//!   21-24 FATAL), else INFO.
//! - `message`: the body; a string as is, any other value as JSON. An empty body falls back
//!   to the record's `eventName`; a record with neither is rejected.
//! - `timestamp`: `timeUnixNano`, else `observedTimeUnixNano`, else the server's time.
//! - `trace_id`: the record's trace id in lower-case hex; a record without one (empty or all
//!   zero) gets the request's trace id, as `/ingest` events without `trace_id` do.
//! - `metadata`: resource attributes, then `otel.scope.name` / `otel.scope.version`, then
//!   scope attributes, then record attributes (later ones win on a collision), then
//!   `span_id` (lower-case hex) when the record has one. Nested key-value lists are
//!   flattened with dotted keys (`http.request.header` + `{"host": ..}` ->
//!   `http.request.header.host`); arrays become JSON text, bytes base64, numbers and
//!   booleans their text.

use crate::rejection::Refusal;
use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use chrono::DateTime;
use opentelemetry_proto::tonic::{
    collector::logs::v1::ExportLogsServiceRequest,
    common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value::Value},
    logs::v1::LogRecord,
};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use traceflow_event::{
    Defaults, Draft, Field, Level, Limits, LogEvent, Time, Violation, Wording, quoted_key,
};

/// The service of records whose resource has no `service.name`.
pub const UNKNOWN_SERVICE: &str = "unknown_service";

/// A record that was not kept, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Where it is in the request, e.g. `resourceLogs[0].scopeLogs[1].logRecords[3]`.
    pub location: String,
    pub refusal: Refusal,
}

/// What became of a request's records.
#[derive(Debug, Default)]
pub struct Mapped {
    pub events: Vec<LogEvent>,
    pub rejected: Vec<Rejected>,
}

/// The event's fields as OTLP names them, for the reasons of rejected records.
struct OtlpWording;

impl Wording for OtlpWording {
    fn name(&self, field: &Field) -> String {
        match field {
            Field::Service => "resource attribute service.name".to_owned(),
            Field::Level => "severityText".to_owned(),
            Field::Message => "body".to_owned(),
            Field::Timestamp => {
                "the record's time (timeUnixNano, else observedTimeUnixNano)".to_owned()
            }
            Field::TraceId => "traceId".to_owned(),
            Field::Metadata => {
                "the attributes (of the record, its scope and its resource together)".to_owned()
            }
            Field::MetadataKey(key) => format!("attribute key {}", quoted_key(key)),
            Field::MetadataValue(key) => format!("attribute {key}"),
        }
    }
}

/// Why a record was rejected, in OTLP's terms.
fn refusal(violation: &Violation) -> Refusal {
    match violation {
        // The body is required unless the event name stands in for it.
        Violation::Missing(Field::Message) | Violation::Blank(Field::Message) => {
            Refusal::malformed("the log record has no body (and no event name to stand for it)")
        }
        other => Refusal::of(other, &OtlpWording),
    }
}

/// How many log records a request holds.
pub fn record_count(request: &ExportLogsServiceRequest) -> usize {
    request
        .resource_logs
        .iter()
        .flat_map(|resource| &resource.scope_logs)
        .map(|scope| scope.log_records.len())
        .sum()
}

/// Maps every record of `request` and checks it; `defaults` stand in for a missing trace id
/// and time.
pub fn map_request(
    request: ExportLogsServiceRequest,
    defaults: Defaults<'_>,
    limits: &Limits,
) -> Mapped {
    let mut mapped = Mapped::default();
    for (r, resource_logs) in request.resource_logs.into_iter().enumerate() {
        let resource_attributes = resource_logs
            .resource
            .map(|resource| resource.attributes)
            .unwrap_or_default();
        let service = service(&resource_attributes);
        let mut resource_metadata = BTreeMap::new();
        flatten_attributes(&resource_attributes, &mut resource_metadata);
        for (s, scope_logs) in resource_logs.scope_logs.into_iter().enumerate() {
            let mut scope_metadata = resource_metadata.clone();
            scope_metadata_into(scope_logs.scope.as_ref(), &mut scope_metadata);
            for (l, record) in scope_logs.log_records.into_iter().enumerate() {
                let draft = draft(record, service.clone(), scope_metadata.clone());
                match draft.check(defaults, limits) {
                    Ok(event) => mapped.events.push(event.into_owned()),
                    Err(violation) => mapped.rejected.push(Rejected {
                        location: format!("resourceLogs[{r}].scopeLogs[{s}].logRecords[{l}]"),
                        refusal: refusal(&violation),
                    }),
                }
            }
        }
    }
    mapped
}

/// The resource's `service.name`, else [`UNKNOWN_SERVICE`].
fn service(attributes: &[KeyValue]) -> String {
    attributes
        .iter()
        .rev()
        .find(|attribute| attribute.key == "service.name")
        .map(|attribute| text(value_of(attribute)))
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| UNKNOWN_SERVICE.to_owned())
}

fn scope_metadata_into(
    scope: Option<&InstrumentationScope>,
    metadata: &mut BTreeMap<String, String>,
) {
    let Some(scope) = scope else { return };
    // The names OpenTelemetry gives the scope outside OTLP.
    if !scope.name.is_empty() {
        metadata.insert("otel.scope.name".to_owned(), scope.name.clone());
    }
    if !scope.version.is_empty() {
        metadata.insert("otel.scope.version".to_owned(), scope.version.clone());
    }
    flatten_attributes(&scope.attributes, metadata);
}

fn draft(
    record: LogRecord,
    service: String,
    mut metadata: BTreeMap<String, String>,
) -> Draft<'static> {
    let level = level(&record.severity_text, record.severity_number);
    let timestamp = time(&record).map(Time::At);
    let body = message(record.body.as_ref());
    let message = if !body.trim().is_empty() {
        Some(body)
    } else if !record.event_name.trim().is_empty() {
        Some(record.event_name)
    } else {
        None
    };
    flatten_attributes(&record.attributes, &mut metadata);
    if let Some(span_id) = hex_id(&record.span_id) {
        metadata.insert("span_id".to_owned(), span_id);
    }
    Draft {
        service: Some(service.into()),
        level: Some(level.as_str().into()),
        message: message.map(Into::into),
        timestamp,
        trace_id: hex_id(&record.trace_id).map(Into::into),
        metadata: metadata
            .into_iter()
            .map(|(key, value)| (key.into(), value.into()))
            .collect(),
    }
}

/// `severityText` when it is one of ours, else the `severityNumber` range, else INFO.
pub fn level(severity_text: &str, severity_number: i32) -> Level {
    if let Ok(level) = severity_text.trim().parse::<Level>() {
        return level;
    }
    match severity_number {
        1..=4 => Level::Trace,
        5..=8 => Level::Debug,
        9..=12 => Level::Info,
        13..=16 => Level::Warn,
        17..=20 => Level::Error,
        21..=24 => Level::Fatal,
        // Unspecified (0) or outside the defined range.
        _ => Level::Info,
    }
}

/// `timeUnixNano`, else `observedTimeUnixNano`; `None` when neither is set. Nanoseconds
/// past what a time can hold (about the year 2262) are read to the millisecond.
fn time(record: &LogRecord) -> Option<DateTime<chrono::Utc>> {
    let nanos = [record.time_unix_nano, record.observed_time_unix_nano]
        .into_iter()
        .find(|nanos| *nanos != 0)?;
    let millis = i64::try_from(nanos / 1_000_000).ok()?;
    let time = DateTime::from_timestamp_millis(millis)?;
    Some(time + chrono::TimeDelta::nanoseconds((nanos % 1_000_000) as i64))
}

/// The body as text: a string as is, anything else as JSON.
pub fn message(body: Option<&AnyValue>) -> String {
    match body.and_then(|body| body.value.as_ref()) {
        Some(Value::StringValue(text)) => text.clone(),
        None | Some(Value::StringValueStrindex(_)) => String::new(),
        Some(other) => to_json(Some(other)).to_string(),
    }
}

/// A trace or span id in lower-case hex; `None` when absent (empty or all zero, which
/// W3C Trace Context defines as invalid).
fn hex_id(bytes: &[u8]) -> Option<String> {
    if bytes.iter().all(|byte| *byte == 0) {
        None
    } else {
        Some(hex::encode(bytes))
    }
}

fn value_of(attribute: &KeyValue) -> Option<&Value> {
    attribute
        .value
        .as_ref()
        .and_then(|value| value.value.as_ref())
}

/// Adds `attributes` to `metadata`, later keys replacing earlier ones, nested key-value
/// lists flattened with dotted keys.
pub fn flatten_attributes(attributes: &[KeyValue], metadata: &mut BTreeMap<String, String>) {
    for attribute in attributes {
        flatten(attribute.key.clone(), value_of(attribute), metadata);
    }
}

fn flatten(key: String, value: Option<&Value>, metadata: &mut BTreeMap<String, String>) {
    match value {
        Some(Value::KvlistValue(list)) if !list.values.is_empty() => {
            for entry in &list.values {
                flatten(format!("{key}.{}", entry.key), value_of(entry), metadata);
            }
        }
        other => {
            metadata.insert(key, text(other));
        }
    }
}

/// A value as metadata text: strings as is, scalars as their text, bytes base64, arrays and
/// (empty) key-value lists as JSON.
fn text(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::StringValueStrindex(_)) => String::new(),
        Some(Value::StringValue(text)) => text.clone(),
        Some(Value::BoolValue(flag)) => flag.to_string(),
        Some(Value::IntValue(number)) => number.to_string(),
        Some(Value::DoubleValue(number)) => double_text(*number),
        Some(Value::BytesValue(bytes)) => BASE64.encode(bytes),
        Some(other @ (Value::ArrayValue(_) | Value::KvlistValue(_))) => {
            to_json(Some(other)).to_string()
        }
    }
}

/// Shortest text that reads back as the same double; the non-finite ones as OTLP/JSON
/// spells them.
fn double_text(number: f64) -> String {
    if number.is_nan() {
        "NaN".to_owned()
    } else if number.is_infinite() {
        if number > 0.0 {
            "Infinity"
        } else {
            "-Infinity"
        }
        .to_owned()
    } else {
        number.to_string()
    }
}

/// An `AnyValue` as plain JSON: key-value lists as objects, bytes as base64 strings.
fn to_json(value: Option<&Value>) -> Json {
    match value {
        None | Some(Value::StringValueStrindex(_)) => Json::Null,
        Some(Value::StringValue(text)) => Json::String(text.clone()),
        Some(Value::BoolValue(flag)) => Json::Bool(*flag),
        Some(Value::IntValue(number)) => Json::from(*number),
        Some(Value::DoubleValue(number)) => serde_json::Number::from_f64(*number)
            .map(Json::Number)
            .unwrap_or_else(|| Json::String(double_text(*number))),
        Some(Value::BytesValue(bytes)) => Json::String(BASE64.encode(bytes)),
        Some(Value::ArrayValue(array)) => Json::Array(
            array
                .values
                .iter()
                .map(|item| to_json(item.value.as_ref()))
                .collect(),
        ),
        Some(Value::KvlistValue(list)) => Json::Object(
            list.values
                .iter()
                .map(|entry| (entry.key.clone(), to_json(value_of(entry))))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rejection::Reason;
    use chrono::Utc;
    use opentelemetry_proto::tonic::{
        common::v1::{ArrayValue, KeyValueList},
        logs::v1::{ResourceLogs, ScopeLogs},
        resource::v1::Resource,
    };
    use traceflow_event::testing::{TRACE_ID as TRACE, any_time as wide, pairs, summary};

    fn now() -> DateTime<Utc> {
        "2026-05-05T12:00:00.123456Z".parse().unwrap()
    }

    fn string(text: &str) -> AnyValue {
        AnyValue {
            value: Some(Value::StringValue(text.to_owned())),
        }
    }

    fn attribute(key: &str, value: Value) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        }
    }

    fn request(
        resource: Vec<KeyValue>,
        scope: InstrumentationScope,
        records: Vec<LogRecord>,
    ) -> ExportLogsServiceRequest {
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(Resource {
                    attributes: resource,
                    ..Default::default()
                }),
                scope_logs: vec![ScopeLogs {
                    scope: Some(scope),
                    log_records: records,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    fn map_with(request: ExportLogsServiceRequest, limits: &Limits) -> Mapped {
        let defaults = Defaults {
            tenant: traceflow_event::DEFAULT_TENANT,
            trace_id: TRACE,
            now: now(),
            retention_days: None,
        };
        map_request(request, defaults, limits)
    }

    fn map(request: ExportLogsServiceRequest) -> Mapped {
        map_with(request, &wide())
    }

    #[test]
    fn records_outside_the_time_window_are_rejected_as_too_old_or_too_new() {
        let at = |time: &str| {
            let mut record = record(time);
            let time: DateTime<Utc> = time.parse().unwrap();
            record.time_unix_nano = time.timestamp_nanos_opt().unwrap() as u64;
            record
        };
        let mapped = map_with(
            request(
                vec![],
                InstrumentationScope::default(),
                vec![
                    at("2026-05-05T11:59:00Z"),
                    at("2026-03-01T00:00:00Z"),
                    at("2026-05-05T13:00:00Z"),
                ],
            ),
            &Limits::default(),
        );
        assert_eq!(mapped.events.len(), 1);
        let refusals: Vec<(Reason, &str)> = mapped
            .rejected
            .iter()
            .map(|r| (r.refusal.reason, r.refusal.message.as_str()))
            .collect();
        assert_eq!(
            refusals,
            [
                (
                    Reason::TooOld,
                    "the record's time (timeUnixNano, else observedTimeUnixNano) must be within \
                     the retention window of 30 days (RETENTION_DAYS): not before \
                     2026-04-05T12:00:00.123Z, got \"2026-03-01T00:00:00Z\""
                ),
                (
                    Reason::TooNew,
                    "the record's time (timeUnixNano, else observedTimeUnixNano) must not be \
                     more than 10m ahead of the server's clock (MAX_FUTURE_SKEW): not after \
                     2026-05-05T12:10:00.123Z, got \"2026-05-05T13:00:00Z\""
                ),
            ]
        );
    }

    fn record(body: &str) -> LogRecord {
        LogRecord {
            body: Some(string(body)),
            ..Default::default()
        }
    }

    #[test]
    fn levels_prefer_our_severity_text_then_the_number_ranges() {
        let cases = [
            ("", 0, Level::Info),
            ("warn", 0, Level::Warn),
            (" Fatal ", 9, Level::Fatal),
            ("WARNING", 13, Level::Warn),
            ("notice", 10, Level::Info),
            ("", 1, Level::Trace),
            ("", 4, Level::Trace),
            ("", 5, Level::Debug),
            ("", 8, Level::Debug),
            ("", 9, Level::Info),
            ("", 12, Level::Info),
            ("", 13, Level::Warn),
            ("", 16, Level::Warn),
            ("", 17, Level::Error),
            ("", 20, Level::Error),
            ("", 21, Level::Fatal),
            ("", 24, Level::Fatal),
            ("", 25, Level::Info),
            ("", -3, Level::Info),
            ("CRITICAL", 0, Level::Info),
        ];
        for (text, number, expected) in cases {
            assert_eq!(level(text, number), expected, "{text:?} {number}");
        }
    }

    #[test]
    fn every_field_is_mapped() {
        let scope = InstrumentationScope {
            name: "checkout.module".into(),
            version: "1.2.3".into(),
            attributes: vec![attribute("shared", Value::StringValue("scope".into()))],
            ..Default::default()
        };
        let mut record = record("card declined");
        record.severity_text = "Error".into();
        record.severity_number = 9;
        record.time_unix_nano = 1_777_975_200_250_999_999;
        record.observed_time_unix_nano = 1;
        record.trace_id = hex::decode("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
        record.span_id = hex::decode("00f067aa0ba902b7").unwrap();
        record.attributes = vec![
            attribute("shared", Value::StringValue("record".into())),
            attribute("retries", Value::IntValue(-3)),
            attribute("ratio", Value::DoubleValue(0.5)),
            attribute("whole", Value::DoubleValue(2.0)),
            attribute("ok", Value::BoolValue(false)),
            attribute("raw", Value::BytesValue(vec![0, 255])),
            attribute(
                "tags",
                Value::ArrayValue(ArrayValue {
                    values: vec![
                        string("a"),
                        AnyValue {
                            value: Some(Value::IntValue(1)),
                        },
                    ],
                }),
            ),
            attribute(
                "http",
                Value::KvlistValue(KeyValueList {
                    values: vec![
                        attribute("method", Value::StringValue("POST".into())),
                        attribute(
                            "request",
                            Value::KvlistValue(KeyValueList {
                                values: vec![attribute("size", Value::IntValue(12))],
                            }),
                        ),
                    ],
                }),
            ),
            attribute("empty", Value::KvlistValue(KeyValueList::default())),
        ];
        let mapped = map(request(
            vec![
                attribute("service.name", Value::StringValue("payments".into())),
                attribute("host.name", Value::StringValue("web-1".into())),
                attribute("shared", Value::StringValue("resource".into())),
            ],
            scope,
            vec![record],
        ));
        assert!(mapped.rejected.is_empty(), "{:?}", mapped.rejected);
        let event = &mapped.events[0];
        assert_eq!(
            summary(event),
            "2026-05-05T10:00:00.250Z payments ERROR 4bf92f3577b34da6a3ce929d0e0e4736 card declined"
        );
        assert_eq!(
            pairs(event),
            [
                ("empty", "{}"),
                ("host.name", "web-1"),
                ("http.method", "POST"),
                ("http.request.size", "12"),
                ("ok", "false"),
                ("otel.scope.name", "checkout.module"),
                ("otel.scope.version", "1.2.3"),
                ("ratio", "0.5"),
                ("raw", "AP8="),
                ("retries", "-3"),
                ("service.name", "payments"),
                ("shared", "record"),
                ("span_id", "00f067aa0ba902b7"),
                ("tags", r#"["a",1]"#),
                ("whole", "2"),
            ]
        );
    }

    #[test]
    fn defaults_fill_service_level_time_and_trace_id() {
        let mapped = map(request(
            vec![],
            InstrumentationScope::default(),
            vec![record("m")],
        ));
        let event = &mapped.events[0];
        assert_eq!(event.service, UNKNOWN_SERVICE);
        assert_eq!(event.level, Level::Info);
        assert_eq!(
            event.timestamp.to_rfc3339(),
            "2026-05-05T12:00:00.123+00:00"
        );
        assert_eq!(event.trace_id, TRACE);
        assert!(event.metadata.is_empty(), "{:?}", event.metadata);

        let mut observed = record("m");
        observed.observed_time_unix_nano = 1_000_000_001_500_000;
        observed.trace_id = vec![0; 16];
        observed.span_id = vec![0; 8];
        let mapped = map(request(
            vec![attribute("service.name", Value::StringValue("  ".into()))],
            InstrumentationScope::default(),
            vec![observed],
        ));
        let event = &mapped.events[0];
        assert_eq!(event.service, UNKNOWN_SERVICE);
        assert_eq!(
            event.timestamp.to_rfc3339(),
            "1970-01-12T13:46:40.001+00:00"
        );
        assert_eq!(event.trace_id, TRACE);
        assert!(!event.metadata.contains_key("span_id"));
    }

    #[test]
    fn bodies_other_than_strings_are_json() {
        let cases = [
            (Value::IntValue(42), "42"),
            (Value::DoubleValue(1.5), "1.5"),
            (Value::DoubleValue(f64::NAN), "\"NaN\""),
            (Value::BoolValue(true), "true"),
            (Value::BytesValue(b"hi".to_vec()), "\"aGk=\""),
            (
                Value::ArrayValue(ArrayValue {
                    values: vec![string("x"), AnyValue::default()],
                }),
                r#"["x",null]"#,
            ),
            (
                Value::KvlistValue(KeyValueList {
                    values: vec![
                        attribute("b", Value::IntValue(2)),
                        attribute("a", Value::StringValue("1".into())),
                    ],
                }),
                r#"{"a":"1","b":2}"#,
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(message(Some(&AnyValue { value: Some(body) })), expected);
        }
    }

    #[test]
    fn an_empty_body_takes_the_event_name_or_is_rejected() {
        let mut named = LogRecord {
            event_name: "browser.page_view".into(),
            ..Default::default()
        };
        named.body = None;
        let unnamed = record("   ");
        let mapped = map(request(
            vec![],
            InstrumentationScope::default(),
            vec![named, unnamed],
        ));
        assert_eq!(mapped.events.len(), 1);
        assert_eq!(mapped.events[0].message, "browser.page_view");
        assert_eq!(
            mapped.rejected,
            [Rejected {
                location: "resourceLogs[0].scopeLogs[0].logRecords[1]".into(),
                refusal: Refusal::malformed(
                    "the log record has no body (and no event name to stand for it)"
                ),
            }]
        );
    }

    #[test]
    fn records_breaking_limits_are_rejected_one_by_one() {
        let limits = wide();
        let mut long_body = record(&"x".repeat(limits.message_bytes + 1));
        long_body.severity_number = 9;
        let mut long_value = record("m");
        long_value.attributes = vec![attribute(
            "big",
            Value::StringValue("v".repeat(limits.metadata_value_bytes + 1)),
        )];
        let mut control_key = record("m");
        control_key.attributes = vec![attribute("a\nb", Value::BoolValue(true))];
        let mut empty_key = record("m");
        empty_key.attributes = vec![attribute("", Value::BoolValue(true))];
        let mut many = record("m");
        many.attributes = (0..=limits.metadata_keys)
            .map(|i| attribute(&format!("k{i}"), Value::IntValue(i as i64)))
            .collect();
        let mut far_future = record("m");
        far_future.time_unix_nano = u64::MAX;
        let mut long_trace = record("m");
        long_trace.trace_id = vec![1; 65];
        let mapped = map(request(
            vec![],
            InstrumentationScope::default(),
            vec![
                record("kept"),
                long_body,
                long_value,
                control_key,
                empty_key,
                many,
                far_future,
                long_trace,
            ],
        ));
        assert_eq!(mapped.events.len(), 1);
        assert_eq!(mapped.events[0].message, "kept");
        let reasons: Vec<&str> = mapped
            .rejected
            .iter()
            .map(|r| r.refusal.message.as_str())
            .collect();
        assert_eq!(
            reasons,
            [
                "body is longer than 262144 bytes",
                "attribute big is longer than 16384 bytes",
                "attribute key \"a\\nb\" must not contain control characters",
                "the attributes (of the record, its scope and its resource together) must not have an empty key",
                "the attributes (of the record, its scope and its resource together) must not have more than 128 keys, got 129",
                "the record's time (timeUnixNano, else observedTimeUnixNano) must be between 1970-01-01T00:00:00Z and 2105-12-31T23:59:59Z, got \"2554-07-21T23:34:33.709551615Z\"",
                "traceId is longer than 128 characters",
            ]
        );
        assert_eq!(
            mapped.rejected[6].location,
            "resourceLogs[0].scopeLogs[0].logRecords[7]"
        );
    }

    #[test]
    fn a_bad_service_name_rejects_its_resources_records() {
        let mapped = map(request(
            vec![attribute(
                "service.name",
                Value::StringValue("a\u{1b}b".into()),
            )],
            InstrumentationScope::default(),
            vec![record("one"), record("two")],
        ));
        assert!(mapped.events.is_empty());
        assert_eq!(mapped.rejected.len(), 2);
        assert_eq!(
            mapped.rejected[1].refusal.message,
            "resource attribute service.name must not contain control characters"
        );
    }

    #[test]
    fn the_latest_time_is_kept_and_the_next_millisecond_is_not() {
        let latest_nanos =
            traceflow_event::latest().timestamp_millis() as u64 * 1_000_000 + 999_999;
        let mut last = record("last");
        last.time_unix_nano = latest_nanos;
        let mut after = record("after");
        after.time_unix_nano = latest_nanos + 1;
        let mapped = map(request(
            vec![],
            InstrumentationScope::default(),
            vec![last, after],
        ));
        assert_eq!(mapped.events.len(), 1);
        assert_eq!(
            mapped.events[0].timestamp.to_rfc3339(),
            "2105-12-31T23:59:59.999+00:00"
        );
        assert_eq!(mapped.rejected.len(), 1);
    }
}
