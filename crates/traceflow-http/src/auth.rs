//! Optional API keys: `Authorization: Bearer <key>`, `X-API-Key: <key>`, or HTTP Basic
//! authentication with the key as the password (any user name): log shippers that speak
//! Elasticsearch or Loki (rsyslog, Fluent Bit, syslog-ng) can send a user and password but
//! not always a header of their choice.
//!
//! Keys are compared in constant time, against every configured key, so neither timing nor
//! which key matched leaks; they are never logged.

use crate::json_error;
use axum::{
    Router,
    extract::Request,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::Response,
};
use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use std::{borrow::Cow, sync::Arc};
use subtle::ConstantTimeEq;
use traceflow_config::ApiKeys;

/// What a client must send when keys are configured.
pub const API_KEY_REQUIRED: &str =
    "missing or invalid API key: send Authorization: Bearer <key> or X-API-Key: <key>";

/// The configured keys, checked against the headers of a request (or the metadata of a gRPC
/// call, which travels as headers).
#[derive(Clone)]
pub struct ApiKeyCheck {
    /// `None`: no keys configured, every request passes.
    keys: Option<Arc<[Vec<u8>]>>,
}

impl ApiKeyCheck {
    /// Logs at start whether `service` requires keys (a warning when it is open).
    pub fn new(keys: &ApiKeys, service: &'static str) -> Self {
        if keys.is_empty() {
            tracing::warn!(
                service,
                "no API keys configured: anyone who can reach this service can use it"
            );
            return Self { keys: None };
        }
        tracing::info!(service, keys = keys.keys().len(), "API keys required");
        let keys = keys
            .keys()
            .iter()
            .map(|key| key.as_bytes().to_vec())
            .collect();
        Self { keys: Some(keys) }
    }

    /// Whether no keys are configured.
    pub fn is_open(&self) -> bool {
        self.keys.is_none()
    }

    /// Whether `headers` carry a configured key (always, when none is configured).
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        match &self.keys {
            None => true,
            Some(keys) => presented_key(headers).is_some_and(|key| is_known(keys, &key)),
        }
    }
}

/// Requires a valid key on every route of `router` when `keys` is not empty; logs a warning
/// at start when it is (the service is open). Routes added after this call stay open.
pub fn require_api_key<S>(router: Router<S>, keys: &ApiKeys, service: &'static str) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let check = ApiKeyCheck::new(keys, service);
    if check.is_open() {
        return router;
    }
    router.route_layer(middleware::from_fn(move |request: Request, next: Next| {
        let check = check.clone();
        async move {
            if check.allows(request.headers()) {
                next.run(request).await
            } else {
                unauthorized()
            }
        }
    }))
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

fn is_known(keys: &[Vec<u8>], presented: &[u8]) -> bool {
    // Fold over every key without stopping early.
    keys.iter()
        .fold(subtle::Choice::from(0), |found, key| {
            found | key.as_slice().ct_eq(presented)
        })
        .into()
}

fn unauthorized() -> Response {
    let mut response = json_error(StatusCode::UNAUTHORIZED, API_KEY_REQUIRED);
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_configured_keys_match() {
        let keys = vec![b"alpha".to_vec(), b"beta".to_vec()];
        assert!(is_known(&keys, b"beta"));
        assert!(!is_known(&keys, b"bet"));
        assert!(!is_known(&keys, b""));
        assert!(!is_known(&[], b"alpha"));
    }

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
