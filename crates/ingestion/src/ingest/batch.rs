//! A request body: one event (a JSON object), a batch (a JSON array of them), or NDJSON
//! (one event per line). A batch is all-or-nothing.

use super::decode::{IncomingEvent, parse_event, parse_incoming};
use crate::{Rejection, rejection::Refusal};
use serde_json::value::RawValue;
use traceflow_event::{Defaults, Event, Limits};

/// How the body is encoded, from its Content-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyFormat {
    Json,
    Ndjson,
}

/// What a request carried, borrowing from its body.
#[derive(Debug)]
pub(crate) enum Events<'a> {
    /// A JSON object: answered with the event's trace id.
    One(Event<'a>),
    /// A JSON array or NDJSON: answered with a count.
    Batch(Vec<Event<'a>>),
}

impl<'a> Events<'a> {
    pub(crate) fn as_slice(&self) -> &[Event<'a>] {
        match self {
            Events::One(event) => std::slice::from_ref(event),
            Events::Batch(events) => events,
        }
    }
}

/// Parses a body of `format` and checks its events; nothing of a refused body is queued.
/// `max_events` bounds a batch.
pub(crate) fn parse_body<'a>(
    format: BodyFormat,
    body: &'a [u8],
    defaults: Defaults<'a>,
    limits: &Limits,
    max_events: usize,
) -> Result<Events<'a>, Rejection> {
    let counted = |count: usize| {
        if count == 0 {
            return Err(Rejection::Invalid(Refusal::malformed(
                "the request holds no events",
            )));
        }
        if count > max_events {
            return Err(Rejection::TooManyEvents {
                count,
                limit: max_events,
            });
        }
        Ok(())
    };
    let parse_each = |items: Vec<&'a [u8]>| {
        counted(items.len())?;
        all_or_nothing(items.into_iter().map(|item| {
            if item.trim_ascii_start().starts_with(b"{") {
                parse_event(item, defaults, limits)
            } else {
                Err(Refusal::malformed("an event must be a JSON object"))
            }
        }))
    };
    match format {
        BodyFormat::Ndjson => parse_each(
            body.split(|byte| *byte == b'\n')
                .filter(|line| !line.trim_ascii().is_empty())
                .collect(),
        ),
        BodyFormat::Json if body.trim_ascii_start().starts_with(b"[") => {
            // One pass over the body when every element is a well-formed object (the usual
            // case); otherwise each element is parsed on its own, so that every failure is
            // named with its index.
            if let Ok(incoming) = parse_incoming::<Vec<IncomingEvent<'a>>>(body) {
                counted(incoming.len())?;
                return all_or_nothing(
                    incoming
                        .into_iter()
                        .map(|event| Ok(event.into_draft().check(defaults, limits)?)),
                );
            }
            let items: Vec<&RawValue> = serde_json::from_slice(body).map_err(|err| {
                Rejection::Invalid(Refusal::malformed(format!("malformed JSON: {err}")))
            })?;
            parse_each(items.iter().map(|item| item.get().as_bytes()).collect())
        }
        BodyFormat::Json => parse_event(body, defaults, limits)
            .map(Events::One)
            .map_err(Rejection::Invalid),
    }
}

/// The batch of every event, or the failures of those that are not.
fn all_or_nothing<'a>(
    parsed: impl ExactSizeIterator<Item = Result<Event<'a>, Refusal>>,
) -> Result<Events<'a>, Rejection> {
    let total = parsed.len();
    let mut events = Vec::with_capacity(total);
    let mut failures = Vec::new();
    for (index, event) in parsed.enumerate() {
        match event {
            Ok(event) => events.push(event),
            Err(reason) => failures.push((index, reason)),
        }
    }
    if failures.is_empty() {
        Ok(Events::Batch(events))
    } else {
        Err(Rejection::InvalidEvents { total, failures })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(format: BodyFormat, body: &str) -> Result<Events<'_>, Rejection> {
        let defaults = Defaults {
            tenant: traceflow_event::DEFAULT_TENANT,
            trace_id: "t",
            now: "2026-05-05T12:00:00Z".parse().unwrap(),
            retention_days: None,
        };
        parse_body(format, body.as_bytes(), defaults, &Limits::default(), 3)
    }

    /// The failures of a refused batch, or what else refused it.
    fn failures(format: BodyFormat, body: &str) -> Vec<(usize, String)> {
        match parse(format, body) {
            Err(Rejection::InvalidEvents { failures, .. }) => failures
                .into_iter()
                .map(|(index, refusal)| (index, refusal.message))
                .collect(),
            other => panic!("expected a batch of failures, got {other:?}"),
        }
    }

    fn refusal(format: BodyFormat, body: &str) -> String {
        parse(format, body).unwrap_err().to_string()
    }

    const EVENT: &str = r#"{"service":"a","level":"INFO","message":"m"}"#;

    #[test]
    fn an_object_is_one_event_and_an_array_a_batch() {
        assert!(matches!(parse(BodyFormat::Json, EVENT), Ok(Events::One(_))));
        let body = format!("[{EVENT}, {EVENT}]");
        let batch = parse(BodyFormat::Json, &body).unwrap();
        assert!(matches!(&batch, Events::Batch(events) if events.len() == 2));
        let ids: Vec<_> = batch.as_slice().iter().map(|event| event.id).collect();
        assert_ne!(ids[0], ids[1], "each event gets its own id");
    }

    #[test]
    fn ndjson_is_one_event_per_line_blank_lines_ignored() {
        let body = format!("{EVENT}\r\n\n{EVENT}\n");
        assert!(
            matches!(parse(BodyFormat::Ndjson, &body), Ok(Events::Batch(events)) if events.len() == 2)
        );
    }

    #[test]
    fn a_batch_of_objects_names_each_broken_rule() {
        let body = format!(
            r#"[{{"service":"a","message":"m"}}, {EVENT}, {{"service":" ","level":"INFO","message":"m"}}]"#
        );
        assert_eq!(
            failures(BodyFormat::Json, &body),
            [
                (0, "level is required".to_owned()),
                (2, "service must not be blank".to_owned())
            ]
        );
        assert_eq!(
            refusal(BodyFormat::Json, &body),
            "2 of 3 events are invalid, nothing was accepted; first: event 0: level is required"
        );
    }

    #[test]
    fn an_event_must_be_an_object_not_an_array_of_its_fields() {
        let body = format!(r#"[{EVENT}, ["a", "INFO", "m"]]"#);
        assert_eq!(
            failures(BodyFormat::Json, &body),
            [(1, "an event must be a JSON object".to_owned())]
        );
        assert_eq!(
            failures(BodyFormat::Ndjson, r#"["a", "INFO", "m"]"#),
            [(0, "an event must be a JSON object".to_owned())]
        );
    }

    #[test]
    fn one_bad_event_refuses_the_batch_naming_each_failure() {
        let body = format!(r#"[{EVENT}, {{"service":"a","message":"m"}}, 7]"#);
        assert_eq!(
            failures(BodyFormat::Json, &body),
            [
                (1, "level is required".to_owned()),
                (2, "an event must be a JSON object".to_owned())
            ]
        );
        assert_eq!(
            failures(BodyFormat::Ndjson, &format!("{EVENT}\nnot json\n")),
            [(1, "an event must be a JSON object".to_owned())]
        );
    }

    #[test]
    fn empty_and_oversized_batches_are_refused() {
        assert_eq!(
            refusal(BodyFormat::Json, "[]"),
            "the request holds no events"
        );
        assert_eq!(
            refusal(BodyFormat::Ndjson, "\n\n"),
            "the request holds no events"
        );
        let four = [EVENT; 4].join("\n");
        assert!(matches!(
            parse(BodyFormat::Ndjson, &four),
            Err(Rejection::TooManyEvents { count: 4, limit: 3 })
        ));
        assert!(refusal(BodyFormat::Json, "[1,").starts_with("malformed JSON: "));
    }
}
