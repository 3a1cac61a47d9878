//! `X-Trace-ID`: kept from the client when sent, else generated; on every response.

use axum::{
    Router,
    extract::{FromRequestParts, Request as AxumRequest},
    http::{HeaderMap, HeaderName, HeaderValue, Request, StatusCode, request::Parts},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use std::convert::Infallible;
use tower_http::{
    request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    trace::TraceLayer,
};

/// The header that carries a request's trace id in and out.
pub const TRACE_ID_HEADER: HeaderName = HeaderName::from_static("x-trace-id");

/// Makes a fresh trace id for a request that came without one.
#[derive(Clone, Copy, Default)]
struct MakeTraceId;

impl MakeRequestId for MakeTraceId {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        Some(RequestId::new(new_trace_id()))
    }
}

fn new_trace_id() -> HeaderValue {
    HeaderValue::from_str(&traceflow_traceid::generate()).expect("hex is a valid header value")
}

/// The request's trace id, generated and stored in its headers first if the client sent
/// none. For layers outside [`propagate_trace_id`] (the request timeout) that must answer
/// with the same id: `propagate_trace_id` keeps a header that is already there.
pub(crate) fn ensure_trace_id(headers: &mut HeaderMap) -> HeaderValue {
    headers
        .entry(TRACE_ID_HEADER)
        .or_insert_with(new_trace_id)
        .clone()
}

/// Wraps a router so every request has a trace id, is handled in a span that records it,
/// and every response (errors included) echoes it in `X-Trace-ID`.
pub fn propagate_trace_id<S>(router: Router<S>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    // The last layer added runs first: the id is set, then the span sees it, then the
    // propagation layer copies it onto the response.
    router
        .layer(middleware::from_fn(answer_internal_errors))
        .layer(PropagateRequestIdLayer::new(TRACE_ID_HEADER))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                let trace_id = request
                    .headers()
                    .get(TRACE_ID_HEADER)
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or_default();
                tracing::info_span!(
                    "request",
                    trace_id,
                    method = %request.method(),
                    path = %request.uri().path(),
                )
            }),
        )
        .layer(SetRequestIdLayer::new(TRACE_ID_HEADER, MakeTraceId))
}

/// Marks a response as a failure of ours whose detail went to the log (see
/// [`internal_error`]).
#[derive(Debug, Clone, Copy)]
struct InternalError;

/// `500` for a failure of ours (a statement a dependency refused, an answer that could not be
/// read): the caller logs the detail; the client gets a stable message and the request's
/// trace id to quote, never a dependency's own text. The body is written by
/// [`propagate_trace_id`], which knows the id.
pub fn internal_error() -> Response {
    let mut response = StatusCode::INTERNAL_SERVER_ERROR.into_response();
    response.extensions_mut().insert(InternalError);
    response
}

async fn answer_internal_errors(request: AxumRequest, next: Next) -> Response {
    let trace_id = request
        .headers()
        .get(TRACE_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let response = next.run(request).await;
    if response.extensions().get::<InternalError>().is_none() {
        return response;
    }
    let message = format!(
        "internal error: the request could not be answered; the service's log has the detail under trace id {trace_id}"
    );
    let mut answer = crate::json_error(StatusCode::INTERNAL_SERVER_ERROR, message);
    answer.headers_mut().extend(
        response
            .headers()
            .iter()
            .filter(|(name, _)| *name != axum::http::header::CONTENT_TYPE)
            .map(|(name, value)| (name.clone(), value.clone())),
    );
    answer
}

/// The current request's trace id, as set by [`propagate_trace_id`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for TraceId {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let id = parts
            .headers
            .get(TRACE_ID_HEADER)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
            // Only when the router was not wrapped by `propagate_trace_id`.
            .unwrap_or_else(traceflow_traceid::generate);
        Ok(TraceId(id))
    }
}
