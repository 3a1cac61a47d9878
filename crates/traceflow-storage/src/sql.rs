//! SQL text assembled piece by piece, each piece with the values for its `?` placeholders,
//! so that conditions can be added in any order and their values still bind in the right
//! place. Values go through the client's escaping; nothing is spliced into the text.

use clickhouse::{Client, query::Query};
use serde::Serialize;

/// A value bound to a `?`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub(crate) enum Param {
    Text(String),
    Int(i64),
    UInt(u64),
}

impl From<&str> for Param {
    fn from(value: &str) -> Self {
        Param::Text(value.to_owned())
    }
}

impl From<String> for Param {
    fn from(value: String) -> Self {
        Param::Text(value)
    }
}

impl From<i64> for Param {
    fn from(value: i64) -> Self {
        Param::Int(value)
    }
}

impl From<u64> for Param {
    fn from(value: u64) -> Self {
        Param::UInt(value)
    }
}

impl From<u32> for Param {
    fn from(value: u32) -> Self {
        Param::Int(i64::from(value))
    }
}

impl From<u16> for Param {
    fn from(value: u16) -> Self {
        Param::Int(i64::from(value))
    }
}

/// SQL text and its values, in placeholder order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sql {
    text: String,
    params: Vec<Param>,
}

impl Sql {
    pub(crate) fn new(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            params: Vec::new(),
        }
    }

    /// Appends `text`, whose `?` placeholders take `params` in order.
    pub(crate) fn push(&mut self, text: &str, params: impl IntoIterator<Item = Param>) {
        let before = self.params.len();
        self.params.extend(params);
        debug_assert_eq!(
            text.matches('?').count() - text.matches("?fields").count(),
            self.params.len() - before,
            "placeholders and values disagree in {text:?}"
        );
        self.text.push_str(text);
    }

    /// Appends `other` (text and values).
    pub(crate) fn append(&mut self, other: Sql) {
        self.text.push_str(&other.text);
        self.params.extend(other.params);
    }

    pub(crate) fn into_query(self, client: &Client) -> Query {
        self.params
            .into_iter()
            .fold(client.query(&self.text), |query, param| query.bind(param))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_bind_in_placeholder_order_and_are_escaped() {
        let mut sql = Sql::new("SELECT ?fields FROM logs WHERE 1");
        sql.push(" AND a = ?", ["it's".into()]);
        let mut tail = Sql::default();
        tail.push(" AND b > ? AND c < ?", [1u32.into(), (-2i64).into()]);
        sql.append(tail);
        assert_eq!(
            sql.into_query(&Client::default()).sql_display().to_string(),
            r"SELECT ?fields FROM logs WHERE 1 AND a = 'it\'s' AND b > 1 AND c < -2"
        );
    }
}
