//! `GET /logs/tail`: Server-Sent Events with each new matching event as it is stored.
//!
//! The stream opens with a `: connected` comment once every event stored from then on will
//! be pushed. Each event's SSE id is a cursor of the newest event pushed so far; a client
//! that reconnects with it as `Last-Event-ID` first gets what it missed, from ClickHouse,
//! then the live events again. Idle streams carry a `: heartbeat` comment.

mod reader;
mod seen;

pub(crate) use reader::TailHub;

use crate::{ApiError, app::AppState, cursor::Cursor, params};
use axum::{
    extract::{RawQuery, State},
    http::HeaderMap,
    response::{
        IntoResponse,
        sse::{Event, KeepAlive, Sse},
    },
};
use chrono::Utc;
use reader::{LOOKBACK, Subscription};
use seen::Seen;
use std::convert::Infallible;
use tokio::sync::{broadcast::error::RecvError, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use traceflow_event::LogEvent;
use traceflow_http::RequestTenant;
use traceflow_storage::{LogFilter, LogQuery, MAX_LIMIT, Order, Page, Position, Storage};

/// SSE messages waiting for a slow client before its follower stops reading its reader
/// (and later catches up from ClickHouse).
const CLIENT_BUFFER: usize = 64;

/// Server-Sent Events: each new matching event as it is stored; resumes after
/// `Last-Event-ID`.
#[utoipa::path(get, path = "/logs/tail", tag = "query", params(crate::openapi::FilterParams, ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event (an SSE id sent earlier)")), responses(
    (status = 200, description = "An event stream: `id` a cursor, `data` the event as GET /logs answers it", content_type = "text/event-stream"),
    crate::openapi::QueryErrors,
))]
pub(crate) async fn tail(
    State(state): State<AppState>,
    RequestTenant(tenant): RequestTenant,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let filter = params::tail_filter(&tenant, raw.as_deref()).map_err(ApiError::BadParameter)?;
    let resume = headers
        .get("last-event-id")
        .map(|value| params::resume_position(value.as_bytes()))
        .transpose()
        .map_err(ApiError::BadParameter)?;
    // A 503 now rather than a stream that cannot deliver.
    let storage = state.storage.get().await?.clone();
    let subscription = state.tails.subscribe(&filter);
    let (sender, receiver) = mpsc::channel(CLIENT_BUFFER);
    let follower = Follower {
        storage,
        filter,
        sender,
        seen: Seen::default(),
        last: None,
    };
    tokio::spawn(follower.run(subscription, resume, state.stop.clone()));
    Ok(Sse::new(ReceiverStream::new(receiver))
        .keep_alive(KeepAlive::new().interval(state.heartbeat).text("heartbeat")))
}

/// The client has gone, or the stream must end (the client reconnects).
struct Ended;

/// One client's stream: what its reader finds, plus what it missed before (resume) or
/// while it was too slow (a lagging receiver), without an event twice.
struct Follower {
    storage: Storage,
    filter: LogFilter,
    sender: mpsc::Sender<Result<Event, Infallible>>,
    seen: Seen,
    /// The newest event pushed.
    last: Option<Position>,
}

impl Follower {
    async fn run(
        mut self,
        subscription: Subscription,
        resume: Option<Position>,
        stop: CancellationToken,
    ) {
        metrics::gauge!("traceflow_query_tail_clients").increment(1.0);
        tokio::select! {
            _ = self.follow(subscription, resume) => {}
            () = stop.cancelled() => {}
        }
        metrics::gauge!("traceflow_query_tail_clients").decrement(1.0);
    }

    async fn follow(
        &mut self,
        mut subscription: Subscription,
        resume: Option<Position>,
    ) -> Result<(), Ended> {
        let sender = self.sender.clone();
        tokio::select! {
            primed = subscription.primed.wait_for(|primed| *primed) => primed.map_err(|_| Ended)?,
            () = sender.closed() => return Err(Ended),
        };
        let connected = Utc::now();
        self.send(Event::default().comment("connected")).await?;
        if let Some(position) = resume {
            self.catch_up(position).await?;
        }
        loop {
            let received = tokio::select! {
                received = subscription.events.recv() => received,
                () = sender.closed() => return Err(Ended),
            };
            match received {
                Ok(batch) => {
                    for event in batch.iter() {
                        self.push(event).await?;
                    }
                }
                Err(RecvError::Lagged(batches)) => {
                    tracing::info!(
                        batches,
                        "tail client fell behind; catching up from clickhouse"
                    );
                    let after = self.last.unwrap_or(Position::start_of(connected));
                    self.catch_up(after).await?;
                }
                Err(RecvError::Closed) => return Err(Ended),
            }
        }
    }

    /// Pushes every matching event stored after `after`, oldest first.
    async fn catch_up(&mut self, after: Position) -> Result<(), Ended> {
        let mut query = LogQuery {
            filter: self.filter.clone(),
            order: Order::Asc,
            page: Page::After(after),
            limit: MAX_LIMIT,
        };
        loop {
            let page = self.storage.search(&query).await.map_err(|error| {
                // Ending the stream makes the client reconnect with its Last-Event-ID.
                tracing::warn!(%error, "tail catch-up failed; ending the stream");
                Ended
            })?;
            for event in &page.logs {
                self.push(event).await?;
            }
            match page.next {
                Some(next) => query.page = Page::After(next),
                None => return Ok(()),
            }
        }
    }

    async fn push(&mut self, event: &LogEvent) -> Result<(), Ended> {
        let position = Position::of(event);
        if !self.seen.insert(position) {
            return Ok(());
        }
        let last = self.last.map_or(position, |last| last.max(position));
        self.last = Some(last);
        // Readers re-read at most LOOKBACK behind what they passed on, so older events
        // cannot come again.
        self.seen
            .forget_before(Position::start_of(last.time() - LOOKBACK));
        let id = Cursor {
            order: Order::Asc,
            position: last,
        };
        let data = serde_json::to_string(event).expect("a LogEvent always serializes");
        self.send(Event::default().id(id.encode()).data(data)).await
    }

    async fn send(&self, event: Event) -> Result<(), Ended> {
        self.sender.send(Ok(event)).await.map_err(|_| Ended)
    }
}
