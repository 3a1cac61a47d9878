//! `GET /logs` searches and the SELECT they become: a filter, an order, and a page given by
//! an offset or by the position of the last event seen (keyset paging).

use crate::{
    filter::{LogFilter, TraceLookup},
    position::{Order, Position},
    sql::Sql,
};
use clickhouse::{Client, query::Query};

/// Most rows one page may return.
pub const MAX_LIMIT: u32 = 1000;

/// Where a page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// Skip this many matching events.
    Offset(u64),
    /// Only events strictly after this position, in the search's order. Unlike an offset,
    /// this neither skips nor repeats events when others are stored meanwhile.
    After(Position),
}

/// A validated search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogQuery {
    pub filter: LogFilter,
    pub order: Order,
    pub page: Page,
    pub limit: u32,
}

impl Default for LogQuery {
    fn default() -> Self {
        Self {
            filter: LogFilter::default(),
            order: Order::Desc,
            page: Page::Offset(0),
            limit: 100,
        }
    }
}

impl LogQuery {
    /// The SELECT for this search. It asks for one row more than the limit: that row's
    /// presence says whether another page exists.
    pub fn to_query(&self, client: &Client) -> Query {
        let mut sql = Sql::new("SELECT ?fields FROM logs WHERE 1");
        sql.append(self.filter.conditions(TraceLookup::Indexed));
        let (direction, beyond, not_beyond) = match self.order {
            Order::Desc => ("DESC", "<", "<="),
            Order::Asc => ("ASC", ">", ">="),
        };
        let offset = match self.page {
            Page::Offset(offset) => offset,
            Page::After(position) => {
                // The lone `timestamp` bound lets ClickHouse prune by the primary key.
                sql.push(
                    &format!(
                        " AND timestamp {not_beyond} ? AND (timestamp, millisecond, event_id) {beyond} (?, ?, toUUID(?))"
                    ),
                    [
                        position.seconds.into(),
                        position.seconds.into(),
                        position.millisecond.into(),
                        position.event_id.to_string().into(),
                    ],
                );
                0
            }
        };
        sql.push(
            &format!(
                " ORDER BY timestamp {direction}, millisecond {direction}, event_id {direction} LIMIT ? OFFSET ?"
            ),
            [(u64::from(self.limit) + 1).into(), offset.into()],
        );
        sql.into_query(client)
    }
}

/// The newest `timestamp` (whole seconds) of any event in `from..=to`, or 0 if none: where
/// the stored data currently ends, which a live tail follows.
pub fn newest_timestamp_query(from: u32, to: u32, client: &Client) -> Query {
    client
        .query("SELECT toUInt32(max(timestamp)) FROM logs WHERE timestamp >= ? AND timestamp <= ?")
        .bind(from)
        .bind(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql(query: &LogQuery) -> String {
        query.to_query(&Client::default()).sql_display().to_string()
    }

    #[test]
    fn no_filter_is_newest_first_with_one_row_more_than_the_page() {
        assert_eq!(
            sql(&LogQuery::default()),
            "SELECT ?fields FROM logs WHERE 1 ORDER BY timestamp DESC, millisecond DESC, event_id DESC LIMIT 101 OFFSET 0"
        );
    }

    #[test]
    fn a_position_pages_by_the_sort_key_in_either_order() {
        let position = Position {
            seconds: 1_777_975_200,
            millisecond: 250,
            event_id: "0196a0b0-0000-7000-8000-000000000004".parse().unwrap(),
        };
        let desc = LogQuery {
            page: Page::After(position),
            limit: 10,
            ..LogQuery::default()
        };
        assert_eq!(
            sql(&desc),
            "SELECT ?fields FROM logs WHERE 1 AND timestamp <= 1777975200 AND (timestamp, millisecond, event_id) < (1777975200, 250, toUUID('0196a0b0-0000-7000-8000-000000000004')) ORDER BY timestamp DESC, millisecond DESC, event_id DESC LIMIT 11 OFFSET 0"
        );
        let asc = LogQuery {
            order: Order::Asc,
            ..desc
        };
        assert!(sql(&asc).contains(
            "AND timestamp >= 1777975200 AND (timestamp, millisecond, event_id) > (1777975200, 250, toUUID('0196a0b0-0000-7000-8000-000000000004')) ORDER BY timestamp ASC, millisecond ASC, event_id ASC"
        ));
    }
}
