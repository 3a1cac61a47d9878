//! A Loki push body (its `Content-Encoding` already undone) to [`Stream`]s, whichever of
//! its three forms it is in, as Loki reads them:
//!
//! - `Content-Type: application/json`, the form of today's API:
//!   `{"streams":[{"stream":{"job":"x"},"values":[["<ns>","line"],["<ns>","line",{...}]]}]}`,
//!   each value's time in nanoseconds since the epoch (a string), an optional object of
//!   structured metadata third;
//! - also JSON, the legacy form (python-logging-loki's default):
//!   `{"streams":[{"labels":"{job=\"x\"}","entries":[{"ts":"<RFC 3339>","line":"..."}]}]}`;
//!   told apart per stream by its keys, since it comes to the same path;
//! - any other content type: a `logproto.PushRequest` in protobuf, compressed as a snappy
//!   block (Promtail, Grafana Alloy), labels as one string.
//!
//! Unknown keys are ignored, as Loki ignores them.

use super::labels;
use crate::{
    Rejection,
    body::{snappy_block, without_bom},
    ingest::decode::{IncomingMetadata, parse_incoming},
    rejection::Refusal,
};
use axum::http::{HeaderMap, header::CONTENT_ENCODING};
use chrono::DateTime;
use prost::Message;
use serde::{
    Deserialize, Deserializer,
    de::{self, SeqAccess},
};
use std::{borrow::Cow, fmt};
use traceflow_event::{Metadata, Text, Time};
use traceflow_proto::logproto::PushRequest;

/// The two encodings, from `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Json,
    Protobuf,
}

impl Encoding {
    /// JSON for `application/json` (parameters such as charset ignored), protobuf for any
    /// other content type or none, as Loki decides.
    pub fn of(headers: &HeaderMap) -> Self {
        match traceflow_http::media_type(headers).as_deref() {
            Some("application/json") => Encoding::Json,
            _ => Encoding::Protobuf,
        }
    }
}

/// One stream of a push, whatever form it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream<'a> {
    pub labels: Metadata<'a>,
    /// What the request calls the stream's entries: `values` in the JSON form, `entries` in
    /// the legacy form and protobuf.
    pub entries_field: &'static str,
    pub entries: Vec<Entry<'a>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<'a> {
    /// `None` only when a protobuf entry has no timestamp at all.
    pub time: Option<Time<'a>>,
    pub line: Cow<'a, str>,
    pub structured_metadata: Metadata<'a>,
}

/// A JSON body's streams; the error names the stream and entry at fault.
pub fn json(body: &[u8]) -> Result<Vec<Stream<'_>>, String> {
    let body = without_bom(body);
    // A derived struct would also read an array, by position.
    if !body.trim_ascii_start().starts_with(b"{") {
        return Err("the body must be a JSON object, {\"streams\": [...]}".to_owned());
    }
    let push: PushJson = parse_incoming(body)?;
    push.streams
        .into_iter()
        .enumerate()
        .map(|(index, stream)| stream.into_stream(index))
        .collect()
}

/// A protobuf body: a snappy block unless `Content-Encoding: snappy` already undid it (some
/// clients say so, though the block is the same). A block larger than `limit` unpacked is
/// refused before it is unpacked.
pub fn protobuf(headers: &HeaderMap, body: &[u8], limit: usize) -> Result<PushRequest, Rejection> {
    let snappy_done = headers
        .get(CONTENT_ENCODING)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim().eq_ignore_ascii_case("snappy"));
    let inflated;
    let proto = if snappy_done {
        body
    } else {
        inflated = snappy_block(body, limit).map_err(|rejection| match rejection {
            // A client that meant JSON but sent no Content-Type (curl -d) lands here.
            Rejection::Invalid(refusal) => Rejection::Invalid(Refusal::malformed(format!(
                "{refusal} (a push whose Content-Type is not application/json is read as \
                 protobuf in a snappy block)"
            ))),
            other => other,
        })?;
        &inflated
    };
    PushRequest::decode(proto).map_err(|error| {
        Rejection::Invalid(Refusal::malformed(format!(
            "the body is not a protobuf logproto.PushRequest: {error}"
        )))
    })
}

/// The streams of a decoded protobuf push, borrowing its text.
pub fn protobuf_streams(request: &PushRequest) -> Result<Vec<Stream<'_>>, String> {
    request
        .streams
        .iter()
        .enumerate()
        .map(|(s, stream)| {
            let labels = labels::parse(&stream.labels)
                .map_err(|error| format!("streams[{s}].labels: {error}"))?;
            let entries = stream
                .entries
                .iter()
                .enumerate()
                .map(|(e, entry)| {
                    let time = match &entry.timestamp {
                        None => None,
                        Some(time) => Some(Time::At(
                            u32::try_from(time.nanos)
                                .ok()
                                .and_then(|nanos| DateTime::from_timestamp(time.seconds, nanos))
                                .ok_or_else(|| {
                                    format!(
                                        "streams[{s}].entries[{e}].timestamp: {} seconds and {} \
                                         nanoseconds is not a time",
                                        time.seconds, time.nanos
                                    )
                                })?,
                        )),
                    };
                    let structured_metadata = entry
                        .structured_metadata
                        .iter()
                        .map(|pair| {
                            (
                                Cow::from(pair.name.as_str()),
                                Cow::from(pair.value.as_str()),
                            )
                        })
                        .collect();
                    Ok(Entry {
                        time,
                        line: Cow::Borrowed(&entry.line),
                        structured_metadata,
                    })
                })
                .collect::<Result<_, String>>()?;
            Ok(Stream {
                labels,
                entries_field: "entries",
                entries,
            })
        })
        .collect()
}

// The text types borrow for exactly the body's lifetime, so the structs do too.
#[derive(Deserialize)]
#[serde(bound(deserialize = "'a: 'de"))]
#[serde(expecting = "a push request, {\"streams\": [...]}")]
struct PushJson<'a> {
    #[serde(borrow, default)]
    streams: Vec<StreamJson<'a>>,
}

#[derive(Deserialize)]
#[serde(bound(deserialize = "'a: 'de"))]
#[serde(expecting = "a stream, {\"stream\": {labels}, \"values\": [...]}")]
struct StreamJson<'a> {
    /// The labels as an object (the JSON form).
    #[serde(borrow)]
    stream: Option<IncomingMetadata<'a>>,
    #[serde(borrow)]
    values: Option<Vec<ValueJson<'a>>>,
    /// The labels as one string (the legacy form).
    #[serde(borrow)]
    labels: Option<Text<'a>>,
    #[serde(borrow)]
    entries: Option<Vec<EntryJson<'a>>>,
}

/// An entry of the legacy form.
#[derive(Deserialize)]
#[serde(bound(deserialize = "'a: 'de"))]
struct EntryJson<'a> {
    /// RFC 3339.
    #[serde(borrow)]
    ts: Text<'a>,
    #[serde(borrow)]
    line: Text<'a>,
    #[serde(borrow, default, rename = "structuredMetadata")]
    structured_metadata: Vec<PairJson<'a>>,
}

#[derive(Deserialize)]
#[serde(bound(deserialize = "'a: 'de"))]
struct PairJson<'a> {
    #[serde(borrow)]
    name: Text<'a>,
    #[serde(borrow)]
    value: Text<'a>,
}

impl<'a> StreamJson<'a> {
    fn into_stream(self, index: usize) -> Result<Stream<'a>, String> {
        let labels = match (self.stream, self.labels) {
            (Some(IncomingMetadata(labels)), None) => labels,
            (None, Some(Text(text))) => {
                parse_labels(text).map_err(|error| format!("streams[{index}].labels: {error}"))?
            }
            (None, None) => Metadata::new(),
            (Some(_), Some(_)) => {
                return Err(format!(
                    "streams[{index}]: give its labels as stream (an object) or as labels \
                     (a string), not both"
                ));
            }
        };
        let (entries_field, entries) = match (self.values, self.entries) {
            (Some(values), None) => ("values", values.into_iter().map(Entry::from).collect()),
            (None, Some(entries)) => ("entries", entries.into_iter().map(Entry::from).collect()),
            (None, None) => ("values", Vec::new()),
            (Some(_), Some(_)) => {
                return Err(format!(
                    "streams[{index}]: give its entries as values or as entries, not both"
                ));
            }
        };
        Ok(Stream {
            labels,
            entries_field,
            entries,
        })
    }
}

/// Labels text borrowed from the body, or (when JSON escapes made it a copy) owned.
fn parse_labels(text: Cow<'_, str>) -> Result<Metadata<'_>, labels::BadLabels> {
    match text {
        Cow::Borrowed(text) => labels::parse(text),
        Cow::Owned(text) => Ok(labels::parse(&text)?
            .into_iter()
            .map(|(name, value)| {
                (
                    Cow::Owned(name.into_owned()),
                    Cow::Owned(value.into_owned()),
                )
            })
            .collect()),
    }
}

impl<'a> From<EntryJson<'a>> for Entry<'a> {
    fn from(entry: EntryJson<'a>) -> Self {
        Entry {
            time: Some(Time::Text(entry.ts.0)),
            line: entry.line.0,
            structured_metadata: entry
                .structured_metadata
                .into_iter()
                .map(|pair| (pair.name.0, pair.value.0))
                .collect(),
        }
    }
}

/// A value of the JSON form: `[time, line]` or `[time, line, {structured metadata}]`.
struct ValueJson<'a>(Entry<'a>);

impl<'a> From<ValueJson<'a>> for Entry<'a> {
    fn from(ValueJson(entry): ValueJson<'a>) -> Self {
        entry
    }
}

const VALUE: &str = "[\"<nanoseconds since the epoch>\", \"<line>\"], with an optional object \
                     of structured metadata third";

impl<'de> Deserialize<'de> for ValueJson<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> de::Visitor<'de> for Visitor {
            type Value = ValueJson<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(VALUE)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let missing = || de::Error::custom(format_args!("a value is {VALUE}"));
                let Nanos(nanos) = seq.next_element()?.ok_or_else(missing)?;
                let Text(line) = seq.next_element()?.ok_or_else(missing)?;
                let structured_metadata = seq
                    .next_element::<Option<IncomingMetadata>>()?
                    .flatten()
                    .map(|IncomingMetadata(metadata)| metadata)
                    .unwrap_or_default();
                if seq.next_element::<de::IgnoredAny>()?.is_some() {
                    return Err(de::Error::custom(format_args!(
                        "a value is {VALUE}, and no more"
                    )));
                }
                Ok(ValueJson(Entry {
                    time: Some(Time::At(DateTime::from_timestamp_nanos(nanos))),
                    line,
                    structured_metadata,
                }))
            }
        }
        deserializer.deserialize_seq(Visitor)
    }
}

/// A value's time: nanoseconds since the epoch, as a string of digits (Loki's form) or a
/// number.
struct Nanos(i64);

impl<'de> Deserialize<'de> for Nanos {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Nanos;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "nanoseconds since the epoch, as a string such as \"1777975200250000000\"",
                )
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Nanos, E> {
                text.parse().map(Nanos).map_err(|_| {
                    E::custom(format_args!(
                        "the time must be nanoseconds since the epoch, as a string such as \
                         \"1777975200250000000\", got {text:?}"
                    ))
                })
            }
            fn visit_i64<E: de::Error>(self, nanos: i64) -> Result<Nanos, E> {
                Ok(Nanos(nanos))
            }
            fn visit_u64<E: de::Error>(self, nanos: u64) -> Result<Nanos, E> {
                i64::try_from(nanos)
                    .map(Nanos)
                    .map_err(|_| E::custom(format_args!("the time {nanos} is out of range")))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use traceflow_proto::{
        Timestamp,
        logproto::{EntryAdapter, LabelPairAdapter, StreamAdapter},
    };

    fn metadata(pairs: &[(&str, &str)]) -> Metadata<'static> {
        pairs
            .iter()
            .map(|(k, v)| (Cow::Owned(k.to_string()), Cow::Owned(v.to_string())))
            .collect()
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| (name.parse().unwrap(), HeaderValue::from_static(value)))
            .collect()
    }

    #[test]
    fn content_types() {
        let of = |value| Encoding::of(&headers(&[("content-type", value)]));
        assert_eq!(of("application/json; charset=utf-8"), Encoding::Json);
        assert_eq!(of("application/x-protobuf"), Encoding::Protobuf);
        assert_eq!(of("application/x-www-form-urlencoded"), Encoding::Protobuf);
        assert_eq!(Encoding::of(&HeaderMap::new()), Encoding::Protobuf);
    }

    #[test]
    fn the_json_form_with_structured_metadata() {
        let body = br#"{"streams":[{"stream":{"job":"api","port":8080},"values":[
            ["1777975200250000000","first"],
            ["1777975200500000001","second",{"trace_id":"abc","n":1}],
            [1777975200750000000,"a number",null]],
            "unknown":true}]}"#;
        let streams = json(body).unwrap();
        assert_eq!(streams.len(), 1);
        let stream = &streams[0];
        assert_eq!(stream.labels, metadata(&[("job", "api"), ("port", "8080")]));
        assert_eq!(stream.entries_field, "values");
        let times: Vec<Option<Time>> = stream.entries.iter().map(|e| e.time.clone()).collect();
        assert_eq!(
            times,
            [
                Some(Time::At("2026-05-05T10:00:00.250Z".parse().unwrap())),
                Some(Time::At("2026-05-05T10:00:00.500000001Z".parse().unwrap())),
                Some(Time::At("2026-05-05T10:00:00.750Z".parse().unwrap())),
            ]
        );
        assert_eq!(stream.entries[1].line, "second");
        assert_eq!(
            stream.entries[1].structured_metadata,
            metadata(&[("n", "1"), ("trace_id", "abc")])
        );
        assert!(stream.entries[2].structured_metadata.is_empty());
        assert_eq!(json(b"{}").unwrap(), []);
        assert_eq!(
            json(br#"{"streams":[{"stream":{}}]}"#).unwrap()[0].entries,
            []
        );
    }

    #[test]
    fn the_legacy_form_python_logging_loki_sends() {
        let body = br#"{"streams": [{"labels": "{severity=\"warning\",logger=\"app\"}",
            "entries": [{"ts": "2026-05-05T12:00:00.123456+02:00", "line": "careful",
                         "structuredMetadata": [{"name": "k", "value": "v"}]}]}]}"#;
        let streams = json(body).unwrap();
        let stream = &streams[0];
        assert_eq!(
            stream.labels,
            metadata(&[("logger", "app"), ("severity", "warning")])
        );
        assert_eq!(stream.entries_field, "entries");
        assert_eq!(
            stream.entries,
            [Entry {
                time: Some(Time::Text("2026-05-05T12:00:00.123456+02:00".into())),
                line: "careful".into(),
                structured_metadata: metadata(&[("k", "v")]),
            }]
        );
    }

    #[test]
    fn bad_json_names_the_stream_and_entry() {
        let error = |body: &str| json(body.as_bytes()).unwrap_err();
        assert_eq!(
            error(
                r#"{"streams":[{"stream":{},"values":[["1","ok"]]},{"stream":{"a":"b"},"values":[["1","x"],["soon","y"]]}]}"#
            ),
            "streams[1].values[1][0]: the time must be nanoseconds since the epoch, as a string \
             such as \"1777975200250000000\", got \"soon\""
        );
        assert_eq!(
            error(r#"{"streams":[{"stream":{},"values":[["1"]]}]}"#),
            "streams[0].values[0]: a value is [\"<nanoseconds since the epoch>\", \"<line>\"], \
             with an optional object of structured metadata third"
        );
        assert!(
            error(r#"{"streams":[{"stream":{},"values":[["1","x",{},4]]}]}"#)
                .ends_with("and no more")
        );
        assert_eq!(
            error(r#"{"streams":[{"stream":{"a":{"b":1}},"values":[]}]}"#),
            "streams[0].stream.a: invalid type: map, expected a string, number or boolean"
        );
        assert_eq!(
            error(r#"{"streams":[{"labels":"{a=b}","entries":[]}]}"#),
            "streams[0].labels: expected a quoted label value at byte 3"
        );
        assert_eq!(
            error(r#"{"streams":[{"labels":"{}","entries":[{"line":"x"}]}]}"#),
            "streams[0].entries[0]: missing field `ts`"
        );
        assert_eq!(
            error(r#"{"streams":[{"stream":{},"labels":"{}"}]}"#),
            "streams[0]: give its labels as stream (an object) or as labels (a string), not both"
        );
        assert_eq!(
            error(r#"{"streams":[{"values":[],"entries":[]}]}"#),
            "streams[0]: give its entries as values or as entries, not both"
        );
        assert_eq!(
            error("[]"),
            "the body must be a JSON object, {\"streams\": [...]}"
        );
        assert_eq!(
            error(""),
            "the body must be a JSON object, {\"streams\": [...]}"
        );
        assert_eq!(
            error(r#"{"streams":{}}"#),
            "streams: invalid type: map, expected a sequence"
        );
        assert!(error("{\"streams\":").starts_with("malformed JSON: "));
    }

    fn pushed() -> PushRequest {
        PushRequest {
            streams: vec![StreamAdapter {
                labels: r#"{job="varlogs", filename="/var/log/a b.log"}"#.into(),
                entries: vec![
                    EntryAdapter {
                        timestamp: Some(Timestamp {
                            seconds: 1_777_975_200,
                            nanos: 250_000_000,
                        }),
                        line: "one".into(),
                        structured_metadata: vec![LabelPairAdapter {
                            name: "trace_id".into(),
                            value: "abc".into(),
                        }],
                    },
                    EntryAdapter {
                        timestamp: None,
                        line: "two".into(),
                        structured_metadata: vec![],
                    },
                ],
                hash: 0,
            }],
        }
    }

    #[test]
    fn protobuf_in_a_snappy_block_or_already_unpacked() {
        let encoded = pushed().encode_to_vec();
        let snappy = snap::raw::Encoder::new().compress_vec(&encoded).unwrap();
        let decoded = protobuf(&HeaderMap::new(), &snappy, 1 << 20).unwrap();
        assert_eq!(decoded, pushed());
        let declared = headers(&[("content-encoding", "snappy")]);
        assert_eq!(protobuf(&declared, &encoded, 1 << 20).unwrap(), pushed());

        let streams = protobuf_streams(&decoded).unwrap();
        assert_eq!(
            streams,
            [Stream {
                labels: metadata(&[("filename", "/var/log/a b.log"), ("job", "varlogs")]),
                entries_field: "entries",
                entries: vec![
                    Entry {
                        time: Some(Time::At("2026-05-05T10:00:00.250Z".parse().unwrap())),
                        line: "one".into(),
                        structured_metadata: metadata(&[("trace_id", "abc")]),
                    },
                    Entry {
                        time: None,
                        line: "two".into(),
                        structured_metadata: Metadata::new(),
                    },
                ],
            }]
        );
    }

    #[test]
    fn bad_protobuf_says_why() {
        let big = snap::raw::Encoder::new().compress_vec(&[0; 2000]).unwrap();
        assert!(matches!(
            protobuf(&HeaderMap::new(), &big, 1000),
            Err(Rejection::TooLarge { limit: 1000 })
        ));
        let not_snappy = protobuf(&HeaderMap::new(), b"\xff\xff\xff\xff", 1 << 20)
            .unwrap_err()
            .to_string();
        assert!(
            not_snappy.starts_with("the body is not valid snappy: "),
            "{not_snappy}"
        );
        assert!(
            not_snappy.ends_with("is read as protobuf in a snappy block)"),
            "{not_snappy}"
        );
        let garbage = snap::raw::Encoder::new()
            .compress_vec(b"\xff\xff\xff")
            .unwrap();
        assert!(
            protobuf(&HeaderMap::new(), &garbage, 1 << 20)
                .unwrap_err()
                .to_string()
                .starts_with("the body is not a protobuf logproto.PushRequest: ")
        );
        let mut bad_labels = pushed();
        bad_labels.streams[0].labels = "job=varlogs".into();
        assert_eq!(
            protobuf_streams(&bad_labels).unwrap_err(),
            "streams[0].labels: expected { to open the labels at byte 0"
        );
        let mut bad_time = pushed();
        bad_time.streams[0].entries[1].timestamp = Some(Timestamp {
            seconds: 1,
            nanos: -1,
        });
        assert_eq!(
            protobuf_streams(&bad_time).unwrap_err(),
            "streams[0].entries[1].timestamp: 1 seconds and -1 nanoseconds is not a time"
        );
    }
}
