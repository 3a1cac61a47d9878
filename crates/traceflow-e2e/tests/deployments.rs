//! The compose files in `deployments/`, as `docker-compose config` (Debian's docker-compose
//! 1.29) reads them: valid, each service's environment a configuration the service takes,
//! and the cluster file's parts naming each other (the ClickHouse cluster and its nodes and
//! keepers, the Redis Cluster's nodes, the load balancer's upstreams). No Docker engine runs
//! here: what the images do once started is not tested by this.

use serde_json::Value;
use std::{collections::BTreeSet, path::Path, process::Command};
use traceflow_config::{Env, IngestionConfig, QueryConfig, WorkerConfig};

fn deployments() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../deployments"))
}

/// `docker-compose -f <file> config`, as JSON (through Python's YAML, which Debian's
/// docker-compose runs on).
fn config(file: &str) -> Value {
    let rendered = Command::new("docker-compose")
        .args(["-f", file, "config"])
        .current_dir(deployments())
        .output()
        .expect("docker-compose is not installed (scripts/test.sh installs it)");
    assert!(
        rendered.status.success(),
        "docker-compose config refused {file}: {}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    let mut json = Command::new("python3")
        .args([
            "-c",
            "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(json.stdin.as_mut().unwrap(), &rendered.stdout).unwrap();
    let output = json.wait_with_output().unwrap();
    serde_json::from_slice(&output.stdout).expect("docker-compose config prints YAML")
}

/// Each Traceflow service of the file (by its image) with its environment.
fn traceflow_services(config: &Value) -> Vec<(String, &'static str, Env)> {
    let services = config["services"].as_object().unwrap();
    services
        .iter()
        .filter_map(|(name, service)| {
            let binary = match service["image"].as_str()? {
                "traceflow-ingestion:latest" => "ingestion",
                "traceflow-worker:latest" => "worker",
                "traceflow-query:latest" => "query",
                _ => return None,
            };
            let pairs = service["environment"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| {
                    let value = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                    (k.clone(), value)
                });
            Some((name.clone(), binary, Env::from_pairs(pairs)))
        })
        .collect()
}

fn services(config: &Value) -> BTreeSet<String> {
    config["services"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

/// The text between each `<tag>` and `</tag>` of `xml`.
fn elements<'x>(xml: &'x str, tag: &str) -> Vec<&'x str> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    xml.split(&open)
        .skip(1)
        .filter_map(|rest| rest.split_once(&close).map(|(inside, _)| inside))
        .collect()
}

#[test]
fn the_single_server_compose_file_is_valid_and_each_service_takes_its_environment() {
    let config = config("docker-compose.yml");
    let services = traceflow_services(&config);
    assert_eq!(services.len(), 3);
    for (name, binary, env) in services {
        let taken = match binary {
            "ingestion" => IngestionConfig::from(&env).map(drop),
            "worker" => WorkerConfig::from(&env).map(drop),
            _ => QueryConfig::from(&env).map(drop),
        };
        taken.unwrap_or_else(|error| panic!("{name}: {error}"));
    }
}

#[test]
fn the_cluster_compose_file_runs_two_of_each_on_both_clusters_whose_parts_name_each_other() {
    let config = config("docker-compose.cluster.yml");
    let names = services(&config);
    let mut binaries = Vec::new();
    for (name, binary, env) in traceflow_services(&config) {
        binaries.push(binary);
        let (clickhouse, redis) = match binary {
            "ingestion" => (None, Some(IngestionConfig::from(&env).unwrap().redis)),
            "worker" => {
                let worker = WorkerConfig::from(&env).unwrap();
                (Some(worker.clickhouse), Some(worker.redis))
            }
            _ => (Some(QueryConfig::from(&env).unwrap().clickhouse), None),
        };
        if let Some(redis) = redis {
            assert_eq!(redis.cluster_nodes.len(), 3, "{name}");
            for node in &redis.cluster_nodes {
                let host = node
                    .trim_start_matches("redis://")
                    .split(':')
                    .next()
                    .unwrap();
                assert!(names.contains(host), "{name}: {host} is no service");
            }
        }
        if let Some(clickhouse) = clickhouse {
            assert_eq!(clickhouse.cluster.as_deref(), Some("traceflow"), "{name}");
            let host = clickhouse
                .url
                .trim_start_matches("http://")
                .split(':')
                .next()
                .unwrap();
            assert!(names.contains(host), "{name}: {host} is no service");
        }
    }
    binaries.sort_unstable();
    assert_eq!(
        binaries,
        ["ingestion", "ingestion", "query", "worker", "worker"]
    );

    // The cluster each ClickHouse node defines is the one the services name, over the
    // compose file's four nodes, with its three keepers.
    let clickhouse = std::fs::read_to_string(deployments().join("cluster/clickhouse.xml")).unwrap();
    let cluster = elements(&clickhouse, "remote_servers")[0];
    assert!(cluster.trim_start().starts_with("<traceflow>"), "{cluster}");
    let shards = elements(cluster, "shard");
    assert_eq!(shards.len(), 2);
    for shard in shards {
        let replicas = elements(shard, "host");
        assert_eq!(replicas.len(), 2, "{shard}");
        assert!(
            replicas.iter().all(|host| names.contains(*host)),
            "{replicas:?}"
        );
    }
    let keepers = elements(elements(&clickhouse, "zookeeper")[0], "host");
    assert_eq!(keepers.len(), 3);
    let keeper = std::fs::read_to_string(deployments().join("cluster/keeper.xml")).unwrap();
    let raft = elements(&keeper, "hostname");
    assert_eq!(keepers, raft, "the servers' keepers are the Raft group");
    assert!(
        keepers.iter().all(|host| names.contains(*host)),
        "{keepers:?}"
    );

    // The load balancer spreads over the ingestion processes.
    let nginx = std::fs::read_to_string(deployments().join("cluster/nginx.conf")).unwrap();
    for upstream in nginx
        .split("server ")
        .skip(1)
        .filter_map(|s| s.split_once(';'))
    {
        let host = upstream.0.split(':').next().unwrap();
        if host.starts_with("ingestion") {
            assert!(names.contains(host), "nginx.conf: {host} is no service");
        }
    }
    assert!(nginx.contains("ingestion-1:8080") && nginx.contains("ingestion-2:8080"));
}
