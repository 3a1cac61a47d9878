//! `GET /openapi.json`: each HTTP service describes every route it serves.

use serde_json::Value;
use std::collections::BTreeSet;
use traceflow_testkit::TestStack;

/// `(METHOD, path)` for every operation in a service's document.
async fn documented(stack: &TestStack, base: &str) -> BTreeSet<(String, String)> {
    let answer = stack
        .http
        .get(format!("{base}/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let document: Value = answer.json().await.unwrap();
    assert!(
        document["openapi"].as_str().unwrap().starts_with("3."),
        "{document}"
    );
    document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect()
}

/// Every documented operation exists: the service does not answer 404 or 405 to it. A path
/// with a parameter is asked with the value `example` gives for it.
async fn all_served(
    stack: &TestStack,
    base: &str,
    operations: &BTreeSet<(String, String)>,
    example: &[(&str, String)],
) {
    for (method, path) in operations {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let path = example.iter().fold(path.clone(), |path, (name, value)| {
            path.replace(name, value)
        });
        let status = stack
            .http
            .request(method.clone(), format!("{base}{path}"))
            .send()
            .await
            .unwrap()
            .status();
        assert!(
            ![404, 405].contains(&status.as_u16()),
            "{method} {path} is documented but answers {status}"
        );
    }
}

fn operations(list: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    list.iter()
        .map(|(method, path)| (method.to_string(), path.to_string()))
        .collect()
}

#[tokio::test]
async fn ingestion_documents_every_route() {
    let stack = TestStack::spawn().await;
    let documented = documented(&stack, &stack.ingestion_url).await;
    let mut served = operations(&[
        ("POST", "/ingest"),
        ("POST", "/v1/logs"),
        ("POST", "/loki/api/v1/push"),
        ("GET", "/health"),
        ("GET", "/metrics"),
        ("GET", "/openapi.json"),
        // The Elasticsearch bulk API under /es (at the root of ES_PORT).
        ("GET", "/es"),
        ("HEAD", "/es"),
        ("POST", "/es/_bulk"),
        ("PUT", "/es/_bulk"),
        ("POST", "/es/{index}/_bulk"),
        ("PUT", "/es/{index}/_bulk"),
        ("POST", "/es/{index}/_doc"),
        ("POST", "/es/{index}/_doc/{id}"),
        ("PUT", "/es/{index}/_doc/{id}"),
        ("POST", "/es/{index}/_create/{id}"),
        ("PUT", "/es/{index}/_create/{id}"),
        ("GET", "/es/_license"),
        ("GET", "/es/_xpack"),
        ("GET", "/es/_cluster/health"),
        ("GET", "/es/_cat/health"),
        ("GET", "/es/_nodes"),
        ("GET", "/es/_nodes/{selector}"),
        ("GET", "/es/_nodes/{node_id}/{metric}"),
        ("GET", "/es/{index}/_refresh"),
        ("POST", "/es/{index}/_refresh"),
    ]);
    // What shippers install at start: read, written and deleted alike.
    for path in [
        "/es/_ilm/policy/{policy}",
        "/es/_index_template/{name}",
        "/es/_template/{name}",
        "/es/_ingest/pipeline/{id}",
    ] {
        for method in ["GET", "HEAD", "PUT", "DELETE"] {
            served.insert((method.to_owned(), path.to_owned()));
        }
    }
    assert_eq!(documented, served);
    all_served(&stack, &stack.ingestion_url, &documented, &[]).await;
}

#[tokio::test]
async fn query_documents_every_route() {
    let stack = TestStack::spawn().await;
    let documented = documented(&stack, &stack.query_url).await;
    let served = operations(&[
        ("GET", "/logs"),
        ("DELETE", "/logs"),
        ("GET", "/logs/count"),
        ("GET", "/logs/stats"),
        ("GET", "/logs/tail"),
        ("GET", "/services"),
        ("GET", "/logs/facets"),
        ("GET", "/logs/context"),
        ("GET", "/logs/export"),
        ("GET", "/tenants"),
        ("GET", "/health"),
        ("GET", "/metrics"),
        ("GET", "/openapi.json"),
        ("GET", "/"),
        ("GET", "/ui/assets/{file}"),
    ]);
    assert_eq!(documented, served);
    // Not the live tail: it answers with a stream that stays open.
    let finite: BTreeSet<_> = documented
        .into_iter()
        .filter(|(_, path)| path != "/logs/tail")
        .collect();
    all_served(
        &stack,
        &stack.query_url,
        &finite,
        &[("{file}", explorer_script(&stack).await)],
    )
    .await;
}

/// The file name of the script the explorer's page loads (`index-<hash>.js`).
async fn explorer_script(stack: &TestStack) -> String {
    let page = stack
        .http
        .get(format!("{}/", stack.query_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    page.split('"')
        .filter_map(|part| part.strip_prefix("/ui/assets/"))
        .find(|file| file.ends_with(".js"))
        .unwrap_or_else(|| panic!("the page links no script: {page}"))
        .to_owned()
}
