#!/usr/bin/env bash
# Runs the whole Traceflow system on this machine, without Docker (made for Debian 12):
#
#   1. installs redis-server and clickhouse-server with apt-get if they are missing;
#   2. starts Redis and ClickHouse with their data and logs under .data/ (or reuses a
#      Redis / ClickHouse already answering on the configured port);
#   3. builds the services once (cargo build --release -p ingestion -p worker -p query);
#   4. starts the worker, then ingestion and query, logging to .data/logs/*.log and
#      following those logs on the terminal.
#
# Ctrl-C (or SIGTERM) stops everything this script started, and nothing it did not.
# If one of the programs it started exits on its own, everything else is stopped too.
#
# Usage: scripts/up.sh [--infra-only]      (from any directory)
#   --infra-only   start Redis and ClickHouse only, e.g. to run the services with
#                  `cargo run -p worker` yourself; Ctrl-C stops them.
#
# Settings come from the environment, then from the repository's .env, then defaults:
#   INGESTION_PORT [8080]  QUERY_PORT [8081]  GRPC_PORT [50051]  WORKER_HTTP_PORT [8082]
#   REDIS_PORT [6379]  CLICKHOUSE_HTTP_PORT [8123]  CLICKHOUSE_TCP_PORT [9000]
#   CLICKHOUSE_INTERSERVER_PORT [9009]  (ClickHouse opens it too; it must be free)
#   TRACEFLOW_DATA_DIR [<repo>/.data]   (environment only)
# The script points the services at what it runs: it exports REDIS_ADDR, CLICKHOUSE_URL
# and WORKER_ADDR built from the ports above (they win over .env). The services read
# every other setting (BATCH_SIZE, RUST_LOG, CLICKHOUSE_PASSWORD, ...) themselves.

set -euo pipefail

# ------------------------------------------------------------------------------ helpers

say() { printf '[up] %s\n' "$*"; }
warn() { printf '[up] warning: %s\n' "$*" >&2; }
die() {
    printf '[up] error: %s\n' "$*" >&2
    exit 1
}

usage() { sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

INFRA_ONLY=0
for arg in "$@"; do
    case $arg in
        --infra-only) INFRA_ONLY=1 ;;
        -h | --help)
            usage
            exit 0
            ;;
        *) die "unknown argument: $arg (try --help)" ;;
    esac
done

# The data directory is resolved against the directory the script was started from;
# everything else against the repository root, where the script moves to.
DATA_DIR=${TRACEFLOW_DATA_DIR:-}
if [[ -n $DATA_DIR && $DATA_DIR != /* ]]; then
    DATA_DIR="$PWD/$DATA_DIR"
fi
ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"
DATA_DIR=${DATA_DIR:-$ROOT/.data}
LOG_DIR="$DATA_DIR/logs"

# Value of KEY in the repository's .env (dotenv syntax: KEY=value, optional `export `,
# optional quotes, # comments); empty if absent.
dotenv_value() {
    local key=$1 line value=
    [[ -f $ROOT/.env ]] || return 0
    while IFS= read -r line || [[ -n $line ]]; do
        line=${line%$'\r'}
        if [[ $line =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*=[[:space:]]*(.*)$ ]] &&
            [[ ${BASH_REMATCH[2]} == "$key" ]]; then
            value=${BASH_REMATCH[3]}
            if [[ $value =~ ^\"(.*)\"[[:space:]]*(#.*)?$ || $value =~ ^\'(.*)\'[[:space:]]*(#.*)?$ ]]; then
                value=${BASH_REMATCH[1]}
            else
                value=${value%%[[:space:]]#*}
                value=${value%"${value##*[![:space:]]}"}
            fi
        fi
    done <"$ROOT/.env"
    printf '%s' "$value"
}

# setting NAME DEFAULT: the environment's value, else .env's, else DEFAULT; must be a port.
port_setting() {
    local name=$1 default=$2 value
    value=${!name:-}
    [[ -n $value ]] || value=$(dotenv_value "$name")
    [[ -n $value ]] || value=$default
    if ! [[ $value =~ ^[0-9]{1,5}$ ]] || ((10#$value < 1 || 10#$value > 65535)); then
        die "$name must be a port number (1-65535), got '$value'"
    fi
    printf '%d' "$((10#$value))"
}

INGESTION_PORT=$(port_setting INGESTION_PORT 8080)
QUERY_PORT=$(port_setting QUERY_PORT 8081)
GRPC_PORT=$(port_setting GRPC_PORT 50051)
WORKER_HTTP_PORT=$(port_setting WORKER_HTTP_PORT 8082)
REDIS_PORT=$(port_setting REDIS_PORT 6379)
CLICKHOUSE_HTTP_PORT=$(port_setting CLICKHOUSE_HTTP_PORT 8123)
CLICKHOUSE_TCP_PORT=$(port_setting CLICKHOUSE_TCP_PORT 9000)
CLICKHOUSE_INTERSERVER_PORT=$(port_setting CLICKHOUSE_INTERSERVER_PORT 9009)

# Does something accept TCP connections on 127.0.0.1:PORT?
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Fails unless PORT is free. NAME is the variable that sets it.
require_free_port() {
    local port=$1 name=$2 what=$3
    if port_in_use "$port"; then
        die "port $port ($name, for $what) is already in use by another program; stop it or set $name to a free port"
    fi
}

redis_answers() {
    [[ $(timeout 3 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]
}

clickhouse_answers() {
    [[ $(curl -sS --max-time 3 "http://127.0.0.1:$CLICKHOUSE_HTTP_PORT/ping" 2>/dev/null) == Ok.* ]]
}

http_answers() { curl -s -o /dev/null --max-time 3 "http://127.0.0.1:$1/health"; }

# Where a program is, also in sbin directories a non-root PATH may lack.
find_program() {
    local name=$1 dir
    if command -v "$name" >/dev/null 2>&1; then
        command -v "$name"
        return 0
    fi
    for dir in /usr/sbin /sbin /usr/local/sbin; do
        if [[ -x $dir/$name ]]; then
            printf '%s\n' "$dir/$name"
            return 0
        fi
    done
    return 1
}

# ------------------------------------------------------------ processes and shutdown

# Programs this script started, in start order: pid and name, parallel arrays.
STARTED_PIDS=()
STARTED_NAMES=()
TAIL_PID=
BUILD_PID=

remember() {
    STARTED_PIDS+=("$1")
    STARTED_NAMES+=("$2")
}

name_of() {
    local i
    for i in "${!STARTED_PIDS[@]}"; do
        if [[ ${STARTED_PIDS[i]} == "$1" ]]; then
            printf '%s' "${STARTED_NAMES[i]}"
            return
        fi
    done
    printf 'pid %s' "$1"
}

# stop_process PID NAME SECONDS [TARGET]: SIGTERM to TARGET (default PID; -PID for the
# process group PID leads), wait up to SECONDS for PID, then SIGKILL; reaps it.
stop_process() {
    local pid=$1 name=$2 seconds=$3 target=${4:-$1} tenths=0
    [[ -n $pid ]] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        say "stopping $name (pid $pid)"
        kill -TERM -- "$target" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null; do
            if ((tenths >= seconds * 10)); then
                warn "$name did not stop within ${seconds}s; killing it"
                kill -KILL -- "$target" 2>/dev/null || true
                break
            fi
            sleep 0.1
            tenths=$((tenths + 1))
        done
    fi
    wait "$pid" 2>/dev/null || true
}

# Stops, in reverse order of dependence, exactly the programs this script started:
# the HTTP services first, then the worker (it finishes its batch while Redis and
# ClickHouse are still up), then Redis and ClickHouse.
cleanup() {
    local status=$? i name
    trap '' INT TERM # a second Ctrl-C must not cut the shutdown short
    set +e
    # The build runs in a process group of its own: stop cargo and its rustc children.
    stop_process "$BUILD_PID" "cargo build" 10 "-$BUILD_PID"
    for name in ingestion query worker redis clickhouse; do
        for i in "${!STARTED_PIDS[@]}"; do
            if [[ ${STARTED_NAMES[i]} == "$name" ]]; then
                stop_process "${STARTED_PIDS[i]}" "$name" 30
            fi
        done
    done
    if [[ -n $TAIL_PID ]]; then
        sleep 0.3 # let it show the last lines
        kill -TERM "$TAIL_PID" 2>/dev/null
        wait "$TAIL_PID" 2>/dev/null
    fi
    if ((${#STARTED_PIDS[@]})); then
        say "stopped everything this script started (logs are in $LOG_DIR)"
    fi
    exit "$status"
}

on_signal() {
    printf '\n'
    say "received SIG$1, shutting down"
    [[ $1 == INT ]] && exit 130
    exit 143
}

trap cleanup EXIT
trap 'on_signal INT' INT
trap 'on_signal TERM' TERM

# wait_for NAME PID SECONDS LOG CHECK...: polls CHECK until it succeeds; fails if PID
# exits first or SECONDS pass, showing the end of LOG.
wait_for() {
    local name=$1 pid=$2 seconds=$3 log=$4 tenths=0
    shift 4
    until "$@"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            local status=0
            wait "$pid" 2>/dev/null || status=$?
            show_log_tail "$log"
            die "$name exited (status $status) before it was ready; its log: $log"
        fi
        if ((tenths >= seconds * 10)); then
            show_log_tail "$log"
            die "$name was not ready within ${seconds}s; its log: $log"
        fi
        sleep 0.1
        tenths=$((tenths + 1))
    done
}

show_log_tail() {
    [[ -s $1 ]] || return 0
    printf '[up] --- last lines of %s ---\n' "$1" >&2
    tail -n 20 "$1" >&2
    printf '[up] ---\n' >&2
}

# --------------------------------------------------------------------- installation

install_missing_packages() {
    local missing=() sudo=()
    find_program redis-server >/dev/null || missing+=(redis-server)
    find_program redis-cli >/dev/null || missing+=(redis-tools)
    find_program clickhouse-server >/dev/null || missing+=(clickhouse-server)
    command -v curl >/dev/null 2>&1 || missing+=(curl)
    ((${#missing[@]})) || return 0
    command -v apt-get >/dev/null 2>&1 ||
        die "missing ${missing[*]} and no apt-get to install them; install them and run again"
    if ((EUID != 0)); then
        command -v sudo >/dev/null 2>&1 ||
            die "missing ${missing[*]}; run as root or install sudo, or install them yourself"
        sudo=(sudo)
    fi
    say "installing ${missing[*]} with apt-get"
    "${sudo[@]}" apt-get update
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
}

# ------------------------------------------------------------------- infrastructure

REDIS_STARTED=0
CLICKHOUSE_STARTED=0

start_redis() {
    if redis_answers; then
        say "Redis already answers on 127.0.0.1:$REDIS_PORT (not started by this script): using it, and leaving it running"
        return
    fi
    require_free_port "$REDIS_PORT" REDIS_PORT Redis
    local dir="$DATA_DIR/redis" log="$LOG_DIR/redis.log" redis_server
    redis_server=$(find_program redis-server)
    mkdir -p "$dir"
    : >"$log"
    say "starting Redis on 127.0.0.1:$REDIS_PORT (data: $dir, log: $log)"
    # setsid: its own session, so a terminal Ctrl-C reaches only this script, which
    # then stops the programs in order.
    setsid "$redis_server" --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$dir" \
        --appendonly yes --appendfsync everysec --save "" --daemonize no \
        >>"$log" 2>&1 </dev/null &
    remember $! redis
    REDIS_STARTED=1
    wait_for Redis $! 30 "$log" redis_answers
    say "Redis is ready"
}

start_clickhouse() {
    if clickhouse_answers; then
        say "ClickHouse already answers on http://127.0.0.1:$CLICKHOUSE_HTTP_PORT (not started by this script): using it, and leaving it running"
        return
    fi
    require_free_port "$CLICKHOUSE_HTTP_PORT" CLICKHOUSE_HTTP_PORT "ClickHouse HTTP"
    require_free_port "$CLICKHOUSE_TCP_PORT" CLICKHOUSE_TCP_PORT "ClickHouse native protocol"
    require_free_port "$CLICKHOUSE_INTERSERVER_PORT" CLICKHOUSE_INTERSERVER_PORT "ClickHouse interserver HTTP"
    local dir="$DATA_DIR/clickhouse" log="$LOG_DIR/clickhouse.log" clickhouse_server
    local config=/etc/clickhouse-server/config.xml
    [[ -r $config ]] || die "cannot read $config (is clickhouse-server installed?)"
    clickhouse_server=$(find_program clickhouse-server)
    mkdir -p "$dir/tmp" "$dir/user_files" "$dir/format_schemas"
    : >"$log"
    : >"$LOG_DIR/clickhouse.err.log"
    : >"$LOG_DIR/clickhouse.stdout.log"
    say "starting ClickHouse on http://127.0.0.1:$CLICKHOUSE_HTTP_PORT (data: $dir, log: $log)"
    # The packaged config.xml, with every path and port overridden on the command line
    # (after `--`), so nothing is written outside the data directory.
    setsid "$clickhouse_server" --config-file="$config" -- \
        --http_port="$CLICKHOUSE_HTTP_PORT" \
        --tcp_port="$CLICKHOUSE_TCP_PORT" \
        --interserver_http_port="$CLICKHOUSE_INTERSERVER_PORT" \
        --path="$dir/" \
        --tmp_path="$dir/tmp/" \
        --user_files_path="$dir/user_files/" \
        --format_schema_path="$dir/format_schemas/" \
        --logger.log="$log" \
        --logger.errorlog="$LOG_DIR/clickhouse.err.log" \
        >>"$LOG_DIR/clickhouse.stdout.log" 2>&1 </dev/null &
    remember $! clickhouse
    CLICKHOUSE_STARTED=1
    wait_for ClickHouse $! 120 "$LOG_DIR/clickhouse.err.log" clickhouse_answers
    say "ClickHouse is ready ($(curl -sS --max-time 3 "http://127.0.0.1:$CLICKHOUSE_HTTP_PORT/?query=SELECT%20version()" 2>/dev/null || echo 'version unknown'))"
}

# ------------------------------------------------------------------------- services

build_services() {
    command -v cargo >/dev/null 2>&1 ||
        die "cargo not found: install Rust (https://rustup.rs) and run again"
    say "building the services: cargo build --release -p ingestion -p worker -p query"
    # In the background and in a session of its own, so that a signal to this script is
    # handled at once and the cleanup can stop cargo together with its rustc processes.
    setsid cargo build --release -p ingestion -p worker -p query </dev/null &
    BUILD_PID=$!
    local status=0
    wait "$BUILD_PID" || status=$?
    BUILD_PID=
    ((status == 0)) || die "the build failed (status $status)"
}

# start_service NAME PORT PORT_VARIABLE: starts target/release/NAME logging to its file.
start_service() {
    local name=$1 port=$2 variable=$3 log="$LOG_DIR/$1.log"
    local binary="$TARGET_DIR/release/$name"
    [[ -x $binary ]] || die "$binary is missing after the build"
    require_free_port "$port" "$variable" "$name"
    : >"$log"
    say "starting $name on port $port (log: $log)"
    setsid "$binary" >>"$log" 2>&1 </dev/null &
    remember $! "$name"
}

port_answers() { port_in_use "$1"; }

start_services() {
    TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
    [[ $TARGET_DIR == /* ]] || TARGET_DIR="$ROOT/$TARGET_DIR"

    export REDIS_ADDR="127.0.0.1:$REDIS_PORT"
    export CLICKHOUSE_URL="http://127.0.0.1:$CLICKHOUSE_HTTP_PORT"
    export WORKER_ADDR="http://127.0.0.1:$GRPC_PORT"
    export INGESTION_PORT QUERY_PORT GRPC_PORT WORKER_HTTP_PORT

    local log
    for log in worker ingestion query; do : >"$LOG_DIR/$log.log"; done
    # Follow the three logs on the terminal (the files keep them).
    tail -n +1 -F "$LOG_DIR/worker.log" "$LOG_DIR/ingestion.log" "$LOG_DIR/query.log" &
    TAIL_PID=$!

    start_service worker "$GRPC_PORT" GRPC_PORT
    # The worker waits for ClickHouse and applies the migrations before it serves.
    wait_for worker "${STARTED_PIDS[-1]}" 120 "$LOG_DIR/worker.log" port_answers "$GRPC_PORT"
    start_service ingestion "$INGESTION_PORT" INGESTION_PORT
    local ingestion_pid=${STARTED_PIDS[-1]}
    start_service query "$QUERY_PORT" QUERY_PORT
    local query_pid=${STARTED_PIDS[-1]}
    wait_for ingestion "$ingestion_pid" 60 "$LOG_DIR/ingestion.log" http_answers "$INGESTION_PORT"
    wait_for query "$query_pid" 60 "$LOG_DIR/query.log" http_answers "$QUERY_PORT"
}

print_summary() {
    local clickhouse_note="" redis_note=""
    ((CLICKHOUSE_STARTED)) && clickhouse_note=", data in $DATA_DIR/clickhouse"
    ((REDIS_STARTED)) && redis_note=", data in $DATA_DIR/redis"
    cat <<EOF

[up] ================================================================ Traceflow is up
[up]   Redis        127.0.0.1:$REDIS_PORT$redis_note
[up]   ClickHouse   http://127.0.0.1:$CLICKHOUSE_HTTP_PORT (native port $CLICKHOUSE_TCP_PORT)$clickhouse_note
EOF
    if ((INFRA_ONLY)); then
        cat <<EOF
[up] Run the services yourself with these addresses, e.g.:
[up]   REDIS_ADDR=127.0.0.1:$REDIS_PORT CLICKHOUSE_URL=http://127.0.0.1:$CLICKHOUSE_HTTP_PORT cargo run -p worker
[up] Press Ctrl-C to stop what this script started.

EOF
        return
    fi
    cat <<EOF
[up]   worker       gRPC 127.0.0.1:$GRPC_PORT, http://127.0.0.1:$WORKER_HTTP_PORT   (GET /metrics, GET /health)
[up]   ingestion    http://127.0.0.1:$INGESTION_PORT   (POST /ingest, GET /health, GET /metrics; OTLP/HTTP POST /v1/logs also on :${OTLP_PORT:-4318})
[up]   query        http://127.0.0.1:$QUERY_PORT   (GET /logs, GET /health, GET /metrics)
[up]   logs         $LOG_DIR/
[up] Try:
[up]   curl -i -X POST http://127.0.0.1:$INGESTION_PORT/ingest -H 'Content-Type: application/json' -d '{"service":"auth-service","level":"ERROR","message":"DB connection failed","metadata":{"user_id":"42"}}'
[up]   curl 'http://127.0.0.1:$QUERY_PORT/logs?service=auth-service&level=ERROR'
[up] Press Ctrl-C to stop everything.

EOF
}

# Waits until one of the programs this script started exits, then reports it (the
# EXIT trap stops the rest). Signals interrupt the wait and run their trap.
watch_children() {
    local pid status
    if ((${#STARTED_PIDS[@]} == 0)); then
        say "nothing was started by this script, so there is nothing to watch; exiting"
        return 0
    fi
    status=0
    wait -n -p pid "${STARTED_PIDS[@]}" || status=$?
    die "$(name_of "$pid") exited unexpectedly (status $status); stopping the rest"
}

# Fails early, before any install or build, on ports that clash or are taken.
check_ports() {
    local -A seen=()
    local entry name port
    local entries=(REDIS_PORT CLICKHOUSE_HTTP_PORT CLICKHOUSE_TCP_PORT CLICKHOUSE_INTERSERVER_PORT)
    ((INFRA_ONLY)) || entries+=(GRPC_PORT WORKER_HTTP_PORT INGESTION_PORT QUERY_PORT)
    for name in "${entries[@]}"; do
        port=${!name}
        [[ -z ${seen[$port]:-} ]] || die "$name and ${seen[$port]} are both $port; give each its own port"
        seen[$port]=$name
    done
    if ((!INFRA_ONLY)); then
        for entry in GRPC_PORT:worker WORKER_HTTP_PORT:worker INGESTION_PORT:ingestion QUERY_PORT:query; do
            name=${entry%%:*}
            require_free_port "${!name}" "$name" "${entry#*:}"
        done
    fi
}

# The ports Redis and ClickHouse need, unless one already answers there (it is reused).
check_infrastructure_ports() {
    redis_answers || require_free_port "$REDIS_PORT" REDIS_PORT Redis
    if ! clickhouse_answers; then
        require_free_port "$CLICKHOUSE_HTTP_PORT" CLICKHOUSE_HTTP_PORT "ClickHouse HTTP"
        require_free_port "$CLICKHOUSE_TCP_PORT" CLICKHOUSE_TCP_PORT "ClickHouse native protocol"
        require_free_port "$CLICKHOUSE_INTERSERVER_PORT" CLICKHOUSE_INTERSERVER_PORT "ClickHouse interserver HTTP"
    fi
}

# ----------------------------------------------------------------------------- main

check_ports
mkdir -p "$LOG_DIR"
install_missing_packages
check_infrastructure_ports
start_redis
start_clickhouse
if ((!INFRA_ONLY)); then
    build_services
    start_services
fi
print_summary
watch_children
