//! Slow and idle clients against the real HTTP server of `traceflow_http` (the one both
//! services run), with short timeouts. Raw TCP clients, so what is checked is exactly what a
//! client sees on the wire: the status line, the body, and the connection being closed.

use axum::{Router, body::Bytes, extract::Path, routing::get, routing::post};
use std::{
    io,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::{Notify, oneshot},
    task::JoinHandle,
};
use traceflow_http::{HttpTimeouts, propagate_trace_id, serve_with_timeouts};

const HEADER_READ: Duration = Duration::from_millis(500);
const REQUEST: Duration = Duration::from_secs(1);
/// Allowance for scheduling on a busy CI machine.
const SLACK: Duration = Duration::from_millis(1500);

fn timeouts() -> HttpTimeouts {
    HttpTimeouts {
        header_read: HEADER_READ,
        request: REQUEST,
        drain: Duration::from_secs(5),
    }
}

struct Server {
    addr: SocketAddr,
    /// Notified when a `/sleep/{ms}` handler starts.
    handler_started: Arc<Notify>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<io::Result<()>>,
}

impl Server {
    /// A router wrapped like the services' (`propagate_trace_id`), served on a free port.
    async fn start(timeouts: HttpTimeouts) -> Self {
        let handler_started = Arc::new(Notify::new());
        let started = handler_started.clone();
        let router = propagate_trace_id(
            Router::new()
                .route("/fast", get(|| async { "ok" }))
                .route(
                    "/echo",
                    post(|body: Bytes| async move { format!("{} bytes", body.len()) }),
                )
                .route(
                    "/sleep/{ms}",
                    get(move |Path(ms): Path<u64>| async move {
                        started.notify_one();
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                        "done"
                    }),
                ),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (shutdown, stop) = oneshot::channel::<()>();
        let task = tokio::spawn(serve_with_timeouts(
            listener,
            router,
            async {
                let _ = stop.await;
            },
            timeouts,
        ));
        Self {
            addr,
            handler_started,
            shutdown: Some(shutdown),
            task,
        }
    }

    async fn connect(&self) -> TcpStream {
        TcpStream::connect(self.addr).await.unwrap()
    }

    /// A new connection with `request` written on it.
    async fn send(&self, request: &[u8]) -> TcpStream {
        let mut stream = self.connect().await;
        stream.write_all(request).await.unwrap();
        stream
    }

    /// A new connection whose `GET /sleep/{ms}` has reached its handler.
    async fn in_flight(&self, ms: u64) -> TcpStream {
        let request = format!("GET /sleep/{ms} HTTP/1.1\r\nHost: x\r\n\r\n");
        let stream = self.send(request.as_bytes()).await;
        self.handler_started.notified().await;
        stream
    }

    fn shut_down(&mut self) {
        self.shutdown.take().unwrap().send(()).unwrap();
    }

    /// Waits up to `limit` for `serve` to return; fails saying `what` was expected if not.
    async fn returned_within(&mut self, limit: Duration, what: &str) {
        tokio::time::timeout(limit, &mut self.task)
            .await
            .expect(what)
            .unwrap()
            .unwrap();
    }
}

/// An HTTP/1.1 response as read off the wire.
#[derive(Debug)]
struct Reply {
    status_line: String,
    /// `name: value` lines, names lower-cased.
    headers: Vec<String>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(": "))
    }
}

/// Reads one response with a `Content-Length` body.
async fn read_reply(stream: &mut (impl AsyncRead + Unpin)) -> Reply {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let mut chunk = [0; 1024];
        let n = stream.read(&mut chunk).await.expect("reading the response");
        assert!(
            n > 0,
            "connection closed before a full response head: {buf:?}"
        );
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap().to_owned();
    let headers: Vec<String> = lines
        .map(|line| {
            let (name, value) = line.split_once(": ").unwrap();
            format!("{}: {value}", name.to_ascii_lowercase())
        })
        .collect();
    let length: usize = headers
        .iter()
        .find_map(|line| line.strip_prefix("content-length: "))
        .expect("a content-length")
        .parse()
        .unwrap();
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let mut chunk = [0; 1024];
        let n = stream.read(&mut chunk).await.expect("reading the body");
        assert!(n > 0, "connection closed in the middle of the body");
        body.extend_from_slice(&chunk[..n]);
    }
    Reply {
        status_line,
        headers,
        body: String::from_utf8(body).unwrap(),
    }
}

/// Waits up to `limit` for the server to close the connection (end of stream or reset) and
/// returns when it did; fails if bytes arrive instead or the connection stays open.
async fn closed_within(stream: &mut (impl AsyncRead + Unpin), limit: Duration) -> Instant {
    let mut byte = [0; 1];
    match tokio::time::timeout(limit, stream.read(&mut byte)).await {
        Ok(Ok(0)) | Ok(Err(_)) => Instant::now(),
        Ok(Ok(_)) => panic!("expected the connection closed, got data: {byte:?}"),
        Err(_) => panic!("the connection is still open after {limit:?}"),
    }
}

fn assert_between(elapsed: Duration, min: Duration, max: Duration, what: &str) {
    assert!(
        min <= elapsed && elapsed <= max,
        "{what} after {elapsed:?}, expected between {min:?} and {max:?}"
    );
}

/// Waits for the server to close `stream` without an answer (a response would fail
/// `closed_within`) at the header timeout counted from `since`; `what` names the moment.
async fn closed_at_the_header_timeout(
    stream: &mut (impl AsyncRead + Unpin),
    since: Instant,
    what: &str,
) {
    let closed = closed_within(stream, HEADER_READ + SLACK).await;
    assert_between(
        closed - since,
        HEADER_READ - Duration::from_millis(100),
        HEADER_READ + SLACK,
        what,
    );
}

/// Reads the 408 of a request sent at `started` that outlasts the request timeout, with
/// its JSON error; returns it for its headers.
async fn read_request_timeout(stream: &mut (impl AsyncRead + Unpin), started: Instant) -> Reply {
    let reply = tokio::time::timeout(REQUEST + SLACK, read_reply(stream))
        .await
        .expect("an answer within the request timeout");
    assert_between(started.elapsed(), REQUEST, REQUEST + SLACK, "answered");
    assert_eq!(reply.status_line, "HTTP/1.1 408 Request Timeout");
    assert_eq!(
        reply.body,
        r#"{"error":"request timed out after 1 seconds"}"#
    );
    reply
}

#[tokio::test]
async fn a_stalled_request_head_is_cut_after_the_header_timeout() {
    let server = Server::start(timeouts()).await;
    let mut stream = server.connect().await;
    let started = Instant::now();
    stream.write_all(b"GET /fa").await.unwrap();
    closed_at_the_header_timeout(&mut stream, started, "closed").await;
}

#[tokio::test]
async fn a_trickled_request_head_is_cut_although_bytes_keep_arriving() {
    // Slowloris: each byte comes well within the timeout, the whole head does not. The
    // timeout is a deadline for the head, not an inactivity timer.
    let server = Server::start(timeouts()).await;
    let (mut reader, mut writer) = server.connect().await.into_split();
    let started = Instant::now();
    let trickle = tokio::spawn(async move {
        for &byte in b"GET /fast HTTP/1.1\r\nHost: x\r\nX-Padding: aaaaaaaaaa\r\n\r\n" {
            if writer.write_all(&[byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });

    closed_at_the_header_timeout(&mut reader, started, "closed").await;
    assert!(!trickle.is_finished(), "the whole head was sent in time");
    trickle.abort();
}

#[tokio::test]
async fn a_trickled_body_gets_408_with_a_json_error_then_the_connection_closes() {
    let server = Server::start(timeouts()).await;
    let (mut reader, mut writer) = server.connect().await.into_split();
    writer
        .write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    // 100 bytes at 1 per 200 ms would take 20 s.
    let trickle = tokio::spawn(async move {
        for _ in 0..100 {
            if writer.write_all(b"x").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });

    let reply = read_request_timeout(&mut reader, started).await;
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.header("connection"), Some("close"));
    let trace_id = reply
        .header("x-trace-id")
        .expect("an X-Trace-ID on the 408");
    assert_eq!(trace_id.len(), 32, "a generated trace id: {trace_id}");
    closed_within(&mut reader, SLACK).await;
    trickle.abort();
}

#[tokio::test]
async fn a_handler_slower_than_the_request_timeout_gets_408() {
    let server = Server::start(timeouts()).await;

    // Control: a quick request on the same server is answered normally.
    let mut stream = server.send(b"GET /fast HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let reply = read_reply(&mut stream).await;
    assert_eq!(reply.status_line, "HTTP/1.1 200 OK");
    assert_eq!(reply.body, "ok");

    let trace_id = "0123456789abcdef0123456789abcdef";
    let mut stream = server.connect().await;
    let started = Instant::now();
    stream
        .write_all(
            format!("GET /sleep/5000 HTTP/1.1\r\nHost: x\r\nX-Trace-ID: {trace_id}\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let reply = read_request_timeout(&mut stream, started).await;
    assert_eq!(
        reply.header("x-trace-id"),
        Some(trace_id),
        "the client's id echoed"
    );
    closed_within(&mut stream, SLACK).await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let server = Server::start(timeouts()).await;
    let mut stream = server.connect().await;
    let request = b"GET /fast HTTP/1.1\r\nHost: x\r\n\r\n";

    // Kept alive: a second request on the same connection, sent while idle for less than
    // the bound, is answered.
    stream.write_all(request).await.unwrap();
    assert_eq!(read_reply(&mut stream).await.body, "ok");
    tokio::time::sleep(HEADER_READ / 2).await;
    stream.write_all(request).await.unwrap();
    let reply = read_reply(&mut stream).await;
    assert_eq!(reply.status_line, "HTTP/1.1 200 OK");
    assert_eq!(reply.header("connection"), None, "not closed on purpose");
    let idle_since = Instant::now();
    closed_at_the_header_timeout(&mut stream, idle_since, "idle connection closed").await;
}

#[tokio::test]
async fn shutdown_refuses_new_connections_and_finishes_requests_in_flight() {
    let mut server = Server::start(HttpTimeouts {
        request: Duration::from_secs(10),
        ..timeouts()
    })
    .await;
    let mut in_flight = server.in_flight(1500).await;

    server.shut_down();
    // New connections are refused at once, while the request above is still running.
    let deadline = Instant::now() + SLACK;
    loop {
        match TcpStream::connect(server.addr).await {
            Err(error) if error.kind() == io::ErrorKind::ConnectionRefused => break,
            // Queued before the listener closed (and reset when it did): not yet.
            Ok(_) => assert!(Instant::now() < deadline, "still accepting after shutdown"),
            Err(error) if error.kind() == io::ErrorKind::ConnectionReset => {}
            Err(error) => panic!("unexpected connect error: {error}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        !server.task.is_finished(),
        "serve returned before the drain"
    );

    let reply = read_reply(&mut in_flight).await;
    assert_eq!(reply.status_line, "HTTP/1.1 200 OK");
    assert_eq!(reply.body, "done");
    server
        .returned_within(SLACK, "serve returns once the last request is answered")
        .await;
    let refused = TcpStream::connect(server.addr).await.unwrap_err();
    assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);
}

#[tokio::test]
async fn shutdown_gives_up_on_requests_still_running_at_the_drain_deadline() {
    let drain = Duration::from_millis(500);
    let mut server = Server::start(HttpTimeouts {
        request: Duration::from_secs(60),
        drain,
        ..timeouts()
    })
    .await;
    // Held open, so that its request is still running when the drain ends.
    let _stream = server.in_flight(60_000).await;

    let started = Instant::now();
    server.shut_down();
    server
        .returned_within(drain + SLACK, "serve returns at the drain deadline")
        .await;
    assert_between(started.elapsed(), drain, drain + SLACK, "serve returned");
}
