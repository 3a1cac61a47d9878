//! The explorer's page load on the query scenario's table: `ui/bench/page-load.mjs` opens
//! the page in Debian's Chromium (a fresh profile each load, so nothing is cached) and
//! reports when the first result rows were shown and every API call the page made; the
//! `GET /logs` call the page made is then timed from the harness too, so the page's own
//! cost can be read next to the search it waits for.

use super::{Bench, answer_context};
use crate::{
    load::Connection,
    report::{Report, Unit},
    stats::median,
};
use anyhow::{Context, ensure};
use serde::{Deserialize, Serialize};
use std::{
    path::{Path, PathBuf},
    time::Instant,
};

pub const FIRST_RESULTS: &str = "explorer page load: first results shown";

/// One load as `page-load.mjs` reports it.
#[derive(Debug, Deserialize, Serialize)]
struct Load {
    first_rows_ms: f64,
    dom_content_loaded_ms: f64,
    rows_shown: u64,
    api: Vec<ApiCall>,
}

#[derive(Debug, Deserialize, Serialize)]
struct ApiCall {
    path: String,
    started_ms: f64,
    duration_ms: f64,
}

impl Load {
    /// The search whose rows the page shows: its `GET /logs`.
    fn search(&self) -> Option<&ApiCall> {
        self.api
            .iter()
            .find(|call| call.path.starts_with("/logs?") || call.path == "/logs")
    }
}

/// The repository's `ui/` folder.
fn ui_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ui")
}

pub async fn run(bench: &mut Bench, report: &mut Report, rows: u64) -> anyhow::Result<()> {
    let ui = ui_dir();
    ensure!(
        ui.join("node_modules/playwright-core").is_dir(),
        "the page load needs ui/node_modules: run `npm ci` in ui/ (scripts/bench.sh does)"
    );
    ensure!(
        Path::new("/usr/bin/chromium").exists(),
        "the page load needs Debian's chromium (scripts/bench.sh installs it)"
    );
    let reps = bench.settings.reps;
    let output = tokio::process::Command::new("node")
        .arg("bench/page-load.mjs")
        .current_dir(&ui)
        .env("QUERY_URL", &bench.stack.query_url)
        .env("LOADS", reps.to_string())
        .kill_on_drop(true)
        .output()
        .await
        .context("node runs")?;
    ensure!(
        output.status.success(),
        "ui/bench/page-load.mjs failed: {}",
        String::from_utf8_lossy(&output.stderr).trim()
    );
    let loads: Vec<Load> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()
        .context("page-load.mjs printed something other than its JSON lines")?;
    ensure!(
        loads.len() == reps,
        "{} of {reps} loads reported",
        loads.len()
    );
    let last = loads.last().expect("at least one load");
    let search = last
        .search()
        .context("the page made no GET /logs call")?
        .path
        .clone();

    // The same search from the harness, one request after another on a keep-alive
    // connection, as the query scenario times its searches.
    let mut connection = Connection::open(&bench.query).await?;
    let mut direct = Vec::with_capacity(reps);
    for _ in 0..reps {
        let started = Instant::now();
        let answer = connection.get(&search).await?;
        ensure!(
            answer.status == 200,
            answer_context(&format!("GET {search}"), &answer)
        );
        direct.push(started.elapsed().as_secs_f64() * 1e3);
    }

    let first_rows: Vec<f64> = loads.iter().map(|l| l.first_rows_ms).collect();
    let in_browser: Vec<f64> = loads
        .iter()
        .filter_map(|l| l.search().map(|s| s.duration_ms))
        .collect();
    let calls: Vec<&str> = last
        .api
        .iter()
        .map(|call| call.path.split('?').next().unwrap_or(&call.path))
        .collect();
    report.figure(
        "query",
        FIRST_RESULTS,
        median(first_rows.iter().copied()),
        Unit::Millis,
        format!(
            "{reps} loads of / (the last hour of the {rows}-row table), a fresh Chromium profile \
             each, from navigation to the first rows on the page; DOM loaded at {:.0} ms \
             (median); {} rows shown; the page asks {}; loads {}",
            median(loads.iter().map(|l| l.dom_content_loaded_ms)).unwrap_or_default(),
            last.rows_shown,
            calls.join(", "),
            super::runs(&first_rows, |v| format!("{v:.0}"))
        ),
    );
    report.figure(
        "query",
        "  its GET /logs, in the browser",
        median(in_browser.iter().copied()),
        Unit::Millis,
        format!("request start to response end; {search}"),
    );
    report.figure(
        "query",
        "  the same GET /logs from the harness",
        median(direct.iter().copied()),
        Unit::Millis,
        format!("{reps} requests on a keep-alive connection"),
    );
    report.detail(
        "explorer",
        serde_json::json!({"loads": loads, "search": search, "harness_ms": direct}),
    );
    Ok(())
}
