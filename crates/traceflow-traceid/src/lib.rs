//! Trace ids: 32 lower-case hex characters from a CSPRNG, carried in `X-Trace-ID`.
//!
//! Every HTTP response carries the request's trace id: the client's `X-Trace-ID` when it
//! sent one, else a fresh id. Handlers read it with the [`TraceId`] extractor.

use axum::{
    Router,
    extract::FromRequestParts,
    http::{HeaderName, HeaderValue, Request, request::Parts},
};
use std::convert::Infallible;
use tower_http::{
    request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    trace::TraceLayer,
};

/// The header that carries a request's trace id in and out.
pub const TRACE_ID_HEADER: HeaderName = HeaderName::from_static("x-trace-id");

/// A new trace id: 16 random bytes from the thread-local CSPRNG, hex-encoded.
pub fn generate() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// Makes a fresh trace id for a request that came without one.
#[derive(Clone, Copy, Default)]
struct MakeTraceId;

impl MakeRequestId for MakeTraceId {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&generate()).ok().map(RequestId::new)
    }
}

/// Wraps a router so every request has a trace id (kept from the client or generated), its
/// handling runs in a span that records it, and every response echoes it in `X-Trace-ID`.
pub fn propagate<S>(router: Router<S>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    // Layers run outside-in: the id is set first, then the span sees it, and the
    // propagation layer copies it onto the response (error responses included).
    router
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

/// The current request's trace id, as set by [`propagate`].
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
            // Only reachable when a router was not wrapped by `propagate`.
            .unwrap_or_else(generate);
        Ok(TraceId(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_32_lower_case_hex_and_distinct() {
        let a = generate();
        let b = generate();
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, b);
    }
}
