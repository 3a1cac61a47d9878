//! The queue's wire format: an entry is one request's events, one JSON object per line.
//!
//! An entry holds one tenant's events (a request acts for one tenant, and the producer joins
//! only the entries of one tenant), and its first line says whose: an event's JSON starts
//! with its `id` and then its `tenant`, which is left out for the default tenant. The claim
//! script reads it there (`tenant_of` in `scripts/events_in.lua`), as [`entry_tenant`] does.

use traceflow_event::{DEFAULT_TENANT, Event};

/// Most events one queue entry carries; a larger request is split over several entries, so
/// a worker's batch can be made close to its size out of whole entries.
pub const ENTRY_MAX_EVENTS: usize = 1000;

/// A line of a queue entry that is not a valid event.
#[derive(Debug, thiserror::Error)]
#[error("not a valid queued event: {0}")]
pub struct WireError(#[from] serde_json::Error);

/// A queue entry: the events' JSON, one per line (`\n` between them, none after; JSON
/// escapes any newline inside a string). A request's events travel as one entry, so Redis
/// handles one value per request rather than one per event; an entry of one event is just
/// that event's JSON.
pub fn encode_entry(events: &[Event<'_>]) -> Vec<u8> {
    let mut entry = Vec::with_capacity(events.len() * 320);
    for (index, event) in events.iter().enumerate() {
        if index > 0 {
            entry.push(b'\n');
        }
        serde_json::to_writer(&mut entry, event).expect("an Event always serializes");
    }
    entry
}

/// The tenant of an entry's events, read from its first line as the claim script reads it.
pub fn entry_tenant(entry: &[u8]) -> &str {
    const ID_FIELD: &[u8] = br#"{"id":""#;
    const TENANT_FIELD: &[u8] = br#"","tenant":""#;
    let tenant = entry
        .strip_prefix(ID_FIELD)
        .and_then(|rest| {
            let id_end = rest.iter().position(|byte| *byte == b'"')?;
            rest[id_end..].strip_prefix(TENANT_FIELD)
        })
        .and_then(|rest| {
            let end = rest.iter().position(|byte| *byte == b'"')?;
            std::str::from_utf8(&rest[..end]).ok()
        });
    tenant.unwrap_or(DEFAULT_TENANT)
}

/// The events' lines of a queue entry, in order (blank lines skipped).
pub fn entry_lines(entry: &[u8]) -> impl Iterator<Item = &[u8]> {
    entry
        .split(|byte| *byte == b'\n')
        .filter(|line| !line.trim_ascii().is_empty())
}

/// The event of one line of a queue entry, borrowing its text from the line.
pub fn decode_line(line: &[u8]) -> Result<Event<'_>, WireError> {
    Ok(serde_json::from_slice(line)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use traceflow_event::LogEvent;

    /// A new event each call (its own id), as ingestion would queue it.
    fn sample() -> LogEvent {
        let json = serde_json::json!({
            "id": uuid::Uuid::now_v7(),
            "timestamp": "2026-05-05T10:00:00.123Z",
            "service": "auth-service",
            "level": "ERROR",
            "message": "DB connection failed",
            "trace_id": "0123456789abcdef0123456789abcdef",
            "metadata": {"user_id": "42"},
        });
        decode_line(json.to_string().as_bytes())
            .unwrap()
            .into_owned()
    }

    #[test]
    fn an_entry_holds_its_events_one_per_line_in_order() {
        let events = [sample(), sample(), sample()];
        let entry = encode_entry(&events);
        assert_eq!(entry.iter().filter(|byte| **byte == b'\n').count(), 2);
        let decoded: Vec<Event> = entry_lines(&entry)
            .map(|line| decode_line(line).unwrap())
            .collect();
        assert_eq!(decoded, events);
        // One event's entry is that event's JSON.
        assert_eq!(
            encode_entry(&events[..1]),
            serde_json::to_vec(&events[0]).unwrap()
        );
    }

    #[test]
    fn an_entry_names_its_tenant_right_after_the_first_id() {
        let mut event = sample();
        assert_eq!(entry_tenant(&encode_entry(&[event.clone()])), "default");
        assert!(
            !String::from_utf8(encode_entry(&[event.clone()]))
                .unwrap()
                .contains("tenant")
        );
        event.tenant = "acme".into();
        let entry = encode_entry(&[event.clone(), event.clone()]);
        let prefix = format!(r#"{{"id":"{}","tenant":"acme","#, event.id);
        assert!(
            entry.starts_with(prefix.as_bytes()),
            "{}",
            String::from_utf8_lossy(&entry)
        );
        assert_eq!(entry_tenant(&entry), "acme");
        assert_eq!(entry_tenant(b"not json"), "default");
    }

    #[test]
    fn a_newline_inside_a_field_stays_inside_its_line() {
        let mut event = sample();
        event.message = "two\nlines".into();
        let entry = encode_entry(&[event.clone(), sample()]);
        let lines: Vec<&[u8]> = entry_lines(&entry).collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(decode_line(lines[0]).unwrap(), event);
    }

    #[test]
    fn garbage_is_a_wire_error() {
        let err = decode_line(b"{not json").unwrap_err();
        assert!(
            err.to_string().starts_with("not a valid queued event: "),
            "{err}"
        );
        assert!(decode_line(br#"{"id":"x"}"#).is_err());
    }
}
