//! The services on a ClickHouse cluster (`CLICKHOUSE_CLUSTER`): ZooKeeper 3.8 and four
//! ClickHouse 18.16 servers as two shards of two replicas, started by the test kit for each
//! test (Debian's packages, whatever `TEST_CLICKHOUSE` says: no current ClickHouse here can
//! form a cluster). The cluster's DDL is also checked against current ClickHouse's SQL.

mod faults;

use serde_json::{Value, json};
use std::time::{Duration, Instant};
use traceflow_config::{ClickHouseConfig, Compression};
use traceflow_event::{DEFAULT_TENANT, Level, LogEvent};
use traceflow_storage::{Layout, Migration, Step, Storage};
use traceflow_testkit::{
    CLUSTER, ClickHouseBackend, ClickHouseCluster, ClickHouseServer, ClusterNode, StackOptions,
    TestStack,
};
use uuid::Uuid;

/// One cluster at a time: five servers each are a lot for a small machine, and a port picked
/// free is less likely taken again meanwhile.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// This test's turn, a fresh cluster and a stack whose services use it.
async fn cluster_and_stack() -> (
    tokio::sync::MutexGuard<'static, ()>,
    ClickHouseCluster,
    TestStack,
) {
    let turn = ONE_AT_A_TIME.lock().await;
    let cluster = ClickHouseCluster::start();
    let stack = TestStack::spawn_with(StackOptions {
        clickhouse_url: Some(cluster.url()),
        extra_env: vec![("CLICKHOUSE_CLUSTER", CLUSTER.to_owned())],
        ..StackOptions::default()
    })
    .await;
    (turn, cluster, stack)
}

/// The stack's tables through the storage crate, as a worker on the cluster sees them.
async fn storage(stack: &TestStack) -> Storage {
    Storage::connect(&ClickHouseConfig {
        url: stack.clickhouse_url.clone(),
        database: stack.database.clone(),
        user: "default".into(),
        password: String::new(),
        compression: Compression::Lz4,
        cluster: Some(CLUSTER.to_owned()),
    })
    .await
    .unwrap()
}

/// `count` events of `service` through `POST /ingest` (NDJSON, 500 a request), each request
/// answered 202.
async fn ingest(stack: &TestStack, service: &str, count: usize) {
    let lines: Vec<String> = (0..count)
        .map(|n| {
            json!({"service": service, "level": "INFO", "message": format!("{service} {n}"),
                   "trace_id": format!("trace-{}", n % 50)})
            .to_string()
        })
        .collect();
    for chunk in lines.chunks(500) {
        let answer = stack
            .http
            .post(format!("{}/ingest", stack.ingestion_url))
            .header("Content-Type", "application/x-ndjson")
            .body(chunk.join("\n"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 202, "{}", answer.text().await.unwrap());
    }
}

/// `GET <path>` on the query service: status and JSON body.
async fn get(stack: &TestStack, path: &str) -> (u16, Value) {
    let answer = stack
        .http
        .get(format!("{}{path}", stack.query_url))
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    let text = answer.text().await.unwrap();
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("GET {path}: {status} without JSON: {text:?}"));
    (status, body)
}

/// Waits (up to `within`) until `GET /logs/count?<query>` answers `count`.
async fn until_count(stack: &TestStack, query: &str, count: u64, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let (status, body) = get(stack, &format!("/logs/count?{query}")).await;
        if status == 200 && body["count"] == count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "expected {count} for {query:?} within {within:?}; last answer: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// [`ingest`], then waits until the events are stored.
async fn ingest_stored(stack: &TestStack, service: &str, count: usize) {
    ingest(stack, service, count).await;
    let query = format!("service={service}");
    until_count(stack, &query, count as u64, Duration::from_secs(30)).await;
}

/// Checks that `/health` of each service at `urls` is up but degraded by `part` alone.
async fn degraded(stack: &TestStack, urls: [&String; 2], part: &str) {
    for url in urls {
        let answer = stack
            .http
            .get(format!("{url}/health"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{url}");
        assert_eq!(
            answer.json::<Value>().await.unwrap(),
            json!({"status": "degraded", "degraded": [part]}),
            "{url}"
        );
    }
}

/// `sql` on one node, in the stack's database; its answer's text.
async fn on_node(stack: &TestStack, node: &ClusterNode, sql: &str) -> String {
    let answer = stack
        .http
        .post(node.url())
        .query(&[("database", &stack.database)])
        .body(sql.to_owned())
        .send()
        .await
        .unwrap();
    let status = answer.status();
    let text = answer.text().await.unwrap();
    assert!(status.is_success(), "{sql} on {}: {text}", node.address());
    text.trim().to_owned()
}

/// The rows each node holds in its local `logs`, node by node.
async fn local_counts(stack: &TestStack, cluster: &ClickHouseCluster) -> Vec<u64> {
    let mut counts = Vec::new();
    for node in &cluster.nodes {
        let text = on_node(stack, node, "SELECT count() FROM logs_local").await;
        counts.push(text.parse().unwrap());
    }
    counts
}

/// Waits until the replicas of each shard hold the same rows (replication is asynchronous:
/// a sync insert is answered once one replica of every shard has the rows).
async fn replicated(stack: &TestStack, cluster: &ClickHouseCluster) -> Vec<u64> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let counts = local_counts(stack, cluster).await;
        if counts.chunks(2).all(|shard| shard[0] == shard[1]) {
            return counts;
        }
        assert!(
            Instant::now() < deadline,
            "replicas differ after 30 s: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn events_are_spread_over_both_shards_and_held_by_both_replicas_of_each() {
    let (_turn, cluster, stack) = cluster_and_stack().await;
    ingest_stored(&stack, "spread", 2_000).await;

    let counts = replicated(&stack, &cluster).await;
    let (first, second) = (counts[0], counts[2]);
    assert_eq!(first + second, 2_000, "{counts:?}");
    // A hash of random ids: each shard gets about half (far inside 40-60% at this size).
    assert!((800..=1_200).contains(&first), "{counts:?}");

    // Reads go through the Distributed tables, so every endpoint sees every shard: a
    // trace's events (its lookup asks each shard's own trace table), stats and services.
    let (status, body) = get(&stack, "/logs?trace_id=trace-7&limit=1000").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["count"], 40, "{body}");
    let (_, services) = get(&stack, "/services").await;
    assert_eq!(
        services["services"],
        json!([{"service": "spread", "count": 2_000, "counts": {"INFO": 2_000}}])
    );
    let trace_rows = on_node(
        &stack,
        &cluster.nodes[0],
        "SELECT count() FROM logs_by_trace",
    )
    .await;
    assert_eq!(trace_rows, "2000");

    // The migrations are recorded once, on every node.
    let version = storage(&stack).await.version();
    let applied = Migration::all(&Layout::Cluster(CLUSTER.into()))
        .iter()
        .filter(|migration| migration.applies_to(version))
        .count();
    for node in &cluster.nodes {
        let recorded = on_node(
            &stack,
            node,
            "SELECT count(DISTINCT version) FROM schema_migrations",
        )
        .await;
        assert_eq!(recorded, applied.to_string(), "on {}", node.address());
    }
}

fn event(service: &str, timestamp: &str, message: &str) -> LogEvent {
    LogEvent {
        tenant: DEFAULT_TENANT.into(),
        id: Uuid::now_v7(),
        timestamp: timestamp.parse().unwrap(),
        service: service.to_owned().into(),
        level: Level::Info,
        message: message.to_owned().into(),
        trace_id: "".into(),
        metadata: Default::default(),
    }
}

/// `count` events of `service` at `timestamp`, their messages `<service> <n>`.
fn numbered(service: &str, timestamp: &str, count: usize) -> Vec<LogEvent> {
    (0..count)
        .map(|n| event(service, timestamp, &format!("{service} {n}")))
        .collect()
}

#[tokio::test]
async fn a_batch_sent_again_is_stored_once() {
    let (_turn, cluster, stack) = cluster_and_stack().await;
    let storage = storage(&stack).await;
    let batch = numbered("resent", "2026-05-05T10:00:00Z", 200);
    // As a worker does after a crash between ClickHouse's answer and the queue's: the same
    // batch again, and again after another batch went in between.
    storage.insert(&batch).await.unwrap();
    storage.insert(&batch).await.unwrap();
    let other = numbered("other", "2026-05-05T10:00:00Z", 10);
    storage.insert(&other).await.unwrap();
    storage.insert(&batch).await.unwrap();
    until_count(&stack, "service=resent", 200, Duration::from_secs(10)).await;
    let counts = replicated(&stack, &cluster).await;
    assert_eq!(counts[0] + counts[2], 210, "{counts:?}");
}

#[tokio::test]
async fn delete_and_retention_act_on_every_shard() {
    let (_turn, cluster, stack) = cluster_and_stack().await;
    let storage = storage(&stack).await;
    let hours_ago = |hours| (chrono::Utc::now() - chrono::TimeDelta::hours(hours)).to_rfc3339();
    let mut events = numbered("keep", &hours_ago(2), 100);
    events.extend(numbered("drop", &hours_ago(2), 100));
    // Forty days old: past a 30-day retention.
    let old = hours_ago(40 * 24);
    events.extend(numbered("old", &old, 100));
    storage.insert(&events).await.unwrap();
    let counts = replicated(&stack, &cluster).await;
    assert_eq!(counts[0] + counts[2], 300, "{counts:?}");

    let answer = stack
        .http
        .delete(format!("{}/logs", stack.query_url))
        .query(&[
            ("service", "drop"),
            ("from", &hours_ago(3)),
            ("to", &hours_ago(1)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer.json::<Value>().await.unwrap(),
        json!({"matched": 100})
    );
    until_count(&stack, "service=drop", 0, Duration::from_secs(10)).await;

    let retention = storage
        .enforce_retention(&traceflow_storage::RetentionPolicy::uniform(30))
        .await
        .unwrap();
    assert!(
        matches!(&retention, traceflow_storage::Retention::Dropped { partitions, .. } if partitions.len() == 2 && partitions.iter().all(|(_, day)| day.to_string() == old[..10].replace('-', ""))),
        "{retention:?}"
    );
    // Every node: the deleted and the expired events are gone, the others are all there.
    let counts = replicated(&stack, &cluster).await;
    assert_eq!(counts[0] + counts[2], 100, "{counts:?}");
    until_count(&stack, "service=keep", 100, Duration::from_secs(10)).await;
}

#[tokio::test]
async fn a_replica_down_degrades_the_health_while_reads_and_writes_go_on_and_it_catches_up() {
    let (_turn, mut cluster, stack) = cluster_and_stack().await;
    ingest_stored(&stack, "before", 500).await;

    cluster.nodes[3].kill();
    let down = cluster.nodes[3].address();
    let part = format!("clickhouse replica {down} of shard 2 does not answer");
    degraded(&stack, [&stack.query_url, &stack.worker_http_url], &part).await;
    // Its twin answers for the shard: reads and writes go on.
    ingest_stored(&stack, "during", 500).await;
    until_count(&stack, "", 1_000, Duration::from_secs(5)).await;

    // The whole shard down: the cluster cannot answer for its events.
    cluster.nodes[2].kill();
    let (status, body) = get(&stack, "/health").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        body["error"],
        "clickhouse is down: clickhouse shard 2 has no replica answering"
    );
    let (status, body) = get(&stack, "/logs/count").await;
    assert_eq!(
        (status, body),
        (
            503,
            json!({"error": "clickhouse cannot reach part of its cluster; retry later"})
        )
    );

    // Back: the replica catches up with what its twin took meanwhile.
    cluster.nodes[2].start_again();
    cluster.nodes[3].start_again();
    let counts = replicated(&stack, &cluster).await;
    assert_eq!(counts[0] + counts[2], 1_000, "{counts:?}");
    let (status, body) = get(&stack, "/health").await;
    assert_eq!((status, body), (200, json!({"status": "ok"})));
}

#[tokio::test]
async fn with_zookeeper_stopped_inserts_wait_and_resume_and_nothing_is_lost() {
    let (_turn, mut cluster, stack) = cluster_and_stack().await;
    ingest_stored(&stack, "before", 200).await;

    cluster.zookeeper.stop();
    // Accepted into Redis meanwhile; the replicas, without their keeper, refuse inserts.
    let stopped = Instant::now();
    ingest(&stack, "during", 1_000).await;
    tokio::time::sleep(Duration::from_secs(20).saturating_sub(stopped.elapsed())).await;
    let (_, body) = get(&stack, "/logs/count?service=during").await;
    assert_eq!(body["count"], 0, "{body}");
    cluster.zookeeper.start_again();

    until_count(&stack, "service=during", 1_000, Duration::from_secs(60)).await;
    let counts = replicated(&stack, &cluster).await;
    assert_eq!(counts[0] + counts[2], 1_200, "{counts:?}");
}

/// The cluster's statements as current ClickHouse parses them (chDB has no keeper to run
/// them): each must be SQL it takes, with the cluster and database in place.
#[tokio::test]
async fn the_cluster_ddl_is_current_clickhouse_sql() {
    let current = ClickHouseServer::start_backend(ClickHouseBackend::Current);
    let http = reqwest::Client::new();
    let layout = Layout::Cluster(CLUSTER.into());
    for migration in Migration::all(&layout) {
        for step in migration.steps("observability", &layout) {
            let Step::Sql(statement) = step else {
                unreachable!()
            };
            // Parameters travel in the escaped text format.
            let escaped = statement
                .replace('\\', "\\\\")
                .replace('\n', "\\n")
                .replace('\t', "\\t");
            let answer = http
                .post(current.url())
                .query(&[("param_statement", escaped.as_str())])
                .body("SELECT formatQuery({statement:String})")
                .send()
                .await
                .unwrap();
            let status = answer.status();
            let text = answer.text().await.unwrap();
            assert!(
                status.is_success(),
                "{}: {statement}\n{text}",
                migration.name
            );
            assert!(text.contains("ON CLUSTER traceflow"), "{text}");
        }
    }
}
