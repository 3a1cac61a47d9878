//! Who may do what, for which tenant.
//!
//! A key grants scopes ([`Scope`]: ingest, query, admin) for one or more tenants. Keys come
//! from a keys file (`KEYS_FILE`, TOML, see [`Access::from_toml`]) or, as before tenants
//! existed, from a service's list of keys (`INGEST_API_KEYS`, `QUERY_API_KEYS`), which act for
//! the tenant `default`. With no keys at all the service is open, on tenant `default`.
//!
//! Only keys' SHA-256 digests are kept; a presented key is hashed and compared with every
//! digest in constant time, so neither timing nor which key matched leaks. Logs and answers
//! name a key by its [`KeyId`], the first 8 hex digits of its digest.

mod file;

pub use file::KeysFileError;

use sha2::{Digest, Sha256};
use std::{collections::BTreeMap, fmt};
use subtle::ConstantTimeEq;

pub use traceflow_event::DEFAULT_TENANT;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Every ingest route and protocol.
    Ingest,
    /// Every read route, the live tail and the explorer.
    Query,
    /// What changes stored data (`DELETE /logs`).
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Ingest, Scope::Query, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Query => "query",
            Scope::Admin => "admin",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == text)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tenant's name: 1 to 64 ASCII letters, digits, `-`, `_` or `.` (what Loki's
/// `X-Scope-OrgID` usually carries, and safe in logs, metrics and SQL values).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tenant(String);

/// What [`Tenant::parse`] accepts, as error messages say it.
pub const TENANT_RULE: &str = "a tenant is 1 to 64 ASCII letters, digits, '-', '_' or '.'";

impl Tenant {
    pub fn parse(name: &str) -> Option<Self> {
        let valid = (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || b"-_.".contains(&byte));
        valid.then(|| Self(name.to_owned()))
    }

    pub fn default_tenant() -> Self {
        Self(DEFAULT_TENANT.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Tenant {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A tenant's optional limits (`[tenants.<name>]` in the keys file).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TenantLimits {
    pub max_events_per_second: Option<u32>,
    pub max_queued_events: Option<u64>,
    pub retention_days: Option<u32>,
}

/// How logs and metrics name a key: the first 8 hex digits of its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyId(String);

impl KeyId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One key: its digest, what it may do and for whom.
#[derive(Debug, Clone)]
struct Key {
    digest: [u8; 32],
    tenants: Vec<Tenant>,
    scopes: Vec<Scope>,
}

impl Key {
    fn id(&self) -> KeyId {
        KeyId(hex::encode(&self.digest[..4]))
    }
}

/// What a request may do: the tenant it acts for, every tenant its key may act for (the
/// first is the one it acts for without `X-Scope-OrgID`), and by which key (none on an open
/// system).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub tenant: Tenant,
    pub tenants: Vec<Tenant>,
    pub key: Option<KeyId>,
}

impl Grant {
    /// What every request may do where no keys are configured: act for tenant `default`.
    pub fn open() -> Self {
        Self {
            tenant: Tenant::default_tenant(),
            tenants: vec![Tenant::default_tenant()],
            key: None,
        }
    }

    /// The tenant a request acts for: its grant's, or the default tenant's where the service
    /// checks no keys (and so grants nothing).
    pub fn tenant_of(grant: Option<&Grant>) -> &str {
        grant.map_or(DEFAULT_TENANT, |grant| grant.tenant.as_str())
    }
}

/// Why a request may not do what it asks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// No key, or one nobody configured: 401.
    #[error("missing or invalid API key: send Authorization: Bearer <key> or X-API-Key: <key>")]
    Unauthenticated,
    /// A known key without the scope: 403.
    #[error("API key {key} does not have the {scope} scope")]
    MissingScope { key: KeyId, scope: Scope },
    /// A known key that may not act for the tenant asked for: 403.
    #[error("API key {key} may not act for tenant {tenant:?}")]
    OtherTenant { key: KeyId, tenant: String },
}

/// The keys a service accepts, and the tenants' limits.
#[derive(Debug, Clone, Default)]
pub struct Access {
    keys: Vec<Key>,
    limits: BTreeMap<Tenant, TenantLimits>,
}

impl Access {
    /// No keys: every request passes, on tenant `default`.
    pub fn open() -> Self {
        Self::default()
    }

    /// A service's list of keys from the environment, each granting `scopes` for tenant
    /// `default`.
    pub fn from_list(keys: &[String], scopes: &[Scope]) -> Self {
        let keys = keys
            .iter()
            .map(|key| Key {
                digest: digest(key.as_bytes()),
                tenants: vec![Tenant::default_tenant()],
                scopes: scopes.to_vec(),
            })
            .collect();
        Self {
            keys,
            limits: BTreeMap::new(),
        }
    }

    /// Whether no keys are configured (the service is open).
    pub fn is_open(&self) -> bool {
        self.keys.is_empty()
    }

    /// The tenants the keys file sets limits for, with them.
    pub fn tenant_limits(&self) -> impl Iterator<Item = (&Tenant, &TenantLimits)> {
        self.limits.iter()
    }

    /// How many keys are configured.
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// The limits of `tenant` (none unless the keys file sets them).
    pub fn limits(&self, tenant: &str) -> TenantLimits {
        self.limits.get(tenant).copied().unwrap_or_default()
    }

    /// Whether `presented` (the key a request sent, if any) may use `scope`, acting for
    /// `org_id` (the request's `X-Scope-OrgID`) or, without one, for the key's first tenant.
    pub fn authorize(
        &self,
        presented: Option<&[u8]>,
        org_id: Option<&str>,
        scope: Scope,
    ) -> Result<Grant, Denied> {
        if self.is_open() {
            return Ok(Grant::open());
        }
        let key = presented
            .and_then(|presented| self.find(presented))
            .ok_or(Denied::Unauthenticated)?;
        if !key.scopes.contains(&scope) {
            return Err(Denied::MissingScope {
                key: key.id(),
                scope,
            });
        }
        let tenant = match org_id.map(str::trim) {
            None | Some("") => key.tenants[0].clone(),
            Some(asked) => key
                .tenants
                .iter()
                .find(|tenant| tenant.as_str() == asked)
                .cloned()
                .ok_or_else(|| Denied::OtherTenant {
                    key: key.id(),
                    tenant: asked.to_owned(),
                })?,
        };
        Ok(Grant {
            tenant,
            tenants: key.tenants.clone(),
            key: Some(key.id()),
        })
    }

    /// The key whose digest is the presented key's, comparing with every key.
    fn find(&self, presented: &[u8]) -> Option<&Key> {
        let presented = digest(presented);
        self.keys.iter().fold(None, |found, key| {
            let matches: bool = key.digest.ct_eq(&presented).into();
            found.or(matches.then_some(key))
        })
    }
}

fn digest(key: &[u8]) -> [u8; 32] {
    Sha256::digest(key).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access() -> Access {
        Access::from_toml(
            r#"
            [[keys]]
            key = "ingest-acme"
            tenant = "acme"
            scopes = ["ingest"]

            [[keys]]
            key = "reader"
            tenants = ["acme", "beta"]
            scopes = ["query"]
            "#,
        )
        .unwrap()
    }

    #[test]
    fn an_open_system_lets_everyone_in_on_the_default_tenant() {
        let grant = Access::open()
            .authorize(None, Some("acme"), Scope::Admin)
            .unwrap();
        assert_eq!(grant.tenant.as_str(), DEFAULT_TENANT);
        assert_eq!(grant.key, None);
    }

    #[test]
    fn no_key_or_an_unknown_key_is_unauthenticated() {
        let access = access();
        for presented in [None, Some(&b"nope"[..]), Some(&b""[..])] {
            assert_eq!(
                access.authorize(presented, None, Scope::Ingest),
                Err(Denied::Unauthenticated)
            );
        }
    }

    #[test]
    fn a_key_acts_for_its_first_tenant_or_the_one_it_names() {
        let access = access();
        let reader = Some(&b"reader"[..]);
        let first = access.authorize(reader, None, Scope::Query).unwrap();
        assert_eq!(first.tenant.as_str(), "acme");
        let named = access
            .authorize(reader, Some("beta"), Scope::Query)
            .unwrap();
        assert_eq!(named.tenant.as_str(), "beta");
        let offered: Vec<&str> = named.tenants.iter().map(Tenant::as_str).collect();
        assert_eq!(offered, ["acme", "beta"]);
        assert_eq!(
            named.key.unwrap().as_str(),
            &hex::encode(digest(b"reader"))[..8]
        );
    }

    #[test]
    fn a_known_key_is_forbidden_what_it_was_not_given() {
        let access = access();
        let denied = access.authorize(Some(b"ingest-acme"), None, Scope::Query);
        let id = hex::encode(digest(b"ingest-acme"))[..8].to_owned();
        assert_eq!(
            denied.unwrap_err().to_string(),
            format!("API key {id} does not have the query scope")
        );
        let denied = access.authorize(Some(b"ingest-acme"), Some("beta"), Scope::Ingest);
        assert_eq!(
            denied.unwrap_err().to_string(),
            format!("API key {id} may not act for tenant \"beta\"")
        );
    }

    #[test]
    fn the_environments_keys_act_for_the_default_tenant_with_their_scopes() {
        let access = Access::from_list(&["k1".to_owned()], &[Scope::Query, Scope::Admin]);
        let grant = access.authorize(Some(b"k1"), None, Scope::Admin).unwrap();
        assert_eq!(grant.tenant.as_str(), DEFAULT_TENANT);
        assert!(matches!(
            access.authorize(Some(b"k1"), None, Scope::Ingest),
            Err(Denied::MissingScope { .. })
        ));
    }

    #[test]
    fn tenant_names_are_short_and_plain() {
        for good in ["acme", "team-a_1.prod", &"x".repeat(64)] {
            assert!(Tenant::parse(good).is_some(), "{good}");
        }
        for bad in ["", "a b", "acme'", "ümlaut", &"x".repeat(65)] {
            assert!(Tenant::parse(bad).is_none(), "{bad}");
        }
    }
}
