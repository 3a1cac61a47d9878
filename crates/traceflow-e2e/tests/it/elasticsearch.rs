//! The Elasticsearch bulk API, on ingestion's `ES_PORT` and under `/es` on its main port.
//! Real clients nobody here wrote send the documents: the official Python client
//! (`info()`, `helpers.bulk`, `index()`), rsyslog's `omelasticsearch` (bulk mode and single
//! documents) and syslog-ng's `elasticsearch-http()`, both run as private processes with
//! their own configuration, fed a line through a unix socket they create. Every mapped field
//! is read back through `GET /logs`. Protocol details (the items' order and shape,
//! per-request field choices, refusals in Elasticsearch's words, the start-up endpoints,
//! limits, backpressure, metrics) are checked with requests made by hand.

use crate::{
    debian::Packages,
    metrics::{metrics, sample},
    stored::{assert_fields, by_message, is_recent, stored, without_redis},
};
use chrono::{DurationRound, TimeDelta, Utc};
use serde_json::{Value, json};
use std::{
    os::unix::net::UnixDatagram,
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};
use traceflow_testkit::{StackOptions, TestStack};

/// The API's root on the stack's `ES_PORT`.
fn es_port(stack: &TestStack) -> String {
    format!("http://{}", stack.protocol_addresses.elasticsearch)
}

/// The API's root under the main port.
fn es_prefix(stack: &TestStack) -> String {
    format!("{}/es", stack.ingestion_url)
}

/// `POST <url>` with an NDJSON body.
async fn post_ndjson(stack: &TestStack, url: &str, lines: &[&str]) -> reqwest::Response {
    let mut body = lines.join("\n");
    body.push('\n');
    stack
        .http
        .post(url)
        .header("Content-Type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// The answer's status and JSON body, after checking what every answer carries.
async fn answer(response: reqwest::Response) -> (u16, Value) {
    assert_eq!(
        response.headers()["x-elastic-product"],
        "Elasticsearch",
        "{response:?}"
    );
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text:?}"));
    (status, body)
}

// --- The Python client ---------------------------------------------------------------

/// Runs `tests/elasticsearch/python_client.py` against the API at `url`; returns what it
/// printed.
async fn python_client(url: &str, service: &str) -> Value {
    crate::python::run("elasticsearch", "python_client.py", &[url, service]).await
}

#[tokio::test]
async fn the_python_client_on_the_es_port_and_under_es() {
    let stack = TestStack::spawn().await;
    let (port, prefix) = (es_port(&stack), es_prefix(&stack));
    let (on_port, under_prefix) = tokio::join!(
        python_client(&port, "py-es"),
        python_client(&prefix, "py-main"),
    );
    for (service, report) in [("py-es", on_port), ("py-main", under_prefix)] {
        assert_eq!(report["version"], "8.19.0", "{report:#}");
        assert_eq!(report["tagline"], "You Know, for Search");
        // helpers.bulk: three stored, the document without a message refused alone.
        assert_eq!(report["stored"], 3, "{report:#}");
        assert_eq!(
            report["errors"],
            json!([{"index": {
                "_index": service,
                "status": 400,
                "error": {
                    "type": "document_parsing_exception",
                    "reason": "a message field (message, msg, log or MESSAGE) is required",
                },
            }}])
        );
        assert_eq!(
            report["single"],
            json!({"result": "created", "_id": "single-1", "_index": service})
        );

        let logs = stored(&stack, service, 3).await;
        let declined = by_message(&logs, "card declined");
        assert_eq!(
            declined,
            &json!({
                "id": declined["id"],
                "timestamp": "2026-05-05T10:00:00.250Z",
                "service": service,
                "level": "WARN",
                "message": "card declined",
                "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
                "metadata": {
                    "log.logger": "payments",
                    "user.id": "42",
                    "user.vip": "false",
                    "tags": r#"["card","eu"]"#,
                },
            })
        );
        let ledger = by_message(&logs, "ledger unreachable");
        assert_eq!(ledger["level"], "ERROR");
        assert_eq!(ledger["timestamp"], "2026-05-05T10:00:02.000Z");
        assert_eq!(ledger["metadata"], json!({"pid": "7"}));
        // No trace id in the document: the request's.
        assert_eq!(ledger["trace_id"].as_str().unwrap().len(), 32);
        let single = by_message(&logs, "one document");
        assert_eq!(single["level"], "DEBUG");
        assert_eq!(single["timestamp"], "2026-05-05T10:00:03.000Z");

        let shipping = stored(&stack, &format!("{service}-shipping"), 1).await;
        assert_eq!(shipping[0]["message"], "order shipped");
        assert_eq!(shipping[0]["level"], "INFO");
        assert_eq!(shipping[0]["timestamp"], "2026-05-05T10:00:01.000Z");
        assert_eq!(shipping[0]["metadata"], json!({"amount": "12.5"}));
    }
}

// --- rsyslog and syslog-ng, as private processes --------------------------------------

/// A daemon started for one test, in its own directory; killed when dropped.
struct Daemon {
    child: tokio::process::Child,
    dir: tempfile::TempDir,
    name: &'static str,
}

impl Daemon {
    /// Starts `command` (already given its configuration in `dir`), with local time UTC so
    /// a syslog line's time reads as UTC; waits for it to create `socket` in `dir`.
    async fn start(
        name: &'static str,
        mut command: tokio::process::Command,
        dir: tempfile::TempDir,
    ) -> Self {
        let child = command
            .env("TZ", "UTC")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("stderr.log")).unwrap())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| panic!("{name} starts (scripts/test.sh installs it): {error}"));
        let daemon = Self { child, dir, name };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !daemon.socket().exists() {
            assert!(
                Instant::now() < deadline,
                "{name} did not create its socket: {}",
                daemon.stderr()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        daemon
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("log.sock")
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// Sends `line` to its socket, as a local program's syslog() call would.
    fn log(&self, line: &str) {
        UnixDatagram::unbound()
            .unwrap()
            .send_to(line.as_bytes(), self.socket())
            .unwrap_or_else(|error| panic!("{} takes a line: {error}", self.name));
    }

    /// The stored logs of `service`, `count` of them, or a failure showing the daemon's
    /// own log.
    async fn stored(&mut self, stack: &TestStack, service: &str, count: usize) -> Vec<Value> {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited ({status}): {}", self.name, self.stderr());
        }
        let query = format!("service={service}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while stack.logs(&query).await.json::<Value>().await.unwrap()["count"] != count {
            assert!(
                Instant::now() < deadline,
                "{} sent no {service} logs; its log:\n{}",
                self.name,
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        stored(stack, service, count).await
    }
}

/// A minute ago, to the second: a syslog line's time (RFC 3164 has no fraction).
fn a_minute_ago() -> chrono::DateTime<Utc> {
    (Utc::now() - TimeDelta::minutes(1))
        .duration_trunc(TimeDelta::seconds(1))
        .unwrap()
}

/// `<PRI>Mmm dd HH:MM:SS tag[pid]: message`, as a program logs to the local socket.
fn syslog_line(priority: u8, at: chrono::DateTime<Utc>, tag: &str, message: &str) -> String {
    format!(
        "<{priority}>{} {tag}: {message}",
        at.format("%b %e %H:%M:%S")
    )
}

fn millis(at: chrono::DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The name rsyslog and syslog-ng give this machine.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned()
}

/// The README's rsyslog template, and an action of each mode: bulk to `ES_PORT`, single
/// documents (`/<index>/_doc`) under `/es` on the main port.
fn rsyslog_config(dir: &Path, stack: &TestStack) -> String {
    let (es_host, es_port) = stack
        .protocol_addresses
        .elasticsearch
        .split_once(':')
        .unwrap();
    let main = stack.ingestion_url.trim_start_matches("http://");
    format!(
        r#"global(workDirectory="{dir}")
module(load="imuxsock" SysSock.Use="off")
module(load="omelasticsearch")
input(type="imuxsock" Socket="{dir}/log.sock" UseSysTimeStamp="off" IgnoreTimestamp="off")

template(name="traceflow" type="list" option.jsonf="on") {{
  property(outname="@timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="host" name="hostname" format="jsonf")
  property(outname="service" name="programname" format="jsonf")
  property(outname="severity" name="syslogseverity-text" format="jsonf")
  property(outname="facility" name="syslogfacility-text" format="jsonf")
  property(outname="message" name="msg" position.from="2" format="jsonf")
}}

if $programname == "rs-bulk" then {{
  action(type="omelasticsearch" server="{es_host}" serverport="{es_port}"
         searchIndex="rsyslog" template="traceflow" bulkmode="on" esVersion.major="8")
}} else {{
  action(type="omelasticsearch" server="http://{main}/es" searchIndex="rsyslog"
         template="traceflow" esVersion.major="8")
}}
"#,
        dir = dir.display()
    )
}

#[tokio::test]
async fn rsyslog_omelasticsearch_in_bulk_mode_and_one_document_at_a_time() {
    let stack = TestStack::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rsyslog.conf"),
        rsyslog_config(dir.path(), &stack),
    )
    .unwrap();
    let packages = Packages::find(
        "rsyslog",
        "usr/sbin/rsyslogd",
        "usr/lib",
        "rsyslog/omelasticsearch.so",
        &[],
    );
    let mut command = tokio::process::Command::new(packages.path("usr/sbin/rsyslogd"));
    command.arg("-n").arg("-M").arg(&packages.modules);
    command.arg("-f").arg(dir.path().join("rsyslog.conf"));
    command.arg("-i").arg(dir.path().join("rsyslogd.pid"));
    let mut rsyslog = Daemon::start("rsyslogd", command, dir).await;

    let at = a_minute_ago();
    // user.err and user.warning (priorities 11 and 12).
    rsyslog.log(&syslog_line(
        11,
        at,
        "rs-bulk[42]",
        "payment failed for order 7",
    ));
    rsyslog.log(&syslog_line(12, at, "rs-single[43]", "low balance"));
    for (service, level, message) in [
        ("rs-bulk", "ERROR", "payment failed for order 7"),
        ("rs-single", "WARN", "low balance"),
    ] {
        let logs = rsyslog.stored(&stack, service, 1).await;
        let log = &logs[0];
        assert_eq!(
            log,
            &json!({
                "id": log["id"],
                "timestamp": millis(at),
                "service": service,
                "level": level,
                "message": message,
                "trace_id": log["trace_id"],
                "metadata": {"host": hostname(), "facility": "user"},
            })
        );
        assert_eq!(log["trace_id"].as_str().unwrap().len(), 32);
    }
}

/// syslog-ng with its http module and the SCL's `elasticsearch-http()`, configured by
/// `config` (given the SCL file to include) in `dir`.
fn syslog_ng(dir: &Path, config: impl FnOnce(&Path) -> String) -> tokio::process::Command {
    const SCL: &str = "usr/share/syslog-ng/include/scl/elasticsearch/elastic-http.conf";
    let packages = Packages::find(
        "syslog-ng",
        "usr/sbin/syslog-ng",
        "usr/lib/syslog-ng",
        "libhttp.so",
        &[SCL],
    );
    std::fs::write(dir.join("syslog-ng.conf"), config(&packages.path(SCL))).unwrap();
    let mut command = tokio::process::Command::new(packages.path("usr/sbin/syslog-ng"));
    command.args(["-F", "-e", "--no-caps"]);
    command.arg(format!("--module-path={}", packages.modules.display()));
    if packages.unpacked {
        command.env("LD_LIBRARY_PATH", packages.path("usr/lib/syslog-ng"));
    }
    for (flag, file) in [
        ("-f", "syslog-ng.conf"),
        ("-R", "syslog-ng.persist"),
        ("-c", "syslog-ng.ctl"),
        ("-p", "syslog-ng.pid"),
    ] {
        command.arg(flag).arg(dir.join(file));
    }
    command
}

#[tokio::test]
async fn syslog_ng_elasticsearch_http() {
    let stack = TestStack::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let command = syslog_ng(dir.path(), |scl| {
        format!(
            r#"@version: 3.38
@include "{scl}"
source s_local {{ unix-dgram("{dir}/log.sock"); }};
destination d_traceflow {{
  elasticsearch-http(
    url("http://{es}/_bulk")
    index("syslog-ng")
    type("")
  );
}};
log {{ source(s_local); destination(d_traceflow); }};
"#,
            scl = scl.display(),
            dir = dir.path().display(),
            es = stack.protocol_addresses.elasticsearch,
        )
    });
    let mut daemon = Daemon::start("syslog-ng", command, dir).await;

    let at = a_minute_ago();
    // local0.crit: priority 16 * 8 + 2.
    daemon.log(&syslog_line(130, at, "ng-app[77]", "disk full on /var"));
    let logs = daemon.stored(&stack, "ng-app", 1).await;
    let log = &logs[0];
    let iso = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
    assert_eq!(
        log,
        &json!({
            "id": log["id"],
            "timestamp": millis(at),
            "service": "ng-app",
            "level": "FATAL",
            "message": "disk full on /var",
            "trace_id": log["trace_id"],
            // The rest of its default template: format-json --scope rfc5424.
            "metadata": {"HOST": hostname(), "PID": "77", "FACILITY": "local0", "ISODATE": iso},
        })
    );
    assert!(is_recent(&log["timestamp"]));
}

// --- Requests made by hand --------------------------------------------------------------

#[tokio::test]
async fn every_operation_gets_an_item_in_order_and_the_valid_documents_are_stored() {
    let stack = TestStack::spawn().await;
    let url = format!("{}/hand-2026.05.05/_bulk", es_port(&stack));
    let response = post_ndjson(
        &stack,
        &url,
        &[
            r#"{"index":{}}"#,
            r#"{"@timestamp":"2026-05-05T10:00:00Z","message":"first","level":"info"}"#,
            r#"{"create":{"_index":"other","_id":"c-1","_type":"_doc","pipeline":"p","routing":"r"}}"#,
            r#"{"message":"second","service":"hand-explicit","ts":1777975201}"#,
            r#"{"update":{"_id":"c-1"}}"#,
            r#"{"doc":{"message":"changed"}}"#,
            r#"{"delete":{"_id":"c-1"}}"#,
            r#"{"index":{"_id":"bad-time"}}"#,
            r#"{"message":"third","@timestamp":"yesterday"}"#,
            r#"{"index":{}}"#,
            r#"["not", "an", "object"]"#,
            r#"{"index":{}}"#,
            r#"{"message":"fourth","time":"1777975202500"}"#,
        ],
    )
    .await;
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.headers()["x-elastic-product"], "Elasticsearch");
    let text = response.text().await.unwrap();
    // Compact, took first, then errors and items (Fluent Bit reads the text).
    assert!(text.starts_with(r#"{"took":"#), "{text}");
    assert!(
        text.contains(r#","errors":true,"items":[{"index":{"#),
        "{text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    let items = body["items"].as_array().unwrap();
    let summary: Vec<(String, u64, String)> = items
        .iter()
        .map(|item| {
            let (action, outcome) = item.as_object().unwrap().iter().next().unwrap();
            let detail = outcome["error"]["reason"]
                .as_str()
                .or(outcome["result"].as_str())
                .unwrap()
                .to_owned();
            (action.clone(), outcome["status"].as_u64().unwrap(), detail)
        })
        .collect();
    let own =
        |action: &str, status: u64, detail: &str| (action.to_owned(), status, detail.to_owned());
    assert_eq!(
        summary,
        [
            own("index", 201, "created"),
            own("create", 201, "created"),
            own(
                "update",
                400,
                "update is not supported: Traceflow only appends (use index or create)"
            ),
            own(
                "delete",
                400,
                "delete is not supported: Traceflow only appends (use index or create)"
            ),
            own(
                "index",
                400,
                "@timestamp must be an RFC 3339 time such as 2026-05-05T10:00:00Z, got \"yesterday\""
            ),
            own(
                "index",
                400,
                "the document must be a JSON object such as {\"message\": \"...\"}"
            ),
            own("index", 201, "created"),
        ]
    );
    // Elasticsearch's item fields: the index, the id given or the event's, the position.
    let first = &items[0]["index"];
    assert_eq!(first["_index"], "hand-2026.05.05");
    assert_eq!(first["_seq_no"], 0);
    assert_eq!(
        first["_shards"],
        json!({"total": 1, "successful": 1, "failed": 0})
    );
    assert_eq!(items[1]["create"]["_id"], "c-1");
    assert_eq!(items[1]["create"]["_index"], "other");
    assert_eq!(items[4]["index"]["_id"], "bad-time");
    assert_eq!(
        items[4]["index"]["error"]["type"],
        "document_parsing_exception"
    );

    let logs = stored(&stack, "hand", 2).await;
    let first_id = first["_id"].as_str().unwrap();
    let stored_first = by_message(&logs, "first");
    assert_eq!(
        stored_first["id"], first_id,
        "the item's _id is the event's id"
    );
    assert_eq!(stored_first["timestamp"], "2026-05-05T10:00:00.000Z");
    assert_eq!(
        by_message(&logs, "fourth")["timestamp"],
        "2026-05-05T10:00:02.500Z"
    );
    let explicit = stored(&stack, "hand-explicit", 1).await;
    assert_eq!(explicit[0]["timestamp"], "2026-05-05T10:00:01.000Z");
}

#[tokio::test]
async fn a_request_chooses_its_fields_by_query_argument_or_header() {
    let stack = TestStack::spawn().await;
    let document = r#"{"text":"chosen","message":"kept as metadata","svc":{"id":"picked"},"sev":"crit","when":"2026-05-05T10:00:00Z","req":"r-1"}"#;
    let url = format!(
        "{}/_bulk?_msg_field=text&_service_field=svc.id&_time_field=when&_trace_id_field=req&refresh=true",
        es_prefix(&stack)
    );
    let by_query = stack
        .http
        .post(&url)
        .header("Traceflow-Level-Field", "sev")
        // The query argument wins over the header.
        .header("Traceflow-Msg-Field", "message")
        .body(format!("{{\"index\":{{}}}}\n{document}\n"))
        .send()
        .await
        .unwrap();
    let (status, body) = answer(by_query).await;
    assert_eq!((status, &body["errors"]), (200, &json!(false)), "{body}");
    let logs = stored(&stack, "picked", 1).await;
    assert_eq!(
        logs[0],
        json!({
            "id": logs[0]["id"],
            "timestamp": "2026-05-05T10:00:00.000Z",
            "service": "picked",
            "level": "FATAL",
            "message": "chosen",
            "trace_id": "r-1",
            "metadata": {"message": "kept as metadata"},
        })
    );

    // An empty list uses no field: the index is the service.
    let response = stack
        .http
        .post(format!(
            "{}/by-index/_bulk?_service_field=",
            es_port(&stack)
        ))
        .body("{\"index\":{}}\n{\"message\":\"m\",\"service\":\"ignored\"}\n")
        .send()
        .await
        .unwrap();
    assert_eq!(answer(response).await.1["errors"], false);
    let logs = stored(&stack, "by-index", 1).await;
    assert_eq!(logs[0]["metadata"], json!({"service": "ignored"}));
}

#[tokio::test]
async fn whole_requests_are_refused_in_elasticsearch_words() {
    let stack = TestStack::spawn_with(StackOptions {
        worker: false,
        max_body_bytes: Some(2048),
        extra_env: vec![("MAX_BATCH_EVENTS", "3".to_owned())],
        ..StackOptions::default()
    })
    .await;
    let bulk = format!("{}/_bulk", es_port(&stack));
    let refused = |status: u16, kind: &str, reason: &str| {
        json!({
            "error": {
                "root_cause": [{"type": kind, "reason": reason}],
                "type": kind,
                "reason": reason,
            },
            "status": status,
        })
    };

    let (status, body) =
        answer(post_ndjson(&stack, &bulk, &[r#"{"index":{}}"#, "{}", "{}"]).await).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        refused(
            400,
            "illegal_argument_exception",
            "line 3 is not a bulk action line such as {\"index\":{}}: it must name one action, it has 0"
        )
    );
    let (status, body) = answer(post_ndjson(&stack, &bulk, &[r#"{"index":{}}"#]).await).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"]["reason"],
        "the index action on line 1 has no document after it"
    );
    let (status, _) = answer(post_ndjson(&stack, &bulk, &[]).await).await;
    assert_eq!(status, 400);

    let four = [r#"{"delete":{}}"#; 4];
    let (status, body) = answer(post_ndjson(&stack, &bulk, &four).await).await;
    assert_eq!(status, 413);
    assert_eq!(
        body,
        refused(
            413,
            "content_too_long_exception",
            "the request holds 4 operations, more than the limit of 3 (MAX_BATCH_EVENTS): send smaller bulks"
        )
    );
    let big = format!(r#"{{"message":"{}"}}"#, "x".repeat(3000));
    let (status, body) = answer(post_ndjson(&stack, &bulk, &[r#"{"index":{}}"#, &big]).await).await;
    assert_eq!(status, 413);
    assert_eq!(
        body["error"]["reason"],
        "the request body is larger than the limit of 2048 bytes after decompression \
         (MAX_BODY_BYTES): send smaller bulks"
    );

    // A single document refused: Elasticsearch's error, with our reason.
    let response = stack
        .http
        .post(format!("{}/app/_doc", es_prefix(&stack)))
        .json(&json!({"log": "m", "@timestamp": 1.5e300}))
        .send()
        .await
        .unwrap();
    let (status, body) = answer(response).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        refused(
            400,
            "document_parsing_exception",
            "@timestamp must be between 1970-01-01T00:00:00Z and 2105-12-31T23:59:59Z, got \"1.5e+300\""
        )
    );
    // A bad query string.
    let response = stack
        .http
        .post(format!("{bulk}?_msg_field=a&_msg_field=b"))
        .body("{\"index\":{}}\n{}\n")
        .send()
        .await
        .unwrap();
    let (status, body) = answer(response).await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("the query string is not usable: "),
        "{body}"
    );
    assert!(stack.queued().await.is_empty(), "nothing was queued");

    // gzip bodies, doubled and trailing slashes.
    let gzipped = {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder
            .write_all(b"{\"index\":{\"_index\":\"zipped\"}}\n{\"message\":\"m\"}\n")
            .unwrap();
        encoder.finish().unwrap()
    };
    let response = stack
        .http
        .put(format!(
            "http://{}//_bulk/",
            stack.protocol_addresses.elasticsearch
        ))
        .header("Content-Encoding", "gzip")
        .body(gzipped)
        .send()
        .await
        .unwrap();
    let (status, body) = answer(response).await;
    assert_eq!((status, &body["errors"]), (200, &json!(false)), "{body}");
    assert_eq!(stack.queued().await[0].service, "zipped");
}

#[tokio::test]
async fn the_endpoints_clients_call_at_start_answer_as_a_cluster() {
    let stack = TestStack::spawn().await;
    for base in [es_port(&stack), es_prefix(&stack)] {
        let get = |path: &str| stack.http.get(format!("{base}{path}")).send();
        let (status, info) = answer(get("").await.unwrap()).await;
        assert_eq!(status, 200);
        assert_fields(
            &info,
            &json!({"cluster_name": "traceflow", "tagline": "You Know, for Search"}),
        );
        assert_fields(
            &info["version"],
            &json!({
                "number": "8.19.0",
                "build_flavor": "default",
                "minimum_wire_compatibility_version": "7.17.0",
                "minimum_index_compatibility_version": "7.0.0",
            }),
        );
        assert!(info["version"]["lucene_version"].is_string());
        let head = stack.http.head(format!("{base}/")).send().await.unwrap();
        assert_eq!(head.status(), 200);
        assert_eq!(head.headers()["x-elastic-product"], "Elasticsearch");
        assert_eq!(head.headers()["content-type"], "application/json");

        let (_, license) = answer(get("//_license/").await.unwrap()).await;
        assert_fields(
            &license["license"],
            &json!({"status": "active", "type": "basic"}),
        );
        let (_, xpack) = answer(get("/_xpack").await.unwrap()).await;
        assert_eq!(xpack["license"]["status"], "active");
        let (_, health) = answer(get("/_cluster/health").await.unwrap()).await;
        assert_eq!(health["status"], "green");
        let (_, cat) = answer(get("/_cat/health?format=json").await.unwrap()).await;
        assert_eq!(cat[0]["status"], "green");
        let text = get("/_cat/health").await.unwrap();
        assert_eq!(text.headers()["x-elastic-product"], "Elasticsearch");
        assert!(text.text().await.unwrap().contains(" traceflow green "));
        for path in ["/_nodes", "/_nodes/http", "/_nodes/_all/http"] {
            let (status, nodes) = answer(get(path).await.unwrap()).await;
            assert_eq!(status, 200, "{path}");
            assert_eq!(nodes["_nodes"]["total"], 1, "{path}");
        }
        for path in [
            "/_index_template/traceflow",
            "/_template/traceflow",
            "/_ilm/policy/traceflow",
            "/_ingest/pipeline/traceflow",
        ] {
            let (status, read) = answer(get(path).await.unwrap()).await;
            assert_eq!((status, read), (200, json!({})), "GET {path}");
            let put = stack
                .http
                .put(format!("{base}{path}"))
                .json(&json!({"index_patterns": ["x-*"]}))
                .send()
                .await
                .unwrap();
            assert_eq!(
                answer(put).await,
                (200, json!({"acknowledged": true})),
                "PUT {path}"
            );
        }
        let refresh = stack
            .http
            .post(format!("{base}/app/_refresh"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer(refresh).await.0, 200);

        let (status, missing) = answer(get("/app/_search").await.unwrap()).await;
        assert_eq!(status, 404);
        assert_eq!(missing["error"]["type"], "resource_not_found_exception");
        let path = format!("{base}/app/_search");
        let path = path.trim_start_matches("http://");
        let path = &path[path.find('/').unwrap()..];
        assert!(
            missing["error"]["reason"]
                .as_str()
                .unwrap()
                .starts_with(&format!(
                    "no handler found for uri [{path}] and method [GET]"
                )),
            "{missing}"
        );
    }
}

#[tokio::test]
async fn api_keys_guard_the_bulk_api_on_both_ports() {
    let stack = TestStack::spawn_with(StackOptions::env("INGEST_API_KEYS", "es-key")).await;
    for base in [es_port(&stack), es_prefix(&stack)] {
        let url = format!("{base}/keyed/_bulk");
        let body = "{\"index\":{}}\n{\"message\":\"m\"}\n";
        let open = stack.http.post(&url).body(body).send().await.unwrap();
        assert_eq!(open.status(), 401, "{url}");
        assert_eq!(open.headers()["x-elastic-product"], "Elasticsearch");
        let keyed = stack
            .http
            .post(&url)
            .bearer_auth("es-key")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer(keyed).await.0, 200, "{url}");
        // What shippers without custom headers send: the key as a Basic password.
        let basic = stack
            .http
            .post(&url)
            .basic_auth("rsyslog", Some("es-key"))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer(basic).await.0, 200, "{url}");
    }
    stored(&stack, "keyed", 4).await;
}

#[tokio::test]
async fn backpressure_is_429_and_redis_down_503_both_with_retry_after() {
    let stack = TestStack::spawn_with(StackOptions::queue_of(2)).await;
    let url = format!("{}/flood/_bulk", es_port(&stack));
    let two = [
        r#"{"index":{}}"#,
        r#"{"message":"a"}"#,
        r#"{"index":{}}"#,
        r#"{"message":"b"}"#,
    ];
    assert_eq!(post_ndjson(&stack, &url, &two).await.status(), 200);
    let full = post_ndjson(&stack, &url, &two).await;
    assert_eq!(full.headers()["retry-after"], "2");
    let (status, body) = answer(full).await;
    assert_eq!(status, 429);
    assert_eq!(body["error"]["type"], "es_rejected_execution_exception");
    assert_eq!(
        body["error"]["reason"],
        "queue is full (2 events waiting), the event was not accepted; retry later"
    );
    assert_eq!(
        stack.queued().await.len(),
        2,
        "the refused documents were not queued"
    );

    let down = without_redis().await;
    let refused = post_ndjson(
        &down,
        &format!("{}/_bulk", es_prefix(&down)),
        &["{\"index\":{\"_index\":\"x\"}}", "{\"message\":\"lost?\"}"],
    )
    .await;
    assert_eq!(refused.headers()["retry-after"], "2");
    let (status, body) = answer(refused).await;
    assert_eq!(status, 503);
    assert!(
        body["error"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("queue unavailable, the event was not accepted: redis does not answer"),
        "{body}"
    );
    let health = down
        .http
        .get(format!("{}/_cluster/health", es_port(&down)))
        .send()
        .await
        .unwrap();
    let (status, body) = answer(health).await;
    assert_eq!(status, 503);
    assert!(
        body["error"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("the queue is unavailable, documents are not accepted: redis: "),
        "{body}"
    );
}

#[tokio::test]
async fn metrics_count_accepted_and_refused_documents_under_the_protocol() {
    let stack = TestStack::spawn().await;
    let response = post_ndjson(
        &stack,
        &format!("{}/metered/_bulk", es_port(&stack)),
        &[
            r#"{"index":{}}"#,
            r#"{"message":"m"}"#,
            r#"{"index":{}}"#,
            r#"{"text":"none"}"#,
        ],
    )
    .await;
    assert_eq!(answer(response).await.1["errors"], true);
    let text = metrics(&stack, &es_port(&stack)).await;
    // The recorder is the process's: other tests add to the same counters.
    let count = |name, labels| sample(&text, name, labels).unwrap_or_default();
    assert!(
        count(
            "traceflow_ingest_events_accepted_total",
            r#"protocol="elasticsearch""#
        ) >= 1.0,
        "{text}"
    );
    assert!(
        count(
            "traceflow_ingest_events_rejected_total",
            r#"protocol="elasticsearch",reason="invalid""#
        ) >= 1.0,
        "{text}"
    );
}
