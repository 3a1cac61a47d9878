//! API keys: with INGEST_API_KEYS / QUERY_API_KEYS set, requests need one; health and
//! metrics stay open.

use serde_json::{Value, json};
use traceflow_testkit::{StackOptions, TestStack};

async fn keyed_stack() -> TestStack {
    TestStack::spawn_with(StackOptions {
        extra_env: vec![
            ("INGEST_API_KEYS", "ingest-key-1,ingest-key-2".to_owned()),
            ("QUERY_API_KEYS", "query-key".to_owned()),
        ],
        ..StackOptions::default()
    })
    .await
}

/// Status and body of a request with the given extra header, if any.
async fn send(
    request: reqwest::RequestBuilder,
    header: Option<(&str, &str)>,
) -> (u16, Value, Option<String>) {
    let request = match header {
        Some((name, value)) => request.header(name, value),
        None => request,
    };
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    let challenge = answer
        .headers()
        .get("www-authenticate")
        .map(|value| value.to_str().unwrap().to_owned());
    let body = answer.json().await.unwrap_or(Value::Null);
    (status, body, challenge)
}

const REFUSED: &str =
    "missing or invalid API key: send Authorization: Bearer <key> or X-API-Key: <key>";

#[tokio::test]
async fn ingestion_requires_one_of_its_keys_except_for_health_and_metrics() {
    let stack = keyed_stack().await;
    let event = json!({"service": "keyed", "level": "INFO", "message": "m"});
    let ingest = || {
        stack
            .http
            .post(format!("{}/ingest", stack.ingestion_url))
            .json(&event)
    };

    let (status, body, challenge) = send(ingest(), None).await;
    assert_eq!((status, body["error"].as_str()), (401, Some(REFUSED)));
    assert_eq!(challenge.as_deref(), Some("Bearer"));
    for wrong in [
        ("Authorization", "Bearer ingest-key"),
        ("Authorization", "Bearer query-key"),
        ("X-API-Key", ""),
    ] {
        assert_eq!(send(ingest(), Some(wrong)).await.0, 401, "{wrong:?}");
    }
    assert_eq!(
        send(ingest(), Some(("Authorization", "Bearer ingest-key-2")))
            .await
            .0,
        202
    );
    assert_eq!(
        send(ingest(), Some(("X-API-Key", "ingest-key-1"))).await.0,
        202
    );
    assert_eq!(
        stack.queued().await.len() + stack.stored_rows().await as usize,
        2,
        "refused requests queued nothing"
    );

    // OTLP too, on both ports.
    for base in [&stack.ingestion_url, &stack.otlp_url] {
        let otlp = stack
            .http
            .post(format!("{base}/v1/logs"))
            .header("Content-Type", "application/json")
            .body("{}");
        assert_eq!(send(otlp, None).await.0, 401, "{base}");
    }
    for open in ["health", "metrics"] {
        let answer = stack
            .http
            .get(format!("{}/{open}", stack.ingestion_url))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "/{open} stays open");
    }
}

#[tokio::test]
async fn the_query_service_requires_its_key() {
    let stack = keyed_stack().await;
    let logs = || stack.http.get(format!("{}/logs", stack.query_url));
    let (status, body, _) = send(logs(), None).await;
    assert_eq!((status, body["error"].as_str()), (401, Some(REFUSED)));
    assert_eq!(
        send(logs(), Some(("Authorization", "Bearer ingest-key-1")))
            .await
            .0,
        401
    );
    let (status, body, _) = send(logs(), Some(("Authorization", "Bearer query-key"))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["count"], 0);
    let health = stack
        .http
        .get(format!("{}/health", stack.query_url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}
