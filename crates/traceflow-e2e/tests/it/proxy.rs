//! A proxy in front of ClickHouse, for the query service to talk through: it counts the
//! requests it forwards (how many a tail costs), and can be told to fail them (a ClickHouse
//! that breaks in the middle of an export).

use crate::stored::storage_at;
use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};
use traceflow_storage::Storage;
use traceflow_testkit::{StackOptions, TestStack, shared_clickhouse_url};

pub struct ClickHouseProxy {
    pub url: String,
    shared: Arc<Shared>,
}

struct Shared {
    client: reqwest::Client,
    target: String,
    requests: AtomicU64,
    /// Requests whose body (the SQL) contains this fail; `""` fails every request.
    failing: Mutex<Option<String>>,
}

impl ClickHouseProxy {
    /// A stack whose query service talks to the shared ClickHouse through a proxy, and the
    /// stack's tables, migrated, reached around it (so that what a test writes is not
    /// counted or failed). No worker: the test writes the rows itself.
    pub async fn with_stack() -> (Self, TestStack, Storage) {
        let clickhouse = shared_clickhouse_url();
        let proxy = Self::start(clickhouse.clone()).await;
        let stack = TestStack::spawn_with(StackOptions {
            clickhouse_url: Some(proxy.url.clone()),
            worker: false,
            ..StackOptions::default()
        })
        .await;
        let storage = storage_at(&stack, &clickhouse).await;
        storage.migrate().await.unwrap();
        (proxy, stack, storage)
    }

    pub async fn start(target: String) -> Self {
        let shared = Arc::new(Shared {
            client: reqwest::Client::new(),
            target,
            requests: AtomicU64::new(0),
            failing: Mutex::new(None),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new().fallback(forward).with_state(shared.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, shared }
    }

    /// Requests forwarded (or failed) so far.
    pub fn count(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// Requests forwarded during `window`.
    pub async fn during(&self, window: Duration) -> u64 {
        let before = self.count();
        tokio::time::sleep(window).await;
        self.count() - before
    }

    /// From now on the requests whose SQL contains `text` (every request, for `""`) fail
    /// as a ClickHouse in trouble answers: a 500 with its exception text. None: forward
    /// everything again.
    pub fn fail_requests_containing(&self, text: Option<&str>) {
        *self.shared.failing.lock().unwrap() = text.map(str::to_owned);
    }
}

async fn forward(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let fails = shared
        .failing
        .lock()
        .unwrap()
        .as_ref()
        .is_some_and(|text| String::from_utf8_lossy(&body).contains(text.as_str()));
    if fails {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "Code: 241. DB::Exception: Memory limit (total) exceeded. (MEMORY_LIMIT_EXCEEDED)",
        )
            .into_response();
    }
    let mut request = shared
        .client
        .request(method, format!("{}{uri}", shared.target))
        .body(body);
    for (name, value) in &headers {
        if !matches!(name.as_str(), "host" | "content-length" | "connection") {
            request = request.header(name, value);
        }
    }
    match request.send().await {
        Ok(answer) => {
            let status = answer.status();
            let mut headers = answer.headers().clone();
            headers.remove("content-length");
            headers.remove("transfer-encoding");
            headers.remove("connection");
            (status, headers, answer.bytes().await.unwrap_or_default()).into_response()
        }
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}
