//! Real `redis-server` and ClickHouse processes, each on free loopback ports in its own
//! temporary directory. ClickHouse is Debian's `clickhouse-server` (18.16), or current
//! ClickHouse with `TEST_CLICKHOUSE=current` (see [`ClickHouseBackend`]).
//!
//! Cleanup: dropping a server stops it and removes its directory. That does not cover the
//! shared instances (statics are never dropped) nor a test binary that is killed, so every
//! server also gets a watchdog: a small `sh` loop that polls the test process with `kill -0`
//! once a second and, when it is gone, kills the server process named in the directory's pid
//! file (if any) and removes the directory. A watchdog needs no unsafe code (unlike
//! `PR_SET_PDEATHSIG` through `pre_exec`, which the workspace forbids) and also works when the
//! test process dies by SIGKILL. It lives as long as the directory, so it also covers the time
//! between `stop` and `start_again`; the pid file exists only while the process has not been
//! reaped, so the watchdog never kills a reused pid.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// Generous, because a loaded machine running many test binaries at once is slow to start
/// servers (ClickHouse needs well under a second when idle).
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a server gets to exit after SIGTERM before it is killed.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// `$1` is the test process, `$2` the server's pid file, `$3` its directory. It ignores the
/// terminal's signals so that Ctrl-C, which also reaches the test process, cannot stop it
/// before it has cleaned up. The pause lets the killed server finish dying before its files
/// are removed.
const WATCHDOG_SCRIPT: &str = r#"
trap '' INT HUP TERM
while kill -0 "$1" 2>/dev/null; do sleep 1; done
if [ -f "$2" ]; then kill -9 "$(cat "$2")" 2>/dev/null; sleep 1; fi
rm -rf "$3"
"#;

/// A private `redis-server` without persistence, on 127.0.0.1.
pub struct RedisServer {
    supervisor: Supervisor,
    port: u16,
    /// Append-only file on, as the README tells production to run it.
    persistent: bool,
    /// What else the server is started with (a cluster node's settings, a replica's primary).
    extra_args: Vec<String>,
}

impl RedisServer {
    /// Starts the server and waits until it answers.
    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// Starts a server with its append-only file on (fsync every second), so a stop and
    /// [`Self::start_again`] keep the queue, as they do in production.
    pub fn start_persistent() -> Self {
        Self::start_with(true)
    }

    /// Starts a replica of the server on `primary_port`, without persistence.
    pub fn start_replica_of(primary_port: u16) -> Self {
        let primary = ["--replicaof", "127.0.0.1", &primary_port.to_string()].map(String::from);
        Self::start_on(free_port(), false, primary.to_vec())
    }

    fn start_with(persistent: bool) -> Self {
        Self::start_on(free_port(), persistent, Vec::new())
    }

    pub(crate) fn start_on(port: u16, persistent: bool, extra_args: Vec<String>) -> Self {
        let mut server = Self {
            supervisor: Supervisor::new("redis-server"),
            port,
            persistent,
            extra_args,
        };
        server.start_again();
        server
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server (SIGTERM, then SIGKILL if needed); afterwards the port refuses
    /// connections.
    pub fn stop(&mut self) {
        self.supervisor.stop();
    }

    /// Starts the stopped server again on the same port and directory, and waits until it
    /// answers. Without persistence it comes back empty.
    pub fn start_again(&mut self) {
        let dir = self.supervisor.dir().to_owned();
        let mut command = Command::new(binary("redis-server"));
        let appendonly = if self.persistent { "yes" } else { "no" };
        command
            .args([
                "--save",
                "",
                "--appendonly",
                appendonly,
                "--appendfsync",
                "everysec",
            ])
            .args(["--bind", "127.0.0.1"])
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--dir")
            .arg(&dir)
            .args(&self.extra_args);
        let log = Path::new(&dir).join("redis.log");
        let port = self.port;
        self.supervisor
            .start(command, &log, || redis_ready(port, &dir), &[&log]);
    }
}

/// Which ClickHouse the test kit starts, chosen by `TEST_CLICKHOUSE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClickHouseBackend {
    /// Debian 12's `clickhouse-server` package, 18.16: `TEST_CLICKHOUSE` unset or `18.16`.
    Debian,
    /// Current ClickHouse: chDB's engine behind ClickHouse's HTTP interface, served by
    /// `current-clickhouse/server.py` in this crate: `TEST_CLICKHOUSE=current`.
    Current,
}

impl ClickHouseBackend {
    /// The backend `TEST_CLICKHOUSE` names; panics on a value it does not know. The first call
    /// in a process says on stderr which one the tests use.
    pub fn selected() -> Self {
        static SELECTED: OnceLock<ClickHouseBackend> = OnceLock::new();
        *SELECTED.get_or_init(|| {
            let backend = match std::env::var("TEST_CLICKHOUSE").as_deref() {
                Err(_) | Ok("" | "18.16") => ClickHouseBackend::Debian,
                Ok("current") => ClickHouseBackend::Current,
                Ok(other) => panic!(
                    "TEST_CLICKHOUSE={other:?} is not a ClickHouse the test kit can start: leave it \
                     unset (or 18.16) for Debian's clickhouse-server, or set it to current"
                ),
            };
            let description = match backend {
                ClickHouseBackend::Debian => {
                    "Debian's clickhouse-server (18.16); TEST_CLICKHOUSE=current for current ClickHouse"
                }
                ClickHouseBackend::Current => {
                    "current ClickHouse (chDB behind its HTTP interface), from TEST_CLICKHOUSE=current"
                }
            };
            // Straight to the stream: the test harness captures what eprintln! writes.
            let _ = writeln!(
                std::io::stderr(),
                "traceflow-testkit: ClickHouse for these tests: {description}"
            );
            backend
        })
    }
}

/// The current-ClickHouse adapter, run with the `python3` on PATH.
const ADAPTER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/current-clickhouse/server.py");

/// A private ClickHouse on 127.0.0.1, with its data, temporary files and logs in its own
/// directory: Debian's `clickhouse-server` (also on ::1) or the current-ClickHouse adapter.
pub struct ClickHouseServer {
    supervisor: Supervisor,
    backend: ClickHouseBackend,
    http_port: u16,
    /// Debian's server also listens on these; the adapter speaks HTTP only.
    tcp_port: u16,
    interserver_http_port: u16,
}

impl ClickHouseServer {
    /// Starts the backend `TEST_CLICKHOUSE` selects and waits until it answers queries.
    pub fn start() -> Self {
        Self::start_backend(ClickHouseBackend::selected())
    }

    /// Starts `backend`, whatever `TEST_CLICKHOUSE` says, and waits until it answers queries.
    pub fn start_backend(backend: ClickHouseBackend) -> Self {
        let name = match backend {
            ClickHouseBackend::Debian => "clickhouse-server",
            ClickHouseBackend::Current => "current-clickhouse",
        };
        let mut server = Self {
            supervisor: Supervisor::new(name),
            backend,
            http_port: free_port(),
            tcp_port: free_port(),
            interserver_http_port: free_port(),
        };
        server.start_again();
        server
    }

    /// `http://127.0.0.1:<http port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    pub fn http_port(&self) -> u16 {
        self.http_port
    }

    pub fn backend(&self) -> ClickHouseBackend {
        self.backend
    }

    /// Stops the server (SIGTERM, then SIGKILL if needed); afterwards the HTTP port refuses
    /// connections. Either backend takes a second or two to shut down cleanly.
    pub fn stop(&mut self) {
        self.supervisor.stop();
    }

    /// Starts the stopped server again with the same ports and data directory (its tables
    /// and data are still there), and waits until it answers queries.
    pub fn start_again(&mut self) {
        let dir = self.supervisor.dir().to_owned();
        // The command, the file its output goes to, the logs worth showing when it does not
        // start, and where it keeps the `default` database (which the readiness check asks).
        let (command, output, logs, data_path) = match self.backend {
            ClickHouseBackend::Debian => (
                self.debian_command(&dir),
                "stdout.log",
                &["stdout.log", "server.err.log"][..],
                format!("{dir}/data/default/"),
            ),
            ClickHouseBackend::Current => (
                self.adapter_command(&dir),
                "adapter.log",
                &["adapter.log"][..],
                format!("{dir}/data/"),
            ),
        };
        let output = Path::new(&dir).join(output);
        let logs: Vec<PathBuf> = logs.iter().map(|log| Path::new(&dir).join(log)).collect();
        let port = self.http_port;
        self.supervisor.start(
            command,
            &output,
            || clickhouse_ready(port, &data_path),
            &logs,
        );
    }

    /// The adapter writes its errors to its output, its only log.
    fn adapter_command(&self, dir: &str) -> Command {
        let mut command = Command::new(binary("python3"));
        command
            .arg(ADAPTER)
            .arg(format!("--port={}", self.http_port))
            .arg(format!("--path={dir}/data"));
        command
    }

    fn debian_command(&self, dir: &str) -> Command {
        let mut command = Command::new(binary("clickhouse-server"));
        // The packaged config with every port and path it names overridden: the ports so that
        // instances can run side by side, the paths so that nothing is written to /var.
        command
            .arg("--config-file=/etc/clickhouse-server/config.xml")
            .arg("--")
            .arg(format!("--http_port={}", self.http_port))
            .arg(format!("--tcp_port={}", self.tcp_port))
            .arg(format!(
                "--interserver_http_port={}",
                self.interserver_http_port
            ))
            .arg(format!("--path={dir}/"))
            .arg(format!("--tmp_path={dir}/tmp/"))
            .arg(format!("--user_files_path={dir}/user_files/"))
            .arg(format!("--format_schema_path={dir}/format_schemas/"))
            .arg(format!("--logger.log={dir}/server.log"))
            .arg(format!("--logger.errorlog={dir}/server.err.log"));
        command
    }
}

/// The URL of a Redis server shared by the whole test binary: `TEST_REDIS_URL` if set,
/// otherwise one [`RedisServer`] started on first use. Tests sharing it must use distinct keys.
pub fn shared_redis_url() -> String {
    static SHARED: OnceLock<RedisServer> = OnceLock::new();
    env_url("TEST_REDIS_URL").unwrap_or_else(|| SHARED.get_or_init(RedisServer::start).url())
}

/// The URL of a ClickHouse server shared by the whole test binary: `TEST_CLICKHOUSE_URL` if
/// set, otherwise one [`ClickHouseServer`] started on first use. Tests sharing it must use
/// distinct databases or tables.
pub fn shared_clickhouse_url() -> String {
    static SHARED: OnceLock<ClickHouseServer> = OnceLock::new();
    env_url("TEST_CLICKHOUSE_URL")
        .unwrap_or_else(|| SHARED.get_or_init(ClickHouseServer::start).url())
}

/// Panics with instructions unless `redis-server` and what the selected ClickHouse backend
/// runs (`clickhouse-server`, or `python3` for the adapter) are installed.
pub fn require_binaries() {
    binary("redis-server");
    binary(match ClickHouseBackend::selected() {
        ClickHouseBackend::Debian => "clickhouse-server",
        ClickHouseBackend::Current => "python3",
    });
}

/// A loopback port that is free now, from a range below Linux's ephemeral ports
/// (`ip_local_port_range`, 32768 and up): a port the OS hands out would also be the local end
/// of any outgoing connection made before the server binds it, which a busy test run makes by
/// the thousand. Each process starts at its own offset and never hands a port out twice.
pub fn free_port() -> u16 {
    const FIRST: u16 = 20_000;
    const COUNT: u32 = 12_000;
    static NEXT: OnceLock<AtomicU32> = OnceLock::new();
    let next = NEXT.get_or_init(|| AtomicU32::new(std::process::id().wrapping_mul(397) % COUNT));
    (0..COUNT)
        .map(|_| FIRST + (next.fetch_add(1, Ordering::Relaxed) % COUNT) as u16)
        .find(|&port| TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok())
        .expect("no free port on 127.0.0.1 between 20000 and 32000")
}

fn env_url(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|url| !url.is_empty())
}

/// The installed binary; Debian puts `clickhouse-server` in /usr/sbin, which is not on every
/// user's PATH.
pub(crate) fn binary(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{name} is not installed; run scripts/test.sh, which installs what the tests need \
                 and then runs them"
            )
        })
}

/// One server's directory, its process while it runs, and the watchdog for both.
pub(crate) struct Supervisor {
    name: &'static str,
    server: Option<Child>,
    /// Holds the server's pid while it runs, for the watchdog.
    pid_file: PathBuf,
    watchdog: Child,
    /// The directory's canonical path, as Redis reports it.
    path: String,
    /// Held only to remove the directory on drop; last, so that happens after the process
    /// has stopped (fields drop in declaration order).
    _dir: TempDir,
}

impl Supervisor {
    pub(crate) fn new(name: &'static str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix(&format!("traceflow-{name}-"))
            .tempdir()
            .expect("cannot create a temporary directory");
        let path = std::fs::canonicalize(dir.path())
            .ok()
            .and_then(|path| path.into_os_string().into_string().ok())
            .expect("the temporary directory has no UTF-8 canonical path");
        let pid_file = dir.path().join("server.pid");
        // No output handles: an inherited pipe would keep whoever reads the test's output
        // waiting for the watchdog.
        let watchdog = Command::new("sh")
            .args(["-c", WATCHDOG_SCRIPT, "traceflow-testkit-watchdog"])
            .arg(std::process::id().to_string())
            .arg(&pid_file)
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start the watchdog for {name}: {error}"));
        Self {
            name,
            server: None,
            pid_file,
            watchdog,
            path,
            _dir: dir,
        }
    }

    pub(crate) fn dir(&self) -> &str {
        &self.path
    }

    /// Starts `command` with its output appended to `output`, then polls `ready` until it
    /// holds; panics with the end of `logs` if the server exits or is not ready within
    /// [`STARTUP_TIMEOUT`].
    pub(crate) fn start(
        &mut self,
        mut command: Command,
        output: &Path,
        ready: impl Fn() -> bool,
        logs: &[impl AsRef<Path>],
    ) {
        assert!(self.server.is_none(), "{} is already running", self.name);
        let name = self.name;
        let stdout = OpenOptions::new()
            .create(true)
            .append(true)
            .open(output)
            .unwrap_or_else(|error| panic!("cannot open {}: {error}", output.display()));
        let stderr = stdout.try_clone().expect("cannot duplicate a file handle");
        let server = self.server.insert(
            command
                .stdin(Stdio::null())
                .stdout(stdout)
                .stderr(stderr)
                .spawn()
                .unwrap_or_else(|error| panic!("cannot start {name}: {error}")),
        );
        std::fs::write(&self.pid_file, server.id().to_string()).expect("cannot write the pid file");

        let deadline = Instant::now() + STARTUP_TIMEOUT;
        while !ready() {
            let problem = match server.try_wait() {
                Ok(Some(status)) => format!("exited during startup ({status})"),
                Ok(None) if Instant::now() > deadline => {
                    format!("was not ready after {STARTUP_TIMEOUT:?}")
                }
                Ok(None) => {
                    sleep(POLL_INTERVAL);
                    continue;
                }
                Err(error) => format!("cannot be waited for: {error}"),
            };
            panic!("{name} {problem}\n{}", log_tails(logs));
        }
    }

    /// Kills the server at once (SIGKILL), as a crash would, and reaps it.
    pub(crate) fn kill(&mut self) {
        if let Some(mut server) = self.server.take() {
            let _ = server.kill();
            let _ = server.wait();
            let _ = std::fs::remove_file(&self.pid_file);
        }
    }

    /// Stops the server if it runs: SIGTERM, then SIGKILL after [`SHUTDOWN_TIMEOUT`].
    pub(crate) fn stop(&mut self) {
        let Some(mut server) = self.server.take() else {
            return;
        };
        // SIGTERM through kill(1): std can only send SIGKILL, and libc::kill needs unsafe.
        let _ = Command::new("kill")
            .arg(server.id().to_string())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + SHUTDOWN_TIMEOUT;
        while matches!(server.try_wait(), Ok(None)) && Instant::now() < deadline {
            sleep(POLL_INTERVAL);
        }
        let _ = server.kill();
        let _ = server.wait();
        // The process is reaped, so its pid may be reused: the watchdog must not see it.
        let _ = std::fs::remove_file(&self.pid_file);
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        self.stop();
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
    }
}

/// The last lines of each log, for a startup failure message.
fn log_tails(logs: &[impl AsRef<Path>]) -> String {
    const LINES: usize = 20;
    logs.iter()
        .map(|path| {
            let path = path.as_ref();
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(LINES)..].join("\n");
            format!("--- last lines of {} ---\n{tail}", path.display())
        })
        .collect::<Vec<_>>()
        .join("\n")
}

// The readiness checks also make sure that the server answering is this one: a port was
// free a moment ago, but if another server has taken it since, the other one answers while
// ours is still exiting (ClickHouse takes a second), or for good if ClickHouse could listen
// on ::1 but not on 127.0.0.1.

fn redis_ready(port: u16, dir: &str) -> bool {
    // QUIT makes Redis close the connection, so the whole answer can be read to the end.
    exchange(port, b"CONFIG GET dir\r\nQUIT\r\n")
        .is_some_and(|answer| answer.contains(&format!("\r\n{dir}\r\n")))
}

/// Whether the server on `port` answers with `data_path`, the `default` database's directory,
/// which lies in this server's own directory.
pub(crate) fn clickhouse_ready(port: u16, data_path: &str) -> bool {
    const REQUEST: &[u8] = b"GET /?query=SELECT%20data_path%20FROM%20system.databases\
        %20WHERE%20name%20%3D%20%27default%27 HTTP/1.0\r\n\r\n";
    exchange(port, REQUEST).is_some_and(|answer| {
        answer.starts_with("HTTP/1.0 200") && answer.ends_with(&format!("\r\n\r\n{data_path}\n"))
    })
}

/// Sends `request` to 127.0.0.1:`port` and reads the answer until the server closes the
/// connection; `None` if any step fails.
pub(crate) fn exchange(port: u16, request: &[u8]) -> Option<String> {
    let timeout = Duration::from_secs(2);
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&address, timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    stream.write_all(request).ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    Some(answer)
}
