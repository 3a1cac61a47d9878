"""Current ClickHouse for the tests: chDB's engine answering ClickHouse's HTTP interface.

No current ClickHouse server package reaches the test machines, but chDB (ClickHouse in a
Python module) does. This server gives the test kit a current ClickHouse it can start,
stop and start again like Debian's `clickhouse-server`:

    python3 server.py --port PORT --path DIR

It listens on 127.0.0.1:PORT, keeps its databases in DIR (started again over the same DIR
it has the same tables and rows) and stops on SIGTERM once the requests in flight are done.

What it serves, as ClickHouse's HTTP handler does (src/Server/HTTPHandler.cpp):
- GET and POST on any path; the statement is the `query` parameter, a newline and the body.
  An INSERT ... FORMAT takes its data, in any format, from the body after a `query`, or from
  the body after its first line; other inline data (VALUES, or on the statement's line) is
  read up to its first empty line. GET runs with readonly=2. `GET /` without a query and
  `/ping` answer "Ok.".
- `database` (or X-ClickHouse-Database), `default_format` (or X-ClickHouse-Format; else
  TabSeparated), `param_<name>` query parameters, and every other parameter as a setting of
  that request alone: each request has its own chDB connection, so nothing leaks into the next.
- The user `default` without a password (parameters, X-ClickHouse-User/Key, or Basic); any
  other is refused with 516 AUTHENTICATION_FAILED, as a server with its default users would.
- `decompress=1`: the body in ClickHouse's native compressed blocks (LZ4 or none, each with
  its CityHash128 v1.0.2 checksum). `compress=1`: the answer in the same framing.
- `Accept-Encoding` lz4, gzip or deflate while enable_http_compression holds (on by default in
  current releases): the answer with that Content-Encoding, as the Rust client asks for it.
- Errors as the server writes them: its status for the code, X-ClickHouse-Exception-Code, and
  the body `Code: N. DB::Exception: ... (NAME) (version V)`.
- Deduplication, TTLs, mutations, materialized views: chDB runs ClickHouse's own MergeTree.

What it does not: sessions (`session_id` is refused), users, roles and quotas, external data
(multipart bodies), request bodies with a Content-Encoding, zstd/br/xz answers, progress
headers, streaming (an answer is sent once complete, so it never carries a late exception),
and the refusal of several statements in one request (chDB runs them all).
"""

import argparse
import base64
import re
import signal
import struct
import sys
import tempfile
import threading
import urllib.parse
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

try:
    import chdb.state
    import lz4.block
    import lz4.frame
    from clickhouse_cityhash.cityhash import CityHash128
except ImportError as missing:
    requirements = Path(__file__).with_name("requirements.txt")
    sys.exit(f"{missing}: install the adapter's packages with pip install -r {requirements}")

# URL parameters that are not settings (HTTPHandler's reserved names, plus those read here).
NOT_SETTINGS = {
    "query", "database", "default_format", "compress", "decompress", "user", "password",
    "quota_key", "query_id", "stacktrace", "buffer_size", "wait_end_of_query", "session_id",
    "session_timeout", "session_check", "client_protocol_version", "close_session", "role",
}
# ClickHouse's status for an error, by the error's name (exceptionCodeToHTTPStatus.cpp).
STATUS_BY_ERROR = {
    name: status
    for status, names in {
        400: "BAD_ARGUMENTS CANNOT_COMPILE_REGEXP CANNOT_PARSE_TEXT CANNOT_PARSE_ESCAPE_SEQUENCE "
        "CANNOT_PARSE_QUOTED_STRING CANNOT_PARSE_DATE CANNOT_PARSE_DATETIME CANNOT_PARSE_NUMBER "
        "CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING CANNOT_PARSE_IPV4 CANNOT_PARSE_IPV6 "
        "CANNOT_PARSE_INPUT_ASSERTION_FAILED CANNOT_PARSE_UUID DUPLICATE_COLUMN ILLEGAL_COLUMN "
        "UNKNOWN_ELEMENT_IN_AST UNKNOWN_TYPE_OF_AST_NODE THERE_IS_NO_COLUMN TOO_DEEP_AST "
        "TOO_BIG_AST UNEXPECTED_AST_STRUCTURE SYNTAX_ERROR INCORRECT_DATA TYPE_MISMATCH "
        "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE",
        401: "REQUIRED_PASSWORD",
        403: "UNKNOWN_USER WRONG_PASSWORD AUTHENTICATION_FAILED SET_NON_GRANTED_ROLE ACCESS_DENIED",
        404: "UNKNOWN_TABLE UNKNOWN_FUNCTION UNKNOWN_IDENTIFIER UNKNOWN_TYPE UNKNOWN_STORAGE "
        "UNKNOWN_DATABASE UNKNOWN_SETTING UNKNOWN_DIRECTION_OF_SORTING UNKNOWN_AGGREGATE_FUNCTION "
        "UNKNOWN_FORMAT UNKNOWN_DATABASE_ENGINE UNKNOWN_TYPE_OF_QUERY UNKNOWN_ROLE",
        408: "TIMEOUT_EXCEEDED",
        411: "HTTP_LENGTH_REQUIRED",
        413: "QUERY_IS_TOO_LARGE",
        415: "UNSUPPORTED_MEDIA_TYPE",
        501: "NOT_IMPLEMENTED",
        503: "SOCKET_TIMEOUT CANNOT_OPEN_FILE CANNOT_SCHEDULE_TASK",
    }.items()
    for name in names.split()
}
INSERT_WITH_DATA = re.compile(
    rb"(?P<target>\s*INSERT\s.*?)(?:\s(?P<settings>SETTINGS\s.*?))?\s+FORMAT\s+(?P<format>\w+)\s*", re.I | re.S)
# chDB may repeat the code in front of a message: `Code: 33. DB::Exception: Code: 33. ...`.
CHDB_ERROR = re.compile(
    r"(?:Code: \d+\. DB::Exception: (?=Code: ))*Code: (?P<code>\d+)\. (?P<text>.*?)(?: \(version [^)]*\))?\s*$", re.S)
SETTING_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
LZ4, UNCOMPRESSED = 0x82, 0x02
BLOCK_BYTES = 1 << 20  # ClickHouse's own block size for compress=1 (DBMS_DEFAULT_BUFFER_SIZE)
KEEP_ALIVE_SECONDS = 30  # longer than the clients keep an idle connection (the Rust one 2 s)


class ClickHouseError(Exception):
    """An error as ClickHouse reports it: its code and its text up to the version. `early` is
    one the server meets before it knows how to encode the answer, so it goes out plain."""

    def __init__(self, code, text, early=False):
        super().__init__(text)
        self.code, self.text, self.early = code, text, early

    @classmethod
    def of(cls, name, code, message, early=False):
        return cls(code, f"DB::Exception: {message}. ({name})", early)

    @classmethod
    def from_chdb(cls, error):
        found = CHDB_ERROR.search(str(error))
        return cls(int(found["code"]), found["text"]) if found else cls.of("STD_EXCEPTION", 1001, str(error))

    def status(self):
        name = re.search(r"\(([A-Z0-9_]+)\)$", self.text)
        return STATUS_BY_ERROR.get(name and name[1], 500)

    def body(self, version):
        return f"Code: {self.code}. {self.text} (version {version})\n".encode()


def checksum(block):
    """ClickHouse's checksum of a compressed block: CityHash128 v1.0.2, its halves as
    ClickHouse writes them (this module gives them the other way round)."""
    value = CityHash128(block)
    return struct.pack("<QQ", value >> 64, value & (1 << 64) - 1)


def decompress_native(data):
    """The bytes in ClickHouse's native compressed blocks (`decompress=1`)."""
    parts, at = [], 0
    while at < len(data):
        header = data[at + 16:at + 25]
        method, size, raw_size = struct.unpack("<BII", header) if len(header) == 9 else (0, 0, 0)
        block = data[at + 16:at + 16 + size]
        if size < 9 or len(block) < size:
            raise ClickHouseError.of("CANNOT_READ_ALL_DATA", 33, "Cannot read all data of a compressed block")
        if checksum(block) != data[at:at + 16]:
            raise ClickHouseError.of("CHECKSUM_DOESNT_MATCH", 40, "Checksum doesn't match: corrupted data")
        if method == LZ4:
            parts.append(lz4.block.decompress(block[9:], uncompressed_size=raw_size))
        elif method == UNCOMPRESSED:
            parts.append(block[9:])
        else:
            raise ClickHouseError.of("UNKNOWN_COMPRESSION_METHOD", 89, f"Unknown compression method: {method}")
        at += 16 + size
    return b"".join(parts)


def compress_native(data):
    """`data` in ClickHouse's native LZ4 blocks (`compress=1`)."""
    blocks = []
    for start in range(0, len(data), BLOCK_BYTES):
        raw = data[start:start + BLOCK_BYTES]
        packed = lz4.block.compress(raw, store_size=False)
        block = struct.pack("<BII", LZ4, 9 + len(packed), len(raw)) + packed
        blocks.append(checksum(block) + block)
    return b"".join(blocks)


HTTP_ENCODINGS = {
    "lz4": lambda data, level: lz4.frame.compress(data),
    "gzip": lambda data, level: zlib.compress(data, level, wbits=31),
    "deflate": lambda data, level: zlib.compress(data, level),
}


class Engine:
    """chDB over one data directory. Each request gets a connection of its own, so that its
    settings and current database end with it, and requests run in parallel (chDB takes
    queries on several connections at once); the anchor keeps the engine up in between."""

    def __init__(self, path):
        self.path = path
        self.anchor = chdb.state.connect(path)
        self.spool = Path(path, "adapter-inserts")
        self.spool.mkdir(exist_ok=True)
        answer = self.anchor.query("SELECT version(), getSetting('enable_http_compression')", "TabSeparated")
        self.version, self.http_compression = answer.bytes().decode().split()
        self.in_flight = 0
        self.idle = threading.Condition()
        self.stopping = False

    def execute(self, method, params, headers, body):
        """Runs one request's statement; returns the answer's bytes or raises ClickHouseError.
        `headers` is the request's (names in any case)."""
        user, password = credentials(params, headers)
        if (user, password) != ("default", ""):
            raise ClickHouseError.of("AUTHENTICATION_FAILED", 516, f"{user}: Authentication failed: password "
                                     "is incorrect, or there is no user with such name", early=True)
        if "session_id" in params:
            raise ClickHouseError.of("NOT_IMPLEMENTED", 48, "Sessions are not served by this adapter")
        settings = settings_of(method, params)
        query_parameters = {name[6:]: value for name, value in params.items() if name.startswith("param_")}
        database = headers.get("X-ClickHouse-Database") or params.get("database")
        output_format = headers.get("X-ClickHouse-Format") or params.get("default_format") or "TabSeparated"
        if is_on(params.get("decompress")):
            body = decompress_native(body)
        query = params.get("query", "").encode()
        text = query + b"\n" + body if query else body
        statement, data = (query, body) if query else body.partition(b"\n")[::2]
        insert = INSERT_WITH_DATA.fullmatch(statement)
        if not text.strip():
            raise ClickHouseError.of("SYNTAX_ERROR", 62, "Empty query")

        connection = chdb.state.connect(self.path)
        try:
            if settings:
                connection.query("SET " + ", ".join(f"{name} = {quoted(value)}" for name, value in settings))
            if database:
                connection.query(f"USE `{database.replace('`', '``')}`")
            if insert:
                return self.insert_from_file(connection, insert, data)
            return connection.query(text, output_format, params=query_parameters).bytes()
        except RuntimeError as error:
            raise ClickHouseError.from_chdb(error) from None
        finally:
            connection.close()

    def insert_from_file(self, connection, insert, data):
        """An INSERT with its data, through a file: chDB takes inline data only up to its first
        empty line, and its streaming insert answers success for rows the table refuses."""
        with tempfile.NamedTemporaryFile(dir=self.spool) as file:
            file.write(data)
            file.flush()
            connection.query(b"%s FROM INFILE %s COMPRESSION 'none' %s FORMAT %s" % (
                insert["target"], quoted(file.name).encode(), insert["settings"] or b"", insert["format"]))
        return b""

    def begin(self):
        """Counts a request in, unless the engine is stopping."""
        with self.idle:
            self.in_flight += not self.stopping
            return not self.stopping

    def end(self):
        with self.idle:
            self.in_flight -= 1
            self.idle.notify_all()

    def stop(self, wait_seconds):
        """Waits for the requests in flight, then shuts the engine down (its data is on disk)."""
        with self.idle:
            self.stopping = True
            self.idle.wait_for(lambda: self.in_flight == 0, timeout=wait_seconds)
        self.anchor.close()


def settings_of(method, params):
    """The request's settings: each parameter that is not reserved; a GET is readonly=2."""
    settings = [] if method != "GET" or "readonly" in params else [("readonly", "2")]
    settings += [(name, value) for name, value in params.items()
                 if name not in NOT_SETTINGS and not name.startswith("param_")]
    for name, _ in settings:
        if not SETTING_NAME.fullmatch(name):
            raise ClickHouseError.of("UNKNOWN_SETTING", 115, f"Unknown setting '{name}'")
    return settings


def is_on(flag):
    return flag not in (None, "", "0", "false")


def quoted(value):
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def credentials(params, headers):
    """The user and password, from the headers, Basic authentication or the parameters."""
    if "X-ClickHouse-User" in headers or "X-ClickHouse-Key" in headers:
        return headers.get("X-ClickHouse-User", ""), headers.get("X-ClickHouse-Key", "")
    scheme, _, encoded = headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "basic":
        user, _, password = base64.b64decode(encoded).decode().partition(":")
        return user, password
    return params.get("user", "default"), params.get("password", "")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = KEEP_ALIVE_SECONDS
    engine: Engine

    def do_GET(self):
        self.answer()

    def do_POST(self):
        self.answer()

    def answer(self):
        # In the request's version, as ClickHouse answers (an HTTP/1.0 client gets 1.0).
        self.protocol_version = "HTTP/1.0" if self.request_version == "HTTP/1.0" else "HTTP/1.1"
        url = urllib.parse.urlsplit(self.path)
        params = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        body = self.read_body()
        if url.path == "/ping" or (self.command == "GET" and url.path == "/" and "query" not in params):
            return self.send(200, b"Ok.\n", {})
        if not self.engine.begin():
            self.close_connection = True  # stopping: the client sees the server go away
            return
        headers = {}
        try:
            if body is None:
                raise ClickHouseError.of("HTTP_LENGTH_REQUIRED", 381, "The Transfer-Encoding is not chunked and "
                                         "there is no Content-Length header for POST request", early=True)
            status, answer = 200, self.engine.execute(self.command, params, self.headers, body)
        except ClickHouseError as error:
            status, answer = error.status(), error.body(self.engine.version)
            self.log_error("%s", answer.decode(errors="replace").strip()[:500])
            headers["X-ClickHouse-Exception-Code"] = str(error.code)
            if error.early:
                return self.send(status, answer, headers)
        finally:
            self.engine.end()
        if is_on(params.get("compress")):
            answer = compress_native(answer)
        encoding = self.http_encoding(params)
        if encoding:
            answer = HTTP_ENCODINGS[encoding](answer, int(params.get("http_zlib_compression_level", "3")))
            headers["Content-Encoding"] = encoding
        self.send(status, answer, headers)

    def http_encoding(self, params):
        """The Content-Encoding the answer gets: the first of ours the client accepts."""
        if not is_on(params.get("enable_http_compression", self.engine.http_compression)):
            return None
        accepted = {token.split(";")[0].strip().lower() for token in self.headers.get("Accept-Encoding", "").split(",")}
        return next((name for name in HTTP_ENCODINGS if name in accepted), None)

    def read_body(self):
        """The request body, undoing chunked transfer; None for a POST that has no length."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0], 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        if "Content-Length" in self.headers:
            return self.rfile.read(int(self.headers["Content-Length"]))
        return None if self.command == "POST" else b""

    def send(self, status, body, headers):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        if not self.close_connection:
            self.send_header("Keep-Alive", f"timeout={KEEP_ALIVE_SECONDS}")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_request(self, code="-", size="-"):
        pass  # only errors are logged


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True, help="data directory")
    args = parser.parse_args()

    Handler.engine = engine = Engine(args.path)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)

    def stop(_signal, _frame):
        # shutdown() waits for serve_forever, which runs on this (the main) thread.
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"ClickHouse {engine.version} (chDB) on 127.0.0.1:{args.port} over {args.path}", flush=True)
    server.serve_forever()
    server.server_close()
    engine.stop(wait_seconds=5)
    print("stopped", flush=True)


if __name__ == "__main__":
    main()
