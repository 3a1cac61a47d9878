//! A ClickHouse cluster as users run one on ClickHouse 18.16 (Debian's `clickhouse-server`):
//! ZooKeeper 3.8 (Debian's `zookeeper`) and four servers, two shards of two replicas, each
//! defining the cluster [`CLUSTER`] in `remote_servers` with `{shard}` and `{replica}` macros.
//! Every process runs on free loopback ports in its own directory, with the servers'
//! watchdog (see [`crate::servers`]).

use std::path::Path;
use std::process::Command;

use crate::servers::{Supervisor, binary, clickhouse_ready, exchange, free_port};

/// The cluster's name, as `CLICKHOUSE_CLUSTER` names it.
pub const CLUSTER: &str = "traceflow";

const SHARDS: usize = 2;
const REPLICAS: usize = 2;

/// Debian's ZooKeeper, standalone, on 127.0.0.1.
pub struct ZooKeeperServer {
    supervisor: Supervisor,
    port: u16,
}

impl ZooKeeperServer {
    pub fn start() -> Self {
        let mut server = Self {
            supervisor: Supervisor::new("zookeeper"),
            port: free_port(),
        };
        let dir = server.supervisor.dir().to_owned();
        // A short tick, so that a session of a killed server ends within seconds.
        let config = format!(
            "tickTime=500\ndataDir={dir}/data\nclientPort={}\nclientPortAddress=127.0.0.1\n\
             admin.enableServer=false\n4lw.commands.whitelist=srvr\n",
            server.port
        );
        std::fs::write(Path::new(&dir).join("zoo.cfg"), config).expect("cannot write zoo.cfg");
        server.start_again();
        server
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops ZooKeeper (SIGTERM); its data stays for [`Self::start_again`].
    pub fn stop(&mut self) {
        self.supervisor.stop();
    }

    pub fn start_again(&mut self) {
        let dir = self.supervisor.dir().to_owned();
        let mut command = Command::new(binary("java"));
        command
            .args(["-Xmx256m", "-cp"])
            .arg("/etc/zookeeper/conf:/usr/share/java/zookeeper.jar")
            .arg(format!("-Dzookeeper.log.dir={dir}"))
            .arg("org.apache.zookeeper.server.ZooKeeperServerMain")
            .arg(format!("{dir}/zoo.cfg"));
        let output = Path::new(&dir).join("zookeeper.log");
        let port = self.port;
        self.supervisor.start(
            command,
            &output,
            // Serving sessions, not only listening: 18.16 crashes when its first handshake
            // is refused.
            || exchange(port, b"srvr").is_some_and(|answer| answer.contains("Mode: standalone")),
            &[&output],
        );
    }
}

/// One server of the cluster.
pub struct ClusterNode {
    supervisor: Supervisor,
    pub shard: usize,
    pub replica: usize,
    http_port: u16,
    tcp_port: u16,
}

impl ClusterNode {
    /// `http://127.0.0.1:<http port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// `127.0.0.1:<native port>`, as the cluster's definition and `/health` name it.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.tcp_port)
    }

    /// Kills the server (SIGKILL), as a crash would; its data stays.
    pub fn kill(&mut self) {
        self.supervisor.kill();
    }

    /// Starts the server (again). After a crash a replica may hold a part it wrote but never
    /// registered in ZooKeeper, and 18.16 then refuses to load the table: as its operators
    /// do, the restart sets `flags/force_restore_data`, which has it set such parts aside
    /// and fetch what it lacks from its twin.
    pub fn start_again(&mut self) {
        let dir = self.supervisor.dir().to_owned();
        let flags = Path::new(&dir).join("flags");
        if Path::new(&dir).join("metadata").exists() {
            std::fs::create_dir_all(&flags).expect("cannot create the flags directory");
            std::fs::write(flags.join("force_restore_data"), "").expect("cannot set the flag");
        }
        let mut command = Command::new(binary("clickhouse-server"));
        command.arg(format!("--config-file={dir}/config.xml"));
        let output = Path::new(&dir).join("stdout.log");
        let logs = [output.clone(), Path::new(&dir).join("server.err.log")];
        let port = self.http_port;
        let data_path = format!("{dir}/data/default/");
        self.supervisor.start(
            command,
            &output,
            || clickhouse_ready(port, &data_path),
            &logs,
        );
    }
}

/// ZooKeeper and the four servers.
pub struct ClickHouseCluster {
    pub zookeeper: ZooKeeperServer,
    pub nodes: Vec<ClusterNode>,
}

impl ClickHouseCluster {
    /// Starts ZooKeeper and the servers, and waits until each answers.
    pub fn start() -> Self {
        let zookeeper = ZooKeeperServer::start();
        let ports: Vec<(u16, u16, u16)> = (0..SHARDS * REPLICAS)
            .map(|_| (free_port(), free_port(), free_port()))
            .collect();
        let remote_servers: String = ports
            .chunks(REPLICAS)
            .map(|shard| {
                let replicas: String = shard
                    .iter()
                    .map(|(_, tcp, _)| {
                        format!("<replica><host>127.0.0.1</host><port>{tcp}</port></replica>")
                    })
                    .collect();
                format!(
                    "<shard><internal_replication>true</internal_replication>{replicas}</shard>"
                )
            })
            .collect();
        // Started side by side: each takes about a second, mostly waiting.
        let nodes = std::thread::scope(|scope| {
            let starting: Vec<_> = ports
                .iter()
                .enumerate()
                .map(|(index, &(http_port, tcp_port, interserver_port))| {
                    let remote_servers = &remote_servers;
                    let zookeeper = zookeeper.port();
                    scope.spawn(move || {
                        let (shard, replica) = (index / REPLICAS + 1, index % REPLICAS + 1);
                        let supervisor = Supervisor::new("clickhouse-node");
                        let dir = supervisor.dir().to_owned();
                        let config = format!(
                            "<yandex>\
                     <http_port>{http_port}</http_port><tcp_port>{tcp_port}</tcp_port>\
                     <interserver_http_port>{interserver_port}</interserver_http_port>\
                     <interserver_http_host>127.0.0.1</interserver_http_host>\
                     <listen_host>127.0.0.1</listen_host>\
                     <path>{dir}/</path><tmp_path>{dir}/tmp/</tmp_path>\
                     <user_files_path>{dir}/user_files/</user_files_path>\
                     <format_schema_path>{dir}/format_schemas/</format_schema_path>\
                     <logger><log>{dir}/server.log</log><errorlog>{dir}/server.err.log</errorlog>\
                     <level>information</level></logger>\
                     <zookeeper><node><host>127.0.0.1</host><port>{zookeeper}</port></node>\
                     <session_timeout_ms>5000</session_timeout_ms></zookeeper>\
                     <macros><shard>{shard}</shard><replica>node{shard}{replica}</replica></macros>\
                     <remote_servers><{CLUSTER}>{remote_servers}</{CLUSTER}></remote_servers>\
                     </yandex>",
                        );
                        write_config(&dir, &config);
                        let mut node = ClusterNode {
                            supervisor,
                            shard,
                            replica,
                            http_port,
                            tcp_port,
                        };
                        node.start_again();
                        node
                    })
                })
                .collect();
            starting
                .into_iter()
                .map(|node| node.join().expect("a node started"))
                .collect()
        });
        Self { zookeeper, nodes }
    }

    /// The first node's URL, which the services are given.
    pub fn url(&self) -> String {
        self.nodes[0].url()
    }
}

/// The packaged config and users with this node's settings beside them: its ports, paths,
/// keeper, macros and cluster, and (the DDL queue runs with the servers' settings) 18.16's
/// LowCardinality allowed in the default profile.
fn write_config(dir: &str, config: &str) {
    let dir = Path::new(dir);
    for file in ["config.xml", "users.xml"] {
        std::fs::copy(
            Path::new("/etc/clickhouse-server").join(file),
            dir.join(file),
        )
        .unwrap_or_else(|error| panic!("cannot copy /etc/clickhouse-server/{file}: {error}"));
    }
    for sub in ["config.d", "users.d", "tmp"] {
        std::fs::create_dir_all(dir.join(sub)).expect("cannot create a config directory");
    }
    std::fs::write(dir.join("config.d/cluster.xml"), config).expect("cannot write the config");
    std::fs::write(
        dir.join("users.d/low_cardinality.xml"),
        "<yandex><profiles><default>\
         <allow_experimental_low_cardinality_type>1</allow_experimental_low_cardinality_type>\
         </default></profiles></yandex>",
    )
    .expect("cannot write the users config");
}
