//! Syslog on ingestion's `SYSLOG_TCP_PORT` and `SYSLOG_UDP_PORT`, with the clients people
//! run: util-linux `logger` (RFC 5424 and RFC 3164, over UDP and over TCP in both framings)
//! and rsyslog's `omfwd` (a private `rsyslogd` with its own config and work directory, fed
//! by `logger` through a unix socket, forwarding with the configs the README shows). Every
//! mapped field is read back through `GET /logs`. A plain socket adds what no client sends
//! on purpose: a malformed line between good ones. Backpressure is a full queue: a TCP
//! sender is held back and then delivers everything; UDP drops are counted.
//!
//! `scripts/test.sh` installs `logger` (bsdutils) and unpacks rsyslog into `.cache/`.

use crate::{
    debian::Packages,
    metrics::{metrics, sample},
    stored::{assert_fields, exactly},
};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::{
    ffi::OsStr,
    fmt,
    path::{Path, PathBuf},
    process::{Output, Stdio},
    time::{Duration, Instant},
};
use tokio::{io::AsyncWriteExt, net::TcpStream, process::Command};
use traceflow_testkit::{StackOptions, TestStack};

/// This machine's name, as `logger` and rsyslog put it in their headers.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("the kernel names this machine")
        .trim()
        .to_owned()
}

/// Runs `logger` with `args` (and `stdin`, when given), in the time zone `tz`; asserts it
/// succeeded.
async fn logger<S: AsRef<OsStr> + fmt::Debug>(
    args: &[S],
    stdin: Option<&[u8]>,
    tz: &str,
) -> Output {
    let mut command = Command::new("logger");
    command
        .args(args)
        .env("TZ", tz)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .expect("logger runs (util-linux's, from Debian's bsdutils; scripts/test.sh installs it)");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("a piped stdin");
        pipe.write_all(input).await.expect("logger reads its input");
    }
    let output = child.wait_with_output().await.expect("logger exits");
    assert!(
        output.status.success(),
        "logger {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// `host` and `port` of a `127.0.0.1:<port>` address, as `logger -n` and `-P` take them.
fn host_port(address: &str) -> (&str, &str) {
    address.split_once(':').expect("host:port")
}

/// logger's arguments to send to `address` over the transport `flags` choose, in `format`
/// (`--rfc5424` or `--rfc3164`), tagged `service`; then `more`.
fn to_ingestion(
    flags: &[&str],
    address: &str,
    format: &str,
    service: &str,
    more: &[&str],
) -> Vec<String> {
    let (host, port) = host_port(address);
    let target = [format, "-n", host, "-P", port, "-t", service];
    flags
        .iter()
        .chain(&target)
        .chain(more)
        .map(|arg| arg.to_string())
        .collect()
}

/// The stored logs of `service` once `count` have arrived, oldest first; exactly `count`
/// are expected.
async fn stored(stack: &TestStack, service: &str, count: usize) -> Vec<Value> {
    exactly(
        stack,
        &format!("service={service}&order=asc&limit=1000"),
        count,
    )
    .await
}

fn time_of(log: &Value) -> DateTime<Utc> {
    log["timestamp"].as_str().unwrap().parse().unwrap()
}

/// Within `slack` of `at`.
#[track_caller]
fn assert_near(log: &Value, at: DateTime<Utc>, slack: Duration) {
    let off = (time_of(log) - at).abs();
    assert!(
        off.to_std().unwrap() <= slack,
        "stored at {}, {off} away from {at}: {log:#}",
        log["timestamp"]
    );
}

/// `GET /logs/count?<query>`.
async fn stored_count(stack: &TestStack, query: &str) -> u64 {
    let answer: Value = stack
        .http
        .get(format!("{}/logs/count?{query}", stack.query_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["count"].as_u64().unwrap()
}

fn is_trace_id(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|id| id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The metadata keys of `log`, sorted.
fn keys(log: &Value) -> Vec<String> {
    let mut keys: Vec<String> = log["metadata"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

/// A counter of ingestion's `/metrics` (0 before its first increment).
async fn counter(stack: &TestStack, name: &str, labels: &str) -> f64 {
    let text = metrics(stack, &stack.ingestion_url).await;
    sample(&text, name, labels).unwrap_or(0.0)
}

async fn rejected(stack: &TestStack, reason: &str) -> f64 {
    let labels = format!(r#"protocol="syslog",reason="{reason}""#);
    counter(stack, "traceflow_ingest_events_rejected_total", &labels).await
}

/// The transports `logger` speaks: its flags and the port they go to.
fn logger_transports(stack: &TestStack) -> [(&'static str, Vec<&'static str>, String); 3] {
    let addresses = &stack.protocol_addresses;
    [
        ("udp", vec!["-d"], addresses.syslog_udp.clone()),
        ("tcp", vec!["-T"], addresses.syslog_tcp.clone()),
        (
            "tcp-octet-counted",
            vec!["-T", "--octet-count"],
            addresses.syslog_tcp.clone(),
        ),
    ]
}

#[tokio::test]
async fn logger_rfc5424_over_udp_and_tcp_maps_every_field() {
    let stack = TestStack::spawn().await;
    for (transport, flags, address) in logger_transports(&stack) {
        let service = format!("billing-5424-{transport}");
        let args = to_ingestion(
            &flags,
            &address,
            "--rfc5424",
            &service,
            &[
                "-p",
                "local3.warning",
                "--msgid",
                "PAY7",
                "--id=4242",
                "--sd-id",
                "order@32473",
                "--sd-param",
                r#"id="1234""#,
                "--sd-param",
                r#"note="a \"quoted\" \] value""#,
                "--",
                "card declined",
            ],
        );
        let sent = Utc::now();
        logger(&args, None, "UTC").await;
        let logs = stored(&stack, &service, 1).await;
        let log = &logs[0];
        assert_fields(
            log,
            &json!({"service": service, "level": "WARN", "message": "card declined"}),
        );
        assert!(is_trace_id(&log["trace_id"]), "{log:#}");
        // logger stamps it to the microsecond; stored to the millisecond.
        assert_near(log, sent, Duration::from_secs(5));
        assert_fields(
            &log["metadata"],
            &json!({
                "hostname": hostname(),
                "proc_id": "4242",
                "msg_id": "PAY7",
                "facility": "local3",
                "severity": "warning",
                "order@32473.id": "1234",
                "order@32473.note": r#"a "quoted" ] value"#,
                // logger adds its own element, whether the clock is synchronised varies.
                "timeQuality.tzKnown": "1",
            }),
        );
        let keys = keys(log);
        assert!(
            keys.contains(&"timeQuality.isSynced".to_owned())
                && keys.iter().all(|key| key != "trace_id"),
            "{transport}: {keys:?}"
        );
    }
}

#[tokio::test]
async fn logger_rfc3164_over_udp_and_tcp_in_the_configured_time_zone() {
    // logger writes its local time without a zone; SYSLOG_TIMEZONE says which it is.
    let zone = "America/New_York";
    let stack = TestStack::spawn_with(StackOptions {
        extra_env: vec![("SYSLOG_TIMEZONE", zone.to_owned())],
        ..StackOptions::default()
    })
    .await;
    for (transport, flags, address) in logger_transports(&stack) {
        let service = format!("disk-3164-{transport}");
        let more = ["-p", "daemon.err", "--id=77", "--", "disk full on /var"];
        let args = to_ingestion(&flags, &address, "--rfc3164", &service, &more);
        let sent = Utc::now();
        logger(&args, None, zone).await;
        let log = &stored(&stack, &service, 1).await[0];
        assert_fields(
            log,
            &json!({"service": service, "level": "ERROR", "message": "disk full on /var"}),
        );
        // To the second, as RFC 3164 writes it; hours off if the zone were not applied.
        assert_near(log, sent, Duration::from_secs(3));
        let short_hostname = hostname().split('.').next().unwrap().to_owned();
        assert_eq!(
            log["metadata"],
            json!({
                "hostname": short_hostname,
                "proc_id": "77",
                "facility": "daemon",
                "severity": "err",
            }),
            "{transport}"
        );
    }
}

/// `message` with its RFC 6587 octet count.
fn octet_counted(message: &str) -> String {
    format!("{} {message}", message.len())
}

#[tokio::test]
async fn a_malformed_line_is_counted_and_skipped_and_the_connection_goes_on() {
    let stack = TestStack::spawn().await;
    let invalid_before = rejected(&stack, "invalid").await;
    // A second apart, so that the oldest-first read gives them in the order sent.
    let good = |second: u32, text: &str| {
        format!("<14>1 2026-05-05T10:00:0{second}.000Z web-1 framing - - - {text}")
    };
    let mut sent = String::new();
    // LF-terminated: a good line, one that is not syslog, a good one.
    sent.push_str(&format!(
        "{}\nthis is not syslog\n{}\n",
        good(1, "one"),
        good(2, "two")
    ));
    // Octet-counted: a good frame, an RFC 5424 header with a bad TIMESTAMP, a count that is
    // not one (up to its LF), a good frame.
    sent.push_str(&octet_counted(&good(3, "three")));
    sent.push_str(&octet_counted(
        "<14>1 yesterday web-1 framing - - - bad time",
    ));
    sent.push_str("12x3 junk\n");
    sent.push_str(&octet_counted(&good(4, "four")));
    let mut socket = TcpStream::connect(&stack.protocol_addresses.syslog_tcp)
        .await
        .unwrap();
    socket.write_all(sent.as_bytes()).await.unwrap();
    // The connection is still being read: a line after the bad ones, later.
    tokio::time::sleep(Duration::from_millis(200)).await;
    socket
        .write_all(format!("{}\n", good(5, "five")).as_bytes())
        .await
        .unwrap();
    drop(socket);

    let logs = stored(&stack, "framing", 5).await;
    let messages: Vec<&str> = logs
        .iter()
        .map(|log| log["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages, ["one", "two", "three", "four", "five"]);

    // A real client's refused line in the middle of its stream: logger sends one message
    // per line of its input, and a blank one is refused (a message must not be blank).
    let tcp = &stack.protocol_addresses.syslog_tcp;
    logger(
        &to_ingestion(&["-T"], tcp, "--rfc3164", "blanks", &[]),
        Some(b"first\n   \nsecond\n"),
        "UTC",
    )
    .await;
    let logs = stored(&stack, "blanks", 2).await;
    // RFC 3164 times are to the second: the two may share one, and then their order.
    let mut messages: Vec<&str> = logs
        .iter()
        .map(|log| log["message"].as_str().unwrap())
        .collect();
    messages.sort_unstable();
    assert_eq!(messages, ["first", "second"]);

    // Other tests' services count into the same counters: at least these four.
    let invalid = rejected(&stack, "invalid").await;
    assert!(
        invalid >= invalid_before + 4.0,
        "invalid lines counted: {invalid_before} before, {invalid} after"
    );
}

/// A private rsyslogd: its config and work directory in a temporary directory, stopped when
/// dropped.
struct Rsyslogd {
    dir: tempfile::TempDir,
    process: tokio::process::Child,
}

impl Rsyslogd {
    /// Starts rsyslogd with `tests/syslog/rsyslogd.conf` and the forwarding action in
    /// `action` (a file beside it) pointed at `port`; returns once its socket is there.
    async fn start(action: &str, port: &str) -> Self {
        let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/syslog");
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name);
        std::fs::create_dir(path("work")).unwrap();
        let action_text = std::fs::read_to_string(configs.join(action))
            .unwrap()
            .replace("@PORT@", port);
        std::fs::write(path("action.conf"), action_text).unwrap();
        let main = std::fs::read_to_string(configs.join("rsyslogd.conf"))
            .unwrap()
            .replace("@DIR@", dir.path().to_str().unwrap())
            .replace("@ACTION@", path("action.conf").to_str().unwrap());
        std::fs::write(path("rsyslogd.conf"), main).unwrap();
        // rsyslog and its modules: unpacked by scripts/test.sh (see `debian`).
        let rsyslog = Packages::find(
            "rsyslog",
            "usr/sbin/rsyslogd",
            "usr/lib",
            "rsyslog/imuxsock.so",
            &[],
        );
        let process = Command::new(rsyslog.path("usr/sbin/rsyslogd"))
            .arg("-n")
            .arg("-M")
            .arg(&rsyslog.modules)
            .arg("-f")
            .arg(path("rsyslogd.conf"))
            .arg("-i")
            .arg(path("rsyslogd.pid"))
            // Its RFC 3164 stamps are local times: UTC, the default SYSLOG_TIMEZONE.
            .env("TZ", "UTC")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("rsyslogd runs (Debian's rsyslog; scripts/test.sh unpacks it)");
        let mut rsyslogd = Self { dir, process };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !rsyslogd.socket().exists() {
            if let Ok(Some(status)) = rsyslogd.process.try_wait() {
                panic!("rsyslogd exited at start ({status})");
            }
            assert!(
                Instant::now() < deadline,
                "rsyslogd did not open its socket"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        rsyslogd
    }

    /// The unix socket it reads, as `logger -u` takes it.
    fn socket(&self) -> PathBuf {
        self.dir.path().join("log.sock")
    }
}

#[tokio::test]
async fn rsyslog_forwards_over_tcp_in_both_framings_and_over_udp() {
    let stack = TestStack::spawn().await;
    let addresses = stack.protocol_addresses.clone();
    let cases = [
        (
            "omfwd-tcp-octet-counted.conf",
            "tcp-octet",
            &addresses.syslog_tcp,
            true,
        ),
        ("omfwd-tcp.conf", "tcp", &addresses.syslog_tcp, false),
        ("omfwd-udp.conf", "udp", &addresses.syslog_udp, true),
    ];
    for (config, name, address, rfc5424) in cases {
        let rsyslogd = Rsyslogd::start(config, host_port(address).1).await;
        let service = format!("rsyslog-{name}");
        let socket = rsyslogd.socket();
        let sent = Utc::now();
        // Handed to rsyslog as RFC 5424, with a MSGID and structured data.
        logger(
            &[
                "-u",
                socket.to_str().unwrap(),
                "--rfc5424",
                "-t",
                &service,
                "--id=99",
                "-p",
                "local5.notice",
                "--msgid",
                "ID47",
                "--sd-id",
                "order@32473",
                "--sd-param",
                r#"id="1234""#,
                "--",
                "shipped via rsyslog",
            ],
            None,
            "UTC",
        )
        .await;
        let log = &stored(&stack, &service, 1).await[0];
        // rsyslog's RFC 5424 template ends the message with a LF, inside the octet-counted
        // frame and the datagram: not part of the message.
        assert_fields(
            log,
            &json!({"service": service, "level": "INFO", "message": "shipped via rsyslog"}),
        );
        assert_near(log, sent, Duration::from_secs(3));
        let mut expected = json!({
            "hostname": hostname(),
            "proc_id": "99",
            "facility": "local5",
            "severity": "notice",
        });
        if rfc5424 {
            // RFC 5424 carries on what rsyslog was given.
            expected["msg_id"] = json!("ID47");
            expected["order@32473.id"] = json!("1234");
            expected["timeQuality.tzKnown"] = json!("1");
            assert_fields(&log["metadata"], &expected);
        } else {
            // RFC 3164 has no place for them.
            assert_eq!(log["metadata"], expected, "{name}");
        }
        drop(rsyslogd);
    }
}

#[tokio::test]
async fn a_tcp_sender_is_held_back_while_the_queue_is_full_then_delivers_everything() {
    // No worker: the queue fills at MAX_QUEUE_DEPTH and stays full until one starts (which
    // ingestion then does not signal: it polls, often).
    let depth = 1_000;
    let mut stack = TestStack::spawn_with(StackOptions {
        worker: false,
        max_queue_depth: Some(depth),
        poll_interval: Duration::from_millis(100),
        ..StackOptions::default()
    })
    .await;
    // More than the queue takes, and more than the kernel buffers between logger and
    // ingestion hold, so that logger itself has to wait.
    let lines = 20_000;
    let padding = "x".repeat(900);
    let input: String = (0..lines)
        .map(|n| format!("line {n:05} {padding}\n"))
        .collect();
    let args = to_ingestion(
        &["-T", "--octet-count"],
        &stack.protocol_addresses.syslog_tcp,
        "--rfc5424",
        "held",
        &[],
    );
    let sender = tokio::spawn(async move { logger(&args, Some(input.as_bytes()), "UTC").await });

    // The queue fills up as far as whole groups fit (a group is what arrived within its
    // delay, so how many depends on the machine's pace), then stays: the connection holds
    // the next group instead of dropping anything to make room, and logger waits.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut queued = 0;
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let now_queued = stack.queued().await.len();
        if now_queued > 0 && now_queued == queued {
            break;
        }
        queued = now_queued;
        assert!(
            Instant::now() < deadline,
            "the queue never settled: {queued} queued"
        );
    }
    assert!(
        queued as u64 <= depth,
        "{queued} queued, over the limit of {depth}"
    );
    assert!(queued < lines, "{queued} queued");
    assert!(
        !sender.is_finished(),
        "logger was not held back: it sent everything"
    );

    // A worker drains the queue: the connection resumes, logger finishes.
    stack.start_worker().await;
    let output = tokio::time::timeout(Duration::from_secs(60), sender)
        .await
        .expect("logger finishes once the queue drains")
        .unwrap();
    assert!(output.status.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let count = stored_count(&stack, "service=held").await;
        if count >= lines as u64 {
            assert_eq!(count, lines as u64, "every line once");
            break;
        }
        assert!(Instant::now() < deadline, "{count} of {lines} lines stored");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let distinct = stack
        .clickhouse("SELECT uniqExact(message) FROM logs WHERE service = 'held'")
        .await;
    assert_eq!(distinct.trim(), lines.to_string());
}

#[tokio::test]
async fn udp_messages_the_full_queue_refuses_are_counted_as_dropped() {
    // A queue that holds one event, and no worker to take it.
    let stack = TestStack::spawn_with(StackOptions {
        worker: false,
        max_queue_depth: Some(1),
        ..StackOptions::default()
    })
    .await;
    let dropped = r#"reason="queue_full""#;
    let dropped_before = counter(&stack, "traceflow_syslog_udp_dropped_total", dropped).await;
    let rejected_before = rejected(&stack, "queue_full").await;
    let udp = &stack.protocol_addresses.syslog_udp;
    logger(
        &to_ingestion(&["-d"], udp, "--rfc5424", "dropped", &[]),
        Some(b"one\ntwo\nthree\nfour\nfive\n"),
        "UTC",
    )
    .await;
    // One is queued, the others are refused and counted, in both counters.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let counted = counter(&stack, "traceflow_syslog_udp_dropped_total", dropped).await;
        if counted >= dropped_before + 4.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "dropped: {dropped_before} before, {counted} now"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(rejected(&stack, "queue_full").await >= rejected_before + 4.0);
    let queued = stack.queued().await;
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].message, "one");
}
