//! The ingestion service as a library: [`Application`] binds, then serves until told to stop.

mod app;
mod body;
mod error;
mod event;
mod otlp;
mod signal;

pub use app::Application;
pub use body::{BodyError, BodyFormat, Events, parse_body};
pub use error::ApiError;
pub use event::{FieldLimits, parse_event};
pub use signal::WorkerSignal;
