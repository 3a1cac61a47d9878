//! `GET /logs/tail`: Server-Sent Events pushing each new matching event as it is stored,
//! with heartbeats, resumption from `Last-Event-ID`, and one ClickHouse reader per filter
//! however many clients follow it.

use crate::{
    proxy::ClickHouseProxy,
    stored::{event, get, storage},
};
use chrono::{TimeDelta, Utc};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use traceflow_event::{Level, LogEvent};
use traceflow_testkit::{StackOptions, TestStack};

/// One message of the stream.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Message {
    Comment(String),
    Event { id: String, data: Value },
}

/// A client reading a tail's stream.
pub(crate) struct Tail {
    response: reqwest::Response,
    buffer: String,
}

impl Tail {
    /// Opens the tail and waits for its `connected` comment: from then on every matching
    /// event stored is pushed.
    async fn connect(stack: &TestStack, query: &str, last_event_id: Option<&str>) -> Self {
        let mut request = stack
            .http
            .get(format!("{}/logs/tail?{query}", stack.query_url));
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        Self::open(request).await
    }

    /// [`Tail::connect`] with a request of the caller's (its key, its `Last-Event-ID`).
    pub(crate) async fn open(request: reqwest::RequestBuilder) -> Self {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        let mut tail = Self {
            response,
            buffer: String::new(),
        };
        loop {
            match tail.next(Duration::from_secs(10)).await {
                Some(Message::Comment(comment)) if comment == "connected" => return tail,
                Some(Message::Comment(comment)) if comment == "heartbeat" => continue,
                other => panic!("expected the connected comment first, got {other:?}"),
            }
        }
    }

    /// The next message, or None if none came within `timeout` or the stream ended.
    async fn next(&mut self, timeout: Duration) -> Option<Message> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                return Some(parse(&block));
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .ok()?
                .unwrap()?;
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// The next event (skipping comments): its id and data.
    pub(crate) async fn next_event(&mut self, timeout: Duration) -> Option<(String, Value)> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await? {
                Message::Event { id, data } => return Some((id, data)),
                Message::Comment(_) => continue,
            }
        }
    }

    /// The messages of the events that arrive within `timeout`.
    async fn events_within(&mut self, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut messages = Vec::new();
        while let Some((_, data)) = self
            .next_event(deadline.saturating_duration_since(Instant::now()))
            .await
        {
            messages.push(data["message"].as_str().unwrap().to_owned());
        }
        messages
    }
}

fn parse(block: &str) -> Message {
    let (mut id, mut data) = (String::new(), String::new());
    for line in block.lines().filter(|line| !line.is_empty()) {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "" => return Message::Comment(value.to_owned()),
            "id" => id = value.to_owned(),
            "data" => data.push_str(value),
            other => panic!("unexpected SSE field {other:?} in {block:?}"),
        }
    }
    Message::Event {
        id,
        data: serde_json::from_str(&data).unwrap(),
    }
}

fn now_event(service: &str, level: Level, message: &str) -> LogEvent {
    event(service, level, Utc::now(), message)
}

#[tokio::test]
async fn each_new_matching_event_is_pushed_within_a_second_in_order() {
    let stack = TestStack::spawn().await;
    let storage = storage(&stack).await;
    storage
        .insert(&[now_event("shop", Level::Error, "before the tail")])
        .await
        .unwrap();
    let mut tail = Tail::connect(&stack, "service=shop&level=ERROR", None).await;

    for round in 0..3 {
        let base = Utc::now();
        let batch = [
            event("shop", Level::Error, base, &format!("{round}: first")),
            event("shop", Level::Info, base, &format!("{round}: not an error")),
            event(
                "other",
                Level::Error,
                base,
                &format!("{round}: other service"),
            ),
            event(
                "shop",
                Level::Error,
                base + TimeDelta::milliseconds(1),
                &format!("{round}: second"),
            ),
        ];
        storage.insert(&batch).await.unwrap();
        let stored = Instant::now();
        for expected in [format!("{round}: first"), format!("{round}: second")] {
            let (_, data) = tail
                .next_event(Duration::from_secs(5))
                .await
                .expect("the event is pushed");
            assert!(
                stored.elapsed() < Duration::from_secs(1),
                "pushed {:?} after being stored",
                stored.elapsed()
            );
            assert_eq!(data["message"], expected.as_str());
            assert_eq!(data["service"], "shop");
            assert_eq!(data["level"], "ERROR");
            assert!(
                data["id"].is_string() && data["timestamp"].is_string(),
                "{data}"
            );
        }
    }
    // Nothing else: not the event stored before, not the ones that do not match.
    assert!(
        tail.events_within(Duration::from_millis(700))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn a_tail_leaves_out_what_it_excludes() {
    let stack = TestStack::spawn().await;
    let storage = storage(&stack).await;
    let mut tail = Tail::connect(
        &stack,
        "service=shop&not.level=debug&not.q=health&not.metadata.bot=yes",
        None,
    )
    .await;
    let base = Utc::now();
    let mut bot = event("shop", Level::Info, base, "crawled");
    bot.metadata.insert("bot".into(), "yes".into());
    storage
        .insert(&[
            event("shop", Level::Info, base, "order placed"),
            event("shop", Level::Debug, base, "cache dump"),
            event("shop", Level::Info, base, "GET /Health 200"),
            bot,
            event("other", Level::Info, base, "not the shop"),
            event("shop", Level::Warn, base, "stock low"),
        ])
        .await
        .unwrap();
    let mut pushed = tail.events_within(Duration::from_secs(2)).await;
    pushed.sort();
    assert_eq!(pushed, ["order placed", "stock low"]);
}

#[tokio::test]
async fn events_reach_a_tail_through_the_whole_pipeline() {
    let stack = TestStack::spawn().await;
    let mut tail = Tail::connect(&stack, "q=checkout&metadata.region=eu", None).await;
    for (message, region) in [
        ("checkout started", "eu"),
        ("checkout started", "us"),
        ("login", "eu"),
        ("checkout paid", "eu"),
    ] {
        let event = json!({"service": "web", "level": "INFO", "message": message, "metadata": {"region": region}});
        assert_eq!(stack.ingest(&event).await.status(), 202);
    }
    let mut pushed = Vec::new();
    while pushed.len() < 2 {
        let (_, data) = tail
            .next_event(Duration::from_secs(10))
            .await
            .expect("both checkouts are pushed");
        pushed.push(data["message"].as_str().unwrap().to_owned());
    }
    assert_eq!(pushed, ["checkout started", "checkout paid"]);
}

#[tokio::test]
async fn an_idle_tail_carries_heartbeat_comments() {
    let stack = TestStack::spawn_with(StackOptions {
        extra_env: vec![("TAIL_HEARTBEAT", "200ms".into())],
        ..StackOptions::default()
    })
    .await;
    let mut tail = Tail::connect(&stack, "service=quiet", None).await;
    let mut heartbeats = 0;
    let deadline = Instant::now() + Duration::from_secs(2);
    while let Some(message) = tail
        .next(deadline.saturating_duration_since(Instant::now()))
        .await
    {
        assert_eq!(message, Message::Comment("heartbeat".into()));
        heartbeats += 1;
    }
    assert!(
        heartbeats >= 4,
        "{heartbeats} heartbeats in 2 s at one per 200 ms"
    );
}

#[tokio::test]
async fn last_event_id_resumes_with_what_was_missed_then_goes_on_live() {
    let stack = TestStack::spawn().await;
    let storage = storage(&stack).await;
    let store = |message: String| {
        let storage = storage.clone();
        async move {
            storage
                .insert(&[now_event("resumed", Level::Info, &message)])
                .await
                .unwrap();
            // Distinct milliseconds, so the order is the order of storing.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };

    let mut tail = Tail::connect(&stack, "service=resumed", None).await;
    for i in 0..3 {
        store(format!("live {i}")).await;
    }
    let mut last_id = String::new();
    for i in 0..3 {
        let (id, data) = tail.next_event(Duration::from_secs(5)).await.unwrap();
        assert_eq!(data["message"], format!("live {i}"));
        last_id = id;
    }
    drop(tail);

    // Stored while the client is away.
    for i in 0..5 {
        store(format!("missed {i}")).await;
    }
    let mut tail = Tail::connect(&stack, "service=resumed", Some(&last_id)).await;
    store("after reconnecting".into()).await;
    let mut pushed = Vec::new();
    while pushed.len() < 6 {
        let (_, data) = tail
            .next_event(Duration::from_secs(5))
            .await
            .expect("every missed event and the new one");
        pushed.push(data["message"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        pushed,
        [
            "missed 0",
            "missed 1",
            "missed 2",
            "missed 3",
            "missed 4",
            "after reconnecting"
        ]
    );
    assert!(
        tail.events_within(Duration::from_millis(700))
            .await
            .is_empty(),
        "nothing twice"
    );
}

#[tokio::test]
async fn events_stored_a_little_out_of_order_are_pushed_a_backfill_is_not() {
    let stack = TestStack::spawn().await;
    let storage = storage(&stack).await;
    let mut tail = Tail::connect(&stack, "service=late", None).await;
    let now = Utc::now();
    storage
        .insert(&[event("late", Level::Info, now, "on time")])
        .await
        .unwrap();
    assert_eq!(
        tail.events_within(Duration::from_millis(800)).await,
        ["on time"]
    );
    // Another worker's batch, stored after a newer one: still news.
    storage
        .insert(&[event(
            "late",
            Level::Info,
            now - TimeDelta::seconds(2),
            "2 s late",
        )])
        .await
        .unwrap();
    // Yesterday's events, imported now: history for GET /logs, not news for a tail.
    storage
        .insert(&[event(
            "late",
            Level::Info,
            now - TimeDelta::days(1),
            "backfill",
        )])
        .await
        .unwrap();
    assert_eq!(
        tail.events_within(Duration::from_millis(800)).await,
        ["2 s late"]
    );
}

#[tokio::test]
async fn clients_following_one_filter_share_one_reader_of_clickhouse() {
    let (proxy, stack, storage) = ClickHouseProxy::with_stack().await;
    let window = Duration::from_secs(2);

    let first = Tail::connect(&stack, "service=shared", None).await;
    let one_client = proxy.during(window).await;

    let mut more = Vec::new();
    for _ in 0..9 {
        more.push(Tail::connect(&stack, "service=shared", None).await);
    }
    let ten_clients = proxy.during(window).await;

    // Every client still gets every event.
    storage
        .insert(&[now_event("shared", Level::Info, "for everyone")])
        .await
        .unwrap();
    for tail in std::iter::once(first)
        .chain(more)
        .collect::<Vec<_>>()
        .iter_mut()
    {
        let (_, data) = tail.next_event(Duration::from_secs(5)).await.unwrap();
        assert_eq!(data["message"], "for everyone");
    }

    // Different filters are read separately: the measure does see readers.
    let mut others = Vec::new();
    for i in 0..4 {
        others.push(Tail::connect(&stack, &format!("service=other-{i}"), None).await);
    }
    // The shared reader may have retired meanwhile (its clients were dropped above); four
    // readers now.
    let four_filters = proxy.during(window).await;

    assert!(one_client > 0, "the reader polls ClickHouse");
    assert!(
        ten_clients <= one_client * 3 / 2 + 2,
        "10 clients of one filter: {ten_clients} requests in {window:?}, 1 client: {one_client}"
    );
    assert!(
        four_filters >= one_client * 3,
        "4 filters: {four_filters} requests in {window:?}, 1 filter: {one_client}"
    );
}

#[tokio::test]
async fn open_tails_end_when_the_query_service_stops() {
    let mut stack = TestStack::spawn().await;
    let mut tail = Tail::connect(&stack, "service=any", None).await;
    let started = Instant::now();
    stack.stop_query().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stopping waited {:?} for the open tail",
        started.elapsed()
    );
    assert_eq!(
        tail.next(Duration::from_secs(5)).await,
        None,
        "the stream ended"
    );
}

#[tokio::test]
async fn bad_tail_requests_are_400s_naming_the_problem() {
    let stack = TestStack::spawn().await;
    for (path, error) in [
        (
            "/logs/tail?from=2026-05-05T00:00:00Z",
            "unknown parameter \"from\"; expected service, level, q, trace_id, metadata.<key>, not.service, not.level, not.trace_id, not.q or not.metadata.<key>",
        ),
        (
            "/logs/tail?limit=5",
            "unknown parameter \"limit\"; expected service, level, q, trace_id, metadata.<key>, not.service, not.level, not.trace_id, not.q or not.metadata.<key>",
        ),
        (
            "/logs/tail?level=LOUD",
            "level must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL (any case), got \"LOUD\"",
        ),
        ("/logs/tail?q=%22open", "q has an unmatched double quote"),
    ] {
        let (status, body) = get(&stack, path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["error"], error, "{path}");
    }
    let answer = stack
        .http
        .get(format!("{}/logs/tail", stack.query_url))
        .header("Last-Event-ID", "42")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(
        body["error"],
        "Last-Event-ID is not an event id this service gave out"
    );
}
