//! Cursor pagination: `next_cursor` while more events match, and a walk with `cursor=` that
//! neither skips nor repeats an event, even when thousands share a timestamp and others are
//! stored meanwhile.

use crate::stored::{at, encode, event, get, storage};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;
use std::{
    collections::{BTreeMap, HashSet},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};
use traceflow_event::{Level, LogEvent};
use traceflow_testkit::TestStack;

/// The ids and the next cursor of one page.
fn page(body: &Value) -> (Vec<String>, Option<String>) {
    let ids = body["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|log| log["id"].as_str().unwrap().to_owned())
        .collect();
    (ids, body["next_cursor"].as_str().map(str::to_owned))
}

/// Follows `next_cursor` from the first page of `query` to the last; every id, in order.
async fn walk(stack: &TestStack, query: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => format!("/logs?{query}"),
            Some(cursor) => format!("/logs?{query}&cursor={}", encode(cursor)),
        };
        let (status, body) = get(stack, &path).await;
        assert_eq!(status, 200, "{path}: {body}");
        let (ids, next) = page(&body);
        seen.extend(ids);
        match next {
            Some(next) => cursor = Some(next),
            None => return seen,
        }
    }
}

/// `count` events of `service` spread over the given instants.
fn sharing(service: &str, instants: &[DateTime<Utc>], count: usize) -> Vec<LogEvent> {
    (0..count)
        .map(|i| {
            event(
                service,
                Level::Info,
                instants[i % instants.len()],
                &format!("{service} {i}"),
            )
        })
        .collect()
}

fn repeated(ids: &[String]) -> Vec<&String> {
    let mut counts: BTreeMap<&String, usize> = BTreeMap::new();
    for id in ids {
        *counts.entry(id).or_default() += 1;
    }
    counts
        .into_iter()
        .filter(|(_, count)| *count > 1)
        .map(|(id, _)| id)
        .collect()
}

#[tokio::test]
async fn a_cursor_walk_sees_each_of_5000_events_once_while_inserts_continue() {
    let stack = TestStack::spawn().await;
    let storage = storage(&stack).await;
    // Three instants, to the millisecond: 1,666 or so events each.
    let instants = [
        at("2026-05-05T10:00:00.000Z"),
        at("2026-05-05T10:00:00.001Z"),
        at("2026-05-05T10:00:07.500Z"),
    ];
    let original = sharing("walked", &instants, 5000);
    storage.insert(&original).await.unwrap();
    let original_ids: HashSet<String> = original.iter().map(|event| event.id.to_string()).collect();

    for order in ["desc", "asc"] {
        // Inserts go on during the walk: into the same instants (where they sort anywhere
        // among the walked events, by their ids), before and after them.
        let walking = Arc::new(AtomicBool::new(true));
        let writer = {
            let storage = storage.clone();
            let walking = walking.clone();
            let mut instants = instants.to_vec();
            instants.extend([at("2026-05-05T09:59:59.999Z"), at("2026-05-05T10:00:08Z")]);
            tokio::spawn(async move {
                let mut rounds = 0;
                while walking.load(Ordering::Relaxed) {
                    storage
                        .insert(&sharing("walked", &instants, 50))
                        .await
                        .unwrap();
                    rounds += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                rounds
            })
        };
        let seen = walk(&stack, &format!("service=walked&limit=97&order={order}")).await;
        walking.store(false, Ordering::Relaxed);
        let rounds = writer.await.unwrap();
        assert!(
            rounds > 5,
            "{order}: inserts went on during the walk ({rounds} rounds)"
        );

        assert!(
            repeated(&seen).is_empty(),
            "{order}: repeated {:?}",
            repeated(&seen)
        );
        let seen_set: HashSet<&String> = seen.iter().collect();
        let missed: Vec<&String> = original_ids
            .iter()
            .filter(|id| !seen_set.contains(id))
            .collect();
        assert!(
            missed.is_empty(),
            "{order}: {} of the 5000 never seen",
            missed.len()
        );
    }
}

#[tokio::test]
async fn next_cursor_is_given_while_more_match_and_keeps_the_order_and_filters() {
    let stack = TestStack::spawn().await;
    let start = at("2026-05-05T10:00:00Z");
    let events: Vec<LogEvent> = (0..7)
        .map(|i| {
            event(
                if i % 2 == 0 { "even" } else { "odd" },
                Level::Info,
                start + TimeDelta::seconds(i),
                &format!("{i}"),
            )
        })
        .collect();
    storage(&stack).await.insert(&events).await.unwrap();

    let messages = |body: &Value| -> Vec<String> {
        body["logs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|log| log["message"].as_str().unwrap().to_owned())
            .collect()
    };
    // Desc: 6 4 | 2 0, the last page without a cursor.
    let (_, first) = get(&stack, "/logs?service=even&limit=2").await;
    assert_eq!(messages(&first), ["6", "4"]);
    let cursor = first["next_cursor"]
        .as_str()
        .expect("more match")
        .to_owned();
    let (_, second) = get(
        &stack,
        &format!("/logs?service=even&limit=2&cursor={cursor}"),
    )
    .await;
    assert_eq!(messages(&second), ["2", "0"]);
    assert!(second.get("next_cursor").is_none(), "{second}");
    // Exactly a page's worth left: no cursor either.
    let (_, all) = get(&stack, "/logs?service=even&limit=4").await;
    assert!(all.get("next_cursor").is_none(), "{all}");

    // Asc, and the cursor remembers it.
    let (_, first) = get(&stack, "/logs?order=asc&limit=3").await;
    assert_eq!(messages(&first), ["0", "1", "2"]);
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let (_, second) = get(&stack, &format!("/logs?limit=3&cursor={cursor}")).await;
    assert_eq!(messages(&second), ["3", "4", "5"]);
    // The cursor is a position: a different filter continues from it.
    let (_, odd) = get(&stack, &format!("/logs?service=odd&cursor={cursor}")).await;
    assert_eq!(messages(&odd), ["3", "5"]);

    // An offset page also says where the next page starts.
    let (_, offset) = get(&stack, "/logs?limit=2&offset=1").await;
    assert_eq!(messages(&offset), ["5", "4"]);
    let cursor = offset["next_cursor"].as_str().unwrap().to_owned();
    let (_, after) = get(&stack, &format!("/logs?limit=2&cursor={cursor}")).await;
    assert_eq!(messages(&after), ["3", "2"]);

    for (path, error) in [
        (
            format!("/logs?cursor={cursor}&order=asc"),
            "order must be desc with this cursor, or left out",
        ),
        (
            format!("/logs?cursor={cursor}&offset=2"),
            "cursor and offset cannot be combined: a cursor already says where the page starts",
        ),
        (
            "/logs?cursor=not-a-cursor".to_owned(),
            "cursor is not one this service gave out",
        ),
        (
            format!("/logs?cursor={}", &cursor[..cursor.len() - 2]),
            "cursor is not one this service gave out",
        ),
    ] {
        let (status, body) = get(&stack, &path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["error"], error, "{path}");
    }
}
