//! A service that cannot start says why in one line naming the setting, and exits non-zero:
//! a port in use, a Redis or ClickHouse host that does not resolve, a bad value.

use std::{
    net::{TcpListener, UdpSocket},
    time::Duration,
};
use traceflow_testkit::{Service, free_port};

/// The one line a refused start writes to stderr: asserted to start with `expected` (the
/// OS's own words for the cause follow it).
fn refuses_to_start(service: Service, env: &[(&str, &str)], expected: &str) {
    let exited = service.run_to_exit(env, Duration::from_secs(30));
    assert!(
        !exited.status.success(),
        "{service:?} exited {}",
        exited.status
    );
    let lines: Vec<&str> = exited.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{service:?} wrote {:?}", exited.stderr);
    assert!(
        lines[0].starts_with(expected),
        "{service:?} wrote {:?}, expected it to start with {expected:?}",
        lines[0]
    );
}

/// The variables every service needs to start here, each port free.
fn env(ports: &[(&'static str, u16)]) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("BIND_HOST", "127.0.0.1".to_owned()),
        ("REDIS_ADDR", "127.0.0.1:1".to_owned()),
        ("CLICKHOUSE_URL", "http://127.0.0.1:1".to_owned()),
    ];
    for name in [
        "INGESTION_PORT",
        "OTLP_PORT",
        "OTLP_GRPC_PORT",
        "ES_PORT",
        "LOKI_PORT",
        "SYSLOG_TCP_PORT",
        "SYSLOG_UDP_PORT",
        "QUERY_PORT",
        "GRPC_PORT",
        "WORKER_HTTP_PORT",
    ] {
        let port = ports
            .iter()
            .find(|(taken, _)| *taken == name)
            .map_or_else(free_port, |(_, port)| *port);
        env.push((name, port.to_string()));
    }
    env
}

fn pairs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect()
}

#[test]
fn a_port_in_use_is_named_by_its_variable_and_address() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    for (service, variable) in [
        (Service::Ingestion, "INGESTION_PORT"),
        (Service::Ingestion, "OTLP_PORT"),
        (Service::Ingestion, "SYSLOG_TCP_PORT"),
        (Service::Ingestion, "OTLP_GRPC_PORT"),
        (Service::Ingestion, "LOKI_PORT"),
        (Service::Query, "QUERY_PORT"),
        (Service::Worker, "GRPC_PORT"),
        (Service::Worker, "WORKER_HTTP_PORT"),
    ] {
        let env = env(&[(variable, port)]);
        let name = format!("{service:?}").to_lowercase();
        refuses_to_start(
            service,
            &pairs(&env),
            &format!(
                "{name}: cannot listen on 127.0.0.1:{port} (BIND_HOST, {variable}): Address already in use"
            ),
        );
    }
}

#[test]
fn a_udp_port_in_use_is_named_by_its_variable_and_address() {
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let env = env(&[("SYSLOG_UDP_PORT", port)]);
    refuses_to_start(
        Service::Ingestion,
        &pairs(&env),
        &format!(
            "ingestion: cannot listen on 127.0.0.1:{port} (BIND_HOST, SYSLOG_UDP_PORT): Address already in use"
        ),
    );
}

#[test]
fn a_host_that_does_not_resolve_is_named_by_its_variable_and_url() {
    for (service, variable, value, shown) in [
        (
            Service::Ingestion,
            "REDIS_ADDR",
            "no-such-redis.invalid:6379",
            "redis://no-such-redis.invalid:6379",
        ),
        (
            Service::Query,
            "CLICKHOUSE_URL",
            "http://no-such-clickhouse.invalid:8123",
            "http://no-such-clickhouse.invalid:8123",
        ),
        (
            Service::Worker,
            "CLICKHOUSE_URL",
            "http://no-such-clickhouse.invalid:8123",
            "http://no-such-clickhouse.invalid:8123",
        ),
        (
            Service::Worker,
            "REDIS_ADDR",
            "redis://no-such-redis.invalid:6379",
            "redis://no-such-redis.invalid:6379",
        ),
    ] {
        let mut env = env(&[]);
        env.retain(|(name, _)| *name != variable);
        env.push((variable, value.to_owned()));
        let host = shown.split("//").nth(1).unwrap().split(':').next().unwrap();
        let name = format!("{service:?}").to_lowercase();
        refuses_to_start(
            service,
            &pairs(&env),
            &format!("{name}: {variable} {shown}: the host {host} does not resolve"),
        );
    }
}

#[test]
fn a_bad_value_is_named_by_its_variable() {
    let mut env = env(&[]);
    env.push(("RETENTION_DAYS", "0".to_owned()));
    refuses_to_start(
        Service::Worker,
        &pairs(&env),
        "worker: RETENTION_DAYS: must be between 1 and 36500, got 0",
    );
}
