//! The accepted event, as queued, stored and answered.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, de};
use std::{borrow::Cow, collections::BTreeMap, fmt};
use uuid::Uuid;

use crate::Level;

/// One accepted log event: every rule of [`crate::check`] holds for it. Its text is borrowed
/// from whatever it was read from (a request body, a queue entry) where that text needs no
/// unescaping, so the hot paths copy nothing; [`LogEvent`] is the same event owning its
/// text. Its JSON (serde) is both the queue's wire format and the query API's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event<'a> {
    /// Assigned when the event is accepted; identifies it through retries and re-deliveries.
    pub id: Uuid,
    /// Whose event it is: the tenant of the key that sent it. Left out of the JSON when it
    /// is the default tenant's, so a system without tenants reads and queues what it always
    /// did (and entries queued before tenants existed decode as the default tenant's).
    #[serde(
        default = "default_tenant",
        borrow,
        skip_serializing_if = "is_default_tenant"
    )]
    pub tenant: Cow<'a, str>,
    /// UTC, millisecond precision.
    #[serde(with = "rfc3339_millis")]
    pub timestamp: DateTime<Utc>,
    #[serde(borrow)]
    pub service: Cow<'a, str>,
    pub level: Level,
    #[serde(borrow)]
    pub message: Cow<'a, str>,
    #[serde(borrow)]
    pub trace_id: Cow<'a, str>,
    #[serde(default, borrow, deserialize_with = "deserialize_metadata")]
    pub metadata: Metadata<'a>,
}

/// An event that owns its text: what is built by hand, read back from ClickHouse, or kept.
pub type LogEvent = Event<'static>;

/// Metadata keys and their values, in key order.
pub type Metadata<'a> = BTreeMap<Cow<'a, str>, Cow<'a, str>>;

impl Event<'_> {
    /// The same event, owning its text.
    pub fn into_owned(self) -> LogEvent {
        let owned = |text: Cow<'_, str>| Cow::Owned(text.into_owned());
        Event {
            id: self.id,
            tenant: owned(self.tenant),
            timestamp: self.timestamp,
            service: owned(self.service),
            level: self.level,
            message: owned(self.message),
            trace_id: owned(self.trace_id),
            metadata: self
                .metadata
                .into_iter()
                .map(|(key, value)| (owned(key), owned(value)))
                .collect(),
        }
    }
}

/// The tenant of a system without keys, and of the environment's key lists.
pub const DEFAULT_TENANT: &str = "default";

fn default_tenant() -> Cow<'static, str> {
    Cow::Borrowed(DEFAULT_TENANT)
}

#[expect(
    clippy::ptr_arg,
    reason = "serde hands `skip_serializing_if` the field itself"
)]
fn is_default_tenant(tenant: &Cow<'_, str>) -> bool {
    tenant == DEFAULT_TENANT
}

/// A JSON string, borrowed from the input when it has no escapes, copied otherwise. (Serde
/// copies a `Cow<str>` unless it is a field of its own marked `borrow`.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text<'a>(pub Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> de::Visitor<'de> for Visitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(text)))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(text.to_owned())))
            }
            fn visit_string<E: de::Error>(self, text: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(text)))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

fn deserialize_metadata<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Metadata<'de>, D::Error> {
    struct Visitor;
    impl<'de> de::Visitor<'de> for Visitor {
        type Value = Metadata<'de>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object of strings")
        }
        fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Metadata<'de>, A::Error> {
            let mut metadata = Metadata::new();
            while let Some((Text(key), Text(value))) = map.next_entry()? {
                metadata.insert(key, value);
            }
            Ok(metadata)
        }
    }
    deserializer.deserialize_map(Visitor)
}

mod rfc3339_millis {
    use super::*;
    use serde::Serializer;

    pub fn serialize<S: Serializer>(time: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&time.to_rfc3339_opts(SecondsFormat::Millis, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let Text(raw) = Text::deserialize(d)?;
        DateTime::parse_from_rfc3339(&raw)
            .map(|time| time.with_timezone(&Utc))
            .map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_names_every_field_with_the_time_to_the_millisecond() {
        let event = LogEvent {
            tenant: crate::DEFAULT_TENANT.into(),
            id: Uuid::now_v7(),
            timestamp: "2026-05-05T10:00:00.123Z".parse().unwrap(),
            service: "auth-service".into(),
            level: Level::Error,
            message: "DB connection failed".into(),
            trace_id: "0123456789abcdef0123456789abcdef".into(),
            metadata: BTreeMap::from([("user_id".into(), "42".into())]),
        };
        let json = serde_json::to_string(&event).unwrap();
        assert!(
            json.contains(r#""timestamp":"2026-05-05T10:00:00.123Z""#),
            "{json}"
        );
        assert!(json.contains(r#""level":"ERROR""#), "{json}");
        assert!(json.contains(r#""metadata":{"user_id":"42"}"#), "{json}");
        let back: Event = serde_json::from_str(&json).unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn text_without_escapes_is_borrowed() {
        let json = r#"{"id":"0196a0b0-0000-7000-8000-000000000001","timestamp":"2026-05-05T10:00:00.000Z",
            "service":"a","level":"INFO","message":"two\nlines","trace_id":"t","metadata":{"k":"v"}}"#;
        let event: Event = serde_json::from_str(json).unwrap();
        assert!(matches!(event.service, Cow::Borrowed("a")));
        assert!(matches!(&event.message, Cow::Owned(message) if message == "two\nlines"));
        assert!(matches!(event.metadata["k"], Cow::Borrowed("v")));
        assert!(matches!(event.into_owned().service, Cow::Owned(_)));
    }
}
