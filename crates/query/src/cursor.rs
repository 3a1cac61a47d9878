//! Cursors: where the next page of a search starts, and where a live tail resumes
//! (`Last-Event-ID`). Opaque to clients: the version, the order and the last event's
//! position in the sort key, hex-encoded.

use traceflow_storage::{Order, Position};
use uuid::Uuid;

/// Bumped if the layout changes, so old cursors are refused rather than misread.
const VERSION: u8 = 1;
const LENGTH: usize = 1 + 1 + 4 + 2 + 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub order: Order,
    /// The last event the client has: the next page starts after it.
    pub position: Position,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(LENGTH);
        bytes.push(VERSION);
        bytes.push(match self.order {
            Order::Desc => 0,
            Order::Asc => 1,
        });
        bytes.extend(self.position.seconds.to_be_bytes());
        bytes.extend(self.position.millisecond.to_be_bytes());
        bytes.extend(self.position.event_id.as_bytes());
        hex::encode(bytes)
    }

    /// None unless `raw` is a cursor [`Self::encode`] made.
    pub fn decode(raw: &str) -> Option<Self> {
        let bytes: [u8; LENGTH] = hex::decode(raw).ok()?.try_into().ok()?;
        let [version, order, rest @ ..] = bytes;
        let order = match (version, order) {
            (VERSION, 0) => Order::Desc,
            (VERSION, 1) => Order::Asc,
            _ => return None,
        };
        let (seconds, rest) = rest.split_first_chunk::<4>()?;
        let (millisecond, event_id) = rest.split_first_chunk::<2>()?;
        let millisecond = u16::from_be_bytes(*millisecond);
        if millisecond > 999 {
            return None;
        }
        Some(Self {
            order,
            position: Position {
                seconds: u32::from_be_bytes(*seconds),
                millisecond,
                event_id: Uuid::from_slice(event_id).ok()?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_survives_encoding_and_junk_is_refused() {
        let cursor = Cursor {
            order: Order::Asc,
            position: Position {
                seconds: 1_777_975_200,
                millisecond: 999,
                event_id: Uuid::now_v7(),
            },
        };
        let encoded = cursor.encode();
        assert_eq!(encoded.len(), 48);
        assert_eq!(Cursor::decode(&encoded), Some(cursor));
        let mut other_version = encoded.clone();
        other_version.replace_range(..2, "02");
        for junk in [
            "",
            "zz",
            &encoded[..46],
            &format!("{encoded}00"),
            &other_version,
        ] {
            assert_eq!(Cursor::decode(junk), None, "{junk}");
        }
    }
}
