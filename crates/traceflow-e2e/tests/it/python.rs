//! Real Python clients: a script of `tests/<protocol>/` run with arguments, printing one JSON
//! object with what the test needs to check.

use serde_json::Value;
use std::path::Path;

/// Runs `tests/<protocol>/<script>` with `args`; returns the JSON object it printed. Fails
/// with what to install when its packages (`tests/<protocol>/requirements.txt`) are missing,
/// and with its output when it fails.
pub async fn run(protocol: &str, script: &str, args: &[&str]) -> Value {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(protocol);
    let output = tokio::process::Command::new("python3")
        .arg(directory.join(script))
        .args(args)
        .output()
        .await
        .expect("python3 runs (scripts/test.sh installs what the tests need)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("ModuleNotFoundError"),
        "{script} is missing packages; run scripts/test.sh or `python3 -m pip install -r \
         crates/traceflow-e2e/tests/{protocol}/requirements.txt`:\n{stderr}"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{script} {args:?} failed:\n{stdout}\n{stderr}"
    );
    serde_json::from_str(stdout.trim()).expect("the script prints one JSON object")
}
