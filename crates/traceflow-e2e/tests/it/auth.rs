//! API keys: with INGEST_API_KEYS / QUERY_API_KEYS set, requests need one; health and
//! metrics stay open.

use serde_json::{Value, json};
use traceflow_testkit::{StackOptions, TestStack};

async fn keyed_stack() -> TestStack {
    TestStack::spawn_with(StackOptions {
        extra_env: vec![
            ("INGEST_API_KEYS", "ingest-key-1,ingest-key-2".to_owned()),
            ("QUERY_API_KEYS", "query-key".to_owned()),
        ],
        ..StackOptions::default()
    })
    .await
}

/// Status and body of a request with the given extra header, if any.
async fn send(
    request: reqwest::RequestBuilder,
    header: Option<(&str, &str)>,
) -> (u16, Value, Option<String>) {
    let request = match header {
        Some((name, value)) => request.header(name, value),
        None => request,
    };
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    let challenge = answer
        .headers()
        .get("www-authenticate")
        .map(|value| value.to_str().unwrap().to_owned());
    let body = answer.json().await.unwrap_or(Value::Null);
    (status, body, challenge)
}

const REFUSED: &str =
    "missing or invalid API key: send Authorization: Bearer <key> or X-API-Key: <key>";

#[tokio::test]
async fn ingestion_requires_one_of_its_keys_except_for_health_and_metrics() {
    let stack = keyed_stack().await;
    let event = json!({"service": "keyed", "level": "INFO", "message": "m"});
    let ingest = || {
        stack
            .http
            .post(format!("{}/ingest", stack.ingestion_url))
            .json(&event)
    };

    let (status, body, challenge) = send(ingest(), None).await;
    assert_eq!((status, body["error"].as_str()), (401, Some(REFUSED)));
    assert_eq!(challenge.as_deref(), Some("Bearer"));
    for wrong in [
        ("Authorization", "Bearer ingest-key"),
        ("Authorization", "Bearer query-key"),
        ("X-API-Key", ""),
    ] {
        assert_eq!(send(ingest(), Some(wrong)).await.0, 401, "{wrong:?}");
    }
    assert_eq!(
        send(ingest(), Some(("Authorization", "Bearer ingest-key-2")))
            .await
            .0,
        202
    );
    assert_eq!(
        send(ingest(), Some(("X-API-Key", "ingest-key-1"))).await.0,
        202
    );
    assert_eq!(
        stack.queued().await.len() + stack.stored_rows().await as usize,
        2,
        "refused requests queued nothing"
    );

    // OTLP too, on both ports.
    for base in [&stack.ingestion_url, &stack.otlp_url] {
        let otlp = stack
            .http
            .post(format!("{base}/v1/logs"))
            .header("Content-Type", "application/json")
            .body("{}");
        assert_eq!(send(otlp, None).await.0, 401, "{base}");
    }
    for open in ["health", "metrics"] {
        let answer = stack
            .http
            .get(format!("{}/{open}", stack.ingestion_url))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "/{open} stays open");
    }
}

#[tokio::test]
async fn the_query_service_requires_its_key() {
    let stack = keyed_stack().await;
    let logs = || stack.http.get(format!("{}/logs", stack.query_url));
    let (status, body, _) = send(logs(), None).await;
    assert_eq!((status, body["error"].as_str()), (401, Some(REFUSED)));
    assert_eq!(
        send(logs(), Some(("Authorization", "Bearer ingest-key-1")))
            .await
            .0,
        401
    );
    let (status, body, _) = send(logs(), Some(("Authorization", "Bearer query-key"))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["count"], 0);
    // The environment's keys act for tenant default.
    let tenants = stack.http.get(format!("{}/tenants", stack.query_url));
    let (status, body, _) = send(tenants, Some(("Authorization", "Bearer query-key"))).await;
    assert_eq!(
        (status, &body),
        (200, &json!({"tenant": "default", "tenants": ["default"]}))
    );
    let health = stack
        .http
        .get(format!("{}/health", stack.query_url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

/// A keys file with three keys: one that ingests for `acme`, one that reads for `acme` and
/// `beta`, and one that reads and deletes for `acme`.
const KEYS_FILE: &str = r#"
[[keys]]
key = "ingest-acme"
tenant = "acme"
scopes = ["ingest"]

[[keys]]
key = "reader"
tenants = ["acme", "beta"]
scopes = ["query"]

[[keys]]
key = "admin-acme"
tenant = "acme"
scopes = ["query", "admin"]
"#;

/// The id logs and refusals give a key: the first 8 hex digits of its SHA-256.
fn key_id(key: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(key.as_bytes()))[..8].to_owned()
}

fn bearer(key: &str) -> (&'static str, String) {
    ("Authorization", format!("Bearer {key}"))
}

/// `send` with an owned header value.
async fn send_as(request: reqwest::RequestBuilder, headers: &[(&str, String)]) -> (u16, Value) {
    let request = headers.iter().fold(request, |request, (name, value)| {
        request.header(*name, value)
    });
    let (status, body, _) = send(request, None).await;
    (status, body)
}

async fn keys_file_stack(text: &str) -> (TestStack, tempfile::TempDir) {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("keys.toml");
    std::fs::write(&path, text).unwrap();
    let stack = TestStack::spawn_with(StackOptions::env(
        "KEYS_FILE",
        path.to_str().unwrap().to_owned(),
    ))
    .await;
    (stack, directory)
}

#[tokio::test]
async fn a_keys_file_gives_each_key_its_scopes_and_tenants() {
    let (stack, _directory) = keys_file_stack(KEYS_FILE).await;
    let event = json!({"service": "scoped", "level": "INFO", "message": "m"});
    let ingest = || {
        stack
            .http
            .post(format!("{}/ingest", stack.ingestion_url))
            .json(&event)
    };
    let logs = || stack.http.get(format!("{}/logs", stack.query_url));
    let delete = || {
        stack.http.delete(format!(
            "{}/logs?service=scoped&from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z",
            stack.query_url
        ))
    };
    let [ingester, reader, admin] = ["ingest-acme", "reader", "admin-acme"];

    let (status, body) = send_as(ingest(), &[]).await;
    assert_eq!((status, body["error"].as_str()), (401, Some(REFUSED)));
    let (status, body) = send_as(ingest(), &[bearer(reader)]).await;
    assert_eq!(status, 403);
    assert_eq!(
        body["error"],
        format!("API key {} does not have the ingest scope", key_id(reader))
    );
    assert_eq!(send_as(ingest(), &[bearer(ingester)]).await.0, 202);
    let other_tenant = [bearer(ingester), ("X-Scope-OrgID", "beta".to_owned())];
    let (status, body) = send_as(ingest(), &other_tenant).await;
    assert_eq!(status, 403);
    assert_eq!(
        body["error"],
        format!(
            "API key {} may not act for tenant \"beta\"",
            key_id(ingester)
        )
    );

    let (status, body) = send_as(logs(), &[bearer(ingester)]).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        body["error"],
        format!("API key {} does not have the query scope", key_id(ingester))
    );
    let as_beta = [bearer(reader), ("X-Scope-OrgID", "beta".to_owned())];
    assert_eq!(send_as(logs(), &as_beta).await.0, 200);

    // What the explorer's tenant picker offers: the key's tenants, and which it acts for.
    let tenants = || stack.http.get(format!("{}/tenants", stack.query_url));
    let (status, body) = send_as(tenants(), &[bearer(reader)]).await;
    assert_eq!(
        (status, &body),
        (200, &json!({"tenant": "acme", "tenants": ["acme", "beta"]}))
    );
    let (status, body) = send_as(tenants(), &as_beta).await;
    assert_eq!(
        (status, &body),
        (200, &json!({"tenant": "beta", "tenants": ["acme", "beta"]}))
    );
    let (status, body) = send_as(tenants(), &[bearer(admin)]).await;
    assert_eq!(
        (status, &body),
        (200, &json!({"tenant": "acme", "tenants": ["acme"]}))
    );
    assert_eq!(send_as(tenants(), &[bearer(ingester)]).await.0, 403);
    assert_eq!(send_as(tenants(), &[]).await.0, 401);

    let (status, body) = send_as(delete(), &[bearer(reader)]).await;
    assert_eq!(status, 403);
    assert_eq!(
        body["error"],
        format!("API key {} does not have the admin scope", key_id(reader))
    );
    let (status, body) = send_as(delete(), &[bearer(admin)]).await;
    assert_eq!((status, &body), (200, &json!({"matched": 0})));
}

#[tokio::test]
async fn an_open_query_service_acts_for_the_default_tenant_whatever_is_asked() {
    let stack = TestStack::spawn().await;
    let tenants = stack.http.get(format!("{}/tenants", stack.query_url));
    let (status, body, _) = send(tenants, Some(("X-Scope-OrgID", "beta"))).await;
    assert_eq!(
        (status, &body),
        (200, &json!({"tenant": "default", "tenants": ["default"]}))
    );
}

#[tokio::test]
async fn the_environments_query_keys_still_delete() {
    let stack = keyed_stack().await;
    let delete = stack.http.delete(format!(
        "{}/logs?service=keyed&from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z",
        stack.query_url
    ));
    let (status, body, _) = send(delete, Some(("Authorization", "Bearer query-key"))).await;
    assert_eq!((status, &body), (200, &json!({"matched": 0})));
}

/// Sends this process, where the services run, a SIGHUP.
fn hang_up() {
    let status = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn sighup_rereads_the_keys_file_a_removed_key_stops_and_a_new_one_starts() {
    let (stack, directory) = keys_file_stack(KEYS_FILE).await;
    let event = json!({"service": "reloaded", "level": "INFO", "message": "m"});
    let ingest = async |key: &str| {
        let request = stack
            .http
            .post(format!("{}/ingest", stack.ingestion_url))
            .json(&event);
        send_as(request, &[bearer(key)]).await
    };
    assert_eq!(ingest("ingest-acme").await.0, 202);
    assert_eq!(ingest("new-key").await.0, 401);

    let replaced = KEYS_FILE.replace("ingest-acme", "new-key");
    std::fs::write(directory.path().join("keys.toml"), replaced).unwrap();
    hang_up();

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while ingest("new-key").await.0 != 202 {
        assert!(
            std::time::Instant::now() < deadline,
            "the new key never worked"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        ingest("ingest-acme").await.0,
        401,
        "the removed key stopped working"
    );

    // A file that does not load leaves the keys as they were.
    std::fs::write(directory.path().join("keys.toml"), "[[keys]]\nkey = 1").unwrap();
    hang_up();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(ingest("new-key").await.0, 202);
}

/// Every `(method, path)` a service's OpenAPI document lists, path parameters filled in.
async fn documented_routes(stack: &TestStack, base: &str) -> Vec<(reqwest::Method, String)> {
    let document: Value = stack
        .http
        .get(format!("{base}/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut routes = Vec::new();
    for (path, operations) in document["paths"].as_object().unwrap() {
        let filled: String = path
            .split('/')
            .map(|part| if part.starts_with('{') { "x" } else { part })
            .collect::<Vec<_>>()
            .join("/");
        for method in operations.as_object().unwrap().keys() {
            routes.push((method.to_uppercase().parse().unwrap(), filled.clone()));
        }
    }
    assert!(routes.len() > 5, "{document}");
    routes
}

#[tokio::test]
async fn every_documented_route_refuses_no_key_with_401_and_a_key_without_its_scope_with_403() {
    let (stack, _directory) = keys_file_stack(KEYS_FILE).await;
    // Probes, scrapers and the explorer's page and files need no key (the page asks the user
    // for one).
    let open = ["/health", "/metrics", "/openapi.json", "/", "/ui/assets/x"];
    // Every ingest route needs ingest, whatever its method; the query service's DELETE needs
    // admin, its other routes query.
    let services = [
        (&stack.ingestion_url, "reader", "ingest", "ingest"),
        (&stack.query_url, "ingest-acme", "query", "admin"),
    ];
    for (base, wrong_scope, scope, delete_scope) in services {
        for (method, path) in documented_routes(&stack, base).await {
            if open.contains(&path.as_str()) {
                continue;
            }
            let request = || stack.http.request(method.clone(), format!("{base}{path}"));
            // A HEAD answer has no body to say why.
            let says = |body: &Value, text: &str| {
                method == reqwest::Method::HEAD || body["error"].as_str() == Some(text)
            };
            let (status, body) = send_as(request(), &[]).await;
            assert_eq!(status, 401, "{method} {path}");
            assert!(says(&body, REFUSED), "{method} {path}: {body}");
            let (status, body) = send_as(request(), &[bearer(wrong_scope)]).await;
            let needed = if method == reqwest::Method::DELETE {
                delete_scope
            } else {
                scope
            };
            assert_eq!(status, 403, "{method} {path}: {body}");
            let missing = format!(
                "API key {} does not have the {needed} scope",
                key_id(wrong_scope)
            );
            assert!(says(&body, &missing), "{method} {path}: {body}");
        }
    }
    // The protocols' own ports refuse alike.
    let addresses = &stack.protocol_addresses;
    for url in [
        format!("http://{}/_bulk", addresses.elasticsearch),
        format!("http://{}/loki/api/v1/push", addresses.loki),
        format!("{}/v1/logs", stack.otlp_url),
    ] {
        let request = || stack.http.post(&url).body("{}");
        assert_eq!(send_as(request(), &[]).await.0, 401, "{url}");
        assert_eq!(
            send_as(request(), &[bearer("reader")]).await.0,
            403,
            "{url}"
        );
    }
    // OTLP/gRPC, in its codes.
    let mut grpc = crate::otlp_grpc::client(&stack).await;
    let export = |metadata: &'static [(&'static str, &'static str)]| {
        let records = vec![crate::otlp::record("m")];
        crate::otlp_grpc::call(crate::otlp::request("grpc", records), metadata)
    };
    let refused = grpc.export(export(&[])).await.unwrap_err();
    assert_eq!(
        (refused.code(), refused.message()),
        (tonic::Code::Unauthenticated, REFUSED)
    );
    let refused = grpc
        .export(export(&[("authorization", "Bearer reader")]))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    assert_eq!(
        refused.message(),
        format!(
            "API key {} does not have the ingest scope",
            key_id("reader")
        )
    );
}
