//! Syslog over TCP: a task per connection reads frames (see [`super::framing`]) into a
//! group and queues it when it is full or due.
//!
//! While the queue refuses a group (full, or Redis down), the connection holds it and reads
//! nothing more: the kernel's buffers fill, the sender's writes block, and the sender keeps
//! the backlog (rsyslog and syslog-ng in their queues, `logger` by waiting). The push is
//! retried with backoff until the queue takes the group, so nothing read is dropped. At
//! shutdown a connection reads what has already arrived, queues it (retrying for up to
//! [`SHUTDOWN_GRACE`]) and closes.

use super::{
    Group, Syslog,
    framing::{Frame, Framer},
    refused,
};
use crate::{
    app::Shutdown,
    rejection::{Protocol, Reason},
    tenants,
};
use bytes::BytesMut;
use std::{io, net::SocketAddr, sync::Arc, time::Duration};
use tokio::{
    io::AsyncReadExt,
    net::{TcpListener, TcpStream},
    task::JoinSet,
    time::{Instant, sleep, sleep_until},
};
use traceflow_runtime::Backoff;

/// How much is read at a time.
const READ_SIZE: usize = 64 * 1024;

/// How long a connection keeps retrying its held lines once the service is shutting down,
/// as long as an HTTP request in flight gets.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// The retries of a held group: quick at first (a full queue drains fast), then at most
/// every few seconds.
fn backoff() -> Backoff {
    Backoff::new(Duration::from_millis(100), Duration::from_secs(5))
}

/// Accepts connections until the shutdown, then waits for each to queue what it read.
pub(super) async fn serve(
    listener: TcpListener,
    syslog: Arc<Syslog>,
    shutdown: Shutdown,
) -> io::Result<()> {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tracing::debug!(%peer, "syslog connection opened");
                    let tenant = syslog.tenant.as_str();
                    let connection = connection(stream, peer, syslog.clone(), shutdown.clone());
                    connections.spawn(tenants::serving(tenant, connection));
                }
                // Out of file descriptors, say: the connections already open go on, and a
                // new one is tried again shortly rather than in a busy loop.
                Err(error) => {
                    tracing::warn!(%error, "syslog TCP accept failed");
                    sleep(Duration::from_millis(100)).await;
                }
            },
            Some(ended) = connections.join_next(), if !connections.is_empty() => {
                if let Err(error) = ended {
                    tracing::error!(%error, "a syslog connection's task failed");
                }
            }
            () = shutdown.clone().wait() => break,
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
    Ok(())
}

async fn connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    syslog: Arc<Syslog>,
    shutdown: Shutdown,
) {
    let mut framer = Framer::new(syslog.max_message_bytes);
    let mut buffer = BytesMut::with_capacity(READ_SIZE);
    let mut group = Group::new();
    // The service is shutting down: queue what was read, and close.
    let mut stopping = false;
    let mut ended = false;
    loop {
        while let Some(frame) = framer.next(&mut buffer) {
            take(&syslog, frame, &mut group, peer);
            if syslog.is_full(&group) {
                queue_held(&syslog, &mut group, peer, &shutdown, &mut stopping).await;
            }
        }
        if ended || stopping {
            break;
        }
        buffer.reserve(READ_SIZE);
        let due = group.due();
        tokio::select! {
            read = stream.read_buf(&mut buffer) => match read {
                Ok(0) => ended = true,
                Ok(_) => {}
                Err(error) => {
                    tracing::debug!(%peer, %error, "syslog connection failed");
                    ended = true;
                }
            },
            () = sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => {
                queue_held(&syslog, &mut group, peer, &shutdown, &mut stopping).await;
            }
            () = shutdown.clone().wait(), if !stopping => {
                stopping = true;
                read_arrived(&mut stream, &mut buffer, syslog.max_group_bytes);
            }
        }
    }
    if ended {
        if let Some(frame) = framer.finish(&mut buffer) {
            take(&syslog, frame, &mut group, peer);
        }
    } else if !buffer.is_empty() {
        // Cut off by the shutdown, not by the sender: not a message.
        tracing::debug!(%peer, bytes = buffer.len(), "syslog connection closed inside a frame");
    }
    queue_held(&syslog, &mut group, peer, &shutdown, &mut stopping).await;
    tracing::debug!(%peer, "syslog connection closed");
}

/// One frame into the group, or counted as refused.
fn take(syslog: &Syslog, frame: Frame, group: &mut Group, peer: SocketAddr) {
    match frame {
        Frame::Message(line) => syslog.read(&line, group, peer),
        Frame::TooLarge { bytes } => {
            let size = bytes.map_or_else(|| "a line".to_owned(), |bytes| format!("{bytes} bytes"));
            let why = format!(
                "{size} over the limit of {} bytes (MAX_BODY_BYTES)",
                syslog.max_message_bytes
            );
            refused(Reason::TooLarge, peer, &why, "");
        }
        Frame::Broken(bytes) => refused(
            Reason::Invalid,
            peer,
            &"an octet-counted frame whose count is not a length, or that the connection cut short",
            &String::from_utf8_lossy(&bytes),
        ),
    }
}

/// Reads, without waiting, what has already arrived (at most `limit` bytes), so a shutdown
/// loses as little as it can of what the sender believes sent.
fn read_arrived(stream: &mut TcpStream, buffer: &mut BytesMut, limit: usize) {
    let start = buffer.len();
    while buffer.len() - start < limit {
        buffer.reserve(READ_SIZE);
        match stream.try_read_buf(buffer) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

/// Queues the group, holding it (and so the connection) while the queue refuses it; gives up
/// only once the shutdown grace has passed, counting what is lost.
async fn queue_held(
    syslog: &Syslog,
    group: &mut Group,
    peer: SocketAddr,
    shutdown: &Shutdown,
    stopping: &mut bool,
) {
    let held = group.take();
    if held.events.is_empty() {
        return;
    }
    let events = held.events.len();
    let mut backoff = backoff();
    let mut held_since: Option<Instant> = None;
    let mut give_up_at = stopping.then(|| Instant::now() + SHUTDOWN_GRACE);
    loop {
        let rejection = match syslog.queue(&held).await {
            Ok(()) => {
                if let Some(since) = held_since {
                    tracing::info!(
                        %peer,
                        events,
                        held_ms = since.elapsed().as_millis() as u64,
                        "syslog connection resumed: the queue took its held lines"
                    );
                }
                return;
            }
            Err(rejection) => rejection,
        };
        let reason = rejection.reason();
        if held_since.is_none() {
            held_since = Some(Instant::now());
            tracing::warn!(
                %peer,
                events,
                reason = reason.label(),
                error = %rejection,
                "syslog connection held back: it reads nothing more until the queue takes its lines"
            );
        }
        if give_up_at.is_some_and(|at| Instant::now() >= at) {
            reason.count(Protocol::Syslog, events);
            tracing::error!(
                %peer,
                events,
                reason = reason.label(),
                error = %rejection,
                "syslog lines lost: the queue did not take them before the shutdown"
            );
            return;
        }
        tokio::select! {
            () = sleep(backoff.next_delay()) => {}
            () = shutdown.clone().wait(), if !*stopping => {
                *stopping = true;
                give_up_at = Some(Instant::now() + SHUTDOWN_GRACE);
            }
        }
    }
}
