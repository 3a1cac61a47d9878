//! ClickHouse, connected on first use: the service starts (and reports 503) while
//! ClickHouse is still down, and needs no restart when it comes up.

use std::sync::Arc;
use tokio::sync::OnceCell;
use traceflow_config::ClickHouseConfig;
use traceflow_storage::{Storage, StorageError};

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
}
