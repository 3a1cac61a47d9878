//! `POST /ingest`: answers, validation, limits and the trace id. These stacks have no
//! worker, so the queue's length shows exactly what was accepted.

use serde_json::{Value, json};
use traceflow_testkit::{StackOptions, TestStack};

async fn stack_without_worker() -> TestStack {
    TestStack::spawn_with(StackOptions {
        worker: false,
        max_body_bytes: Some(4096),
        ..StackOptions::default()
    })
    .await
}

fn is_trace_id(value: &str) -> bool {
    value.len() == 32 && value.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'))
}

#[tokio::test]
async fn an_accepted_event_is_queued_and_answered_202_with_its_trace_id() {
    let stack = stack_without_worker().await;
    let answer = stack
        .ingest(&json!({"service": "auth-service", "level": "warn", "message": "slow login"}))
        .await;
    assert_eq!(answer.status(), 202);
    let header = answer.headers()["x-trace-id"].to_str().unwrap().to_owned();
    assert!(is_trace_id(&header), "{header}");
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body, json!({"status": "accepted", "trace_id": header}));

    let events = stack.queued().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].service, "auth-service");
    assert_eq!(events[0].level.as_str(), "WARN");
    assert_eq!(
        events[0].trace_id, header,
        "a missing trace_id is the request's"
    );
    let age = chrono::Utc::now() - events[0].timestamp;
    assert!(
        age.num_seconds().abs() < 5,
        "a missing timestamp is now: {age}"
    );
}

#[tokio::test]
async fn the_clients_trace_id_header_is_echoed_and_used() {
    let stack = stack_without_worker().await;
    let answer = stack
        .http
        .post(format!("{}/ingest", stack.ingestion_url))
        .header("X-Trace-ID", "client-chosen-id-1")
        .json(&json!({"service": "a", "level": "INFO", "message": "m"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 202);
    assert_eq!(answer.headers()["x-trace-id"], "client-chosen-id-1");
    assert_eq!(stack.queued().await[0].trace_id, "client-chosen-id-1");

    // Every response carries one, errors and health included.
    let health = stack
        .http
        .get(format!("{}/health", stack.ingestion_url))
        .send()
        .await
        .unwrap();
    assert!(is_trace_id(
        health.headers()["x-trace-id"].to_str().unwrap()
    ));
    let bad = stack.ingest(&json!({})).await;
    assert!(is_trace_id(bad.headers()["x-trace-id"].to_str().unwrap()));
    let query = stack.logs("limit=1").await;
    assert!(is_trace_id(query.headers()["x-trace-id"].to_str().unwrap()));
}

#[tokio::test]
async fn every_rule_is_a_400_naming_the_field_and_nothing_is_queued() {
    let stack = stack_without_worker().await;
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"level": "INFO", "message": "m"}),
            "service is required",
        ),
        (
            json!({"service": " ", "level": "INFO", "message": "m"}),
            "service must not be blank",
        ),
        (json!({"service": "a", "message": "m"}), "level is required"),
        (
            json!({"service": "a", "level": "verbose", "message": "m"}),
            "level must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL (any case), got \"verbose\"",
        ),
        (
            json!({"service": "a", "level": "INFO"}),
            "message is required",
        ),
        (
            json!({"service": "a", "level": "INFO", "message": "\t"}),
            "message must not be blank",
        ),
        (
            json!({"service": "a", "level": "INFO", "message": "m", "timestamp": "05/05/2026"}),
            "timestamp must be an RFC 3339 time such as 2026-05-05T10:00:00Z, got \"05/05/2026\"",
        ),
        (
            json!({"service": "a", "level": "INFO", "message": "m", "timestamp": "2200-01-01T00:00:00Z"}),
            "timestamp must be between 1970-01-01T00:00:00Z and 2105-12-31T23:59:59Z, got \"2200-01-01T00:00:00Z\"",
        ),
        (
            json!({"service": "a", "level": "INFO", "message": "m", "metadata": {"k": [1]}}),
            "metadata.k: invalid type: sequence, expected a string, number or boolean",
        ),
        (
            json!({"service": 7, "level": "INFO", "message": "m"}),
            "service: invalid type: integer `7`, expected a string",
        ),
        (
            json!("not an object"),
            "invalid event: the body must be a JSON object",
        ),
    ];
    for (body, expected) in cases {
        let answer = stack.ingest(&body).await;
        assert_eq!(answer.status(), 400, "{body}");
        let error: Value = answer.json().await.unwrap();
        let message = error["error"].as_str().unwrap();
        assert!(
            message.starts_with(expected),
            "{body}: got {message:?}, expected {expected:?}"
        );
    }
    assert!(stack.queued().await.is_empty());
}

#[tokio::test]
async fn malformed_json_wrong_type_and_oversized_bodies_are_refused() {
    let stack = stack_without_worker().await;
    let post = |body: Vec<u8>, content_type: Option<&'static str>| {
        let mut request = stack
            .http
            .post(format!("{}/ingest", stack.ingestion_url))
            .body(body);
        if let Some(content_type) = content_type {
            request = request.header("Content-Type", content_type);
        }
        request.send()
    };
    let malformed = post(
        br#"{"service": "a", "level""#.to_vec(),
        Some("application/json"),
    )
    .await
    .unwrap();
    assert_eq!(malformed.status(), 400);
    let error: Value = malformed.json().await.unwrap();
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .starts_with("malformed JSON: "),
        "{error}"
    );

    let text = post(b"service=a".to_vec(), Some("text/plain"))
        .await
        .unwrap();
    assert_eq!(text.status(), 415);
    let error: Value = text.json().await.unwrap();
    assert_eq!(
        error["error"],
        "Content-Type must be application/json (one event or an array) or application/x-ndjson"
    );
    let missing = post(b"{}".to_vec(), None).await.unwrap();
    assert_eq!(missing.status(), 415);

    let huge = format!(
        r#"{{"service":"a","level":"INFO","message":"{}"}}"#,
        "x".repeat(5000)
    );
    let too_large = post(huge.into_bytes(), Some("application/json; charset=utf-8"))
        .await
        .unwrap();
    assert_eq!(too_large.status(), 413);
    let error: Value = too_large.json().await.unwrap();
    assert_eq!(
        error["error"],
        "request body is larger than the limit of 4096 bytes"
    );
    assert!(stack.queued().await.is_empty());
}

#[tokio::test]
async fn a_full_queue_answers_503_with_retry_after_and_queues_nothing_more() {
    let stack = TestStack::spawn_with(StackOptions {
        worker: false,
        max_queue_depth: Some(3),
        ..StackOptions::default()
    })
    .await;
    let event = json!({"service": "flood", "level": "INFO", "message": "m"});
    for _ in 0..3 {
        assert_eq!(stack.ingest(&event).await.status(), 202);
    }
    let refused = stack.ingest(&event).await;
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "2");
    let error: Value = refused.json().await.unwrap();
    assert_eq!(
        error["error"],
        "queue is full (3 events waiting), the event was not accepted; retry later"
    );
    assert_eq!(stack.queued().await.len(), 3);
}

/// `body` compressed with `coding`.
fn compressed(coding: &str, body: &[u8]) -> Vec<u8> {
    use std::io::Write;
    match coding {
        "gzip" => {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(body).unwrap();
            encoder.finish().unwrap()
        }
        "deflate" => {
            let mut encoder =
                flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(body).unwrap();
            encoder.finish().unwrap()
        }
        "zstd" => zstd::encode_all(body, 3).unwrap(),
        "snappy" => snap::raw::Encoder::new().compress_vec(body).unwrap(),
        other => panic!("no encoder for {other}"),
    }
}

#[tokio::test]
async fn compressed_bodies_are_read_and_the_limit_counts_decompressed_bytes() {
    let stack = stack_without_worker().await;
    for coding in ["gzip", "deflate", "zstd", "snappy"] {
        let event = json!({"service": "zipped", "level": "INFO", "message": coding});
        let answer = stack
            .http
            .post(format!("{}/ingest", stack.ingestion_url))
            .header("Content-Type", "application/json")
            .header("Content-Encoding", coding)
            .body(compressed(coding, event.to_string().as_bytes()))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 202, "{coding}");
    }
    let queued: Vec<String> = stack
        .queued()
        .await
        .into_iter()
        .map(|event| event.message.into_owned())
        .collect();
    assert_eq!(queued, ["gzip", "deflate", "zstd", "snappy"]);

    // Well under the 4 KiB limit as sent, far over it decompressed.
    let large = json!({"service": "zipped", "level": "INFO", "message": "x".repeat(64 * 1024)});
    let zipped = compressed("gzip", large.to_string().as_bytes());
    assert!(zipped.len() < 4096);
    let answer = stack
        .http
        .post(format!("{}/ingest", stack.ingestion_url))
        .header("Content-Type", "application/json")
        .header("Content-Encoding", "gzip")
        .body(zipped)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 413);
    let error: Value = answer.json().await.unwrap();
    assert_eq!(
        error["error"],
        "request body is larger than the limit of 4096 bytes"
    );
    assert_eq!(stack.queued().await.len(), 4);
}
