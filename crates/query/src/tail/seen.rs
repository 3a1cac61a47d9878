//! The events a reader or a client has already had, remembered for as long as they can
//! come round again (a poll re-reads the last few seconds to catch late arrivals).

use std::collections::BTreeSet;
use traceflow_storage::Position;

#[derive(Debug, Default)]
pub(super) struct Seen {
    positions: BTreeSet<Position>,
}

impl Seen {
    /// Records an event; false if it was already recorded.
    pub(super) fn insert(&mut self, position: Position) -> bool {
        self.positions.insert(position)
    }

    /// Forgets the events before `floor`, which no later read returns.
    pub(super) fn forget_before(&mut self, floor: Position) {
        self.positions = self.positions.split_off(&floor);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn at(seconds: u32) -> Position {
        Position {
            seconds,
            millisecond: 0,
            event_id: Uuid::now_v7(),
        }
    }

    #[test]
    fn remembers_until_told_to_forget() {
        let mut seen = Seen::default();
        let (old, new) = (at(10), at(20));
        assert!(seen.insert(old));
        assert!(seen.insert(new));
        assert!(!seen.insert(old));
        seen.forget_before(Position {
            seconds: 15,
            millisecond: 0,
            event_id: Uuid::nil(),
        });
        assert!(!seen.insert(new));
        assert!(seen.insert(old), "forgotten, so new again");
    }
}
