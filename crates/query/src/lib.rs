//! The query service as a library: [`Application`] binds, then serves until told to stop.

mod app;
mod clickhouse;
mod context;
mod cursor;
mod error;
mod explorer;
mod export;
mod facets;
mod logs;
mod openapi;
mod params;
mod stats;
mod tail;
mod tenants;

pub use app::Application;
pub use error::ApiError;
/// The service's own parsing, for tools that must send the SQL it sends (the benchmark).
pub use params::{log_query as parse_log_query, stats_query as parse_stats_query};
