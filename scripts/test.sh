#!/usr/bin/env bash
# Installs what the tests need (Redis, ClickHouse, chDB and the current-ClickHouse adapter's
# packages, the OpenTelemetry Python SDK, the Elasticsearch clients) and runs the whole suite:
# every crate's tests against real servers (ClickHouse 18.16), then the end-to-end suites again
# on current ClickHouse (chDB behind ClickHouse's HTTP interface).
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
# The Elasticsearch tests' clients: the Python client (pip), rsyslog's omelasticsearch (apt), and
# syslog-ng's elasticsearch-http(): Debian's syslog-ng-core conflicts with rsyslog, so its packages
# are unpacked into .cache/syslog-ng (the tests run it from there) and only its libraries installed.
if ! python3 -c 'import elasticsearch' 2>/dev/null || ! dpkg -s rsyslog-elasticsearch >/dev/null 2>&1 ||
  { [ ! -x /usr/sbin/syslog-ng ] && [ ! -x .cache/syslog-ng/usr/sbin/syslog-ng ]; }; then
  echo "==> installing the Elasticsearch tests' clients (pip: elasticsearch; apt: rsyslog-elasticsearch; syslog-ng into .cache/syslog-ng)"
  python3 -m pip install -q --root-user-action=ignore -r crates/traceflow-e2e/tests/elasticsearch/requirements.txt
  as_root apt-get update -qq
  if dpkg -s syslog-ng-core >/dev/null 2>&1; then
    echo "    syslog-ng-core is this machine's logger: not replacing it with rsyslog (the rsyslog test will fail)"
  else
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rsyslog-elasticsearch >/dev/null
  fi
  if [ ! -x /usr/sbin/syslog-ng ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libivykis0 libnet1 libwrap0 libjson-c5 libcurl4 >/dev/null
    mkdir -p .cache/syslog-ng
    (cd .cache && apt-get download -qq syslog-ng-core syslog-ng-mod-http syslog-ng-scl 2>/dev/null &&
      for deb in syslog-ng-*.deb; do dpkg-deb -x "$deb" syslog-ng; done && rm -f syslog-ng-*.deb)
  fi
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
