//! The README's curl examples, run as written against a fresh stack with the default
//! retention. Each example in a ```sh block is followed by `# => STATUS BODY`, its
//! documented answer: JSON, where `"..."` stands for any value; else the exact text of the
//! answer (as Loki answers); or nothing after the status, for an answer without a body (a
//! `204`). `${DAY}` stands for the day the README's own `DAY=` line gives (the examples'
//! events happen on it). A `logger` line before an example (the syslog section's) is run
//! once, to the stack's syslog port, before the example is.

use serde_json::Value;
use std::time::{Duration, Instant};
use traceflow_testkit::{StackOptions, TestStack};

const README: &str = include_str!("../../../../README.md");

#[derive(Debug)]
struct Example {
    /// Lines run once before the command (`logger` sending what the command reads back).
    setup: String,
    command: String,
    status: u16,
    /// The documented answer, `${DAY}` not yet replaced.
    body: String,
}

/// The README's line that sets `DAY`, run before every example as a reader runs it first.
fn day_line() -> &'static str {
    README
        .lines()
        .map(str::trim)
        .find(|line| line.starts_with("DAY="))
        .expect("the README sets DAY")
}

/// Every `curl` command in a sh block that has a documented answer, in order, with its
/// continuation lines (`\` or a pipe into curl).
fn examples() -> Vec<Example> {
    let mut examples = Vec::new();
    let mut in_sh = false;
    let mut command = String::new();
    let mut setup = String::new();
    for line in README.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            in_sh = trimmed == "```sh";
            command.clear();
            continue;
        }
        if !in_sh {
            continue;
        }
        if let Some(answer) = trimmed.strip_prefix("# => ") {
            let (status, body) = answer.split_once(' ').unwrap_or((answer, ""));
            examples.push(Example {
                setup: std::mem::take(&mut setup),
                command: std::mem::take(&mut command),
                status: status
                    .parse()
                    .expect("# => STATUS BODY, STATUS a status code"),
                body: body.to_owned(),
            });
        } else if trimmed.starts_with("logger ") {
            setup.push_str(trimmed);
            setup.push('\n');
        } else if starts_example(trimmed) || command.ends_with("\\\n") || command.ends_with("|\n") {
            if starts_example(trimmed) && !command.ends_with("|\n") {
                // An example without a documented answer is not checked.
                command.clear();
            }
            // Kept line by line: bash reads the `\` continuations as the README shows them.
            command.push_str(trimmed);
            command.push('\n');
        }
    }
    examples
}

/// A `curl` command, or `printf` piping a body into one.
fn starts_example(line: &str) -> bool {
    line.starts_with("curl ") || line.starts_with("printf ")
}

/// The answer a README example documents.
#[derive(Debug)]
enum Documented {
    /// JSON, with `"..."` wildcards.
    Json(Value),
    /// Anything else, exactly (less the answer's final newline); empty for no body.
    Text(String),
}

impl Documented {
    fn parse(body: &str) -> Self {
        serde_json::from_str(body)
            .map_or_else(|_| Documented::Text(body.to_owned()), Documented::Json)
    }

    fn matches(&self, body: &str) -> bool {
        match self {
            Documented::Json(expected) => {
                serde_json::from_str(body).is_ok_and(|actual: Value| matches(expected, &actual))
            }
            Documented::Text(expected) => body.strip_suffix('\n').unwrap_or(body) == expected,
        }
    }
}

/// `expected` with `"..."` wildcards; objects must have the same keys, arrays the same length.
fn matches(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::String(wildcard), _) if wildcard == "..." => true,
        (Value::Object(e), Value::Object(a)) => {
            e.len() == a.len()
                && e.iter()
                    .all(|(k, v)| a.get(k).is_some_and(|av| matches(v, av)))
        }
        (Value::Array(e), Value::Array(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|(ev, av)| matches(ev, av))
        }
        _ => expected == actual,
    }
}

async fn run(command: &str) -> (u16, String) {
    let output = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "{}\n{} -s -w '\\n%{{http_code}}'",
            day_line(),
            command.trim_end()
        ))
        .output()
        .await
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, status) = stdout
        .trim_end()
        .rsplit_once('\n')
        .unwrap_or(("", stdout.trim()));
    (status.parse().unwrap_or(0), body.to_owned())
}

/// The day the README's `DAY=` line gives today.
async fn day() -> String {
    let output = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(format!("{}\necho \"$DAY\"", day_line()))
        .output()
        .await
        .expect("bash runs");
    String::from_utf8(output.stdout)
        .expect("a day is text")
        .trim()
        .to_owned()
}

#[tokio::test]
async fn every_curl_example_in_the_readme_gives_its_documented_answer() {
    let stack = TestStack::spawn_with(StackOptions {
        // The defaults a reader runs with (the test kit keeps events for a century).
        extra_env: vec![("RETENTION_DAYS", "30".to_owned())],
        ..StackOptions::default()
    })
    .await;
    let day = day().await;
    assert_eq!(day.len(), "2026-11-30".len(), "DAY is {day:?}");
    let examples = examples();
    assert!(
        examples.len() >= 8,
        "found only {} examples",
        examples.len()
    );
    for example in examples {
        let documented = Documented::parse(&example.body.replace("${DAY}", &day));
        let command = example
            .command
            .replace("http://localhost:8080", &stack.ingestion_url)
            .replace("http://localhost:8081", &stack.query_url)
            .replace(
                "http://localhost:3100",
                &format!("http://{}", stack.protocol_addresses.loki),
            );
        if !example.setup.is_empty() {
            let port = stack
                .protocol_addresses
                .syslog_tcp
                .rsplit(':')
                .next()
                .unwrap();
            let setup = example.setup.replace("-P 5514", &format!("-P {port}"));
            let output = tokio::process::Command::new("bash")
                .arg("-c")
                .arg(&setup)
                .output()
                .await
                .expect("bash runs");
            assert!(
                output.status.success(),
                "README setup\n  {}\nfailed: {}",
                example.setup.trim(),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        // Reads may need a moment for the worker to store what was just ingested.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (status, body) = run(&command).await;
            if status == example.status && documented.matches(&body) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "README example\n  {}\ndocumented {} {:?}\nanswered   {status} {body}",
                example.command.trim(),
                example.status,
                documented
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

#[test]
fn text_and_empty_answers_match_exactly() {
    assert!(Documented::parse("").matches(""));
    assert!(!Documented::parse("").matches("x"));
    assert!(Documented::parse("ready").matches("ready\n"));
    assert!(!Documented::parse("ready").matches("ready now\n"));
    assert!(Documented::parse(r#"{"a":"..."}"#).matches(r#"{"a":1}"#));
}

#[test]
fn the_wildcard_matcher_is_strict_about_shape() {
    let expected: Value =
        serde_json::json!({"count": 1, "logs": [{"id": "...", "level": "ERROR"}]});
    assert!(matches(
        &expected,
        &serde_json::json!({"count": 1, "logs": [{"id": "x", "level": "ERROR"}]})
    ));
    assert!(!matches(
        &expected,
        &serde_json::json!({"count": 2, "logs": [{"id": "x", "level": "ERROR"}]})
    ));
    assert!(!matches(
        &expected,
        &serde_json::json!({"count": 1, "logs": []})
    ));
    assert!(!matches(
        &expected,
        &serde_json::json!({"count": 1, "logs": [{"id": "x", "level": "INFO"}]})
    ));
}
