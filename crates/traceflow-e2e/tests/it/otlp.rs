//! `POST /v1/logs`, the OTLP/HTTP logs receiver, on ingestion's main port and on its
//! `OTLP_PORT`. Real OpenTelemetry clients nobody here wrote send the records (the Python
//! SDK with its protobuf and JSON exporters, the Rust `opentelemetry-otlp` exporter through
//! the `tracing` bridge), then the records are read back through `GET /logs` with every
//! mapped field checked. Protocol details (partial success, errors as `google.rpc.Status`,
//! limits, backpressure) are checked with requests built from the published protos.

use crate::stored::{
    assert_fields, by_message, gzip, is_recent, is_trace_id, post, stored, without_redis,
};
use opentelemetry_proto::tonic::{
    collector::logs::v1::{ExportLogsServiceRequest, ExportLogsServiceResponse},
    common::v1::{AnyValue, KeyValue, any_value::Value as Any},
    logs::v1::{LogRecord, ResourceLogs, ScopeLogs},
    resource::v1::Resource,
};
use prost::Message;
use serde_json::{Value, json};
use std::path::Path;
use traceflow_testkit::{StackOptions, TestStack};

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

fn logs_url(base: &str) -> String {
    format!("{base}/v1/logs")
}

// --- The Python SDK -------------------------------------------------------------------

/// The command that runs `tests/otlp/export_logs.py` (the OpenTelemetry Python SDK and an
/// OTLP exporter): `transport` is `protobuf` or `json` (OTLP/HTTP, `endpoint` the URL of
/// `/v1/logs`) or `grpc` (`endpoint` `http://host:port`); `options` are its flags
/// (`--gzip`, `--header`, `name=value`).
pub(crate) fn python_command(
    endpoint: &str,
    transport: &str,
    service: &str,
    options: &[&str],
) -> tokio::process::Command {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/otlp/export_logs.py");
    let mut command = tokio::process::Command::new("python3");
    command
        .arg(&script)
        .args([endpoint, transport, service])
        .args(options);
    command
}

/// How a run of `export_logs.py` ended: whether every export succeeded, what it printed
/// (the span's ids, the export results) and its log (stderr: the exporter's warnings).
pub(crate) struct PythonRun {
    pub(crate) succeeded: bool,
    pub(crate) printed: Value,
    pub(crate) log: String,
}

impl PythonRun {
    pub(crate) fn of(status: std::process::ExitStatus, stdout: &[u8], log: String) -> Self {
        assert!(
            !log.contains("ModuleNotFoundError"),
            "the OpenTelemetry Python packages are missing; run scripts/test.sh or \
             `python3 -m pip install -r crates/traceflow-e2e/tests/otlp/requirements.txt`:\n{log}"
        );
        let stdout = String::from_utf8_lossy(stdout);
        let printed = serde_json::from_str(stdout.trim())
            .unwrap_or_else(|_| panic!("the script prints one JSON object:\n{stdout}\n{log}"));
        Self {
            succeeded: status.success(),
            printed,
            log,
        }
    }
}

/// Runs `command` to its end.
pub(crate) async fn python_run(mut command: tokio::process::Command) -> PythonRun {
    let output = command
        .output()
        .await
        .expect("python3 runs (scripts/test.sh installs what the OTLP tests need)");
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    PythonRun::of(output.status, &output.stdout, log)
}

/// Runs `export_logs.py`, which must succeed; returns what it printed.
async fn python_export(endpoint: &str, transport: &str, service: &str, gzip: bool) -> Value {
    let options: &[&str] = if gzip { &["--gzip"] } else { &[] };
    let run = python_run(python_command(endpoint, transport, service, options)).await;
    assert!(
        run.succeeded,
        "the Python exporter failed ({transport}, gzip {gzip}):\n{}\n{}",
        run.printed, run.log
    );
    run.printed
}

/// What `export_logs.py` sends, as `GET /logs` must show it.
pub(crate) fn check_python_records(logs: &[Value], service: &str, sent: &Value) {
    let trace_id = sent["trace_id"].as_str().unwrap();
    let span_id = sent["span_id"].as_str().unwrap();
    for log in logs {
        assert_eq!(log["service"], service, "{log:#}");
        // Resource attributes reach every record, next to the SDK's own.
        assert_fields(
            &log["metadata"],
            &json!({
                "service.name": service,
                "deployment.environment": "test",
                "telemetry.sdk.language": "python",
            }),
        );
        assert!(is_trace_id(log["trace_id"].as_str().unwrap()), "{log:#}");
    }

    // `logging.warning` inside a span: the span's ids, the logger as the scope, `extra`
    // as attributes, the SDK's code attributes.
    let declined = by_message(logs, "card 4242 declined");
    assert_eq!(declined["level"], "WARN");
    assert_eq!(declined["trace_id"], trace_id);
    assert!(is_recent(&declined["timestamp"]), "{declined:#}");
    let metadata = &declined["metadata"];
    assert_fields(
        metadata,
        &json!({
            "span_id": span_id,
            "otel.scope.name": "checkout.payments",
            "order.id": "1234",
            "amount": "12.5",
            "retry": "false",
            "shared": "resource",
            "code.function.name": "main",
        }),
    );
    assert!(
        metadata["code.file.path"]
            .as_str()
            .unwrap()
            .ends_with("export_logs.py")
    );
    assert!(
        metadata["code.line.number"]
            .as_str()
            .unwrap()
            .parse::<u32>()
            .is_ok()
    );

    // `logging.exception` outside any span: the exception attributes; no trace context,
    // so the export request's trace id and no span_id.
    let failed = by_message(logs, "charge failed");
    assert_eq!(failed["level"], "ERROR");
    assert_ne!(failed["trace_id"], trace_id);
    assert!(failed["metadata"].get("span_id").is_none(), "{failed:#}");
    assert_fields(
        &failed["metadata"],
        &json!({"exception.type": "ValueError", "exception.message": "bad amount"}),
    );
    assert!(
        failed["metadata"]["exception.stacktrace"]
            .as_str()
            .unwrap()
            .contains("raise ValueError(\"bad amount\")")
    );
    assert_eq!(by_message(logs, "ledger unreachable")["level"], "FATAL");

    // The Logs API: a map body as JSON, severity from the number ("notice" is not ours),
    // the explicit time, scope attributes, record attributes winning, nested attributes
    // flattened, arrays as JSON.
    let map_body = by_message(logs, r#"{"items":[1,2],"user":"ada"}"#);
    assert_eq!(map_body["level"], "DEBUG");
    assert_eq!(map_body["timestamp"], "2026-05-05T10:00:00.250Z");
    assert_fields(
        &map_body["metadata"],
        &json!({
            "shared": "record",
            "scope.kind": "api",
            "otel.scope.name": "traceflow.test",
            "otel.scope.version": "1.2.3",
            "http.method": "POST",
            "http.status": "201",
            "tags": r#"["a","b"]"#,
        }),
    );

    // Severity text of ours in any case; an int body; no time but the observed one.
    let int_body = by_message(logs, "42");
    assert_eq!(int_body["level"], "FATAL");
    assert!(is_recent(&int_body["timestamp"]), "{int_body:#}");
    assert_eq!(by_message(logs, "no severity at all")["level"], "INFO");
    // An event without a body is stored under its name.
    let event = by_message(logs, "user.signup");
    assert_eq!(event["level"], "INFO");
    assert_eq!(event["metadata"]["plan"], "pro");
    // The record with an attribute over 16 KiB was rejected alone.
    assert!(logs.iter().all(|log| log["message"] != "too big to keep"));
}

/// Records `export_logs.py` gets stored: 8 sent, 1 over a field limit.
pub(crate) const PYTHON_STORED: usize = 7;

/// Runs the Python exporter twice at once over `transport`: plain to `plain_endpoint` as
/// `service`, gzip to `gzip_endpoint` as `<service>-gzip`; then checks what each stored.
pub(crate) async fn python_exports_plain_and_gzip(
    stack: &TestStack,
    transport: &str,
    service: &str,
    plain_endpoint: &str,
    gzip_endpoint: &str,
) {
    let gzip_service = format!("{service}-gzip");
    let (plain, zipped) = tokio::join!(
        python_export(plain_endpoint, transport, service, false),
        python_export(gzip_endpoint, transport, &gzip_service, true),
    );
    for (service, sent) in [(service, plain), (gzip_service.as_str(), zipped)] {
        let logs = stored(stack, service, PYTHON_STORED).await;
        check_python_records(&logs, service, &sent);
    }
}

#[tokio::test]
async fn the_python_sdk_protobuf_exporter_plain_and_gzip_on_both_ports() {
    let stack = TestStack::spawn().await;
    python_exports_plain_and_gzip(
        &stack,
        "protobuf",
        "py-proto",
        &logs_url(&stack.otlp_url),
        &logs_url(&stack.ingestion_url),
    )
    .await;
}

#[tokio::test]
async fn the_python_sdk_json_exporter_plain_and_gzip_on_both_ports() {
    let stack = TestStack::spawn().await;
    python_exports_plain_and_gzip(
        &stack,
        "json",
        "py-json",
        &logs_url(&stack.ingestion_url),
        &logs_url(&stack.otlp_url),
    )
    .await;
}

// --- The Rust exporter ----------------------------------------------------------------

/// Logs through `tracing` -> `opentelemetry-appender-tracing` -> the SDK's batch processor
/// -> `exporter` (one of `opentelemetry-otlp`'s). Blocking: the processor runs the exporter
/// on a thread of its own and waits for it. Returns the trace and span id of the span around
/// one event.
fn rust_export(
    exporter: opentelemetry_otlp::LogExporter,
    service: &'static str,
) -> (String, String) {
    use opentelemetry::{
        KeyValue,
        trace::{TraceContextExt, Tracer, TracerProvider as _},
    };
    use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
    use opentelemetry_sdk::{Resource, logs::SdkLoggerProvider, trace::SdkTracerProvider};
    use tracing_subscriber::{Layer, filter::Targets, layer::SubscriberExt};

    let resource = Resource::builder_empty()
        .with_service_name(service)
        .with_attribute(KeyValue::new("deployment.environment", "test"))
        .build();
    let provider = SdkLoggerProvider::builder()
        .with_resource(resource)
        .with_batch_exporter(exporter)
        .build();
    let tracer = SdkTracerProvider::builder().build().tracer("rust-test");
    // Only the test's own events: none of the exporter's or its client's.
    let bridge = OpenTelemetryTracingBridge::new(&provider).with_filter(
        Targets::new()
            .with_target("checkout", tracing::Level::TRACE)
            .with_target("billing", tracing::Level::TRACE),
    );
    let subscriber = tracing_subscriber::registry().with(bridge);
    let ids = tracing::subscriber::with_default(subscriber, || {
        let ids = tracer.in_span("charge", |cx| {
            let span = cx.span().span_context().clone();
            tracing::error!(target: "checkout", order_id = 1234, amount = 12.5, retry = false, "card declined");
            (span.trace_id().to_string(), span.span_id().to_string())
        });
        tracing::warn!(target: "billing", "low balance");
        tracing::info!(target: "billing", user = "ada", "invoice sent");
        tracing::debug!(target: "billing", "cache miss");
        tracing::trace!(target: "billing", "entering ledger");
        ids
    });
    provider
        .force_flush()
        .expect("the export succeeds (force_flush returns its result)");
    provider.shutdown().expect("the provider shuts down");
    ids
}

/// Runs [`rust_export`] through `exporter` (off the runtime: it blocks), then checks what
/// it sent as `service` as `GET /logs` shows it.
pub(crate) async fn rust_export_and_check(
    stack: &TestStack,
    exporter: opentelemetry_otlp::LogExporter,
    service: &'static str,
) {
    let (trace_id, span_id) = tokio::task::spawn_blocking(move || rust_export(exporter, service))
        .await
        .unwrap();
    let logs = stored(stack, service, 5).await;
    for log in &logs {
        assert_eq!(log["service"], service);
        assert_fields(
            &log["metadata"],
            &json!({"service.name": service, "deployment.environment": "test"}),
        );
        assert!(is_recent(&log["timestamp"]), "{log:#}");
    }
    let declined = by_message(&logs, "card declined");
    assert_eq!(declined["level"], "ERROR", "{declined:#}");
    assert_eq!(declined["trace_id"], trace_id.as_str());
    assert_fields(
        &declined["metadata"],
        &json!({
            "span_id": span_id,
            // The tracing target is the instrumentation scope.
            "otel.scope.name": "checkout",
            "order_id": "1234",
            "amount": "12.5",
            "retry": "false",
        }),
    );

    let levels: Vec<(&str, &str)> = [
        "low balance",
        "invoice sent",
        "cache miss",
        "entering ledger",
    ]
    .iter()
    .map(|message| {
        (
            *message,
            by_message(&logs, message)["level"].as_str().unwrap(),
        )
    })
    .collect();
    assert_eq!(
        levels,
        [
            ("low balance", "WARN"),
            ("invoice sent", "INFO"),
            ("cache miss", "DEBUG"),
            ("entering ledger", "TRACE"),
        ]
    );
    let invoice = by_message(&logs, "invoice sent");
    assert_eq!(invoice["metadata"]["user"], "ada");
    assert_eq!(invoice["metadata"]["otel.scope.name"], "billing");
    // Outside any span: the request's trace id, no span id.
    assert_ne!(invoice["trace_id"], trace_id.as_str());
    assert!(is_trace_id(invoice["trace_id"].as_str().unwrap()));
    assert!(invoice["metadata"].get("span_id").is_none());
}

#[tokio::test]
async fn the_rust_otlp_exporter_through_the_tracing_bridge_both_encodings() {
    use opentelemetry_otlp::{LogExporter, Protocol, WithExportConfig, WithHttpConfig};
    let stack = TestStack::spawn().await;
    let runs = [
        ("rust-proto", Protocol::HttpBinary, false, &stack.otlp_url),
        (
            "rust-proto-gzip",
            Protocol::HttpBinary,
            true,
            &stack.ingestion_url,
        ),
        ("rust-json", Protocol::HttpJson, false, &stack.ingestion_url),
        ("rust-json-gzip", Protocol::HttpJson, true, &stack.otlp_url),
    ];
    for (service, protocol, gzip, base) in runs {
        let mut exporter = LogExporter::builder()
            .with_http()
            .with_endpoint(logs_url(base))
            .with_protocol(protocol);
        if gzip {
            exporter = exporter.with_compression(opentelemetry_otlp::Compression::Gzip);
        }
        let exporter = exporter.build().expect("the exporter builds");
        rust_export_and_check(&stack, exporter, service).await;
    }
}

// --- Requests built by hand -----------------------------------------------------------

/// OTLP/JSON as the specification writes it, with the liberties it allows: 64-bit
/// integers as strings or numbers, ids in upper-case hex, unknown fields.
#[tokio::test]
async fn an_otlp_json_body_maps_every_field() {
    let stack = TestStack::spawn().await;
    let body = r#"{"resourceLogs": [
        {"resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "json-hand"}},
            {"key": "host.name", "value": {"stringValue": "web-1"}},
            {"key": "shared", "value": {"stringValue": "resource"}}]},
         "futureField": {"ignored": true},
         "scopeLogs": [{"scope": {"name": "hand.scope", "version": "0.1",
                                  "attributes": [{"key": "shared", "value": {"stringValue": "scope"}}]},
            "logRecords": [
            {"timeUnixNano": "1777975200250999999", "observedTimeUnixNano": 1777975299000000000,
             "severityNumber": 9, "severityText": "error",
             "body": {"stringValue": "string times, text wins"},
             "traceId": "4BF92F3577B34DA6A3CE929D0E0E4736", "spanId": "00F067AA0BA902B7",
             "attributes": [
                {"key": "shared", "value": {"stringValue": "record"}},
                {"key": "big", "value": {"intValue": "9007199254740993"}},
                {"key": "small", "value": {"intValue": -7}},
                {"key": "ratio", "value": {"doubleValue": 0.25}},
                {"key": "raw", "value": {"bytesValue": "AP8="}},
                {"key": "http", "value": {"kvlistValue": {"values": [
                    {"key": "request", "value": {"kvlistValue": {"values": [
                        {"key": "method", "value": {"stringValue": "GET"}}]}}}]}}}]},
            {"observedTimeUnixNano": 1777975200500000000, "severityNumber": 22,
             "body": {"arrayValue": {"values": [{"intValue": 1}, {"stringValue": "two"}]}},
             "traceId": "", "spanId": ""},
            {"severityNumber": 3, "body": {"boolValue": true}}]}]},
        {"resource": {}, "scopeLogs": [{"logRecords": [{"body": {"stringValue": "no service"}}]}]}
    ]}"#;
    let answer = post(
        &stack,
        &logs_url(&stack.ingestion_url),
        JSON,
        &[("X-Trace-ID", "client-trace-id")],
        body.into(),
    )
    .await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["content-type"], JSON);
    assert_eq!(answer.headers()["x-trace-id"], "client-trace-id");
    assert_eq!(answer.json::<Value>().await.unwrap(), json!({}));

    let logs = stored(&stack, "json-hand", 3).await;
    let first = by_message(&logs, "string times, text wins");
    assert_eq!(
        first,
        &json!({
            "id": first["id"],
            "timestamp": "2026-05-05T10:00:00.250Z",
            "service": "json-hand",
            "level": "ERROR",
            "message": "string times, text wins",
            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
            "metadata": {
                "service.name": "json-hand",
                "host.name": "web-1",
                "otel.scope.name": "hand.scope",
                "otel.scope.version": "0.1",
                "shared": "record",
                "big": "9007199254740993",
                "small": "-7",
                "ratio": "0.25",
                "raw": "AP8=",
                "http.request.method": "GET",
                "span_id": "00f067aa0ba902b7",
            }
        })
    );
    // Observed time stands in; a number severity of 22 is FATAL; an array body is JSON;
    // an empty trace id is the request's (the client's X-Trace-ID here).
    let second = by_message(&logs, r#"[1,"two"]"#);
    assert_eq!(second["timestamp"], "2026-05-05T10:00:00.500Z");
    assert_eq!(second["level"], "FATAL");
    assert_eq!(second["trace_id"], "client-trace-id");
    assert!(second["metadata"].get("span_id").is_none());
    let third = by_message(&logs, "true");
    assert_eq!(third["level"], "TRACE");
    assert!(is_recent(&third["timestamp"]));

    let unknown = stored(&stack, "unknown_service", 1).await;
    assert_eq!(unknown[0]["message"], "no service");
    assert_eq!(unknown[0]["metadata"], json!({}));
}

pub(crate) fn record(body: &str) -> LogRecord {
    LogRecord {
        body: Some(AnyValue {
            value: Some(Any::StringValue(body.to_owned())),
        }),
        ..Default::default()
    }
}

pub(crate) fn request(service: &str, records: Vec<LogRecord>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(AnyValue {
                        value: Some(Any::StringValue(service.into())),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[tokio::test]
async fn rejected_records_are_counted_in_partial_success_and_the_rest_stored() {
    let stack = TestStack::spawn().await;
    let records = || {
        let mut long = record(&"x".repeat(256 * 1024 + 1));
        long.severity_number = 17;
        vec![
            record("kept"),
            long,
            LogRecord::default(),
            record("also kept"),
        ]
    };
    let expected_message = "2 of 4 log records were rejected: \
        resourceLogs[0].scopeLogs[0].logRecords[1]: body is longer than 262144 bytes; \
        resourceLogs[0].scopeLogs[0].logRecords[2]: the log record has no body (and no event name to stand for it)";

    let answer = post(
        &stack,
        &logs_url(&stack.otlp_url),
        PROTOBUF,
        &[],
        request("partial-proto", records()).encode_to_vec(),
    )
    .await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["content-type"], PROTOBUF);
    let response = ExportLogsServiceResponse::decode(answer.bytes().await.unwrap()).unwrap();
    let partial = response.partial_success.expect("partial_success is set");
    assert_eq!(partial.rejected_log_records, 2);
    assert_eq!(partial.error_message, expected_message);

    let json_body = serde_json::to_vec(&request("partial-json", records())).unwrap();
    let answer = post(
        &stack,
        &logs_url(&stack.ingestion_url),
        JSON,
        &[],
        json_body,
    )
    .await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["content-type"], JSON);
    let text = answer.text().await.unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!({"partialSuccess": {"rejectedLogRecords": 2, "errorMessage": expected_message}})
    );
    // As the Rust SDK's exporter reads it.
    let response: ExportLogsServiceResponse = serde_json::from_str(&text).unwrap();
    assert_eq!(response.partial_success.unwrap().rejected_log_records, 2);

    for service in ["partial-proto", "partial-json"] {
        let mut messages: Vec<String> = stored(&stack, service, 2)
            .await
            .iter()
            .map(|log| log["message"].as_str().unwrap().to_owned())
            .collect();
        messages.sort();
        assert_eq!(messages, ["also kept", "kept"]);
    }
}

/// The messages of the queued events, oldest first.
pub(crate) async fn queued_messages(stack: &TestStack) -> Vec<String> {
    let queued = stack.queued().await;
    queued
        .iter()
        .map(|event| event.message.clone().into_owned())
        .collect()
}

/// The header of a gzip body.
const GZIP: &[(&str, &str)] = &[("Content-Encoding", "gzip")];

/// The `google.rpc.Status` of an error answer, in the request's encoding.
async fn status_of(answer: reqwest::Response, content_type: &str) -> (u16, i32, String) {
    let status = answer.status().as_u16();
    assert_eq!(answer.headers()["content-type"], content_type);
    let body = answer.bytes().await.unwrap();
    if content_type == PROTOBUF {
        let decoded = tonic_types::Status::decode(body).expect("a protobuf google.rpc.Status");
        (status, decoded.code, decoded.message)
    } else {
        let decoded: Value = serde_json::from_slice(&body).expect("a JSON google.rpc.Status");
        (
            status,
            decoded["code"].as_i64().unwrap() as i32,
            decoded["message"].as_str().unwrap().to_owned(),
        )
    }
}

/// Posts and reads the `google.rpc.Status` of the error answer: in the request's encoding,
/// or in JSON when the request has neither OTLP encoding.
async fn refusal(
    stack: &TestStack,
    url: &str,
    content_type: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, i32, String) {
    let answered_in = if content_type == PROTOBUF {
        PROTOBUF
    } else {
        JSON
    };
    status_of(
        post(stack, url, content_type, headers, body).await,
        answered_in,
    )
    .await
}

#[tokio::test]
async fn empty_undecodable_and_unsupported_requests() {
    let stack = TestStack::spawn_with(StackOptions {
        worker: false,
        ..StackOptions::default()
    })
    .await;
    let url = logs_url(&stack.otlp_url);

    // An empty request is answered like any other, in its own encoding.
    let answer = post(&stack, &url, PROTOBUF, &[], Vec::new()).await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["content-type"], PROTOBUF);
    assert!(answer.bytes().await.unwrap().is_empty());
    for body in [
        "{}",
        r#"{"resourceLogs":[]}"#,
        r#"{"resourceLogs":[{"scopeLogs":[]}]}"#,
    ] {
        let answer = post(&stack, &url, JSON, &[], body.into()).await;
        assert_eq!(answer.status(), 200, "{body}");
        assert_eq!(answer.json::<Value>().await.unwrap(), json!({}));
    }

    // Undecodable: 400 with a google.rpc.Status (code 3, INVALID_ARGUMENT).
    let (status, code, message) =
        refusal(&stack, &url, PROTOBUF, &[], b"\xff\xff\xff".to_vec()).await;
    assert_eq!((status, code), (400, 3));
    assert!(
        message.starts_with("the body is not a protobuf ExportLogsServiceRequest"),
        "{message}"
    );
    let bad_json = [
        "{\"resourceLogs\": [",
        r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"not hex"}]}]}]}"#,
        r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"yesterday"}]}]}]}"#,
        r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"attributes":[{"key":"k","value":{"intValue":"1.5"}}]}]}]}]}"#,
    ];
    for body in bad_json {
        let (status, code, message) = refusal(&stack, &url, JSON, &[], body.into()).await;
        assert_eq!((status, code), (400, 3), "{body}");
        assert!(
            message.starts_with("the body is not an OTLP/JSON ExportLogsServiceRequest"),
            "{message}"
        );
    }
    let (status, _, message) = refusal(&stack, &url, PROTOBUF, GZIP, b"plain".to_vec()).await;
    assert_eq!(status, 400);
    assert!(
        message.starts_with("the body is not valid gzip"),
        "{message}"
    );

    // Neither OTLP encoding: 415, the Status in JSON.
    let (status, _, message) = refusal(&stack, &url, "text/plain", &[], b"hello".to_vec()).await;
    assert_eq!(status, 415);
    assert_eq!(
        message,
        "Content-Type must be application/x-protobuf or application/json (OTLP/HTTP)"
    );
    let (status, _, message) = refusal(
        &stack,
        &url,
        PROTOBUF,
        &[("Content-Encoding", "br")],
        Vec::new(),
    )
    .await;
    assert_eq!(status, 415);
    assert_eq!(
        message,
        "Content-Encoding \"br\" is not supported; use gzip, deflate, zstd, snappy or none"
    );

    assert!(stack.queued().await.is_empty(), "nothing was queued");

    // The OTLP port serves the receiver only; every answer carries the trace id.
    let ingest = stack
        .http
        .post(format!("{}/ingest", stack.otlp_url))
        .header("X-Trace-ID", "on-the-otlp-port")
        .json(&json!({"service": "s", "level": "INFO", "message": "m"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ingest.status(), 404);
    assert_eq!(ingest.headers()["x-trace-id"], "on-the-otlp-port");
}

#[tokio::test]
async fn size_limits_count_decompressed_bytes_and_records() {
    let stack = TestStack::spawn_with(StackOptions::small_limits()).await;
    let url = logs_url(&stack.ingestion_url);
    let big = request("big", vec![record(&"y".repeat(70 * 1024))]).encode_to_vec();
    let limit_message =
        "request body is larger than the limit of 65536 bytes (after decompression)";

    let (status, code, message) = refusal(&stack, &url, PROTOBUF, &[], big.clone()).await;
    assert_eq!((status, code, message.as_str()), (413, 8, limit_message));
    // Compressed it is about 100 bytes; decompressed it is over the limit.
    let zipped = gzip(&big);
    assert!(zipped.len() < 1024);
    let (status, _, message) = refusal(&stack, &url, PROTOBUF, GZIP, zipped).await;
    assert_eq!((status, message.as_str()), (413, limit_message));
    // A gzip bomb: 32 MiB of zeros in 32 gzip members of about 1 KiB each, under the
    // limit as sent; refused after inflating no more than the limit.
    let bomb = gzip(&vec![0u8; 1 << 20]).repeat(32);
    assert!(bomb.len() < 64 * 1024);
    let (status, _, _) = refusal(&stack, &url, JSON, GZIP, bomb).await;
    assert_eq!(status, 413);

    let four = request("many", (0..4).map(|n| record(&format!("r{n}"))).collect());
    let (status, code, message) = refusal(&stack, &url, PROTOBUF, &[], four.encode_to_vec()).await;
    assert_eq!(
        (status, code, message.as_str()),
        (
            413,
            8,
            "the request holds 4 log records, more than the limit of 3"
        )
    );
    assert!(stack.queued().await.is_empty());

    // Under both limits, compressed or not, it is queued.
    let three = request("fits", (0..3).map(|n| record(&format!("r{n}"))).collect());
    let answer = post(&stack, &url, PROTOBUF, GZIP, gzip(&three.encode_to_vec())).await;
    assert_eq!(answer.status(), 200);
    assert_eq!(queued_messages(&stack).await, ["r0", "r1", "r2"]);
}

#[tokio::test]
async fn backpressure_and_a_queue_down_are_503_with_retry_after() {
    let stack = TestStack::spawn_with(StackOptions::queue_of(2)).await;
    let url = logs_url(&stack.otlp_url);
    let two = request("flood", vec![record("a"), record("b")]).encode_to_vec();
    assert_eq!(
        post(&stack, &url, PROTOBUF, &[], two.clone())
            .await
            .status(),
        200
    );
    let refused = post(&stack, &url, PROTOBUF, &[], two).await;
    assert_eq!(refused.headers()["retry-after"], "2");
    let (status, code, message) = status_of(refused, PROTOBUF).await;
    assert_eq!((status, code), (503, 14), "{message}");
    assert_eq!(
        message,
        "queue is full (2 events waiting), the event was not accepted; retry later"
    );
    assert_eq!(
        stack.queued().await.len(),
        2,
        "the refused records were not queued"
    );

    let down = without_redis().await;
    let body = serde_json::to_vec(&request("outage", vec![record("lost?")])).unwrap();
    let refused = post(&down, &logs_url(&down.ingestion_url), JSON, &[], body).await;
    assert_eq!(refused.headers()["retry-after"], "2");
    let (status, code, message) = status_of(refused, JSON).await;
    assert_eq!((status, code), (503, 14));
    assert!(message.starts_with("queue unavailable"), "{message}");
}
