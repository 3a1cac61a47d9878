//! What ingestion enforces per tenant, from the keys file's `[tenants.<name>]` (re-read with
//! the keys on SIGHUP): the ingest rate (`max_events_per_second`, a token bucket per tenant
//! here), the queue share (`max_queued_events`, which the queue's `admit` script checks) and
//! the retention that bounds an event's time (`retention_days`). And which tenant a request
//! is being served for, so that its metrics carry the tenant wherever they are counted.

use crate::Rejection;
use axum::{extract::Request, middleware::Next, response::Response};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
use tokio::task::futures::TaskLocalFuture;
use traceflow_access::{Grant, TenantLimits};
use traceflow_event::DEFAULT_TENANT;
use traceflow_http::AccessCheck;

tokio::task_local! {
    /// The tenant the task serves (a request, a syslog listener): whose events it makes,
    /// and the `tenant` label of the ingest metrics, counted deep inside each protocol.
    static SERVING: Arc<str>;
}

/// `work`, run as serving `tenant`. (A task spawned from it serves no tenant until it is
/// wrapped too.)
pub(crate) fn serving<F: Future>(tenant: &str, work: F) -> TaskLocalFuture<Arc<str>, F> {
    SERVING.scope(Arc::from(tenant), work)
}

/// The tenant served now, else the default one.
pub(crate) fn served() -> Arc<str> {
    SERVING
        .try_with(Arc::clone)
        .unwrap_or_else(|_| Arc::from(DEFAULT_TENANT))
}

/// A route layer, inside the key check: serves the request as its grant's tenant.
pub(crate) async fn serve_as_granted(request: Request, next: Next) -> Response {
    let tenant = Grant::tenant_of(request.extensions().get()).to_owned();
    serving(&tenant, next.run(request)).await
}

/// The tenants' limits and their rate buckets; cheap to clone.
#[derive(Clone)]
pub(crate) struct Tenants {
    access: AccessCheck,
    buckets: Arc<Mutex<HashMap<String, Bucket>>>,
}

impl Tenants {
    pub(crate) fn new(access: AccessCheck) -> Self {
        Self {
            access,
            buckets: Arc::default(),
        }
    }

    pub(crate) fn limits(&self, tenant: &str) -> TenantLimits {
        self.access.limits(tenant)
    }

    /// Takes `events` from `tenant`'s ingest rate (`limits`' `max_events_per_second`), or
    /// refuses them all when the tenant is over it; other tenants' buckets are not touched.
    pub(crate) fn take(
        &self,
        tenant: &str,
        limits: &TenantLimits,
        events: usize,
    ) -> Result<(), Rejection> {
        let Some(rate) = limits.max_events_per_second else {
            return Ok(());
        };
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        let bucket = buckets
            .entry(tenant.to_owned())
            .or_insert_with(|| Bucket::full(rate, now));
        bucket
            .take(rate, events, now)
            .map_err(|wait| Rejection::RateLimited {
                tenant: tenant.to_owned(),
                rate,
                retry_after: wait,
            })
    }
}

/// A token bucket holding up to one second of the rate (the burst). A request is let in
/// whole while the bucket holds any token, even if it takes more than are left: the bucket
/// then owes them, and refuses until it has refilled past the debt. So a request larger
/// than the burst still gets in, and the rate holds on average.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bucket {
    tokens: f64,
    refilled: Instant,
}

impl Bucket {
    fn full(rate: u32, now: Instant) -> Self {
        Self {
            tokens: f64::from(rate),
            refilled: now,
        }
    }

    /// Takes `events` tokens at `now`, or says how long until the bucket has one again.
    fn take(&mut self, rate: u32, events: usize, now: Instant) -> Result<(), Duration> {
        let rate = f64::from(rate);
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(rate);
        self.refilled = now;
        if self.tokens <= 0.0 {
            return Err(Duration::from_secs_f64((1.0 - self.tokens) / rate));
        }
        self.tokens -= events as f64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_one_second_then_the_rate() {
        let start = Instant::now();
        let mut bucket = Bucket::full(100, start);
        assert_eq!(bucket.take(100, 60, start), Ok(()));
        assert_eq!(bucket.take(100, 40, start), Ok(()));
        let wait = bucket.take(100, 1, start).unwrap_err();
        assert_eq!(wait, Duration::from_millis(10), "one token at 100/s");
        // A tenth of a second refills ten tokens.
        let later = start + Duration::from_millis(100);
        assert_eq!(bucket.take(100, 10, later), Ok(()));
        assert!(bucket.take(100, 1, later).is_err());
        // Never more than the burst, however long it waited.
        let much_later = later + Duration::from_secs(60);
        assert_eq!(bucket.take(100, 100, much_later), Ok(()));
        assert!(bucket.take(100, 1, much_later).is_err());
    }

    #[test]
    fn a_request_larger_than_the_burst_gets_in_and_is_paid_back() {
        let start = Instant::now();
        let mut bucket = Bucket::full(10, start);
        assert_eq!(
            bucket.take(10, 50, start),
            Ok(()),
            "in while tokens are left"
        );
        // Owes 40 tokens: four seconds and one more token before the next request.
        let wait = bucket.take(10, 1, start).unwrap_err();
        assert_eq!(wait, Duration::from_millis(4100));
        assert!(bucket.take(10, 1, start + Duration::from_secs(4)).is_err());
        assert_eq!(
            bucket.take(10, 1, start + Duration::from_millis(4200)),
            Ok(())
        );
    }
}
