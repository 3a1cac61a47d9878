#!/usr/bin/env python3
"""Checks that the storage crate's SQL works on current ClickHouse, without a server.

Runs `cargo run -q -p traceflow-storage --example emit_sql` to get every migration statement
and every query shape the query service can emit, then, in chDB (ClickHouse embedded in this
process; `pip install chdb-core`) with a fresh database in a temporary directory:

1. applies every migration statement in order (all of them: current ClickHouse meets every
   `-- requires:`);
2. inserts sample rows into `logs`, one value for every column the crate's `LogRow` writes;
3. runs every query in the `observability` database, as the client does, and for `GET /logs`
   searches compares the rows with what the search must return (filters inclusive, newest
   first, then offset/limit), so an injection or a wrong millisecond bound shows up.

Prints one line per check (`ok   ...` or `FAIL ...: <error>`), then `N passed, M failed`;
exits 1 if anything failed, 2 if the check could not run at all.

Usage: python3 scripts/check_current_clickhouse.py [--sql-json FILE]
  --sql-json FILE  read the example's output from FILE ("-" for stdin) instead of running cargo
Python 3.11+, standard library and chdb only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EMIT_COMMAND = ["cargo", "run", "-q", "-p", "traceflow-storage", "--example", "emit_sql"]


def fail_to_run(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def import_chdb():
    try:
        import chdb
        from chdb import session
    except ImportError as error:
        fail_to_run(
            f"cannot import chdb ({error}).\n"
            "This check runs current ClickHouse in-process with chDB; install it with\n"
            "    pip install chdb-core\n"
            f"(for this interpreter: {sys.executable} -m pip install chdb-core)"
        )
    return chdb, session


def load_sql(source: str | None) -> dict:
    if source == "-":
        text = sys.stdin.read()
    elif source:
        text = Path(source).read_text()
    else:
        cargo = os.environ.get("CARGO", "cargo")
        command = [cargo, *EMIT_COMMAND[1:]]
        result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
        if result.returncode != 0:
            fail_to_run(f"`{' '.join(command)}` failed (exit {result.returncode}):\n{result.stderr}")
        text = result.stdout
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        fail_to_run(f"the example's output is not JSON: {error}\n{text[:2000]}")


# --- sample data -------------------------------------------------------------------------

@dataclass
class Sample:
    at: str  # RFC 3339, UTC, milliseconds
    event_id: str
    service: str
    level: str
    message: str
    trace_id: str
    metadata: dict[str, str]

    @property
    def instant(self) -> datetime:
        return datetime.fromisoformat(self.at.replace("Z", "+00:00"))

    @property
    def key(self) -> tuple[int, int]:
        """(seconds, millisecond): what `timestamp` and `millisecond` hold."""
        instant = self.instant
        return int(instant.timestamp()), instant.microsecond // 1000

    def column_values(self) -> dict:
        seconds, millisecond = self.key
        return {
            "timestamp": seconds,
            "millisecond": millisecond,
            "event_id": self.event_id,
            "service": self.service,
            "level": self.level,
            "message": self.message,
            "trace_id": self.trace_id,
            "metadata": json.dumps(self.metadata, ensure_ascii=False, separators=(",", ":")),
            "metadata_keys": list(self.metadata.keys()),
            "metadata_values": list(self.metadata.values()),
        }


# Distinct (second, millisecond) everywhere, so the expected order does not depend on how
# ClickHouse orders UUIDs. They sit on and around the bounds the example's searches use
# (10:00:00.250 .. 10:00:00.750, and 09:59:59.999 .. 10:00:01.000).
SAMPLES = [
    Sample("2026-05-05T09:59:59.998Z", "0196a0b0-0000-7000-8000-000000000001", "auth", "ERROR",
           "just before", "t1", {}),
    Sample("2026-05-05T09:59:59.999Z", "0196a0b0-0000-7000-8000-000000000002", "auth", "ERROR",
           "login failed", "4bf92f3577b34da6a3ce929d0e0e4736", {"user": "42", "ip": "10.0.0.1"}),
    Sample("2026-05-05T10:00:00.100Z", "0196a0b0-0000-7000-8000-000000000003", "api", "INFO",
           "request", "t3", {"path": "/logs"}),
    Sample("2026-05-05T10:00:00.250Z", "0196a0b0-0000-7000-8000-000000000004", "auth", "ERROR",
           "on the lower bound", "t4", {}),
    Sample("2026-05-05T10:00:00.500Z", "0196a0b0-0000-7000-8000-000000000005", "api", "ERROR",
           "ünïcödé ✓ and 'quotes' \"double\" \\ back\nnew line", "t5",
           {"κλειδί": "värde", "quote'key": "a\"b"}),
    Sample("2026-05-05T10:00:00.750Z", "0196a0b0-0000-7000-8000-000000000006", "auth", "WARN",
           "on the upper bound", "t6", {}),
    Sample("2026-05-05T10:00:00.900Z", "0196a0b0-0000-7000-8000-000000000007", "auth", "ERROR",
           "after the upper bound", "t7", {}),
    Sample("2026-05-05T10:00:01.000Z", "0196a0b0-0000-7000-8000-000000000008", "auth", "ERROR",
           "whole second", "t8", {"a": "1"}),
    Sample("2026-05-05T10:00:01.001Z", "0196a0b0-0000-7000-8000-000000000009", "auth", "ERROR",
           "one millisecond later", "t9", {}),
    Sample("2026-05-05T10:00:02.000Z", "0196a0b0-0000-7000-8000-00000000000a", "a\\'b`c", "FATAL",
           "odd service name", "t10", {}),
    Sample("2026-05-06T00:00:00.000Z", "0196a0b0-0000-7000-8000-00000000000b", "worker", "TRACE",
           "another day, another partition", "", {}),
]


def parse_time(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return int(instant.timestamp()), instant.microsecond // 1000


def expected_rows(search: dict) -> list[Sample]:
    """What a `GET /logs` search must return from SAMPLES."""
    low, high = parse_time(search.get("from")), parse_time(search.get("to"))
    rows = [
        sample for sample in SAMPLES
        if (search.get("service") is None or sample.service == search["service"])
        and (search.get("level") is None or sample.level == search["level"])
        and (low is None or sample.key >= low)
        and (high is None or sample.key <= high)
    ]
    rows.sort(key=lambda sample: sample.key, reverse=True)
    offset, limit = int(search["offset"]), int(search["limit"])
    return rows[offset:offset + limit]


def stored_form(sample: Sample, columns: list[str]) -> dict:
    """A sample as a JSONEachRow line of the query's columns shows it."""
    values = sample.column_values()
    values["timestamp"] = sample.instant.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    return {column: values[column] for column in columns}


# --- the check ---------------------------------------------------------------------------

class Checker:
    def __init__(self, chdb_session):
        self.session = chdb_session
        self.passed = 0
        self.failed = 0

    def run(self, sql: str) -> list[dict]:
        result = self.session.query(sql, "JSONEachRow")
        text = result.data() if hasattr(result, "data") else str(result)
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def ok(self, label: str, note: str = "") -> None:
        self.passed += 1
        print(f"ok   {label}{f' ({note})' if note else ''}", flush=True)

    def fail(self, label: str, problem: str) -> None:
        self.failed += 1
        problem = problem.strip().replace("\n", "\n     ")
        print(f"FAIL {label}: {problem}", flush=True)

    def statement(self, label: str, sql: str, note: str = "") -> list[dict] | None:
        try:
            rows = self.run(sql)
        except Exception as error:  # chdb.ChdbError: the server's message
            self.fail(label, f"{error}\n-- statement:\n{sql}")
            return None
        self.ok(label, note)
        return rows


def check(emitted: dict, chdb_session) -> Checker:
    checker = Checker(chdb_session)
    database = emitted.get("database", "observability")

    for migration in emitted["migrations"]:
        requires = migration.get("requires") or []
        note = f"requires {', '.join(requires)}" if requires else ""
        for number, sql in enumerate(migration["statements"], start=1):
            checker.statement(f"migration {migration['name']} #{number}", sql, note)

    # The client is bound to the database (HTTP `database=`); queries name tables bare.
    checker.statement(f"use {database}", f"USE {database}")

    insert = emitted["insert"]
    columns = insert["columns"]
    label = f"insert {len(SAMPLES)} sample rows into {insert['table']}"
    unknown = [column for column in columns if column not in SAMPLES[0].column_values()]
    if unknown:
        checker.fail(label, f"LogRow has columns this script has no sample values for: {unknown}; "
                            "add them to Sample.column_values()")
    else:
        lines = "\n".join(
            json.dumps({column: sample.column_values()[column] for column in columns}, ensure_ascii=False)
            for sample in SAMPLES
        )
        column_list = ", ".join(f"`{column}`" for column in columns)
        checker.statement(label, f"INSERT INTO {insert['table']} ({column_list}) FORMAT JSONEachRow\n{lines}\n",
                          ", ".join(columns))

    results: dict[str, list[dict] | None] = {}
    for query in emitted["queries"]:
        label = f"query {query['name']}"
        try:
            rows = checker.run(query["sql"])
        except Exception as error:
            checker.fail(label, f"{error}\n-- query:\n{query['sql']}")
            results[query["name"]] = None
            continue
        results[query["name"]] = rows
        search = query.get("log_query")
        if search is None:
            checker.ok(label, f"{len(rows)} rows")
            continue
        want = [sample.event_id for sample in expected_rows(search)]
        got = [row.get("event_id") for row in rows]
        if got == want:
            checker.ok(label, f"{len(rows)} rows as expected")
        else:
            checker.fail(label, f"expected event ids {want}\ngot {got}\n-- query:\n{query['sql']}")

    # What the brief insists on, spelled out.
    none = results.get("log_query/none")
    label = "no filter returns every sample row, newest first, columns intact"
    if none is None:
        checker.fail(label, "query log_query/none missing or failed")
    else:
        newest_first = sorted(SAMPLES, key=lambda sample: sample.key, reverse=True)
        want = [stored_form(sample, list(none[0].keys()) if none else []) for sample in newest_first]
        if none == want:
            checker.ok(label)
        else:
            mismatch = next((f"{w}\n got {g}" for w, g in zip(want, none) if w != g), f"{len(none)} rows")
            checker.fail(label, f"first difference: want {mismatch}")
    injection = results.get("log_query/service")
    label = "service injection (x' OR 1=1 --) returns no rows"
    if injection is None:
        checker.fail(label, "query log_query/service missing or failed")
    elif injection:
        checker.fail(label, f"{len(injection)} rows returned")
    else:
        checker.ok(label)

    # SPEC (Storage): the seed's "Inspecting the data" queries keep working.
    for name, sql in [
        ("seed latest", "SELECT * FROM logs ORDER BY timestamp DESC LIMIT 10"),
        ("seed count by level", "SELECT level, count() FROM logs GROUP BY level"),
    ]:
        rows = checker.statement(f"query {name}", sql)
        if rows is not None and not rows:
            checker.fail(f"query {name}", "no rows")
    # Metadata can be filtered by key (the point of the parallel arrays).
    rows = checker.statement(
        "query metadata by key",
        "SELECT event_id FROM logs WHERE metadata_values[indexOf(metadata_keys, 'user')] = '42'",
    )
    if rows is not None and [row["event_id"] for row in rows] != [SAMPLES[1].event_id]:
        checker.fail("query metadata by key", f"expected {SAMPLES[1].event_id}, got {rows}")

    # The worker re-sends a batch after a crash with the same insert_deduplication_token
    # (migration 002 enables the window): the second INSERT must be skipped.
    retried = dict(SAMPLES[0].column_values(), event_id="00000000-0000-7000-8000-000000000d0d")
    row = json.dumps({column: retried[column] for column in columns})
    for attempt in (1, 2):
        checker.statement(
            f"insert with deduplication token, attempt {attempt}",
            f"INSERT INTO logs ({', '.join(columns)}) SETTINGS insert_deduplication_token = 'batch-1' "
            f"FORMAT JSONEachRow\n{row}\n",
        )
    rows = checker.statement(
        "a re-sent batch is stored once",
        f"SELECT count() AS n FROM logs WHERE event_id = '{retried['event_id']}'",
    )
    if rows is not None and rows != [{"n": 1}]:
        checker.fail("a re-sent batch is stored once", f"expected one row, got {rows}")
    return checker


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sql-json", help="read emit_sql's JSON from this file ('-' for stdin)")
    args = parser.parse_args()

    chdb, session = import_chdb()
    emitted = load_sql(args.sql_json)
    engine = getattr(chdb, "engine_version", "?")
    print(f"chDB {getattr(chdb, '__version__', '?')}, ClickHouse {engine}", flush=True)

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="traceflow-chdb-") as path:
        chdb_session = session.Session(path)
        try:
            checker = check(emitted, chdb_session)
        finally:
            chdb_session.close()
    print(f"chDB checks took {time.monotonic() - started:.2f}s", flush=True)
    print(f"{checker.passed} passed, {checker.failed} failed")
    return 1 if checker.failed else 0


if __name__ == "__main__":
    sys.exit(main())
