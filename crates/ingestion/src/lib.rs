//! The ingestion service as a library: [`Application`] binds, then serves until told to stop.
//!
//! Each protocol (`ingest`: our JSON and NDJSON; `otlp`: OTLP/HTTP and OTLP/gRPC;
//! `elasticsearch`: the Elasticsearch bulk API; `loki`: Loki's push API; `syslog`: RFC 5424
//! and RFC 3164 over TCP and UDP) decodes its requests into the event crate's drafts, checks
//! them there, hands the events to `accept`, and renders a `Rejection` in its own format
//! (syslog, which has no answer, counts it).

mod accept;
mod app;
mod body;
mod elasticsearch;
mod ingest;
mod loki;
mod otlp;
mod rejection;
mod signal;
mod syslog;
mod tenants;

pub use app::{Application, Port};
pub use signal::WorkerSignal;

use rejection::Rejection;
