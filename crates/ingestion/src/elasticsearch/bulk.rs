//! A bulk body: NDJSON, each operation an action line (`{"index": {...}}`, `create`,
//! `update` or `delete`) followed by its document (none for `delete`), and the answer: one
//! item per operation, in order.

use super::document::{entries, string};
use crate::{Rejection, rejection::Refusal};
use serde::{Serialize, Serializer, ser::SerializeMap};
use std::borrow::Cow;

/// What an action line asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Index,
    Create,
    /// Not supported: Traceflow only appends. Its document line is skipped.
    Update,
    /// Not supported; it has no document line.
    Delete,
}

impl Action {
    const ALL: [Action; 4] = [
        Action::Index,
        Action::Create,
        Action::Update,
        Action::Delete,
    ];

    /// The key of its action line and of its item in the answer.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Action::Index => "index",
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }
}

/// One operation of a bulk body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Operation<'a> {
    pub(crate) action: Action,
    /// `_index` of the action line.
    pub(crate) index: Option<Cow<'a, str>>,
    /// `_id` of the action line, as text.
    pub(crate) id: Option<Cow<'a, str>>,
    /// The document line (`index`, `create`); `None` for `update` and `delete`.
    pub(crate) document: Option<&'a [u8]>,
}

/// The body's operations, in order. Blank lines are skipped and the last newline may be
/// missing. A line that is not an action where one is due, or an action without its
/// document, refuses the whole body (the lines after it could not be paired); so do more
/// than `limit` operations.
pub(crate) fn operations(body: &[u8], limit: usize) -> Result<Vec<Operation<'_>>, Rejection> {
    let invalid = |message: String| Rejection::Invalid(Refusal::malformed(message));
    let mut lines = body
        .split(|&byte| byte == b'\n')
        .enumerate()
        .map(|(number, line)| (number + 1, line.strip_suffix(b"\r").unwrap_or(line)))
        .filter(|(_, line)| !line.trim_ascii().is_empty());
    let mut operations = Vec::new();
    while let Some((number, line)) = lines.next() {
        let parsed = std::str::from_utf8(line)
            .map_err(|_| "it is not valid UTF-8".to_owned())
            .and_then(action_line);
        let (action, index, id) = parsed.map_err(|why| {
            invalid(format!(
                "line {number} is not a bulk action line such as {{\"index\":{{}}}}: {why}"
            ))
        })?;
        let document = match action {
            Action::Delete => None,
            Action::Update => {
                lines.next();
                None
            }
            Action::Index | Action::Create => {
                let (_, document) = lines.next().ok_or_else(|| {
                    invalid(format!(
                        "the {} action on line {number} has no document after it",
                        action.as_str()
                    ))
                })?;
                Some(document)
            }
        };
        operations.push(Operation {
            action,
            index,
            id,
            document,
        });
    }
    if operations.is_empty() {
        return Err(invalid(
            "the body has no operations: send NDJSON, an action line such as {\"index\":{}} \
             and then a document, for each event"
                .to_owned(),
        ));
    }
    if operations.len() > limit {
        return Err(Rejection::TooManyEvents {
            count: operations.len(),
            limit,
        });
    }
    Ok(operations)
}

type ActionLine<'a> = (Action, Option<Cow<'a, str>>, Option<Cow<'a, str>>);

/// `{"<action>": {"_index": ..., "_id": ..., ...}}`; any other metadata (`_type`,
/// `pipeline`, `routing`, `op_type`, ...) is accepted and ignored.
fn action_line(line: &str) -> Result<ActionLine<'_>, String> {
    let entries = entries(line)?;
    let [(name, metadata)] = &entries[..] else {
        return Err(format!("it must name one action, it has {}", entries.len()));
    };
    let action = Action::ALL
        .into_iter()
        .find(|action| action.as_str() == name.as_ref())
        .ok_or_else(|| {
            format!("unknown action {name:?}, expected index, create, update or delete")
        })?;
    let metadata = super::document::entries(metadata.get())
        .map_err(|_| format!("the {name} action's metadata must be an object"))?;
    let (mut index, mut id) = (None, None);
    for (key, value) in metadata {
        match key.as_ref() {
            "_index" => {
                index = Some(string(value).ok_or("_index must be a string")?);
            }
            // Some clients send numeric ids.
            "_id" => id = string(value).or_else(|| Some(Cow::Borrowed(value.get()))),
            _ => {}
        }
    }
    Ok((action, index, id))
}

/// The bulk answer: `took`, `errors`, `items`, in that order and compact, as clients read
/// it (Fluent Bit looks for `"errors":false,"items":[` in the text).
#[derive(Debug, Serialize)]
pub(crate) struct BulkAnswer<'a> {
    /// Milliseconds spent on the request.
    pub(crate) took: u64,
    /// Whether any item was refused.
    pub(crate) errors: bool,
    pub(crate) items: Vec<Item<'a>>,
}

/// One operation's outcome, keyed by its action: `{"index": {...}}`.
#[derive(Debug)]
pub(crate) struct Item<'a> {
    pub(crate) action: Action,
    pub(crate) outcome: Outcome<'a>,
}

impl Serialize for Item<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(self.action.as_str(), &self.outcome)?;
        map.end()
    }
}

/// What Elasticsearch answers for a stored or refused document (and `/<index>/_doc`).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum Outcome<'a> {
    Created {
        #[serde(rename = "_index", skip_serializing_if = "Option::is_none")]
        index: Option<&'a str>,
        /// The id the action gave, else the event's.
        #[serde(rename = "_id")]
        id: Cow<'a, str>,
        #[serde(rename = "_version")]
        version: u8,
        result: &'static str,
        #[serde(rename = "_shards")]
        shards: Shards,
        /// The operation's position in the request.
        #[serde(rename = "_seq_no")]
        seq_no: usize,
        #[serde(rename = "_primary_term")]
        primary_term: u8,
        status: u16,
    },
    Refused {
        #[serde(rename = "_index", skip_serializing_if = "Option::is_none")]
        index: Option<&'a str>,
        #[serde(rename = "_id", skip_serializing_if = "Option::is_none")]
        id: Option<&'a str>,
        status: u16,
        error: Cause<'a>,
    },
}

impl<'a> Outcome<'a> {
    /// A stored document (201 Created).
    pub(crate) fn created(index: Option<&'a str>, id: Cow<'a, str>, seq_no: usize) -> Self {
        Outcome::Created {
            index,
            id,
            version: 1,
            result: "created",
            shards: Shards::ONE,
            seq_no,
            primary_term: 1,
            status: 201,
        }
    }
}

/// `_shards`: one copy, written.
#[derive(Debug, Serialize)]
pub(crate) struct Shards {
    total: u8,
    successful: u8,
    failed: u8,
}

impl Shards {
    pub(crate) const ONE: Shards = Shards {
        total: 1,
        successful: 1,
        failed: 0,
    };
}

/// An error's cause as Elasticsearch writes it: `{"type": ..., "reason": ...}`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Cause<'a> {
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) reason: Cow<'a, str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(body: &str) -> String {
        operations(body.as_bytes(), 100).unwrap_err().to_string()
    }

    #[test]
    fn every_action_pairs_with_its_lines() {
        let body = "{\"index\":{\"_index\":\"app\",\"_id\":\"a1\",\"_type\":\"_doc\",\"pipeline\":\"p\"}}\n\
                    {\"message\":\"one\"}\r\n\
                    \n\
                    {\"create\":{\"_id\":7}}\n\
                    {\"message\":\"two\"}\n\
                    {\"update\":{\"_id\":\"a1\"}}\n\
                    {\"doc\":{\"x\":1}}\n\
                    {\"delete\":{\"_index\":\"a\\u0070p\"}}\n\
                    {\"index\":{}}\n\
                    {\"message\":\"three\"}";
        let operations = operations(body.as_bytes(), 100).unwrap();
        assert_eq!(
            operations,
            [
                Operation {
                    action: Action::Index,
                    index: Some("app".into()),
                    id: Some("a1".into()),
                    document: Some(b"{\"message\":\"one\"}"),
                },
                Operation {
                    action: Action::Create,
                    index: None,
                    id: Some("7".into()),
                    document: Some(b"{\"message\":\"two\"}"),
                },
                Operation {
                    action: Action::Update,
                    index: None,
                    id: Some("a1".into()),
                    document: None,
                },
                Operation {
                    action: Action::Delete,
                    index: Some("app".into()),
                    id: None,
                    document: None,
                },
                Operation {
                    action: Action::Index,
                    index: None,
                    id: None,
                    document: Some(b"{\"message\":\"three\"}"),
                },
            ]
        );
    }

    #[test]
    fn a_body_that_cannot_be_paired_is_refused_whole() {
        assert_eq!(
            refused("{\"index\":{}}\n{\"m\":1}\n{\"message\":\"not an action\"}\n{}\n"),
            "line 3 is not a bulk action line such as {\"index\":{}}: unknown action \"message\", \
             expected index, create, update or delete"
        );
        assert_eq!(
            refused("{\"index\":{},\"create\":{}}\n{}\n"),
            "line 1 is not a bulk action line such as {\"index\":{}}: it must name one action, it has 2"
        );
        assert_eq!(
            refused("?\n"),
            "line 1 is not a bulk action line such as {\"index\":{}}: expected value at column 1"
        );
        assert_eq!(
            refused("{\"index\":[]}\n{}\n"),
            "line 1 is not a bulk action line such as {\"index\":{}}: the index action's metadata must be an object"
        );
        assert_eq!(
            refused("{\"index\":{\"_index\":5}}\n{}\n"),
            "line 1 is not a bulk action line such as {\"index\":{}}: _index must be a string"
        );
        assert_eq!(
            refused("{\"index\":{}}\n{}\n\n{\"create\":{}}\n"),
            "the create action on line 4 has no document after it"
        );
        assert_eq!(
            operations(b"{\"index\":{}}\n{}\n\xff\n", 9)
                .unwrap_err()
                .to_string(),
            "line 3 is not a bulk action line such as {\"index\":{}}: it is not valid UTF-8"
        );
        assert_eq!(
            refused("\n \n"),
            "the body has no operations: send NDJSON, an action line such as {\"index\":{}} and \
             then a document, for each event"
        );
        assert_eq!(
            operations(b"{\"delete\":{}}\n{\"delete\":{}}\n{\"delete\":{}}\n", 2)
                .unwrap_err()
                .to_string(),
            "the request holds 3 events, more than the limit of 2"
        );
    }

    #[test]
    fn the_answer_is_compact_and_in_elasticsearch_order() {
        let answer = BulkAnswer {
            took: 3,
            errors: true,
            items: vec![
                Item {
                    action: Action::Create,
                    outcome: Outcome::created(Some("app"), "id-1".into(), 0),
                },
                Item {
                    action: Action::Index,
                    outcome: Outcome::Refused {
                        index: None,
                        id: Some("x"),
                        status: 400,
                        error: Cause {
                            kind: "document_parsing_exception",
                            reason: "a message field (message) is required".into(),
                        },
                    },
                },
            ],
        };
        assert_eq!(
            serde_json::to_string(&answer).unwrap(),
            r#"{"took":3,"errors":true,"items":[{"create":{"_index":"app","_id":"id-1","_version":1,"result":"created","_shards":{"total":1,"successful":1,"failed":0},"_seq_no":0,"_primary_term":1,"status":201}},{"index":{"_id":"x","status":400,"error":{"type":"document_parsing_exception","reason":"a message field (message) is required"}}}]}"#
        );
    }
}
