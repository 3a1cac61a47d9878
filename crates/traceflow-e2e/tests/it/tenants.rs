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
    stack_with_keys(KEYS, "beta", StackOptions::default()).await
}

/// [`KEYS`] for tenants `<prefix>-acme` and `<prefix>-beta` (keys `<tenant>-key`), with
/// `limits` after: the metrics of in-process services are the test binary's, so a test that
/// reads them has tenants of its own.
fn keys_of(prefix: &str, limits: &str) -> String {
    let keys = KEYS
        .replace("acme", &format!("{prefix}-acme"))
        .replace("beta", &format!("{prefix}-beta"));
    format!("{keys}\n{limits}")
}

/// A stack reading `keys` (with `options`), its syslog listeners receiving for
/// `syslog_tenant`.
async fn stack_with_keys(
    keys: &str,
    syslog_tenant: &str,
    options: StackOptions,
) -> (TestStack, tempfile::TempDir) {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("keys.toml");
    std::fs::write(&path, keys).unwrap();
    let mut extra_env = vec![
        ("KEYS_FILE", path.to_str().unwrap().to_owned()),
        ("SYSLOG_TENANT", syslog_tenant.to_owned()),
    ];
    extra_env.extend(options.extra_env.iter().cloned());
    let stack = TestStack::spawn_with(StackOptions {
        extra_env,
        ..options
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
            "both-key",
            Some("beta"),
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
            "both-key",
            Some("acme"),
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

/// `POST /ingest` of one event as `tenant`'s key: the status, `Retry-After` and the body.
async fn ingest_one(stack: &TestStack, tenant: &str, message: &str) -> (u16, Option<u64>, String) {
    let answer = stack
        .http
        .post(format!("{}/ingest", stack.ingestion_url))
        .bearer_auth(format!("{tenant}-key"))
        .json(&json!({"service": "limited", "level": "INFO", "message": message}))
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    let retry_after = answer
        .headers()
        .get("retry-after")
        .map(|value| value.to_str().unwrap().parse().unwrap());
    (status, retry_after, answer.text().await.unwrap())
}

#[tokio::test]
async fn a_tenant_over_its_rate_gets_429s_while_another_at_the_same_time_gets_202s() {
    let keys = keys_of("rate", "[tenants.rate-acme]\nmax_events_per_second = 5\n");
    let (stack, _keys) = stack_with_keys(&keys, "rate-beta", StackOptions::default()).await;
    let (mut acme, mut beta) = (Vec::new(), Vec::new());
    let started = Instant::now();
    for n in 0..20 {
        acme.push(ingest_one(&stack, "rate-acme", &format!("a{n}")).await);
        beta.push(ingest_one(&stack, "rate-beta", &format!("b{n}")).await);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let accepted = |answers: &[(u16, Option<u64>, String)]| {
        answers.iter().filter(|(status, ..)| *status == 202).count()
    };
    assert_eq!(accepted(&beta), 20, "{beta:?}");
    // The burst (5), and what refilled while the 40 requests were sent.
    let acme_accepted = accepted(&acme);
    let refilled = (5.0 * elapsed).ceil() as usize;
    assert!(
        (5..=5 + refilled).contains(&acme_accepted) && acme_accepted < 20,
        "{elapsed} s: {acme:?}"
    );
    let (status, retry_after, body) = acme.iter().find(|(status, ..)| *status != 202).unwrap();
    assert_eq!((*status, *retry_after), (429, Some(1)));
    assert_eq!(
        serde_json::from_str::<Value>(body).unwrap()["error"],
        "tenant \"rate-acme\" is over its rate of 5 events per second, nothing was accepted; retry later"
    );

    // Loki's clients back off on 429 too.
    let (status, _) = send(
        stack
            .http
            .post(format!("{}/loki/api/v1/push", stack.ingestion_url))
            .json(&json!({"streams": [{"stream": {"service_name": "loki"},
                "values": [[(Utc::now().timestamp_nanos_opt().unwrap()).to_string(), "m"]]}]})),
        "rate-acme-key",
        None,
    )
    .await;
    assert_eq!(status, 429);

    let metrics = crate::metrics::metrics(&stack, &stack.ingestion_url).await;
    let sample = |labels: &str| {
        crate::metrics::sample(&metrics, "traceflow_ingest_events_", labels).unwrap_or_default()
    };
    assert_eq!(
        sample(r#"protocol="ingest",tenant="rate-beta""#),
        20.0,
        "accepted for beta\n{metrics}"
    );
    assert_eq!(
        sample(r#"protocol="ingest",reason="rate_limited",tenant="rate-acme""#),
        (20 - acme_accepted) as f64,
        "{metrics}"
    );
    wait_for_rows(&stack, 20 + acme_accepted as u64).await;

    // OTLP/gRPC exporters back off on RESOURCE_EXHAUSTED with a RetryInfo. A batch let in
    // first leaves the bucket owing 20 seconds, so the call cannot meet a refilled one.
    let batch: Vec<Value> = (0..100)
        .map(|n| json!({"service": "debt", "level": "INFO", "message": format!("d{n}")}))
        .collect();
    let ingest_batch = || {
        stack
            .http
            .post(format!("{}/ingest", stack.ingestion_url))
            .json(&batch)
    };
    while send(ingest_batch(), "rate-acme-key", None).await.0 != 202 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // OTLP/gRPC exporters back off on RESOURCE_EXHAUSTED with a RetryInfo.
    let mut grpc = client(&stack).await;
    let throttled = grpc
        .export(call(
            request("otlp-grpc", vec![record("m")]),
            &[("authorization", "Bearer rate-acme-key")],
        ))
        .await
        .unwrap_err();
    assert_eq!(
        throttled.code(),
        tonic::Code::ResourceExhausted,
        "{throttled:?}"
    );
    assert!(
        throttled
            .metadata()
            .get_bin("google.rpc.retryinfo-bin")
            .is_some(),
        "{throttled:?}"
    );
}

#[tokio::test]
async fn syslog_over_tcp_is_held_back_by_its_tenants_rate_and_loses_nothing() {
    let keys = keys_of("held", "[tenants.held-beta]\nmax_events_per_second = 10\n");
    let (stack, _keys) = stack_with_keys(&keys, "held-beta", StackOptions::default()).await;
    let mut syslog = tokio::net::TcpStream::connect(&stack.protocol_addresses.syslog_tcp)
        .await
        .unwrap();
    let mut send_lines = async |lines: std::ops::Range<u32>| {
        let now = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
        let text: String = lines
            .map(|n| format!("<14>1 {now} host held - - - line {n}\n"))
            .collect();
        syslog.write_all(text.as_bytes()).await.unwrap();
        syslog.flush().await.unwrap();
    };
    // The first lines come as one group, let in whole: the bucket then owes 30 tokens.
    send_lines(0..40).await;
    wait_for_rows(&stack, 40).await;
    // The next are held until the debt is paid, at 10 a second: three seconds.
    let started = Instant::now();
    send_lines(40..50).await;
    wait_for_rows(&stack, 50).await;
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(2500), "{elapsed:?}");
    let stored = stored_tenants(&stack).await;
    assert_eq!(stored.len(), 50);
    assert!(stored.iter().all(|(tenant, _)| tenant == "held-beta"));
}

#[tokio::test]
async fn a_tenant_over_its_queue_share_gets_429s_while_others_still_get_in() {
    let keys = keys_of("share", "[tenants.share-acme]\nmax_queued_events = 3\n");
    let options = StackOptions {
        worker: false,
        ..StackOptions::default()
    };
    let (mut stack, _keys) = stack_with_keys(&keys, "share-beta", options).await;
    for n in 0..3 {
        assert_eq!(
            ingest_one(&stack, "share-acme", &format!("a{n}")).await.0,
            202
        );
    }
    let (status, retry_after, body) = ingest_one(&stack, "share-acme", "a3").await;
    assert_eq!((status, retry_after), (429, Some(2)), "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"],
        "tenant \"share-acme\" has 3 events queued, its limit is 3: nothing was accepted; retry later"
    );
    for n in 0..10 {
        assert_eq!(
            ingest_one(&stack, "share-beta", &format!("b{n}")).await.0,
            202
        );
    }

    // The worker stores what is queued; acme's share is free again.
    stack.start_worker().await;
    wait_for_rows(&stack, 13).await;
    assert_eq!(ingest_one(&stack, "share-acme", "a4").await.0, 202);
    wait_for_rows(&stack, 14).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = crate::metrics::metrics(&stack, &stack.worker_http_url).await;
        let stored = |tenant: &str| {
            crate::metrics::sample(
                &metrics,
                "traceflow_tenant_events_stored_total",
                &format!("tenant=\"{tenant}\""),
            )
        };
        let queued = crate::metrics::sample(
            &metrics,
            "traceflow_tenant_queued_events",
            "tenant=\"share-acme\"",
        );
        let counts = (stored("share-acme"), stored("share-beta"), queued);
        if counts == (Some(4.0), Some(10.0), Some(0.0)) {
            break;
        }
        assert!(Instant::now() < deadline, "{metrics}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_tenants_own_retention_bounds_the_age_of_what_it_may_send() {
    let keys = keys_of("window", "[tenants.window-acme]\nretention_days = 7\n");
    let (stack, _keys) = stack_with_keys(&keys, "window-beta", StackOptions::default()).await;
    let eight_days_old = json!({
        "service": "late",
        "level": "INFO",
        "message": "m",
        "timestamp": (Utc::now() - TimeDelta::days(8)).to_rfc3339(),
    });
    let send_as = async |tenant: &str| {
        send(
            stack
                .http
                .post(format!("{}/ingest", stack.ingestion_url))
                .json(&eight_days_old),
            &format!("{tenant}-key"),
            None,
        )
        .await
    };
    let (status, body) = send_as("window-acme").await;
    assert_eq!(status, 400, "{body}");
    let error = serde_json::from_str::<Value>(&body).unwrap()["error"].to_string();
    assert!(
        error.contains("within the retention window of 7 days (the tenant's retention_days)"),
        "{error}"
    );
    // Another tenant keeps RETENTION_DAYS (30).
    assert_eq!(send_as("window-beta").await.0, 202);
}
