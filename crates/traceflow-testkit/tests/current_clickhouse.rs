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

/// The client as the storage crate sets it up: RowBinary without validation.
fn rust_client(server: &ClickHouseServer, compression: Compression) -> Client {
    Client::default()
        .with_url(server.url())
        .with_validation(false)
        .with_compression(compression)
}

/// Runs `sql` over plain HTTP; returns the status and the body as text.
async fn post(server: &ClickHouseServer, query: &[(&str, &str)], sql: &str) -> (u16, String) {
    let answer = reqwest::Client::new()
        .post(server.url())
        .query(query)
        .body(sql.to_owned())
        .send()
        .await
        .expect("the adapter answers");
    (answer.status().as_u16(), answer.text().await.unwrap())
}

/// Runs `sql` and panics unless it succeeds; returns the body.
async fn run(server: &ClickHouseServer, query: &[(&str, &str)], sql: &str) -> String {
    let (status, body) = post(server, query, sql).await;
    assert_eq!(status, 200, "{sql}: {body}");
    body
}

/// A database of its own for a test, with a MergeTree `samples` table.
async fn database(server: &ClickHouseServer, name: &str) -> String {
    run(server, &[], &format!("CREATE DATABASE {name}")).await;
    run(
        server,
        &[("database", name)],
        "CREATE TABLE samples (id UInt32, text String) ENGINE = MergeTree ORDER BY id \
         SETTINGS non_replicated_deduplication_window = 100",
    )
    .await;
    name.to_owned()
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
    let server = shared();
    for (compression, name) in [(Compression::Lz4, "lz4"), (Compression::None, "none")] {
        let database = database(server, &format!("rust_client_{name}")).await;
        let client = rust_client(server, compression).with_database(&database);
        let mut insert = client.insert::<Sample>("samples").await.unwrap();
        for sample in samples() {
            insert.write(&sample).await.unwrap();
        }
        insert.end().await.unwrap();

        let stored: Vec<Sample> = client
            .query("SELECT ?fields FROM samples ORDER BY id")
            .fetch_all()
            .await
            .unwrap();
        assert_eq!(stored, samples(), "{name}");
    }
}

#[tokio::test]
async fn a_row_the_table_refuses_fails_the_insert_and_stores_nothing() {
    let server = shared();
    let database = database(server, "refused_rows").await;
    run(
        server,
        &[("database", &database)],
        "ALTER TABLE samples ADD COLUMN guard UInt8 MATERIALIZED throwIf(text = 'poison')",
    )
    .await;
    let client = rust_client(server, Compression::Lz4).with_database(&database);
    let mut insert = client.insert::<Sample>("samples").await.unwrap();
    for text in ["fine", "poison"] {
        let sample = Sample {
            id: 1,
            text: text.to_owned(),
        };
        insert.write(&sample).await.unwrap();
    }
    let error = insert.end().await.expect_err("the table refuses the batch");
    assert!(
        error.to_string().contains("Code: 395"),
        "the server's code reaches the client: {error}"
    );
    let rows = run(
        server,
        &[("database", &database)],
        "SELECT count() FROM samples",
    )
    .await;
    assert_eq!(rows, "0\n");
}

#[tokio::test]
async fn compress_and_decompress_use_clickhouse_native_lz4_blocks() {
    let server = shared();
    let database = database(server, "native_blocks").await;
    let http = reqwest::Client::new();
    let rows = b"{\"id\": 7, \"text\": \"seven\"}\n{\"id\": 8, \"text\": \"eight\"}\n";
    let insert = http
        .post(server.url())
        .query(&[
            ("database", database.as_str()),
            ("query", "INSERT INTO samples FORMAT JSONEachRow"),
            ("decompress", "1"),
        ])
        .body(native_block(rows))
        .send()
        .await
        .unwrap();
    assert_eq!(insert.status(), 200, "{}", insert.text().await.unwrap());

    let answer = http
        .post(server.url())
        .query(&[("database", database.as_str()), ("compress", "1")])
        .body("SELECT id, text FROM samples ORDER BY id")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let body = answer.bytes().await.unwrap();
    assert_eq!(unpack_native_blocks(&body), b"7\tseven\n8\teight\n");

    // A block whose data does not match its checksum is refused as ClickHouse refuses it.
    let mut corrupted = native_block(rows);
    *corrupted.last_mut().unwrap() ^= 0xff;
    let refused = http
        .post(server.url())
        .query(&[
            ("database", database.as_str()),
            ("query", "INSERT INTO samples FORMAT JSONEachRow"),
            ("decompress", "1"),
        ])
        .body(corrupted)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 500);
    assert_eq!(refused.headers()["X-ClickHouse-Exception-Code"], "40");
}

#[tokio::test]
async fn accept_encoding_lz4_gets_an_lz4_frame_as_current_servers_send_it() {
    let server = shared();
    let answer = reqwest::Client::new()
        .post(server.url())
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
    let text: String = rust_client(server, Compression::Lz4)
        .query("SELECT 'compressed'")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(text, "compressed");
}

#[tokio::test]
async fn errors_carry_clickhouse_status_code_header_and_text() {
    let server = shared();
    let answer = reqwest::Client::new()
        .post(server.url())
        .body("SELECT * FROM no_such_table")
        .send()
        .await
        .unwrap();
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
        let answer = reqwest::Client::new()
            .post(server.url())
            .query(query)
            .body(sql)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), status, "{sql}");
        assert_eq!(answer.headers()["X-ClickHouse-Exception-Code"], code);
    }
    // A statement that changes something is refused over GET, as on a server.
    let readonly = reqwest::Client::new()
        .get(server.url())
        .query(&[("query", "CREATE TABLE over_get (x UInt8) ENGINE = Memory")])
        .send()
        .await
        .unwrap();
    assert_eq!(readonly.headers()["X-ClickHouse-Exception-Code"], "164");

    let error = rust_client(server, Compression::Lz4)
        .query("SELECT * FROM no_such_table")
        .execute()
        .await
        .expect_err("an unknown table");
    assert!(error.to_string().contains("Code: 60."), "{error}");
    // The client sends its user in a header.
    let error = rust_client(server, Compression::Lz4)
        .with_user("nobody")
        .query("SELECT 1")
        .execute()
        .await
        .expect_err("an unknown user");
    assert!(error.to_string().contains("Code: 516."), "{error}");
}

#[tokio::test]
async fn settings_and_database_in_the_url_apply_to_that_request_only() {
    let server = shared();
    let database = database(server, "per_request").await;
    let sql = "SELECT getSetting('insert_deduplication_token'), currentDatabase()";
    let with = [
        ("insert_deduplication_token", "abc"),
        ("database", database.as_str()),
    ];
    assert_eq!(run(server, &with, sql).await, format!("abc\t{database}\n"));
    // The same connection (reqwest keeps it), the next request: back to the defaults.
    assert_eq!(run(server, &[], sql).await, "\tdefault\n");
}

#[tokio::test]
async fn an_insert_sent_again_with_its_token_is_stored_once() {
    let server = shared();
    let database = database(server, "deduplicated").await;
    let client = rust_client(server, Compression::Lz4).with_database(&database);
    for token in ["first", "first", "second"] {
        let mut insert = client
            .insert::<Sample>("samples")
            .await
            .unwrap()
            .with_setting("insert_deduplication_token", token);
        for sample in samples() {
            insert.write(&sample).await.unwrap();
        }
        insert.end().await.unwrap();
    }
    let rows = run(
        server,
        &[("database", &database)],
        "SELECT count() FROM samples",
    )
    .await;
    assert_eq!(rows, format!("{}\n", 2 * samples().len()));
}

#[tokio::test]
async fn databases_tables_and_rows_survive_a_stop_and_a_start() {
    let mut server = ClickHouseServer::start_backend(ClickHouseBackend::Current);
    let database = database(&server, "kept").await;
    let client = rust_client(&server, Compression::None).with_database(&database);
    let mut insert = client.insert::<Sample>("samples").await.unwrap();
    for sample in samples() {
        insert.write(&sample).await.unwrap();
    }
    insert.end().await.unwrap();

    server.stop();
    let address = format!("127.0.0.1:{}", server.http_port());
    assert!(TcpStream::connect(&address).is_err(), "stopped");
    server.start_again();

    // A new client: the old one's pooled connection went with the stopped process, which
    // this test's runtime, blocked in stop and start, had no chance to notice.
    let client = rust_client(&server, Compression::None).with_database(&database);
    let stored: Vec<Sample> = client
        .query("SELECT ?fields FROM samples ORDER BY id")
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(stored, samples());
}
