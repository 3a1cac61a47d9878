//! `POST /loki/api/v1/push`, Loki's push API, on ingestion's `LOKI_PORT` and its main port,
//! and `GET /ready`. Real Loki clients nobody here wrote push the entries (pino with its
//! pino-loki transport, python-logging-loki with both its emitters), then the entries are
//! read back through `GET /logs` with every mapped field checked. Promtail and Grafana Alloy
//! are Go binaries that no package registry here ships, so their push (protobuf in a snappy
//! block, with their headers) is built from the `logproto` messages; the protocol's details
//! (refusals, limits, backpressure, tenants) with requests built by hand.

use crate::{
    metrics::metrics,
    stored::{
        assert_fields, by_message, gzip, is_recent, is_trace_id, levels_of, post, stored,
        without_redis,
    },
};
use flate2::{Compression, write::ZlibEncoder};
use prost::Message;
use serde_json::{Value, json};
use std::{io::Write, path::Path};
use traceflow_proto::{
    Timestamp,
    logproto::{EntryAdapter, LabelPairAdapter, PushRequest, StreamAdapter},
};
use traceflow_testkit::{StackOptions, TestStack};

const JSON: &str = "application/json";
const PROTOBUF: &str = "application/x-protobuf";
const TEXT: &str = "text/plain; charset=utf-8";

fn clients_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/loki"))
}

/// The Loki port's base URL.
fn loki_base(stack: &TestStack) -> String {
    format!("http://{}", stack.protocol_addresses.loki)
}

fn push_url(base: &str) -> String {
    format!("{base}/loki/api/v1/push")
}

/// The status, `Content-Type` and text of an answer.
async fn answer_of(answer: reqwest::Response) -> (u16, String, String) {
    let status = answer.status().as_u16();
    let content_type = answer
        .headers()
        .get("content-type")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, content_type, answer.text().await.unwrap())
}

/// Pushes `body` with `content_type` to the main port; the status and text answered.
async fn push_text(
    stack: &TestStack,
    content_type: &str,
    headers: &[(&str, &str)],
    body: impl Into<Vec<u8>>,
) -> (u16, String) {
    let url = push_url(&stack.ingestion_url);
    let (status, _, text) =
        answer_of(post(stack, &url, content_type, headers, body.into()).await).await;
    (status, text)
}

// --- pino-loki ------------------------------------------------------------------------

/// Runs `pino_loki.mjs` against `stack` for `service`, with `env`; checks it pushed
/// everything without a refusal.
async fn run_pino_loki(stack: &TestStack, service: &str, env: &[(&str, &str)]) {
    let output = tokio::process::Command::new("node")
        .arg(clients_dir().join("pino_loki.mjs"))
        .args([&loki_base(stack), service])
        .envs(env.iter().copied())
        .output()
        .await
        .expect("node runs (scripts/test.sh installs what the Loki tests need)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("ERR_MODULE_NOT_FOUND") && !stderr.contains("Cannot find"),
        "pino-loki is missing; run scripts/test.sh or `npm ci` in \
         crates/traceflow-e2e/tests/loki:\n{stderr}"
    );
    assert!(output.status.success(), "pino_loki.mjs failed:\n{stderr}");
    // pino-loki reports a push Traceflow did not take on stderr, and carries on.
    assert!(
        !stderr.contains("Got error"),
        "a push was refused:\n{stderr}"
    );
}

#[tokio::test]
async fn pino_loki_pushes_through_its_worker_transport() {
    let stack = TestStack::spawn().await;
    run_pino_loki(&stack, "pino-svc", &[]).await;

    let logs = stored(&stack, "pino-svc", 6).await;
    for log in &logs {
        assert!(is_recent(&log["timestamp"]), "{log:#}");
        // The transport's labels and pino's base fields reach every entry; the header's
        // tenant is kept.
        assert_fields(
            &log["metadata"],
            &json!({
                "service_name": "pino-svc",
                "env": "test",
                "hostname": "web-1",
                "X-Scope-OrgID": "acme",
            }),
        );
        assert!(
            log["metadata"]["pid"]
                .as_str()
                .unwrap()
                .parse::<u32>()
                .is_ok()
        );
    }

    // The line is pino's JSON: its msg is the message, its fields the metadata; pino's
    // numeric level collides with the level label, so it is stored as level_extracted.
    let invoice = by_message(&logs, "invoice sent");
    assert_eq!(invoice["level"], "INFO");
    // From the structured metadata pino-loki takes from `meta`.
    assert_eq!(invoice["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_fields(
        &invoice["metadata"],
        &json!({
            "level": "info",
            "level_extracted": "30",
            "user": "ada",
            "order.id": "1234",
            "order.items": r#"["book","pen"]"#,
            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
            "request_id": "r-1",
            "meta.trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
            "meta.request_id": "r-1",
        }),
    );
    assert!(invoice["metadata"].get("msg").is_none(), "{invoice:#}");
    let time = invoice["metadata"]["time"].as_str().unwrap();
    assert!(
        invoice["timestamp"].as_str().unwrap().starts_with(
            &chrono::DateTime::from_timestamp_millis(time.parse().unwrap())
                .unwrap()
                .format("%Y-%m-%dT%H:%M:%S%.3f")
                .to_string()
        ),
        "the entry's time is the log's: {invoice:#}"
    );

    // pino-loki's level names: warning and critical are WARN and FATAL; it sends pino's
    // trace as debug.
    let low = by_message(&logs, "low balance");
    assert_eq!(low["level"], "WARN");
    // propsToLabels made `component` a label; the line's copy is the extracted one.
    assert_fields(
        &low["metadata"],
        &json!({"component": "billing", "component_extracted": "billing"}),
    );
    let failed = by_message(&logs, "charge failed");
    assert_eq!(failed["level"], "ERROR");
    assert_fields(
        &failed["metadata"],
        &json!({"err.type": "Error", "err.message": "ledger unreachable"}),
    );
    assert!(
        failed["metadata"]["err.stack"]
            .as_str()
            .unwrap()
            .contains("pino_loki.mjs")
    );
    let levels = levels_of(&logs, &["out of money", "cache miss", "entering ledger"]);
    assert_eq!(
        levels,
        [
            ("out of money", "FATAL"),
            ("cache miss", "DEBUG"),
            ("entering ledger", "DEBUG")
        ]
    );
    // Entries without trace context get the push's trace id.
    assert!(is_trace_id(low["trace_id"].as_str().unwrap()), "{low:#}");
}

// --- python-logging-loki ---------------------------------------------------------------

/// Runs `tests/loki/python_logging_loki.py` with emitter `version` against `url`; returns
/// the messages whose push the handler reported as failed.
async fn python_push(url: &str, version: &str, service: &str) -> Vec<String> {
    let output = tokio::process::Command::new("python3")
        .arg(clients_dir().join("python_logging_loki.py"))
        .args([url, version, service])
        .output()
        .await
        .expect("python3 runs (scripts/test.sh installs what the Loki tests need)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("ModuleNotFoundError"),
        "python-logging-loki is missing; run scripts/test.sh or `python3 -m pip install -r \
         crates/traceflow-e2e/tests/loki/requirements.txt`:\n{stderr}"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "python_logging_loki.py failed:\n{stdout}\n{stderr}"
    );
    let printed: Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    serde_json::from_value(printed["failed"].clone()).unwrap()
}

#[tokio::test]
async fn python_logging_loki_with_the_legacy_and_the_current_emitter() {
    let stack = TestStack::spawn().await;
    let loki = push_url(&loki_base(&stack));
    let main = push_url(&stack.ingestion_url);
    // Version 0, the package's default, sends the legacy form; version 1 today's.
    let (legacy, current) = tokio::join!(
        python_push(&loki, "0", "py-legacy"),
        python_push(&main, "1", "py-current"),
    );
    for (service, failed) in [("py-legacy", legacy), ("py-current", current)] {
        // The blank line was refused with a 400, which the handler reports; nothing else.
        assert_eq!(failed, ["   "], "{service}");
        let logs = stored(&stack, service, 5).await;
        for log in &logs {
            assert_eq!(log["service"], service);
            assert!(is_recent(&log["timestamp"]), "{log:#}");
            assert!(is_trace_id(log["trace_id"].as_str().unwrap()), "{log:#}");
            assert_fields(
                &log["metadata"],
                &json!({"service": service, "env": "test", "logger": "checkout.payments"}),
            );
        }
        let declined = by_message(&logs, "card 4242 declined");
        assert_eq!(declined["level"], "WARN");
        assert_eq!(
            declined["metadata"],
            json!({
                "service": service,
                "env": "test",
                "logger": "checkout.payments",
                "severity": "warning",
                "order_id": "1234",
            })
        );
        let levels = levels_of(
            &logs,
            &["charge failed", "ledger unreachable", "cache miss"],
        );
        assert_eq!(
            levels,
            [
                ("charge failed", "ERROR"),
                ("ledger unreachable", "FATAL"),
                ("cache miss", "DEBUG")
            ]
        );
        let parsed = by_message(&logs, "json line");
        assert_eq!(parsed["level"], "INFO");
        assert_fields(
            &parsed["metadata"],
            &json!({"user": "ada", "cart.items": "3", "severity": "info"}),
        );
    }
}

// --- Promtail and Alloy's protobuf -----------------------------------------------------

fn pair(name: &str, value: &str) -> LabelPairAdapter {
    LabelPairAdapter {
        name: name.into(),
        value: value.into(),
    }
}

fn entry(seconds: i64, nanos: i32, line: &str, structured: Vec<LabelPairAdapter>) -> EntryAdapter {
    EntryAdapter {
        timestamp: Some(Timestamp { seconds, nanos }),
        line: line.into(),
        structured_metadata: structured,
    }
}

/// 2026-05-05T10:00:00Z.
const MAY_5: i64 = 1_777_975_200;

/// A push as Promtail and Alloy build it: labels as `labels.String()` writes them (sorted,
/// Go-quoted), structured metadata on entries, the hash left 0.
fn promtail_push(job: &str) -> PushRequest {
    PushRequest {
        streams: vec![
            StreamAdapter {
                labels: format!(
                    r#"{{filename="/var/log/app \"blue\".log", host="web-1", job="{job}"}}"#
                ),
                entries: vec![
                    entry(
                        MAY_5,
                        250_999_999,
                        "GET /cart 200",
                        vec![pair("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736")],
                    ),
                    entry(
                        MAY_5 + 1,
                        0,
                        r#"{"level":"error","msg":"db down","retry":2}"#,
                        vec![],
                    ),
                ],
                hash: 0,
            },
            StreamAdapter {
                labels: format!(
                    r#"{{detected_level="warn", job="{job}", service_name="{job}-api"}}"#
                ),
                entries: vec![entry(
                    MAY_5 + 2,
                    5_000_000,
                    "slow query",
                    vec![pair("span_id", "00f067aa0ba902b7")],
                )],
                hash: 0,
            },
        ],
    }
}

fn snappy(data: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new().compress_vec(data).unwrap()
}

#[tokio::test]
async fn a_protobuf_push_as_promtail_and_alloy_send_it() {
    let stack = TestStack::spawn().await;
    // Promtail's request: protobuf in a snappy block, its User-Agent, the tenant it is
    // configured with.
    let promtail = &[
        ("User-Agent", "promtail/3.5.0"),
        ("X-Scope-OrgID", "tenant-a"),
    ];
    let body = snappy(&promtail_push("promtail").encode_to_vec());
    let url = push_url(&loki_base(&stack));
    let (status, _, text) = answer_of(post(&stack, &url, PROTOBUF, promtail, body).await).await;
    assert_eq!((status, text.as_str()), (204, ""));
    // Some clients also say Content-Encoding: snappy, over the same block; gzip around the
    // block works too.
    let block = snappy(&promtail_push("alloy").encode_to_vec());
    let said = &[("Content-Encoding", "snappy")];
    let main = push_url(&stack.ingestion_url);
    assert_eq!(
        post(&stack, &main, PROTOBUF, said, block).await.status(),
        204
    );
    let zipped = gzip(&snappy(&promtail_push("zipped").encode_to_vec()));
    let gzipped = &[("Content-Encoding", "gzip")];
    assert_eq!(
        post(&stack, &main, PROTOBUF, gzipped, zipped)
            .await
            .status(),
        204
    );

    let logs = stored(&stack, "promtail", 2).await;
    let line = by_message(&logs, "GET /cart 200");
    assert_eq!(
        line,
        &json!({
            "id": line["id"],
            "timestamp": "2026-05-05T10:00:00.250Z",
            "service": "promtail",
            "level": "INFO",
            "message": "GET /cart 200",
            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
            "metadata": {
                "filename": "/var/log/app \"blue\".log",
                "host": "web-1",
                "job": "promtail",
                "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
                "X-Scope-OrgID": "tenant-a",
            }
        })
    );
    // A JSON line: its level and msg are the event's.
    let parsed = by_message(&logs, "db down");
    assert_eq!(parsed["level"], "ERROR");
    assert_eq!(parsed["timestamp"], "2026-05-05T10:00:01.000Z");
    assert_fields(
        &parsed["metadata"],
        &json!({"level": "error", "retry": "2", "job": "promtail"}),
    );
    assert!(is_trace_id(parsed["trace_id"].as_str().unwrap()));

    let api = stored(&stack, "promtail-api", 1).await;
    assert_eq!(api[0]["level"], "WARN");
    assert_eq!(api[0]["timestamp"], "2026-05-05T10:00:02.005Z");
    assert_eq!(
        api[0]["metadata"],
        json!({
            "detected_level": "warn",
            "job": "promtail",
            "service_name": "promtail-api",
            "span_id": "00f067aa0ba902b7",
            "X-Scope-OrgID": "tenant-a",
        })
    );
    // No tenant header, no tenant entry.
    for service in ["alloy", "zipped"] {
        let logs = stored(&stack, service, 2).await;
        assert!(
            logs.iter()
                .all(|log| log["metadata"].get("X-Scope-OrgID").is_none())
        );
    }
}

// --- JSON by hand ---------------------------------------------------------------------

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test]
async fn both_json_forms_plain_gzip_and_deflate() {
    let stack = TestStack::spawn().await;
    let current = json!({"streams": [{
    "stream": {"app": "shop", "region": "eu\"1", "level": "Warning"},
    "values": [
        ["1777975200250000000", "plain"],
        ["1777975200500000000", "with metadata", {"trace_id": "abc123", "user": "ada"}],
    ]}]})
    .to_string();
    let legacy = r#"{"streams":[{"labels":"{service=\"legacy\", path=\"C:\\Temp\", level=\"err\"}",
        "entries":[{"ts":"2026-05-05T12:00:00.75+02:00","line":"old form"},
                   {"ts":"2026-05-05T10:00:01Z","line":"with sm","structuredMetadata":[{"name":"k","value":"v"}]}]}]}"#;
    let (status, text) = push_text(&stack, JSON, &[], current.clone()).await;
    assert_eq!((status, text.as_str()), (204, ""));
    let gzipped = &[("Content-Encoding", "gzip")];
    let (status, _) = push_text(
        &stack,
        "application/json; charset=utf-8",
        gzipped,
        gzip(legacy.as_bytes()),
    )
    .await;
    assert_eq!(status, 204);
    let deflated = &[("Content-Encoding", "deflate")];
    let shop2 = current.replace("\"shop\"", "\"shop2\"");
    let (status, _) = push_text(&stack, JSON, deflated, deflate(shop2.as_bytes())).await;
    assert_eq!(status, 204);

    for service in ["shop", "shop2"] {
        let logs = stored(&stack, service, 2).await;
        let plain = by_message(&logs, "plain");
        assert_eq!(plain["timestamp"], "2026-05-05T10:00:00.250Z");
        assert_eq!(plain["level"], "WARN");
        assert_eq!(
            plain["metadata"],
            json!({"app": service, "region": "eu\"1", "level": "Warning"})
        );
        let with = by_message(&logs, "with metadata");
        assert_eq!(with["trace_id"], "abc123");
        assert_fields(
            &with["metadata"],
            &json!({"trace_id": "abc123", "user": "ada"}),
        );
    }
    let logs = stored(&stack, "legacy", 2).await;
    let old = by_message(&logs, "old form");
    assert_eq!(old["timestamp"], "2026-05-05T10:00:00.750Z");
    assert_eq!(old["level"], "ERROR");
    // python-logging-loki escapes only quotes: a backslash that is no escape stays.
    assert_eq!(
        old["metadata"],
        json!({"service": "legacy", "path": "C:\\Temp", "level": "err"})
    );
    assert_eq!(by_message(&logs, "with sm")["metadata"]["k"], "v");
}

#[tokio::test]
async fn json_lines_are_kept_as_they_are_when_parsing_is_off() {
    let stack = TestStack::spawn_with(StackOptions::env("LOKI_PARSE_JSON_LINES", "false")).await;
    let line = r#"{"msg":"as is","level":"error"}"#;
    let body =
        json!({"streams": [{"stream": {"job": "raw"}, "values": [["1777975200000000000", line]]}]});
    let (status, _) = push_text(&stack, JSON, &[], body.to_string()).await;
    assert_eq!(status, 204);
    let logs = stored(&stack, "raw", 1).await;
    assert_eq!(logs[0]["message"], line);
    assert_eq!(logs[0]["level"], "INFO");
    assert_eq!(logs[0]["metadata"], json!({"job": "raw"}));
}

// --- Refusals -------------------------------------------------------------------------

#[tokio::test]
async fn refused_entries_are_named_by_stream_and_entry_and_the_others_stored() {
    let stack = TestStack::spawn_with(StackOptions::env("RETENTION_DAYS", "30")).await;
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap();
    let body = json!({"streams": [
        {"stream": {"job": "mixed"}, "values": [
            [now.to_string(), "kept"],
            [now.to_string(), ""],
            ["1577836800000000000", "from 2020"]]},
        {"stream": {"job": "mixed", "app": "x\u{7}y"}, "values": [[now.to_string(), "bad service"]]},
        {"stream": {"job": "mixed"}, "values": [[now.to_string(), "also kept"]]},
    ]});
    let url = push_url(&loki_base(&stack));
    let (status, content_type, text) =
        answer_of(post(&stack, &url, JSON, &[], body.to_string().into_bytes()).await).await;
    assert_eq!((status, content_type.as_str()), (400, TEXT));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(
        lines[0],
        "3 of 5 entries were refused, 2 stored: streams[0].values[1] {job=\"mixed\"}: \
         the line must not be blank"
    );
    assert!(
        lines[1].starts_with(
            "streams[0].values[2] {job=\"mixed\"}: the timestamp must be within the retention \
             window of 30 days (RETENTION_DAYS): not before "
        ),
        "{}",
        lines[1]
    );
    assert_eq!(
        lines[2],
        "streams[1].values[0] {app=\"x\\u{7}y\", job=\"mixed\"}: the service (app) must not \
         contain control characters"
    );

    let logs = stored(&stack, "mixed", 2).await;
    let mut messages: Vec<&str> = logs
        .iter()
        .map(|l| l["message"].as_str().unwrap())
        .collect();
    messages.sort();
    assert_eq!(messages, ["also kept", "kept"]);

    // Counted per protocol and reason.
    let metrics = metrics(&stack, &stack.ingestion_url).await;
    for wanted in [
        r#"traceflow_ingest_events_accepted_total{protocol="loki",tenant="default"}"#,
        r#"traceflow_ingest_events_rejected_total{protocol="loki",reason="invalid",tenant="default"}"#,
        r#"traceflow_ingest_events_rejected_total{protocol="loki",reason="too_old",tenant="default"}"#,
    ] {
        assert!(
            metrics.lines().any(|line| line.starts_with(wanted)),
            "{wanted}\n{metrics}"
        );
    }
}

/// A push refused whole: its content type, headers and body, and the status and text answered.
type Refusal = (
    &'static str,
    Vec<(&'static str, &'static str)>,
    Vec<u8>,
    u16,
    &'static str,
);

#[tokio::test]
async fn undecodable_oversized_and_unsupported_pushes_are_refused_whole() {
    let stack = TestStack::spawn_with(StackOptions::small_limits()).await;
    let cases: Vec<Refusal> = vec![
        (
            JSON,
            vec![],
            br#"{"streams":[{"stream":{"job":"x"},"values":[["soon","line"]]}]}"#.to_vec(),
            400,
            "streams[0].values[0][0]: the time must be nanoseconds since the epoch, as a string \
             such as \"1777975200250000000\", got \"soon\"",
        ),
        (
            JSON,
            vec![],
            b"{\"streams\": [".to_vec(),
            400,
            "malformed JSON: EOF while parsing a list at line 1 column 13",
        ),
        (
            PROTOBUF,
            vec![],
            snappy(
                &PushRequest {
                    streams: vec![StreamAdapter {
                        labels: "job=x".into(),
                        ..Default::default()
                    }],
                }
                .encode_to_vec(),
            ),
            400,
            "streams[0].labels: expected { to open the labels at byte 0",
        ),
        (
            JSON,
            vec![("X-Scope-OrgID", "team/a")],
            br#"{"streams":[]}"#.to_vec(),
            400,
            "X-Scope-OrgID must be a tenant id of 1 to 150 letters, digits and !-_.*'() (not . \
             or ..), got \"team/a\"",
        ),
        (
            JSON,
            vec![("Content-Encoding", "gzip")],
            gzip(&[b' '; 70 * 1024]),
            413,
            "request body is larger than the limit of 65536 bytes (after decompression)",
        ),
        (
            PROTOBUF,
            vec![],
            snappy(
                &PushRequest {
                    streams: vec![StreamAdapter {
                        labels: "{}".into(),
                        entries: (0..4)
                            .map(|n| entry(MAY_5, 0, &format!("e{n}"), vec![]))
                            .collect(),
                        hash: 0,
                    }],
                }
                .encode_to_vec(),
            ),
            413,
            "the push holds 4 entries, more than the limit of 3 (MAX_BATCH_EVENTS)",
        ),
        (
            JSON,
            vec![("Content-Encoding", "br")],
            b"{}".to_vec(),
            415,
            "Content-Encoding \"br\" is not supported; use gzip, deflate, zstd, snappy or none",
        ),
    ];
    let url = push_url(&loki_base(&stack));
    for (content_type, headers, body, status, message) in cases {
        let (got, got_type, text) =
            answer_of(post(&stack, &url, content_type, &headers, body).await).await;
        assert_eq!(
            (got, got_type.as_str(), text.as_str()),
            (status, TEXT, format!("{message}\n").as_str())
        );
    }
    // curl -d without -H 'Content-Type: application/json' is read as protobuf.
    let (status, got_type, text) = answer_of(
        post(
            &stack,
            &url,
            "application/x-www-form-urlencoded",
            &[],
            br#"{"streams":[]}"#.to_vec(),
        )
        .await,
    )
    .await;
    assert_eq!((status, got_type.as_str()), (400, TEXT));
    assert!(text.starts_with("the body is not valid snappy: "), "{text}");
    assert!(
        text.ends_with(
            " (a push whose Content-Type is not application/json is read as protobuf in a snappy \
             block)\n"
        ),
        "{text}"
    );
    assert!(stack.queued().await.is_empty(), "nothing was queued");

    // An empty push is a push of nothing.
    let (status, _) = push_text(&stack, JSON, &[], r#"{"streams":[]}"#).await;
    assert_eq!(status, 204);
}

#[tokio::test]
async fn backpressure_is_429_and_a_queue_down_503_both_with_retry_after() {
    let stack = TestStack::spawn_with(StackOptions::queue_of(2)).await;
    let two = json!({"streams": [{"stream": {"job": "flood"}, "values": [
        ["1777975200000000000", "a"], ["1777975200000000001", "b"]]}]})
    .to_string();
    let url = push_url(&loki_base(&stack));
    let first = post(&stack, &url, JSON, &[], two.clone().into_bytes()).await;
    assert_eq!(first.status(), 204);
    let refused = post(&stack, &url, JSON, &[], two.into_bytes()).await;
    assert_eq!(refused.headers()["retry-after"], "2");
    let (status, content_type, text) = answer_of(refused).await;
    assert_eq!(
        (status, content_type.as_str(), text.as_str()),
        (
            429,
            TEXT,
            "queue is full (2 events waiting), the event was not accepted; retry later\n"
        )
    );
    assert_eq!(
        stack.queued().await.len(),
        2,
        "the refused entries were not queued"
    );
    let ready = stack
        .http
        .get(format!("{}/ready", loki_base(&stack)))
        .send()
        .await
        .unwrap();
    assert_eq!(
        answer_of(ready).await,
        (200, TEXT.to_owned(), "ready\n".to_owned())
    );

    let down = without_redis().await;
    let body = json!({"streams": [{"stream": {}, "values": [["1777975200000000000", "lost?"]]}]});
    let refused = post(
        &down,
        &push_url(&down.ingestion_url),
        JSON,
        &[],
        body.to_string().into_bytes(),
    )
    .await;
    assert_eq!(refused.headers()["retry-after"], "2");
    let (status, _, text) = answer_of(refused).await;
    assert_eq!(status, 503);
    assert!(
        text.starts_with("queue unavailable, the event was not accepted: redis does not answer"),
        "{text}"
    );
    let (status, _, text) = answer_of(
        down.http
            .get(format!("{}/ready", loki_base(&down)))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 503);
    assert!(
        text.starts_with("not ready: the queue is unavailable: redis: "),
        "{text}"
    );
}

#[tokio::test]
async fn the_loki_port_serves_the_push_and_ready_behind_the_ingest_keys() {
    let stack = TestStack::spawn_with(StackOptions {
        worker: false,
        extra_env: vec![("INGEST_API_KEYS", "loki-key".to_owned())],
        ..StackOptions::default()
    })
    .await;
    let base = loki_base(&stack);
    let body = br#"{"streams":[]}"#.to_vec();
    let url = push_url(&base);
    assert_eq!(
        post(&stack, &url, JSON, &[], body.clone()).await.status(),
        401
    );
    let bearer = &[("Authorization", "Bearer loki-key")];
    assert_eq!(
        post(&stack, &url, JSON, bearer, body.clone())
            .await
            .status(),
        204
    );
    let main = push_url(&stack.ingestion_url);
    assert_eq!(
        post(&stack, &main, JSON, &[], body.clone()).await.status(),
        401
    );
    assert_eq!(
        post(&stack, &main, JSON, &[("X-API-Key", "loki-key")], body)
            .await
            .status(),
        204
    );

    // /ready is open, as /health is, and only on the Loki port; the Loki port serves Loki's
    // routes alone, with trace ids.
    let get = |url: String| {
        let request = stack.http.get(url).header("X-Trace-ID", "on-the-loki-port");
        async move { request.send().await.unwrap() }
    };
    assert_eq!(get(format!("{base}/ready")).await.status(), 200);
    assert_eq!(
        get(format!("{}/ready", stack.ingestion_url)).await.status(),
        404
    );
    let ingest = get(format!("{base}/ingest")).await;
    assert_eq!(ingest.status(), 404);
    assert_eq!(ingest.headers()["x-trace-id"], "on-the-loki-port");
    let off = TestStack::spawn_with(StackOptions {
        worker: false,
        extra_env: vec![("LOKI_PORT", "off".to_owned())],
        ..StackOptions::default()
    })
    .await;
    assert_eq!(off.protocol_addresses.loki, "");
    let (status, _) = push_text(&off, JSON, &[], r#"{"streams":[]}"#).await;
    assert_eq!(status, 204, "the main port still takes pushes");
}

#[tokio::test]
async fn pino_lokis_x_scope_orgid_picks_the_tenant_its_key_acts_for() {
    let directory = tempfile::tempdir().unwrap();
    let keys = directory.path().join("keys.toml");
    std::fs::write(
        &keys,
        "[[keys]]\nkey = \"loki-key\"\ntenants = [\"other\", \"acme\"]\nscopes = [\"ingest\", \"query\"]\n",
    )
    .unwrap();
    let stack = TestStack::spawn_with(StackOptions::env(
        "KEYS_FILE",
        keys.to_str().unwrap().to_owned(),
    ))
    .await;
    run_pino_loki(&stack, "pino-tenant", &[("LOKI_PASSWORD", "loki-key")]).await;

    let logs = |org_id: &'static str| {
        stack
            .http
            .get(format!("{}/logs?service=pino-tenant", stack.query_url))
            .bearer_auth("loki-key")
            .header("X-Scope-OrgID", org_id)
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let body: Value = logs("acme").send().await.unwrap().json().await.unwrap();
        if body["count"] == 6 {
            assert!(
                body["logs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|log| log["tenant"] == "acme")
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{body}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let other: Value = logs("other").send().await.unwrap().json().await.unwrap();
    assert_eq!(other["count"], 0, "{other}");
}
