//! An OTLP/HTTP request body to an `ExportLogsServiceRequest`: its encoding from
//! `Content-Type`, gzip undone under the size limit, then protobuf or OTLP/JSON.

use crate::{Rejection, rejection::Refusal};
use axum::http::{HeaderMap, header::CONTENT_ENCODING};
use flate2::read::MultiGzDecoder;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use prost::Message;
use std::{borrow::Cow, io::Read};

/// The two encodings OTLP/HTTP defines; the answer uses the request's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    /// From `Content-Type` (parameters such as charset ignored); `None` for anything else.
    pub fn of(headers: &HeaderMap) -> Option<Self> {
        match traceflow_http::media_type(headers)?.as_str() {
            "application/x-protobuf" | "application/protobuf" => Some(Encoding::Protobuf),
            "application/json" => Some(Encoding::Json),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// The body with its `Content-Encoding` undone, at most `limit` bytes once decompressed:
/// reading stops one byte past the limit, so a gzip bomb costs no more than that.
pub fn decompress<'a>(
    headers: &HeaderMap,
    body: &'a [u8],
    limit: usize,
) -> Result<Cow<'a, [u8]>, Rejection> {
    let coding = match headers.get(CONTENT_ENCODING) {
        None => "identity".to_owned(),
        Some(value) => value
            .to_str()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase(),
    };
    match coding.as_str() {
        "" | "identity" => {
            if body.len() > limit {
                return Err(Rejection::TooLarge { limit });
            }
            Ok(Cow::Borrowed(body))
        }
        "gzip" | "x-gzip" => {
            let mut out = Vec::new();
            MultiGzDecoder::new(body)
                .take(limit as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|error| {
                    Rejection::Invalid(Refusal::malformed(format!(
                        "the body is not valid gzip: {error}"
                    )))
                })?;
            if out.len() > limit {
                return Err(Rejection::TooLarge { limit });
            }
            Ok(Cow::Owned(out))
        }
        other => Err(Rejection::UnsupportedMediaType(format!(
            "Content-Encoding {other:?} is not supported; use gzip or none"
        ))),
    }
}

/// Decodes a body of `encoding`; the error says what is wrong with it.
pub fn decode(encoding: Encoding, body: &[u8]) -> Result<ExportLogsServiceRequest, String> {
    match encoding {
        Encoding::Protobuf => ExportLogsServiceRequest::decode(body).map_err(|error| {
            format!("the body is not a protobuf ExportLogsServiceRequest: {error}")
        }),
        Encoding::Json => {
            // An empty body is an empty request in protobuf; in JSON it is not JSON.
            serde_json::from_slice(body).map_err(|error| {
                format!("the body is not an OTLP/JSON ExportLogsServiceRequest: {error}")
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use flate2::{Compression, write::GzEncoder};
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use std::io::Write;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn content_types() {
        let of = |value| Encoding::of(&headers(&[("content-type", value)]));
        assert_eq!(of("application/x-protobuf"), Some(Encoding::Protobuf));
        assert_eq!(of("Application/JSON; charset=utf-8"), Some(Encoding::Json));
        assert_eq!(of("text/plain"), None);
        assert_eq!(Encoding::of(&HeaderMap::new()), None);
    }

    #[test]
    fn gzip_is_undone_within_the_limit() {
        let plain = b"hello".repeat(100);
        let zipped = gzip(&plain);
        let gz = headers(&[("content-encoding", "gzip")]);
        assert_eq!(*decompress(&gz, &zipped, 500).unwrap(), plain[..]);
        assert!(matches!(
            decompress(&gz, &zipped, 499),
            Err(Rejection::TooLarge { limit: 499 })
        ));
        assert!(matches!(
            decompress(&HeaderMap::new(), &plain, 499),
            Err(Rejection::TooLarge { limit: 499 })
        ));
        assert!(matches!(
            decompress(&gz, b"not gzip", 500),
            Err(Rejection::Invalid(refusal)) if refusal.message.starts_with("the body is not valid gzip: ")
        ));
        assert!(matches!(
            decompress(&headers(&[("content-encoding", "br")]), &plain, 500),
            Err(Rejection::UnsupportedMediaType(message))
                if message == "Content-Encoding \"br\" is not supported; use gzip or none"
        ));
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_limit() {
        // 1 GiB of zeros in about 1 MiB (1024 gzip members of 1 MiB each, which gzip
        // allows); only limit + 1 bytes are ever inflated.
        let member = gzip(&vec![0u8; 1 << 20]);
        let bomb = member.repeat(1024);
        let gz = headers(&[("content-encoding", "gzip")]);
        assert!(matches!(
            decompress(&gz, &bomb, 1 << 20),
            Err(Rejection::TooLarge { .. })
        ));
    }

    /// The OTLP/JSON rules the crate's serde support must follow: lowerCamelCase names,
    /// hex ids, 64-bit integers as strings or numbers, unknown fields ignored.
    #[test]
    fn otlp_json_is_read_as_the_spec_writes_it() {
        let body = br#"{"resourceLogs":[{"resource":{"attributes":[
              {"key":"service.name","value":{"stringValue":"checkout"}}]},
            "unknownField":{"x":1},
            "scopeLogs":[{"scope":{"name":"s"},"logRecords":[
              {"timeUnixNano":"1777975200250000000","observedTimeUnixNano":1777975200250000001,
               "severityNumber":17,"severityText":"Error","body":{"stringValue":"boom"},
               "traceId":"4BF92F3577B34DA6A3CE929D0E0E4736","spanId":"00f067aa0ba902b7",
               "attributes":[{"key":"big","value":{"intValue":"9007199254740993"}},
                             {"key":"small","value":{"intValue":7}},
                             {"key":"d","value":{"doubleValue":1.5}},
                             {"key":"b","value":{"bytesValue":"AP8="}}]},
              {}]}]}]}"#;
        let request = decode(Encoding::Json, body).unwrap();
        let scope = &request.resource_logs[0].scope_logs[0];
        let record = &scope.log_records[0];
        assert_eq!(record.time_unix_nano, 1_777_975_200_250_000_000);
        assert_eq!(record.observed_time_unix_nano, 1_777_975_200_250_000_001);
        assert_eq!(record.severity_number, 17);
        assert_eq!(
            hex::encode(&record.trace_id),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(hex::encode(&record.span_id), "00f067aa0ba902b7");
        let values: Vec<_> = record
            .attributes
            .iter()
            .map(|kv| kv.value.as_ref().unwrap().value.clone().unwrap())
            .collect();
        assert_eq!(
            values,
            [
                Value::IntValue(9_007_199_254_740_993),
                Value::IntValue(7),
                Value::DoubleValue(1.5),
                Value::BytesValue(vec![0, 255]),
            ]
        );
        assert_eq!(scope.log_records[1], Default::default());
        assert_eq!(decode(Encoding::Json, b"{}").unwrap(), Default::default());
    }

    #[test]
    fn undecodable_bodies_say_so() {
        assert!(
            decode(Encoding::Json, b"")
                .unwrap_err()
                .starts_with("the body is not an OTLP/JSON")
        );
        assert!(
            decode(
                Encoding::Json,
                br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"xyz"}]}]}]}"#
            )
            .is_err()
        );
        assert!(
            decode(
                Encoding::Json,
                br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"soon"}]}]}]}"#
            )
            .is_err()
        );
        assert!(
            decode(Encoding::Protobuf, b"\xff\xff\xff")
                .unwrap_err()
                .starts_with("the body is not a protobuf")
        );
        // An empty protobuf message is valid: an empty request.
        assert_eq!(decode(Encoding::Protobuf, b"").unwrap(), Default::default());
    }
}
