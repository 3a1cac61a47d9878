//! Serving a router until shutdown, with every stage of a connection bounded in time, so
//! slow or idle clients cannot hold connections (and file descriptors) forever.
//!
//! `axum::serve` configures no hyper timer, and without one hyper silently ignores its
//! header-read timeout; hence our own accept loop around hyper's HTTP/1 builder.

use crate::{TRACE_ID_HEADER, json_error, trace_id::ensure_trace_id};
use axum::{
    Router,
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header::CONNECTION},
    middleware::{self, Next},
    response::Response,
};
use hyper::server::conn::http1;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
    service::TowerToHyperService,
};
use std::{future::Future, io, pin::pin, time::Duration};
use tokio::net::TcpListener;

/// How long each stage of a connection may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpTimeouts {
    /// Until a request's head (request line and headers) has fully arrived, counted from
    /// the connection's accept and, on a kept-alive connection, from the end of the
    /// previous response. Past it the connection is closed without an answer.
    ///
    /// This is also the idle keep-alive bound: hyper's HTTP/1 server has no separate idle
    /// timeout, it starts this same timer when a connection goes idle.
    pub header_read: Duration,
    /// From the request head until the response head: reading the body and handling.
    /// Past it the client gets `408` with a JSON error and the connection is closed.
    pub request: Duration,
    /// After shutdown: how long in-flight requests get to finish before `serve` returns
    /// anyway.
    pub drain: Duration,
}

impl Default for HttpTimeouts {
    fn default() -> Self {
        Self {
            header_read: Duration::from_secs(10),
            request: Duration::from_secs(30),
            drain: Duration::from_secs(30),
        }
    }
}

/// [`serve_with_timeouts`] with the default [`HttpTimeouts`].
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_with_timeouts(listener, router, shutdown, HttpTimeouts::default()).await
}

/// Serves `router` (HTTP/1.1) until `shutdown` completes. Then the listener is closed at
/// once (new connections are refused), idle connections are closed, and requests in
/// flight may finish for up to `timeouts.drain`.
pub async fn serve_with_timeouts(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    timeouts: HttpTimeouts,
) -> io::Result<()> {
    let router = router.layer(middleware::from_fn_with_state(
        timeouts.request,
        request_timeout,
    ));
    let service = TowerToHyperService::new(router);
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(timeouts.header_read);

    let graceful = GracefulShutdown::new();
    let mut shutdown = pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    accept_failed(error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let connection =
            graceful.watch(http.serve_connection(TokioIo::new(stream), service.clone()));
        tokio::spawn(async move {
            // Header timeouts, resets and clients going away end up here; none is ours.
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }

    drop(listener);
    tracing::info!(
        connections = graceful.count(),
        "shutting down: no longer accepting, finishing requests in flight"
    );
    if tokio::time::timeout(timeouts.drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            drain = ?timeouts.drain,
            "requests still in flight after the drain deadline; abandoning them"
        );
    }
    Ok(())
}

/// Like `axum::serve`: errors about one connection are that client's problem; others
/// (out of file descriptors) are retried after a pause rather than spinning or giving up.
async fn accept_failed(error: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "accepting a connection failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Answers `408` when the body and handler together take longer than `limit`. It runs
/// outside the services' own layers, so it sets the trace id itself (the inner layers keep
/// it) to put the same id on the 408.
async fn request_timeout(
    State(limit): State<Duration>,
    mut request: Request,
    next: Next,
) -> Response {
    let trace_id = ensure_trace_id(request.headers_mut());
    let (method, uri) = (request.method().clone(), request.uri().clone());
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(
                trace_id = trace_id.to_str().unwrap_or_default(),
                %method,
                path = uri.path(),
                "request timed out"
            );
            let mut response = json_error(
                StatusCode::REQUEST_TIMEOUT,
                format!("request timed out after {} seconds", limit.as_secs_f64()),
            );
            let headers = response.headers_mut();
            headers.insert(TRACE_ID_HEADER, trace_id);
            // A 408 gives up on the connection (RFC 9110 §15.5.9): the rest of an unread
            // body must not be taken for the next request.
            headers.insert(CONNECTION, HeaderValue::from_static("close"));
            response
        }
    }
}
