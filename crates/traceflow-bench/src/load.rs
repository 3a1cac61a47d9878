//! The load generator: hyper's HTTP/1.1 client connections, one task per connection.
//!
//! Each [`Connection`] is one keep-alive TCP connection used by one task, so N tasks are N
//! concurrent connections, exactly what "64 keep-alive connections" asks for, with no
//! client pool in between deciding to open more or fewer. Request bodies are prepared before
//! the clock starts and shared as [`Bytes`], so the generator spends its (shared) CPU on
//! sending and timing rather than on serialising.

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode, client::conn::http1, header};
use hyper_util::rt::TokioIo;
use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::net::TcpStream;

/// A service's address, from its `http://host:port` URL.
#[derive(Debug, Clone)]
pub struct Target {
    addr: SocketAddr,
    /// `host:port`, for the `Host` header HTTP/1.1 requires.
    authority: String,
}

impl Target {
    pub async fn parse(url: &str) -> anyhow::Result<Self> {
        let url = reqwest::Url::parse(url).with_context(|| format!("bad service URL {url:?}"))?;
        let host = url.host_str().context("service URL without host")?;
        let port = url
            .port_or_known_default()
            .context("service URL without port")?;
        let addr = tokio::net::lookup_host((host, port))
            .await?
            .next()
            .with_context(|| format!("{host} does not resolve"))?;
        Ok(Self {
            addr,
            authority: format!("{host}:{port}"),
        })
    }
}

/// A whole answer: the body is always read to the end, as a real client would, so the
/// latency covers the full response.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One keep-alive HTTP/1.1 connection.
pub struct Connection {
    sender: http1::SendRequest<Full<Bytes>>,
    target: Target,
}

impl Connection {
    pub async fn open(target: &Target) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(target.addr)
            .await
            .with_context(|| format!("cannot connect to {}", target.authority))?;
        // Requests are small and latency is measured: do not let Nagle hold them back.
        stream.set_nodelay(true)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        // hyper's connection future does the socket I/O; it ends when the connection closes.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Self {
            sender,
            target: target.clone(),
        })
    }

    pub async fn post(
        &mut self,
        path: &str,
        content_type: &str,
        body: Bytes,
    ) -> anyhow::Result<Answer> {
        let request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::HOST, &self.target.authority)
            .header(header::CONTENT_TYPE, content_type)
            .body(Full::new(body))?;
        self.send(request).await
    }

    pub async fn get(&mut self, path_and_query: &str) -> anyhow::Result<Answer> {
        let request = Request::builder()
            .method(Method::GET)
            .uri(path_and_query)
            .header(header::HOST, &self.target.authority)
            .body(Full::new(Bytes::new()))?;
        self.send(request).await
    }

    async fn send(&mut self, request: Request<Full<Bytes>>) -> anyhow::Result<Answer> {
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok(Answer { status, body })
    }
}

/// What a closed-loop run saw.
#[derive(Debug, Default)]
pub struct ClosedLoopOutcome {
    /// From the common start to the end of the last request in flight at the deadline.
    pub elapsed: Duration,
    /// Answers by status code.
    pub statuses: BTreeMap<u16, u64>,
    /// Requests that got no answer (connection refused, reset, ...).
    pub failures: u64,
    pub first_problem: Option<String>,
    /// Latency of each answer with the expected status.
    pub latencies: Vec<Duration>,
}

impl ClosedLoopOutcome {
    pub fn count(&self, status: StatusCode) -> u64 {
        self.statuses
            .get(&status.as_u16())
            .copied()
            .unwrap_or_default()
    }

    fn merge(&mut self, other: ClosedLoopOutcome) {
        for (status, count) in other.statuses {
            *self.statuses.entry(status).or_default() += count;
        }
        self.failures += other.failures;
        self.first_problem = self.first_problem.take().or(other.first_problem);
        self.latencies.extend(other.latencies);
    }
}

/// Closed loop: `connections` tasks each send `POST path` back to back, the next request as
/// soon as the previous answer is read, until `duration` has passed. The bodies are taken
/// in turn from `bodies`. Connections are opened before the clock starts.
pub async fn post_closed_loop(
    target: &Target,
    connections: usize,
    duration: Duration,
    path: &str,
    content_type: &'static str,
    bodies: Arc<[Bytes]>,
    expect: StatusCode,
) -> anyhow::Result<ClosedLoopOutcome> {
    if bodies.is_empty() {
        bail!("no request bodies to send");
    }
    let mut opened = Vec::with_capacity(connections);
    for _ in 0..connections {
        opened.push(Connection::open(target).await?);
    }
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = opened
        .into_iter()
        .enumerate()
        .map(|(index, mut connection)| {
            let (target, path, bodies) = (target.clone(), path.to_owned(), bodies.clone());
            tokio::spawn(async move {
                let mut outcome = ClosedLoopOutcome::default();
                // Each connection starts at a different body so that they do not all send
                // the same one at the same moment.
                let mut next = index;
                while Instant::now() < deadline {
                    let body = bodies[next % bodies.len()].clone();
                    next += connections;
                    let sent = Instant::now();
                    match connection.post(&path, content_type, body).await {
                        Ok(answer) => {
                            let latency = sent.elapsed();
                            *outcome.statuses.entry(answer.status.as_u16()).or_default() += 1;
                            if answer.status == expect {
                                outcome.latencies.push(latency);
                            } else if outcome.first_problem.is_none() {
                                outcome.first_problem =
                                    Some(format!("{} {}", answer.status, answer.text()));
                            }
                        }
                        Err(error) => {
                            outcome.failures += 1;
                            outcome.first_problem.get_or_insert(format!("{error:#}"));
                            // The connection is likely gone: reopen it, without spinning if
                            // the service is down.
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            if let Ok(fresh) = Connection::open(&target).await {
                                connection = fresh;
                            }
                        }
                    }
                }
                outcome
            })
        })
        .collect();
    let mut total = ClosedLoopOutcome::default();
    for task in tasks {
        total.merge(task.await?);
    }
    total.elapsed = start.elapsed();
    Ok(total)
}
