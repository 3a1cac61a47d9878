//! A Redis Cluster as users run one: three primaries (`redis-server --cluster-enabled yes`,
//! Debian's `redis-server` 7.0) joined by `redis-cli --cluster create`, each with its
//! append-only file on, so that a primary stopped and started again keeps its data and its
//! place in the cluster. `cluster-require-full-coverage no`: while a primary is down, the
//! others keep serving their slots (what the queue's shards rely on, and the README says).

use crate::servers::{RedisServer, binary, exchange, free_port};
use std::process::Command;
use std::time::{Duration, Instant};

const PRIMARIES: usize = 3;
/// How long a cluster takes to agree on its slots after a create or a restart.
const AGREEMENT_TIMEOUT: Duration = Duration::from_secs(30);

pub struct RedisCluster {
    primaries: Vec<RedisServer>,
    /// The primaries stopped, by index.
    stopped: std::collections::BTreeSet<usize>,
}

impl RedisCluster {
    /// Starts the three primaries, creates the cluster, and waits until every node serves.
    pub fn start() -> Self {
        let primaries: Vec<RedisServer> = (0..PRIMARIES)
            .map(|_| RedisServer::start_on(free_port(), true, node_args()))
            .collect();
        let addresses: Vec<String> = primaries
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port()))
            .collect();
        let created = Command::new(binary("redis-cli"))
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("cannot run redis-cli --cluster create");
        assert!(
            created.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&created.stdout),
            String::from_utf8_lossy(&created.stderr)
        );
        let cluster = Self {
            primaries,
            stopped: Default::default(),
        };
        cluster.wait_until_served();
        cluster
    }

    /// `redis://127.0.0.1:<port>` of each primary, as `REDIS_CLUSTER_NODES` lists them.
    pub fn nodes(&self) -> Vec<String> {
        self.primaries.iter().map(RedisServer::url).collect()
    }

    /// The primary that serves `key`'s slot, by its index in [`Self::nodes`].
    pub fn primary_of(&self, key: &str) -> usize {
        let asked = (0..PRIMARIES).find(|index| !self.stopped.contains(index));
        let port = self.primaries[asked.expect("a primary runs")].port();
        let ask = |command: String| {
            exchange(port, format!("{command}\r\nQUIT\r\n").as_bytes())
                .expect("the cluster answers")
        };
        let answer = ask(format!("CLUSTER KEYSLOT {key}"));
        let slot: u16 = answer
            .strip_prefix(':')
            .and_then(|rest| rest.split("\r\n").next())
            .and_then(|slot| slot.parse().ok())
            .unwrap_or_else(|| panic!("not a slot: {answer:?}"));
        // `CLUSTER NODES`: `<id> <ip:port@bus> <flags> <primary> <ping> <pong> <epoch>
        // <link> <slot ranges>...`, one line a node.
        let nodes = ask("CLUSTER NODES".to_owned());
        let owner = nodes
            .lines()
            .find(|line| {
                line.split(' ').skip(8).any(|range| {
                    let (first, last) = range.split_once('-').unwrap_or((range, range));
                    let within = |first: &str, last: &str| {
                        Some(
                            (first.parse::<u16>().ok()?..=last.parse::<u16>().ok()?)
                                .contains(&slot),
                        )
                    };
                    within(first, last).unwrap_or(false)
                })
            })
            .and_then(|line| line.split(' ').nth(1))
            .and_then(|address| address.split('@').next())
            .and_then(|address| address.rsplit(':').next())
            .and_then(|port| port.parse::<u16>().ok())
            .unwrap_or_else(|| panic!("no node serves slot {slot}: {nodes}"));
        self.primaries
            .iter()
            .position(|node| node.port() == owner)
            .expect("the owner is one of the primaries")
    }

    /// Stops primary `index` (SIGTERM: its append-only file is flushed).
    pub fn stop(&mut self, index: usize) {
        self.primaries[index].stop();
        self.stopped.insert(index);
    }

    /// Starts primary `index` again with its data and cluster configuration, and waits
    /// until it answers; once no primary is stopped, until the cluster serves every slot
    /// again.
    pub fn start_again(&mut self, index: usize) {
        self.primaries[index].start_again();
        self.stopped.remove(&index);
        if self.stopped.is_empty() {
            self.wait_until_served();
        }
    }

    fn wait_until_served(&self) {
        let deadline = Instant::now() + AGREEMENT_TIMEOUT;
        for node in &self.primaries {
            loop {
                let info = exchange(node.port(), b"CLUSTER INFO\r\nQUIT\r\n").unwrap_or_default();
                if info.contains("cluster_state:ok") && info.contains("cluster_slots_ok:16384") {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the Redis Cluster did not serve every slot within {AGREEMENT_TIMEOUT:?}: {info}"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

fn node_args() -> Vec<String> {
    [
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        "nodes.conf",
        "--cluster-node-timeout",
        "2000",
        "--cluster-require-full-coverage",
        "no",
        // Its own port rather than the default (the node's port + 10000), which could fall
        // among the ephemeral ports.
        "--cluster-port",
        &free_port().to_string(),
    ]
    .map(String::from)
    .to_vec()
}
