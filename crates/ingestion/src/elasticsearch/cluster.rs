//! What clients ask before they send documents, answered as a one-node Elasticsearch
//! cluster of `ES_VERSION` with a basic license would: `GET /` (the official clients and
//! Logstash check its version and the `X-Elastic-Product` header), the license and X-Pack
//! features, cluster health (Redis's, since the queue is what stores), nodes (for clients
//! that sniff), and the index templates, ILM policies and ingest pipelines shippers install
//! at start: reads say they exist, writes are acknowledged, and nothing is kept (events are
//! mapped by [`super::document`], not by mappings or pipelines).

use super::{answer, bulk::Cause};
use crate::app::AppState;
use axum::{
    extract::{Path, RawQuery, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header::CONTENT_TYPE},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};
use std::sync::Arc;

const CLUSTER_NAME: &str = "traceflow";
const NODE_NAME: &str = "traceflow-ingestion";
/// Fixed, so monitoring that keys on it sees one cluster across restarts.
const CLUSTER_UUID: &str = "dHJhY2VmbG93LWluZ2VzdA";
const NODE_ID: &str = "dHJhY2VmbG93LW5vZGUtMA";
const BUILD_HASH: &str = "traceflow";
const BUILD_DATE: &str = "2026-01-01T00:00:00.000Z";

/// The cluster this API presents, built once from `ES_VERSION`.
#[derive(Clone)]
pub(crate) struct Cluster {
    version: Arc<str>,
    /// `GET /`.
    info: Arc<Value>,
}

impl Cluster {
    /// `version` is `MAJOR.MINOR.PATCH` (checked by the configuration).
    pub(crate) fn new(version: &str) -> Self {
        let major: u32 = version
            .split('.')
            .next()
            .and_then(|major| major.parse().ok())
            .unwrap_or(8);
        // What a real release of that major reports; clients read only `number`.
        let lucene = match major {
            7 => "8.11.3",
            8 => "9.12.2",
            _ => "10.2.2",
        };
        let previous = major - 1;
        let info = json!({
            "name": NODE_NAME,
            "cluster_name": CLUSTER_NAME,
            "cluster_uuid": CLUSTER_UUID,
            "version": {
                "number": version,
                "build_flavor": "default",
                "build_type": "deb",
                "build_hash": BUILD_HASH,
                "build_date": BUILD_DATE,
                "build_snapshot": false,
                "lucene_version": lucene,
                "minimum_wire_compatibility_version": format!("{previous}.17.0"),
                "minimum_index_compatibility_version": format!("{previous}.0.0"),
            },
            "tagline": "You Know, for Search",
        });
        Self {
            version: version.into(),
            info: Arc::new(info),
        }
    }
}

/// The cluster: its name, version (`ES_VERSION`) and tagline.
#[utoipa::path(method(get, head), path = "/", tag = "elasticsearch",
    responses((status = 200, description = "The cluster, as Elasticsearch's GET / (version from ES_VERSION)")))]
pub(crate) async fn info(State(state): State<AppState>) -> Response {
    answer::json(StatusCode::OK, state.elasticsearch.info.as_ref())
}

/// An active basic license.
#[utoipa::path(get, path = "/_license", tag = "elasticsearch",
    responses((status = 200, description = "An active basic license")))]
pub(crate) async fn license() -> Response {
    answer::json(
        StatusCode::OK,
        &json!({"license": {
            "status": "active",
            "uid": CLUSTER_UUID,
            "type": "basic",
            "issue_date": "1970-01-01T00:00:00.000Z",
            "issue_date_in_millis": 0,
            "max_nodes": 1000,
            "max_resource_units": null,
            "issued_to": CLUSTER_NAME,
            "issuer": "elasticsearch",
            "start_date_in_millis": -1,
        }}),
    )
}

/// The X-Pack build, license and features.
#[utoipa::path(get, path = "/_xpack", tag = "elasticsearch",
    responses((status = 200, description = "The basic license's features")))]
pub(crate) async fn xpack() -> Response {
    let feature = |available: bool| json!({"available": available, "enabled": available});
    answer::json(
        StatusCode::OK,
        &json!({
            "build": {"hash": BUILD_HASH, "date": BUILD_DATE},
            "license": {"uid": CLUSTER_UUID, "type": "basic", "mode": "basic", "status": "active"},
            "features": {
                "ilm": feature(true),
                "data_streams": feature(true),
                "security": feature(false),
                "monitoring": feature(false),
                "ml": feature(false),
                "watcher": feature(false),
            },
            "tagline": "You know, for X",
        }),
    )
}

/// Green when Redis, which holds what is accepted, answers; a 503 naming it otherwise.
async fn redis_up(state: &AppState) -> Result<(), Response> {
    state.queue.health().await.map(drop).map_err(|error| {
        tracing::warn!(%error, "Elasticsearch health: the queue is unavailable");
        answer::error(
            StatusCode::SERVICE_UNAVAILABLE,
            &Cause {
                kind: "unavailable_exception",
                reason: format!("the queue is unavailable, documents are not accepted: {error}")
                    .into(),
            },
        )
    })
}

/// Cluster health: green while the queue (Redis) answers.
#[utoipa::path(get, path = "/_cluster/health", tag = "elasticsearch",
    responses(
        (status = 200, description = "Green: documents are accepted"),
        (status = 503, description = "Redis is unavailable"),
    ))]
pub(crate) async fn cluster_health(State(state): State<AppState>) -> Response {
    if let Err(down) = redis_up(&state).await {
        return down;
    }
    answer::json(
        StatusCode::OK,
        &json!({
            "cluster_name": CLUSTER_NAME,
            "status": "green",
            "timed_out": false,
            "number_of_nodes": 1,
            "number_of_data_nodes": 1,
            "active_primary_shards": 0,
            "active_shards": 0,
            "relocating_shards": 0,
            "initializing_shards": 0,
            "unassigned_shards": 0,
            "delayed_unassigned_shards": 0,
            "number_of_pending_tasks": 0,
            "number_of_in_flight_fetch": 0,
            "task_max_waiting_in_queue_millis": 0,
            "active_shards_percent_as_number": 100.0,
        }),
    )
}

/// `_cat/health`: a line of text, or JSON with `format=json`.
#[utoipa::path(get, path = "/_cat/health", tag = "elasticsearch",
    params(("format" = Option<String>, Query, description = "`json` for JSON, else text")),
    responses(
        (status = 200, description = "Green: documents are accepted"),
        (status = 503, description = "Redis is unavailable"),
    ))]
pub(crate) async fn cat_health(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Response {
    if let Err(down) = redis_up(&state).await {
        return down;
    }
    let now = chrono::Utc::now();
    let (epoch, time) = (
        now.timestamp().to_string(),
        now.format("%H:%M:%S").to_string(),
    );
    let wants_json = query
        .unwrap_or_default()
        .split('&')
        .any(|pair| pair.eq_ignore_ascii_case("format=json"));
    if wants_json {
        return answer::json(
            StatusCode::OK,
            &json!([{
                "epoch": epoch, "timestamp": time, "cluster": CLUSTER_NAME, "status": "green",
                "node.total": "1", "node.data": "1", "shards": "0", "pri": "0", "relo": "0",
                "init": "0", "unassign": "0", "pending_tasks": "0",
                "max_task_wait_time": "-", "active_shards_percent": "100.0%",
            }]),
        );
    }
    (
        [(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=UTF-8"),
        )],
        format!("{epoch} {time} {CLUSTER_NAME} green 1 1 0 0 0 0 0 0 - 100.0%\n"),
    )
        .into_response()
}

/// This one node, published at the address the client reached (`Host`).
fn nodes_answer(state: &AppState, headers: &HeaderMap) -> Response {
    let address = headers
        .get("host")
        .and_then(|host| host.to_str().ok())
        .unwrap_or("127.0.0.1:9200");
    answer::json(
        StatusCode::OK,
        &json!({
            "_nodes": {"total": 1, "successful": 1, "failed": 0},
            "cluster_name": CLUSTER_NAME,
            "nodes": {NODE_ID: {
                "name": NODE_NAME,
                "version": state.elasticsearch.version.as_ref(),
                "build_flavor": "default",
                "roles": ["data", "ingest", "master"],
                "http": {"publish_address": address, "bound_address": [address]},
            }},
        }),
    )
}

/// The nodes (one), for clients that sniff.
#[utoipa::path(get, path = "/_nodes", tag = "elasticsearch",
    responses((status = 200, description = "The one node")))]
pub(crate) async fn nodes(State(state): State<AppState>, headers: HeaderMap) -> Response {
    nodes_answer(&state, &headers)
}

/// The nodes (one) matching a selector (`_all`, `_local`, `http`, ...).
#[utoipa::path(get, path = "/_nodes/{selector}", tag = "elasticsearch",
    params(("selector" = String, Path, description = "Node ids or a metric; answered the same")),
    responses((status = 200, description = "The one node")))]
pub(crate) async fn nodes_of(
    State(state): State<AppState>,
    Path(_selector): Path<String>,
    headers: HeaderMap,
) -> Response {
    nodes_answer(&state, &headers)
}

/// The nodes (one) and a metric of theirs (`/_nodes/_all/http`, as the Python client
/// sniffs).
#[utoipa::path(get, path = "/_nodes/{node_id}/{metric}", tag = "elasticsearch",
    params(
        ("node_id" = String, Path, description = "Node ids; answered the same"),
        ("metric" = String, Path, description = "The metric; answered the same"),
    ),
    responses((status = 200, description = "The one node")))]
pub(crate) async fn node_metric(
    State(state): State<AppState>,
    Path(_path): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    nodes_answer(&state, &headers)
}

/// A setting clients install at start: read, it exists; written or deleted, it is
/// acknowledged. Nothing is kept.
fn setting(method: &Method) -> Response {
    let body = if matches!(*method, Method::GET | Method::HEAD) {
        json!({})
    } else {
        json!({"acknowledged": true})
    };
    answer::json(StatusCode::OK, &body)
}

/// An ILM policy: acknowledged, not kept (Traceflow's retention is `RETENTION_DAYS`).
#[utoipa::path(method(get, head, put, delete), path = "/_ilm/policy/{policy}", tag = "elasticsearch",
    params(("policy" = String, Path, description = "The policy's name")),
    responses((status = 200, description = "Exists (GET, HEAD) or acknowledged (PUT, DELETE)")))]
pub(crate) async fn ilm_policy(method: Method, Path(_policy): Path<String>) -> Response {
    setting(&method)
}

/// An index template: acknowledged, not kept (documents are mapped by their fields).
#[utoipa::path(method(get, head, put, delete), path = "/_index_template/{name}", tag = "elasticsearch",
    params(("name" = String, Path, description = "The template's name")),
    responses((status = 200, description = "Exists (GET, HEAD) or acknowledged (PUT, DELETE)")))]
pub(crate) async fn index_template(method: Method, Path(_name): Path<String>) -> Response {
    setting(&method)
}

/// A legacy template: acknowledged, not kept.
#[utoipa::path(method(get, head, put, delete), path = "/_template/{name}", tag = "elasticsearch",
    params(("name" = String, Path, description = "The template's name")),
    responses((status = 200, description = "Exists (GET, HEAD) or acknowledged (PUT, DELETE)")))]
pub(crate) async fn legacy_template(method: Method, Path(_name): Path<String>) -> Response {
    setting(&method)
}

/// An ingest pipeline: acknowledged, not run (a document's `pipeline` is ignored too).
#[utoipa::path(method(get, head, put, delete), path = "/_ingest/pipeline/{id}", tag = "elasticsearch",
    params(("id" = String, Path, description = "The pipeline's id")),
    responses((status = 200, description = "Exists (GET, HEAD) or acknowledged (PUT, DELETE)")))]
pub(crate) async fn ingest_pipeline(method: Method, Path(_id): Path<String>) -> Response {
    setting(&method)
}

/// A refresh: events are searchable once the worker has stored them, whatever is asked.
#[utoipa::path(method(get, post), path = "/{index}/_refresh", tag = "elasticsearch",
    params(("index" = String, Path, description = "The index")),
    responses((status = 200, description = "Acknowledged")))]
pub(crate) async fn refresh(Path(_index): Path<String>) -> Response {
    answer::json(
        StatusCode::OK,
        &json!({"_shards": {"total": 1, "successful": 1, "failed": 0}}),
    )
}
