use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;

use traceflow_testkit::{ClickHouseServer, RedisServer, shared_clickhouse_url, shared_redis_url};

/// Sends raw bytes to `address` (`host:port`) and reads until the server closes the
/// connection.
fn exchange(address: &str, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(address).expect("connect");
    stream.write_all(request).expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    answer
}

fn redis_ping(address: &str) -> String {
    exchange(address, b"PING\r\nQUIT\r\n")
}

/// Runs one statement over ClickHouse's HTTP interface and returns the body; panics unless
/// the status is 200.
fn query(address: &str, sql: &str) -> String {
    let request = format!(
        "POST / HTTP/1.0\r\nContent-Length: {}\r\n\r\n{sql}",
        sql.len()
    );
    let answer = exchange(address, request.as_bytes());
    let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(head.starts_with("HTTP/1.0 200"), "{sql}: {answer}");
    body.to_string()
}

fn assert_refused(address: &str) {
    let error = TcpStream::connect(address).expect_err("the server is stopped");
    assert_eq!(error.kind(), ErrorKind::ConnectionRefused);
}

/// `host:port` of a URL such as `redis://127.0.0.1:6379`.
fn address_of(url: &str) -> &str {
    let (_, rest) = url.split_once("://").expect("a URL");
    rest.split('/').next().unwrap()
}

fn local(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

#[test]
fn redis_stops_and_starts_again() {
    let mut redis = RedisServer::start();
    let address = local(redis.port());
    assert_eq!(redis.url(), format!("redis://{address}"));
    assert!(redis_ping(&address).starts_with("+PONG\r\n"));

    redis.stop();
    assert_refused(&address);

    redis.start_again();
    assert!(redis_ping(&address).starts_with("+PONG\r\n"));
}

#[test]
fn clickhouse_keeps_its_data_across_a_restart() {
    let mut clickhouse = ClickHouseServer::start();
    let address = local(clickhouse.http_port());
    assert_eq!(clickhouse.url(), format!("http://{address}"));
    assert_eq!(query(&address, "SELECT 1"), "1\n");
    query(
        &address,
        "CREATE TABLE t (x UInt8) ENGINE = MergeTree ORDER BY x",
    );
    query(&address, "INSERT INTO t VALUES (7)");

    clickhouse.stop();
    assert_refused(&address);

    clickhouse.start_again();
    assert_eq!(query(&address, "SELECT x FROM t"), "7\n");
}

#[test]
fn two_clickhouse_servers_run_side_by_side() {
    let first = ClickHouseServer::start();
    let second = ClickHouseServer::start();
    assert_ne!(first.http_port(), second.http_port());
    let (first, second) = (local(first.http_port()), local(second.http_port()));

    query(&first, "CREATE TABLE t (x UInt8) ENGINE = Memory");
    assert_eq!(query(&first, "EXISTS TABLE t"), "1\n");
    assert_eq!(query(&second, "EXISTS TABLE t"), "0\n");
}

#[test]
fn shared_servers_are_started_once() {
    let redis = shared_redis_url();
    assert_eq!(shared_redis_url(), redis);
    assert!(redis_ping(address_of(&redis)).starts_with("+PONG\r\n"));

    let clickhouse = shared_clickhouse_url();
    assert_eq!(shared_clickhouse_url(), clickhouse);
    assert_eq!(query(address_of(&clickhouse), "SELECT 1"), "1\n");
}
