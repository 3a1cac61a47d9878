//! Syslog over UDP: one message per datagram (RFC 5426), read into groups that a second task
//! queues, so that a slow push (Redis unreachable until its timeout) does not stop the
//! socket from being read: the kernel would then drop datagrams where no one counts them.
//!
//! A sender cannot be held back, so a group the queue refuses is dropped, and so is a group
//! that finds [`BACKLOG_GROUPS`] others still waiting for the pusher. Both are counted in
//! [`DROPPED`] by reason (`queue_full`, `queue_unavailable`, `backlog_full`); the queue's
//! refusals are in `traceflow_ingest_events_rejected_total` too, as every protocol's are.

use super::{Group, Syslog, framing::without_line_end, refused};
use crate::{
    app::Shutdown,
    rejection::{Protocol, Reason},
    tenants,
};
use std::{io, sync::Arc};
use tokio::{
    net::UdpSocket,
    sync::mpsc::{self, error::TrySendError},
    time::{Instant, sleep_until},
};

/// Events lost on the way from a datagram to the queue, by reason.
pub const DROPPED: &str = "traceflow_syslog_udp_dropped_total";

/// Groups read and waiting for the pusher, at most.
const BACKLOG_GROUPS: usize = 16;

/// The largest UDP payload (over IPv4; over IPv6 without jumbograms too).
const MAX_DATAGRAM: usize = 65_535;

fn dropped(events: usize, reason: &'static str) {
    metrics::counter!(DROPPED, "reason" => reason).increment(events as u64);
}

/// Reads datagrams until the shutdown, then queues what was read.
pub(super) async fn serve(
    socket: UdpSocket,
    syslog: Arc<Syslog>,
    shutdown: Shutdown,
) -> io::Result<()> {
    let (groups, waiting) = mpsc::channel(BACKLOG_GROUPS);
    let pusher = tokio::spawn(tenants::serving(
        syslog.tenant.as_str(),
        push(syslog.clone(), waiting),
    ));
    let mut datagram = vec![0; MAX_DATAGRAM];
    let mut group = Group::new();
    let stop = shutdown.wait();
    tokio::pin!(stop);
    loop {
        let due = group.due();
        tokio::select! {
            received = socket.recv_from(&mut datagram) => match received {
                Ok((size, peer)) if size > syslog.max_message_bytes => {
                    let why = format!(
                        "a datagram of {size} bytes, over the limit of {} bytes (MAX_BODY_BYTES)",
                        syslog.max_message_bytes
                    );
                    refused(Reason::TooLarge, peer, &why, "");
                }
                Ok((size, peer)) => {
                    syslog.read(without_line_end(&datagram[..size]), &mut group, peer);
                    if syslog.is_full(&group) {
                        hand_over(&groups, &mut group);
                    }
                }
                Err(error) => tracing::debug!(%error, "syslog UDP receive failed"),
            },
            () = sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => {
                hand_over(&groups, &mut group);
            }
            () = &mut stop => break,
        }
    }
    hand_over(&groups, &mut group);
    drop(groups);
    if let Err(error) = pusher.await {
        tracing::error!(%error, "the syslog UDP pusher failed");
    }
    Ok(())
}

/// Gives the group to the pusher, or drops it when the pusher is that far behind.
fn hand_over(groups: &mpsc::Sender<Group>, group: &mut Group) {
    let group = group.take();
    if group.events.is_empty() {
        return;
    }
    if let Err(TrySendError::Full(group) | TrySendError::Closed(group)) = groups.try_send(group) {
        dropped(group.events.len(), "backlog_full");
        tracing::warn!(
            events = group.events.len(),
            "syslog UDP messages dropped: the queue is not keeping up"
        );
    }
}

/// Queues the groups in the order they were read; one the queue refuses is dropped.
async fn push(syslog: Arc<Syslog>, mut waiting: mpsc::Receiver<Group>) {
    while let Some(group) = waiting.recv().await {
        if let Err(rejection) = syslog.queue(&group).await {
            let events = group.events.len();
            rejection.record(Protocol::Syslog, events);
            dropped(events, rejection.reason().label());
        }
    }
}
