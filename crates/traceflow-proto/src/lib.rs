//! The `log.LogService` contract shared by the ingestion service (client) and the worker
//! (server), generated from `proto/log.proto` at build time.

#![allow(clippy::derive_partial_eq_without_eq)]

tonic::include_proto!("log");
