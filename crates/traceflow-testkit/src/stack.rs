//! The three services running in-process against real Redis and ClickHouse, each stack with
//! its own database and queue key so tests run in parallel without sharing state.

use crate::servers::{shared_clickhouse_url, shared_redis_url};
use serde_json::Value;
use std::{
    future::Future,
    time::{Duration, Instant},
};
use tokio::{sync::oneshot, task::JoinHandle};
use traceflow_config::{Env, IngestionConfig, QueryConfig, WorkerConfig};

/// What a test may change about a stack; the rest comes from the defaults.
#[derive(Debug, Clone)]
pub struct StackOptions {
    pub redis_url: Option<String>,
    pub clickhouse_url: Option<String>,
    pub batch_size: usize,
    pub poll_interval: Duration,
    /// Start the worker (else events stay queued).
    pub worker: bool,
    /// Point ingestion's signal at the worker (else at a closed port, so only polling works).
    pub signal: bool,
    pub max_body_bytes: Option<usize>,
    pub max_queue_depth: Option<u64>,
    pub heartbeat_ttl: Option<Duration>,
}

impl Default for StackOptions {
    fn default() -> Self {
        Self {
            redis_url: None,
            clickhouse_url: None,
            batch_size: 20,
            poll_interval: Duration::from_secs(5),
            worker: true,
            signal: true,
            max_body_bytes: None,
            max_queue_depth: None,
            heartbeat_ttl: None,
        }
    }
}

/// A running service and how to stop it.
struct Running {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Running {
    fn spawn<F, E>(run: impl FnOnce(oneshot::Receiver<()>) -> F) -> Self
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Debug,
    {
        let (stop, stopped) = oneshot::channel();
        let future = run(stopped);
        let task = tokio::spawn(async move { future.await.expect("service failed") });
        Self { stop, task }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.expect("service panicked");
    }
}

async fn until(stopped: oneshot::Receiver<()>) {
    let _ = stopped.await;
}

/// Ingestion, worker and query, started in this process. Dropping it stops nothing
/// gracefully; the test runtime ending does.
pub struct TestStack {
    pub ingestion_url: String,
    pub query_url: String,
    /// Empty when the stack has no worker.
    pub worker_grpc_url: String,
    /// The worker's `/metrics` and `/health`; empty when the stack has no worker.
    pub worker_http_url: String,
    /// Where ingestion sends its signal: the worker, or a closed port.
    signal_target: String,
    pub redis_url: String,
    pub clickhouse_url: String,
    pub database: String,
    pub queue_key: String,
    pub http: reqwest::Client,
    options: StackOptions,
    worker: Option<Running>,
    ingestion: Option<Running>,
    query: Option<Running>,
}

impl TestStack {
    pub async fn spawn() -> Self {
        Self::spawn_with(StackOptions::default()).await
    }

    pub async fn spawn_with(options: StackOptions) -> Self {
        let suffix = &traceflow_traceid::generate()[..12];
        let redis_url = options.redis_url.clone().unwrap_or_else(shared_redis_url);
        let clickhouse_url = options
            .clickhouse_url
            .clone()
            .unwrap_or_else(shared_clickhouse_url);
        let mut stack = Self {
            ingestion_url: String::new(),
            query_url: String::new(),
            worker_grpc_url: String::new(),
            worker_http_url: String::new(),
            signal_target: String::new(),
            redis_url,
            clickhouse_url,
            database: format!("test_{suffix}"),
            queue_key: format!("test_queue_{suffix}"),
            http: reqwest::Client::new(),
            options: options.clone(),
            worker: None,
            ingestion: None,
            query: None,
        };
        if options.worker {
            stack.start_worker().await;
        }
        stack.signal_target = if options.worker && options.signal {
            stack.worker_grpc_url.clone()
        } else {
            // Nothing listens there: the signal fails, as with a worker that is down.
            format!("http://127.0.0.1:{}", crate::free_port())
        };
        stack.start_ingestion().await;
        stack.start_query().await;
        stack
    }

    /// The environment each service would be given, for this stack. An empty
    /// `signal_target` (while the worker is being started) is replaced by the default.
    fn env(&self) -> Env {
        let mut pairs = vec![
            ("BIND_HOST", "127.0.0.1".to_owned()),
            ("REDIS_ADDR", self.redis_url.clone()),
            ("REDIS_QUEUE_KEY", self.queue_key.clone()),
            ("CLICKHOUSE_URL", self.clickhouse_url.clone()),
            ("CLICKHOUSE_DB", self.database.clone()),
            ("BATCH_SIZE", self.options.batch_size.to_string()),
            (
                "POLL_INTERVAL",
                format!("{}ms", self.options.poll_interval.as_millis()),
            ),
            ("WORKER_ADDR", self.signal_target.clone()),
            ("INGESTION_PORT", "0".to_owned()),
            ("QUERY_PORT", "0".to_owned()),
            ("GRPC_PORT", "0".to_owned()),
            ("WORKER_HTTP_PORT", "0".to_owned()),
        ];
        if let Some(bytes) = self.options.max_body_bytes {
            pairs.push(("MAX_BODY_BYTES", bytes.to_string()));
        }
        if let Some(depth) = self.options.max_queue_depth {
            pairs.push(("MAX_QUEUE_DEPTH", depth.to_string()));
        }
        if let Some(ttl) = self.options.heartbeat_ttl {
            pairs.push(("WORKER_HEARTBEAT_TTL", format!("{}ms", ttl.as_millis())));
        }
        pairs.retain(|(_, value)| !value.is_empty());
        Env::from_pairs(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)))
    }

    /// Starts (or restarts) the worker; returns once migrations are applied.
    pub async fn start_worker(&mut self) {
        let config = WorkerConfig::from(&self.env()).expect("valid worker config");
        let app = worker::Application::build(config)
            .await
            .expect("worker starts");
        self.worker_grpc_url = format!("http://127.0.0.1:{}", app.grpc_port());
        self.worker_http_url = format!("http://127.0.0.1:{}", app.http_port());
        self.worker = Some(Running::spawn(|stopped| app.run_until(until(stopped))));
    }

    /// Stops the worker gracefully and waits until it has exited.
    pub async fn stop_worker(&mut self) {
        if let Some(worker) = self.worker.take() {
            worker.stop().await;
        }
    }

    async fn start_ingestion(&mut self) {
        let config = IngestionConfig::from(&self.env()).expect("valid ingestion config");
        let app = ingestion::Application::build(config)
            .await
            .expect("ingestion starts");
        self.ingestion_url = format!("http://127.0.0.1:{}", app.port());
        self.ingestion = Some(Running::spawn(|stopped| app.run_until(until(stopped))));
    }

    async fn start_query(&mut self) {
        let config = QueryConfig::from(&self.env()).expect("valid query config");
        let app = query::Application::build(config)
            .await
            .expect("query starts");
        self.query_url = format!("http://127.0.0.1:{}", app.port());
        self.query = Some(Running::spawn(|stopped| app.run_until(until(stopped))));
    }

    /// `POST /ingest` with a JSON body.
    pub async fn ingest(&self, event: &Value) -> reqwest::Response {
        self.http
            .post(format!("{}/ingest", self.ingestion_url))
            .json(event)
            .send()
            .await
            .expect("ingestion answers")
    }

    /// `GET /logs?<query>`.
    pub async fn logs(&self, query: &str) -> reqwest::Response {
        self.http
            .get(format!("{}/logs?{query}", self.query_url))
            .send()
            .await
            .expect("query answers")
    }

    /// Polls `GET /logs?<query>` until it returns at least `count` rows; returns the body.
    /// Panics with the last answer after `timeout`.
    pub async fn wait_for_logs(&self, query: &str, count: usize, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let body: Value = self.logs(query).await.json().await.expect("a JSON answer");
            if body["count"].as_u64().unwrap_or(0) as usize >= count {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "expected {count} rows for {query:?} within {timeout:?}; last answer: {body}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A connection to this stack's Redis, for inspecting the queue.
    pub async fn redis(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.redis_url.as_str())
            .expect("valid redis url")
            .get_multiplexed_async_connection()
            .await
            .expect("redis answers")
    }

    /// The number of rows in this stack's `logs` table, straight from ClickHouse.
    pub async fn stored_rows(&self) -> u64 {
        let answer = self
            .http
            .post(&self.clickhouse_url)
            .body(format!("SELECT count() FROM {}.logs", self.database))
            .send()
            .await
            .expect("clickhouse answers");
        let text = answer.text().await.expect("a text answer");
        text.trim()
            .parse()
            .unwrap_or_else(|_| panic!("not a count: {text:?}"))
    }

    /// Stops the services gracefully, in the order a deployment would.
    pub async fn shutdown(mut self) {
        for running in [self.ingestion.take(), self.worker.take(), self.query.take()]
            .into_iter()
            .flatten()
        {
            running.stop().await;
        }
    }
}
