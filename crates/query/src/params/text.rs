//! `q` and `not.q`: the words and quoted phrases a message must (or must not) contain.

/// Most words and phrases one search may have: each is a scan condition on the message.
const MAX_TERMS: usize = 16;

/// Splits `q` (or `not.q`, the parameter `name`) into what must each occur in the message:
/// words separated by white space, and `"quoted phrases"` kept whole (their inner spacing
/// included).
pub(super) fn search_terms(name: &str, raw: &str) -> Result<Vec<String>, String> {
    let mut terms = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in raw.chars() {
        let boundary = c == '"' || (!quoted && c.is_whitespace());
        if boundary {
            if !current.is_empty() {
                terms.push(std::mem::take(&mut current));
            }
            quoted ^= c == '"';
        } else {
            current.push(c);
        }
    }
    if quoted {
        return Err(format!("{name} has an unmatched double quote"));
    }
    if !current.is_empty() {
        terms.push(current);
    }
    if terms.is_empty() {
        return Err(format!("{name} must contain a word or a quoted phrase"));
    }
    if terms.len() > MAX_TERMS {
        return Err(format!(
            "{name} has {} words and phrases; at most {MAX_TERMS} are allowed",
            terms.len()
        ));
    }
    Ok(terms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_quoted_phrases() {
        for (raw, terms) in [
            ("timeout", vec!["timeout"]),
            ("  DB   timeout ", vec!["DB", "timeout"]),
            (r#""connection failed""#, vec!["connection failed"]),
            (
                r#"db "connection  failed" user"#,
                vec!["db", "connection  failed", "user"],
            ),
            (r#"a"b c"d"#, vec!["a", "b c", "d"]),
            (r#""" x"#, vec!["x"]),
            ("50%_off", vec!["50%_off"]),
        ] {
            assert_eq!(search_terms("q", raw).unwrap(), terms, "{raw}");
        }
    }

    #[test]
    fn unusable_searches_are_refused() {
        for (raw, error) in [
            ("", "q must contain a word or a quoted phrase"),
            (r#"  "" "#, "q must contain a word or a quoted phrase"),
            (r#""open"#, "q has an unmatched double quote"),
            (
                "a b c d e f g h i j k l m n o p q",
                "q has 17 words and phrases; at most 16 are allowed",
            ),
        ] {
            assert_eq!(search_terms("q", raw).unwrap_err(), error, "{raw:?}");
        }
        assert_eq!(
            search_terms("not.q", r#""open"#).unwrap_err(),
            "not.q has an unmatched double quote"
        );
    }
}
