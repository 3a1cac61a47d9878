#!/usr/bin/env bash
# The benchmark harness (docs/benchmarks.md): starts private Redis and ClickHouse and the
# three services in release mode, measures them and their anchors in one run, prints a
# table and writes target/bench/report.json. Options: --quick (about two minutes),
# --rows N (size of the GET /logs table), --reps N, --seconds N, --only LIST; see --help.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# redis-benchmark ships with Debian's redis-tools (a dependency of redis-server).
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v redis-benchmark >/dev/null || missing+=(redis-tools)
command -v clickhouse-server >/dev/null || [ -x /usr/sbin/clickhouse-server ] || missing+=(clickhouse-server)
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing ${missing[*]} (apt)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

exec cargo run --quiet --release -p traceflow-bench -- "$@"
