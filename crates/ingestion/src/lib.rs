//! The ingestion service as a library: [`Application`] binds, then serves until told to stop.
//!
//! Each protocol (`ingest`: our JSON and NDJSON; `otlp`: OTLP/HTTP; `loki`: Loki's push
//! API) decodes its requests
//! into the event crate's drafts, checks them there, hands the events to `accept`, and
//! renders a `Rejection` in its own format.

mod accept;
mod app;
mod body;
mod ingest;
mod loki;
mod otlp;
mod rejection;
mod signal;

pub use app::{Application, Port};
pub use signal::WorkerSignal;

use rejection::Rejection;
