//! The SQL files in `migrations/`, embedded at build time and applied in order.
//!
//! A file is `NNN_description.sql`: statements separated by `;` at the end of a line, with
//! `{database}` standing for CLICKHOUSE_DB. A cluster (CLICKHOUSE_CLUSTER) has migrations of
//! its own, in `migrations/cluster/`, with `{cluster}` standing for its name: it starts from
//! the schema one server's migrations end at, in replicated and distributed tables. A line `-- requires: <feature>` limits it to
//! servers that have the feature; on others it is left unapplied (and so applies after an
//! upgrade). A line `-- program: <name>` runs a step SQL cannot say (a [`Program`]) between
//! the statements before and after it. Applied versions are recorded in
//! `{database}.schema_migrations` (on a cluster, a table replicated to every node, so that
//! every worker sees the same record); a migration interrupted before that is run again whole,
//! so each of its steps must be safe to repeat.

mod tenant_first;

use crate::{Layout, ServerVersion, Storage, StorageError, schema::SCHEMA_MIGRATIONS};
use include_dir::{Dir, include_dir};

static MIGRATIONS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../../migrations");

/// A server feature a migration may depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// Column and table TTL (19.6+).
    Ttl,
    /// Data-skipping indexes without experimental settings (20.1+).
    SkipIndexes,
    /// `insert_deduplication_token` with `non_replicated_deduplication_window` (22.2+).
    InsertDeduplicationToken,
}

impl Requirement {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "ttl" => Some(Self::Ttl),
            "skip_indexes" => Some(Self::SkipIndexes),
            "insert_deduplication_token" => Some(Self::InsertDeduplicationToken),
            _ => None,
        }
    }

    pub fn met_by(self, version: ServerVersion) -> bool {
        match self {
            Self::Ttl => version >= ServerVersion::new(19, 6),
            Self::SkipIndexes => version >= ServerVersion::new(20, 1),
            Self::InsertDeduplicationToken => version >= ServerVersion::new(22, 2),
        }
    }
}

/// A migration step written in Rust, for what needs the server's answers to decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Program {
    /// Copies `logs` into its tenant-first twin and swaps them (migration 005).
    TenantFirst,
}

impl Program {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "tenant_first" => Some(Self::TenantFirst),
            _ => None,
        }
    }
}

/// What a migration does, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Sql(String),
    Program(Program),
}

#[derive(Debug, Clone)]
pub struct Migration {
    pub version: u32,
    pub name: String,
    pub requires: Vec<Requirement>,
    sql: String,
}

impl Migration {
    fn parse(file_name: &str, sql: &str) -> Result<Self, String> {
        let stem = file_name
            .strip_suffix(".sql")
            .ok_or_else(|| format!("{file_name}: not a .sql file"))?;
        let (number, _) = stem
            .split_once('_')
            .ok_or_else(|| format!("{file_name}: expected NNN_description.sql"))?;
        let version = number
            .parse()
            .map_err(|_| format!("{file_name}: {number:?} is not a version number"))?;
        let requires = sql
            .lines()
            .filter_map(|line| line.trim().strip_prefix("-- requires:"))
            .map(|name| {
                Requirement::parse(name.trim())
                    .ok_or_else(|| format!("{file_name}: unknown requirement {:?}", name.trim()))
            })
            .collect::<Result<_, _>>()?;
        for line in sql.lines() {
            if let Some(name) = program_name(line)
                && Program::parse(name).is_none()
            {
                return Err(format!("{file_name}: unknown program {name:?}"));
            }
        }
        Ok(Self {
            version,
            name: stem.to_owned(),
            requires,
            sql: sql.to_owned(),
        })
    }

    /// The steps: statements (comments removed, for the given database and layout) and
    /// programs, in the file's order.
    pub fn steps(&self, database: &str, layout: &Layout) -> Vec<Step> {
        let mut steps = Vec::new();
        let mut statements = String::new();
        for line in self.sql.lines() {
            if let Some(program) = program_name(line).and_then(Program::parse) {
                steps.extend(split_statements(&statements, database, layout));
                statements.clear();
                steps.push(Step::Program(program));
            } else if !line.trim_start().starts_with("--") {
                statements.push_str(line);
                statements.push('\n');
            }
        }
        steps.extend(split_statements(&statements, database, layout));
        steps
    }

    pub fn applies_to(&self, version: ServerVersion) -> bool {
        self.requires
            .iter()
            .all(|requirement| requirement.met_by(version))
    }

    /// Every migration in the repository for `layout`, in version order.
    pub fn all(layout: &Layout) -> Vec<Migration> {
        let directory = match layout {
            Layout::Single => &MIGRATIONS,
            Layout::Cluster(_) => MIGRATIONS
                .get_dir("cluster")
                .expect("migrations/cluster is embedded"),
        };
        let mut migrations: Vec<Migration> = directory
            .files()
            .filter(|file| file.path().extension().is_some_and(|ext| ext == "sql"))
            .map(|file| {
                let name = file
                    .path()
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy();
                let sql = file.contents_utf8().unwrap_or_default();
                Migration::parse(&name, sql).unwrap_or_else(|problem| panic!("{problem}"))
            })
            .collect();
        migrations.sort_by_key(|migration| migration.version);
        migrations
    }
}

fn program_name(line: &str) -> Option<&str> {
    line.trim().strip_prefix("-- program:").map(str::trim)
}

/// Statements separated by `;` at the end of a line.
fn split_statements(sql: &str, database: &str, layout: &Layout) -> Vec<Step> {
    sql.split(";\n")
        .map(|statement| statement.trim().trim_end_matches(';').trim())
        .filter(|statement| !statement.is_empty())
        .map(|statement| {
            let statement = statement.replace("{database}", database);
            Step::Sql(match layout.cluster() {
                Some(cluster) => statement.replace("{cluster}", cluster),
                None => statement,
            })
        })
        .collect()
}

/// The statements that create the database and the table recording applied migrations.
fn bookkeeping(database: &str, layout: &Layout) -> [String; 2] {
    match layout {
        Layout::Single => [
            format!("CREATE DATABASE IF NOT EXISTS {database}"),
            format!(
                "CREATE TABLE IF NOT EXISTS {database}.{SCHEMA_MIGRATIONS} \
                 (version UInt32, name String, applied_at DateTime DEFAULT now()) \
                 ENGINE = MergeTree ORDER BY version"
            ),
        ],
        // One replicated table with every node as a replica (`{shard}-{replica}` names each
        // node, whatever its macros' scheme).
        Layout::Cluster(cluster) => [
            format!("CREATE DATABASE IF NOT EXISTS {database} ON CLUSTER {cluster}"),
            format!(
                "CREATE TABLE IF NOT EXISTS {database}.{SCHEMA_MIGRATIONS} ON CLUSTER {cluster} \
                 (version UInt32, name String, applied_at DateTime DEFAULT now()) \
                 ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{database}/{SCHEMA_MIGRATIONS}', \
                 '{{shard}}-{{replica}}') ORDER BY version"
            ),
        ],
    }
}

impl Storage {
    /// Applies the migrations not yet recorded; returns the versions it applied.
    pub async fn migrate(&self) -> Result<Vec<u32>, StorageError> {
        self.migrate_to(u32::MAX).await
    }

    /// Applies the migrations not yet recorded up to version `last`: the schema as a release
    /// that ended there left it, from which an upgrade can be checked.
    pub async fn migrate_to(&self, last: u32) -> Result<Vec<u32>, StorageError> {
        // Not bound to the database, which may not exist yet: each statement names it.
        let (client, database, version) = (&self.client, &self.database, self.version);
        for statement in bookkeeping(database, &self.layout) {
            self.alter(client.query(&statement)).await?;
        }
        let recorded: Vec<u32> = client
            .query(&format!(
                "SELECT DISTINCT version FROM {database}.{SCHEMA_MIGRATIONS}"
            ))
            .fetch_all()
            .await?;

        let mut applied = Vec::new();
        for migration in Migration::all(&self.layout) {
            if migration.version > last {
                break;
            }
            if recorded.contains(&migration.version) {
                continue;
            }
            if !migration.applies_to(version) {
                tracing::info!(migration = %migration.name, %version, "migration skipped: the server lacks what it requires");
                continue;
            }
            for step in migration.steps(database, &self.layout) {
                let done = match step {
                    Step::Sql(statement) => self.alter(client.query(&statement)).await.map(drop),
                    Step::Program(Program::TenantFirst) => tenant_first::run(self).await,
                };
                done.map_err(|error| {
                    StorageError::Unexpected(format!(
                        "migration {} failed: {error}",
                        migration.name
                    ))
                })?;
            }
            client
                .query(&format!(
                    "INSERT INTO {database}.{SCHEMA_MIGRATIONS} (version, name) VALUES (?, ?)"
                ))
                .bind(migration.version)
                .bind(&migration.name)
                .execute()
                .await?;
            tracing::info!(migration = %migration.name, "migration applied");
            applied.push(migration.version);
        }
        Ok(applied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_migrations_parse_in_order() {
        for layout in [Layout::Single, Layout::Cluster("c".into())] {
            let all = Migration::all(&layout);
            assert_eq!(all[0].version, 1);
            assert_eq!(all[0].name, "001_create_logs");
            let versions: Vec<u32> = all.iter().map(|m| m.version).collect();
            let mut sorted = versions.clone();
            sorted.dedup();
            assert_eq!(versions, sorted, "migration versions must be unique");
        }
    }

    #[test]
    fn statements_are_split_and_the_database_substituted() {
        let migration = Migration::parse(
            "007_x.sql",
            "-- a comment; with a semicolon\n-- requires: ttl\nCREATE DATABASE {database};\n\nALTER TABLE {database}.logs\n  MODIFY TTL timestamp + INTERVAL 1 DAY;\n",
        )
        .unwrap();
        assert_eq!(migration.version, 7);
        assert_eq!(migration.requires, vec![Requirement::Ttl]);
        assert_eq!(
            migration.steps("tf", &Layout::Single),
            vec![
                Step::Sql("CREATE DATABASE tf".to_owned()),
                Step::Sql(
                    "ALTER TABLE tf.logs\n  MODIFY TTL timestamp + INTERVAL 1 DAY".to_owned()
                ),
            ]
        );
        assert!(!migration.applies_to(ServerVersion::new(18, 16)));
        assert!(migration.applies_to(ServerVersion::new(25, 8)));
    }

    #[test]
    fn a_program_runs_between_the_statements_around_it() {
        let migration = Migration::parse(
            "005_z.sql",
            "CREATE TABLE {database}.a (x UInt8) ENGINE = Memory;\n-- program: tenant_first\n-- why\nDROP TABLE {database}.a;\n",
        )
        .unwrap();
        assert_eq!(
            migration.steps("tf", &Layout::Single),
            vec![
                Step::Sql("CREATE TABLE tf.a (x UInt8) ENGINE = Memory".to_owned()),
                Step::Program(Program::TenantFirst),
                Step::Sql("DROP TABLE tf.a".to_owned()),
            ]
        );
        let err = Migration::parse("005_z.sql", "-- program: teleport\n").unwrap_err();
        assert!(err.contains("unknown program"), "{err}");
    }

    #[test]
    fn every_cluster_statement_runs_on_every_node_of_the_named_cluster() {
        let cluster = Layout::Cluster("logs_cluster".into());
        for migration in Migration::all(&cluster) {
            for step in migration.steps("tf", &cluster) {
                let Step::Sql(statement) = step else {
                    panic!("{}: a cluster migration has no programs", migration.name)
                };
                assert!(
                    statement.contains(" ON CLUSTER logs_cluster"),
                    "{}: {statement}",
                    migration.name
                );
                assert!(!statement.contains("{cluster}") && !statement.contains("{database}"));
            }
        }
    }

    #[test]
    fn unknown_requirements_are_refused() {
        let err = Migration::parse("002_y.sql", "-- requires: time_travel\nSELECT 1;").unwrap_err();
        assert!(err.contains("unknown requirement"), "{err}");
    }
}
