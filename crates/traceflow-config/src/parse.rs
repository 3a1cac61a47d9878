//! Reading and validating single environment variables.

use std::{collections::HashMap, net::IpAddr, ops::RangeInclusive, str::FromStr, time::Duration};

/// A configuration value that cannot be used, naming its variable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

/// A snapshot of the variables a config is built from.
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    /// `.env` (if present; real environment variables win) and the process environment.
    pub fn process() -> Self {
        // A missing .env is normal; any other problem with it is not worth failing start-up.
        let _ = dotenvy::dotenv();
        Self::from_pairs(std::env::vars())
    }

    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        Self {
            vars: pairs.into_iter().collect(),
        }
    }

    /// The raw value, with unset and empty both meaning "use the default".
    fn get(&self, variable: &str) -> Option<&str> {
        self.vars
            .get(variable)
            .map(|value| value.trim())
            .filter(|value| !value.is_empty())
    }

    fn error(variable: &'static str, problem: impl Into<String>) -> ConfigError {
        ConfigError {
            variable,
            problem: problem.into(),
        }
    }

    pub(crate) fn string(&self, variable: &'static str, default: &str) -> String {
        self.get(variable).unwrap_or(default).to_owned()
    }

    pub(crate) fn non_empty(
        &self,
        variable: &'static str,
        default: &str,
    ) -> Result<String, ConfigError> {
        let value = self.string(variable, default);
        if value.chars().any(char::is_whitespace) {
            return Err(Self::error(
                variable,
                format!("must not contain spaces, got {value:?}"),
            ));
        }
        Ok(value)
    }

    /// One of `choices` (any case); the first is the default.
    pub(crate) fn one_of(
        &self,
        variable: &'static str,
        choices: &[&'static str],
    ) -> Result<&'static str, ConfigError> {
        let Some(raw) = self.get(variable) else {
            return Ok(choices[0]);
        };
        choices
            .iter()
            .find(|choice| choice.eq_ignore_ascii_case(raw))
            .copied()
            .ok_or_else(|| {
                Self::error(
                    variable,
                    format!("expected one of {}, got {raw:?}", choices.join(", ")),
                )
            })
    }

    pub(crate) fn port(&self, variable: &'static str, default: u16) -> Result<u16, ConfigError> {
        match self.get(variable) {
            None => Ok(default),
            Some(raw) => raw.parse().map_err(|_| {
                Self::error(
                    variable,
                    format!("expected a port number (0-65535), got {raw:?}"),
                )
            }),
        }
    }

    /// A port, or `off` for a listener that is not wanted.
    pub(crate) fn optional_port(
        &self,
        variable: &'static str,
        default: u16,
    ) -> Result<Option<u16>, ConfigError> {
        match self.get(variable) {
            Some(raw) if raw.eq_ignore_ascii_case("off") => Ok(None),
            _ => self.port(variable, default).map(Some),
        }
    }

    pub(crate) fn ip(&self, variable: &'static str, default: &str) -> Result<IpAddr, ConfigError> {
        let raw = self.get(variable).unwrap_or(default);
        raw.parse()
            .map_err(|_| Self::error(variable, format!("expected an IP address, got {raw:?}")))
    }

    pub(crate) fn number<T>(
        &self,
        variable: &'static str,
        default: T,
        range: RangeInclusive<T>,
    ) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + std::fmt::Display + Copy,
    {
        let Some(raw) = self.get(variable) else {
            return Ok(default);
        };
        let value: T = raw
            .parse()
            .map_err(|_| Self::error(variable, format!("expected a whole number, got {raw:?}")))?;
        if !range.contains(&value) {
            return Err(Self::error(
                variable,
                format!(
                    "must be between {} and {}, got {value}",
                    range.start(),
                    range.end()
                ),
            ));
        }
        Ok(value)
    }

    /// `5s`, `250ms`, `1m` (humantime), or a plain number of seconds.
    pub(crate) fn duration(
        &self,
        variable: &'static str,
        default: Duration,
    ) -> Result<Duration, ConfigError> {
        let Some(raw) = self.get(variable) else {
            return Ok(default);
        };
        let parsed = match raw.parse::<u64>() {
            Ok(seconds) => Duration::from_secs(seconds),
            Err(_) => humantime::parse_duration(raw).map_err(|_| {
                Self::error(
                    variable,
                    format!("expected a duration such as 5s or 500ms, got {raw:?}"),
                )
            })?,
        };
        if parsed.is_zero() {
            return Err(Self::error(variable, "must be greater than zero"));
        }
        Ok(parsed)
    }

    pub(crate) fn http_url(
        &self,
        variable: &'static str,
        default: &str,
    ) -> Result<String, ConfigError> {
        let raw = self.get(variable).unwrap_or(default);
        let url = url::Url::parse(raw)
            .map_err(|err| Self::error(variable, format!("not a valid URL ({err}): {raw:?}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(Self::error(
                variable,
                format!("expected an http:// or https:// URL with a host, got {raw:?}"),
            ));
        }
        Ok(raw.trim_end_matches('/').to_owned())
    }

    /// `host:port` or a `redis://` / `rediss://` URL, always returned as a URL.
    pub(crate) fn redis_url(
        &self,
        variable: &'static str,
        default: &str,
    ) -> Result<String, ConfigError> {
        redis_address(variable, self.get(variable).unwrap_or(default))
    }

    /// A comma-separated list of what [`Env::redis_url`] accepts; empty when unset.
    pub(crate) fn redis_urls(&self, variable: &'static str) -> Result<Vec<String>, ConfigError> {
        let Some(raw) = self.get(variable) else {
            return Ok(Vec::new());
        };
        raw.split(',')
            .map(str::trim)
            .filter(|address| !address.is_empty())
            .map(|address| redis_address(variable, address))
            .collect()
    }

    /// `KEYS_FILE`, which must load (see `traceflow_access`), and is not set together with
    /// the service's own list of keys, `list_variable`.
    pub(crate) fn keys_file(
        &self,
        list_variable: &'static str,
    ) -> Result<Option<std::path::PathBuf>, ConfigError> {
        let Some(raw) = self.get("KEYS_FILE") else {
            return Ok(None);
        };
        if self.get(list_variable).is_some() {
            return Err(Self::error(
                "KEYS_FILE",
                format!("set KEYS_FILE or {list_variable}, not both"),
            ));
        }
        let path = std::path::PathBuf::from(raw);
        traceflow_access::Access::load(&path)
            .map_err(|error| Self::error("KEYS_FILE", error.to_string()))?;
        Ok(Some(path))
    }

    /// The tenants' own `retention_days` in `KEYS_FILE`, if it is set (it must load).
    pub(crate) fn tenant_retention_days(
        &self,
    ) -> Result<Vec<(traceflow_access::Tenant, u32)>, ConfigError> {
        let Some(raw) = self.get("KEYS_FILE") else {
            return Ok(Vec::new());
        };
        let access = traceflow_access::Access::load(std::path::Path::new(raw))
            .map_err(|error| Self::error("KEYS_FILE", error.to_string()))?;
        Ok(access
            .tenant_limits()
            .filter_map(|(tenant, limits)| Some((tenant.clone(), limits.retention_days?)))
            .collect())
    }

    /// A tenant's name (see `traceflow_access::Tenant`).
    pub(crate) fn tenant(
        &self,
        variable: &'static str,
    ) -> Result<traceflow_access::Tenant, ConfigError> {
        let Some(raw) = self.get(variable) else {
            return Ok(traceflow_access::Tenant::default_tenant());
        };
        traceflow_access::Tenant::parse(raw.trim()).ok_or_else(|| {
            Self::error(
                variable,
                format!("{}, got {raw:?}", traceflow_access::TENANT_RULE),
            )
        })
    }

    /// A comma-separated list of API keys; unset or empty means none.
    pub(crate) fn api_keys(&self, variable: &'static str) -> Result<crate::ApiKeys, ConfigError> {
        let Some(raw) = self.get(variable) else {
            return Ok(crate::ApiKeys::default());
        };
        let keys: Vec<String> = raw.split(',').map(|key| key.trim().to_owned()).collect();
        // The keys themselves never appear in an error: they are secrets.
        if let Some(position) = keys.iter().position(|key| key.is_empty()) {
            return Err(Self::error(
                variable,
                format!("key {} of {} is empty", position + 1, keys.len()),
            ));
        }
        if let Some(position) = keys
            .iter()
            .position(|key| key.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            return Err(Self::error(
                variable,
                format!(
                    "key {} of {} contains spaces or control characters",
                    position + 1,
                    keys.len()
                ),
            ));
        }
        Ok(crate::ApiKeys::new(keys))
    }

    /// A time zone by its IANA name (`Europe/Berlin`, `UTC`), as the tz database spells it.
    pub(crate) fn timezone(
        &self,
        variable: &'static str,
        default: chrono_tz::Tz,
    ) -> Result<chrono_tz::Tz, ConfigError> {
        let Some(raw) = self.get(variable) else {
            return Ok(default);
        };
        raw.parse().map_err(|_| {
            Self::error(
                variable,
                format!(
                    "expected an IANA time zone name such as UTC or Europe/Berlin, got {raw:?}"
                ),
            )
        })
    }

    /// An identifier as [`Self::identifier`] checks it, or `None` when the variable is unset.
    pub(crate) fn optional_identifier(
        &self,
        variable: &'static str,
    ) -> Result<Option<String>, ConfigError> {
        self.get(variable)
            .map(|raw| self.identifier(variable, raw))
            .transpose()
    }

    /// A ClickHouse identifier that is safe to place in DDL unquoted.
    pub(crate) fn identifier(
        &self,
        variable: &'static str,
        default: &str,
    ) -> Result<String, ConfigError> {
        let raw = self.get(variable).unwrap_or(default);
        let mut chars = raw.chars();
        let valid = chars
            .next()
            .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(Self::error(
                variable,
                format!("expected letters, digits and underscores, got {raw:?}"),
            ));
        }
        Ok(raw.to_owned())
    }
}

fn redis_address(variable: &'static str, raw: &str) -> Result<String, ConfigError> {
    let candidate = if raw.contains("://") {
        raw.to_owned()
    } else {
        format!("redis://{raw}")
    };
    let url = url::Url::parse(&candidate)
        .map_err(|err| Env::error(variable, format!("not a valid address ({err}): {raw:?}")))?;
    if !matches!(url.scheme(), "redis" | "rediss") || url.host_str().is_none() {
        return Err(Env::error(
            variable,
            format!("expected host:port or a redis:// URL, got {raw:?}"),
        ));
    }
    Ok(candidate)
}
