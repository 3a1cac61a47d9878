#!/usr/bin/env python3
"""Checks that the storage crate's SQL works on current ClickHouse, without a server.

Runs `cargo run -q -p traceflow-storage --example emit_sql` to get every migration statement
and every query shape the query service can emit, then, in chDB (ClickHouse embedded in this
process; `pip install chdb-core`) with a fresh database in a temporary directory:

1. applies every migration statement in order (all of them: current ClickHouse meets every
   `-- requires:`);
2. inserts sample rows into `logs`, one value for every column the crate's `LogRow` writes;
3. runs every query in the `observability` database, as the client does, and compares what
   it returns with what the sample rows say it must: `GET /logs` searches (every filter, both
   orders, offsets and cursors), counts, histograms, the newest timestamp; that the skip index
   and the trace index are used (EXPLAIN); so an injection, a wrong bound or an unescaped
   LIKE pattern shows up;
4. then the statements that change data: `DELETE /logs`'s mutation (exactly the matching
   events go; the trace index keeps its entries), dropping a day partition, and the
   retention TTL (which expires the samples older than the limit).

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
    # LIKE's wildcards must match only themselves in `q`.
    Sample("2026-05-05T10:00:03.000Z", "0196a0b0-0000-7000-8000-00000000000c", "disk", "WARN",
           "Disk 100% full_now", "t12", {}),
    Sample("2026-05-05T10:00:04.000Z", "0196a0b0-0000-7000-8000-00000000000d", "disk", "WARN",
           "Disk 100 percent fullXnow", "t13", {"a": ""}),
    # A second event of the login's trace.
    Sample("2026-05-05T10:00:05.000Z", "0196a0b0-0000-7000-8000-00000000000e", "auth", "INFO",
           "Login retried", "4bf92f3577b34da6a3ce929d0e0e4736", {"user": "42"}),
]


def parse_time(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return int(instant.timestamp()), instant.microsecond // 1000


def matches(sample: Sample, condition: dict) -> bool:
    """Whether a sample meets a filter as the example describes it (LogFilter's fields)."""
    low, high = parse_time(condition.get("from")), parse_time(condition.get("to"))
    message = sample.message.lower()
    return (
        (condition.get("service") is None or sample.service == condition["service"])
        and (condition.get("level") is None or sample.level == condition["level"])
        and (low is None or sample.key >= low)
        and (high is None or sample.key <= high)
        and all(term.lower() in message for term in condition.get("text") or [])
        and (condition.get("trace_id") is None or sample.trace_id == condition["trace_id"])
        and all(sample.metadata.get(key) == value for key, value in condition.get("metadata") or [])
    )


def expected_rows(rows: list[Sample], search: dict) -> list[Sample]:
    """What a `GET /logs` search must return: one row more than the page, which is how the
    storage crate learns that another page exists."""
    found = [sample for sample in rows if matches(sample, search["filter"])]
    descending = search["order"] == "desc"
    after = search.get("after")
    if after is not None:
        key = parse_time(after["at"])
        found = [sample for sample in found if (sample.key < key if descending else sample.key > key)]
    found.sort(key=lambda sample: sample.key, reverse=descending)
    offset, limit = int(search["offset"]), int(search["limit"])
    return found[offset:offset + limit + 1]


def expected_stats(rows: list[Sample], stats: dict) -> list[dict]:
    """The (bucket, group_service, group_level, events) rows of a histogram."""
    condition = dict(stats["filter"], **{"from": stats["from"], "to": stats["to"]})
    counts: dict[tuple[int, str, str], int] = {}
    for sample in rows:
        if not matches(sample, condition):
            continue
        interval = stats["interval"]
        bucket = sample.key[0] // interval * interval if interval else 0
        group = (bucket, sample.service if stats["service"] else "", sample.level if stats["level"] else "")
        counts[group] = counts.get(group, 0) + 1
    return [
        {"bucket": bucket, "group_service": service, "group_level": level, "events": events}
        for (bucket, service, level), events in sorted(counts.items(), key=lambda item: (
            item[0][0], item[0][1].encode(), item[0][2].encode()))
    ]


def first_value(rows: list[dict]) -> int:
    """The single number a `SELECT count()`-like query answers (64-bit ints come quoted)."""
    return int(next(iter(rows[0].values())))


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

    # What each table holds, as the checks change it: `logs` its events, `logs_by_trace` an
    # entry (trace id and time) per event, which DELETE leaves in place.
    tables = {"logs": list(SAMPLES), "logs_by_trace": list(SAMPLES)}
    rows = tables["logs"]
    changes_data = lambda query: "mutation" in query or "ttl" in query  # noqa: E731
    first_change = next(
        (index for index, query in enumerate(emitted["queries"]) if changes_data(query)),
        len(emitted["queries"]),
    )
    results: dict[str, list[dict] | None] = {}
    for query in emitted["queries"][:first_change]:
        results[query["name"]] = check_query(checker, query, rows)

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
        found = checker.statement(f"query {name}", sql)
        if found is not None and not found:
            checker.fail(f"query {name}", "no rows")
    # Metadata can be filtered by key (the point of the parallel arrays).
    found = checker.statement(
        "query metadata by key",
        "SELECT event_id FROM logs WHERE metadata_values[indexOf(metadata_keys, 'user')] = '42' ORDER BY timestamp",
    )
    want = [sample.event_id for sample in SAMPLES if sample.metadata.get("user") == "42"]
    if found is not None and [row["event_id"] for row in found] != want:
        checker.fail("query metadata by key", f"expected {want}, got {found}")
    # Every stored event has its trace index entry (migration 003's materialized view).
    check_table_holds(checker, "logs_by_trace", tables["logs_by_trace"])

    # The worker re-sends a batch after a crash with the same insert_deduplication_token
    # (migration 002 enables the window): the second INSERT must be skipped.
    retried = Sample(**dict(SAMPLES[0].__dict__, event_id="00000000-0000-7000-8000-000000000d0d"))
    row = json.dumps({column: retried.column_values()[column] for column in columns})
    for attempt in (1, 2):
        checker.statement(
            f"insert with deduplication token, attempt {attempt}",
            f"INSERT INTO logs ({', '.join(columns)}) SETTINGS insert_deduplication_token = 'batch-1' "
            f"FORMAT JSONEachRow\n{row}\n",
        )
    found = checker.statement(
        "a re-sent batch is stored once",
        f"SELECT count() AS n FROM logs WHERE event_id = '{retried.event_id}'",
    )
    if found is not None and found != [{"n": 1}]:
        checker.fail("a re-sent batch is stored once", f"expected one row, got {found}")
    for table in tables.values():
        table.append(retried)

    # From here on the queries change data (and those that read see the changes).
    for query in emitted["queries"][first_change:]:
        if "mutation" in query:
            check_mutation(checker, query, tables)
        elif "ttl" in query:
            check_ttl(checker, query, tables)
        else:
            check_query(checker, query, rows)
    return checker


def check_query(checker: Checker, query: dict, rows: list[Sample]) -> list[dict] | None:
    """Runs a query that changes nothing and compares it with what `rows` say it must give."""
    label = f"query {query['name']}"
    try:
        found = checker.run(query["sql"])
    except Exception as error:
        checker.fail(label, f"{error}\n-- query:\n{query['sql']}")
        return None
    if "log_query" in query:
        want = [sample.event_id for sample in expected_rows(rows, query["log_query"])]
        got = [row.get("event_id") for row in found]
    elif "count" in query:
        want = sum(matches(sample, query["count"]) for sample in rows)
        got = first_value(found)
    elif "newest" in query:
        low, high = parse_time(query["newest"]["from"]), parse_time(query["newest"]["to"])
        want = max((sample.key[0] for sample in rows if low <= sample.key <= high), default=0)
        got = first_value(found)
    elif "stats" in query:
        want = expected_stats(rows, query["stats"])
        got = [dict(row, events=int(row["events"])) for row in found]
    elif "explain" in query:
        plan = "\n".join(row.get("explain", "") for row in found)
        missing = [needle for needle in query["explain"] if needle not in plan]
        want, got = [], missing
        if missing:
            checker.fail(label, f"the plan does not show {missing}:\n{plan}")
            return found
    else:
        checker.ok(label, f"{len(found)} rows")
        return found
    if got == want:
        checker.ok(label, "as expected")
    else:
        checker.fail(label, f"expected {want}\ngot {got}\n-- query:\n{query['sql']}")
    return found


def wait_for_mutations(checker: Checker, pending_sql: str) -> bool:
    """Polls the storage crate's own "mutations still running" query until it says none."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if first_value(checker.run(pending_sql)) == 0:
            return True
        time.sleep(0.1)
    return False


def check_table_holds(checker: Checker, table: str, rows: list[Sample]) -> None:
    """`logs` holds exactly the events `rows`; `logs_by_trace` exactly their entries (trace
    id and time), as a set: an entry written twice (the materialized view also fires for an
    INSERT that `logs` deduplicates) changes no lookup, and its ReplacingMergeTree folds the
    copies."""
    label = f"{table} holds exactly the expected rows"
    if table == "logs":
        sql = "SELECT toString(event_id) AS id FROM logs ORDER BY id"
        want = sorted(sample.event_id for sample in rows)
    else:
        sql = (f"SELECT DISTINCT concat(trace_id, '@', toString(toUInt32(timestamp)), '.', "
               f"toString(millisecond)) AS id FROM {table} ORDER BY id")
        want = sorted({f"{sample.trace_id}@{sample.key[0]}.{sample.key[1]}" for sample in rows})
    found = checker.statement(label, sql)
    if found is not None and [row["id"] for row in found] != want:
        checker.fail(label, f"expected {want}\ngot {[row['id'] for row in found]}")


def check_mutation(checker: Checker, query: dict, tables: dict[str, list[Sample]]) -> None:
    """Runs a statement that removes events from one table and checks that exactly those go
    (and that the other table keeps what it had)."""
    mutation = query["mutation"]
    label = f"query {query['name']}"
    if checker.statement(label, query["sql"]) is None:
        return
    pending_sql = mutation.get("pending_sql")
    if pending_sql and not wait_for_mutations(checker, pending_sql):
        checker.fail(label, "the mutation did not finish within 30 s")
        return
    changed = tables[mutation["table"]]
    changed[:] = [sample for sample in changed if not matches(sample, mutation["removes"])]
    for table, rows in tables.items():
        check_table_holds(checker, table, rows)


def check_ttl(checker: Checker, query: dict, tables: dict[str, list[Sample]]) -> None:
    """Sets a TTL, checks that the table shows it and that the expired events are gone."""
    ttl = query["ttl"]
    label = f"query {query['name']}"
    if checker.statement(label, query["sql"]) is None:
        return
    engine = checker.statement(f"{label}: system.tables shows it", ttl["engine_sql"])
    if engine is not None and ttl["clause"] not in first_engine(engine):
        checker.fail(f"{label}: system.tables shows it", f"{ttl['clause']!r} not in {engine}")
    if not wait_for_mutations(checker, ttl["pending_sql"]):
        checker.fail(label, "the TTL was not applied within 30 s")
        return
    limit = datetime.now(timezone.utc).timestamp() - ttl["days"] * 86400
    changed = tables[ttl["table"]]
    changed[:] = [sample for sample in changed if sample.key[0] >= limit]
    check_table_holds(checker, ttl["table"], changed)


def first_engine(rows: list[dict]) -> str:
    return rows[0].get("engine_full", "") if rows else ""


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
