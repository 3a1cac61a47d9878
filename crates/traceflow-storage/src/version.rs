//! The server's version and what follows from it.

use std::{fmt, str::FromStr};

/// `major.minor` of the ClickHouse server, e.g. 18.16 or 25.8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ServerVersion {
    pub major: u32,
    pub minor: u32,
}

impl ServerVersion {
    pub const fn new(major: u32, minor: u32) -> Self {
        Self { major, minor }
    }

    /// Before 19.x LowCardinality was experimental and had to be enabled per query.
    pub fn needs_low_cardinality_setting(self) -> bool {
        self < Self::new(19, 0)
    }
}

impl fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl FromStr for ServerVersion {
    type Err = ();

    /// Accepts what `SELECT version()` answers: `18.16.1`, `25.8.2.29`.
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let mut parts = raw.trim().split('.');
        let major = parts.next().ok_or(())?.parse().map_err(|_| ())?;
        let minor = parts.next().ok_or(())?.parse().map_err(|_| ())?;
        Ok(Self { major, minor })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_old_and_new_versions() {
        assert_eq!("18.16.1".parse(), Ok(ServerVersion::new(18, 16)));
        assert_eq!("25.8.2.29".parse(), Ok(ServerVersion::new(25, 8)));
        assert!("banana".parse::<ServerVersion>().is_err());
    }

    #[test]
    fn only_old_servers_need_the_low_cardinality_setting() {
        assert!(ServerVersion::new(18, 16).needs_low_cardinality_setting());
        assert!(!ServerVersion::new(25, 8).needs_low_cardinality_setting());
    }
}
