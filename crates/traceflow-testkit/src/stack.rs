//! The three services against real Redis and ClickHouse, in-process or as processes, each
//! stack with its own database and queue key so tests run in parallel without sharing state.

use crate::{
    free_port,
    processes::{Service, ServiceProcess},
    servers::{shared_clickhouse_url, shared_redis_url},
};
use serde_json::Value;
use std::{
    future::Future,
    time::{Duration, Instant},
};
use tokio::{sync::oneshot, task::JoinHandle};
use traceflow_config::{Env, IngestionConfig, QueryConfig, WorkerConfig};
use traceflow_queue::{Producer, QueueKeys, QueueLocation};

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
    pub max_batch_size: Option<usize>,
    pub flush_interval: Option<Duration>,
    /// Any other variables, for every service.
    pub extra_env: Vec<(&'static str, String)>,
    /// Run the services as processes (built from this workspace) that tests can kill and
    /// signal, instead of in this process.
    pub processes: bool,
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
            max_batch_size: None,
            flush_interval: None,
            extra_env: Vec::new(),
            processes: false,
        }
    }
}

impl StackOptions {
    /// Ingestion alone (no worker) with small limits to run into: 64 KiB bodies, 3 events
    /// a request.
    pub fn small_limits() -> Self {
        Self {
            worker: false,
            max_body_bytes: Some(64 * 1024),
            extra_env: vec![("MAX_BATCH_EVENTS", "3".to_owned())],
            ..Self::default()
        }
    }

    /// The defaults and one more variable of the services' environment.
    pub fn env(name: &'static str, value: impl Into<String>) -> Self {
        Self {
            extra_env: vec![(name, value.into())],
            ..Self::default()
        }
    }

    /// Ingestion alone (no worker) with a queue full at `depth` events: backpressure.
    pub fn queue_of(depth: u64) -> Self {
        Self {
            worker: false,
            max_queue_depth: Some(depth),
            ..Self::default()
        }
    }
}

/// Where ingestion's one-protocol ports listen, `127.0.0.1:<port>` each; empty when off.
#[derive(Debug, Clone, Default)]
pub struct ProtocolAddresses {
    pub otlp_grpc: String,
    pub elasticsearch: String,
    pub loki: String,
    pub syslog_tcp: String,
    pub syslog_udp: String,
}

/// A running service and how to stop it.
enum Running {
    Task {
        stop: oneshot::Sender<()>,
        task: JoinHandle<()>,
    },
    Process(ServiceProcess),
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
        Running::Task { stop, task }
    }

    /// Graceful: the shutdown signal (SIGTERM for a process), then waits for the exit.
    async fn stop(self) {
        match self {
            Running::Task { stop, task } => {
                let _ = stop.send(());
                task.await.expect("service panicked");
            }
            Running::Process(mut process) => {
                tokio::task::spawn_blocking(move || process.terminate())
                    .await
                    .expect("terminate does not panic");
            }
        }
    }
}

async fn until(stopped: oneshot::Receiver<()>) {
    let _ = stopped.await;
}

/// Fixed ports for service processes, so a restarted process is where it was; all 0 (the
/// OS picks) for in-process services.
#[derive(Debug, Clone, Copy)]
struct Ports {
    ingestion: u16,
    /// Ingestion's second port, for the OTLP receiver alone.
    otlp: u16,
    /// Ingestion's ports for one protocol each.
    otlp_grpc: u16,
    elasticsearch: u16,
    loki: u16,
    syslog_tcp: u16,
    syslog_udp: u16,
    query: u16,
    worker_grpc: u16,
    worker_http: u16,
}

/// The `message` of each log in a `GET /logs` answer, in order.
pub fn messages(body: &Value) -> Vec<&str> {
    body["logs"]
        .as_array()
        .expect("a GET /logs answer has logs")
        .iter()
        .map(|log| log["message"].as_str().expect("a log has a message"))
        .collect()
}

/// Ingestion, worker and query against real Redis and ClickHouse. In-process services stop
/// with the test's runtime; processes stop when the stack is dropped.
pub struct TestStack {
    pub ingestion_url: String,
    /// Ingestion's `OTLP_PORT` (only `POST /v1/logs`); the main port serves it too.
    pub otlp_url: String,
    /// Ingestion's ports of one protocol each, as `127.0.0.1:<port>` (empty when off).
    pub protocol_addresses: ProtocolAddresses,
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
    /// The keys of this stack's queue (`REDIS_QUEUE_KEY`).
    pub queue_keys: QueueKeys,
    pub http: reqwest::Client,
    options: StackOptions,
    ports: Ports,
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
        let port = || if options.processes { free_port() } else { 0 };
        let ports = Ports {
            ingestion: port(),
            otlp: port(),
            otlp_grpc: port(),
            elasticsearch: port(),
            loki: port(),
            syslog_tcp: port(),
            syslog_udp: port(),
            query: port(),
            worker_grpc: port(),
            worker_http: port(),
        };
        let mut stack = Self {
            ingestion_url: String::new(),
            otlp_url: String::new(),
            protocol_addresses: ProtocolAddresses::default(),
            query_url: String::new(),
            worker_grpc_url: String::new(),
            worker_http_url: String::new(),
            signal_target: String::new(),
            redis_url,
            clickhouse_url,
            database: format!("test_{suffix}"),
            queue_keys: QueueKeys::new(format!("test_queue_{suffix}")),
            http: reqwest::Client::new(),
            options: options.clone(),
            ports,
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
            format!("http://127.0.0.1:{}", free_port())
        };
        stack.start_ingestion().await;
        stack.start_query().await;
        stack
    }

    /// The environment each service is given, for this stack. An empty `signal_target`
    /// (while the worker is being started) is left to its default.
    fn env(&self) -> Vec<(String, String)> {
        let ports = self.ports;
        let mut pairs = vec![
            ("BIND_HOST", "127.0.0.1".to_owned()),
            ("REDIS_ADDR", self.redis_url.clone()),
            ("REDIS_QUEUE_KEY", self.queue_keys.queue().to_owned()),
            ("CLICKHOUSE_URL", self.clickhouse_url.clone()),
            ("CLICKHOUSE_DB", self.database.clone()),
            ("BATCH_SIZE", self.options.batch_size.to_string()),
            (
                "POLL_INTERVAL",
                format!("{}ms", self.options.poll_interval.as_millis()),
            ),
            ("WORKER_ADDR", self.signal_target.clone()),
            ("INGESTION_PORT", ports.ingestion.to_string()),
            ("OTLP_PORT", ports.otlp.to_string()),
            ("OTLP_GRPC_PORT", ports.otlp_grpc.to_string()),
            ("ES_PORT", ports.elasticsearch.to_string()),
            ("LOKI_PORT", ports.loki.to_string()),
            ("SYSLOG_TCP_PORT", ports.syslog_tcp.to_string()),
            ("SYSLOG_UDP_PORT", ports.syslog_udp.to_string()),
            ("QUERY_PORT", ports.query.to_string()),
            ("GRPC_PORT", ports.worker_grpc.to_string()),
            ("WORKER_HTTP_PORT", ports.worker_http.to_string()),
            // Test events carry fixed dates (2026-05-05) that age: the worker's retention
            // must not drop them under a test. Retention tests set their own limit.
            ("RETENTION_DAYS", "36500".to_owned()),
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
        if let Some(size) = self.options.max_batch_size {
            pairs.push(("MAX_BATCH_SIZE", size.to_string()));
        }
        if let Some(interval) = self.options.flush_interval {
            pairs.push(("FLUSH_INTERVAL", format!("{}ms", interval.as_millis())));
        }
        pairs.extend(self.options.extra_env.iter().cloned());
        pairs
            .into_iter()
            .filter(|(_, value)| !value.is_empty())
            .map(|(key, value)| (key.to_owned(), value))
            .collect()
    }

    fn config_env(&self) -> Env {
        Env::from_pairs(self.env())
    }

    /// Starts a service process off the runtime: start-up polls readiness, blocking.
    async fn process(&self, service: Service, health_port: u16) -> Running {
        let env = self.env();
        let process =
            tokio::task::spawn_blocking(move || ServiceProcess::start(service, env, health_port))
                .await
                .expect("the service process starts");
        Running::Process(process)
    }

    /// Starts (or restarts) the worker; returns once migrations are applied.
    pub async fn start_worker(&mut self) {
        let running = if self.options.processes {
            let (grpc, http) = (self.ports.worker_grpc, self.ports.worker_http);
            self.worker_grpc_url = format!("http://127.0.0.1:{grpc}");
            self.worker_http_url = format!("http://127.0.0.1:{http}");
            self.process(Service::Worker, http).await
        } else {
            let config = WorkerConfig::from(&self.config_env()).expect("valid worker config");
            let app = worker::Application::build(config)
                .await
                .expect("worker starts");
            self.worker_grpc_url = format!("http://127.0.0.1:{}", app.grpc_port());
            self.worker_http_url = format!("http://127.0.0.1:{}", app.http_port());
            Running::spawn(|stopped| app.run_until(until(stopped)))
        };
        self.worker = Some(running);
    }

    /// Stops the worker gracefully (SIGTERM for a process) and waits until it has exited.
    pub async fn stop_worker(&mut self) {
        if let Some(worker) = self.worker.take() {
            worker.stop().await;
        }
    }

    /// SIGKILLs the worker process, as a crash would. Only for `processes` stacks.
    pub async fn kill_worker(&mut self) {
        match self.worker.take() {
            Some(Running::Process(mut process)) => {
                tokio::task::spawn_blocking(move || process.kill())
                    .await
                    .expect("kill does not panic");
            }
            Some(Running::Task { .. }) => panic!("kill_worker needs StackOptions::processes"),
            None => {}
        }
    }

    /// Starts (or restarts) ingestion.
    pub async fn start_ingestion(&mut self) {
        let running = if self.options.processes {
            let port = self.ports.ingestion;
            self.ingestion_url = format!("http://127.0.0.1:{port}");
            self.otlp_url = format!("http://127.0.0.1:{}", self.ports.otlp);
            let at = |port: u16| format!("127.0.0.1:{port}");
            self.protocol_addresses = ProtocolAddresses {
                otlp_grpc: at(self.ports.otlp_grpc),
                elasticsearch: at(self.ports.elasticsearch),
                loki: at(self.ports.loki),
                syslog_tcp: at(self.ports.syslog_tcp),
                syslog_udp: at(self.ports.syslog_udp),
            };
            self.process(Service::Ingestion, port).await
        } else {
            let config = IngestionConfig::from(&self.config_env()).expect("valid ingestion config");
            let app = ingestion::Application::build(config)
                .await
                .expect("ingestion starts");
            self.ingestion_url = format!("http://127.0.0.1:{}", app.port());
            let at = |port| {
                app.address(port)
                    .map(|address| format!("127.0.0.1:{}", address.port()))
                    .unwrap_or_default()
            };
            self.otlp_url = format!("http://{}", at(ingestion::Port::Otlp));
            self.protocol_addresses = ProtocolAddresses {
                otlp_grpc: at(ingestion::Port::OtlpGrpc),
                elasticsearch: at(ingestion::Port::Elasticsearch),
                loki: at(ingestion::Port::Loki),
                syslog_tcp: at(ingestion::Port::SyslogTcp),
                syslog_udp: at(ingestion::Port::SyslogUdp),
            };
            Running::spawn(|stopped| app.run_until(until(stopped)))
        };
        self.ingestion = Some(running);
    }

    /// Stops ingestion gracefully (SIGTERM for a process) and waits until it has exited.
    pub async fn stop_ingestion(&mut self) {
        if let Some(ingestion) = self.ingestion.take() {
            ingestion.stop().await;
        }
    }

    /// Starts (or restarts) the query service.
    pub async fn start_query(&mut self) {
        let running = if self.options.processes {
            let port = self.ports.query;
            self.query_url = format!("http://127.0.0.1:{port}");
            self.process(Service::Query, port).await
        } else {
            let config = QueryConfig::from(&self.config_env()).expect("valid query config");
            let app = query::Application::build(config)
                .await
                .expect("query starts");
            self.query_url = format!("http://127.0.0.1:{}", app.port());
            Running::spawn(|stopped| app.run_until(until(stopped)))
        };
        self.query = Some(running);
    }

    /// Stops the query service gracefully and waits until it has exited.
    pub async fn stop_query(&mut self) {
        if let Some(query) = self.query.take() {
            query.stop().await;
        }
    }

    /// Another process of `service` on this stack's Redis, ClickHouse, database and queue,
    /// with ports of its own (ingestion: its main and OTLP/HTTP ports, the others off), as
    /// a deployment runs several
    /// behind a load balancer, with `extra_env` on top; with its URL (the worker's: its
    /// HTTP port's).
    pub async fn start_another(
        &self,
        service: Service,
        extra_env: &[(&str, &str)],
    ) -> (ServiceProcess, String) {
        let port = free_port();
        let own: Vec<(&str, String)> = match service {
            Service::Ingestion => {
                let off = [
                    "OTLP_GRPC_PORT",
                    "ES_PORT",
                    "LOKI_PORT",
                    "SYSLOG_TCP_PORT",
                    "SYSLOG_UDP_PORT",
                ];
                let off = off.into_iter().map(|variable| (variable, "off".to_owned()));
                let ports = [
                    ("INGESTION_PORT", port.to_string()),
                    ("OTLP_PORT", free_port().to_string()),
                ];
                ports.into_iter().chain(off).collect()
            }
            Service::Worker => vec![
                ("WORKER_HTTP_PORT", port.to_string()),
                ("GRPC_PORT", free_port().to_string()),
            ],
            Service::Query => vec![("QUERY_PORT", port.to_string())],
        };
        let own: Vec<(&str, String)> = own
            .into_iter()
            .chain(
                extra_env
                    .iter()
                    .map(|(name, value)| (*name, (*value).to_owned())),
            )
            .collect();
        let mut env = self.env();
        env.retain(|(name, _)| !own.iter().any(|(variable, _)| variable == name));
        env.extend(
            own.into_iter()
                .map(|(name, value)| (name.to_owned(), value)),
        );
        let process =
            tokio::task::spawn_blocking(move || ServiceProcess::start(service, env, port))
                .await
                .expect("the service process starts");
        (process, format!("http://127.0.0.1:{port}"))
    }

    /// Sets an environment variable for the services started from now on (a restarted
    /// worker, say), replacing an earlier value.
    pub fn set_env(&mut self, name: &'static str, value: impl Into<String>) {
        self.options
            .extra_env
            .retain(|(existing, _)| *existing != name);
        self.options.extra_env.push((name, value.into()));
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

    /// A producer on this stack's queue with no depth limit, for putting entries on the
    /// queue directly (malformed ones, or many at once) with the depth kept as ingestion
    /// keeps it.
    pub async fn producer(&self) -> Producer {
        Producer::connect(
            &QueueLocation::server(&self.redis_url, self.queue_keys.queue()),
            u64::MAX,
        )
        .expect("valid redis url")
    }

    /// The events waiting in this stack's queue, oldest first (the order the worker takes
    /// them).
    pub async fn queued(&self) -> Vec<traceflow_event::LogEvent> {
        use redis::AsyncCommands;
        let entries: Vec<Vec<u8>> = self
            .redis()
            .await
            .lrange(self.queue_keys.queue(), 0, -1)
            .await
            .expect("redis answers");
        entries
            .iter()
            .rev()
            .flat_map(|entry| traceflow_queue::entry_lines(entry))
            .map(|line| {
                traceflow_queue::decode_line(line)
                    .expect("a valid wire entry")
                    .into_owned()
            })
            .collect()
    }

    /// The number of rows in this stack's `logs` table, straight from ClickHouse.
    pub async fn stored_rows(&self) -> u64 {
        let text = self.clickhouse("SELECT count() FROM logs").await;
        text.trim()
            .parse()
            .unwrap_or_else(|_| panic!("not a count: {text:?}"))
    }

    /// Runs `sql` on ClickHouse over HTTP with this stack's database as the default one;
    /// returns the answer's text. Panics when ClickHouse refuses it.
    pub async fn clickhouse(&self, sql: &str) -> String {
        let answer = self
            .http
            .post(&self.clickhouse_url)
            .query(&[("database", &self.database)])
            .body(sql.to_owned())
            .send()
            .await
            .expect("clickhouse answers");
        let status = answer.status();
        let text = answer.text().await.expect("a text answer");
        assert!(status.is_success(), "clickhouse refused {sql:?}: {text}");
        text
    }

    /// Polls the dead-letter list until it holds `count` letters (the worker writes them when
    /// it acknowledges a batch, just after the batch's rows became visible); returns them.
    pub async fn wait_for_dead_letters(&self, count: usize, timeout: Duration) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let letters = self.dead_letters().await;
            if letters.len() >= count || Instant::now() >= deadline {
                return letters;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The dead-letter list, newest first: `{"reason", "entry", "failed_at"}` each.
    pub async fn dead_letters(&self) -> Vec<Value> {
        use redis::AsyncCommands;
        let letters: Vec<String> = self
            .redis()
            .await
            .lrange(self.queue_keys.dead(), 0, -1)
            .await
            .expect("redis answers");
        letters
            .iter()
            .map(|letter| serde_json::from_str(letter).expect("a dead letter is JSON"))
            .collect()
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
