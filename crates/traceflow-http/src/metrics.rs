//! Prometheus metrics: one process-wide recorder, `GET /metrics` in the text format, and a
//! request counter and latency histogram for every route.

use axum::{
    Router,
    extract::{MatchedPath, Request},
    http::header::CONTENT_TYPE,
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::{sync::OnceLock, time::Instant};

/// Latency buckets in seconds, from sub-millisecond answers to slow ClickHouse scans.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process's recorder, installed on first use. Every metric recorded through the
/// `metrics` macros anywhere in the process is rendered by it.
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &LATENCY_BUCKETS)
            .expect("the bucket list is not empty")
            .install_recorder()
            .expect("no other metrics recorder is installed")
    })
}

/// Adds `GET /metrics` and per-route request metrics
/// (`traceflow_http_requests_total`, `traceflow_http_request_duration_seconds`).
pub fn with_metrics(router: Router) -> Router {
    let handle = prometheus();
    router
        .route_layer(middleware::from_fn(record_request))
        .route("/metrics", get(move || render(handle)))
}

/// Metrics in the Prometheus text format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain"))
)]
pub(crate) async fn render(handle: &'static PrometheusHandle) -> Response {
    // Without the exporter's own HTTP listener, histograms are compacted here.
    handle.run_upkeep();
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response()
}

async fn record_request(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_default();
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("traceflow_http_requests_total", &labels).increment(1);
    metrics::histogram!("traceflow_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}
