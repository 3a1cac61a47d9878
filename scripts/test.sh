#!/usr/bin/env bash
# Installs what the tests need (Redis, ClickHouse, chDB and the current-ClickHouse adapter's
# packages, the OpenTelemetry Python SDK, Chromium and the explorer's npm packages) and runs the
# whole suite: the explorer's bundle rebuilt from source and compared with the committed one,
# every crate's tests against real servers (ClickHouse 18.16; the explorer's browser tests
# among them), then the end-to-end suites again on current ClickHouse (chDB behind
# ClickHouse's HTTP interface), the browser tests included.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/packages.sh
install_missing redis-server:redis-server clickhouse-server:clickhouse-server \
  chromium:chromium chromedriver:chromium-driver
if ! python3 -c 'import chdb, lz4.frame, clickhouse_cityhash.cityhash' 2>/dev/null; then
  echo "==> installing the current-ClickHouse adapter's packages (pip)"
  python3 -m pip install -q --root-user-action=ignore -r crates/traceflow-testkit/current-clickhouse/requirements.txt
fi
if ! python3 -c 'import opentelemetry.sdk, opentelemetry.exporter.otlp.proto.http, opentelemetry.exporter.otlp.json.http' 2>/dev/null; then
  echo "==> installing the OpenTelemetry Python SDK and OTLP exporters (pip, for the OTLP tests)"
  python3 -m pip install -q --root-user-action=ignore -r crates/traceflow-e2e/tests/otlp/requirements.txt
fi

echo "==> the explorer's bundle, rebuilt from source (npm ci: the locked packages)"
(cd ui && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)
if ! git diff --quiet -- ui/dist || [ -n "$(git ls-files --others --exclude-standard -- ui/dist)" ]; then
  git status --short -- ui/dist
  echo "ui/dist differs from a build of ui/src: run 'npm run build' in ui/ and commit ui/dist" >&2
  exit 1
fi

echo "==> cargo test"
cargo test --workspace --all-targets

echo "==> end-to-end suites on current ClickHouse (TEST_CLICKHOUSE=current)"
started=$SECONDS
status=0
# Every suite whatever the first gives, and the time either way.
TEST_CLICKHOUSE=current cargo test --no-fail-fast -p traceflow-e2e --test it --test faults --test explorer || status=$?
echo "==> current ClickHouse: end-to-end suites took $((SECONDS - started)) s"
exit "$status"
