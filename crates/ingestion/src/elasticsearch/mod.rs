//! The Elasticsearch bulk API, for the shippers and clients that write to Elasticsearch
//! (Filebeat, Logstash, Fluent Bit, Vector, rsyslog, syslog-ng, the language clients): on
//! `ES_PORT` with its paths at the root, where clients look by default, and under `/es` on
//! the main port.
//!
//! - `POST`/`PUT` `/_bulk` and `/<index>/_bulk`: NDJSON operations ([`bulk`]). Each document
//!   is mapped ([`document`]) and checked by the event crate on its own, and answered by an
//!   item of its own, in order: a refused one with status 400 and our reason, while the
//!   others are queued with one Redis round trip. Backpressure refuses the request with 429
//!   and `Retry-After` (what Elasticsearch's clients back off on); Redis down is a 503.
//! - `/<index>/_doc`, `/<index>/_doc/<id>`, `/<index>/_create/<id>`: one document (rsyslog
//!   without bulk mode), 201 or a 400 naming the problem.
//! - What clients ask at start ([`cluster`]).
//!
//! Every answer under these paths carries `X-Elastic-Product: Elasticsearch` (the official
//! clients refuse a server without it), and paths are read without doubled or trailing
//! slashes (shippers join a configured path and `/_bulk` as they like).

mod answer;
mod bulk;
mod cluster;
mod document;

pub(crate) use cluster::Cluster;

use crate::{
    Rejection,
    accept::{IngestRequest, accept},
    app::{AppState, dedicated_router},
    rejection::{Protocol, Refusal},
};
use axum::{
    Router,
    extract::{FromRequest, FromRequestParts, OriginalUri, Path, Query, Request},
    http::{HeaderValue, Method, StatusCode, Uri, uri::PathAndQuery},
    middleware::{self, Next},
    response::Response,
};
use bulk::{BulkAnswer, Cause, Item, Outcome};
use bytes::Bytes;
use document::{DocumentWording, FieldQuery, Fields};
use std::{borrow::Cow, time::Instant};
use traceflow_event::{Event, Limits};
use traceflow_http::AccessCheck;
use utoipa_axum::{router::OpenApiRouter, routes};

/// Where the API is on the main port.
pub(crate) const PREFIX: &str = "/es";

/// The API's routes, at its root.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        // What is stored: bulks and single documents.
        .routes(routes!(bulk_root))
        .routes(routes!(bulk_index))
        .routes(routes!(doc))
        .routes(routes!(doc_with_id))
        .routes(routes!(create_with_id))
        // What clients ask before they send: the version, licence and features.
        .routes(routes!(cluster::info))
        .routes(routes!(cluster::license))
        .routes(routes!(cluster::xpack))
        // Cluster health and nodes, as clients and their node sniffing ask.
        .routes(routes!(cluster::cluster_health))
        .routes(routes!(cluster::cat_health))
        .routes(routes!(cluster::nodes))
        .routes(routes!(cluster::nodes_of))
        .routes(routes!(cluster::node_metric))
        // Set-up calls (ILM, templates, pipelines, refresh): acknowledged, nothing to keep.
        .routes(routes!(cluster::ilm_policy))
        .routes(routes!(cluster::index_template))
        .routes(routes!(cluster::legacy_template))
        .routes(routes!(cluster::ingest_pipeline))
        .routes(routes!(cluster::refresh))
        // The path as the client sent it, before the prefix was taken off.
        .fallback(|method: Method, OriginalUri(uri): OriginalUri| async move {
            answer::not_found(method.as_str(), uri.path())
        })
}

/// `ES_PORT`: the API at the root, with the main port's API keys, metrics and trace ids.
pub(crate) fn port_router(state: AppState, access: &AccessCheck) -> Router {
    let (routes, _) = routes().split_for_parts();
    conventions("", dedicated_router(state, access, routes, Router::new()))
}

/// `router`, with Elasticsearch's conventions for the paths at or under `prefix` (every
/// path when it is empty): read without doubled or trailing slashes, answered with
/// `X-Elastic-Product`.
pub(crate) fn conventions(prefix: &'static str, router: Router) -> Router {
    Router::new()
        .fallback_service(router)
        .layer(middleware::from_fn(move |request, next| {
            with_conventions(prefix, request, next)
        }))
}

async fn with_conventions(prefix: &'static str, mut request: Request, next: Next) -> Response {
    let Some(path) = tidy_path(prefix, request.uri().path()) else {
        return next.run(request).await;
    };
    if path != request.uri().path() {
        let target = match request.uri().query() {
            Some(query) => format!("{path}?{query}"),
            None => path.into_owned(),
        };
        if let Ok(target) = PathAndQuery::try_from(target) {
            let mut parts = request.uri().clone().into_parts();
            parts.path_and_query = Some(target);
            if let Ok(uri) = Uri::from_parts(parts) {
                *request.uri_mut() = uri;
            }
        }
    }
    let mut response = next.run(request).await;
    response.headers_mut().insert(
        "x-elastic-product",
        HeaderValue::from_static("Elasticsearch"),
    );
    response
}

/// `path` without doubled slashes and without a trailing one, if it is at or under
/// `prefix` once so read; `None` if it is not.
fn tidy_path<'p>(prefix: &str, path: &'p str) -> Option<Cow<'p, str>> {
    let untidy = path.contains("//") || (path.len() > 1 && path.ends_with('/'));
    let tidy: Cow<str> = if untidy {
        let mut tidy = String::with_capacity(path.len());
        for segment in path.split('/').filter(|segment| !segment.is_empty()) {
            tidy.push('/');
            tidy.push_str(segment);
        }
        if tidy.is_empty() {
            tidy.push('/');
        }
        Cow::Owned(tidy)
    } else {
        Cow::Borrowed(path)
    };
    let under = tidy.strip_prefix(prefix)?;
    (under.is_empty() || under.starts_with('/')).then_some(tidy)
}

/// The index and id an operation names (the action line's `_index`, else the path's).
struct Target<'a> {
    index: Option<&'a str>,
    id: Option<&'a str>,
}

/// A document mapped and checked, or why it is refused (counted here, once).
fn event<'a>(
    document: &'a [u8],
    index: Option<&'a str>,
    fields: &'a Fields,
    request: &'a IngestRequest,
    limits: &Limits,
) -> Result<Event<'a>, Refusal> {
    let checked = document::draft(document, index, fields).and_then(|(draft, sources)| {
        draft
            .check(request.defaults(), limits)
            .map_err(|violation| Refusal::of(&violation, &DocumentWording { sources, fields }))
    });
    if let Err(refusal) = &checked {
        refusal.reason.count(Protocol::Elasticsearch, 1);
    }
    checked
}

/// A request to the document routes: the service's state, the request (trace id, headers),
/// its field choices and its decoded body. A request whose fields or body cannot be read is
/// answered here, in Elasticsearch's words.
pub(crate) struct DocumentRequest(AppState, IngestRequest, Fields, Bytes);

impl FromRequest<AppState> for DocumentRequest {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let query = Query::<FieldQuery>::from_request_parts(&mut parts, state).await;
        let Ok(mut request) =
            IngestRequest::from_request(Request::from_parts(parts, body), state).await;
        let read = query
            .map_err(|rejection| {
                Rejection::Invalid(Refusal::malformed(format!(
                    "the query string is not usable: {}",
                    rejection.body_text()
                )))
            })
            .and_then(|Query(query)| {
                Fields::of(&query, &request.headers).map_err(Rejection::Invalid)
            })
            .and_then(|fields| Ok((fields, request.body(state.max_body_bytes)?)));
        let (fields, body) = read.map_err(|rejection| answer::refused(rejection, 1))?;
        Ok(Self(state.clone(), request, fields, body))
    }
}

/// A bulk request: every operation answered by an item, in order.
async fn bulk(path_index: Option<String>, documents: DocumentRequest) -> Response {
    let started = Instant::now();
    let DocumentRequest(state, request, fields, body) = documents;
    let operations = match bulk::operations(crate::body::without_bom(&body), state.max_batch_events)
    {
        Ok(operations) => operations,
        Err(rejection) => {
            let events = rejection.events();
            return answer::refused(rejection, events);
        }
    };

    // Each operation's outcome: the position of its event, or its refusal.
    let mut events = Vec::with_capacity(operations.len());
    let mut outcomes: Vec<Result<usize, Refusal>> = Vec::with_capacity(operations.len());
    for operation in &operations {
        let index = operation.index.as_deref().or(path_index.as_deref());
        let outcome = match operation.document {
            Some(document) => {
                event(document, index, &fields, &request, &state.limits).map(|event| {
                    events.push(event);
                    events.len() - 1
                })
            }
            None => {
                let refusal = Refusal::malformed(format!(
                    "{} is not supported: Traceflow only appends (use index or create)",
                    operation.action.as_str()
                ));
                refusal.reason.count(Protocol::Elasticsearch, 1);
                Err(refusal)
            }
        };
        outcomes.push(outcome);
    }
    if !events.is_empty()
        && let Err(rejection) =
            accept(&state, Protocol::Elasticsearch, &request.trace_id, &events).await
    {
        return answer::refused(rejection, events.len());
    }

    let refused = outcomes.iter().filter(|outcome| outcome.is_err()).count();
    if let Some(Err(first)) = outcomes.iter().find(|outcome| outcome.is_err()) {
        tracing::info!(
            trace_id = %request.trace_id,
            refused,
            total = operations.len(),
            first = %first,
            "Elasticsearch documents refused"
        );
    }
    let items = operations
        .iter()
        .zip(&outcomes)
        .enumerate()
        .map(|(seq_no, (operation, outcome))| {
            let target = Target {
                index: operation.index.as_deref().or(path_index.as_deref()),
                id: operation.id.as_deref(),
            };
            Item {
                action: operation.action,
                outcome: item_outcome(&target, outcome, &events, seq_no),
            }
        })
        .collect();
    let answer = BulkAnswer {
        took: started.elapsed().as_millis() as u64,
        errors: refused > 0,
        items,
    };
    answer::json(StatusCode::OK, &answer)
}

fn item_outcome<'a>(
    target: &Target<'a>,
    outcome: &'a Result<usize, Refusal>,
    events: &[Event<'_>],
    seq_no: usize,
) -> Outcome<'a> {
    match outcome {
        Ok(position) => {
            let id = target.id.map_or_else(
                || Cow::Owned(events[*position].id.to_string()),
                Cow::Borrowed,
            );
            Outcome::created(target.index, id, seq_no)
        }
        Err(refusal) => Outcome::Refused {
            index: target.index,
            id: target.id,
            status: refusal.reason.status().as_u16(),
            error: Cause {
                kind: answer::document_error_type(refusal.reason),
                reason: Cow::Borrowed(&refusal.message),
            },
        },
    }
}

/// One document (`/<index>/_doc`): 201 with what Elasticsearch answers, or the refusal.
async fn one_document(index: String, id: Option<String>, documents: DocumentRequest) -> Response {
    let DocumentRequest(state, request, fields, body) = documents;
    let event = match event(
        crate::body::without_bom(&body),
        Some(&index),
        &fields,
        &request,
        &state.limits,
    ) {
        Ok(event) => event,
        Err(refusal) => {
            tracing::debug!(trace_id = %request.trace_id, %refusal, "Elasticsearch document refused");
            let status = refusal.reason.status();
            let cause = Cause {
                kind: answer::document_error_type(refusal.reason),
                reason: Cow::Owned(refusal.message),
            };
            return answer::error(status, &cause);
        }
    };
    let events = [event];
    if let Err(rejection) =
        accept(&state, Protocol::Elasticsearch, &request.trace_id, &events).await
    {
        return answer::refused(rejection, 1);
    }
    let id = id.map_or_else(|| Cow::Owned(events[0].id.to_string()), Cow::Owned);
    let created = Outcome::created(Some(&index), id, 0);
    answer::json(StatusCode::CREATED, &created)
}

/// What a bulk request is answered, for the OpenAPI document.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // A description only: answers are built by `bulk`.
enum BulkAnswers {
    /// `{"took","errors","items"}`: one item per operation, in order; 201 stored, 400 refused
    /// with the reason.
    #[response(status = 200)]
    Read,
    /// A line that is not an action, or an action without its document (Elasticsearch
    /// error).
    #[response(status = 400)]
    Unpaired,
    /// Missing or invalid API key (when keys are configured).
    #[response(status = 401)]
    Unauthorized,
    /// A key without the ingest scope, or naming a tenant it may not act for.
    #[response(status = 403)]
    Forbidden,
    /// Over MAX_BODY_BYTES (after decompression) or MAX_BATCH_EVENTS operations.
    #[response(status = 413)]
    TooLarge,
    /// The queue is full (backpressure), or the tenant over its rate or queue share; retry
    /// after `Retry-After` seconds.
    #[response(status = 429)]
    Backpressure,
    /// Redis unavailable; retry after `Retry-After` seconds.
    #[response(status = 503)]
    Unavailable,
}

/// What a single document is answered, for the OpenAPI document.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // A description only: answers are built by `one_document`.
enum DocumentAnswers {
    /// Stored (`result: created`).
    #[response(status = 201)]
    Created,
    /// Refused, with the reason (Elasticsearch error).
    #[response(status = 400)]
    Refused,
    /// Missing or invalid API key (when keys are configured).
    #[response(status = 401)]
    Unauthorized,
    /// A key without the ingest scope, or naming a tenant it may not act for.
    #[response(status = 403)]
    Forbidden,
    /// The queue is full (backpressure), or the tenant over its rate or queue share; retry
    /// after `Retry-After` seconds.
    #[response(status = 429)]
    Backpressure,
    /// Redis unavailable; retry after `Retry-After` seconds.
    #[response(status = 503)]
    Unavailable,
}

/// The index of a path: the service of documents that name none.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // A description only: read by `Path`.
struct IndexPath {
    /// The index: the service of documents that name none.
    index: String,
}

/// The index and document id of a path.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // A description only: read by `Path`.
struct DocumentPath {
    /// The index: the service unless the document names one.
    index: String,
    /// The document's id: answered back, not kept.
    id: String,
}

/// Bulk operations (NDJSON: an action line, then the document), each answered by an item.
///
/// Every document is mapped and checked on its own: a refused one is an item with status
/// 400 and the reason, the others are stored. Field choices by query argument or by header
/// (`Traceflow-Msg-Field`, `Traceflow-Time-Field`, `Traceflow-Service-Field`,
/// `Traceflow-Level-Field`, `Traceflow-Trace-Id-Field`).
#[utoipa::path(method(post, put), path = "/_bulk", tag = "elasticsearch",
    params(FieldQuery),
    request_body(content = String, content_type = "application/x-ndjson",
        description = "Action lines ({\"index\":{\"_index\":...}} or create) each followed by a document"),
    responses(BulkAnswers),
)]
pub(crate) async fn bulk_root(documents: DocumentRequest) -> Response {
    bulk(None, documents).await
}

/// Bulk operations whose default index is `index`.
#[utoipa::path(method(post, put), path = "/{index}/_bulk", tag = "elasticsearch",
    params(IndexPath, FieldQuery),
    request_body(content = String, content_type = "application/x-ndjson",
        description = "Action lines ({\"index\":{}} or create) each followed by a document"),
    responses(BulkAnswers),
)]
pub(crate) async fn bulk_index(Path(index): Path<String>, documents: DocumentRequest) -> Response {
    bulk(Some(index), documents).await
}

/// One document, its id given by the event.
#[utoipa::path(post, path = "/{index}/_doc", tag = "elasticsearch",
    params(IndexPath, FieldQuery),
    request_body(content = Object, content_type = "application/json", description = "The document"),
    responses(DocumentAnswers),
)]
pub(crate) async fn doc(Path(index): Path<String>, documents: DocumentRequest) -> Response {
    one_document(index, None, documents).await
}

/// One document, with the id the client chose.
#[utoipa::path(method(put, post), path = "/{index}/_doc/{id}", tag = "elasticsearch",
    params(DocumentPath, FieldQuery),
    request_body(content = Object, content_type = "application/json", description = "The document"),
    responses(DocumentAnswers),
)]
pub(crate) async fn doc_with_id(
    Path((index, id)): Path<(String, String)>,
    documents: DocumentRequest,
) -> Response {
    one_document(index, Some(id), documents).await
}

/// One document, created with the id the client chose (as `_doc/{id}`: Traceflow only
/// appends).
#[utoipa::path(method(put, post), path = "/{index}/_create/{id}", tag = "elasticsearch",
    params(DocumentPath, FieldQuery),
    request_body(content = Object, content_type = "application/json", description = "The document"),
    responses(DocumentAnswers),
)]
pub(crate) async fn create_with_id(
    path: Path<(String, String)>,
    documents: DocumentRequest,
) -> Response {
    doc_with_id(path, documents).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_read_without_doubled_or_trailing_slashes_under_the_prefix() {
        let cases = [
            ("", "/", Some("/")),
            ("", "//", Some("/")),
            ("", "/_bulk/", Some("/_bulk")),
            ("", "//logs//_bulk", Some("/logs/_bulk")),
            ("/es", "/es", Some("/es")),
            ("/es", "/es/", Some("/es")),
            ("/es", "//es//_bulk/", Some("/es/_bulk")),
            ("/es", "/es/_doc", Some("/es/_doc")),
            ("/es", "/esx/_bulk", None),
            ("/es", "/ingest/", None),
            ("/es", "/", None),
        ];
        for (prefix, path, tidy) in cases {
            assert_eq!(tidy_path(prefix, path).as_deref(), tidy, "{prefix} {path}");
        }
    }
}
