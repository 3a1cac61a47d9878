//! `LogsService/Export`, OTLP over gRPC, on ingestion's `OTLP_GRPC_PORT`. Real clients
//! nobody here wrote send the records: the OpenTelemetry Python SDK's gRPC exporter (plain
//! and gzip, with a refused and an accepted key, waiting out backpressure) and the Rust
//! `opentelemetry-otlp` tonic exporter; then every mapped field is read back through
//! `GET /logs`. The protocol's details (partial success, status codes, `RetryInfo`, limits,
//! the trace id) are checked with tonic's client generated from the published protos.

use crate::{
    metrics::metrics,
    otlp::{
        PYTHON_STORED, PythonRun, check_python_records, python_command,
        python_exports_plain_and_gzip, python_run, queued_messages, record, request,
        rust_export_and_check,
    },
    stored::{by_message, gzip, is_trace_id, stored, without_redis},
};
use opentelemetry_proto::tonic::{
    collector::logs::v1::{
        ExportLogsServiceRequest, ExportLogsServiceResponse, logs_service_client::LogsServiceClient,
    },
    common::v1::{AnyValue, KeyValue, any_value::Value as Any},
    logs::v1::LogRecord,
};
use prost::Message;
use serde_json::json;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tonic::{
    Code, Status,
    codec::CompressionEncoding,
    codegen::http::uri::PathAndQuery,
    transport::{Channel, Endpoint},
};
use tonic_types::StatusExt;
use traceflow_testkit::{StackOptions, TestStack};

/// What an API key refusal says, over gRPC as over HTTP.
const REFUSED: &str =
    "missing or invalid API key: send Authorization: Bearer <key> or X-API-Key: <key>";

/// Where OTLP/gRPC exporters are pointed: `http://host:port`.
fn endpoint(stack: &TestStack) -> String {
    let address = &stack.protocol_addresses.otlp_grpc;
    assert!(!address.is_empty(), "the OTLP/gRPC port is on by default");
    format!("http://{address}")
}

async fn channel(stack: &TestStack) -> Channel {
    Endpoint::from_shared(endpoint(stack))
        .unwrap()
        .connect()
        .await
        .expect("the OTLP/gRPC port accepts connections")
}

pub(crate) async fn client(stack: &TestStack) -> LogsServiceClient<Channel> {
    LogsServiceClient::new(channel(stack).await)
}

/// `message` as a call carrying `metadata`.
pub(crate) fn call<T>(message: T, metadata: &[(&'static str, &str)]) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    for (name, value) in metadata {
        request
            .metadata_mut()
            .insert(*name, value.parse().expect("an ASCII metadata value"));
    }
    request
}

/// The refusal of `request`, which must be refused.
async fn refused(
    client: &mut LogsServiceClient<Channel>,
    request: impl tonic::IntoRequest<ExportLogsServiceRequest>,
) -> Status {
    match client.export(request).await {
        Ok(answer) => panic!("expected a refusal, got {:?}", answer.into_inner()),
        Err(status) => status,
    }
}

/// The delays a refusal asks for: in its status details (`RetryInfo`) and in the trailer the
/// Python SDK reads.
fn retry_delays(status: &Status) -> (Option<Duration>, Option<i64>) {
    let details = status
        .get_details_retry_info()
        .and_then(|info| info.retry_delay);
    let trailer = status
        .metadata()
        .get_bin("google.rpc.retryinfo-bin")
        .map(|value| {
            let info = tonic_types::pb::RetryInfo::decode(value.to_bytes().unwrap()).unwrap();
            info.retry_delay.unwrap().seconds
        });
    (details, trailer)
}

// --- Real clients ---------------------------------------------------------------------

#[tokio::test]
async fn the_python_sdk_grpc_exporter_plain_and_gzip() {
    let stack = TestStack::spawn().await;
    let endpoint = endpoint(&stack);
    python_exports_plain_and_gzip(&stack, "grpc", "py-grpc", &endpoint, &endpoint).await;
}

#[tokio::test]
async fn the_rust_otlp_tonic_exporter_plain_and_gzip() {
    use opentelemetry_otlp::{Compression, LogExporter, WithExportConfig, WithTonicConfig};
    let stack = TestStack::spawn().await;
    for (service, gzip) in [("rust-grpc", false), ("rust-grpc-gzip", true)] {
        // Built here: tonic's channel lives on the runtime that builds it, and the batch
        // processor's thread only waits for its answers.
        let mut exporter = LogExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint(&stack));
        if gzip {
            exporter = exporter.with_compression(Compression::Gzip);
        }
        let exporter = exporter.build().expect("the exporter builds");
        rust_export_and_check(&stack, exporter, service).await;
    }
}

#[tokio::test]
async fn a_refused_key_is_unauthenticated_and_a_configured_one_exports() {
    let stack = TestStack::spawn_with(StackOptions::env(
        "INGEST_API_KEYS",
        "grpc-key-1,grpc-key-2",
    ))
    .await;
    let endpoint = endpoint(&stack);
    let (refused_run, accepted_run) = tokio::join!(
        python_run(python_command(
            &endpoint,
            "grpc",
            "py-grpc-refused",
            &["--header", "authorization=Bearer not-a-key"],
        )),
        python_run(python_command(
            &endpoint,
            "grpc",
            "py-grpc-keyed",
            &["--header", "x-api-key=grpc-key-2"],
        )),
    );
    // UNAUTHENTICATED is not retried: the export fails at once, saying why.
    assert!(!refused_run.succeeded, "{}", refused_run.printed);
    assert!(
        refused_run.log.contains("StatusCode.UNAUTHENTICATED") && refused_run.log.contains(REFUSED),
        "{}",
        refused_run.log
    );
    assert!(
        accepted_run.succeeded,
        "{}\n{}",
        accepted_run.printed, accepted_run.log
    );
    let logs = stored(&stack, "py-grpc-keyed", PYTHON_STORED).await;
    check_python_records(&logs, "py-grpc-keyed", &accepted_run.printed);
    let none: serde_json::Value = stack
        .logs("service=py-grpc-refused")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["count"], 0, "{none}");

    // The same with tonic's client: no key, then a bearer token.
    let mut client = client(&stack).await;
    let status = refused(&mut client, request("keyless", vec![record("m")])).await;
    assert_eq!(
        (status.code(), status.message()),
        (Code::Unauthenticated, REFUSED)
    );
    assert!(status.metadata().get("x-trace-id").is_some());
    let keyed = call(
        request("bearer", vec![record("m")]),
        &[("authorization", "Bearer grpc-key-1")],
    );
    assert!(client.export(keyed).await.is_ok());
}

/// With the queue full, the Python exporter is told UNAVAILABLE with a RetryInfo; it waits
/// the delay the server gave (not its own backoff, which has jitter) and retries; once the
/// worker has drained the queue the retry is stored.
#[tokio::test]
async fn the_python_sdk_waits_out_backpressure_for_the_retry_delay() {
    let mut stack = TestStack::spawn_with(StackOptions {
        max_queue_depth: Some(10),
        ..StackOptions::default()
    })
    .await;
    // The worker has migrated ClickHouse; stopped, it leaves the queue full.
    stack.stop_worker().await;
    let prefill: Vec<_> = (0..10)
        .map(|n| json!({"service": "prefill", "level": "INFO", "message": format!("p{n}")}))
        .collect();
    assert_eq!(stack.ingest(&json!(prefill)).await.status(), 202);

    let mut command = python_command(&endpoint(&stack), "grpc", "py-grpc-waits", &[]);
    command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().expect("python3 runs");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut log = String::new();
    // The exporter's warning about the refusal, before the worker is back.
    loop {
        let mut line = String::new();
        let read = stderr.read_line(&mut line).await.unwrap();
        log.push_str(&line);
        assert!(read > 0, "the exporter ended without a retry:\n{log}");
        if line.contains("Transient error") {
            assert!(
                line.contains("StatusCode.UNAVAILABLE")
                    && line.contains("retrying in 2.00s")
                    && line.contains("queue is full (10 events waiting)"),
                "{line}"
            );
            break;
        }
    }
    stack.start_worker().await;
    stderr.read_to_string(&mut log).await.unwrap();
    let output = child.wait_with_output().await.unwrap();
    let run = PythonRun::of(output.status, &output.stdout, log);
    assert!(run.succeeded, "{}\n{}", run.printed, run.log);
    let logs = stored(&stack, "py-grpc-waits", PYTHON_STORED).await;
    check_python_records(&logs, "py-grpc-waits", &run.printed);
}

// --- The protocol, with tonic's client ------------------------------------------------

fn string(text: &str) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(Any::StringValue(text.to_owned())),
    })
}

#[tokio::test]
async fn partial_success_the_trace_id_and_the_metrics() {
    let stack = TestStack::spawn().await;
    let mut client = client(&stack).await;
    // 2026-05-05T10:00:00.250Z
    let full = LogRecord {
        time_unix_nano: 1_777_975_200_250_000_000,
        severity_number: 17,
        severity_text: "Error".into(),
        body: string("card declined"),
        trace_id: hex_bytes("4bf92f3577b34da6a3ce929d0e0e4736"),
        span_id: hex_bytes("00f067aa0ba902b7"),
        attributes: vec![KeyValue {
            key: "order.id".into(),
            value: Some(AnyValue {
                value: Some(Any::IntValue(1234)),
            }),
            ..Default::default()
        }],
        ..Default::default()
    };
    let records = vec![full, LogRecord::default(), record("no trace id")];
    let answer = client
        .export(call(
            request("grpc-partial", records),
            &[("x-trace-id", "grpc-client-trace")],
        ))
        .await
        .expect("a partial success is a success");
    assert_eq!(
        answer.metadata().get("x-trace-id").unwrap(),
        "grpc-client-trace"
    );
    let partial = answer
        .into_inner()
        .partial_success
        .expect("partial_success is set");
    assert_eq!(partial.rejected_log_records, 1);
    assert_eq!(
        partial.error_message,
        "1 of 3 log records were rejected: resourceLogs[0].scopeLogs[0].logRecords[1]: \
         the log record has no body (and no event name to stand for it)"
    );

    let logs = stored(&stack, "grpc-partial", 2).await;
    let declined = by_message(&logs, "card declined");
    assert_eq!(
        declined,
        &json!({
            "id": declined["id"],
            "timestamp": "2026-05-05T10:00:00.250Z",
            "service": "grpc-partial",
            "level": "ERROR",
            "message": "card declined",
            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
            "metadata": {
                "service.name": "grpc-partial",
                "order.id": "1234",
                "span_id": "00f067aa0ba902b7",
            }
        })
    );
    // A record without a trace id gets the call's.
    assert_eq!(
        by_message(&logs, "no trace id")["trace_id"],
        "grpc-client-trace"
    );

    // Without one, the call's trace id is made up, echoed, and stands in the same way.
    let answer = client
        .export(request("grpc-made-up", vec![record("m")]))
        .await
        .unwrap();
    let made_up = answer
        .metadata()
        .get("x-trace-id")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(is_trace_id(made_up), "{made_up}");
    let made_up = made_up.to_owned();
    assert_eq!(answer.into_inner(), ExportLogsServiceResponse::default());
    assert_eq!(
        stored(&stack, "grpc-made-up", 1).await[0]["trace_id"],
        made_up
    );

    // An empty request is a success too.
    let empty = client
        .export(ExportLogsServiceRequest::default())
        .await
        .unwrap();
    assert_eq!(empty.into_inner(), ExportLogsServiceResponse::default());

    // /metrics tells OTLP/gRPC from OTLP/HTTP.
    let metrics = metrics(&stack, &stack.ingestion_url).await;
    for sample in [
        r#"traceflow_ingest_events_accepted_total{protocol="otlp_grpc",tenant="default"}"#,
        r#"traceflow_ingest_events_rejected_total{protocol="otlp_grpc",reason="invalid",tenant="default"}"#,
    ] {
        assert!(metrics.contains(sample), "{sample} in:\n{metrics}");
    }
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// A message that is not an `ExportLogsServiceRequest`: its field 1 (`resource_logs`, a
/// repeated message) as a number.
#[derive(Clone, PartialEq, prost::Message)]
struct Mistyped {
    #[prost(uint64, tag = "1")]
    resource_logs: u64,
}

/// Calls `path` with `message` through a raw tonic client.
async fn call_raw(stack: &TestStack, path: &'static str, message: Mistyped) -> Status {
    let mut grpc = tonic::client::Grpc::new(channel(stack).await);
    grpc.ready().await.unwrap();
    let codec = tonic_prost::ProstCodec::<Mistyped, ExportLogsServiceResponse>::default();
    grpc.unary(
        tonic::Request::new(message),
        PathAndQuery::from_static(path),
        codec,
    )
    .await
    .expect_err("the call is refused")
}

#[tokio::test]
async fn limits_and_undecodable_messages() {
    let stack = TestStack::spawn_with(StackOptions::small_limits()).await;
    let mut plain = client(&stack).await;
    let mut zipped = client(&stack)
        .await
        .send_compressed(CompressionEncoding::Gzip);
    let limit_message =
        "request body is larger than the limit of 65536 bytes (after decompression)";
    let big = || request("big", vec![record(&"y".repeat(70 * 1024))]);
    // Compressed it is about 100 bytes; decompressed it is over the limit.
    assert!(gzip(&big().encode_to_vec()).len() < 1024);
    for client in [&mut plain, &mut zipped] {
        let status = refused(client, big()).await;
        assert_eq!(
            (status.code(), status.message()),
            (Code::ResourceExhausted, limit_message)
        );
        // Not retryable: no RetryInfo.
        assert_eq!(retry_delays(&status), (None, None));
        assert!(status.metadata().get("x-trace-id").is_some());
    }
    let four = request("many", (0..4).map(|n| record(&format!("r{n}"))).collect());
    let status = refused(&mut plain, four).await;
    assert_eq!(
        (status.code(), status.message()),
        (
            Code::ResourceExhausted,
            "the request holds 4 log records, more than the limit of 3"
        )
    );

    let export = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
    let status = call_raw(&stack, export, Mistyped { resource_logs: 1 }).await;
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status
            .message()
            .starts_with("the request is not a valid ExportLogsServiceRequest: "),
        "{}",
        status.message()
    );
    // Traces and metrics are not received here: gRPC's own answer for an unknown service.
    let traces = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
    let status = call_raw(&stack, traces, Mistyped { resource_logs: 1 }).await;
    assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
    assert!(stack.queued().await.is_empty(), "nothing was queued");

    // Under both limits, compressed or not, it is queued.
    let three = request("fits", (0..3).map(|n| record(&format!("r{n}"))).collect());
    assert!(zipped.export(three).await.is_ok());
    assert_eq!(queued_messages(&stack).await, ["r0", "r1", "r2"]);
}

#[tokio::test]
async fn backpressure_and_a_queue_down_are_unavailable_with_retry_info() {
    let stack = TestStack::spawn_with(StackOptions::queue_of(2)).await;
    let mut flood = client(&stack).await;
    let two = || request("flood", vec![record("a"), record("b")]);
    assert!(flood.export(two()).await.is_ok());
    let status = refused(&mut flood, two()).await;
    assert_eq!(
        (status.code(), status.message()),
        (
            Code::Unavailable,
            "queue is full (2 events waiting), the event was not accepted; retry later"
        )
    );
    assert_eq!(
        retry_delays(&status),
        (Some(Duration::from_secs(2)), Some(2))
    );
    assert_eq!(
        stack.queued().await.len(),
        2,
        "the refused records were not queued"
    );

    let down = without_redis().await;
    let status = refused(&mut client(&down).await, two()).await;
    assert_eq!(status.code(), Code::Unavailable);
    assert!(
        status
            .message()
            .starts_with("queue unavailable, the event was not accepted: redis does not answer"),
        "{}",
        status.message()
    );
    assert_eq!(
        retry_delays(&status),
        (Some(Duration::from_secs(2)), Some(2))
    );
}

#[tokio::test]
async fn off_turns_the_port_off() {
    let stack = TestStack::spawn_with(StackOptions {
        worker: false,
        extra_env: vec![("OTLP_GRPC_PORT", "off".to_owned())],
        ..StackOptions::default()
    })
    .await;
    assert_eq!(stack.protocol_addresses.otlp_grpc, "");
}
