#!/usr/bin/env bash
# Installs what the tests need (Redis, ClickHouse, ZooKeeper, docker-compose, logger, rsyslog and syslog-ng, chDB and the
# current-ClickHouse adapter's packages, the OpenTelemetry Python SDK, the Elasticsearch and
# Loki clients, Chromium and the explorer's npm packages) and runs the whole suite: the
# explorer's bundle rebuilt from source and compared with the committed one, every crate's
# tests against real servers (ClickHouse 18.16, and a cluster of four 18.16 servers with ZooKeeper; the explorer's browser tests among them),
# then the end-to-end suites again on current ClickHouse (chDB behind ClickHouse's HTTP
# interface), the browser tests included.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/packages.sh
install_missing redis-server:redis-server clickhouse-server:clickhouse-server \
  chromium:chromium chromedriver:chromium-driver
# The syslog tests' real client besides rsyslog (below): util-linux logger.
install_missing logger:bsdutils
# The ClickHouse cluster tests' ZooKeeper: Debian's, which the test kit runs from its jar.
if [ ! -f /usr/share/java/zookeeper.jar ]; then
  echo "==> installing zookeeper (apt, for the ClickHouse cluster tests)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zookeeper >/dev/null
fi
# The compose files' check: Debian's docker-compose (its `config`; no Docker engine needed).
if ! command -v docker-compose >/dev/null; then
  echo "==> installing docker-compose (apt, without the Docker engine, for the compose files' check)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
fi
if ! python3 -c 'import chdb, lz4.frame, clickhouse_cityhash.cityhash' 2>/dev/null; then
  echo "==> installing the current-ClickHouse adapter's packages (pip)"
  python3 -m pip install -q --root-user-action=ignore -r crates/traceflow-testkit/current-clickhouse/requirements.txt
fi
if ! python3 -c 'import opentelemetry.sdk, opentelemetry.exporter.otlp.proto.http, opentelemetry.exporter.otlp.json.http, opentelemetry.exporter.otlp.proto.grpc' 2>/dev/null; then
  echo "==> installing the OpenTelemetry Python SDK and OTLP exporters (pip, for the OTLP tests)"
  python3 -m pip install -q --root-user-action=ignore -r crates/traceflow-e2e/tests/otlp/requirements.txt
fi
# The Elasticsearch and syslog tests' clients: the Python client (pip), and rsyslog (omfwd,
# omelasticsearch) and syslog-ng's elasticsearch-http(). Debian's rsyslog and syslog-ng conflict (each is the system
# logger), so neither is installed: their packages are unpacked into .cache/ (the tests run them
# from there, leaving the machine's own logger alone) and only their libraries are installed.
if ! python3 -c 'import elasticsearch' 2>/dev/null || [ ! -x .cache/rsyslog/usr/sbin/rsyslogd ] ||
  [ ! -x .cache/syslog-ng/usr/sbin/syslog-ng ]; then
  echo "==> installing the Elasticsearch tests' clients (pip: elasticsearch; rsyslog and syslog-ng unpacked into .cache/)"
  python3 -m pip install -q --root-user-action=ignore -r crates/traceflow-e2e/tests/elasticsearch/requirements.txt
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libestr0 libfastjson4 liblognorm5 \
    libuuid1 libzstd1 libcurl4 libivykis0 libnet1 libwrap0 libjson-c5 >/dev/null
  unpack() { # unpack DIRECTORY PACKAGE...: Debian's packages, unpacked into .cache/DIRECTORY
    local directory=".cache/$1"
    shift
    rm -rf "$directory" && mkdir -p "$directory"
    (cd "$directory" && apt-get download -qq "$@" 2>/dev/null &&
      for deb in ./*.deb; do dpkg-deb -x "$deb" .; done && rm -f ./*.deb)
  }
  unpack rsyslog rsyslog rsyslog-elasticsearch
  unpack syslog-ng syslog-ng-core syslog-ng-mod-http syslog-ng-scl
fi
loki_clients=crates/traceflow-e2e/tests/loki
if ! python3 -c 'import logging_loki' 2>/dev/null || [ ! -d "$loki_clients/node_modules/pino-loki" ]; then
  echo "==> installing the Loki clients (python-logging-loki with pip, pino-loki with npm, for the Loki tests)"
  python3 -m pip install -q --root-user-action=ignore -r "$loki_clients/requirements.txt"
  (cd "$loki_clients" && npm ci --no-audit --no-fund --silent)
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
