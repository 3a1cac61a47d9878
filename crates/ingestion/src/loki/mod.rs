//! `POST /loki/api/v1/push`: Loki's push API, for Promtail, Grafana Alloy, Fluent Bit,
//! Vector and the logging libraries with a Loki transport; and `GET /ready`, which Loki's
//! clients and probes ask before they push.
//!
//! The body is JSON (`application/json`: today's form or the legacy one) or, for any other
//! content type, protobuf in a snappy block, gzip or deflate allowed around either (see
//! [`decode`]). Entries become events (see [`map`]) and are queued like `/ingest` events,
//! one Redis round trip per request. As Loki does, an entry that breaks a rule is refused
//! alone: the others are stored, and the answer is a 400 naming each refused entry by its
//! stream and position. The answers are Loki's: `204` with no body on success, errors as
//! plain text, backpressure as `429` with `Retry-After` (which Loki's clients retry, as they
//! retry 5xx, while they drop a batch answered with another 4xx).

mod decode;
mod labels;
mod map;

use crate::{
    Rejection,
    accept::{IngestRequest, accept},
    app::AppState,
    rejection::{Protocol, Reason, Refusal, with_retry_after},
};
use axum::{
    extract::State,
    http::{HeaderMap, StatusCode, header::CONTENT_TYPE},
    response::{IntoResponse, Response},
};
use decode::Encoding;

/// Where Loki's clients push.
pub const PUSH_PATH: &str = "/loki/api/v1/push";

/// Where Loki answers whether it is ready.
pub const READY_PATH: &str = "/ready";

/// How many refused entries a 400 lists, after the first.
const LISTED_REFUSALS: usize = 20;

/// Loki answers in plain text.
const TEXT: &str = "text/plain; charset=utf-8";

/// The answer's status: Loki's for backpressure, which its clients retry, else ours.
fn status(reason: Reason) -> StatusCode {
    match reason {
        Reason::QueueFull => StatusCode::TOO_MANY_REQUESTS,
        other => other.status(),
    }
}

fn text(status: StatusCode, message: String) -> Response {
    (status, [(CONTENT_TYPE, TEXT)], message + "\n").into_response()
}

/// A refused request as Loki answers it: plain text, with `Retry-After` when a retry may
/// succeed.
fn refused(rejection: Rejection, entries: usize) -> Response {
    rejection.record(Protocol::Loki, entries);
    let reason = rejection.reason();
    let message = match &rejection {
        Rejection::TooManyEvents { count, limit } => {
            format!(
                "the push holds {count} entries, more than the limit of {limit} (MAX_BATCH_EVENTS)"
            )
        }
        Rejection::TooLarge { .. } => format!("{rejection} (after decompression)"),
        other => other.to_string(),
    };
    with_retry_after(&rejection, text(status(reason), message))
}

/// Push log entries to Loki's API: JSON or snappy-compressed protobuf.
///
/// `application/json` bodies are `{"streams":[{"stream":{labels},"values":[["<ns>","line"],
/// ["<ns>","line",{structured metadata}]]}]}` or the legacy `{"streams":[{"labels":"{k=\"v\"}",
/// "entries":[{"ts":"<RFC 3339>","line":"..."}]}]}`; any other content type is a
/// `logproto.PushRequest` in protobuf, compressed as a snappy block. An entry that breaks a
/// rule is refused alone; the others are stored and the answer is a 400 listing the refused.
#[utoipa::path(post, path = "/loki/api/v1/push", tag = "ingestion",
    params(("X-Scope-OrgID" = Option<String>, Header,
        description = "The tenant, kept as the metadata entry X-Scope-OrgID")),
    request_body(
        description = "A push request: Loki's JSON (today's or the legacy form), or logproto.PushRequest in protobuf compressed as a snappy block (any other content type)",
        content(("application/json"), ("application/x-protobuf")),
    ),
    responses(
        (status = 204, description = "Every entry is queued and will be stored"),
        (status = 400, description = "The body cannot be decoded, or entries break a rule (text naming each by stream and position; the other entries are stored)", content_type = "text/plain"),
        (status = 401, description = "Missing or invalid API key (when keys are configured)"),
        (status = 403, description = "A key without the ingest scope, or naming a tenant (X-Scope-OrgID) it may not act for"),
        (status = 413, description = "Over MAX_BODY_BYTES after decompression, or more than MAX_BATCH_EVENTS entries", content_type = "text/plain"),
        (status = 415, description = "A Content-Encoding other than gzip, deflate, zstd or snappy", content_type = "text/plain"),
        (status = 429, description = "The queue is full (backpressure), or the tenant over its rate or queue share: nothing was queued; retry", content_type = "text/plain",
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying"))),
        (status = 503, description = "Redis unreachable: nothing was queued; retry", content_type = "text/plain",
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying"))),
    ),
)]
pub(crate) async fn push(State(state): State<AppState>, mut request: IngestRequest) -> Response {
    let tenant = match tenant(&request.headers) {
        Ok(tenant) => tenant,
        Err(refusal) => return refused(Rejection::Invalid(refusal), 1),
    };
    let limit = state.max_body_bytes;
    let body = match request.body(limit) {
        Ok(body) => body,
        Err(rejection) => return refused(rejection, 1),
    };
    let invalid = |message: String| Rejection::Invalid(Refusal::malformed(message));
    let proto;
    let streams = match Encoding::of(&request.headers) {
        Encoding::Json => decode::json(&body).map_err(invalid),
        Encoding::Protobuf => match decode::protobuf(&request.headers, &body, limit) {
            Ok(decoded) => {
                proto = decoded;
                decode::protobuf_streams(&proto).map_err(invalid)
            }
            Err(rejection) => Err(rejection),
        },
    };
    let streams = match streams {
        Ok(streams) => streams,
        Err(rejection) => return refused(rejection, 1),
    };

    let total = map::entry_count(&streams);
    if total > state.max_batch_events {
        let rejection = Rejection::TooManyEvents {
            count: total,
            limit: state.max_batch_events,
        };
        return refused(rejection, total);
    }
    let options = map::Options {
        parse_json_lines: state.loki_parse_json_lines,
        tenant: tenant.as_deref(),
    };
    let mapped = map::map_streams(&streams, options, request.defaults(), &state.limits);
    for refused in &mapped.refused {
        refused.refusal.reason.count(Protocol::Loki, 1);
    }
    if !mapped.events.is_empty()
        && let Err(rejection) =
            accept(&state, Protocol::Loki, &request.trace_id, &mapped.events).await
    {
        return refused(rejection, mapped.events.len());
    }
    match mapped.refused.split_first() {
        None => StatusCode::NO_CONTENT.into_response(),
        Some((first, others)) => {
            let count = mapped.refused.len();
            let stored = mapped.events.len();
            tracing::info!(
                refused = count,
                total,
                first = %format_args!("{}: {}", first.location, first.refusal),
                "Loki entries refused"
            );
            // Clients log the first line of an error: it says what happened and the first why.
            let mut message = format!(
                "{count} of {total} entries were refused, {stored} stored: {}: {}",
                first.location, first.refusal
            );
            for other in others.iter().take(LISTED_REFUSALS) {
                message.push_str(&format!("\n{}: {}", other.location, other.refusal));
            }
            if others.len() > LISTED_REFUSALS {
                message.push_str("\n...");
            }
            text(StatusCode::BAD_REQUEST, message)
        }
    }
}

/// The tenant a push names in `X-Scope-OrgID`, checked as Loki checks tenant ids: at most
/// 150 characters, each a letter, a digit or one of `!-_.*'()`, and neither `.` nor `..`.
fn tenant(headers: &HeaderMap) -> Result<Option<String>, Refusal> {
    const LONGEST: usize = 150;
    let Some(value) = headers.get(map::TENANT_KEY) else {
        return Ok(None);
    };
    let tenant = value.to_str().unwrap_or_default().trim();
    let valid = !tenant.is_empty()
        && tenant.len() <= LONGEST
        && tenant != "."
        && tenant != ".."
        && tenant
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"!-_.*'()".contains(&byte));
    if valid {
        Ok(Some(tenant.to_owned()))
    } else {
        Err(Refusal::malformed(format!(
            "X-Scope-OrgID must be a tenant id of 1 to {LONGEST} letters, digits and !-_.*'() \
             (not . or ..), got {:?}",
            String::from_utf8_lossy(value.as_bytes())
        )))
    }
}

/// `GET /ready`: `200 ready` when pushes can be queued (on a Redis Cluster with a node down
/// too, into the other shards), else `503` naming Redis.
pub(crate) async fn ready(State(state): State<AppState>) -> Response {
    match state.queue.health().await {
        Ok(_) => text(StatusCode::OK, "ready".to_owned()),
        Err(error) => {
            tracing::warn!(%error, "not ready: the queue is unavailable");
            text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: the queue is unavailable: {error}"),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_tenant(value: &[u8]) -> Result<Option<String>, String> {
        let mut headers = HeaderMap::new();
        headers.insert(map::TENANT_KEY, HeaderValue::from_bytes(value).unwrap());
        tenant(&headers).map_err(|refusal| refusal.message)
    }

    #[test]
    fn tenant_ids_are_checked_as_loki_checks_them() {
        assert_eq!(tenant(&HeaderMap::new()), Ok(None));
        assert_eq!(
            with_tenant(b" acme-1.eu "),
            Ok(Some("acme-1.eu".to_owned()))
        );
        assert_eq!(
            with_tenant(b"a!-_.*'()Z9"),
            Ok(Some("a!-_.*'()Z9".to_owned()))
        );
        let long = "x".repeat(151);
        for bad in [
            &b""[..],
            b"..",
            b"a|b",
            b"team/a",
            "caf\u{e9}".as_bytes(),
            long.as_bytes(),
        ] {
            assert!(with_tenant(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            with_tenant(b"a b").unwrap_err(),
            "X-Scope-OrgID must be a tenant id of 1 to 150 letters, digits and !-_.*'() \
             (not . or ..), got \"a b\""
        );
    }

    #[test]
    fn backpressure_is_loki_s_429_and_the_rest_our_statuses() {
        assert_eq!(status(Reason::QueueFull), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            status(Reason::QueueUnavailable),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(status(Reason::Invalid), StatusCode::BAD_REQUEST);
        assert_eq!(status(Reason::TooLarge), StatusCode::PAYLOAD_TOO_LARGE);
    }
}
