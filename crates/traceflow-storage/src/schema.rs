//! The tables, named once: every statement the crate sends takes its table names from here.
//! The SQL files in `migrations/` create them.

/// The events, one row each, ordered by time (migration 001).
pub(crate) const LOGS: &str = "logs";

/// Where each trace's events are: their times, ordered by trace id, filled from `logs` by a
/// materialized view (migration 003).
pub(crate) const LOGS_BY_TRACE: &str = "logs_by_trace";

/// The migrations applied, by version.
pub(crate) const SCHEMA_MIGRATIONS: &str = "schema_migrations";
