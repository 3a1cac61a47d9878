//! End-to-end tests: the three services in-process (see `traceflow_testkit::TestStack`)
//! against a real Redis and a real ClickHouse that this test binary starts once; each test
//! has its own database and queue key.

mod auth;
mod batch;
mod context;
mod cursor;
mod debian;
mod delete;
mod elasticsearch;
mod export;
mod facets;
mod health;
mod hostile;
mod indexes;
mod ingest;
mod loki;
mod metrics;
mod migration;
mod openapi;
mod otlp;
mod otlp_grpc;
mod pipeline;
mod proxy;
mod python;
mod query;
mod readme;
mod retention;
mod search;
mod slow_clients;
mod stats;
mod stored;
mod syslog;
mod tail;
mod tenants;
mod window;
