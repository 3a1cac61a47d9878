//! Hostile input, as tables: every case is sent as raw bytes and must get its status and
//! error text. The accepted `POST /ingest` cases must be queued exactly and read back from
//! `GET /logs` byte for byte; the rejected ones must queue nothing; no case may get a 5xx,
//! panic a service, poison the queue or harm the table.
//!
//! Errors are asserted in our own words: the whole message where all of it is ours, and
//! where the JSON library explains a failure, only what we put before its sentence
//! (`malformed JSON: `, the path of the field at fault), not its wording or positions.

use crate::stored::{assert_fields, encode};
use serde_json::{Map, Value, json};
use std::{
    collections::{BTreeMap, BTreeSet},
    io::{Read, Write},
    time::Duration,
};
use traceflow_testkit::{StackOptions, TestStack};

/// Larger than the default, so a message over its 256 KiB limit is a 400 (the field rule),
/// not a 413 (the body limit).
const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
/// Smaller than the default, so that a batch over it is a small body.
const MAX_BATCH_EVENTS: usize = 100;

const SQL: &str = "'); DROP TABLE logs; --";

/// What an error answer must say.
#[derive(Debug, Clone)]
enum Text {
    /// All of it, every word ours.
    Exact(String),
    /// Our words first (`malformed JSON: `, a field's path), then the JSON library's
    /// explanation, whatever its wording.
    Prefix(String),
}

impl Text {
    fn check(&self, actual: &str) -> Result<(), String> {
        let (ok, expected, what) = match self {
            Text::Exact(expected) => (actual == expected, expected, ""),
            Text::Prefix(start) => (actual.starts_with(start.as_str()), start, "one beginning "),
        };
        if ok {
            return Ok(());
        }
        let (actual, expected) = excerpts_where_they_differ(actual, expected);
        Err(format!("error {actual}, expected {what}{expected}"))
    }
}

/// Characters shown of a long text, and of what comes before a difference.
const SHOWN: usize = 160;
const CONTEXT: usize = 40;

/// `actual` and `expected` quoted; when long (some cases send 100,000 characters), both
/// from a little before where they first differ, so that a failure shows the difference.
fn excerpts_where_they_differ(actual: &str, expected: &str) -> (String, String) {
    let short = |text: &str| text.chars().nth(SHOWN).is_none();
    if short(actual) && short(expected) {
        return (excerpt(actual, 0), excerpt(expected, 0));
    }
    let differ = actual
        .char_indices()
        .zip(expected.chars())
        .find(|((_, a), b)| a != b)
        .map_or(actual.len().min(expected.len()), |((at, _), _)| at);
    let from = actual[..differ]
        .char_indices()
        .rev()
        .nth(CONTEXT)
        .map_or(0, |(at, _)| at);
    (excerpt(actual, from), excerpt(expected, from))
}

/// `text` quoted, from byte `from` (a character boundary) and cut after [`SHOWN`]
/// characters, saying so.
fn excerpt(text: &str, from: usize) -> String {
    let rest = &text[from..];
    let cut = rest.char_indices().nth(SHOWN).map(|(at, _)| at);
    if from == 0 && cut.is_none() {
        return format!("{text:?}");
    }
    format!(
        "{}{:?}{} ({} bytes)",
        if from > 0 { "..." } else { "" },
        &rest[..cut.unwrap_or(rest.len())],
        if cut.is_some() { "..." } else { "" },
        text.len()
    )
}

fn exact(text: impl Into<String>) -> Text {
    Text::Exact(text.into())
}

fn prefix(text: impl Into<String>) -> Text {
    Text::Prefix(text.into())
}

// Our messages, as the cases of both endpoints expect them.

/// A body that is not JSON: our prefix, then the JSON library's explanation.
fn malformed_json() -> Text {
    prefix("malformed JSON: ")
}

/// A field the JSON library could not read (a wrong type, an unknown name): its path, then
/// the library's explanation.
fn at_path(path: &str) -> Text {
    prefix(format!("{path}: "))
}

fn required(field: &str) -> Text {
    exact(format!("{field} is required"))
}

fn too_long(field: &str, limit: usize, unit: &str) -> Text {
    exact(format!("{field} is longer than {limit} {unit}"))
}

fn control_characters(field: &str) -> Text {
    exact(format!("{field} must not contain control characters"))
}

fn unknown_level(got: &str) -> Text {
    exact(format!(
        "level must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL (any case), got {got:?}"
    ))
}

fn unreadable_time(name: &str, got: &str) -> Text {
    exact(format!(
        "{name} must be an RFC 3339 time such as 2026-05-05T10:00:00Z, got {got:?}"
    ))
}

fn time_out_of_range(got: &str) -> Text {
    exact(format!(
        "timestamp must be between 1970-01-01T00:00:00Z and 2105-12-31T23:59:59Z, got {got:?}"
    ))
}

/// A refused batch: how many of its events failed and why the first did.
fn invalid_events(invalid: usize, total: usize, first: usize, reason: &str) -> String {
    format!(
        "{invalid} of {total} events are invalid, nothing was accepted; first: event {first}: {reason}"
    )
}

const NOT_AN_EVENT: &str = "an event must be a JSON object";
const NOT_AN_OBJECT: &str = "invalid event: the body must be a JSON object";
const EMPTY_BODY: &str = "malformed JSON: the body is empty";
const NO_EVENTS: &str = "the request holds no events";

/// How a case must be answered.
enum Expect {
    /// 202 with this answer, and these events queued and stored in order (each with the
    /// fields named, which must match).
    Accepted { answer: Value, events: Vec<Value> },
    /// This status, with `{"error": ...}` saying this.
    Rejected(u16, Text),
}

struct IngestCase {
    /// Also the request's trace id, which is how its rows are found.
    name: String,
    content_type: Option<Vec<u8>>,
    body: Vec<u8>,
    expect: Expect,
}

const JSON: &[u8] = b"application/json";
const NDJSON: &[u8] = b"application/x-ndjson";

/// The event every case starts from; a case's fields replace these.
const BASE: &str = r#"{"service":"hostile","level":"INFO","message":"m"}"#;

fn event_with(fields: Value) -> Map<String, Value> {
    let mut event: Map<String, Value> = serde_json::from_str(BASE).unwrap();
    event.extend(fields.as_object().expect("fields are an object").clone());
    event
}

/// The base event as JSON text with `members` (such as `"metadata":{"k":NaN}`) after its
/// fields.
fn base_with(members: &str) -> String {
    format!("{},{members}}}", &BASE[..BASE.len() - 1])
}

/// The event stored for the base event with `fields` replaced, sent with the request trace
/// id `name`: the request's trace id and no metadata where the event gives none, the
/// server's time where it gives no timestamp.
fn stored_event(name: &str, fields: Value) -> Value {
    let mut stored = event_with(fields);
    if stored.get("trace_id").is_none_or(Value::is_null) {
        stored.insert("trace_id".into(), json!(name));
    }
    if stored.get("metadata").is_none_or(Value::is_null) {
        stored.insert("metadata".into(), json!({}));
    }
    if stored.get("timestamp").is_some_and(Value::is_null) {
        stored.remove("timestamp");
    }
    Value::Object(stored)
}

impl IngestCase {
    fn new(name: &str, body: impl Into<Vec<u8>>, expect: Expect) -> Self {
        IngestCase {
            name: name.to_owned(),
            content_type: Some(JSON.to_vec()),
            body: body.into(),
            expect,
        }
    }

    /// The same case sent with this Content-Type, or none.
    fn sent_as(mut self, content_type: Option<&[u8]>) -> Self {
        self.content_type = content_type.map(<[u8]>::to_vec);
        self
    }
}

/// The base event with `fields` replaced, refused with a 400 saying `text`.
fn refused(name: &str, fields: Value, text: Text) -> IngestCase {
    refused_raw(name, serde_json::to_vec(&event_with(fields)).unwrap(), text)
}

/// A body as given, refused with a 400 saying `text`.
fn refused_raw(name: &str, body: impl Into<Vec<u8>>, text: Text) -> IngestCase {
    IngestCase::new(name, body, Expect::Rejected(400, text))
}

/// A body that is not JSON, refused as such.
fn malformed(name: &str, body: impl Into<Vec<u8>>) -> IngestCase {
    refused_raw(name, body, malformed_json())
}

/// The base event with `fields` replaced, accepted and stored as sent.
fn accepted(name: &str, fields: Value) -> IngestCase {
    accepted_as(name, fields.clone(), fields)
}

/// The base event with `sent` replaced, accepted and stored with `kept` replaced instead.
fn accepted_as(name: &str, sent: Value, kept: Value) -> IngestCase {
    accepted_raw(name, serde_json::to_vec(&event_with(sent)).unwrap(), kept)
}

/// A body as given, accepted as one event stored as the base event with `kept` replaced.
fn accepted_raw(name: &str, body: impl Into<Vec<u8>>, kept: Value) -> IngestCase {
    let event = stored_event(name, kept);
    let answer = json!({"status": "accepted", "trace_id": event["trace_id"]});
    IngestCase::new(
        name,
        body,
        Expect::Accepted {
            answer,
            events: vec![event],
        },
    )
}

/// A batch as given, accepted whole: each event stored as the base event with its fields
/// replaced, and answered with their count and the request's trace id.
fn accepted_batch(
    name: &str,
    content_type: &[u8],
    body: impl Into<Vec<u8>>,
    kept: Vec<Value>,
) -> IngestCase {
    let events: Vec<Value> = kept
        .into_iter()
        .map(|fields| stored_event(name, fields))
        .collect();
    let answer = json!({"status": "accepted", "count": events.len(), "trace_id": name});
    IngestCase::new(name, body, Expect::Accepted { answer, events }).sent_as(Some(content_type))
}

/// A field's length limit from both sides: `over`, one past it, refused naming the limit;
/// `at`, exactly at it, accepted and stored as sent.
fn length_limit(
    field: &str,
    limit: usize,
    unit: &str,
    over: String,
    at: String,
) -> [IngestCase; 2] {
    [
        refused(
            &format!("{field} over its limit of {limit} {unit}"),
            json!({field: over}),
            too_long(field, limit, unit),
        ),
        accepted(
            &format!("{field} at its limit of {limit} {unit}"),
            json!({field: at}),
        ),
    ]
}

fn nested(open: &str, close: &str, depth: usize) -> String {
    format!("{}1{}", open.repeat(depth), close.repeat(depth))
}

/// The body as a whole: empty, not JSON, not an object, more after the object, too large.
fn body_cases() -> Vec<IngestCase> {
    vec![
        refused_raw("empty body", "", exact(EMPTY_BODY)),
        refused_raw("whitespace body", " \r\n\t ", exact(EMPTY_BODY)),
        malformed("lone brace", "{"),
        malformed("truncated in a string", &BASE[..BASE.len() - 3]),
        malformed("truncated before the brace", &BASE[..BASE.len() - 1]),
        malformed(
            "truncated in an escape",
            r#"{"service":"a","level":"INFO","message":"\u00"#,
        ),
        malformed(
            "truncated in a number",
            r#"{"service":"a","level":"INFO","message":"m","metadata":{"k":12"#,
        ),
        malformed("trailing comma", format!("{},}}", &BASE[..BASE.len() - 1])),
        malformed(
            "single quotes",
            "{'service':'a','level':'INFO','message':'m'}",
        ),
        malformed(
            "a comment",
            r#"{"service":"a", /* x */ "level":"INFO","message":"m"}"#,
        ),
        malformed("two events in one body", format!("{BASE}{BASE}")),
        malformed("garbage after the event", format!("{BASE} DROP TABLE logs")),
        malformed("a NUL byte after the event", format!("{BASE}\0")),
        accepted_raw("a byte order mark", format!("\u{feff}{BASE}"), json!({})),
        refused_raw("top-level null", "null", exact(NOT_AN_OBJECT)),
        refused_raw("top-level number", "1e999", exact(NOT_AN_OBJECT)),
        refused_raw(
            "top-level string",
            r#""{\"service\":\"a\"}""#,
            exact(NOT_AN_OBJECT),
        ),
        IngestCase::new(
            "a body over MAX_BODY_BYTES",
            serde_json::to_vec(&event_with(json!({"message": "m".repeat(MAX_BODY_BYTES)})))
                .unwrap(),
            Expect::Rejected(
                413,
                exact(format!(
                    "request body is larger than the limit of {MAX_BODY_BYTES} bytes"
                )),
            ),
        ),
    ]
}

/// Deep nesting: refused without recursing (no stack overflow, no panic), in whatever field
/// it hides.
fn nesting_cases() -> Vec<IngestCase> {
    let arrays = nested("[", "]", 10_000);
    vec![
        refused_raw(
            "10,000 nested arrays in metadata",
            base_with(&format!(r#""metadata":{{"k":{arrays}}}"#)),
            at_path("metadata.k"),
        ),
        refused_raw(
            "10,000 nested objects in metadata",
            base_with(&format!(
                r#""metadata":{{"k":{}}}"#,
                nested(r#"{"k":"#, "}", 10_000)
            )),
            at_path("metadata.k"),
        ),
        refused_raw(
            "10,000 nested arrays in message",
            format!(r#"{{"service":"a","level":"INFO","message":{arrays}}}"#),
            at_path("message"),
        ),
        refused_raw(
            "10,000 nested arrays in an unknown field",
            format!(r#"{{"x":{arrays},"service":"a"}}"#),
            at_path("x"),
        ),
        // A batch whose one event is not an object.
        refused_raw(
            "100,000 nested arrays as the body",
            nested("[", "]", 100_000),
            exact(invalid_events(1, 1, 0, NOT_AN_EVENT)),
        ),
        malformed("100,000 unclosed arrays as the body", "[".repeat(100_000)),
    ]
}

/// The Content-Type: only JSON and NDJSON are read, whatever the case and parameters.
fn content_type_cases() -> Vec<IngestCase> {
    let unsupported = |name: &str, content_type: Option<&[u8]>| {
        IngestCase::new(
            name,
            BASE,
            Expect::Rejected(
                415,
                exact(
                    "Content-Type must be application/json (one event or an array) or application/x-ndjson",
                ),
            ),
        )
        .sent_as(content_type)
    };
    let mut cases: Vec<IngestCase> = [
        &b"text/plain"[..],
        b"application/x-www-form-urlencoded",
        b"multipart/form-data; boundary=x",
        b"application/jsonp",
        b"application/ld+json",
        b"text/json",
        b"",
        b"application/json\xff",
        b"json",
    ]
    .into_iter()
    .map(|content_type| {
        let name = format!("content type {:?}", String::from_utf8_lossy(content_type));
        unsupported(&name, Some(content_type))
    })
    .collect();
    cases.extend([
        unsupported("no content type", None),
        accepted_as(
            "content type in another case, with a charset",
            json!({"level": "fatal"}),
            json!({"level": "FATAL"}),
        )
        .sent_as(Some(b"Application/JSON; charset=UTF-8")),
        malformed(
            "a UTF-16 body",
            BASE.encode_utf16()
                .flat_map(u16::to_le_bytes)
                .collect::<Vec<u8>>(),
        )
        .sent_as(Some(b"application/json; charset=utf-16")),
    ]);
    cases
}

/// Batches, a JSON array or NDJSON: accepted whole, or refused whole naming the first
/// failure.
fn batch_cases() -> Vec<IngestCase> {
    // Trace ids find the stored rows, so only one event of a batch may go without its own.
    let own_trace_id = |name: &str| json!({"trace_id": format!("{name}, first event")});
    let first = |name: &str| serde_json::to_string(&event_with(own_trace_id(name))).unwrap();
    let array = "a JSON array with whitespace around its events";
    let ndjson = "NDJSON with CRLF line ends and blank lines";
    let no_level = r#"{"service":"hostile","message":"m"}"#;
    vec![
        accepted_batch(
            array,
            JSON,
            format!("\r\n[ {} ,\n\t{BASE} ]\n", first(array)),
            vec![own_trace_id(array), json!({})],
        ),
        accepted_batch(
            ndjson,
            NDJSON,
            format!("\r\n{}\r\n\r\n \n{BASE}\n\n", first(ndjson)),
            vec![own_trace_id(ndjson), json!({})],
        ),
        refused_raw("an empty JSON array", " [ ] ", exact(NO_EVENTS)),
        refused_raw("NDJSON of blank lines", "\n \r\n\t\n", exact(NO_EVENTS)).sent_as(Some(NDJSON)),
        malformed("a JSON array left open", format!("[{BASE},")),
        refused_raw(
            "a JSON array with an event breaking a rule",
            format!("[{BASE},{no_level}]"),
            exact(invalid_events(1, 2, 1, "level is required")),
        ),
        refused_raw(
            "NDJSON with a line that is an array",
            format!("{BASE}\n[{BASE}]\n"),
            exact(invalid_events(1, 2, 1, NOT_AN_EVENT)),
        )
        .sent_as(Some(NDJSON)),
        refused_raw(
            "NDJSON with a truncated line",
            format!("{BASE}\n{}\n", &BASE[..20]),
            prefix(invalid_events(1, 2, 1, "malformed JSON: ")),
        )
        .sent_as(Some(NDJSON)),
        IngestCase::new(
            "NDJSON of more events than MAX_BATCH_EVENTS",
            format!("{BASE}\n").repeat(MAX_BATCH_EVENTS + 1),
            Expect::Rejected(
                413,
                exact(format!(
                    "the request holds {} events, more than the limit of {MAX_BATCH_EVENTS}",
                    MAX_BATCH_EVENTS + 1
                )),
            ),
        )
        .sent_as(Some(NDJSON)),
    ]
}

/// Which fields an event has: unknown ones (also those the server assigns), one given
/// twice (refused, never one silently winning), optional ones as null.
fn field_name_cases() -> Vec<IngestCase> {
    let long_name = "x".repeat(100_000);
    vec![
        refused(
            "unknown field id",
            json!({"id": "00000000-0000-0000-0000-000000000000"}),
            at_path("id"),
        ),
        refused(
            "unknown field __proto__",
            json!({"__proto__": {"admin": true}}),
            at_path("__proto__"),
        ),
        refused(
            "a field name in another case",
            json!({"Service": "x"}),
            at_path("Service"),
        ),
        refused(
            "an unknown field name of 100,000 characters",
            json!({&long_name: 1}),
            at_path(&long_name),
        ),
        refused_raw(
            "duplicate service",
            r#"{"service":"a","service":"b","level":"INFO","message":"m"}"#,
            exact("service is given more than once"),
        ),
        refused_raw(
            "duplicate message",
            base_with(r#""message":"n""#),
            exact("message is given more than once"),
        ),
        accepted(
            "optional fields are null",
            json!({"timestamp": null, "trace_id": null, "metadata": null}),
        ),
    ]
}

fn service_cases() -> Vec<IngestCase> {
    let mut cases = vec![
        refused(
            "service is a boolean",
            json!({"service": true}),
            at_path("service"),
        ),
        refused(
            "service is null",
            json!({"service": null}),
            required("service"),
        ),
        malformed(
            "a 0xFF byte in service",
            b"{\"service\":\"a\xff\",\"level\":\"INFO\",\"message\":\"m\"}".to_vec(),
        ),
        malformed(
            "a raw newline in service",
            "{\"service\":\"a\nb\",\"level\":\"INFO\",\"message\":\"m\"}",
        ),
    ];
    // Characters are counted, not bytes: 256 four-byte ones fit.
    cases.extend(length_limit(
        "service",
        256,
        "characters",
        "s".repeat(257),
        "🔥".repeat(256),
    ));
    let controls = [
        ("NUL in service", "auth\u{0}"),
        ("a newline inside service", "auth\nFAKE"),
        ("DEL in service", "a\u{7f}b"),
        ("a C1 control in service", "a\u{85}b"),
    ];
    cases.extend(controls.map(|(name, service)| {
        refused(
            name,
            json!({"service": service}),
            control_characters("service"),
        )
    }));
    cases
}

fn level_cases() -> Vec<IngestCase> {
    let long = "L".repeat(100_000);
    vec![
        refused("level is a number", json!({"level": 5}), at_path("level")),
        refused("level is null", json!({"level": null}), required("level")),
        malformed(
            "a huge number as level",
            r#"{"service":"a","level":1e400,"message":"m"}"#,
        ),
        refused(
            "NUL in level",
            json!({"level": "INFO\u{0}"}),
            unknown_level("INFO\u{0}"),
        ),
        refused(
            "a level of 100,000 characters",
            json!({"level": &long}),
            unknown_level(&long),
        ),
    ]
}

/// The message: free text, so control characters are kept; what is not UTF-8 is not JSON.
fn message_cases() -> Vec<IngestCase> {
    let mut cases = vec![
        refused(
            "message is an array",
            json!({"message": ["m"]}),
            at_path("message"),
        ),
        refused(
            "message is an object",
            json!({"message": {"text": "m"}}),
            at_path("message"),
        ),
        refused(
            "message is null",
            json!({"message": null}),
            required("message"),
        ),
        malformed(
            "a truncated UTF-8 sequence in message",
            b"{\"service\":\"a\",\"level\":\"INFO\",\"message\":\"m\xc3\"}".to_vec(),
        ),
        malformed(
            "an overlong encoding of / in message",
            b"{\"service\":\"a\",\"level\":\"INFO\",\"message\":\"\xc0\xaf\"}".to_vec(),
        ),
        malformed(
            "a lone surrogate escape in message",
            r#"{"service":"a","level":"INFO","message":"\ud800"}"#,
        ),
        malformed(
            "a raw NUL byte in message",
            b"{\"service\":\"a\",\"level\":\"INFO\",\"message\":\"a\0b\"}".to_vec(),
        ),
        accepted("NUL in message", json!({"message": "before\u{0}after"})),
        accepted(
            "control characters in message",
            json!({"message": "line 1\r\n2026-05-05 ERROR forged\u{1b}[31m red \u{7}\u{8}\u{85}"}),
        ),
        accepted_raw(
            "a surrogate pair escape",
            r#"{"service":"hostile","level":"INFO","message":"\uD83D\uDD25 \u00e9"}"#,
            json!({"message": "🔥 é"}),
        ),
        accepted(
            "combining marks, BOM, non-characters",
            json!({"message": "Z\u{351}\u{35b}\u{34b}a\u{300}\u{301} \u{feff} \u{fffd} \u{ffff} \u{10ffff}"}),
        ),
    ];
    // Bytes are counted: 128 Ki two-byte characters are exactly 256 KiB.
    cases.extend(length_limit(
        "message",
        262_144,
        "bytes",
        "m".repeat(256 * 1024 + 1),
        "é".repeat(128 * 1024),
    ));
    cases
}

/// Timestamps: the column holds 1970-01-01 to 2106-02-07; ingestion allows up to 2105 and
/// keeps the time in UTC to the millisecond.
fn timestamp_cases() -> Vec<IngestCase> {
    let mut cases = vec![
        accepted_as(
            "timestamp in epoch seconds",
            json!({"timestamp": 1777975200}),
            json!({"timestamp": "2026-05-05T10:00:00.000Z"}),
        ),
        accepted_as(
            "timestamp in epoch nanoseconds",
            json!({"timestamp": 1777975200250000000u64}),
            json!({"timestamp": "2026-05-05T10:00:00.250Z"}),
        ),
        refused(
            "timestamp is a boolean",
            json!({"timestamp": true}),
            at_path("timestamp"),
        ),
    ];
    let out_of_range = [
        (
            "timestamp before 1970 once in UTC",
            "1970-01-01T00:30:00+01:00",
        ),
        ("timestamp after 2105", "2106-01-01T00:00:00Z"),
        ("timestamp in year 9999", "9999-12-31T23:59:59Z"),
    ];
    cases
        .extend(out_of_range.map(|(name, time)| {
            refused(name, json!({"timestamp": time}), time_out_of_range(time))
        }));
    let with_sql = format!("2026-05-05T10:00:00Z{SQL}");
    let unreadable = [
        ("timestamp with offset +25:00", "2026-05-05T10:00:00+25:00"),
        ("timestamp with offset +0530", "2026-05-05T10:00:00+0530"),
        ("timestamp without offset", "2026-05-05T10:00:00"),
        ("timestamp on February 30", "2026-02-30T10:00:00Z"),
        ("timestamp with SQL", &with_sql),
    ];
    cases.extend(unreadable.map(|(name, time)| {
        refused(
            name,
            json!({"timestamp": time}),
            unreadable_time("timestamp", time),
        )
    }));
    let kept = [
        (
            "timestamp at the epoch",
            "1970-01-01T01:00:00+01:00",
            "1970-01-01T00:00:00.000Z",
        ),
        (
            "timestamp at the last millisecond allowed",
            "2105-12-31T23:59:59.999Z",
            "2105-12-31T23:59:59.999Z",
        ),
        (
            "timestamp with offset +14:00 and nanoseconds",
            "2026-05-05T10:00:00.123456789+14:00",
            "2026-05-04T20:00:00.123Z",
        ),
        (
            "timestamp on a leap second",
            "2016-12-31T23:59:60Z",
            "2016-12-31T23:59:59.999Z",
        ),
    ];
    cases.extend(kept.map(|(name, sent, stored)| {
        accepted_as(
            name,
            json!({"timestamp": sent}),
            json!({"timestamp": stored}),
        )
    }));
    cases
}

fn trace_id_cases() -> Vec<IngestCase> {
    let mut cases = vec![
        refused(
            "trace_id is an object",
            json!({"trace_id": {}}),
            at_path("trace_id"),
        ),
        refused(
            "an escape sequence in trace_id",
            json!({"trace_id": "t\u{1b}[2J"}),
            control_characters("trace_id"),
        ),
    ];
    cases.extend(length_limit(
        "trace_id",
        128,
        "characters",
        "t".repeat(129),
        "t".repeat(128),
    ));
    cases
}

/// Metadata: an object of text; numbers and booleans keep their JSON text exactly.
fn metadata_cases() -> Vec<IngestCase> {
    let many_keys = |count: usize| -> Value {
        (0..count)
            .map(|i| (format!("k{i:03}"), json!(i.to_string())))
            .collect::<Map<_, _>>()
            .into()
    };
    vec![
        refused(
            "metadata is an array",
            json!({"metadata": [["k", "v"]]}),
            at_path("metadata"),
        ),
        refused(
            "metadata is a string",
            json!({"metadata": "k=v"}),
            at_path("metadata"),
        ),
        refused(
            "a metadata value is an object",
            json!({"metadata": {"k": {"x": 1}}}),
            at_path("metadata.k"),
        ),
        refused(
            "a metadata value is null",
            json!({"metadata": {"k": null}}),
            at_path("metadata.k"),
        ),
        // Ours up to the position the JSON library adds.
        refused_raw(
            "duplicate metadata key",
            base_with(r#""metadata":{"k":"1","k":"2"}"#),
            exact(r#"metadata: key "k" is given more than once"#),
        ),
        malformed(
            "an encoded surrogate in a metadata key",
            b"{\"service\":\"a\",\"level\":\"INFO\",\"message\":\"m\",\"metadata\":{\"\xed\xa0\x80\":\"v\"}}"
                .to_vec(),
        ),
        refused_raw(
            "a lone surrogate escape in a metadata value",
            base_with(r#""metadata":{"k":"\udc00x"}"#),
            prefix("metadata.k: invalid string: "),
        ),
        refused(
            "NUL in a metadata key",
            json!({"metadata": {"a\u{0}b": "v"}}),
            control_characters(r#"metadata key "a\0b""#),
        ),
        accepted(
            "control characters in a metadata value",
            json!({"metadata": {"k": "\u{0}\u{1}\t\r\n\u{1f}\u{7f}"}}),
        ),
        accepted(
            "SQL in metadata",
            json!({"metadata": {SQL: SQL, "q": "' OR '1'='1", "b": "\\'"}}),
        ),
        accepted_raw(
            "numbers out of range in metadata",
            base_with(
                r#""metadata":
                {"big":123456789012345678901234567890,"huge":1e400,"tiny":-1e-400,"f":1.0,"e":1E3,"z":-0,"t":true}"#,
            ),
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
        malformed(
            "a number with a leading zero",
            base_with(r#""metadata":{"k":01}"#),
        ),
        malformed("NaN", base_with(r#""metadata":{"k":NaN}"#)),
        refused(
            "metadata with 129 keys",
            json!({"metadata": many_keys(129)}),
            exact("metadata must not have more than 128 keys, got 129"),
        ),
        accepted("metadata with 128 keys", json!({"metadata": many_keys(128)})),
        refused(
            "a metadata key of 257 characters",
            json!({"metadata": {"k".repeat(257): "v"}}),
            too_long(&format!("metadata key {:?}...", "k".repeat(32)), 256, "characters"),
        ),
        refused(
            "an empty metadata key",
            json!({"metadata": {"": "v"}}),
            exact("metadata must not have an empty key"),
        ),
        refused(
            "a metadata value over 16 KiB",
            json!({"metadata": {"k": "v".repeat(16 * 1024 + 1)}}),
            too_long("metadata.k", 16_384, "bytes"),
        ),
        accepted(
            "a metadata key and value at their limits",
            json!({"metadata": {"k".repeat(256): "v".repeat(16 * 1024)}}),
        ),
    ]
}

/// Text that means something elsewhere (SQL, JSON, bidirectional overrides, 4-byte UTF-8),
/// in several fields at once: kept verbatim.
fn verbatim_text_cases() -> Vec<IngestCase> {
    vec![
        accepted(
            "SQL in service and message",
            json!({"service": SQL, "message": format!("{SQL} \" \\ ` ; SELECT 1 ?fields ?")}),
        ),
        accepted(
            "emoji and other 4-byte UTF-8",
            json!({"service": "🔥-svc", "message": "💥 𝕏 𐍈 🏳️‍🌈 👩🏽‍💻", "metadata": {"🔑": "🗝️"}}),
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
            "JSON inside strings",
            json!({"message": r#"{"service":"x","level":"FATAL"}"#, "metadata": {"json": "{\"a\":[1]}"}}),
        ),
    ]
}

/// Every case, grouped by what it attacks.
fn ingest_cases() -> Vec<IngestCase> {
    [
        body_cases(),
        nesting_cases(),
        content_type_cases(),
        batch_cases(),
        field_name_cases(),
        service_cases(),
        level_cases(),
        message_cases(),
        timestamp_cases(),
        trace_id_cases(),
        metadata_cases(),
        verbatim_text_cases(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Whether an answer is the error expected: its status, then its text.
fn check_error(status: u16, body: &Value, expected: u16, text: &Text) -> Result<(), String> {
    if status != expected {
        return Err(format!(
            "{status} {}, expected {expected}",
            excerpt(&body.to_string(), 0)
        ));
    }
    body["error"]
        .as_str()
        .ok_or_else(|| format!("no error text: {body}"))
        .and_then(|error| text.check(error))
}

fn assert_no_failures(failures: &[String], cases: usize) {
    assert!(
        failures.is_empty(),
        "{} of {cases} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
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
        extra_env: vec![
            ("MAX_BATCH_EVENTS", MAX_BATCH_EVENTS.to_string()),
            // The cases probe the column's whole range; the window of accepted times (the
            // retention and the future skew) has its own test (ingest.rs).
            ("MAX_FUTURE_SKEW", "36500d".to_owned()),
        ],
        ..StackOptions::default()
    })
    .await;
    let cases = ingest_cases();
    let names: BTreeSet<&str> = cases.iter().map(|case| case.name.as_str()).collect();
    assert_eq!(names.len(), cases.len(), "case names are trace ids: unique");
    let mut failures = Vec::new();
    let mut expected_events = Vec::new();
    for case in &cases {
        let response = post(&stack, case).await;
        let status = response.status().as_u16();
        let echoed = response.headers().get("x-trace-id").cloned();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let outcome = match &case.expect {
            Expect::Accepted { answer, events } => {
                expected_events.extend(events.iter().cloned());
                if status == 202 && body == *answer {
                    Ok(())
                } else {
                    Err(format!(
                        "{status} {}, expected 202 {answer}",
                        excerpt(&body.to_string(), 0)
                    ))
                }
            }
            Expect::Rejected(expected, text) => check_error(status, &body, *expected, text),
        };
        let outcome = outcome.and_then(|()| match echoed {
            Some(id) if id == case.name.as_str() => Ok(()),
            other => Err(format!("X-Trace-ID {other:?} is not the request's")),
        });
        if let Err(why) = outcome {
            failures.push(format!("{}: {why}", case.name));
        }
    }
    assert_no_failures(&failures, cases.len());

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
        assert_fields(queued, expected);
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
        assert_fields(log, expected);
    }
    assert_eq!(
        stack.dead_letters().await,
        Vec::<Value>::new(),
        "nothing accepted is dead-lettered"
    );

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

fn given_twice(name: &str) -> Answer {
    bad(exact(format!("parameter {name} given more than once")))
}

fn unknown_parameter(name: &str) -> Text {
    exact(format!(
        "unknown parameter {name:?}; expected service, level, from, to, q, trace_id, metadata.<key>, not.service, not.level, not.trace_id, not.q, not.metadata.<key>, limit, offset, order or cursor"
    ))
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
            bad(unknown_level("ERROR' OR '1'='1")),
        ),
        (
            format!("from={}", encode("2026-05-05T00:00:00Z' OR 1=1 --")),
            bad(unreadable_time("from", "2026-05-05T00:00:00Z' OR 1=1 --")),
        ),
        (
            format!("to={}", encode(SQL)),
            bad(unreadable_time("to", SQL)),
        ),
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
            bad(unknown_parameter("service' OR 1=1")),
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
        ("service=auth&service=x".into(), given_twice("service")),
        ("level=INFO&level=ERROR".into(), given_twice("level")),
        ("limit=1&limit=1000".into(), given_twice("limit")),
        ("offset=0&offset=0".into(), given_twice("offset")),
        (
            "from=2026-05-05T00:00:00Z&from=2026-05-05T00:00:00Z".into(),
            given_twice("from"),
        ),
        (
            "to=2026-05-05T00:00:00Z&service=auth&to=2026-05-05T00:00:00Z".into(),
            given_twice("to"),
        ),
        ("service=auth&service".into(), given_twice("service")),
        // Very long values.
        (format!("service={long}"), Answer::Rows(0)),
        (format!("level={long}"), bad(unknown_level(&long))),
        (format!("from={long}"), bad(unreadable_time("from", &long))),
        (format!("limit={}", "9".repeat(10_000)), Answer::Rows(3)),
        (
            format!("offset={}", "9".repeat(10_000)),
            bad(exact(format!(
                "offset is too large, got {}",
                "9".repeat(10_000)
            ))),
        ),
        (format!("{long}=1"), bad(unknown_parameter(&long))),
    ];
    let mut failures = Vec::new();
    for (query, expected) in &cases {
        let answer = stack.logs(query).await;
        let status = answer.status().as_u16();
        let body: Value = answer.json().await.unwrap_or(Value::Null);
        let outcome = match expected {
            Answer::Rows(count) if status == 200 && body["count"] == *count => Ok(()),
            Answer::Rows(count) => Err(format!("{status} {body}, expected 200 with {count} rows")),
            Answer::Error(expected, text) => check_error(status, &body, *expected, text),
        };
        if let Err(why) = outcome {
            let shown: String = query.chars().take(120).collect();
            failures.push(format!("{shown}: {why}"));
        }
    }
    assert_no_failures(&failures, cases.len());

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
