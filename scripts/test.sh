#!/usr/bin/env bash
# Installs what the tests need (Redis, ClickHouse, chDB and the current-ClickHouse adapter's
# packages, the OpenTelemetry Python SDK, the Loki clients) and runs the whole suite: every
# crate's tests against real servers (ClickHouse 18.16), then the end-to-end suites again on
# current ClickHouse (chDB behind ClickHouse's HTTP interface).
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/packages.sh
install_missing redis-server:redis-server clickhouse-server:clickhouse-server
if ! python3 -c 'import chdb, lz4.frame, clickhouse_cityhash.cityhash' 2>/dev/null; then
  echo "==> installing the current-ClickHouse adapter's packages (pip)"
  python3 -m pip install -q --root-user-action=ignore -r crates/traceflow-testkit/current-clickhouse/requirements.txt
fi
if ! python3 -c 'import opentelemetry.sdk, opentelemetry.exporter.otlp.proto.http, opentelemetry.exporter.otlp.json.http' 2>/dev/null; then
  echo "==> installing the OpenTelemetry Python SDK and OTLP exporters (pip, for the OTLP tests)"
  python3 -m pip install -q --root-user-action=ignore -r crates/traceflow-e2e/tests/otlp/requirements.txt
fi
loki_clients=crates/traceflow-e2e/tests/loki
if ! python3 -c 'import logging_loki' 2>/dev/null || [ ! -d "$loki_clients/node_modules/pino-loki" ]; then
  echo "==> installing the Loki clients (python-logging-loki with pip, pino-loki with npm, for the Loki tests)"
  python3 -m pip install -q --root-user-action=ignore -r "$loki_clients/requirements.txt"
  (cd "$loki_clients" && npm ci --no-audit --no-fund --silent)
fi

echo "==> cargo test"
cargo test --workspace --all-targets

echo "==> end-to-end suites on current ClickHouse (TEST_CLICKHOUSE=current)"
started=$SECONDS
status=0
# Both suites whatever the first gives, and the time either way.
TEST_CLICKHOUSE=current cargo test --no-fail-fast -p traceflow-e2e --test it --test faults || status=$?
echo "==> current ClickHouse: end-to-end suites took $((SECONDS - started)) s"
exit "$status"
