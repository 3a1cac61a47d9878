//! The gRPC side: `log.LogService/NotifyBatchReady` wakes the consumer loop.

use std::sync::Arc;
use tokio::sync::Notify;
use tonic::{Request, Response, Status};
use traceflow_proto::{NotifyRequest, NotifyResponse, log_service_server::LogService};

pub struct SignalService {
    pub wake: Arc<Notify>,
}

#[tonic::async_trait]
impl LogService for SignalService {
    async fn notify_batch_ready(
        &self,
        request: Request<NotifyRequest>,
    ) -> Result<Response<NotifyResponse>, Status> {
        let request = request.into_inner();
        tracing::debug!(trace_id = %request.trace_id, count = request.count, "batch ready signal");
        // A stored permit wakes the loop even if it is busy right now.
        self.wake.notify_one();
        Ok(Response::new(NotifyResponse {
            accepted: true,
            message: "worker woken".to_owned(),
        }))
    }
}
