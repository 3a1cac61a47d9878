//! `GET /logs/context`: one event, found by its id, and the events of the same service just
//! before and just after it in the table's order.

use crate::{
    Storage, StorageError,
    filter::LogFilter,
    position::{Order, Position},
    schema::LOGS,
    search::StoredLogRow,
    sql::Sql,
    walk::{Step, Walk},
};
use chrono::{DateTime, Utc};
use clickhouse::{Client, query::Query};
use traceflow_event::LogEvent;
use uuid::Uuid;

/// Most events one side of a context may have.
pub const MAX_CONTEXT: u32 = 100;

/// An event to look up and how many neighbours to list on each side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextQuery {
    /// Whose event: another tenant's is not found.
    pub tenant: String,
    pub id: Uuid,
    /// The event's time, to the second at least: lets the lookup read the granules of that
    /// second instead of the whole `event_id` column.
    pub at: Option<DateTime<Utc>>,
    pub before: u32,
    pub after: u32,
}

/// An event and its neighbours, both lists oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    pub event: LogEvent,
    pub before: Vec<LogEvent>,
    pub after: Vec<LogEvent>,
}

/// The SELECT that finds `tenant`'s event `id` (within the second of `at`, if given).
pub fn lookup_query(tenant: &str, id: Uuid, at: Option<DateTime<Utc>>, client: &Client) -> Query {
    let mut sql = Sql::new(&format!("SELECT ?fields FROM {LOGS} WHERE"));
    sql.push(
        " tenant = ? AND event_id = toUUID(?)",
        [tenant.into(), id.to_string().into()],
    );
    if let Some(at) = at {
        // Whole seconds, as the column holds them; a time given to the millisecond (as the
        // API writes it) or only to the second finds the event alike.
        let seconds = Position::start_of(at).seconds;
        sql.push(" AND timestamp = ?", [seconds.into()]);
    }
    // A batch stored twice (at-least-once on ClickHouse before 22.2) holds the event twice.
    sql.push(" LIMIT 1", []);
    sql.into_query(client)
}

impl Storage {
    /// `tenant`'s event `id`, or None if it is not stored.
    pub async fn event(
        &self,
        tenant: &str,
        id: Uuid,
        at: Option<DateTime<Utc>>,
    ) -> Result<Option<LogEvent>, StorageError> {
        let row: Option<StoredLogRow> = lookup_query(tenant, id, at, &self.client())
            .fetch_optional()
            .await?;
        row.map(|row| LogEvent::try_from(row).map_err(StorageError::Unexpected))
            .transpose()
    }

    /// The event `query` names with its neighbours, or None if it is not stored.
    pub async fn context(&self, query: &ContextQuery) -> Result<Option<Context>, StorageError> {
        let Some(event) = self.event(&query.tenant, query.id, query.at).await? else {
            return Ok(None);
        };
        let same_service = LogFilter {
            tenant: query.tenant.clone(),
            service: Some(event.service.to_string()),
            ..LogFilter::default()
        };
        let position = Position::of(&event);
        let mut before = self
            .first_of(
                Walk::from_position(same_service.clone(), Order::Desc, position),
                query.before,
            )
            .await?;
        before.reverse();
        let after = self
            .first_of(
                Walk::from_position(same_service, Order::Asc, position),
                query.after,
            )
            .await?;
        Ok(Some(Context {
            event,
            before,
            after,
        }))
    }

    /// The first `count` events of `walk`, in its order.
    async fn first_of(&self, mut walk: Walk, count: u32) -> Result<Vec<LogEvent>, StorageError> {
        let mut events = Vec::new();
        while let Some(query) = walk.page(count.saturating_sub(events.len() as u32)) {
            if query.limit == 0 {
                break;
            }
            let page = self.search(&query).await?;
            events.extend(page.logs);
            walk.advance(match page.next {
                Some(last) => Step::Full { last },
                None => Step::Short,
            });
        }
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lookup_reads_the_events_second_when_it_is_given() {
        let id: Uuid = "0196a0b0-0000-7000-8000-000000000004".parse().unwrap();
        let sql = |at| {
            lookup_query("acme", id, at, &Client::default())
                .sql_display()
                .to_string()
        };
        assert_eq!(
            sql(Some("2026-05-05T10:00:00.250Z".parse().unwrap())),
            "SELECT ?fields FROM logs WHERE tenant = 'acme' AND event_id = toUUID('0196a0b0-0000-7000-8000-000000000004') AND timestamp = 1777975200 LIMIT 1"
        );
        assert_eq!(
            sql(None),
            "SELECT ?fields FROM logs WHERE tenant = 'acme' AND event_id = toUUID('0196a0b0-0000-7000-8000-000000000004') LIMIT 1"
        );
    }
}
