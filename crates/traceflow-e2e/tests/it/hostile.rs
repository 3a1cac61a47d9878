//! Hostile input, as tables: every case is sent as raw bytes and must get its status and
//! error text. The accepted `POST /ingest` cases must be queued exactly and read back from
//! `GET /logs` byte for byte; the rejected ones must queue nothing; no case may get a 5xx,
//! panic a service, poison the queue or harm the table.

use redis::AsyncCommands;
use serde_json::{Map, Value, json};
use std::{
    collections::BTreeMap,
    io::{Read, Write},
    time::Duration,
};
use traceflow_testkit::{StackOptions, TestStack};

/// Larger than the default, so a message over its 256 KiB limit is a 400 (the field rule),
/// not a 413 (the body limit).
const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// What the error answer must say.
#[derive(Debug, Clone)]
enum Text {
    Exact(String),
    Prefix(String),
}

impl Text {
    fn check(&self, actual: &str) -> Result<(), String> {
        let ok = match self {
            Text::Exact(expected) => actual == expected,
            Text::Prefix(expected) => actual.starts_with(expected.as_str()),
        };
        if ok {
            Ok(())
        } else {
            Err(format!("error {actual:?}, expected {self:?}"))
        }
    }
}

fn exact(text: impl Into<String>) -> Text {
    Text::Exact(text.into())
}

fn prefix(text: impl Into<String>) -> Text {
    Text::Prefix(text.into())
}

/// How a case must be answered.
enum Expect {
    /// 202, and the event queued and stored with these fields (a subset of the event's).
    Accepted(Value),
    /// This status, with `{"error": ...}` saying this.
    Rejected(u16, Text),
}

struct IngestCase {
    name: String,
    content_type: Option<Vec<u8>>,
    body: Vec<u8>,
    expect: Expect,
}

const JSON: &[u8] = b"application/json";

/// The event every case starts from; a case's fields replace these.
fn base() -> Map<String, Value> {
    let Value::Object(base) = json!({"service": "hostile", "level": "INFO", "message": "m"}) else {
        unreachable!()
    };
    base
}

fn event_with(fields: Value) -> Map<String, Value> {
    let mut event = base();
    event.extend(fields.as_object().expect("fields are an object").clone());
    event
}

/// A rejected case whose body is the base event with `fields` replaced.
fn rejected(name: &str, fields: Value, status: u16, text: Text) -> IngestCase {
    raw_case(
        name,
        serde_json::to_vec(&event_with(fields)).unwrap(),
        status,
        text,
    )
}

/// A rejected case with a body as given, sent as `application/json`.
fn raw_case(name: &str, body: impl Into<Vec<u8>>, status: u16, text: Text) -> IngestCase {
    IngestCase {
        name: name.to_owned(),
        content_type: Some(JSON.to_vec()),
        body: body.into(),
        expect: Expect::Rejected(status, text),
    }
}

/// An accepted case whose body is the base event with `fields` replaced, and which must be
/// stored as sent. A missing `trace_id` is the request's, which is the case's name.
fn accepted(name: &str, fields: Value) -> IngestCase {
    let event = event_with(fields);
    let body = serde_json::to_vec(&event).unwrap();
    accepted_raw(name, JSON, body, Value::Object(event))
}

/// An accepted case with a body as given, which must be stored as `expected` (the base
/// event with these fields replaced).
fn accepted_raw(
    name: &str,
    content_type: &[u8],
    body: impl Into<Vec<u8>>,
    expected: Value,
) -> IngestCase {
    let mut stored = event_with(expected);
    if stored.get("trace_id").is_none_or(Value::is_null) {
        stored.insert("trace_id".into(), json!(name));
    }
    if stored.get("metadata").is_none_or(Value::is_null) {
        stored.insert("metadata".into(), json!({}));
    }
    if stored.get("timestamp").is_some_and(Value::is_null) {
        stored.remove("timestamp");
    }
    IngestCase {
        name: name.to_owned(),
        content_type: Some(content_type.to_vec()),
        body: body.into(),
        expect: Expect::Accepted(Value::Object(stored)),
    }
}

fn with_content_type(mut case: IngestCase, content_type: Option<&[u8]>) -> IngestCase {
    case.content_type = content_type.map(<[u8]>::to_vec);
    case
}

const LEVELS: &str = "level must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL (any case), got ";
const RFC3339: &str = "timestamp must be an RFC 3339 time such as 2026-05-05T10:00:00Z, got ";
const TIME_RANGE: &str =
    "timestamp must be between 1970-01-01T00:00:00Z and 2105-12-31T23:59:59Z, got ";
const SQL: &str = "'); DROP TABLE logs; --";

fn nested(open: &str, close: &str, depth: usize) -> String {
    format!("{}1{}", open.repeat(depth), close.repeat(depth))
}

fn ingest_cases() -> Vec<IngestCase> {
    let event = r#"{"service":"a","level":"INFO","message":"m"}"#;
    let many_keys = |count: usize| -> Value {
        (0..count)
            .map(|i| (format!("k{i:03}"), json!(i.to_string())))
            .collect::<Map<_, _>>()
            .into()
    };
    let mut cases = vec![
        // Empty, malformed and truncated JSON.
        raw_case("empty body", "", 400, exact("malformed JSON: the body is empty")),
        raw_case(
            "whitespace body",
            " \r\n\t ",
            400,
            exact("malformed JSON: the body is empty"),
        ),
        raw_case(
            "lone brace",
            "{",
            400,
            exact("malformed JSON: EOF while parsing an object at line 1 column 1"),
        ),
        raw_case(
            "truncated in a string",
            &event[..event.len() - 3],
            400,
            exact("malformed JSON: EOF while parsing a string at line 1 column 41"),
        ),
        raw_case(
            "truncated before the brace",
            &event[..event.len() - 1],
            400,
            exact("malformed JSON: EOF while parsing an object at line 1 column 43"),
        ),
        raw_case(
            "truncated in an escape",
            r#"{"service":"a","level":"INFO","message":"\u00"#,
            400,
            prefix("malformed JSON: "),
        ),
        raw_case(
            "truncated in a number",
            r#"{"service":"a","level":"INFO","message":"m","metadata":{"k":12"#,
            400,
            exact("malformed JSON: EOF while parsing an object at line 1 column 62"),
        ),
        raw_case(
            "trailing comma",
            r#"{"service":"a","level":"INFO","message":"m",}"#,
            400,
            exact("malformed JSON: trailing comma at line 1 column 45"),
        ),
        raw_case(
            "single quotes",
            "{'service':'a','level':'INFO','message':'m'}",
            400,
            exact("malformed JSON: key must be a string at line 1 column 2"),
        ),
        raw_case(
            "a comment",
            r#"{"service":"a", /* x */ "level":"INFO","message":"m"}"#,
            400,
            exact("malformed JSON: key must be a string at line 1 column 17"),
        ),
        raw_case(
            "NaN",
            r#"{"service":"a","level":"INFO","message":"m","metadata":{"k":NaN}}"#,
            400,
            exact("malformed JSON: expected value at line 1 column 61"),
        ),
        raw_case(
            "two events in one body",
            format!("{event}{event}"),
            400,
            exact("malformed JSON: trailing characters at line 1 column 45"),
        ),
        raw_case(
            "garbage after the event",
            format!("{event} DROP TABLE logs"),
            400,
            exact("malformed JSON: trailing characters at line 1 column 46"),
        ),
        raw_case(
            "a NUL byte after the event",
            format!("{event}\0"),
            400,
            exact("malformed JSON: trailing characters at line 1 column 45"),
        ),
        raw_case(
            "a byte order mark",
            format!("\u{feff}{event}"),
            400,
            exact(r#"malformed JSON: expected an object such as {"service": ...}"#),
        ),
        raw_case(
            "top-level null",
            "null",
            400,
            exact("invalid event: the body must be a JSON object"),
        ),
        raw_case(
            "top-level number",
            "1e999",
            400,
            exact("invalid event: the body must be a JSON object"),
        ),
        raw_case(
            "top-level string",
            r#""{\"service\":\"a\"}""#,
            400,
            exact("invalid event: the body must be a JSON object"),
        ),
        // Wrong types, one per field.
        rejected(
            "service is a boolean",
            json!({"service": true}),
            400,
            prefix("service: invalid type: boolean `true`, expected a string at line 1 column "),
        ),
        rejected(
            "level is a number",
            json!({"level": 5}),
            400,
            prefix("level: invalid type: integer `5`, expected a string at line 1 column "),
        ),
        rejected(
            "message is an array",
            json!({"message": ["m"]}),
            400,
            prefix("message: invalid type: sequence, expected a string at line 1 column "),
        ),
        rejected(
            "message is an object",
            json!({"message": {"text": "m"}}),
            400,
            prefix("message: invalid type: map, expected a string at line 1 column "),
        ),
        rejected(
            "timestamp is epoch seconds",
            json!({"timestamp": 1777975200}),
            400,
            prefix(
                "timestamp: invalid type: integer `1777975200`, expected a string at line 1 column ",
            ),
        ),
        rejected(
            "trace_id is an object",
            json!({"trace_id": {}}),
            400,
            prefix("trace_id: invalid type: map, expected a string at line 1 column "),
        ),
        rejected(
            "metadata is an array",
            json!({"metadata": [["k", "v"]]}),
            400,
            prefix("metadata: invalid type: sequence, expected an object at line 1 column "),
        ),
        rejected(
            "metadata is a string",
            json!({"metadata": "k=v"}),
            400,
            prefix(r#"metadata: invalid type: string "k=v", expected an object at line 1 column "#),
        ),
        rejected(
            "a metadata value is an object",
            json!({"metadata": {"k": {"x": 1}}}),
            400,
            prefix(
                "metadata.k: invalid type: map, expected a string, number or boolean at line 1 column ",
            ),
        ),
        rejected(
            "a metadata value is null",
            json!({"metadata": {"k": null}}),
            400,
            prefix(
                "metadata.k: invalid type: null, expected a string, number or boolean at line 1 column ",
            ),
        ),
        // null for a required field is a missing field; for an optional one, the default.
        rejected(
            "service is null",
            json!({"service": null}),
            400,
            exact("service is required"),
        ),
        rejected(
            "level is null",
            json!({"level": null}),
            400,
            exact("level is required"),
        ),
        rejected(
            "message is null",
            json!({"message": null}),
            400,
            exact("message is required"),
        ),
        accepted(
            "optional fields are null",
            json!({"timestamp": null, "trace_id": null, "metadata": null}),
        ),
        // Unknown fields, including ones that try to set what the server assigns.
        rejected(
            "unknown field id",
            json!({"id": "00000000-0000-0000-0000-000000000000"}),
            400,
            prefix(
                "id: unknown field `id`, expected one of `service`, `level`, `message`, `timestamp`, `trace_id`, `metadata` at line 1 column ",
            ),
        ),
        rejected(
            "unknown field __proto__",
            json!({"__proto__": {"admin": true}}),
            400,
            prefix("__proto__: unknown field `__proto__`"),
        ),
        rejected(
            "a field name in another case",
            json!({"Service": "x"}),
            400,
            prefix("Service: unknown field `Service`"),
        ),
        // Duplicate keys: refused, never one silently winning.
        raw_case(
            "duplicate service",
            r#"{"service":"a","service":"b","level":"INFO","message":"m"}"#,
            400,
            exact("duplicate field `service` at line 1 column 24"),
        ),
        raw_case(
            "duplicate message",
            r#"{"service":"a","level":"INFO","message":"m","message":"n"}"#,
            400,
            exact("duplicate field `message` at line 1 column 53"),
        ),
        raw_case(
            "duplicate metadata key",
            r#"{"service":"a","level":"INFO","message":"m","metadata":{"k":"1","k":"2"}}"#,
            400,
            exact(r#"metadata: duplicate key "k" at line 1 column 67"#),
        ),
        // Invalid UTF-8: raw bytes and escapes that name no character.
        raw_case(
            "a 0xFF byte in service",
            b"{\"service\":\"a\xff\",\"level\":\"INFO\",\"message\":\"m\"}".to_vec(),
            400,
            exact("malformed JSON: invalid unicode code point at line 1 column 14"),
        ),
        raw_case(
            "a truncated UTF-8 sequence in message",
            b"{\"service\":\"a\",\"level\":\"INFO\",\"message\":\"m\xc3\"}".to_vec(),
            400,
            prefix("malformed JSON: invalid unicode code point at line 1 column "),
        ),
        raw_case(
            "an overlong encoding of / in message",
            b"{\"service\":\"a\",\"level\":\"INFO\",\"message\":\"\xc0\xaf\"}".to_vec(),
            400,
            prefix("malformed JSON: invalid unicode code point at line 1 column "),
        ),
        raw_case(
            "an encoded surrogate in a metadata key",
            b"{\"service\":\"a\",\"level\":\"INFO\",\"message\":\"m\",\"metadata\":{\"\xed\xa0\x80\":\"v\"}}"
                .to_vec(),
            400,
            prefix("malformed JSON: invalid unicode code point at line 1 column "),
        ),
        raw_case(
            "a lone surrogate escape in message",
            r#"{"service":"a","level":"INFO","message":"\ud800"}"#,
            400,
            prefix("malformed JSON: "),
        ),
        raw_case(
            "a lone surrogate escape in a metadata value",
            r#"{"service":"a","level":"INFO","message":"m","metadata":{"k":"\udc00x"}}"#,
            400,
            prefix("metadata.k: invalid string: "),
        ),
        with_content_type(
            raw_case(
                "a UTF-16 body",
                event
                    .encode_utf16()
                    .flat_map(u16::to_le_bytes)
                    .collect::<Vec<u8>>(),
                400,
                prefix("malformed JSON: "),
            ),
            Some(b"application/json; charset=utf-16"),
        ),
        // NUL and control characters: raw ones are not JSON; escaped ones are refused in
        // names and kept verbatim in free text.
        raw_case(
            "a raw NUL byte in message",
            b"{\"service\":\"a\",\"level\":\"INFO\",\"message\":\"a\0b\"}".to_vec(),
            400,
            exact(
                r"malformed JSON: control character (\u0000-\u001F) found while parsing a string at line 1 column 43",
            ),
        ),
        raw_case(
            "a raw newline in service",
            "{\"service\":\"a\nb\",\"level\":\"INFO\",\"message\":\"m\"}",
            400,
            prefix(r"malformed JSON: control character (\u0000-\u001F) found while parsing a string"),
        ),
        rejected(
            "NUL in service",
            json!({"service": "auth\u{0}"}),
            400,
            exact("service must not contain control characters"),
        ),
        rejected(
            "a newline inside service",
            json!({"service": "auth\nFAKE"}),
            400,
            exact("service must not contain control characters"),
        ),
        rejected(
            "DEL in service",
            json!({"service": "a\u{7f}b"}),
            400,
            exact("service must not contain control characters"),
        ),
        rejected(
            "a C1 control in service",
            json!({"service": "a\u{85}b"}),
            400,
            exact("service must not contain control characters"),
        ),
        rejected(
            "an escape sequence in trace_id",
            json!({"trace_id": "t\u{1b}[2J"}),
            400,
            exact("trace_id must not contain control characters"),
        ),
        rejected(
            "NUL in a metadata key",
            json!({"metadata": {"a\u{0}b": "v"}}),
            400,
            exact(r#"metadata key "a\0b" must not contain control characters"#),
        ),
        rejected(
            "NUL in level",
            json!({"level": "INFO\u{0}"}),
            400,
            exact(format!("{LEVELS}\"INFO\\0\"")),
        ),
        accepted("NUL in message", json!({"message": "before\u{0}after"})),
        accepted(
            "control characters in message",
            json!({"message": "line 1\r\n2026-05-05 ERROR forged\u{1b}[31m red \u{7}\u{8}\u{85}"}),
        ),
        accepted(
            "control characters in a metadata value",
            json!({"metadata": {"k": "\u{0}\u{1}\t\r\n\u{1f}\u{7f}"}}),
        ),
        // SQL, quotes and exotic text in stored fields: kept verbatim.
        accepted(
            "SQL in service and message",
            json!({"service": SQL, "message": format!("{SQL} \" \\ ` ; SELECT 1 ?fields ?")}),
        ),
        accepted(
            "SQL in metadata",
            json!({"metadata": {SQL: SQL, "q": "' OR '1'='1", "b": "\\'"}}),
        ),
        accepted(
            "emoji and other 4-byte UTF-8",
            json!({"service": "🔥-svc", "message": "💥 𝕏 𐍈 🏳️‍🌈 👩🏽‍💻", "metadata": {"🔑": "🗝️"}}),
        ),
        accepted_raw(
            "a surrogate pair escape",
            JSON,
            r#"{"service":"hostile","level":"INFO","message":"\uD83D\uDD25 \u00e9"}"#,
            json!({"message": "🔥 é"}),
        ),
        accepted(
            "right-to-left text and overrides",
            json!({
                "service": "\u{202e}gol-htua",
                "message": "עברית العربية \u{200f}\u{202b}mixed\u{202c} \u{2067}x\u{2069}",
                "metadata": {"\u{200f}key": "\u{202e}value"}
            }),
        ),
        accepted(
            "combining marks, BOM, non-characters",
            json!({"message": "Z\u{351}\u{35b}\u{34b}a\u{300}\u{301} \u{feff} \u{fffd} \u{ffff} \u{10ffff}"}),
        ),
        accepted(
            "JSON inside strings",
            json!({"message": r#"{"service":"x","level":"FATAL"}"#, "metadata": {"json": "{\"a\":[1]}"}}),
        ),
        accepted_raw(
            "content type in another case, with a charset",
            b"Application/JSON; charset=UTF-8",
            r#"{"service":"hostile","level":"fatal","message":"m"}"#,
            json!({"level": "FATAL"}),
        ),
        // Numbers: no numeric field exists; metadata keeps a number's text exactly.
        accepted_raw(
            "numbers out of range in metadata",
            JSON,
            r#"{"service":"hostile","level":"INFO","message":"m","metadata":
                {"big":123456789012345678901234567890,"huge":1e400,"tiny":-1e-400,"f":1.0,"e":1E3,"z":-0,"t":true}}"#,
            json!({"metadata": {
                "big": "123456789012345678901234567890",
                "huge": "1e400",
                "tiny": "-1e-400",
                "f": "1.0",
                "e": "1E3",
                "z": "-0",
                "t": "true"
            }}),
        ),
        raw_case(
            "a number with a leading zero",
            r#"{"service":"a","level":"INFO","message":"m","metadata":{"k":01}}"#,
            400,
            exact("malformed JSON: invalid number at line 1 column 62"),
        ),
        raw_case(
            "a huge number as level",
            r#"{"service":"a","level":1e400,"message":"m"}"#,
            400,
            exact("malformed JSON: number out of range at line 1 column 28"),
        ),
        // Timestamps: the column holds 1970-01-01 to 2106-02-07; ingestion allows up to 2105.
        rejected(
            "timestamp before 1970 once in UTC",
            json!({"timestamp": "1970-01-01T00:30:00+01:00"}),
            400,
            exact(format!("{TIME_RANGE}\"1970-01-01T00:30:00+01:00\"")),
        ),
        rejected(
            "timestamp after 2105",
            json!({"timestamp": "2106-01-01T00:00:00Z"}),
            400,
            exact(format!("{TIME_RANGE}\"2106-01-01T00:00:00Z\"")),
        ),
        rejected(
            "timestamp in year 9999",
            json!({"timestamp": "9999-12-31T23:59:59Z"}),
            400,
            exact(format!("{TIME_RANGE}\"9999-12-31T23:59:59Z\"")),
        ),
        rejected(
            "timestamp with offset +25:00",
            json!({"timestamp": "2026-05-05T10:00:00+25:00"}),
            400,
            exact(format!("{RFC3339}\"2026-05-05T10:00:00+25:00\"")),
        ),
        rejected(
            "timestamp with offset +0530",
            json!({"timestamp": "2026-05-05T10:00:00+0530"}),
            400,
            exact(format!("{RFC3339}\"2026-05-05T10:00:00+0530\"")),
        ),
        rejected(
            "timestamp without offset",
            json!({"timestamp": "2026-05-05T10:00:00"}),
            400,
            exact(format!("{RFC3339}\"2026-05-05T10:00:00\"")),
        ),
        rejected(
            "timestamp on February 30",
            json!({"timestamp": "2026-02-30T10:00:00Z"}),
            400,
            exact(format!("{RFC3339}\"2026-02-30T10:00:00Z\"")),
        ),
        rejected(
            "timestamp with SQL",
            json!({"timestamp": format!("2026-05-05T10:00:00Z{SQL}")}),
            400,
            exact(format!("{RFC3339}\"2026-05-05T10:00:00Z{SQL}\"")),
        ),
        accepted_raw(
            "timestamp at the epoch",
            JSON,
            r#"{"service":"hostile","level":"INFO","message":"m","timestamp":"1970-01-01T01:00:00+01:00"}"#,
            json!({"timestamp": "1970-01-01T00:00:00.000Z"}),
        ),
        accepted_raw(
            "timestamp at the last millisecond allowed",
            JSON,
            r#"{"service":"hostile","level":"INFO","message":"m","timestamp":"2105-12-31T23:59:59.999Z"}"#,
            json!({"timestamp": "2105-12-31T23:59:59.999Z"}),
        ),
        accepted_raw(
            "timestamp with offset +14:00 and nanoseconds",
            JSON,
            r#"{"service":"hostile","level":"INFO","message":"m","timestamp":"2026-05-05T10:00:00.123456789+14:00"}"#,
            json!({"timestamp": "2026-05-04T20:00:00.123Z"}),
        ),
        accepted_raw(
            "timestamp on a leap second",
            JSON,
            r#"{"service":"hostile","level":"INFO","message":"m","timestamp":"2016-12-31T23:59:60Z"}"#,
            json!({"timestamp": "2016-12-31T23:59:59.999Z"}),
        ),
        // Field limits, just over and exactly at each.
        rejected(
            "service of 257 characters",
            json!({"service": "s".repeat(257)}),
            400,
            exact("service is longer than 256 characters"),
        ),
        accepted(
            "service of 256 four-byte characters",
            json!({"service": "🔥".repeat(256)}),
        ),
        rejected(
            "trace_id of 129 characters",
            json!({"trace_id": "t".repeat(129)}),
            400,
            exact("trace_id is longer than 128 characters"),
        ),
        accepted(
            "trace_id of 128 characters",
            json!({"trace_id": "t".repeat(128)}),
        ),
        rejected(
            "message over 256 KiB",
            json!({"message": "m".repeat(256 * 1024 + 1)}),
            400,
            exact("message is longer than 262144 bytes"),
        ),
        accepted(
            "message of exactly 256 KiB",
            json!({"message": "é".repeat(128 * 1024)}),
        ),
        rejected(
            "metadata with 129 keys",
            json!({"metadata": many_keys(129)}),
            400,
            exact("metadata must not have more than 128 keys, got 129"),
        ),
        accepted("metadata with 128 keys", json!({"metadata": many_keys(128)})),
        rejected(
            "a metadata key of 257 characters",
            json!({"metadata": {"k".repeat(257): "v"}}),
            400,
            exact(format!(
                "metadata key {:?}... is longer than 256 characters",
                "k".repeat(32)
            )),
        ),
        rejected(
            "an empty metadata key",
            json!({"metadata": {"": "v"}}),
            400,
            exact("metadata must not have an empty key"),
        ),
        rejected(
            "a metadata value over 16 KiB",
            json!({"metadata": {"k": "v".repeat(16 * 1024 + 1)}}),
            400,
            exact("metadata.k is longer than 16384 bytes"),
        ),
        accepted(
            "a metadata key and value at their limits",
            json!({"metadata": {"k".repeat(256): "v".repeat(16 * 1024)}}),
        ),
        rejected(
            "a level of 100,000 characters",
            json!({"level": "L".repeat(100_000)}),
            400,
            prefix(format!("{LEVELS}\"LLLL")),
        ),
        rejected(
            "an unknown field name of 100,000 characters",
            json!({"x".repeat(100_000): 1}),
            400,
            prefix("xxxx"),
        ),
        raw_case(
            "a body over MAX_BODY_BYTES",
            serde_json::to_vec(&event_with(json!({"message": "m".repeat(MAX_BODY_BYTES)})))
                .unwrap(),
            413,
            exact(format!(
                "request body is larger than the limit of {MAX_BODY_BYTES} bytes"
            )),
        ),
        // Deep nesting: refused without recursing (no stack overflow, no panic).
        raw_case(
            "10,000 nested arrays in metadata",
            format!(
                r#"{{"service":"a","level":"INFO","message":"m","metadata":{{"k":{}}}}}"#,
                nested("[", "]", 10_000)
            ),
            400,
            prefix("metadata.k: invalid type: sequence, expected a string, number or boolean"),
        ),
        raw_case(
            "10,000 nested objects in metadata",
            format!(
                r#"{{"service":"a","level":"INFO","message":"m","metadata":{{"k":{}}}}}"#,
                nested(r#"{"k":"#, "}", 10_000)
            ),
            400,
            prefix("metadata.k: invalid type: map, expected a string, number or boolean"),
        ),
        raw_case(
            "100,000 nested arrays as the body",
            nested("[", "]", 100_000),
            400,
            // A batch whose one event is not an object.
            exact("1 of 1 events are invalid, nothing was accepted; first: event 0: an event must be a JSON object"),
        ),
        raw_case(
            "100,000 unclosed arrays as the body",
            "[".repeat(100_000),
            400,
            exact("malformed JSON: EOF while parsing a list at line 1 column 100000"),
        ),
        raw_case(
            "10,000 nested arrays in message",
            format!(
                r#"{{"service":"a","level":"INFO","message":{}}}"#,
                nested("[", "]", 10_000)
            ),
            400,
            prefix("message: invalid type: sequence, expected a string"),
        ),
        raw_case(
            "10,000 nested arrays in an unknown field",
            format!(r#"{{"x":{},"service":"a"}}"#, nested("[", "]", 10_000)),
            400,
            prefix("x: unknown field `x`"),
        ),
    ];
    // Content types other than JSON, with a body that would otherwise be accepted.
    for content_type in [
        &b"text/plain"[..],
        b"application/x-www-form-urlencoded",
        b"multipart/form-data; boundary=x",
        b"application/jsonp",
        b"application/ld+json",
        b"text/json",
        b"",
        b"application/json\xff",
        b"json",
    ] {
        let name = format!(
            "content type {:?}",
            String::from_utf8_lossy(content_type).as_ref()
        );
        cases.push(with_content_type(
            raw_case(
                &name,
                event,
                415,
                exact("Content-Type must be application/json (one event or an array) or application/x-ndjson"),
            ),
            Some(content_type),
        ));
    }
    cases
}

/// The fields of `actual` that `expected` names.
fn subset(actual: &Value, expected: &Value) -> Value {
    expected
        .as_object()
        .unwrap()
        .keys()
        .map(|key| (key.clone(), actual[key].clone()))
        .collect::<Map<_, _>>()
        .into()
}

async fn post(stack: &TestStack, case: &IngestCase) -> reqwest::Response {
    let mut request = stack
        .http
        .post(format!("{}/ingest", stack.ingestion_url))
        .header("X-Trace-ID", case.name.as_str())
        .body(case.body.clone());
    if let Some(content_type) = &case.content_type {
        request = request.header(
            "Content-Type",
            reqwest::header::HeaderValue::from_bytes(content_type).unwrap(),
        );
    }
    request.send().await.expect("ingestion answers")
}

#[tokio::test]
async fn hostile_ingest_input_gets_its_status_and_error_and_queues_only_what_is_valid() {
    let mut stack = TestStack::spawn_with(StackOptions {
        worker: false,
        max_body_bytes: Some(MAX_BODY_BYTES),
        poll_interval: Duration::from_millis(100),
        ..StackOptions::default()
    })
    .await;
    let cases = ingest_cases();
    let mut failures = Vec::new();
    let mut expected_events = Vec::new();
    for case in &cases {
        let answer = post(&stack, case).await;
        let status = answer.status().as_u16();
        let echoed = answer.headers().get("x-trace-id").cloned();
        let body: Value = answer.json().await.unwrap_or(Value::Null);
        let outcome = match &case.expect {
            Expect::Accepted(event) => {
                expected_events.push(event.clone());
                if status == 202 && body["trace_id"] == event["trace_id"] {
                    Ok(())
                } else {
                    Err(format!("{status} {body}, expected 202"))
                }
            }
            Expect::Rejected(expected, text) if status == *expected => body["error"]
                .as_str()
                .ok_or_else(|| format!("no error text: {body}"))
                .and_then(|error| text.check(error)),
            Expect::Rejected(expected, _) => Err(format!("{status} {body}, expected {expected}")),
        };
        let outcome = outcome.and_then(|()| match echoed {
            Some(id) if id == case.name.as_str() => Ok(()),
            other => Err(format!("X-Trace-ID {other:?} is not the request's")),
        });
        if let Err(why) = outcome {
            failures.push(format!("{}: {why}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );

    // Nothing poisoned: a normal event is still accepted.
    let normal = json!({"service": "normal", "level": "INFO", "message": "still fine", "trace_id": "normal"});
    assert_eq!(stack.ingest(&normal).await.status(), 202);
    expected_events.push(json!({
        "service": "normal", "level": "INFO", "message": "still fine", "trace_id": "normal", "metadata": {}
    }));

    // The queue holds exactly the accepted events, in order, as sent.
    let queued: Vec<Value> = stack
        .queued()
        .await
        .iter()
        .map(|event| serde_json::to_value(event).unwrap())
        .collect();
    assert_eq!(queued.len(), expected_events.len(), "queued: {queued:#?}");
    for (queued, expected) in queued.iter().zip(&expected_events) {
        assert_eq!(&subset(queued, expected), expected);
    }

    // Stored and read back byte for byte.
    stack.start_worker().await;
    let answer = stack
        .wait_for_logs("limit=1000", expected_events.len(), Duration::from_secs(60))
        .await;
    assert_eq!(answer["count"], expected_events.len());
    let stored: BTreeMap<&str, &Value> = answer["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|log| (log["trace_id"].as_str().unwrap(), log))
        .collect();
    for expected in &expected_events {
        let trace_id = expected["trace_id"].as_str().unwrap();
        let log = stored
            .get(trace_id)
            .unwrap_or_else(|| panic!("{trace_id} was not stored"));
        assert_eq!(&subset(log, expected), expected, "{trace_id}");
    }
    let dead: usize = stack
        .redis()
        .await
        .llen(stack.queue_keys.dead())
        .await
        .unwrap();
    assert_eq!(dead, 0, "nothing accepted is dead-lettered");

    // The services still answer.
    for url in [&stack.ingestion_url, &stack.query_url] {
        let health = stack
            .http
            .get(format!("{url}/health"))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), 200, "{url}");
    }
    stack.shutdown().await;
}

/// How a `GET /logs` case must be answered.
enum Answer {
    /// 200 with this many rows.
    Rows(usize),
    /// This status, with `{"error": ...}` saying this.
    Error(u16, Text),
}

fn bad(text: Text) -> Answer {
    Answer::Error(400, text)
}

/// `value`, percent-encoded as a form would send it.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Sends `GET <target>` over a bare connection, for targets an HTTP client would refuse
/// or repair; returns the status.
async fn raw_get(base_url: &str, target: &[u8]) -> u16 {
    let address = base_url.trim_start_matches("http://").to_owned();
    let mut request = b"GET ".to_vec();
    request.extend_from_slice(target);
    request.extend_from_slice(b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(&request).unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let head = String::from_utf8_lossy(&answer[..answer.len().min(12)]).into_owned();
        head.strip_prefix("HTTP/1.1 ")
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP answer: {head:?}"))
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn hostile_query_parameters_are_400s_or_match_nothing_and_harm_nothing() {
    let stack = TestStack::spawn().await;
    // Rows to find (and to lose, were any parameter spliced into the SQL).
    let rows = [
        json!({"service": SQL, "level": "ERROR", "message": SQL, "timestamp": "2026-05-05T10:00:00Z"}),
        json!({"service": "auth", "level": "INFO", "message": "ok", "timestamp": "2026-05-05T11:00:00Z"}),
        json!({"service": "🔥-svc", "level": "WARN", "message": "m", "timestamp": "2026-05-05T12:00:00Z"}),
    ];
    for row in &rows {
        assert_eq!(stack.ingest(row).await.status(), 202);
    }
    stack
        .wait_for_logs("", rows.len(), Duration::from_secs(30))
        .await;

    let level_error = |got: &str| {
        exact(format!(
            "level must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL (any case), got {got:?}"
        ))
    };
    let time_error = |name: &str, got: &str| {
        exact(format!(
            "{name} must be an RFC 3339 time such as 2026-05-05T10:00:00Z, got {got:?}"
        ))
    };
    let number_error =
        |name: &str, got: &str| exact(format!("{name} must be a whole number, got {got:?}"));
    let long = "a".repeat(10_000);
    let injection = "x' OR '1'='1' --";
    let cases: Vec<(String, Answer)> = vec![
        // SQL in every parameter.
        (format!("service={}", encode(injection)), Answer::Rows(0)),
        (format!("service={}", encode(SQL)), Answer::Rows(1)),
        (
            format!("service={}", encode("auth' OR service != '")),
            Answer::Rows(0),
        ),
        (format!("service={}", encode("auth\\")), Answer::Rows(0)),
        (format!("service={}", encode("?fields")), Answer::Rows(0)),
        (
            format!("service={}", encode("a\0' OR 1=1 --")),
            Answer::Rows(0),
        ),
        (format!("service={}", encode("auth\r\n")), Answer::Rows(1)),
        (format!("service={}", encode("🔥-svc")), Answer::Rows(1)),
        (
            format!("level={}", encode("ERROR' OR '1'='1")),
            bad(level_error("ERROR' OR '1'='1")),
        ),
        (
            format!("from={}", encode("2026-05-05T00:00:00Z' OR 1=1 --")),
            bad(time_error("from", "2026-05-05T00:00:00Z' OR 1=1 --")),
        ),
        (format!("to={}", encode(SQL)), bad(time_error("to", SQL))),
        (
            format!("limit={}", encode("1; DROP TABLE logs")),
            bad(number_error("limit", "1; DROP TABLE logs")),
        ),
        (
            format!("offset={}", encode("0 UNION SELECT 1")),
            bad(number_error("offset", "0 UNION SELECT 1")),
        ),
        (
            format!("{}=1", encode("service' OR 1=1")),
            bad(exact(
                "unknown parameter \"service' OR 1=1\"; expected service, level, from, to, q, trace_id, metadata.<key>, limit, offset, order or cursor",
            )),
        ),
        // limit and offset: negative, huge, not numbers.
        (
            "limit=-99999999999999999999999999999999999999999999".into(),
            Answer::Rows(3),
        ),
        (
            "limit=99999999999999999999999999999999999999999999".into(),
            Answer::Rows(3),
        ),
        ("limit=+2".into(), Answer::Rows(2)),
        ("limit=".into(), bad(number_error("limit", ""))),
        ("limit=1e3".into(), bad(number_error("limit", "1e3"))),
        ("limit=0x10".into(), bad(number_error("limit", "0x10"))),
        ("limit=NaN".into(), bad(number_error("limit", "NaN"))),
        ("limit=--1".into(), bad(number_error("limit", "--1"))),
        (
            format!("limit={}", encode("１０")),
            bad(number_error("limit", "１０")),
        ),
        ("offset=-0".into(), Answer::Rows(3)),
        ("offset=2".into(), Answer::Rows(1)),
        (
            "offset=-99999999999999999999999999999".into(),
            bad(exact(
                "offset must not be negative, got -99999999999999999999999999999",
            )),
        ),
        ("offset=18446744073709551615".into(), Answer::Rows(0)),
        (
            "offset=18446744073709551616".into(),
            bad(exact("offset is too large, got 18446744073709551616")),
        ),
        (
            "offset=Infinity".into(),
            bad(number_error("offset", "Infinity")),
        ),
        // from and to: order is compared in UTC, times the column cannot hold match nothing.
        (
            "from=2026-05-05T11:00:00%2B02:00&to=2026-05-05T10:00:00Z".into(),
            Answer::Rows(1),
        ),
        (
            "from=2026-05-05T10:00:00Z&to=2026-05-05T11:00:00%2B02:00".into(),
            bad(exact("from must not be after to")),
        ),
        (
            "from=2105-12-31T23:59:59Z&to=1970-01-01T00:00:00Z".into(),
            bad(exact("from must not be after to")),
        ),
        (
            "from=2026-05-05T10:00:00Z&to=2026-05-05T10:00:00Z".into(),
            Answer::Rows(1),
        ),
        ("from=9999-12-31T23:59:59Z".into(), Answer::Rows(0)),
        (
            "from=0001-01-01T00:00:00Z&to=9999-12-31T23:59:59.999Z".into(),
            Answer::Rows(3),
        ),
        ("from=1969-12-31T23:59:59.999Z".into(), Answer::Rows(3)),
        (
            "to=1969-12-31T23:59:59.999Z".into(),
            bad(exact(
                "to must not be before 1970-01-01T00:00:00Z: no event is that old",
            )),
        ),
        (
            "to=0001-01-01T00:00:00Z".into(),
            bad(exact(
                "to must not be before 1970-01-01T00:00:00Z: no event is that old",
            )),
        ),
        // Invalid percent-encoding is kept as text; bytes that are not UTF-8 are refused.
        ("service=%zz".into(), Answer::Rows(0)),
        ("service=%".into(), Answer::Rows(0)),
        ("limit=%zz".into(), bad(number_error("limit", "%zz"))),
        (
            "service=%FF".into(),
            bad(exact("service is not valid UTF-8 once percent-decoded")),
        ),
        (
            "level=%C3%28".into(),
            bad(exact("level is not valid UTF-8 once percent-decoded")),
        ),
        (
            "%FF%FE=1".into(),
            bad(exact(
                "parameter name \"%FF%FE\" is not valid UTF-8 once percent-decoded",
            )),
        ),
        // Repeated parameters.
        (
            "service=auth&service=x".into(),
            bad(exact("parameter service given more than once")),
        ),
        (
            "level=INFO&level=ERROR".into(),
            bad(exact("parameter level given more than once")),
        ),
        (
            "limit=1&limit=1000".into(),
            bad(exact("parameter limit given more than once")),
        ),
        (
            "offset=0&offset=0".into(),
            bad(exact("parameter offset given more than once")),
        ),
        (
            "from=2026-05-05T00:00:00Z&from=2026-05-05T00:00:00Z".into(),
            bad(exact("parameter from given more than once")),
        ),
        (
            "to=2026-05-05T00:00:00Z&service=auth&to=2026-05-05T00:00:00Z".into(),
            bad(exact("parameter to given more than once")),
        ),
        (
            "service=auth&service".into(),
            bad(exact("parameter service given more than once")),
        ),
        // Very long values.
        (format!("service={long}"), Answer::Rows(0)),
        (format!("level={long}"), bad(level_error(&long))),
        (format!("from={long}"), bad(time_error("from", &long))),
        (format!("limit={}", "9".repeat(10_000)), Answer::Rows(3)),
        (
            format!("offset={}", "9".repeat(10_000)),
            bad(exact(format!(
                "offset is too large, got {}",
                "9".repeat(10_000)
            ))),
        ),
        (format!("{long}=1"), bad(prefix("unknown parameter \"aaaa"))),
    ];
    let mut failures = Vec::new();
    for (query, expected) in &cases {
        let answer = stack.logs(query).await;
        let status = answer.status().as_u16();
        let body: Value = answer.json().await.unwrap_or(Value::Null);
        let outcome = match expected {
            Answer::Rows(count) if status == 200 && body["count"] == *count => Ok(()),
            Answer::Rows(count) => Err(format!("{status} {body}, expected 200 with {count} rows")),
            Answer::Error(expected, text) if status == *expected => body["error"]
                .as_str()
                .ok_or_else(|| format!("no error text: {body}"))
                .and_then(|error| text.check(error)),
            Answer::Error(expected, _) => Err(format!("{status} {body}, expected {expected}")),
        };
        if let Err(why) = outcome {
            let shown: String = query.chars().take(120).collect();
            failures.push(format!("{shown}: {why}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );

    // Request targets no client would send: refused by the HTTP layer, never a 5xx.
    let mut huge_target = b"/logs?service=".to_vec();
    huge_target.extend(std::iter::repeat_n(b'a', 100_000));
    for (target, expected) in [
        (&b"/logs?service=\xff"[..], 400),
        (b"/logs?service=a b", 400),
        (b"/logs?service=\x00", 400),
        (&huge_target, 414),
    ] {
        let shown = String::from_utf8_lossy(&target[..target.len().min(40)]).into_owned();
        assert_eq!(raw_get(&stack.query_url, target).await, expected, "{shown}");
    }

    // The table is unharmed and the service still answers.
    assert_eq!(stack.stored_rows().await, rows.len() as u64);
    let (status, body) = {
        let answer = stack.logs("").await;
        (answer.status(), answer.json::<Value>().await.unwrap())
    };
    assert_eq!(status, 200);
    assert_eq!(body["count"], rows.len());
    assert_eq!(body["logs"][2]["service"], SQL);
    assert_eq!(body["logs"][2]["message"], SQL);
    stack.shutdown().await;
}
