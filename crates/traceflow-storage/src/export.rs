//! `GET /logs/export`: every event a filter matches, in order, however many. The events are
//! read a page at a time along a [`Walk`] (keyset pages held to adaptive time windows) and
//! handed over one by one as ClickHouse sends them, so that memory holds a row in flight,
//! not a page, and no SELECT runs longer than a page takes.

use crate::{
    Storage, StorageError,
    filter::LogFilter,
    position::{Order, Position},
    search::StoredLogRow,
    walk::{Step, Walk},
};
use clickhouse::{Client, query::RowCursor};
use traceflow_event::LogEvent;

/// Events per SELECT: large enough that the per-query cost is small against the rows, small
/// enough that a SELECT is over in a moment.
pub const EXPORT_PAGE: u32 = 10_000;

/// An export under way: call [`Export::next`] until it answers None. After an error it is
/// over (what follows the failed page is not read).
pub struct Export {
    client: Client,
    walk: Walk,
    page: Option<PageRead>,
}

/// The SELECT being read.
struct PageRead {
    rows: RowCursor<StoredLogRow>,
    /// Events handed over from it.
    read: u32,
    last: Option<Position>,
}

impl Storage {
    /// Every event `filter` matches, in `order`, read as it is asked for.
    pub fn export(&self, filter: LogFilter, order: Order) -> Export {
        Export {
            client: self.client(),
            walk: Walk::new(filter, order),
            page: None,
        }
    }
}

impl Export {
    /// The next event, or None once every matching event was handed over.
    pub async fn next(&mut self) -> Result<Option<LogEvent>, StorageError> {
        loop {
            let page = match &mut self.page {
                Some(page) => page,
                None => {
                    let Some(query) = self.walk.page(EXPORT_PAGE) else {
                        return Ok(None);
                    };
                    self.page.insert(PageRead {
                        rows: query.to_query(&self.client).fetch()?,
                        read: 0,
                        last: None,
                    })
                }
            };
            let row = page.rows.next().await?;
            match row {
                Some(row) if page.read < EXPORT_PAGE => {
                    let event = LogEvent::try_from(row).map_err(StorageError::Unexpected)?;
                    page.read += 1;
                    page.last = Some(Position::of(&event));
                    return Ok(Some(event));
                }
                // The row beyond the page (the SELECT asks for one more) says the window
                // holds more: the next page starts after the last one handed over.
                beyond => {
                    let step = match (beyond, page.last) {
                        (Some(_), Some(last)) => Step::Full { last },
                        _ => Step::Short,
                    };
                    self.page = None;
                    self.walk.advance(step);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::Exclusions;

    #[test]
    fn the_first_select_is_a_page_of_the_first_window_newest_first() {
        let filter = LogFilter {
            level: Some(traceflow_event::Level::Error),
            from: Some("2026-05-05T00:00:00Z".parse().unwrap()),
            to: Some("2026-05-05T23:59:59.999Z".parse().unwrap()),
            exclude: Exclusions {
                service: Some("health".into()),
                ..Exclusions::default()
            },
            ..LogFilter::default()
        };
        assert_eq!(
            Walk::new(filter, Order::Desc)
                .page(EXPORT_PAGE)
                .unwrap()
                .to_query(&Client::default())
                .sql_display()
                .to_string(),
            "SELECT ?fields FROM logs WHERE 1 AND tenant = 'default' AND level = 'ERROR' \
             AND timestamp >= 1778025540 AND (timestamp > 1778025540 OR millisecond >= 0) \
             AND timestamp <= 1778025599 AND (timestamp < 1778025599 OR millisecond <= 999) \
             AND service != 'health' \
             ORDER BY timestamp DESC, millisecond DESC, event_id DESC LIMIT 10001 OFFSET 0"
        );
    }
}
