//! The current-ClickHouse adapter (`current-clickhouse/server.py`), started whatever
//! `TEST_CLICKHOUSE` says: what the official Rust client and plain HTTP clients send, and
//! what they get back.

use std::net::TcpStream;
use std::sync::OnceLock;

use clickhouse::{Client, Compression, Row};
use serde::{Deserialize, Serialize};
use traceflow_testkit::{ClickHouseBackend, ClickHouseServer};

/// One adapter for the tests that do not stop it; each uses its own database.
fn shared() -> &'static ClickHouseServer {
    static SHARED: OnceLock<ClickHouseServer> = OnceLock::new();
    SHARED.get_or_init(|| ClickHouseServer::start_backend(ClickHouseBackend::Current))
}

#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
struct Sample {
    id: u32,
    text: String,
}

/// Values that break a naive adapter: an empty line ends chDB's inline INSERT data, and the
/// rest are bytes a text protocol might mangle.
fn samples() -> Vec<Sample> {
    [
        "plain",
        "two\n\nempty lines",
        "nul \0 byte",
        "FORMAT RowBinary",
        "",
    ]
    .into_iter()
    .enumerate()
    .map(|(id, text)| Sample {
        id: id as u32,
        text: text.to_owned(),
    })
    .collect()
}

/// The Rust client as the storage crate sets it up (RowBinary, no validation), on `database`.
fn rust_client(server: &ClickHouseServer, compression: Compression, database: &str) -> Client {
    Client::default()
        .with_url(server.url())
        .with_validation(false)
        .with_compression(compression)
        .with_database(database)
}

/// Stores `rows` with one INSERT, carrying `token` as its deduplication token if given.
async fn insert(
    client: &Client,
    rows: &[Sample],
    token: Option<&str>,
) -> clickhouse::error::Result<()> {
    let mut insert = client.insert::<Sample>("samples").await?;
    if let Some(token) = token {
        insert = insert.with_setting("insert_deduplication_token", token);
    }
    for row in rows {
        insert.write(row).await?;
    }
    insert.end().await
}

async fn select_samples(client: &Client) -> Vec<Sample> {
    client
        .query("SELECT ?fields FROM samples ORDER BY id")
        .fetch_all()
        .await
        .unwrap()
}

/// Plain HTTP to an adapter, with a client of the test's own (its connections belong to the
/// test's runtime).
struct Http<'a> {
    server: &'a ClickHouseServer,
    client: reqwest::Client,
}

impl<'a> Http<'a> {
    fn to(server: &'a ClickHouseServer) -> Self {
        Self {
            server,
            client: reqwest::Client::new(),
        }
    }

    /// POSTs `body` with `query` as the URL's parameters.
    async fn send(
        &self,
        query: &[(&str, &str)],
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.client
            .post(self.server.url())
            .query(query)
            .body(body)
            .send()
            .await
            .expect("the adapter answers")
    }

    /// Runs `sql`, panicking unless it succeeds; returns the body.
    async fn run(&self, query: &[(&str, &str)], sql: &str) -> String {
        let answer = self.send(query, sql.to_owned()).await;
        let status = answer.status();
        let body = answer.text().await.unwrap();
        assert_eq!(status, 200, "{sql}: {body}");
        body
    }

    /// A database of the test's own, with a MergeTree `samples` table.
    async fn database(&self, name: &str) -> String {
        self.run(&[], &format!("CREATE DATABASE {name}")).await;
        self.run(
            &[("database", name)],
            "CREATE TABLE samples (id UInt32, text String) ENGINE = MergeTree ORDER BY id \
             SETTINGS non_replicated_deduplication_window = 100",
        )
        .await;
        name.to_owned()
    }

    async fn count(&self, database: &str) -> String {
        self.run(&[("database", database)], "SELECT count() FROM samples")
            .await
    }
}

/// ClickHouse's checksum of a compressed block, CityHash128 v1.0.2, as the server writes it:
/// the hash's first 64-bit half first, each half little-endian.
fn checksum(block: &[u8]) -> Vec<u8> {
    let hash = cityhash_rs::cityhash_102_128(block);
    [
        ((hash >> 64) as u64).to_le_bytes(),
        (hash as u64).to_le_bytes(),
    ]
    .concat()
}

/// `data` as one of ClickHouse's native LZ4 blocks (what `decompress=1` reads).
fn native_block(data: &[u8]) -> Vec<u8> {
    let packed = lz4_flex::block::compress(data);
    let mut block = vec![0x82];
    block.extend(u32::try_from(9 + packed.len()).unwrap().to_le_bytes());
    block.extend(u32::try_from(data.len()).unwrap().to_le_bytes());
    block.extend(packed);
    [checksum(&block), block].concat()
}

/// The data in ClickHouse's native LZ4 blocks (what `compress=1` answers), checking each
/// block's checksum.
fn unpack_native_blocks(mut bytes: &[u8]) -> Vec<u8> {
    let mut data = Vec::new();
    while !bytes.is_empty() {
        let (expected, rest) = bytes.split_at(16);
        assert_eq!(rest[0], 0x82, "an LZ4 block");
        let size = u32::from_le_bytes(rest[1..5].try_into().unwrap()) as usize;
        let raw_size = u32::from_le_bytes(rest[5..9].try_into().unwrap()) as usize;
        let (block, next) = rest.split_at(size);
        assert_eq!(checksum(block), expected, "the block's checksum");
        data.extend(lz4_flex::block::decompress(&block[9..], raw_size).unwrap());
        bytes = next;
    }
    data
}

#[tokio::test]
async fn the_rust_client_inserts_and_selects_row_binary_with_lz4_and_without() {
    let http = Http::to(shared());
    for (compression, name) in [(Compression::Lz4, "lz4"), (Compression::None, "none")] {
        let database = http.database(&format!("rust_client_{name}")).await;
        let client = rust_client(http.server, compression, &database);
        insert(&client, &samples(), None).await.unwrap();
        assert_eq!(select_samples(&client).await, samples(), "{name}");
    }
}

#[tokio::test]
async fn a_row_the_table_refuses_fails_the_insert_and_stores_nothing() {
    let http = Http::to(shared());
    let database = http.database("refused_rows").await;
    http.run(
        &[("database", &database)],
        "ALTER TABLE samples ADD COLUMN guard UInt8 MATERIALIZED throwIf(text = 'poison')",
    )
    .await;
    let rows = ["fine", "poison"].map(|text| Sample {
        id: 1,
        text: text.to_owned(),
    });
    let client = rust_client(http.server, Compression::Lz4, &database);
    let error = insert(&client, &rows, None)
        .await
        .expect_err("the table refuses the batch");
    assert!(
        error.to_string().contains("Code: 395"),
        "the server's code reaches the client: {error}"
    );
    assert_eq!(http.count(&database).await, "0\n");
}

#[tokio::test]
async fn compress_and_decompress_use_clickhouse_native_lz4_blocks() {
    let http = Http::to(shared());
    let database = http.database("native_blocks").await;
    let insert = [
        ("database", database.as_str()),
        ("query", "INSERT INTO samples FORMAT JSONEachRow"),
        ("decompress", "1"),
    ];
    let rows = b"{\"id\": 7, \"text\": \"seven\"}\n{\"id\": 8, \"text\": \"eight\"}\n";
    let inserted = http.send(&insert, native_block(rows)).await;
    assert_eq!(inserted.status(), 200, "{}", inserted.text().await.unwrap());

    let select = [("database", database.as_str()), ("compress", "1")];
    let answer = http
        .send(&select, "SELECT id, text FROM samples ORDER BY id")
        .await;
    assert_eq!(answer.status(), 200);
    let body = answer.bytes().await.unwrap();
    assert_eq!(unpack_native_blocks(&body), b"7\tseven\n8\teight\n");

    // A block whose data does not match its checksum is refused as ClickHouse refuses it.
    let mut corrupted = native_block(rows);
    *corrupted.last_mut().unwrap() ^= 0xff;
    let refused = http.send(&insert, corrupted).await;
    assert_eq!(refused.status(), 500);
    assert_eq!(refused.headers()["X-ClickHouse-Exception-Code"], "40");
}

#[tokio::test]
async fn accept_encoding_lz4_gets_an_lz4_frame_as_current_servers_send_it() {
    let http = Http::to(shared());
    let answer = http
        .client
        .post(http.server.url())
        .header("Accept-Encoding", "lz4")
        .body("SELECT 'compressed'")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["Content-Encoding"], "lz4");
    let body = answer.bytes().await.unwrap();
    assert_eq!(body[..4], [0x04, 0x22, 0x4d, 0x18], "the LZ4 frame magic");

    // The Rust client asks for it with LZ4 on, and reads it.
    let text: String = rust_client(http.server, Compression::Lz4, "default")
        .query("SELECT 'compressed'")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(text, "compressed");
}

#[tokio::test]
async fn errors_carry_clickhouse_status_code_header_and_text() {
    let http = Http::to(shared());
    let answer = http.send(&[], "SELECT * FROM no_such_table").await;
    assert_eq!(answer.status(), 404);
    assert_eq!(answer.headers()["X-ClickHouse-Exception-Code"], "60");
    let body = answer.text().await.unwrap();
    assert!(
        body.starts_with("Code: 60. DB::Exception: ") && body.contains("(UNKNOWN_TABLE) (version "),
        "{body}"
    );

    for (query, sql, status, code) in [
        (&[][..], "SELEC 1", 400, "62"),
        (&[("user", "nobody")][..], "SELECT 1", 403, "516"),
    ] {
        let answer = http.send(query, sql).await;
        assert_eq!(answer.status(), status, "{sql}");
        assert_eq!(answer.headers()["X-ClickHouse-Exception-Code"], code);
    }
    // A statement that changes something is refused over GET, as on a server.
    let readonly = http
        .client
        .get(http.server.url())
        .query(&[("query", "CREATE TABLE over_get (x UInt8) ENGINE = Memory")])
        .send()
        .await
        .unwrap();
    assert_eq!(readonly.headers()["X-ClickHouse-Exception-Code"], "164");

    let client = rust_client(http.server, Compression::Lz4, "default");
    let error = client
        .query("SELECT * FROM no_such_table")
        .execute()
        .await
        .expect_err("an unknown table");
    assert!(error.to_string().contains("Code: 60."), "{error}");
    // The client sends its user in a header.
    let error = client
        .with_user("nobody")
        .query("SELECT 1")
        .execute()
        .await
        .expect_err("an unknown user");
    assert!(error.to_string().contains("Code: 516."), "{error}");
}

#[tokio::test]
async fn settings_and_database_in_the_url_apply_to_that_request_only() {
    let http = Http::to(shared());
    let database = http.database("per_request").await;
    let sql = "SELECT getSetting('insert_deduplication_token'), currentDatabase()";
    let with = [
        ("insert_deduplication_token", "abc"),
        ("database", database.as_str()),
    ];
    assert_eq!(http.run(&with, sql).await, format!("abc\t{database}\n"));
    // The next request, on the same kept-alive connection: back to the defaults.
    assert_eq!(http.run(&[], sql).await, "\tdefault\n");
}

#[tokio::test]
async fn an_insert_sent_again_with_its_token_is_stored_once() {
    let http = Http::to(shared());
    let database = http.database("deduplicated").await;
    let client = rust_client(http.server, Compression::Lz4, &database);
    for token in ["first", "first", "second"] {
        insert(&client, &samples(), Some(token)).await.unwrap();
    }
    assert_eq!(
        http.count(&database).await,
        format!("{}\n", 2 * samples().len())
    );
}

#[tokio::test]
async fn databases_tables_and_rows_survive_a_stop_and_a_start() {
    let mut server = ClickHouseServer::start_backend(ClickHouseBackend::Current);
    let database = Http::to(&server).database("kept").await;
    let client = rust_client(&server, Compression::None, &database);
    insert(&client, &samples(), None).await.unwrap();

    server.stop();
    let address = format!("127.0.0.1:{}", server.http_port());
    assert!(TcpStream::connect(&address).is_err(), "stopped");
    server.start_again();

    // A new client: the old one's pooled connection went with the stopped process, which
    // this test's runtime, blocked in stop and start, had no chance to notice.
    let client = rust_client(&server, Compression::None, &database);
    assert_eq!(select_samples(&client).await, samples());
}
