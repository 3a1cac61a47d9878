//! `application/x-www-form-urlencoded` query strings, decoded strictly.

/// The `name=value` pairs of a query string, decoded as `url::form_urlencoded` does (`+` is
/// a space, a `%` not followed by two hex digits is kept as is), except that bytes that are
/// not UTF-8 once decoded are an error naming the parameter rather than silently becoming
/// U+FFFD.
pub(super) fn form_pairs(raw: &str) -> impl Iterator<Item = Result<(String, String), String>> + '_ {
    raw.split('&').filter(|pair| !pair.is_empty()).map(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = percent_decode(name).ok_or_else(|| {
            format!("parameter name {name:?} is not valid UTF-8 once percent-decoded")
        })?;
        let value = percent_decode(value)
            .ok_or_else(|| format!("{name} is not valid UTF-8 once percent-decoded"))?;
        Ok((name, value))
    })
}

fn percent_decode(raw: &str) -> Option<String> {
    fn hex(digit: u8) -> Option<u8> {
        (digit as char).to_digit(16).map(|value| value as u8)
    }
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = match bytes[index..] {
            [b'%', high, low, ..] => hex(high).zip(hex(low)).map(|(h, l)| h << 4 | l),
            _ => None,
        };
        match (escaped, bytes[index]) {
            (Some(byte), _) => {
                decoded.push(byte);
                index += 3;
            }
            (None, b'+') => {
                decoded.push(b' ');
                index += 1;
            }
            (None, byte) => {
                decoded.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8(decoded).ok()
}
