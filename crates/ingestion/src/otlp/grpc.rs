//! OTLP over gRPC: `opentelemetry.proto.collector.logs.v1.LogsService/Export` on
//! `OTLP_GRPC_PORT` (default 4317, the port OTLP/gRPC exporters assume).
//!
//! A decoded request is exported as OTLP/HTTP's are ([`super::export`]): the same mapping,
//! rules and partial-success answer. What is gRPC's own:
//!
//! - The message may be gzip-compressed (`grpc-encoding: gzip`). tonic inflates it, and
//!   `MAX_BODY_BYTES` bounds the message both as its frame declares it and as it inflates:
//!   `RESOURCE_EXHAUSTED` beyond, without `RetryInfo`, which the OTLP specification tells
//!   exporters not to retry.
//! - Refusals are statuses, coded as OTLP/HTTP codes its `google.rpc.Status` bodies
//!   ([`super::grpc_code`]): `INVALID_ARGUMENT` for a request no retry can fix,
//!   `RESOURCE_EXHAUSTED` over a limit, `UNAVAILABLE` with a `google.rpc.RetryInfo` for the
//!   queue down or full, which exporters retry after that delay.
//! - The API key comes as metadata (`authorization: Bearer <key>` or `x-api-key`), else
//!   `UNAUTHENTICATED`; the trace id as `x-trace-id`, kept or made up, and echoed on every
//!   answer.
//!
//! tonic refuses some calls itself before [`Receiver`] sees them: a message over its size
//! limit, gzip or protobuf it cannot decode. [`Edge`] re-renders those as our rejections, so
//! every refusal is worded, coded and counted in one place: [`status`].

use super::{export, grpc_code, refusal_message};
use crate::{
    Port, Rejection,
    app::{AppState, Listener},
    rejection::{Protocol, Refusal},
    tenants,
};
use axum::http::{self, HeaderValue};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
    logs_service_server::{LogsService, LogsServiceServer},
};
use prost::Message;
use std::{
    future::Future,
    io,
    net::IpAddr,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};
use tonic::{
    Code, Status,
    body::Body,
    codec::CompressionEncoding,
    metadata::MetadataValue,
    transport::{Server, server::TcpIncoming},
};
use tonic_types::{ErrorDetails, StatusExt};
use traceflow_access::{Denied, Grant, Scope};
use traceflow_event::Defaults;
use traceflow_http::{AccessCheck, HttpTimeouts, TRACE_ID_HEADER};
use tracing::Instrument;

/// The trailer the OpenTelemetry Python SDK reads a `RetryInfo` from; the Go and Rust
/// exporters (and so the Collector) read it from the status details, which carry it too.
const RETRY_INFO_TRAILER: &str = "google.rpc.retryinfo-bin";

/// Binds `OTLP_GRPC_PORT` and serves the logs service there until the shutdown; requests
/// in flight then get the HTTP routes' drain time to finish.
pub(crate) async fn listener(
    state: AppState,
    access: &AccessCheck,
    host: IpAddr,
    number: u16,
) -> anyhow::Result<Listener> {
    let socket = traceflow_runtime::bind("BIND_HOST, OTLP_GRPC_PORT", host, number).await?;
    let address = socket.local_addr()?;
    tracing::info!(port = ?Port::OtlpGrpc, %address, "listening");
    let limit = state.max_body_bytes;
    let logs = LogsServiceServer::new(Receiver { state })
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(limit);
    let keys = access.clone();
    let timeouts = HttpTimeouts::default();
    Ok(Listener::new(Port::OtlpGrpc, address, move |shutdown| {
        Box::pin(async move {
            // The bound on a call includes reading its message, so a trickling client
            // holds a stream no longer than an HTTP request.
            let serving = Server::builder()
                .timeout(timeouts.request)
                .layer(tower::layer::layer_fn(move |inner| Edge {
                    inner,
                    keys: keys.clone(),
                    limit,
                }))
                .add_service(logs)
                .serve_with_incoming_shutdown(TcpIncoming::from(socket), shutdown.clone().wait());
            let drained = async {
                shutdown.wait().await;
                tokio::time::sleep(timeouts.drain).await;
            };
            tokio::select! {
                served = serving => served.map_err(io::Error::other),
                () = drained => {
                    tracing::warn!(drain = ?timeouts.drain, "OTLP/gRPC calls still in flight after the drain deadline; abandoning them");
                    Ok(())
                }
            }
        })
    }))
}

/// A refusal as a gRPC status, counted under OTLP/gRPC: the one renderer of rejections for
/// this protocol. Retryable ones carry the delay HTTP's `Retry-After` gives.
fn status(rejection: Rejection, events: usize) -> Status {
    rejection.record(Protocol::OtlpGrpc, events);
    let reason = rejection.reason();
    let code = grpc_code(reason);
    let message = refusal_message(&rejection);
    let Some(seconds) = rejection.retry_after_seconds() else {
        return Status::new(code, message);
    };
    let delay = Duration::from_secs(seconds);
    let mut status =
        Status::with_error_details(code, message, ErrorDetails::with_retry_info(Some(delay)));
    let retry_info = tonic_types::pb::RetryInfo {
        retry_delay: Some(prost_types::Duration {
            seconds: delay.as_secs() as i64,
            nanos: 0,
        }),
    };
    status.metadata_mut().insert_bin(
        RETRY_INFO_TRAILER,
        MetadataValue::from_bytes(&retry_info.encode_to_vec()),
    );
    status
}

/// The logs service: each call's request is exported like an OTLP/HTTP one.
struct Receiver {
    state: AppState,
}

#[tonic::async_trait]
impl LogsService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, Status> {
        let trace_id = match request.extensions().get::<Call>() {
            Some(call) => {
                call.reached.store(true, Ordering::Release);
                call.trace_id.clone()
            }
            // Only when served without the edge (never, as `listener` builds it).
            None => traceflow_traceid::generate(),
        };
        let tenant = Grant::tenant_of(request.extensions().get()).to_owned();
        let defaults = Defaults {
            tenant: &tenant,
            trace_id: &trace_id,
            now: chrono::Utc::now(),
            retention_days: self.state.tenants.limits(&tenant).retention_days,
        };
        let exported = async {
            export(
                &self.state,
                Protocol::OtlpGrpc,
                request.into_inner(),
                defaults,
            )
            .await
            .map(tonic::Response::new)
            .map_err(|(rejection, records)| status(rejection, records))
        };
        tenants::serving(&tenant, exported).await
    }
}

/// What the edge tells the service about a call: its trace id, and a flag the service sets
/// once it has the decoded request (so a refusal without it is tonic's).
#[derive(Clone)]
struct Call {
    trace_id: String,
    reached: Arc<AtomicBool>,
}

/// In front of the logs service: the API key, the trace id (a span with it, the
/// `x-trace-id` answer) and tonic's own refusals of the request message re-rendered.
#[derive(Clone)]
struct Edge<S> {
    inner: S,
    keys: AccessCheck,
    /// `MAX_BODY_BYTES`, for the refusal of a message over it.
    limit: usize,
}

impl<S, B> tower::Service<http::Request<B>> for Edge<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send,
    B: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        // The service polled ready serves this call; the clone left behind waits for the
        // next poll_ready.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let sent = request
            .headers()
            .get(TRACE_ID_HEADER)
            .filter(|value| value.to_str().is_ok())
            .cloned();
        let trace_header = sent.unwrap_or_else(|| {
            HeaderValue::from_str(&traceflow_traceid::generate()).expect("hex is a header value")
        });
        let trace_id = trace_header.to_str().unwrap_or_default().to_owned();
        let span = tracing::info_span!("request", %trace_id, path = %request.uri().path());
        let authorized = self.keys.authorize(request.headers(), Scope::Ingest);
        let reached = Arc::new(AtomicBool::new(false));
        request.extensions_mut().insert(Call {
            trace_id,
            reached: reached.clone(),
        });
        let limit = self.limit;
        Box::pin(
            async move {
                let mut response = match authorized {
                    Ok(grant) => {
                        request.extensions_mut().insert(grant);
                        let response = inner.call(request).await?;
                        if reached.load(Ordering::Acquire) {
                            response
                        } else {
                            refused_by_tonic(response, limit)
                        }
                    }
                    Err(denied @ Denied::Unauthenticated) => {
                        tracing::debug!("OTLP/gRPC call refused: no valid API key");
                        Status::unauthenticated(denied.to_string()).into_http()
                    }
                    Err(denied) => {
                        tracing::info!(reason = %denied, "OTLP/gRPC call refused");
                        Status::permission_denied(denied.to_string()).into_http()
                    }
                };
                response.headers_mut().insert(TRACE_ID_HEADER, trace_header);
                Ok(response)
            }
            .instrument(span),
        )
    }
}

/// A call tonic answered without the service, as our rejection when the refusal is about
/// the request message: over the size limit (tonic's check of the length a frame declares
/// is `OUT_OF_RANGE`, which exporters would retry; of the inflated size,
/// `RESOURCE_EXHAUSTED`) or undecodable (bad gzip, bad protobuf, no message: `INTERNAL`).
/// Anything else stays gRPC's own answer, such as `UNIMPLEMENTED` for an unknown method or a
/// compression other than gzip.
fn refused_by_tonic(response: http::Response<Body>, limit: usize) -> http::Response<Body> {
    let Some(refused) = Status::from_header_map(response.headers()) else {
        return response;
    };
    let rejection = match refused.code() {
        Code::OutOfRange | Code::ResourceExhausted => Rejection::TooLarge { limit },
        Code::Internal => Rejection::Invalid(Refusal::malformed(format!(
            "the request is not a valid ExportLogsServiceRequest: {}",
            refused.message()
        ))),
        _ => return response,
    };
    status(rejection, 1).into_http()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_coded_as_otlp_says_and_only_retryable_ones_carry_retry_info() {
        let cases = [
            (
                Rejection::Invalid(Refusal::malformed("bad")),
                Code::InvalidArgument,
                "bad",
            ),
            (
                Rejection::TooLarge { limit: 10 },
                Code::ResourceExhausted,
                "request body is larger than the limit of 10 bytes (after decompression)",
            ),
            (
                Rejection::TooManyEvents { count: 4, limit: 3 },
                Code::ResourceExhausted,
                "the request holds 4 log records, more than the limit of 3",
            ),
            (
                Rejection::QueueFull { depth: 2 },
                Code::Unavailable,
                "queue is full (2 events waiting), the event was not accepted; retry later",
            ),
        ];
        for (rejection, code, message) in cases {
            let retryable = rejection.reason().retryable();
            let status = status(rejection, 1);
            assert_eq!((status.code(), status.message()), (code, message));
            let delay = status
                .get_details_retry_info()
                .and_then(|info| info.retry_delay);
            let trailer = status.metadata().get_bin(RETRY_INFO_TRAILER).map(|value| {
                tonic_types::pb::RetryInfo::decode(value.to_bytes().unwrap()).unwrap()
            });
            if retryable {
                assert_eq!(delay, Some(Duration::from_secs(2)), "{message}");
                assert_eq!(trailer.unwrap().retry_delay.unwrap().seconds, 2);
            } else {
                assert_eq!((delay, trailer), (None, None), "{message}");
            }
        }
    }

    #[test]
    fn tonic_refusals_of_the_message_become_ours_and_others_stay() {
        let answer = |status: Status| {
            let response = refused_by_tonic(status.into_http(), 64);
            Status::from_header_map(response.headers()).unwrap()
        };
        let too_long = answer(Status::out_of_range("decoded message length too large"));
        assert_eq!(
            (too_long.code(), too_long.message()),
            (
                Code::ResourceExhausted,
                "request body is larger than the limit of 64 bytes (after decompression)"
            )
        );
        let inflated = answer(Status::resource_exhausted("size limit exceeded"));
        assert_eq!(inflated.code(), Code::ResourceExhausted);
        let bad = answer(Status::internal("failed to decode Protobuf message"));
        assert_eq!(
            (bad.code(), bad.message()),
            (
                Code::InvalidArgument,
                "the request is not a valid ExportLogsServiceRequest: failed to decode Protobuf message"
            )
        );
        let unknown = answer(Status::unimplemented("no such method"));
        assert_eq!(
            (unknown.code(), unknown.message()),
            (Code::Unimplemented, "no such method")
        );
        // A success answer has no status in its headers and passes untouched.
        let ok = refused_by_tonic(http::Response::new(Body::empty()), 64);
        assert!(Status::from_header_map(ok.headers()).is_none());
    }
}
