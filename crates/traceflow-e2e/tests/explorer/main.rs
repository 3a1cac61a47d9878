//! The log explorer in a real browser: Debian's Chromium, driven by Playwright
//! (`ui/tests/`), against the three services of a [`TestStack`] with the events
//! `ui/tests/fixture.mjs` ingests through `POST /ingest`.
//!
//! Each test here starts a stack and runs `node ui/tests/run.mjs`, which seeds it and runs
//! one `node:test` file per point of what a user can do with the explorer; a failing browser
//! test leaves its screenshot in `target/explorer/failures/`. Needs `chromium` and the
//! packages of `ui/package-lock.json` (`scripts/test.sh` installs both).

use std::{path::PathBuf, process::Stdio};
use traceflow_testkit::{StackOptions, TestStack};

/// The repository's `ui/` folder.
fn ui_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ui")
}

/// Where screenshots go: `target/explorer` under the workspace's target folder.
fn artifacts_dir() -> PathBuf {
    // CARGO_TARGET_TMPDIR is `<target>/tmp`.
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("../explorer")
}

fn require_browser_tools() {
    assert!(
        ui_dir().join("node_modules/playwright-core").is_dir(),
        "the browser tests need ui/node_modules: run `npm ci` in ui/ (scripts/test.sh does)"
    );
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists(),
        "the browser tests need Debian's chromium: apt-get install chromium chromium-driver \
         (scripts/test.sh does)"
    );
}

/// Runs the browser tests named by `selection` (`--only <names>` or `--skip <names>`, see
/// `ui/tests/run.mjs`) against `stack`; panics unless every one passes.
async fn run_browser_tests(stack: &TestStack, selection: &[&str], api_key: Option<&str>) {
    require_browser_tools();
    let mut command = tokio::process::Command::new("node");
    command
        .arg("tests/run.mjs")
        .args(selection)
        .current_dir(ui_dir())
        .env("QUERY_URL", &stack.query_url)
        .env("INGESTION_URL", &stack.ingestion_url)
        .env("EXPLORER_ARTIFACTS", artifacts_dir())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    if let Some(key) = api_key {
        command.env("EXPLORER_API_KEY", key);
    }
    let status = command.status().await.expect("node runs");
    assert!(
        status.success(),
        "browser tests failed ({status}); screenshots in {}",
        artifacts_dir().join("failures").display()
    );
}

#[tokio::test]
async fn explorer_in_the_browser() {
    let stack = TestStack::spawn().await;
    run_browser_tests(&stack, &["--skip", "api-key,tenants"], None).await;
}

#[tokio::test]
async fn explorer_with_api_keys() {
    let key = "explorer-test-key";
    let stack = TestStack::spawn_with(StackOptions {
        extra_env: vec![("QUERY_API_KEYS", format!("another-key,{key}"))],
        ..StackOptions::default()
    })
    .await;
    run_browser_tests(&stack, &["--only", "api-key"], Some(key)).await;
}

#[tokio::test]
async fn explorer_with_a_key_of_two_tenants() {
    let key = "explorer-tenants-key";
    let directory = tempfile::tempdir().expect("a temporary directory");
    let keys_file = directory.path().join("keys.toml");
    // The tenants as ui/tests/tenants.test.mjs names them; the fixture is seeded as the first.
    std::fs::write(
        &keys_file,
        format!(
            "[[keys]]\nkey = \"{key}\"\ntenants = [\"acme\", \"beta\"]\nscopes = [\"ingest\", \"query\"]\n"
        ),
    )
    .expect("the keys file is written");
    let stack = TestStack::spawn_with(StackOptions::env(
        "KEYS_FILE",
        keys_file.display().to_string(),
    ))
    .await;
    run_browser_tests(&stack, &["--only", "tenants"], Some(key)).await;
}
