//! The three services as real processes, for tests that kill and signal them.

use crate::servers::{Supervisor, exchange};
use std::{
    io::Read,
    path::{Path, PathBuf},
    process::{Command, ExitStatus, Stdio},
    sync::OnceLock,
    thread::sleep,
    time::{Duration, Instant},
};

/// Which binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Ingestion,
    Worker,
    Query,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Service::Ingestion => "ingestion",
            Service::Worker => "worker",
            Service::Query => "query",
        }
    }
}

/// The directory holding the service binaries (`target/<profile>`), after building them
/// once per process with the cargo that runs the caller.
///
/// The caller is a test (`target/<profile>/deps/<test>-<hash>`) or a binary such as the
/// benchmark harness (`target/<profile>/<name>`); either way the services are built with the
/// caller's profile, so a release harness drives release services. `debug_assertions` is
/// what tells the two apart here: it is off only when this crate itself is compiled with
/// optimisations, that is in `--release` builds.
fn binaries() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let mut build = Command::new(cargo);
        build.args([
            "build",
            "--quiet",
            "-p",
            "ingestion",
            "-p",
            "worker",
            "-p",
            "query",
        ]);
        if !cfg!(debug_assertions) {
            build.arg("--release");
        }
        let status = build.status().expect("cargo runs");
        assert!(status.success(), "building the service binaries failed");
        let exe = std::env::current_exe().expect("the caller has a path");
        let dir = exe.parent().expect("the caller lives in target/<profile>");
        if dir.file_name().is_some_and(|name| name == "deps") {
            dir.parent().expect("deps lives in target/<profile>")
        } else {
            dir
        }
        .to_path_buf()
    })
}

/// How a service process that was expected to stop by itself ended.
#[derive(Debug)]
pub struct Exited {
    pub status: ExitStatus,
    /// What it wrote to stderr.
    pub stderr: String,
}

impl Service {
    /// Runs the service with exactly `env` (plus PATH) and waits for it to exit by itself,
    /// as a service refusing to start does; panics if it is still running after `timeout`.
    pub fn run_to_exit(self, env: &[(&str, &str)], timeout: Duration) -> Exited {
        let mut child = Command::new(binaries().join(self.name()))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the service binary starts");
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = child.try_wait().expect("the process can be waited for") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("{} was still running after {timeout:?}", self.name());
            }
            sleep(Duration::from_millis(50));
        };
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .expect("stderr is piped")
            .read_to_string(&mut stderr)
            .expect("stderr is text");
        Exited { status, stderr }
    }
}

/// A service process with its own directory and log; dropped, it is stopped.
pub struct ServiceProcess {
    supervisor: Supervisor,
    service: Service,
    env: Vec<(String, String)>,
    /// Answers HTTP `/health` once the service is up (the worker's HTTP port for the worker).
    health_port: u16,
}

impl ServiceProcess {
    /// Starts `service` with exactly `env` (plus PATH) and waits until its health endpoint
    /// answers, whatever it says.
    pub fn start(service: Service, env: Vec<(String, String)>, health_port: u16) -> Self {
        let mut process = Self {
            supervisor: Supervisor::new(service.name()),
            service,
            env,
            health_port,
        };
        process.start_again();
        process
    }

    pub fn start_again(&mut self) {
        let mut command = Command::new(binaries().join(self.service.name()));
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("RUST_LOG", "info")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(self.supervisor.dir());
        let log = Path::new(self.supervisor.dir()).join("service.log");
        let port = self.health_port;
        self.supervisor.start(
            command,
            &log,
            || {
                exchange(port, b"GET /health HTTP/1.0\r\n\r\n")
                    .is_some_and(|a| a.starts_with("HTTP/1"))
            },
            &[&log],
        );
    }

    /// SIGKILL: the process dies wherever it is, as in a crash.
    pub fn kill(&mut self) {
        self.supervisor.kill();
    }

    /// SIGTERM, then waits until the process has exited (SIGKILL after 10 s).
    pub fn terminate(&mut self) {
        self.supervisor.stop();
    }

    /// What the process has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(Path::new(self.supervisor.dir()).join("service.log"))
            .unwrap_or_default()
    }
}
