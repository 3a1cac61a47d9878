//! ClickHouse, connected on first use: the service starts (and reports 503) while
//! ClickHouse is still down, and needs no restart when it comes up.

use crate::ApiError;
use std::{sync::Arc, time::Duration};
use tokio::sync::OnceCell;
use traceflow_config::ClickHouseConfig;
use traceflow_storage::{Storage, StorageError};

/// Longest a ClickHouse request may take before the answer is a 503.
const QUERY_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub(crate) struct LazyStorage {
    config: Arc<ClickHouseConfig>,
    storage: Arc<OnceCell<Storage>>,
}

impl LazyStorage {
    pub(crate) fn new(config: ClickHouseConfig) -> Self {
        Self {
            config: Arc::new(config),
            storage: Arc::new(OnceCell::new()),
        }
    }

    pub(crate) async fn get(&self) -> Result<&Storage, StorageError> {
        self.storage
            .get_or_try_init(|| Storage::connect(&self.config))
            .await
    }

    /// `call` on ClickHouse, or [`ApiError::Timeout`] once it has taken [`QUERY_TIMEOUT`].
    pub(crate) async fn run<T>(
        &self,
        call: impl AsyncFnOnce(&Storage) -> Result<T, StorageError>,
    ) -> Result<T, ApiError> {
        bounded(call(self.get().await?)).await
    }
}

/// `call`'s answer, or [`ApiError::Timeout`] once ClickHouse has taken [`QUERY_TIMEOUT`].
pub(crate) async fn bounded<T>(
    call: impl Future<Output = Result<T, StorageError>>,
) -> Result<T, ApiError> {
    tokio::time::timeout(QUERY_TIMEOUT, call)
        .await
        .map_err(|_| ApiError::Timeout(QUERY_TIMEOUT.as_secs()))?
        .map_err(ApiError::from)
}
