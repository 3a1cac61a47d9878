//! The "events are waiting" signal to the worker over gRPC.
//!
//! An optimisation only: the Redis list is the source of truth, and the worker polls it
//! anyway. So a signal never delays the HTTP answer: requests only note that a signal is
//! due, and one background task sends them, at most one in flight and one per
//! [`SIGNAL_MIN_GAP`], coalescing the rest: each signal makes the worker look at the queue,
//! which a busy worker does by itself on its INSERT cadence.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};
use tokio::sync::mpsc;
use tonic::transport::Endpoint;
use traceflow_proto::{NotifyRequest, log_service_client::LogServiceClient};

/// How long one signal may take before it is given up.
const SIGNAL_TIMEOUT: Duration = Duration::from_secs(1);
/// Least time between the starts of two signals. The first events after a quiet spell are
/// signalled at once.
const SIGNAL_MIN_GAP: Duration = Duration::from_millis(20);

/// Cheap to clone; the sending task ends when the last clone is dropped.
#[derive(Clone)]
pub struct WorkerSignal {
    due: mpsc::Sender<String>,
    /// Events accepted since the last signal was sent.
    pending: Arc<AtomicU32>,
}

impl WorkerSignal {
    /// Starts the sending task. Connects lazily, so the worker may come up later.
    pub fn spawn(worker_addr: &str) -> Result<Self, tonic::transport::Error> {
        let channel = Endpoint::from_shared(worker_addr.to_owned())?
            .connect_timeout(SIGNAL_TIMEOUT)
            .timeout(SIGNAL_TIMEOUT)
            .connect_lazy();
        let (due, requests) = mpsc::channel(1);
        let pending = Arc::new(AtomicU32::new(0));
        tokio::spawn(send_signals(
            LogServiceClient::new(channel),
            requests,
            pending.clone(),
        ));
        Ok(Self { due, pending })
    }

    /// Notes that `count` events were queued; returns at once.
    pub fn notify(&self, trace_id: &str, count: u32) {
        self.pending.fetch_add(count, Ordering::Relaxed);
        // A full channel means a signal is already due; it will carry this count too.
        let _ = self.due.try_send(trace_id.to_owned());
    }
}

async fn send_signals(
    mut client: LogServiceClient<tonic::transport::Channel>,
    mut requests: mpsc::Receiver<String>,
    pending: Arc<AtomicU32>,
) {
    // Log a failure once when the worker becomes unreachable, and once when it is back,
    // rather than on every request.
    let mut failing = false;
    while let Some(trace_id) = requests.recv().await {
        let next_allowed = tokio::time::Instant::now() + SIGNAL_MIN_GAP;
        let count = pending.swap(0, Ordering::Relaxed);
        let request = NotifyRequest {
            trace_id: trace_id.clone(),
            count: i32::try_from(count).unwrap_or(i32::MAX),
        };
        match client.notify_batch_ready(request).await {
            Ok(_) if failing => {
                failing = false;
                tracing::info!(%trace_id, "worker signal delivered again");
            }
            Ok(_) => {}
            Err(status) if failing => {
                tracing::debug!(%trace_id, error = %status.message(), "worker signal failed");
            }
            Err(status) => {
                failing = true;
                tracing::warn!(%trace_id, error = %status.message(), "worker signal failed; the worker will find the events by polling");
            }
        }
        tokio::time::sleep_until(next_allowed).await;
    }
}
