//! API keys and what they may do: `Authorization: Bearer <key>`, `X-API-Key: <key>`, or HTTP
//! Basic authentication with the key as the password (any user name): log shippers that
//! speak Elasticsearch or Loki (rsyslog, Fluent Bit, syslog-ng) can send a user and password
//! but not always a header of their choice. A key with several tenants names the one it acts
//! for with `X-Scope-OrgID`, Loki's header.
//!
//! Which keys exist, their scopes and tenants are `traceflow_access`'s; this module reads
//! them from a request, answers 401 (no or an unknown key) or 403 (a known key without the
//! scope or the tenant), and re-reads `KEYS_FILE` on SIGHUP.

use crate::json_error;
use arc_swap::ArcSwap;
use axum::{
    Router,
    extract::{FromRequestParts, Request},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header, request::Parts},
    middleware::{self, Next},
    response::Response,
};
use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use std::{
    borrow::Cow,
    convert::Infallible,
    path::{Path, PathBuf},
    sync::Arc,
};
use traceflow_access::{Access, Denied, Grant, KeysFileError, Scope, TenantLimits};
use traceflow_config::ApiKeys;

/// The header naming the tenant a key acts for (Loki's).
pub const ORG_ID_HEADER: &str = "x-scope-orgid";

/// Which scope a request needs, told by its method.
pub type ScopeOf = fn(&Method) -> Scope;

/// The keys a service accepts, swapped whole when the keys file is re-read; the same for
/// every port of the service (its gRPC port checks the metadata of a call, which travels
/// as headers).
#[derive(Clone)]
pub struct AccessCheck {
    access: Arc<ArcSwap<Access>>,
    /// Whether the keys can change while running (a keys file); if not and there are none,
    /// no route needs a check.
    reloadable: bool,
}

impl AccessCheck {
    /// The keys of `keys_file` when set, else `listed` (the service's environment list),
    /// each granting `listed_scopes` for tenant `default`. Logs which, with a warning when
    /// the service is open. With a keys file, every SIGHUP re-reads it.
    pub fn new(
        service: &'static str,
        keys_file: Option<&Path>,
        listed: &ApiKeys,
        listed_scopes: &[Scope],
    ) -> Result<Self, KeysFileError> {
        let access = match keys_file {
            Some(path) => Access::load(path)?,
            None => Access::from_list(listed.keys(), listed_scopes),
        };
        log_keys(service, &access);
        let check = Self {
            access: Arc::new(ArcSwap::from_pointee(access)),
            reloadable: keys_file.is_some(),
        };
        if let Some(path) = keys_file {
            check.reload_on_hangup(service, path.to_owned());
        }
        Ok(check)
    }

    /// Whether no key is needed now and none can be later.
    fn always_open(&self) -> bool {
        !self.reloadable && self.access.load().is_open()
    }

    /// What a request with `headers` may do with `scope`.
    pub fn authorize(&self, headers: &HeaderMap, scope: Scope) -> Result<Grant, Denied> {
        let presented = presented_key(headers);
        let org_id = headers
            .get(ORG_ID_HEADER)
            .and_then(|value| value.to_str().ok());
        self.access
            .load()
            .authorize(presented.as_deref(), org_id, scope)
    }

    /// The limits the keys file sets for `tenant` now (none without a keys file).
    pub fn limits(&self, tenant: &str) -> TenantLimits {
        self.access.load().limits(tenant)
    }

    fn reload_on_hangup(&self, service: &'static str, path: PathBuf) {
        let access = self.access.clone();
        let mut hangups = match tokio::signal::unix::signal(
            tokio::signal::unix::SignalKind::hangup(),
        ) {
            Ok(hangups) => hangups,
            Err(error) => {
                tracing::error!(service, %error, "cannot watch for SIGHUP: KEYS_FILE is read at start only");
                return;
            }
        };
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                match Access::load(&path) {
                    Ok(reloaded) => {
                        log_keys(service, &reloaded);
                        access.store(Arc::new(reloaded));
                    }
                    Err(error) => tracing::error!(
                        service,
                        %error,
                        "KEYS_FILE not reloaded: the keys stay as they were"
                    ),
                }
            }
        });
    }
}

fn log_keys(service: &'static str, access: &Access) {
    if access.is_open() {
        tracing::warn!(
            service,
            "no API keys configured: anyone who can reach this service can use it, as tenant default"
        );
    } else {
        tracing::info!(service, keys = access.key_count(), "API keys required");
    }
}

/// Requires every route of `router` to be allowed for the request's key, with the scope
/// `scope_of` names for its method, and puts the [`Grant`] in the request's extensions.
/// Routes added after this call stay open.
pub fn require_access<S>(router: Router<S>, check: &AccessCheck, scope_of: ScopeOf) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    if check.always_open() {
        return router;
    }
    let check = check.clone();
    router.route_layer(middleware::from_fn(
        move |mut request: Request, next: Next| {
            let granted = check.authorize(request.headers(), scope_of(request.method()));
            async move {
                match granted {
                    Ok(grant) => {
                        request.extensions_mut().insert(grant);
                        next.run(request).await
                    }
                    Err(denied) => denied_response(&denied),
                }
            }
        },
    ))
}

/// The tenant a request acts for: its key's (see [`Grant::tenant_of`]). Every handler that
/// reads or writes events takes it, so none can act outside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestTenant(pub String);

impl<S: Send + Sync> FromRequestParts<S> for RequestTenant {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(Self(Grant::tenant_of(parts.extensions.get()).to_owned()))
    }
}

/// 401 with `WWW-Authenticate` for a missing or unknown key, 403 naming what a known key
/// lacks.
pub fn denied_response(denied: &Denied) -> Response {
    match denied {
        Denied::Unauthenticated => {
            let mut response = json_error(StatusCode::UNAUTHORIZED, denied.to_string());
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            response
        }
        Denied::MissingScope { key, .. } | Denied::OtherTenant { key, .. } => {
            tracing::info!(key = %key, reason = %denied, "request refused");
            json_error(StatusCode::FORBIDDEN, denied.to_string())
        }
    }
}

/// The key from `Authorization` (`Bearer <key>`, or `Basic` with the key as the password),
/// or else `X-API-Key`.
fn presented_key(headers: &HeaderMap) -> Option<Cow<'_, [u8]>> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .and_then(|(scheme, token)| {
            let token = token.trim();
            if scheme.eq_ignore_ascii_case("bearer") {
                Some(Cow::Borrowed(token.as_bytes()))
            } else if scheme.eq_ignore_ascii_case("basic") {
                let decoded = BASE64.decode(token).ok()?;
                let colon = decoded.iter().position(|&byte| byte == b':')?;
                Some(Cow::Owned(decoded[colon + 1..].to_vec()))
            } else {
                None
            }
        });
    authorization.or_else(|| {
        headers
            .get("x-api-key")
            .map(|value| Cow::Borrowed(value.as_bytes()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_from_either_header() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer  k1 "),
        );
        assert_eq!(presented_key(&headers).as_deref(), Some(&b"k1"[..]));
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", HeaderValue::from_static("k2"));
        assert_eq!(presented_key(&headers).as_deref(), Some(&b"k2"[..]));
        // Basic: the password is the key, whatever the user ("u:p", then ":k:3").
        for (basic, key) in [("Basic dTpw", &b"p"[..]), ("basic Oms6Mw==", &b"k:3"[..])] {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, HeaderValue::from_static(basic));
            assert_eq!(presented_key(&headers).as_deref(), Some(key), "{basic}");
        }
        for unusable in ["Basic !!", "Basic bm9jb2xvbg==", "Digest x"] {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, HeaderValue::from_static(unusable));
            assert_eq!(presented_key(&headers), None, "{unusable}");
        }
    }
}
