//! A walk through the events a filter matches, in the table's order or its reverse, one
//! bounded SELECT at a time: what `GET /logs/export` streams and what `GET /logs/context`
//! lists around an event.
//!
//! Each step is a keyset page, exactly as cursors page (the events after the last one
//! passed on, in the sort key `(timestamp, millisecond, event_id)`), that is also held to a
//! time window ahead of it. Without the window a page's SELECT would read everything left
//! in the range to find its first rows: ClickHouse 18.16 cannot read a table in its key
//! order and stop at the LIMIT, so walking N events a page at a time would read O(N²/page)
//! rows. With it, each page reads the granules of its window only (the primary key starts
//! with `timestamp`).
//!
//! The window adapts to how dense the matching events are: after a full page it is twice
//! the time that page covered (so the next one is likely full again, reading about twice
//! the rows it passes on); a window that held fewer events than asked is passed whole and
//! the next one is twice as wide, until, past [`WIDEST_WINDOW`], the rest of the range is
//! one window (a gap, or the end of the stored data: found with a few cheap SELECTs rather
//! than a doubling per year).

use crate::{
    filter::LogFilter,
    position::{Order, Position},
    search::{LogQuery, Page},
};
use chrono::{DateTime, TimeDelta, Utc};

/// The first window: a minute holds the neighbours of most events, and a short export.
const FIRST_WINDOW: TimeDelta = TimeDelta::minutes(1);
/// The narrowest window a full page may shrink it to.
const NARROWEST_WINDOW: TimeDelta = TimeDelta::seconds(1);
/// Beyond this width, a window that keeps coming back short becomes the rest of the range.
const WIDEST_WINDOW: TimeDelta = TimeDelta::days(1);
/// What one millisecond (the precision of the bounds) is.
const MILLISECOND: TimeDelta = TimeDelta::milliseconds(1);

/// The last millisecond the `timestamp` column can hold (a UInt32 of seconds).
fn column_end() -> DateTime<Utc> {
    DateTime::from_timestamp(i64::from(u32::MAX), 999_000_000).expect("within chrono's range")
}

/// What the last page found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// As many events as asked, and more in the window: the next page starts after `last`.
    Full { last: Position },
    /// Fewer: the window held no more, the next page starts beyond it.
    Short,
}

/// Where a walk is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Walk {
    /// The conditions; its time range is the walk's, and each page replaces it by its window.
    filter: LogFilter,
    order: Order,
    /// Where the events left begin (inclusive): the lower bound ascending, the upper one
    /// descending.
    edge: DateTime<Utc>,
    /// The last event passed on, at `edge`: the next page starts after it.
    after: Option<Position>,
    /// Where the range ends (inclusive) in the walk's direction; None: no end.
    end: Option<DateTime<Utc>>,
    /// None: the rest of the range.
    window: Option<TimeDelta>,
    done: bool,
}

impl Walk {
    /// Every event `filter` matches, in `order`.
    pub(crate) fn new(filter: LogFilter, order: Order) -> Self {
        let (edge, end) = match order {
            Order::Asc => (filter.from.unwrap_or(DateTime::UNIX_EPOCH), filter.to),
            Order::Desc => (filter.to.unwrap_or_else(column_end), filter.from),
        };
        Self {
            filter,
            order,
            edge,
            after: None,
            end,
            window: Some(FIRST_WINDOW),
            done: false,
        }
    }

    /// The events `filter` matches from `start` on, in `order`, `start` itself left out.
    pub(crate) fn from_position(filter: LogFilter, order: Order, start: Position) -> Self {
        Self {
            edge: start.time(),
            after: Some(start),
            ..Self::new(filter, order)
        }
    }

    /// The far side of the current window, and whether it is the end of the range.
    fn far(&self) -> (Option<DateTime<Utc>>, bool) {
        let Some(window) = self.window else {
            return (self.end, true);
        };
        let reach = window - MILLISECOND;
        let far = match self.order {
            Order::Asc => self.edge.checked_add_signed(reach),
            Order::Desc => self.edge.checked_sub_signed(reach),
        };
        match (far, self.end) {
            (None, end) => (end, true),
            (Some(far), Some(end)) if self.beyond(far, end) || far == end => (Some(end), true),
            (Some(far), _) => (Some(far), false),
        }
    }

    /// Whether `time` lies past `end` in the walk's direction.
    fn beyond(&self, time: DateTime<Utc>, end: DateTime<Utc>) -> bool {
        match self.order {
            Order::Asc => time > end,
            Order::Desc => time < end,
        }
    }

    /// The next page, of at most `limit` events; None once the walk is over.
    pub(crate) fn page(&self, limit: u32) -> Option<LogQuery> {
        if self.done {
            return None;
        }
        let (far, _) = self.far();
        let (from, to) = match self.order {
            Order::Asc => (Some(self.edge), far),
            Order::Desc => (far, Some(self.edge)),
        };
        Some(LogQuery {
            filter: LogFilter {
                from,
                to,
                ..self.filter.clone()
            },
            order: self.order,
            page: self.after.map_or(Page::Offset(0), Page::After),
            limit,
        })
    }

    /// Moves on past what the last page found.
    pub(crate) fn advance(&mut self, step: Step) {
        match step {
            Step::Full { last } => {
                let covered = (last.time() - self.edge).abs();
                self.window = Some((covered * 2).max(NARROWEST_WINDOW));
                self.edge = last.time();
                self.after = Some(last);
            }
            Step::Short => {
                let (far, at_end) = self.far();
                let next = far.and_then(|far| match self.order {
                    Order::Asc => far.checked_add_signed(MILLISECOND),
                    Order::Desc => far.checked_sub_signed(MILLISECOND),
                });
                match next {
                    Some(next) if !at_end => {
                        self.edge = next;
                        self.after = None;
                        self.window = self
                            .window
                            .map(|window| window * 2)
                            .filter(|window| *window <= WIDEST_WINDOW);
                    }
                    _ => self.done = true,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clickhouse::Client;

    fn at(raw: &str) -> DateTime<Utc> {
        raw.parse().unwrap()
    }

    fn sql(walk: &Walk, limit: u32) -> String {
        walk.page(limit)
            .unwrap()
            .to_query(&Client::default())
            .sql_display()
            .to_string()
    }

    /// The page's time range, as `from..=to` in RFC 3339.
    fn window(walk: &Walk) -> (Option<String>, Option<String>) {
        let filter = walk.page(1).unwrap().filter;
        let show = |time: Option<DateTime<Utc>>| time.map(|time| time.to_rfc3339());
        (show(filter.from), show(filter.to))
    }

    fn range(from: &str, to: &str) -> (Option<String>, Option<String>) {
        (Some(at(from).to_rfc3339()), Some(at(to).to_rfc3339()))
    }

    #[test]
    fn a_page_is_a_keyset_page_held_to_its_window() {
        let filter = LogFilter {
            service: Some("api".into()),
            from: Some(at("2026-05-05T10:00:00Z")),
            to: Some(at("2026-05-05T12:00:00Z")),
            ..LogFilter::default()
        };
        let mut walk = Walk::new(filter, Order::Asc);
        assert_eq!(
            sql(&walk, 500),
            "SELECT ?fields FROM logs WHERE 1 AND tenant = 'default' AND service = 'api' \
             AND timestamp >= 1777975200 AND (timestamp > 1777975200 OR millisecond >= 0) \
             AND timestamp <= 1777975259 AND (timestamp < 1777975259 OR millisecond <= 999) \
             ORDER BY timestamp ASC, millisecond ASC, event_id ASC LIMIT 501 OFFSET 0"
        );
        let last = Position {
            event_id: "0196a0b0-0000-7000-8000-000000000004".parse().unwrap(),
            ..Position::start_of(at("2026-05-05T10:00:10.250Z"))
        };
        walk.advance(Step::Full { last });
        assert_eq!(
            sql(&walk, 500),
            "SELECT ?fields FROM logs WHERE 1 AND tenant = 'default' AND service = 'api' \
             AND timestamp >= 1777975210 AND (timestamp > 1777975210 OR millisecond >= 250) \
             AND timestamp <= 1777975230 AND (timestamp < 1777975230 OR millisecond <= 749) \
             AND timestamp >= 1777975210 AND (timestamp, millisecond, event_id) > \
             (1777975210, 250, toUUID('0196a0b0-0000-7000-8000-000000000004')) \
             ORDER BY timestamp ASC, millisecond ASC, event_id ASC LIMIT 501 OFFSET 0"
        );
    }

    #[test]
    fn short_windows_double_until_the_rest_of_the_range_is_one() {
        let filter = LogFilter {
            from: Some(at("2026-05-01T00:00:00Z")),
            to: Some(at("2026-05-30T00:00:00Z")),
            ..LogFilter::default()
        };
        let mut walk = Walk::new(filter, Order::Asc);
        assert_eq!(
            window(&walk),
            range("2026-05-01T00:00:00Z", "2026-05-01T00:00:59.999Z")
        );
        walk.advance(Step::Short);
        assert_eq!(
            window(&walk),
            range("2026-05-01T00:01:00Z", "2026-05-01T00:02:59.999Z")
        );
        // 4, 8, ... 1024 minutes: the last short window within a day.
        for _ in 0..9 {
            walk.advance(Step::Short);
        }
        assert_eq!(
            window(&walk),
            range("2026-05-01T17:03:00Z", "2026-05-02T10:06:59.999Z")
        );
        walk.advance(Step::Short);
        assert_eq!(
            window(&walk),
            range("2026-05-02T10:07:00Z", "2026-05-30T00:00:00Z")
        );
        walk.advance(Step::Short);
        assert_eq!(walk.page(1), None);
    }

    #[test]
    fn a_full_page_sets_the_window_to_twice_what_it_covered() {
        let mut walk = Walk::new(
            LogFilter {
                to: Some(at("2026-05-05T12:00:00Z")),
                ..LogFilter::default()
            },
            Order::Desc,
        );
        assert_eq!(
            window(&walk),
            range("2026-05-05T11:59:00.001Z", "2026-05-05T12:00:00Z")
        );
        let last = Position::start_of(at("2026-05-05T11:59:30Z"));
        walk.advance(Step::Full { last });
        assert_eq!(
            window(&walk),
            range("2026-05-05T11:58:30.001Z", "2026-05-05T11:59:30Z")
        );
        // A page within one millisecond: the narrowest window.
        walk.advance(Step::Full { last });
        assert_eq!(
            window(&walk),
            range("2026-05-05T11:59:29.001Z", "2026-05-05T11:59:30Z")
        );
        // No `from`: descending ends at the epoch, reached by the rest-of-range window once
        // the window, doubling from 1 s, passes a day.
        for _ in 0..17 {
            walk.advance(Step::Short);
        }
        assert_eq!(window(&walk).0, None);
        walk.advance(Step::Short);
        assert_eq!(walk.page(1), None);
    }

    #[test]
    fn a_walk_from_an_event_starts_after_it_and_may_have_no_end() {
        let start = Position {
            event_id: "0196a0b0-0000-7000-8000-000000000004".parse().unwrap(),
            ..Position::start_of(at("2026-05-05T10:00:00.500Z"))
        };
        let mut walk = Walk::from_position(LogFilter::default(), Order::Asc, start);
        let page = walk.page(10).unwrap();
        assert_eq!(page.page, Page::After(start));
        assert_eq!(
            window(&walk),
            range("2026-05-05T10:00:00.500Z", "2026-05-05T10:01:00.499Z")
        );
        for _ in 0..11 {
            walk.advance(Step::Short);
        }
        assert_eq!(
            window(&walk),
            (Some(at("2026-05-06T20:07:00.500Z").to_rfc3339()), None)
        );
        walk.advance(Step::Short);
        assert_eq!(walk.page(10), None);
    }
}
