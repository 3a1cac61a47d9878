//! An OTLP/HTTP request body (its `Content-Encoding` already undone) to an
//! `ExportLogsServiceRequest`: its encoding from `Content-Type`, then protobuf or OTLP/JSON.

use crate::body::without_bom;
use axum::http::HeaderMap;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use prost::Message;

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

/// Decodes a body of `encoding`; the error says what is wrong with it.
pub fn decode(encoding: Encoding, body: &[u8]) -> Result<ExportLogsServiceRequest, String> {
    match encoding {
        Encoding::Protobuf => ExportLogsServiceRequest::decode(body).map_err(|error| {
            format!("the body is not a protobuf ExportLogsServiceRequest: {error}")
        }),
        Encoding::Json => {
            // An empty body is an empty request in protobuf; in JSON it is not JSON.
            serde_json::from_slice(without_bom(body)).map_err(|error| {
                format!("the body is not an OTLP/JSON ExportLogsServiceRequest: {error}")
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use opentelemetry_proto::tonic::common::v1::any_value::Value;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
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
