//! Tenants: every protocol stores an event as its key's tenant's (`X-Scope-OrgID` choosing
//! among a key's tenants, syslog by `SYSLOG_TENANT`), and every read endpoint, the tail,
//! cursors and `DELETE` act only within the key's tenant. The two tenants here share
//! services, a trace id and metadata, so only the tenant tells their events apart.

use crate::{
    otlp::{record, request},
    otlp_grpc::{call, client},
    stored::encode,
    tail::Tail,
};
use chrono::{SecondsFormat, TimeDelta, Utc};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use traceflow_testkit::{StackOptions, TestStack};

const KEYS: &str = r#"
[[keys]]
key = "acme-key"
tenant = "acme"
scopes = ["ingest", "query", "admin"]

[[keys]]
key = "beta-key"
tenant = "beta"
scopes = ["ingest", "query", "admin"]

[[keys]]
key = "both-key"
tenants = ["acme", "beta"]
scopes = ["ingest", "query"]
"#;

/// A stack reading [`KEYS`], its syslog listeners receiving for `beta`.
async fn tenant_stack() -> (TestStack, tempfile::TempDir) {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("keys.toml");
    std::fs::write(&path, KEYS).unwrap();
    let stack = TestStack::spawn_with(StackOptions {
        extra_env: vec![
            ("KEYS_FILE", path.to_str().unwrap().to_owned()),
            ("SYSLOG_TENANT", "beta".to_owned()),
        ],
        ..StackOptions::default()
    })
    .await;
    (stack, directory)
}

/// `request` sent with `key` (and `X-Scope-OrgID`, if given): the status and the body.
async fn send(request: reqwest::RequestBuilder, key: &str, org_id: Option<&str>) -> (u16, String) {
    let request = request.bearer_auth(key);
    let request = match org_id {
        Some(org_id) => request.header("X-Scope-OrgID", org_id),
        None => request,
    };
    let answer = request.send().await.unwrap();
    (answer.status().as_u16(), answer.text().await.unwrap())
}

/// `GET <path>` on the query service as `key`: the status and the JSON body.
async fn get_as(stack: &TestStack, key: &str, path: &str) -> (u16, Value) {
    let (status, body) = send(
        stack.http.get(format!("{}{path}", stack.query_url)),
        key,
        None,
    )
    .await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// `(tenant, service)` of every stored row, sorted: what ClickHouse holds.
async fn stored_tenants(stack: &TestStack) -> Vec<(String, String)> {
    let text = stack
        .clickhouse("SELECT tenant, service FROM logs ORDER BY tenant, service FORMAT TSV")
        .await;
    text.lines()
        .map(|line| {
            let (tenant, service) = line.split_once('\t').unwrap();
            (tenant.to_owned(), service.to_owned())
        })
        .collect()
}

async fn wait_for_rows(stack: &TestStack, count: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while stack.stored_rows().await < count {
        assert!(
            Instant::now() < deadline,
            "{count} rows never stored: {:?}",
            stored_tenants(stack).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn every_protocol_stores_events_as_the_tenant_its_key_acts_for() {
    let (stack, _keys) = tenant_stack().await;
    let ingestion = &stack.ingestion_url;
    let event = |service: &str| json!({"service": service, "level": "INFO", "message": "m"});
    let post = |path: &str| stack.http.post(format!("{ingestion}{path}"));

    let accepted = [
        send(post("/ingest").json(&event("ingest")), "acme-key", None).await,
        send(
            post("/ingest").json(&event("ingest-first-tenant")),
            "both-key",
            None,
        )
        .await,
        send(
            post("/ingest").json(&event("ingest-org-id")),
            "both-key",
            Some("beta"),
        )
        .await,
        send(
            post("/v1/logs")
                .header("Content-Type", "application/json")
                .body(
                    json!({"resourceLogs": [{
                        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "otlp-http"}}]},
                        "scopeLogs": [{"logRecords": [{"body": {"stringValue": "m"}}]}]
                    }]})
                    .to_string(),
                ),
            "beta-key",
            None,
        )
        .await,
        send(
            post("/es/_bulk")
                .header("Content-Type", "application/x-ndjson")
                .body("{\"index\":{}}\n{\"service\":\"elasticsearch\",\"level\":\"INFO\",\"message\":\"m\"}\n"),
            "both-key",
            Some("beta"),
        )
        .await,
        send(
            post("/loki/api/v1/push").json(&json!({"streams": [{
                "stream": {"service_name": "loki"},
                "values": [[(Utc::now().timestamp_nanos_opt().unwrap()).to_string(), "m"]]
            }]})),
            "acme-key",
            None,
        )
        .await,
    ];
    for (index, (status, body)) in accepted.iter().enumerate() {
        assert!(
            (200..300).contains(status),
            "request {index}: {status} {body}"
        );
    }

    // Elasticsearch shippers send a user and password: the key as the password.
    let answer = post("/es/_bulk")
        .basic_auth("shipper", Some("acme-key"))
        .header("Content-Type", "application/x-ndjson")
        .body("{\"create\":{}}\n{\"service\":\"elasticsearch-basic\",\"level\":\"INFO\",\"message\":\"m\"}\n")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);

    let mut grpc = client(&stack).await;
    grpc.export(call(
        request("otlp-grpc", vec![record("m")]),
        &[
            ("authorization", "Bearer both-key"),
            ("x-scope-orgid", "beta"),
        ],
    ))
    .await
    .expect("the call is accepted");

    let mut syslog = tokio::net::TcpStream::connect(&stack.protocol_addresses.syslog_tcp)
        .await
        .unwrap();
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    syslog
        .write_all(format!("<14>1 {now} host syslog - - - m\n").as_bytes())
        .await
        .unwrap();
    syslog.flush().await.unwrap();

    wait_for_rows(&stack, 9).await;
    let pairs = |tenant: &str, services: &[&str]| -> Vec<(String, String)> {
        services
            .iter()
            .map(|service| (tenant.to_owned(), (*service).to_owned()))
            .collect()
    };
    let mut expected = pairs(
        "acme",
        &[
            "elasticsearch-basic",
            "ingest",
            "ingest-first-tenant",
            "loki",
        ],
    );
    expected.extend(pairs(
        "beta",
        &[
            "elasticsearch",
            "ingest-org-id",
            "otlp-grpc",
            "otlp-http",
            "syslog",
        ],
    ));
    expected.sort();
    assert_eq!(stored_tenants(&stack).await, expected);
}

/// Three events of each tenant, alike but for the tenant and the message, a second apart;
/// beta's each half a second after acme's.
async fn two_tenants_alike(stack: &TestStack) -> chrono::DateTime<Utc> {
    let start = Utc::now() - TimeDelta::minutes(5);
    for (tenant, offset) in [("acme", 0), ("beta", 500)] {
        let key = format!("{tenant}-key");
        let events: Vec<Value> = (0..3)
            .map(|n| {
                json!({
                    "service": if n == 2 { "auth" } else { "checkout" },
                    "level": "ERROR",
                    "message": format!("{tenant} event {n}"),
                    "timestamp": (start + TimeDelta::milliseconds(1000 * n + offset)).to_rfc3339(),
                    "trace_id": "shared-trace",
                    "metadata": {"region": "eu"},
                })
            })
            .collect();
        let (status, body) = send(
            stack
                .http
                .post(format!("{}/ingest", stack.ingestion_url))
                .json(&events),
            &key,
            None,
        )
        .await;
        assert_eq!(status, 202, "{body}");
    }
    wait_for_rows(stack, 6).await;
    start
}

/// The messages of a search answer's events, each checked to be `tenant`'s.
#[track_caller]
fn messages_of(tenant: &str, body: &Value) -> Vec<String> {
    body["logs"]
        .as_array()
        .unwrap_or_else(|| panic!("not a search answer: {body}"))
        .iter()
        .map(|log| {
            assert_eq!(log["tenant"], tenant, "{log}");
            log["message"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[tokio::test]
async fn each_read_endpoint_answers_only_from_the_keys_tenant() {
    let (stack, _keys) = tenant_stack().await;
    let start = two_tenants_alike(&stack).await;
    let range = format!(
        "from={}&to={}",
        encode(&(start - TimeDelta::minutes(1)).to_rfc3339()),
        encode(&(start + TimeDelta::minutes(1)).to_rfc3339())
    );

    for (tenant, key) in [("acme", "acme-key"), ("beta", "beta-key")] {
        let own = |n: u32| format!("{tenant} event {n}");
        for query in [
            "",
            "trace_id=shared-trace",
            "metadata.region=eu",
            "level=error&order=asc",
        ] {
            let (status, body) = get_as(&stack, key, &format!("/logs?{query}")).await;
            assert_eq!(status, 200, "{body}");
            let mut messages = messages_of(tenant, &body);
            messages.sort();
            assert_eq!(messages, [own(0), own(1), own(2)], "{query:?}");
        }
        let other = if tenant == "acme" { "beta" } else { "acme" };
        let (_, body) = get_as(&stack, key, &format!("/logs?q={other}")).await;
        assert_eq!(body["count"], 0, "{body}");

        let (_, body) = get_as(&stack, key, "/logs/count?service=checkout").await;
        assert_eq!(body["count"], 2, "{tenant}: {body}");

        let (_, body) = get_as(&stack, key, &format!("/logs/stats?{range}")).await;
        let total: u64 = body["buckets"]
            .as_array()
            .unwrap_or_else(|| panic!("{body}"))
            .iter()
            .map(|bucket| bucket["count"].as_u64().unwrap())
            .sum();
        assert_eq!(total, 3, "{tenant}: {body}");

        let (_, body) = get_as(&stack, key, &format!("/services?{range}")).await;
        let services: Vec<(&str, u64)> = body["services"]
            .as_array()
            .unwrap_or_else(|| panic!("{body}"))
            .iter()
            .map(|service| {
                (
                    service["service"].as_str().unwrap(),
                    service["count"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(services, [("auth", 1), ("checkout", 2)], "{tenant}");

        let (_, body) = get_as(&stack, key, &format!("/logs/facets?{range}")).await;
        assert_eq!(body["total"], 3, "{tenant}: {body}");
        assert_eq!(body["metadata"][0]["values"][0]["count"], 3, "{body}");

        let (status, export) = send(
            stack
                .http
                .get(format!("{}/logs/export?{range}", stack.query_url)),
            key,
            None,
        )
        .await;
        assert_eq!(status, 200);
        let lines: Vec<Value> = export
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), 3, "{export}");
        assert!(
            lines.iter().all(|line| line["tenant"] == tenant),
            "{export}"
        );
    }

    // The context: one's own event and its neighbours; another's event is not there.
    let (_, acme) = get_as(&stack, "acme-key", "/logs?service=checkout&order=asc").await;
    let (_, beta) = get_as(&stack, "beta-key", "/logs?service=checkout&order=asc").await;
    let id = |body: &Value| body["logs"][0]["id"].as_str().unwrap().to_owned();
    let (status, context) = get_as(
        &stack,
        "acme-key",
        &format!("/logs/context?id={}", id(&acme)),
    )
    .await;
    assert_eq!(status, 200, "{context}");
    assert_eq!(context["after"][0]["message"], "acme event 1", "{context}");
    let (status, body) = get_as(
        &stack,
        "acme-key",
        &format!("/logs/context?id={}", id(&beta)),
    )
    .await;
    assert_eq!(status, 404, "another tenant's event: {body}");
}

#[tokio::test]
async fn cursors_and_the_tail_stay_within_the_tenant() {
    let (stack, _keys) = tenant_stack().await;
    two_tenants_alike(&stack).await;

    // A cursor acme was given (after its event 2) pages on through beta's events older than
    // that when beta sends it.
    let (_, first) = get_as(&stack, "acme-key", "/logs?limit=1").await;
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let (_, next) = get_as(&stack, "acme-key", &format!("/logs?cursor={cursor}")).await;
    assert_eq!(messages_of("acme", &next), ["acme event 1", "acme event 0"]);
    let (_, crossed) = get_as(&stack, "beta-key", &format!("/logs?cursor={cursor}")).await;
    assert_eq!(
        messages_of("beta", &crossed),
        ["beta event 1", "beta event 0"]
    );

    // The tail pushes its tenant's events only, and a resume id cannot reach across.
    let tail = |key: &str, last_event_id: Option<&str>| {
        let request = stack
            .http
            .get(format!("{}/logs/tail?service=live", stack.query_url))
            .bearer_auth(key);
        match last_event_id {
            Some(id) => request.header("Last-Event-ID", id),
            None => request,
        }
    };
    let mut acme_tail = Tail::open(tail("acme-key", None)).await;
    for tenant in ["beta", "acme"] {
        let (status, _) = send(
            stack
                .http
                .post(format!("{}/ingest", stack.ingestion_url))
                .json(&json!({"service": "live", "level": "INFO", "message": format!("{tenant} live")})),
            &format!("{tenant}-key"),
            None,
        )
        .await;
        assert_eq!(status, 202);
    }
    let (resume_id, data) = acme_tail
        .next_event(Duration::from_secs(10))
        .await
        .expect("acme's event is pushed");
    assert_eq!(
        (&data["message"], &data["tenant"]),
        (&json!("acme live"), &json!("acme"))
    );
    assert_eq!(acme_tail.next_event(Duration::from_secs(2)).await, None);

    let mut beta_tail = Tail::open(tail("beta-key", Some(&resume_id))).await;
    let pushed = beta_tail.next_event(Duration::from_secs(3)).await;
    assert!(
        pushed
            .as_ref()
            .is_none_or(|(_, data)| data["tenant"] == "beta"),
        "beta resumed from acme's id and got {pushed:?}"
    );
}

#[tokio::test]
async fn delete_removes_only_the_keys_tenants_events() {
    let (stack, _keys) = tenant_stack().await;
    let start = two_tenants_alike(&stack).await;
    let path = format!(
        "{}/logs?service=checkout&from={}&to={}",
        stack.query_url,
        encode(&(start - TimeDelta::minutes(1)).to_rfc3339()),
        encode(&(start + TimeDelta::minutes(1)).to_rfc3339())
    );
    let (status, body) = send(stack.http.delete(&path), "acme-key", None).await;
    assert_eq!((status, body.as_str()), (200, r#"{"matched":2}"#));
    let (_, acme) = get_as(&stack, "acme-key", "/logs").await;
    assert_eq!(messages_of("acme", &acme), ["acme event 2"]);
    let (_, beta) = get_as(&stack, "beta-key", "/logs").await;
    assert_eq!(beta["count"], 3, "beta keeps its events: {beta}");
    // A key that may read for both but not delete.
    let (status, _) = send(stack.http.delete(&path), "both-key", Some("beta")).await;
    assert_eq!(status, 403);
}
