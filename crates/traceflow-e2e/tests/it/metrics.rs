//! `GET /metrics` on each service, in the Prometheus text format.

use serde_json::json;
use std::time::Duration;
use traceflow_testkit::TestStack;

/// The value of the first sample of `name` whose labels contain `labels`.
fn sample(text: &str, name: &str, labels: &str) -> Option<f64> {
    text.lines()
        .filter(|line| line.starts_with(name) && line.contains(labels))
        .find_map(|line| line.rsplit(' ').next()?.parse().ok())
}

/// The `/metrics` text of the service at `base`.
pub async fn metrics(stack: &TestStack, base: &str) -> String {
    let answer = stack
        .http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert!(
        answer.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    answer.text().await.unwrap()
}

#[tokio::test]
async fn each_service_exposes_the_pipeline_metrics() {
    let stack = TestStack::spawn().await;
    let event = json!({"service": "metered", "level": "INFO", "message": "m"});
    assert_eq!(stack.ingest(&event).await.status(), 202);
    assert_eq!(
        stack.ingest(&json!({"service": "metered"})).await.status(),
        400
    );
    stack
        .wait_for_logs("service=metered", 1, Duration::from_secs(10))
        .await;

    // One recorder per process: other tests' services add to the same counters.
    let ingestion = metrics(&stack, &stack.ingestion_url).await;
    assert!(
        sample(&ingestion, "traceflow_ingest_events_accepted_total", "").unwrap() >= 1.0,
        "{ingestion}"
    );
    assert!(
        sample(
            &ingestion,
            "traceflow_ingest_events_rejected_total",
            r#"reason="invalid""#
        )
        .unwrap()
            >= 1.0,
        "{ingestion}"
    );
    assert!(
        sample(&ingestion, "traceflow_queue_depth", "").is_some(),
        "{ingestion}"
    );
    assert!(
        sample(
            &ingestion,
            "traceflow_http_requests_total",
            r#"route="/ingest",status="202""#
        )
        .unwrap()
            >= 1.0,
        "{ingestion}"
    );

    // The batch counters move when the worker acknowledges, just after the rows are visible.
    let names = [
        "traceflow_worker_batches_total",
        "traceflow_worker_rows_inserted_total",
        "traceflow_worker_insert_duration_seconds_count",
    ];
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let worker = metrics(&stack, &stack.worker_http_url).await;
        let missing: Vec<_> = names
            .iter()
            .filter(|name| sample(&worker, name, "").is_none_or(|value| value < 1.0))
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{missing:?} in {worker}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let health = stack
        .http
        .get(format!("{}/health", stack.worker_http_url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    let query = metrics(&stack, &stack.query_url).await;
    assert!(
        sample(
            &query,
            "traceflow_http_request_duration_seconds_count",
            r#"route="/logs""#
        )
        .unwrap()
            >= 1.0,
        "{query}"
    );
}
