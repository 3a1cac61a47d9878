//! The keys file (`KEYS_FILE`):
//!
//! ```toml
//! [[keys]]
//! key = "s3cret"                 # or sha256 = "<hex of the key>"
//! tenant = "acme"                # or tenants = ["acme", "beta"]
//! scopes = ["ingest", "query"]   # ingest | query | admin
//!
//! [tenants.acme]
//! max_events_per_second = 2000   # each limit optional
//! max_queued_events = 200000
//! retention_days = 7
//! ```
//!
//! Anything else (an unknown field, both `key` and `sha256`, an empty scope list, a key given
//! twice) is refused with the entry it is in, so a typo cannot widen or narrow access
//! silently.

use crate::{Access, Key, Scope, TENANT_RULE, Tenant, TenantLimits, digest};
use serde::Deserialize;
use std::{collections::BTreeMap, path::Path};

/// Why a keys file was refused; the text names the entry and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeysFileError(String);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    keys: Vec<KeyEntry>,
    #[serde(default)]
    tenants: BTreeMap<String, LimitsEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    key: Option<String>,
    sha256: Option<String>,
    tenant: Option<String>,
    tenants: Option<Vec<String>>,
    scopes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsEntry {
    max_events_per_second: Option<u32>,
    max_queued_events: Option<u64>,
    retention_days: Option<u32>,
}

impl Access {
    /// Reads and checks the keys file at `path`.
    pub fn load(path: &Path) -> Result<Self, KeysFileError> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| KeysFileError(format!("cannot read {}: {error}", path.display())))?;
        Self::from_toml(&text)
    }

    /// The keys and limits of a keys file's text.
    pub fn from_toml(text: &str) -> Result<Self, KeysFileError> {
        let file: File = toml::from_str(text).map_err(|error| {
            KeysFileError(format!("not a valid keys file: {}", error.message()))
        })?;
        let mut keys: Vec<Key> = Vec::with_capacity(file.keys.len());
        for (index, entry) in file.keys.into_iter().enumerate() {
            let at = |problem: &str| KeysFileError(format!("keys[{index}]: {problem}"));
            let key = entry.key(index)?;
            if keys.iter().any(|known| known.digest == key.digest) {
                return Err(at("the same key is given twice"));
            }
            keys.push(key);
        }
        let mut limits = BTreeMap::new();
        for (name, entry) in file.tenants {
            let at = |problem: &str| KeysFileError(format!("tenants.{name}: {problem}"));
            let tenant = Tenant::parse(&name).ok_or_else(|| at(TENANT_RULE))?;
            if entry.max_events_per_second == Some(0) {
                return Err(at("max_events_per_second must be at least 1"));
            }
            if entry.max_queued_events == Some(0) {
                return Err(at("max_queued_events must be at least 1"));
            }
            if entry.retention_days == Some(0) {
                return Err(at("retention_days must be at least 1"));
            }
            limits.insert(
                tenant,
                TenantLimits {
                    max_events_per_second: entry.max_events_per_second,
                    max_queued_events: entry.max_queued_events,
                    retention_days: entry.retention_days,
                },
            );
        }
        Ok(Self { keys, limits })
    }
}

impl KeyEntry {
    fn key(self, index: usize) -> Result<Key, KeysFileError> {
        let at = |problem: String| KeysFileError(format!("keys[{index}]: {problem}"));
        let digest = match (self.key, self.sha256) {
            (Some(key), None) if !key.is_empty() => digest(key.as_bytes()),
            (Some(_), None) => return Err(at("key is empty".to_owned())),
            (None, Some(hex_digest)) => {
                let mut bytes = [0u8; 32];
                hex::decode_to_slice(hex_digest.trim(), &mut bytes).map_err(|_| {
                    at("sha256 must be the 64 hex digits of the key's SHA-256".to_owned())
                })?;
                bytes
            }
            (Some(_), Some(_)) => return Err(at("give key or sha256, not both".to_owned())),
            (None, None) => return Err(at("give the key (key) or its digest (sha256)".to_owned())),
        };
        let names = match (self.tenant, self.tenants) {
            (Some(tenant), None) => vec![tenant],
            (None, Some(tenants)) if !tenants.is_empty() => tenants,
            (None, Some(_)) => return Err(at("tenants is empty".to_owned())),
            (Some(_), Some(_)) => return Err(at("give tenant or tenants, not both".to_owned())),
            (None, None) => return Err(at("give the tenant (tenant or tenants)".to_owned())),
        };
        let tenants = names
            .iter()
            .map(|name| Tenant::parse(name).ok_or_else(|| at(format!("{name:?}: {TENANT_RULE}"))))
            .collect::<Result<Vec<_>, _>>()?;
        if self.scopes.is_empty() {
            return Err(at(
                "scopes is empty: give ingest, query and/or admin".to_owned()
            ));
        }
        let scopes = self
            .scopes
            .iter()
            .map(|name| {
                Scope::parse(name).ok_or_else(|| {
                    at(format!(
                        "unknown scope {name:?}: the scopes are ingest, query and admin"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Key {
            digest,
            tenants,
            scopes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(text: &str) -> String {
        Access::from_toml(text).unwrap_err().to_string()
    }

    #[test]
    fn a_digest_stands_for_its_key_and_limits_are_read() {
        let hex_digest = hex::encode(digest(b"s3cret"));
        let access = Access::from_toml(&format!(
            r#"
            [[keys]]
            sha256 = "{hex_digest}"
            tenant = "acme"
            scopes = ["ingest", "admin"]

            [tenants.acme]
            max_events_per_second = 2000
            max_queued_events = 200000
            retention_days = 7
            "#
        ))
        .unwrap();
        let grant = access
            .authorize(Some(b"s3cret"), None, Scope::Admin)
            .unwrap();
        assert_eq!(grant.tenant.as_str(), "acme");
        let limits = access.limits(grant.tenant.as_str());
        assert_eq!(limits.max_events_per_second, Some(2000));
        assert_eq!(limits.max_queued_events, Some(200_000));
        assert_eq!(limits.retention_days, Some(7));
        assert_eq!(
            access.limits(traceflow_event::DEFAULT_TENANT),
            TenantLimits::default()
        );
    }

    #[test]
    fn each_mistake_is_refused_naming_its_entry() {
        let cases = [
            (
                "[[keys]]\nkey = \"a\"\nsha256 = \"00\"\ntenant = \"t\"\nscopes = [\"query\"]",
                "keys[0]: give key or sha256, not both",
            ),
            (
                "[[keys]]\nkey = \"a\"\ntenant = \"t\"\nscopes = []",
                "keys[0]: scopes is empty: give ingest, query and/or admin",
            ),
            (
                "[[keys]]\nkey = \"a\"\ntenant = \"t\"\nscopes = [\"write\"]",
                "keys[0]: unknown scope \"write\": the scopes are ingest, query and admin",
            ),
            (
                "[[keys]]\nkey = \"a\"\nscopes = [\"query\"]",
                "keys[0]: give the tenant (tenant or tenants)",
            ),
            (
                "[[keys]]\nkey = \"a\"\ntenant = \"a b\"\nscopes = [\"query\"]",
                "keys[0]: \"a b\": a tenant is 1 to 64 ASCII letters, digits, '-', '_' or '.'",
            ),
            (
                "[[keys]]\nsha256 = \"abc\"\ntenant = \"t\"\nscopes = [\"query\"]",
                "keys[0]: sha256 must be the 64 hex digits of the key's SHA-256",
            ),
            (
                "[[keys]]\nkey = \"a\"\ntenant = \"t\"\nscopes = [\"query\"]\n\
                 [[keys]]\nkey = \"a\"\ntenant = \"u\"\nscopes = [\"ingest\"]",
                "keys[1]: the same key is given twice",
            ),
            (
                "[tenants.acme]\nretention_days = 0",
                "tenants.acme: retention_days must be at least 1",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(refusal(text), expected, "{text}");
        }
    }

    #[test]
    fn an_unknown_field_is_refused_rather_than_ignored() {
        let refused = refusal("[[keys]]\nkey = \"a\"\ntenant = \"t\"\nscope = [\"query\"]");
        assert!(refused.starts_with("not a valid keys file: "), "{refused}");
        assert!(refused.contains("scope"), "{refused}");
    }
}
