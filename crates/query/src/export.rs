//! `GET /logs/export`: every matching event as a download, NDJSON or CSV, streamed as it is
//! read from ClickHouse (a page of the sort key at a time, see `traceflow_storage::Export`),
//! so memory stays flat however many events match.
//!
//! The status and headers go out once the first event (or the end) has been read, so a
//! ClickHouse that is down is still a 503. A failure after that cannot change the status:
//! the stream ends early instead, without the chunked encoding's last chunk, which HTTP
//! clients report as an incomplete body (curl exits with 18, a browser marks the download
//! failed); an NDJSON export also ends with a last line `{"error": "..."}`, which no event
//! line has.

use crate::{
    ApiError,
    app::AppState,
    clickhouse::bounded,
    openapi::{ExportParams, FilterParams},
    params::{self, ExportRequest},
};
use axum::{
    body::{Body, Bytes},
    extract::{RawQuery, State},
    http::header,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use traceflow_event::LogEvent;
use traceflow_http::RequestTenant;
use traceflow_storage::Export;

/// Bytes gathered before they are sent as one chunk.
const CHUNK_BYTES: usize = 64 * 1024;
/// Chunks waiting for a slow client before the export stops reading ClickHouse.
const CHUNKS_IN_FLIGHT: usize = 4;
/// How long an export that ended early waits for the server to take its last chunks before
/// it fails the body, and then for the server to write them out: a body error makes the
/// server close the connection at once, dropping whatever it has not written yet.
const DRAIN_WAIT: Duration = Duration::from_secs(10);
const WRITE_GRACE: Duration = Duration::from_millis(200);

/// What an export is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One event per line, each the object `GET /logs` answers.
    Ndjson,
    /// RFC 4180: a header line, then one line per event.
    Csv,
}

/// The CSV columns, in order.
const CSV_HEADER: &str = "timestamp,service,level,message,trace_id,metadata,id\r\n";

impl Format {
    pub const ALL: [Format; 2] = [Format::Ndjson, Format::Csv];

    /// The `format` parameter's value, and the file's extension.
    pub fn name(self) -> &'static str {
        match self {
            Format::Ndjson => "ndjson",
            Format::Csv => "csv",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Ndjson => "application/x-ndjson",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }

    /// What comes before the first event.
    fn head(self, out: &mut Vec<u8>) {
        if self == Format::Csv {
            out.extend_from_slice(CSV_HEADER.as_bytes());
        }
    }

    fn write(self, event: &LogEvent, out: &mut Vec<u8>) {
        match self {
            Format::Ndjson => {
                serde_json::to_writer(&mut *out, event).expect("a LogEvent always serializes");
                out.push(b'\n');
            }
            Format::Csv => {
                let timestamp = crate::stats::rfc3339(event.timestamp);
                let metadata =
                    serde_json::to_string(&event.metadata).expect("metadata always serializes");
                let id = event.id.to_string();
                let fields = [
                    timestamp.as_str(),
                    &event.service,
                    event.level.as_str(),
                    &event.message,
                    &event.trace_id,
                    &metadata,
                    &id,
                ];
                for (index, field) in fields.into_iter().enumerate() {
                    if index > 0 {
                        out.push(b',');
                    }
                    csv_field(field, out);
                }
                out.extend_from_slice(b"\r\n");
            }
        }
    }

    /// The last line of an export that ended early, where the format can carry one: a CSV
    /// line would be read as an event.
    fn failure(self, message: &str, out: &mut Vec<u8>) {
        if self == Format::Ndjson {
            serde_json::to_writer(&mut *out, &json!({ "error": message }))
                .expect("a JSON object always serializes");
            out.push(b'\n');
        }
    }
}

/// A CSV field as RFC 4180 writes it: quoted, its quotes doubled, when it holds a comma, a
/// quote or a line break.
fn csv_field(field: &str, out: &mut Vec<u8>) {
    if field.contains([',', '"', '\r', '\n']) {
        out.push(b'"');
        out.extend_from_slice(field.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(field.as_bytes());
    }
}

/// `traceflow-<from>-<to>.<ext>`, the times in ISO 8601's basic form (no colons, which some
/// file systems refuse); an export without `from` starts at the epoch.
fn file_name(request: &ExportRequest) -> String {
    let time = |time: Option<DateTime<Utc>>| {
        time.unwrap_or(DateTime::UNIX_EPOCH)
            .format("%Y%m%dT%H%M%SZ")
            .to_string()
    };
    format!(
        "traceflow-{}-{}.{}",
        time(request.filter.from),
        time(request.filter.to),
        request.format.name()
    )
}

/// Why a stream ended before its last event; the body's error, which makes the server end
/// the response without its last chunk.
#[derive(Debug, thiserror::Error)]
#[error("the export ended early, after {events} events: {reason}")]
struct EndedEarly {
    events: u64,
    reason: String,
}

/// Every matching event, newest first unless `order=asc`, as a file to download.
#[utoipa::path(get, path = "/logs/export", tag = "query", params(FilterParams, ExportParams), responses(
    (status = 200, description = "Every matching event, streamed: NDJSON (each line an event as GET /logs answers it) or CSV (columns timestamp, service, level, message, trace_id, metadata, id). An export that fails midway ends without the chunked encoding's last chunk; as NDJSON, with a last line {\"error\": \"...\"} too",
        content(("application/x-ndjson"), ("text/csv"))),
    crate::openapi::QueryErrors,
))]
pub(crate) async fn export(
    State(state): State<AppState>,
    RequestTenant(tenant): RequestTenant,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let request = params::export_query(&tenant, raw.as_deref(), Utc::now())
        .map_err(ApiError::BadParameter)?;
    let storage = state.storage.get().await?;
    let mut export = storage.export(request.filter.clone(), request.order);
    // Before the status: a ClickHouse that fails at once gets its 503 (or 500).
    let first = bounded(export.next()).await?;
    let (sender, receiver) = mpsc::channel(CHUNKS_IN_FLIGHT);
    let pump = Pump {
        export,
        format: request.format,
        sender,
        buffer: Vec::with_capacity(CHUNK_BYTES * 2),
        events: 0,
    };
    tokio::spawn(pump.run(first, state.stop.clone()));
    Ok((
        [
            (
                header::CONTENT_TYPE,
                request.format.content_type().to_owned(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", file_name(&request)),
            ),
        ],
        Body::from_stream(ReceiverStream::new(receiver)),
    )
        .into_response())
}

/// How pumping ended, short of the last event.
enum Stopped {
    /// The client went away: nobody to tell.
    Gone,
    /// ClickHouse failed, or the service is stopping: the client must learn the export is
    /// incomplete.
    Early(String),
}

/// Reads the export and writes it into the response, a chunk at a time.
struct Pump {
    export: Export,
    format: Format,
    sender: mpsc::Sender<Result<Bytes, EndedEarly>>,
    buffer: Vec<u8>,
    events: u64,
}

impl Pump {
    async fn run(mut self, first: Option<LogEvent>, stop: CancellationToken) {
        let started = Instant::now();
        match self.pump(first, &stop).await {
            Ok(()) => tracing::info!(
                events = self.events,
                elapsed_ms = started.elapsed().as_millis() as u64,
                format = self.format.name(),
                "export sent"
            ),
            Err(Stopped::Gone) => tracing::info!(
                events = self.events,
                "export abandoned: the client went away"
            ),
            Err(Stopped::Early(reason)) => {
                tracing::warn!(events = self.events, %reason, "export ended early");
                let ended = EndedEarly {
                    events: self.events,
                    reason,
                };
                self.format.failure(&ended.to_string(), &mut self.buffer);
                // Whatever the client is told, it also gets a body that does not end well.
                if self.flush().await.is_ok() {
                    drained(&self.sender).await;
                    let _ = self.sender.send(Err(ended)).await;
                }
            }
        }
    }

    async fn pump(
        &mut self,
        mut next: Option<LogEvent>,
        stop: &CancellationToken,
    ) -> Result<(), Stopped> {
        self.format.head(&mut self.buffer);
        while let Some(event) = next {
            self.format.write(&event, &mut self.buffer);
            self.events += 1;
            if self.buffer.len() >= CHUNK_BYTES {
                self.flush().await?;
            }
            let sender = self.sender.clone();
            next = tokio::select! {
                read = bounded(self.export.next()) => read.map_err(|error| {
                    if let ApiError::Storage(error) = &error {
                        tracing::warn!(%error, "export read failed");
                    }
                    Stopped::Early(error.client_message())
                })?,
                () = stop.cancelled() => {
                    return Err(Stopped::Early("the service is stopping".into()));
                }
                () = sender.closed() => return Err(Stopped::Gone),
            };
        }
        self.flush().await
    }

    async fn flush(&mut self) -> Result<(), Stopped> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buffer,
            Vec::with_capacity(CHUNK_BYTES * 2),
        ));
        self.sender.send(Ok(chunk)).await.map_err(|_| Stopped::Gone)
    }
}

/// Waits until the server has taken every chunk sent (up to [`DRAIN_WAIT`]), then
/// [`WRITE_GRACE`] for it to write them out.
async fn drained(sender: &mpsc::Sender<Result<Bytes, EndedEarly>>) {
    let deadline = tokio::time::Instant::now() + DRAIN_WAIT;
    while sender.capacity() < sender.max_capacity()
        && !sender.is_closed()
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(WRITE_GRACE).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use traceflow_event::Level;
    use traceflow_storage::{LogFilter, Order};

    fn event(message: &str) -> LogEvent {
        LogEvent {
            tenant: traceflow_event::DEFAULT_TENANT.into(),
            id: "0196a0b0-0000-7000-8000-000000000004".parse().unwrap(),
            timestamp: "2026-05-05T10:00:00.250Z".parse().unwrap(),
            service: "api".into(),
            level: Level::Warn,
            message: message.to_owned().into(),
            trace_id: "t1".into(),
            metadata: BTreeMap::from([("user".into(), "4,2".into())]),
        }
    }

    fn written(format: Format, events: &[LogEvent]) -> String {
        let mut out = Vec::new();
        format.head(&mut out);
        for event in events {
            format.write(event, &mut out);
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn csv_quotes_what_rfc_4180_says_to() {
        assert_eq!(
            written(
                Format::Csv,
                &[event("plain"), event("say \"hi\", twice\r\nthen stop")]
            ),
            concat!(
                "timestamp,service,level,message,trace_id,metadata,id\r\n",
                "2026-05-05T10:00:00.250Z,api,WARN,plain,t1,\"{\"\"user\"\":\"\"4,2\"\"}\",0196a0b0-0000-7000-8000-000000000004\r\n",
                "2026-05-05T10:00:00.250Z,api,WARN,\"say \"\"hi\"\", twice\r\nthen stop\",t1,\"{\"\"user\"\":\"\"4,2\"\"}\",0196a0b0-0000-7000-8000-000000000004\r\n",
            )
        );
    }

    #[test]
    fn ndjson_lines_are_the_search_answers_events() {
        let event = event("line one\nline two");
        let text = written(Format::Ndjson, std::slice::from_ref(&event));
        assert_eq!(text.lines().count(), 1);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(text.trim_end()).unwrap(),
            serde_json::to_value(&event).unwrap()
        );
        let mut failure = Vec::new();
        Format::Ndjson.failure("it broke", &mut failure);
        assert_eq!(failure, b"{\"error\":\"it broke\"}\n");
        let mut nothing = Vec::new();
        Format::Csv.failure("it broke", &mut nothing);
        assert!(nothing.is_empty());
    }

    #[test]
    fn the_file_is_named_after_the_range() {
        let request = |from: Option<&str>, format| ExportRequest {
            filter: LogFilter {
                from: from.map(|from| from.parse().unwrap()),
                to: Some("2026-05-05T12:00:00.999Z".parse().unwrap()),
                ..LogFilter::default()
            },
            order: Order::Desc,
            format,
        };
        assert_eq!(
            file_name(&request(Some("2026-05-05T10:00:00Z"), Format::Csv)),
            "traceflow-20260505T100000Z-20260505T120000Z.csv"
        );
        assert_eq!(
            file_name(&request(None, Format::Ndjson)),
            "traceflow-19700101T000000Z-20260505T120000Z.ndjson"
        );
    }
}
