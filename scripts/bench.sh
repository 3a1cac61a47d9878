#!/usr/bin/env bash
# The benchmark harness (docs/benchmarks.md): starts private Redis and ClickHouse and the
# three services in release mode, measures them and their anchors in one run, prints a
# table and writes target/bench/report.json. Options: --quick (about two minutes),
# --rows N (size of the GET /logs table), --reps N, --seconds N, --only LIST; see --help.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/packages.sh
# redis-benchmark ships with Debian's redis-tools (a dependency of redis-server); nginx-light
# is the HTTP anchor of the single-event scenario.
install_missing redis-server:redis-server redis-benchmark:redis-tools \
  clickhouse-server:clickhouse-server chromium:chromium nginx:nginx-light
# The explorer's page load runs in Chromium through the explorer's locked playwright-core.
if [ ! -d ui/node_modules/playwright-core ]; then
  (cd ui && npm ci --no-audit --no-fund --loglevel=error)
fi

exec cargo run --quiet --release -p traceflow-bench -- "$@"
