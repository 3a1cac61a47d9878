//! Syslog over TCP (`SYSLOG_TCP_PORT`, RFC 6587: octet counting and LF-terminated lines)
//! and UDP (`SYSLOG_UDP_PORT`, RFC 5426: one message per datagram), in the RFC 5424 and RFC
//! 3164 formats (see [`parse`] for how each is read, [`map`] for the event made of it).
//!
//! There is no answer to send: a line is queued, or counted and skipped. A malformed line
//! or one that breaks an event rule is counted in `traceflow_ingest_events_rejected_total`
//! (protocol `syslog`, its reason) and logged at debug level; the lines after it are read
//! as usual. Lines are queued in groups, one `accept` (one Redis round trip, one trace id)
//! per group: what arrives within [`GROUP_DELAY`] of a group's first line, up to
//! `MAX_BATCH_EVENTS` lines (and no more than `MAX_QUEUE_DEPTH`, so a group always fits an
//! empty queue) and `MAX_BODY_BYTES` bytes, the limits of one HTTP request.
//!
//! When the queue is full or Redis is down, the transports differ as their senders do: a TCP
//! connection holds its group and stops reading, so the sender's own buffers take the
//! backlog, until the queue takes the group (retried with backoff; see [`tcp`]); UDP has no
//! way to hold a sender back, so its groups are dropped and counted (see [`udp`]).

mod framing;
mod map;
mod parse;
mod tcp;
mod udp;

use crate::{
    Rejection,
    accept::accept,
    app::{AppState, Listener, Port},
    rejection::{Protocol, Reason, Refusal},
    tenants,
};
use chrono::Utc;
use chrono_tz::Tz;
use std::{fmt, mem, net::SocketAddr, sync::Arc, time::Duration};
use tokio::time::Instant;
use traceflow_access::Tenant;
use traceflow_config::IngestionConfig;
use traceflow_event::{Defaults, Event, Field, LogEvent, Wording, quoted_key};

/// How long a group waits for more lines after its first: long enough for a busy sender's
/// stream to fill groups, short enough not to be noticed in a log's latency.
pub const GROUP_DELAY: Duration = Duration::from_millis(20);

/// The event's fields as syslog names them, for the log line of a refused message.
struct SyslogWording;

impl Wording for SyslogWording {
    fn name(&self, field: &Field) -> String {
        match field {
            Field::Service => "APP-NAME (TAG in RFC 3164)".to_owned(),
            Field::Level => "PRI".to_owned(),
            Field::Message => "MSG".to_owned(),
            Field::Timestamp => "TIMESTAMP".to_owned(),
            Field::TraceId => "trace id".to_owned(),
            Field::Metadata => "the header fields and structured data together".to_owned(),
            Field::MetadataKey(key) => format!("structured data name {}", quoted_key(key)),
            Field::MetadataValue(key) => format!("structured data {key}"),
        }
    }
}

/// What both listeners share: the queue, the event rules, and how lines are grouped.
pub(crate) struct Syslog {
    state: AppState,
    /// `SYSLOG_TIMEZONE`.
    zone: Tz,
    /// `SYSLOG_TENANT`.
    pub(super) tenant: Tenant,
    /// The largest message read (`MAX_BODY_BYTES`).
    max_message_bytes: usize,
    max_group_events: usize,
    max_group_bytes: usize,
}

/// Lines waiting to be queued together.
pub(crate) struct Group {
    /// The trace id of the group's events: one per group, as one per HTTP request.
    trace_id: String,
    events: Vec<LogEvent>,
    /// The size of the lines the events came from.
    bytes: usize,
    /// When the first line came.
    since: Option<Instant>,
}

impl Group {
    fn new() -> Self {
        Self {
            trace_id: traceflow_traceid::generate(),
            events: Vec::new(),
            bytes: 0,
            since: None,
        }
    }

    /// Empties this group, handing out what it held.
    fn take(&mut self) -> Group {
        mem::replace(self, Group::new())
    }

    /// When the group is due to be queued; `None` while it holds no line.
    fn due(&self) -> Option<Instant> {
        self.since.map(|since| since + GROUP_DELAY)
    }
}

impl Syslog {
    fn new(state: AppState, config: &IngestionConfig) -> Self {
        let max_group_events = usize::try_from(config.max_queue_depth)
            .unwrap_or(usize::MAX)
            .min(config.max_batch_events);
        Self {
            state,
            zone: config.syslog_timezone,
            tenant: config.syslog_tenant.clone(),
            max_message_bytes: config.max_body_bytes,
            max_group_events,
            max_group_bytes: config.max_body_bytes,
        }
    }

    /// Reads one message (its framing off) into `group`, or counts and logs why it is not
    /// kept. `peer` is only for the log.
    fn read(&self, line: &[u8], group: &mut Group, peer: SocketAddr) {
        match self.event(line, &group.trace_id) {
            Ok(event) => {
                group.since.get_or_insert_with(Instant::now);
                group.events.push(event);
                group.bytes += line.len();
            }
            Err(refusal) => refused(
                refusal.reason,
                peer,
                &refusal.message,
                &String::from_utf8_lossy(line),
            ),
        }
    }

    fn event(&self, line: &[u8], trace_id: &str) -> Result<LogEvent, Refusal> {
        // Text that is not UTF-8 is kept, its bad bytes replaced, rather than lost.
        let text = String::from_utf8_lossy(framing::without_line_end(line));
        let message =
            parse::parse(&text).map_err(|malformed| Refusal::malformed(malformed.to_string()))?;
        let now = Utc::now();
        let draft = map::draft(message, now, self.zone);
        draft
            .check(
                Defaults {
                    tenant: self.tenant.as_str(),
                    trace_id,
                    now,
                    retention_days: self
                        .state
                        .tenants
                        .limits(self.tenant.as_str())
                        .retention_days,
                },
                &self.state.limits,
            )
            .map(Event::into_owned)
            .map_err(|violation| Refusal::of(&violation, &SyslogWording))
    }

    /// Whether `group` should be queued now rather than wait for more lines.
    fn is_full(&self, group: &Group) -> bool {
        group.events.len() >= self.max_group_events || group.bytes >= self.max_group_bytes
    }

    /// Queues the group's events with one `accept`.
    async fn queue(&self, group: &Group) -> Result<(), Rejection> {
        accept(
            &self.state,
            Protocol::Syslog,
            &group.trace_id,
            &group.events,
        )
        .await
    }
}

/// Counts a message that is not kept, and logs it (at debug level: a sender with a bad line
/// in every message would otherwise flood the log; the counter shows it).
fn refused(reason: Reason, peer: SocketAddr, why: &dyn fmt::Display, line: &str) {
    reason.count(Protocol::Syslog, 1);
    const SHOWN: usize = 200;
    let shown = match line.char_indices().nth(SHOWN) {
        Some((cut, _)) => &line[..cut],
        None => line,
    };
    tracing::debug!(
        protocol = "syslog",
        reason = reason.label(),
        %peer,
        error = %why,
        line = shown,
        "syslog message refused"
    );
}

/// The syslog listeners that `config` turns on, bound.
pub(crate) async fn listeners(
    state: &AppState,
    config: &IngestionConfig,
) -> anyhow::Result<Vec<Listener>> {
    let syslog = Arc::new(Syslog::new(state.clone(), config));
    let ports = &config.protocol_ports;
    let mut listeners = Vec::new();
    if let Some(number) = ports.syslog_tcp {
        let listener =
            traceflow_runtime::bind("BIND_HOST, SYSLOG_TCP_PORT", config.host, number).await?;
        let address = listener.local_addr()?;
        tracing::info!(port = ?Port::SyslogTcp, %address, "listening");
        let syslog = syslog.clone();
        listeners.push(Listener::new(Port::SyslogTcp, address, move |shutdown| {
            Box::pin(tcp::serve(listener, syslog, shutdown))
        }));
    }
    if let Some(number) = ports.syslog_udp {
        let socket =
            traceflow_runtime::bind_udp("BIND_HOST, SYSLOG_UDP_PORT", config.host, number).await?;
        let address = socket.local_addr()?;
        tracing::info!(port = ?Port::SyslogUdp, %address, "listening");
        listeners.push(Listener::new(Port::SyslogUdp, address, move |shutdown| {
            let tenant = syslog.tenant.clone();
            Box::pin(tenants::serving(
                tenant.as_str(),
                udp::serve(socket, syslog, shutdown),
            ))
        }));
    }
    if !listeners.is_empty() && !config.api_keys.is_empty() {
        tracing::warn!(
            "INGEST_API_KEYS do not apply to syslog, which has no way to carry a key: anyone who \
             can reach SYSLOG_TCP_PORT or SYSLOG_UDP_PORT can send logs (set them to off, or \
             keep them to a trusted network)"
        );
    }
    Ok(listeners)
}
