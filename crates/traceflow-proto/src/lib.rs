//! Generated protobuf code, built from `proto/` at build time: the `log.LogService` contract
//! shared by the ingestion service (client) and the worker (server), and the messages of
//! Loki's push API (`logproto`), which ingestion decodes and the tests encode.

#![allow(clippy::derive_partial_eq_without_eq)]

tonic::include_proto!("log");

/// Loki's `logproto.PushRequest` and the messages in it (`proto/loki/push.proto`).
pub mod logproto {
    tonic::include_proto!("logproto");
}

pub use prost_types::Timestamp;
