//! Memory of the service processes, from `/proc`.
//!
//! The test kit starts each service as a direct child of this process (it does not expose
//! the pid), so a service is found as the child whose command name is the binary's name.
//! Only this process's children are considered, so services of another run or a developer's
//! own stack on the same machine are never measured by mistake.

use serde::Serialize;
use std::{collections::BTreeMap, fs, sync::OnceLock};

/// The pid of this process's child named `name` (`ingestion`, `worker`, `query`), if one
/// runs.
pub fn child_pid(name: &str) -> Option<u32> {
    child_pids(name).into_iter().next()
}

/// Every child of this process named `name` (a scaled-out stack runs two workers).
fn child_pids(name: &str) -> Vec<u32> {
    let me = std::process::id();
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids: Vec<u32> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                parse_stat(&stat).is_some_and(|(comm, parent)| parent == me && comm == name)
            })
        })
        .collect();
    pids.sort_unstable();
    pids
}

/// `(comm, ppid)` from `/proc/<pid>/stat`: `pid (comm) state ppid ...`. The command name
/// may itself contain spaces and parentheses, so it is what lies between the first `(` and
/// the last `)`.
fn parse_stat(stat: &str) -> Option<(&str, u32)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?;
    let mut rest = stat.get(close + 1..)?.split_whitespace();
    let _state = rest.next()?;
    let parent = rest.next()?.parse().ok()?;
    Some((comm, parent))
}

/// Resident memory of a process, in MB (10^6 bytes, the unit the targets use).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Memory {
    /// `VmRSS`: resident now.
    pub rss_mb: f64,
    /// `VmHWM`: the most the process has had resident since it started (the kernel keeps
    /// this peak, so short spikes between samples are not missed).
    pub peak_mb: f64,
}

pub fn memory(pid: u32) -> Option<Memory> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_status(&status)
}

fn parse_status(status: &str) -> Option<Memory> {
    // The kernel's "kB" are KiB.
    let mb = |field: &str| -> Option<f64> {
        let line = status.lines().find(|line| line.starts_with(field))?;
        let value: f64 = line[field.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(value * 1024.0 / 1e6)
    };
    Some(Memory {
        rss_mb: mb("VmRSS:")?,
        peak_mb: mb("VmHWM:")?,
    })
}

/// The peak resident memory of this process's child `name`, or `None` when it is not
/// running.
pub fn service_memory(name: &str) -> Option<Memory> {
    memory(child_pid(name)?)
}

/// The processes whose CPU time the scenarios account for: this harness (the load
/// generator) and its children, the services, Redis and ClickHouse (whose command name the
/// kernel cuts to 15 characters).
const ACCOUNTED: [(&str, &str); 7] = [
    ("harness", ""),
    ("ingestion", "ingestion"),
    ("worker", "worker"),
    ("query", "query"),
    ("redis", "redis-server"),
    ("clickhouse", "clickhouse-serv"),
    ("nginx", "nginx"),
];

/// CPU time (user + system) each accounted process has used so far, in seconds; of all
/// the processes of a name together.
#[derive(Debug, Clone, Default)]
pub struct CpuTimes(Vec<(&'static str, f64)>);

impl CpuTimes {
    pub fn now() -> Self {
        let ticks = clock_ticks();
        Self(
            ACCOUNTED
                .iter()
                .filter_map(|&(label, name)| {
                    let pids = if name.is_empty() {
                        vec![std::process::id()]
                    } else {
                        child_pids(name)
                    };
                    let used: Vec<u64> = pids.into_iter().filter_map(cpu_ticks).collect();
                    let used = (!used.is_empty()).then(|| used.iter().sum::<u64>());
                    used.map(|used| (label, used as f64 / ticks))
                })
                .collect(),
        )
    }

    /// Cores each process kept busy on average since `earlier`, over `seconds` of wall
    /// time: where a scenario's CPU went on this shared machine. A process restarted in
    /// between is left out.
    pub fn cores_since(&self, earlier: &CpuTimes, seconds: f64) -> BTreeMap<&'static str, f64> {
        self.0
            .iter()
            .filter_map(|&(label, now)| {
                let (_, before) = earlier.0.iter().find(|(l, _)| *l == label)?;
                (now >= *before)
                    .then(|| (label, ((now - before) / seconds * 100.0).round() / 100.0))
            })
            .collect()
    }
}

/// `utime + stime` of a process, in clock ticks (fields 14 and 15 of its stat line).
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = stat.get(stat.rfind(')')? + 1..)?.split_whitespace();
    // After the command: state is field 3, so utime (14) and stime (15) are the 12th and
    // 13th here.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// The kernel's clock ticks per second (`getconf CLK_TCK`; 100 on every usual Linux).
fn clock_ticks() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8_lossy(&out.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_are_parsed() {
        assert_eq!(
            parse_stat("4242 (worker) S 17 4242 17 0 -1"),
            Some(("worker", 17))
        );
        assert_eq!(parse_stat("1 (a (b) c) R 0 1"), Some(("a (b) c", 0)));
    }

    #[test]
    fn status_memory_is_parsed() {
        let status = "Name:\tworker\nVmHWM:\t   20000 kB\nVmRSS:\t   10000 kB\n";
        let memory = parse_status(status).unwrap();
        assert!((memory.rss_mb - 10.24).abs() < 1e-9);
        assert!((memory.peak_mb - 20.48).abs() < 1e-9);
    }

    #[test]
    fn this_process_can_be_measured() {
        assert!(memory(std::process::id()).unwrap().peak_mb > 0.0);
        let before = CpuTimes::now();
        let mut x = 0u64;
        for i in 0..50_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        assert!(x > 0);
        let cores = CpuTimes::now().cores_since(&before, 1.0);
        assert!(cores["harness"] >= 0.0, "{cores:?}");
    }
}
