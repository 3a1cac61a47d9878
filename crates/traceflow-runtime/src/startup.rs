//! What a service checks before it serves, so that a setting at fault stops it with one line
//! naming the variable and the address, instead of an OS error with no context.

use std::{
    future::Future,
    io,
    net::{IpAddr, SocketAddr},
    process::ExitCode,
    time::Duration,
};
use tokio::net::{TcpListener, UdpSocket};

/// Why a service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The port is taken, or the address is not this machine's.
    #[error("cannot listen on {address} ({variables})")]
    Bind {
        variables: &'static str,
        address: SocketAddr,
        #[source]
        source: io::Error,
    },
    /// The URL's host has no address: a typo, or a name only another network knows.
    #[error("{variable} {url}: the host {host} does not resolve")]
    Unresolvable {
        variable: &'static str,
        url: String,
        host: String,
        #[source]
        source: io::Error,
    },
}

/// Listens on `host:port`; `variables` are the settings that chose them, e.g.
/// `"BIND_HOST, QUERY_PORT"`.
pub async fn bind(
    variables: &'static str,
    host: IpAddr,
    port: u16,
) -> Result<TcpListener, StartError> {
    let address = SocketAddr::new(host, port);
    bound(variables, address, TcpListener::bind(address).await)
}

/// A UDP socket on `host:port`, refused as [`bind`] refuses a TCP port.
pub async fn bind_udp(
    variables: &'static str,
    host: IpAddr,
    port: u16,
) -> Result<UdpSocket, StartError> {
    let address = SocketAddr::new(host, port);
    bound(variables, address, UdpSocket::bind(address).await)
}

/// A socket bound to `address`, or why not, naming `variables`.
fn bound<T>(
    variables: &'static str,
    address: SocketAddr,
    socket: io::Result<T>,
) -> Result<T, StartError> {
    socket.map_err(|source| StartError::Bind {
        variables,
        address,
        source,
    })
}

/// How long a name gets to resolve at start: a resolver that is slow to come up (a
/// container's) is waited for, a name that does not exist fails fast enough.
const RESOLVE_FOR: Duration = Duration::from_secs(5);

/// Checks that the host of `url` (set by `variable`) resolves. Whether the server there
/// answers is another matter: services start, and report 503, while a dependency is down.
pub async fn resolves(variable: &'static str, url: &str) -> Result<(), StartError> {
    let Some((host, port)) = host_and_port(url) else {
        // Config parsing already refused a URL without a host.
        return Ok(());
    };
    let deadline = tokio::time::Instant::now() + RESOLVE_FOR;
    loop {
        let error = match tokio::net::lookup_host((host.as_str(), port)).await {
            Ok(mut addresses) => match addresses.next() {
                Some(_) => return Ok(()),
                None => io::Error::new(io::ErrorKind::NotFound, "no address"),
            },
            Err(error) => error,
        };
        if tokio::time::Instant::now() >= deadline {
            return Err(StartError::Unresolvable {
                variable,
                url: url.to_owned(),
                host,
                source: error,
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The host (without IPv6 brackets) and port of a `scheme://host:port/...` URL.
fn host_and_port(url: &str) -> Option<(String, u16)> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let (host, port) = match authority.strip_prefix('[') {
        Some(bracketed) => {
            let (host, after) = bracketed.split_once(']')?;
            (host, after.strip_prefix(':'))
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let default_port = if url.starts_with("https") { 443 } else { 80 };
    let port = port.map_or(Some(default_port), |port| port.parse().ok())?;
    (!host.is_empty()).then(|| (host.to_owned(), port))
}

/// Runs a service's `main` body: its failure is one line on stderr, `service: what went
/// wrong: why`, and a non-zero exit code.
pub async fn exit_code(
    service: &'static str,
    run: impl Future<Output = anyhow::Result<()>>,
) -> ExitCode {
    match run.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(service, error = format!("{error:#}"), "could not run");
            eprintln!("{service}: {error:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_ports_are_read_from_urls() {
        let cases = [
            ("http://localhost:8123", Some(("localhost", 8123))),
            ("https://ch.example.com", Some(("ch.example.com", 443))),
            ("redis://:secret@redis:6380/0", Some(("redis", 6380))),
            ("http://[::1]:9000/x", Some(("::1", 9000))),
            ("http://host:notaport", None),
        ];
        for (url, expected) in cases {
            assert_eq!(
                host_and_port(url),
                expected.map(|(host, port)| (host.to_owned(), port)),
                "{url}"
            );
        }
    }

    #[tokio::test]
    async fn a_busy_port_names_the_variables_and_the_address() {
        let localhost = IpAddr::from([127, 0, 0, 1]);
        let taken = bind("BIND_HOST, PORT", localhost, 0).await.unwrap();
        let port = taken.local_addr().unwrap().port();
        let tcp = bind("BIND_HOST, PORT", localhost, port).await.unwrap_err();
        let taken = bind_udp("BIND_HOST, PORT", localhost, 0).await.unwrap();
        let udp_port = taken.local_addr().unwrap().port();
        let udp = bind_udp("BIND_HOST, PORT", localhost, udp_port)
            .await
            .unwrap_err();
        for (error, port) in [(tcp, port), (udp, udp_port)] {
            assert_eq!(
                error.to_string(),
                format!("cannot listen on 127.0.0.1:{port} (BIND_HOST, PORT)")
            );
        }
    }

    #[tokio::test]
    async fn a_host_that_does_not_resolve_is_named() {
        let error = resolves("CLICKHOUSE_URL", "http://no-such-host.invalid:8123")
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "CLICKHOUSE_URL http://no-such-host.invalid:8123: the host no-such-host.invalid does not resolve"
        );
        resolves("CLICKHOUSE_URL", "http://127.0.0.1:8123")
            .await
            .unwrap();
    }
}
