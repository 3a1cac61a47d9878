//! A stream's labels as one string, as the legacy JSON form and protobuf carry them:
//! `{job="varlogs", filename="/var/log/syslog"}`, the text of a LogQL stream selector with
//! only `=` matchers. Values are quoted the way Go quotes strings (Promtail and Alloy write
//! them with `strconv.Quote`), or between backticks, raw.

use std::borrow::Cow;
use traceflow_event::Metadata;

/// Why a labels string could not be read, with the byte offset it went wrong at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem} at byte {at}")]
pub struct BadLabels {
    pub problem: String,
    pub at: usize,
}

/// Reads `{name="value", ...}` (whitespace anywhere between the parts, a trailing comma
/// allowed, `{}` for none); a name given twice is refused rather than one value winning.
/// Values without escapes are borrowed.
pub fn parse(text: &str) -> Result<Metadata<'_>, BadLabels> {
    let mut reader = Reader { text, at: 0 };
    let mut labels = Metadata::new();
    reader.skip_space();
    reader.expect(b'{', "expected { to open the labels")?;
    loop {
        reader.skip_space();
        if reader.eat(b'}') {
            break;
        }
        let start = reader.at;
        let name = reader.name()?;
        reader.skip_space();
        reader.expect(b'=', "expected = after the label name")?;
        reader.skip_space();
        let value = reader.value()?;
        if labels.contains_key(name.as_ref()) {
            return Err(BadLabels {
                problem: format!("label {name} is given more than once"),
                at: start,
            });
        }
        labels.insert(name, value);
        reader.skip_space();
        if reader.eat(b'}') {
            break;
        }
        reader.expect(b',', "expected , or } after a label value")?;
    }
    reader.skip_space();
    if reader.at < text.len() {
        return Err(reader.bad("unexpected text after the closing }"));
    }
    Ok(labels)
}

struct Reader<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn bad(&self, problem: &str) -> BadLabels {
        BadLabels {
            problem: problem.to_owned(),
            at: self.at,
        }
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(|byte| byte.is_ascii_whitespace()) {
            self.at += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.at += 1;
        }
        found
    }

    fn expect(&mut self, byte: u8, problem: &str) -> Result<(), BadLabels> {
        if self.eat(byte) {
            Ok(())
        } else {
            Err(self.bad(problem))
        }
    }

    /// A name: an identifier (`[a-zA-Z_][a-zA-Z0-9_]*`, what Loki's label names are), or a
    /// quoted string, as Prometheus writes names that are not identifiers.
    fn name(&mut self) -> Result<Cow<'a, str>, BadLabels> {
        if self.peek() == Some(b'"') {
            return self.value();
        }
        let start = self.at;
        while self
            .peek()
            .is_some_and(|byte| byte == b'_' || byte.is_ascii_alphanumeric())
        {
            self.at += 1;
        }
        let name = &self.text[start..self.at];
        if name.is_empty() || name.as_bytes()[0].is_ascii_digit() {
            self.at = start;
            return Err(
                self.bad("expected a label name (letters, digits and _, not first a digit)")
            );
        }
        Ok(Cow::Borrowed(name))
    }

    /// A quoted value: `"..."` with Go's escapes, or `` `...` `` taken as it is.
    fn value(&mut self) -> Result<Cow<'a, str>, BadLabels> {
        let quote = match self.peek() {
            Some(quote @ (b'"' | b'`')) => quote,
            _ => return Err(self.bad("expected a quoted label value")),
        };
        let start = self.at;
        self.at += 1;
        let rest = &self.text[self.at..];
        let end = if quote == b'`' {
            rest.find('`')
        } else {
            closing_quote(rest)
        };
        let Some(end) = end else {
            self.at = start;
            return Err(self.bad("the quoted label value is not closed"));
        };
        let inside = &rest[..end];
        self.at += end + 1;
        if quote == b'"' && inside.contains('\\') {
            Ok(Cow::Owned(unescape(inside)))
        } else {
            Ok(Cow::Borrowed(inside))
        }
    }
}

/// Where the `"` that closes a value starting at `text` is: the first one not escaped.
fn closing_quote(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'\\' => at += 2,
            b'"' => return Some(at),
            _ => at += 1,
        }
    }
    None
}

/// A Go-quoted string's content without its escapes (`\n`, `\"`, `\\`, `\t`, `\u00e9`,
/// ...). An escape Go does not have is kept as written: python-logging-loki escapes only
/// the quotes, so a Windows path's backslashes arrive bare.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.char_indices();
    while let Some((at, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some((_, escape)) = chars.next() else {
            out.push('\\');
            break;
        };
        let simple = match escape {
            'a' => Some('\u{7}'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\u{b}'),
            '\\' | '"' | '\'' => Some(escape),
            _ => None,
        };
        if let Some(simple) = simple {
            out.push(simple);
            continue;
        }
        // `\xHH`, `\uHHHH`, `\UHHHHHHHH` and octal `\NNN`: a code point, when it is one.
        let (first, digits, radix) = match escape {
            'x' => (at + 2, 2, 16),
            'u' => (at + 2, 4, 16),
            'U' => (at + 2, 8, 16),
            // The first digit is the escape itself.
            '0'..='7' => (at + 1, 3, 8),
            _ => (at, 0, 0),
        };
        let coded = text
            .get(first..first + digits)
            .filter(|code| digits > 0 && code.chars().all(|digit| digit.is_digit(radix)))
            .and_then(|code| u32::from_str_radix(code, radix).ok())
            // A byte escape above ASCII is part of a UTF-8 sequence, not a character.
            .filter(|code| matches!(escape, 'u' | 'U') || *code < 0x80)
            .and_then(char::from_u32);
        match coded {
            Some(coded) => {
                out.push(coded);
                let read = if radix == 8 { 1 } else { 0 };
                for _ in read..digits {
                    chars.next();
                }
            }
            None => {
                out.push('\\');
                out.push(escape);
            }
        }
    }
    out
}

/// Labels as answers show them, in the labels-string form, cut when long.
pub fn shown(labels: &Metadata<'_>) -> String {
    const SHOWN: usize = 200;
    let pairs: Vec<String> = labels
        .iter()
        .map(|(name, value)| format!("{name}={value:?}"))
        .collect();
    let text = format!("{{{}}}", pairs.join(", "));
    match text.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}...}}", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse(text)
            .unwrap()
            .into_iter()
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect()
    }

    #[test]
    fn labels_as_promtail_and_python_logging_loki_write_them() {
        assert_eq!(
            pairs(r#"{filename="/var/log/syslog", job="varlogs"}"#),
            [
                ("filename".into(), "/var/log/syslog".into()),
                ("job".into(), "varlogs".into())
            ]
        );
        assert_eq!(
            pairs(r#"{severity="info",logger="app",application="a \"b\""}"#),
            [
                ("application".into(), r#"a "b""#.into()),
                ("logger".into(), "app".into()),
                ("severity".into(), "info".into())
            ]
        );
        assert_eq!(pairs("{}"), []);
        assert_eq!(
            pairs("  { a = `raw \\n` , }  "),
            [("a".into(), "raw \\n".into())]
        );
        assert_eq!(
            pairs(r#"{"service.name"="x", _b2="y"}"#),
            [
                ("_b2".into(), "y".into()),
                ("service.name".into(), "x".into())
            ]
        );
    }

    #[test]
    fn go_escapes_are_undone_and_unknown_ones_kept() {
        assert_eq!(
            pairs(r#"{a="line\nnext\ttab \\ \u00e9\x41\101 \U0001F600"}"#),
            [("a".into(), "line\nnext\ttab \\ éAA 😀".into())]
        );
        assert_eq!(
            pairs(r#"{path="C:\Users\new"}"#),
            [("path".into(), "C:\\Users\new".into())]
        );
        assert_eq!(pairs(r#"{a="\xff"}"#), [("a".into(), "\\xff".into())]);
        // Borrowed when there is nothing to undo.
        let labels = parse(r#"{a="plain"}"#).unwrap();
        assert!(matches!(labels["a"], Cow::Borrowed(_)));
    }

    #[test]
    fn malformed_labels_say_where() {
        let error = |text| parse(text).unwrap_err().to_string();
        for (labels, expected) in [
            (r#"job="x""#, "expected { to open the labels at byte 0"),
            (r#"{job "x"}"#, "expected = after the label name at byte 5"),
            (r#"{job=x}"#, "expected a quoted label value at byte 5"),
            (
                r#"{job="x}"#,
                "the quoted label value is not closed at byte 5",
            ),
            (
                r#"{job="x" a="b"}"#,
                "expected , or } after a label value at byte 9",
            ),
            (
                r#"{1a="x"}"#,
                "expected a label name (letters, digits and _, not first a digit) at byte 1",
            ),
            (
                r#"{a="x", a="y"}"#,
                "label a is given more than once at byte 8",
            ),
            (
                r#"{a="x"} extra"#,
                "unexpected text after the closing } at byte 8",
            ),
            ("", "expected { to open the labels at byte 0"),
        ] {
            assert_eq!(error(labels), expected, "{labels}");
        }
    }

    #[test]
    fn labels_are_shown_quoted_and_cut() {
        let labels = parse(r#"{job="a \"b\"", app="x"}"#).unwrap();
        assert_eq!(shown(&labels), r#"{app="x", job="a \"b\""}"#);
        let long = format!(r#"{{a="{}"}}"#, "x".repeat(500));
        let text = shown(&parse(&long).unwrap());
        assert!(text.ends_with("...}") && text.len() < 220, "{text}");
    }
}
