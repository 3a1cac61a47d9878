//! `GET /logs/context`: an event and the events of its service just before and after it.

use crate::stored::{at, event, get, stack_with};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};
use traceflow_event::{Level, LogEvent};
use traceflow_storage::Position;
use uuid::Uuid;

fn messages(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|event| event["message"].as_str().unwrap())
        .collect()
}

/// `api` events `api 0` to `api 29` a second apart, the first and last three sharing their
/// millisecond (so ties are broken by event id), `auth` events between them, and two `api`
/// events far away: three days before and two days after.
fn seeded_events(start: DateTime<Utc>) -> Vec<LogEvent> {
    let mut events: Vec<LogEvent> = (0..30)
        .map(|n| {
            let second = match n {
                0..3 => 0,
                27..30 => 27,
                n => n,
            };
            event(
                "api",
                Level::Info,
                start + TimeDelta::seconds(second),
                &format!("api {n}"),
            )
        })
        .collect();
    // Within a millisecond the table orders by event id: number them in that order.
    for range in [0..3, 27..30] {
        let mut ids: Vec<Uuid> = events[range.clone()].iter().map(|e| e.id).collect();
        ids.sort_by_key(|id| Position {
            seconds: 0,
            millisecond: 0,
            event_id: *id,
        });
        for (event, id) in events[range].iter_mut().zip(ids) {
            event.id = id;
        }
    }
    events.extend((0..30).map(|n| {
        event(
            "auth",
            Level::Warn,
            start + TimeDelta::milliseconds(n * 1000 + 500),
            &format!("auth {n}"),
        )
    }));
    events.push(event(
        "api",
        Level::Error,
        start - TimeDelta::days(3),
        "api long before",
    ));
    events.push(event(
        "api",
        Level::Error,
        start + TimeDelta::days(2),
        "api long after",
    ));
    events
}

fn id_of<'a>(events: &'a [LogEvent], message: &str) -> &'a LogEvent {
    events
        .iter()
        .find(|event| event.message == message)
        .unwrap()
}

#[tokio::test]
async fn the_neighbours_are_the_same_services_events_either_side_oldest_first() {
    let start = at("2026-05-05T10:00:00Z");
    let events = seeded_events(start);
    let stack = stack_with(&events).await;
    let middle = id_of(&events, "api 15");

    // Found by id and time, as the explorer asks: the event as GET /logs answers it.
    let (status, body) = get(
        &stack,
        &format!(
            "/logs/context?id={}&timestamp=2026-05-05T10:00:15.000Z&before=3&after=2",
            middle.id
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["event"], serde_json::to_value(middle).unwrap());
    assert_eq!(messages(&body["before"]), ["api 12", "api 13", "api 14"]);
    assert_eq!(messages(&body["after"]), ["api 16", "api 17"]);
    assert_eq!(body.as_object().unwrap().len(), 3, "{body}");

    // Without the time: the same answer, found by id alone. Ten a side by default.
    let (status, by_id) = get(&stack, &format!("/logs/context?id={}", middle.id)).await;
    assert_eq!(status, 200, "{by_id}");
    assert_eq!(messages(&by_id["before"]).len(), 10);
    assert_eq!(
        messages(&by_id["before"])[7..],
        ["api 12", "api 13", "api 14"]
    );
    assert_eq!(
        messages(&by_id["after"]),
        (16..26).map(|n| format!("api {n}")).collect::<Vec<_>>()
    );

    // Events sharing a millisecond are ordered by id, the event itself left out.
    let tied = id_of(&events, "api 1");
    let (_, body) = get(
        &stack,
        &format!("/logs/context?id={}&before=5&after=3", tied.id),
    )
    .await;
    assert_eq!(messages(&body["before"]), ["api long before", "api 0"]);
    assert_eq!(messages(&body["after"]), ["api 2", "api 3", "api 4"]);

    // Far neighbours are found however far (days here), and the ends are where they are.
    let last = id_of(&events, "api 29");
    let (_, body) = get(
        &stack,
        &format!("/logs/context?id={}&before=2&after=5", last.id),
    )
    .await;
    assert_eq!(messages(&body["before"]), ["api 27", "api 28"]);
    assert_eq!(messages(&body["after"]), ["api long after"]);
    let newest = id_of(&events, "api long after");
    let (_, body) = get(
        &stack,
        &format!("/logs/context?id={}&before=1&after=100", newest.id),
    )
    .await;
    assert_eq!(messages(&body["before"]), ["api 29"]);
    assert_eq!(body["after"], json!([]));

    // Zero on a side is none; above 100 is 100.
    let (_, body) = get(
        &stack,
        &format!("/logs/context?id={}&before=0&after=1000", middle.id),
    )
    .await;
    assert_eq!(body["before"], json!([]));
    assert_eq!(
        messages(&body["after"]).len(),
        15,
        "api 16 to 29 and the one long after"
    );
}

#[tokio::test]
async fn an_event_not_stored_is_a_404_and_a_bad_parameter_a_400() {
    let start = at("2026-05-05T10:00:00Z");
    let events = seeded_events(start);
    let stack = stack_with(&events).await;
    let stored = id_of(&events, "api 15");
    let missing = Uuid::now_v7();
    for (query, status, error) in [
        (
            format!("id={missing}"),
            404,
            format!("no event {missing} is stored"),
        ),
        // A stored event, at another time than its own.
        (
            format!("id={}&timestamp=2026-05-05T10:00:16.250Z", stored.id),
            404,
            format!(
                "no event {} is stored in the second of 2026-05-05T10:00:16Z",
                stored.id
            ),
        ),
        (
            "id=15".to_owned(),
            400,
            "id must be an event id (a UUID), got \"15\"".to_owned(),
        ),
        (
            "before=3".to_owned(),
            400,
            "id is required: the id of an event, as GET /logs answers it".to_owned(),
        ),
        (
            format!("id={missing}&after=-2"),
            400,
            "after must not be negative, got -2".to_owned(),
        ),
    ] {
        let (got, body) = get(&stack, &format!("/logs/context?{query}")).await;
        assert_eq!((got, body), (status, json!({ "error": error })), "{query}");
    }
    // The second the event is in, given without a fraction, finds it too.
    let (status, body) = get(
        &stack,
        &format!(
            "/logs/context?id={}&timestamp=2026-05-05T12:00:15%2B02:00&before=0&after=0",
            stored.id
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["event"]["message"], "api 15");
}
