//! The query service as a library: [`Application`] binds, then serves until told to stop.

mod app;
mod error;
mod params;

pub use app::Application;
pub use error::ApiError;
pub use params::parse_log_query;
