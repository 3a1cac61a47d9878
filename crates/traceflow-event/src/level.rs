//! Severity.

use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};

/// Severity, stored upper-case. TRACE and FATAL extend the original four (DEBUG, INFO, WARN,
/// ERROR) so that OpenTelemetry and syslog severities map onto it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

impl Level {
    pub const ALL: [Level; 6] = [
        Level::Trace,
        Level::Debug,
        Level::Info,
        Level::Warn,
        Level::Error,
        Level::Fatal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
            Level::Fatal => "FATAL",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error names the accepted values, so it can be shown to a client as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL (any case), got {0:?}")]
pub struct UnknownLevel(pub String);

impl FromStr for Level {
    type Err = UnknownLevel;

    /// Case-insensitive.
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Level::ALL
            .into_iter()
            .find(|level| level.as_str().eq_ignore_ascii_case(raw))
            .ok_or_else(|| UnknownLevel(raw.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_in_any_case() {
        assert_eq!("warn".parse::<Level>().unwrap(), Level::Warn);
        assert_eq!("Fatal".parse::<Level>().unwrap(), Level::Fatal);
        assert_eq!(
            "LOUD".parse::<Level>().unwrap_err().to_string(),
            "must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL (any case), got \"LOUD\""
        );
    }
}
