//! One syslog message, RFC 5424 or RFC 3164, read into its parts. Pure: no clock and no time
//! zone (an RFC 3164 time stays as written; `map` places it in a year and a zone).
//!
//! Both formats start with `<PRI>`. `<PRI>1 ` starts an RFC 5424 message, read strictly: a
//! header that breaks the RFC's grammar makes the line malformed. Anything else after the
//! PRI is RFC 3164, read leniently as its section 4.3 tells a relay to: a TIMESTAMP if there
//! is one (`Mmm dd hh:mm:ss`, with a year or fractional seconds as some senders add them, or
//! an RFC 3339 time as rsyslog's and syslog-ng's ISO templates write it), then a HOSTNAME,
//! then `TAG[PID]: ` if the content starts with one, and the rest is the message. A line
//! without a PRI is malformed: RFC 3164 lets a relay invent one, but on a port that only
//! syslog senders should reach, such a line is far more often something that is not syslog
//! at all (a probe, a TLS handshake, an HTTP request) than a message worth keeping.

use chrono::{DateTime, FixedOffset, NaiveTime};
use std::borrow::Cow;

/// The facility and severity a message's PRI encodes (`PRI = facility * 8 + severity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Priority {
    pub facility: u8,
    pub severity: u8,
}

/// The facilities' names as syslog(3) and rsyslog spell them, by number.
const FACILITIES: [&str; 24] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
    "ftp", "ntp", "audit", "alert", "clock", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
];

/// The severities' names as syslog(3) and rsyslog spell them, by number.
const SEVERITIES: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

impl Priority {
    /// The PRI value's parts; `None` beyond the 24 facilities RFC 5424 defines.
    pub fn from_value(value: u32) -> Option<Self> {
        (value <= 191).then_some(Self {
            facility: (value / 8) as u8,
            severity: (value % 8) as u8,
        })
    }

    pub fn facility_name(self) -> &'static str {
        FACILITIES[usize::from(self.facility)]
    }

    pub fn severity_name(self) -> &'static str {
        SEVERITIES[usize::from(self.severity)]
    }
}

/// A message's time as its header gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stamp {
    /// RFC 5424's NILVALUE, or an RFC 3164 header without a TIMESTAMP: the time it arrives.
    Missing,
    /// A time with its offset: RFC 5424's TIMESTAMP, or RFC 3339 text in an RFC 3164 header.
    Exact(DateTime<FixedOffset>),
    /// RFC 3164's `Mmm dd hh:mm:ss`: a local time, in no zone the message says, and with a
    /// year only where the sender added one.
    Local {
        year: Option<i32>,
        month: u32,
        day: u32,
        time: NaiveTime,
    },
}

/// One SD-ELEMENT: its SD-ID and its parameters in order (a name may repeat).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element<'a> {
    pub id: &'a str,
    pub params: Vec<(&'a str, Cow<'a, str>)>,
}

/// Which RFC a message followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Rfc5424,
    Rfc3164,
}

/// A syslog message's parts, text borrowed from the line; a missing part (absent, or
/// RFC 5424's NILVALUE `-`) is `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    pub format: Format,
    pub priority: Priority,
    pub stamp: Stamp,
    pub hostname: Option<&'a str>,
    /// RFC 5424's APP-NAME, or RFC 3164's TAG.
    pub app_name: Option<&'a str>,
    /// RFC 5424's PROCID, or the PID in RFC 3164's `TAG[PID]:`.
    pub proc_id: Option<&'a str>,
    pub msg_id: Option<&'a str>,
    pub structured_data: Vec<Element<'a>>,
    /// The STRUCTURED-DATA as written (RFC 5424 only), for a message that has nothing else.
    pub structured_text: Option<&'a str>,
    /// The MSG, without a leading byte order mark (or, in RFC 5424, a second leading space);
    /// `None` when empty.
    pub message: Option<&'a str>,
}

/// Why a line is not a syslog message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("the line does not start with a <PRI> (such as <13>)")]
    NoPriority,
    #[error("PRI {0} is out of range (0 to 191)")]
    PriorityOutOfRange(u32),
    #[error("the RFC 5424 header ends before its {0}")]
    Truncated(&'static str),
    #[error("the RFC 5424 {0} is empty (two spaces in a row)")]
    EmptyField(&'static str),
    #[error("the RFC 5424 TIMESTAMP {0:?} is not an RFC 3339 time")]
    Timestamp(String),
    #[error("the RFC 5424 STRUCTURED-DATA is malformed: {0}")]
    StructuredData(&'static str),
}

/// Reads one message (its framing and trailing line end already taken off).
pub fn parse(line: &str) -> Result<Message<'_>, Malformed> {
    let (priority, rest) = priority(line)?;
    match rest.strip_prefix("1 ") {
        Some(header) => rfc5424(priority, header),
        None => Ok(rfc3164(priority, rest)),
    }
}

/// `<PRI>` and what follows it.
fn priority(line: &str) -> Result<(Priority, &str), Malformed> {
    let inner = line.strip_prefix('<').ok_or(Malformed::NoPriority)?;
    let close = inner
        .bytes()
        .take(4)
        .position(|byte| byte == b'>')
        .ok_or(Malformed::NoPriority)?;
    let digits = &inner[..close];
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(Malformed::NoPriority);
    }
    let value: u32 = digits.parse().map_err(|_| Malformed::NoPriority)?;
    let priority = Priority::from_value(value).ok_or(Malformed::PriorityOutOfRange(value))?;
    Ok((priority, &inner[close + 1..]))
}

/// One space-terminated RFC 5424 header field; `None` for the NILVALUE.
fn field<'a>(rest: &'a str, name: &'static str) -> Result<(Option<&'a str>, &'a str), Malformed> {
    let (value, rest) = rest.split_once(' ').ok_or(Malformed::Truncated(name))?;
    match value {
        "" => Err(Malformed::EmptyField(name)),
        "-" => Ok((None, rest)),
        value => Ok((Some(value), rest)),
    }
}

/// `TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP STRUCTURED-DATA [SP MSG]`.
fn rfc5424(priority: Priority, header: &str) -> Result<Message<'_>, Malformed> {
    let (timestamp, rest) = field(header, "TIMESTAMP")?;
    let stamp = match timestamp {
        None => Stamp::Missing,
        // RFC 5424 allows at most six fractional digits; more (nanoseconds, as some
        // libraries send) are read rather than refused.
        Some(text) => Stamp::Exact(
            DateTime::parse_from_rfc3339(text)
                .map_err(|_| Malformed::Timestamp(text.to_owned()))?,
        ),
    };
    let (hostname, rest) = field(rest, "HOSTNAME")?;
    let (app_name, rest) = field(rest, "APP-NAME")?;
    let (proc_id, rest) = field(rest, "PROCID")?;
    let (msg_id, rest) = field(rest, "MSGID")?;
    let (structured_data, structured_text, rest) = structured_data(rest)?;
    let message = match rest.strip_prefix(' ') {
        // rsyslog's RFC 5424 templates put the MSG of a message it read as RFC 3164 after
        // a second space (its msg property keeps the space after the tag's colon).
        Some(message) => text(message.strip_prefix(' ').unwrap_or(message)),
        None if rest.is_empty() => None,
        None => {
            return Err(Malformed::StructuredData(
                "it must be followed by a space and the MSG, or end the line",
            ));
        }
    };
    Ok(Message {
        format: Format::Rfc5424,
        priority,
        stamp,
        hostname,
        app_name,
        proc_id,
        msg_id,
        structured_data,
        structured_text,
        message,
    })
}

/// A message's text without a leading byte order mark (RFC 5424 marks UTF-8 MSGs with one);
/// `None` when nothing is left.
fn text(message: &str) -> Option<&str> {
    let message = message.strip_prefix('\u{feff}').unwrap_or(message);
    (!message.is_empty()).then_some(message)
}

type StructuredData<'a> = (Vec<Element<'a>>, Option<&'a str>, &'a str);

/// `-`, or one or more `[SD-ID *(SP PARAM-NAME="PARAM-VALUE")]`; the elements, their text,
/// and what follows them.
fn structured_data(rest: &str) -> Result<StructuredData<'_>, Malformed> {
    if let Some(after) = rest.strip_prefix('-') {
        return Ok((Vec::new(), None, after));
    }
    if !rest.starts_with('[') {
        return Err(Malformed::StructuredData("it must be - or start with ["));
    }
    let mut elements = Vec::new();
    let mut cursor = rest;
    while let Some(inside) = cursor.strip_prefix('[') {
        let (id, mut after) = sd_name(inside);
        if id.is_empty() {
            return Err(Malformed::StructuredData(
                "an element must start with its SD-ID",
            ));
        }
        let mut params = Vec::new();
        loop {
            if let Some(next) = after.strip_prefix(']') {
                after = next;
                break;
            }
            let Some(param) = after.strip_prefix(' ') else {
                return Err(Malformed::StructuredData(
                    "parameters must be separated by spaces and the element closed with ]",
                ));
            };
            let (name, param) = sd_name(param);
            if name.is_empty() {
                return Err(Malformed::StructuredData("a parameter must have a name"));
            }
            let quoted = param.strip_prefix("=\"").ok_or(Malformed::StructuredData(
                "a parameter must be written name=\"value\"",
            ))?;
            let (value, next) = param_value(quoted)?;
            params.push((name, value));
            after = next;
        }
        elements.push(Element { id, params });
        cursor = after;
    }
    let text = &rest[..rest.len() - cursor.len()];
    Ok((elements, Some(text), cursor))
}

/// An SD-NAME (an SD-ID or a PARAM-NAME): up to a space, `=`, `]` or `"`.
fn sd_name(text: &str) -> (&str, &str) {
    let end = text.find([' ', '=', ']', '"']).unwrap_or(text.len());
    text.split_at(end)
}

/// A PARAM-VALUE up to its closing quote, with `\"`, `\\` and `\]` unescaped; a backslash
/// before any other character stays, as RFC 5424 section 6.3.3 says.
fn param_value(quoted: &str) -> Result<(Cow<'_, str>, &str), Malformed> {
    let mut owned: Option<String> = None;
    let mut chars = quoted.char_indices();
    let mut plain_until = 0;
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => {
                let value = match owned {
                    Some(mut value) => {
                        value.push_str(&quoted[plain_until..at]);
                        Cow::Owned(value)
                    }
                    None => Cow::Borrowed(&quoted[..at]),
                };
                return Ok((value, &quoted[at + 1..]));
            }
            '\\' => {
                if let Some((next_at, escaped @ ('"' | '\\' | ']'))) = chars.clone().next() {
                    let value = owned.get_or_insert_with(String::new);
                    value.push_str(&quoted[plain_until..at]);
                    value.push(escaped);
                    chars.next();
                    plain_until = next_at + 1;
                }
            }
            _ => {}
        }
    }
    Err(Malformed::StructuredData(
        "a parameter value is not closed with \"",
    ))
}

/// RFC 3164: `[TIMESTAMP SP HOSTNAME SP] [TAG[PID]: ]CONTENT`, every part optional.
fn rfc3164(priority: Priority, rest: &str) -> Message<'_> {
    let (stamp, hostname, content) = match stamp_3164(rest) {
        Some((stamp, after)) => {
            let after = after.trim_start_matches(' ');
            // A sender writing to a local socket leaves the HOSTNAME out: a TAG right after
            // the TIMESTAMP says so.
            if tag(after).is_some() {
                (stamp, None, after)
            } else {
                match after.split_once(' ') {
                    Some((hostname, content)) => (stamp, Some(hostname), content),
                    None => (stamp, (!after.is_empty()).then_some(after), ""),
                }
            }
        }
        // Without a TIMESTAMP, RFC 3164 section 4.3.2 reads all of it as the content.
        None => (Stamp::Missing, None, rest),
    };
    let (app_name, proc_id, content) = match tag(content) {
        Some((tag, pid, content)) => (Some(tag), pid, content),
        None => (None, None, content),
    };
    Message {
        format: Format::Rfc3164,
        priority,
        stamp,
        hostname,
        app_name,
        proc_id,
        msg_id: None,
        structured_data: Vec::new(),
        structured_text: None,
        message: text(content),
    }
}

/// The longest TAG read as one: RFC 5424's APP-NAME limit (RFC 3164 says 32, which
/// systemd's unit names and rsyslog's own tags already pass).
const MAX_TAG: usize = 48;

/// `TAG: `, `TAG[PID]: ` or `TAG[PID] ` at the start of the content: the tag, the pid, and
/// the message after it. Without the colon (or the bracketed pid) the first word is content,
/// as in RFC 3164's "Use the BFG!" example.
fn tag(content: &str) -> Option<(&str, Option<&str>, &str)> {
    let end = content.find([':', '[', ' '])?;
    let tag = &content[..end];
    if tag.is_empty() || tag.len() > MAX_TAG || tag.contains(']') {
        return None;
    }
    let mut rest = &content[end..];
    let mut pid = None;
    if let Some(bracketed) = rest.strip_prefix('[') {
        let close = bracketed.find(']')?;
        let inside = &bracketed[..close];
        if inside.is_empty() || inside.contains(' ') {
            return None;
        }
        pid = Some(inside);
        rest = &bracketed[close + 1..];
    }
    if let Some(after) = rest.strip_prefix(':') {
        // `tag:` must end the line or be followed by a space, so that `http://` or
        // `12:00` at the start of a message is not taken for a tag.
        return match after.strip_prefix(' ') {
            Some(message) => Some((tag, pid, message)),
            None if after.is_empty() => Some((tag, pid, after)),
            None => None,
        };
    }
    match (pid, rest.strip_prefix(' ')) {
        (Some(pid), Some(message)) => Some((tag, Some(pid), message)),
        _ => None,
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// An RFC 3164 TIMESTAMP at the start of `rest`, and what follows its space.
fn stamp_3164(rest: &str) -> Option<(Stamp, &str)> {
    let (first, after) = rest.split_once(' ').unwrap_or((rest, ""));
    if first.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        let time = DateTime::parse_from_rfc3339(first).ok()?;
        return Some((Stamp::Exact(time), after));
    }
    bsd_stamp(rest)
}

/// `Mmm dd hh:mm:ss` (the day space-padded, zero-padded or a single digit), optionally with
/// a year before the time (`Mmm dd yyyy hh:mm:ss`, as Cisco writes it) and fractional
/// seconds.
fn bsd_stamp(rest: &str) -> Option<(Stamp, &str)> {
    let month = MONTHS.iter().position(|name| {
        rest.get(..3)
            .is_some_and(|month| month.eq_ignore_ascii_case(name))
    })?;
    let rest = rest.get(3..)?.strip_prefix(' ')?;
    // A single-digit day is padded with a space ("Feb  5"), or not ("Feb 5").
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    let (day, rest) = rest.split_once(' ')?;
    let day: u32 = number(day, 1..=2)?;
    let (year, rest) = match rest.split_once(' ') {
        Some((year, after)) if year.len() == 4 && !year.contains(':') => {
            (Some(number(year, 4..=4)? as i32), after)
        }
        _ => (None, rest),
    };
    let (clock, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let (clock, fraction) = clock.split_once('.').unwrap_or((clock, ""));
    let mut parts = clock.splitn(3, ':');
    let (hour, minute, second) = (
        number(parts.next()?, 2..=2)?,
        number(parts.next()?, 2..=2)?,
        number(parts.next()?, 2..=2)?,
    );
    let nanos = if fraction.is_empty() {
        0
    } else {
        let digits = number(fraction, 1..=9)?;
        digits * 10u32.pow(9 - fraction.len() as u32)
    };
    // A leap second is the last instant of its minute, as chrono writes it.
    let time = match second {
        60 => NaiveTime::from_hms_nano_opt(hour, minute, 59, 1_000_000_000 + nanos),
        _ => NaiveTime::from_hms_nano_opt(hour, minute, second, nanos),
    }?;
    if !(1..=31).contains(&day) {
        return None;
    }
    let stamp = Stamp::Local {
        year,
        month: month as u32 + 1,
        day,
        time,
    };
    Some((stamp, rest))
}

/// Decimal digits, as many as `digits` allows.
fn number(text: &str, digits: std::ops::RangeInclusive<usize>) -> Option<u32> {
    (digits.contains(&text.len()) && text.bytes().all(|byte| byte.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Stamp {
        Stamp::Exact(DateTime::parse_from_rfc3339(text).unwrap())
    }

    fn local(month: u32, day: u32, clock: &str) -> Stamp {
        Stamp::Local {
            year: None,
            month,
            day,
            time: clock.parse().unwrap(),
        }
    }

    fn priority_of(value: u32) -> Priority {
        Priority::from_value(value).unwrap()
    }

    fn rfc5424_message(priority: u32, stamp: Stamp) -> Message<'static> {
        Message {
            format: Format::Rfc5424,
            priority: priority_of(priority),
            stamp,
            hostname: None,
            app_name: None,
            proc_id: None,
            msg_id: None,
            structured_data: Vec::new(),
            structured_text: None,
            message: None,
        }
    }

    fn rfc3164_message(priority: u32, stamp: Stamp) -> Message<'static> {
        Message {
            format: Format::Rfc3164,
            ..rfc5424_message(priority, stamp)
        }
    }

    fn element<'a>(id: &'a str, params: &[(&'a str, &'a str)]) -> Element<'a> {
        Element {
            id,
            params: params
                .iter()
                .map(|&(name, value)| (name, Cow::Borrowed(value)))
                .collect(),
        }
    }

    #[test]
    fn the_pri_gives_facility_and_severity_by_name() {
        let pri = priority_of(34);
        assert_eq!((pri.facility, pri.severity), (4, 2));
        assert_eq!((pri.facility_name(), pri.severity_name()), ("auth", "crit"));
        let pri = priority_of(165);
        assert_eq!(
            (pri.facility_name(), pri.severity_name()),
            ("local4", "notice")
        );
        let pri = priority_of(191);
        assert_eq!(
            (pri.facility_name(), pri.severity_name()),
            ("local7", "debug")
        );
        let pri = priority_of(0);
        assert_eq!(
            (pri.facility_name(), pri.severity_name()),
            ("kern", "emerg")
        );
        assert_eq!(
            parse("<192>1 - - - - - - m"),
            Err(Malformed::PriorityOutOfRange(192))
        );
        for line in ["", "no pri", "<>x", "<1a>x", "<1234>x", "13>x", "<13"] {
            assert_eq!(parse(line), Err(Malformed::NoPriority), "{line:?}");
        }
        // Leading zeros are read as the number they write.
        assert_eq!(parse("<013>x").unwrap().priority, priority_of(13));
    }

    // RFC 5424 section 6.5, example 1: no STRUCTURED-DATA, a BOM before the MSG.
    #[test]
    fn rfc5424_example_1() {
        let line = "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \u{feff}'su root' failed for lonvick on /dev/pts/8";
        assert_eq!(
            parse(line).unwrap(),
            Message {
                hostname: Some("mymachine.example.com"),
                app_name: Some("su"),
                msg_id: Some("ID47"),
                message: Some("'su root' failed for lonvick on /dev/pts/8"),
                ..rfc5424_message(34, at("2003-10-11T22:14:15.003Z"))
            }
        );
    }

    // Example 2: a PROCID, an offset and microseconds, no BOM.
    #[test]
    fn rfc5424_example_2() {
        let line = "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.";
        assert_eq!(
            parse(line).unwrap(),
            Message {
                hostname: Some("192.0.2.1"),
                app_name: Some("myproc"),
                proc_id: Some("8710"),
                message: Some("%% It's time to make the do-nuts."),
                ..rfc5424_message(165, at("2003-08-24T05:14:15.000003-07:00"))
            }
        );
    }

    // Example 3: STRUCTURED-DATA and a MSG.
    #[test]
    fn rfc5424_example_3() {
        let sd = r#"[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]"#;
        let line = format!(
            "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 {sd} \u{feff}An application event log entry..."
        );
        assert_eq!(
            parse(&line).unwrap(),
            Message {
                hostname: Some("mymachine.example.com"),
                app_name: Some("evntslog"),
                msg_id: Some("ID47"),
                structured_data: vec![element(
                    "exampleSDID@32473",
                    &[
                        ("iut", "3"),
                        ("eventSource", "Application"),
                        ("eventID", "1011")
                    ]
                )],
                structured_text: Some(sd),
                message: Some("An application event log entry..."),
                ..rfc5424_message(165, at("2003-10-11T22:14:15.003Z"))
            }
        );
    }

    // Example 4: STRUCTURED-DATA only, two elements, no MSG.
    #[test]
    fn rfc5424_example_4() {
        let sd = r#"[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]"#;
        let line =
            format!("<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 {sd}");
        let message = parse(&line).unwrap();
        assert_eq!(
            message.structured_data,
            [
                element(
                    "exampleSDID@32473",
                    &[
                        ("iut", "3"),
                        ("eventSource", "Application"),
                        ("eventID", "1011")
                    ]
                ),
                element("examplePriority@32473", &[("class", "high")]),
            ]
        );
        assert_eq!(message.structured_text, Some(sd));
        assert_eq!(message.message, None);
    }

    // Section 6.3.5: the STRUCTURED-DATA examples, valid and invalid.
    #[test]
    fn rfc5424_structured_data_examples() {
        // The number of elements and the MSG.
        let with = |sd: &str| {
            parse(&format!("<13>1 - - - - - {sd}")).map(|message| {
                (
                    message.structured_data.len(),
                    message.message.map(str::to_owned),
                )
            })
        };
        // Example 1 and 2 are valid.
        let one = r#"[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]"#;
        assert_eq!(with(one), Ok((1, None)));
        let two = r#"[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]"#;
        assert_eq!(with(two), Ok((2, None)));
        // Example 3: a space between the elements ends the STRUCTURED-DATA there; what
        // follows is the MSG, as RFC 5424's grammar reads it.
        let spaced = r#"[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] [examplePriority@32473 class="high"]"#;
        assert_eq!(
            with(spaced),
            Ok((
                1,
                Some(r#"[examplePriority@32473 class="high"]"#.to_owned())
            ))
        );
        // Example 4: a space after the bracket leaves the element without an SD-ID.
        let bad = r#"[ exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]"#;
        assert_eq!(
            with(bad),
            Err(Malformed::StructuredData(
                "an element must start with its SD-ID"
            ))
        );
    }

    // Section 6.3.3: `"`, `\` and `]` are escaped in values; any other backslash stays.
    #[test]
    fn param_values_are_unescaped_as_rfc5424_says() {
        let message =
            parse(r#"<13>1 - - - - - [id@1 a="x\"y" b="back\\slash" c="\]" d="C:\temp\n" e=""] m"#)
                .unwrap();
        let params: Vec<(&str, &str)> = message.structured_data[0]
            .params
            .iter()
            .map(|(name, value)| (*name, value.as_ref()))
            .collect();
        assert_eq!(
            params,
            [
                ("a", r#"x"y"#),
                ("b", r"back\slash"),
                ("c", "]"),
                ("d", r"C:\temp\n"),
                ("e", ""),
            ]
        );
        assert_eq!(message.message, Some("m"));
        // An unescaped `]` inside the quotes is part of the value (senders that forget to
        // escape it are common), and a repeated name is kept twice.
        let message = parse(r#"<13>1 - - - - - [id@1 x="a]b" x="c"]"#).unwrap();
        assert_eq!(
            message.structured_data,
            [element("id@1", &[("x", "a]b"), ("x", "c")])]
        );
    }

    #[test]
    fn malformed_structured_data_is_named() {
        let cases = [
            (
                "[id@1",
                "parameters must be separated by spaces and the element closed with ]",
            ),
            ("[id@1 a]", "a parameter must be written name=\"value\""),
            ("[id@1 a=b]", "a parameter must be written name=\"value\""),
            ("[id@1 a=\"b]", "a parameter value is not closed with \""),
            ("[id@1  a=\"b\"]", "a parameter must have a name"),
            (
                "[id@1 a=\"b\"]x",
                "it must be followed by a space and the MSG, or end the line",
            ),
            (
                "[id@1 a=\"b\"c=\"d\"]",
                "parameters must be separated by spaces and the element closed with ]",
            ),
            ("{}", "it must be - or start with ["),
            (
                "-x",
                "it must be followed by a space and the MSG, or end the line",
            ),
        ];
        for (sd, problem) in cases {
            assert_eq!(
                parse(&format!("<13>1 - - - - - {sd}")),
                Err(Malformed::StructuredData(problem)),
                "{sd}"
            );
        }
    }

    // Section 6.2.3.1: the TIMESTAMP examples.
    #[test]
    fn rfc5424_timestamp_examples() {
        let with =
            |stamp: &str| parse(&format!("<13>1 {stamp} - - - - - m")).map(|message| message.stamp);
        for valid in [
            "1985-04-12T23:20:50.52Z",
            "1985-04-12T19:20:50.52-04:00",
            "2003-10-11T22:14:15.003Z",
            "2003-08-24T05:14:15.000003-07:00",
        ] {
            assert_eq!(with(valid), Ok(at(valid)), "{valid}");
        }
        // Example 5 has nine fractional digits, which RFC 5424 forbids; read anyway.
        assert_eq!(
            with("2003-08-24T05:14:15.000000003-07:00"),
            Ok(at("2003-08-24T05:14:15.000000003-07:00"))
        );
        assert_eq!(with("-"), Ok(Stamp::Missing));
        assert_eq!(
            with("Oct 11 22:14:15"),
            Err(Malformed::Timestamp("Oct".to_owned()))
        );
        assert_eq!(
            with("2003-10-11T22:14:15"),
            Err(Malformed::Timestamp("2003-10-11T22:14:15".to_owned()))
        );
    }

    #[test]
    fn an_rfc5424_header_needs_every_field() {
        assert_eq!(
            parse("<13>1 2003-10-11T22:14:15.003Z host app"),
            Err(Malformed::Truncated("APP-NAME"))
        );
        assert_eq!(parse("<13>1 - - - - "), Err(Malformed::Truncated("MSGID")));
        assert_eq!(
            parse("<13>1 -  app - - - m"),
            Err(Malformed::EmptyField("HOSTNAME"))
        );
        // Every field NIL, and no MSG.
        assert_eq!(
            parse("<13>1 - - - - - -").unwrap(),
            rfc5424_message(13, Stamp::Missing)
        );
        // An empty MSG after the space is no MSG.
        assert_eq!(parse("<13>1 - - - - - - ").unwrap().message, None);
        // One more space before the MSG, as rsyslog forwards it, is not part of it.
        assert_eq!(
            parse("<173>1 2026-12-01T22:58:44.844644+00:00 vm myapp 99 - -  hello there")
                .unwrap()
                .message,
            Some("hello there")
        );
        assert_eq!(
            parse("<13>1 - - - - - -   two").unwrap().message,
            Some(" two")
        );
    }

    // RFC 3164 section 5.4, example 1.
    #[test]
    fn rfc3164_example_1() {
        assert_eq!(
            parse("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8")
                .unwrap(),
            Message {
                hostname: Some("mymachine"),
                app_name: Some("su"),
                message: Some("'su root' failed for lonvick on /dev/pts/8"),
                ..rfc3164_message(34, local(10, 11, "22:14:15"))
            }
        );
    }

    // Example 2, as sent (no PRI: refused) and as the RFC's relay passes it on (no TAG: the
    // whole content is the message).
    #[test]
    fn rfc3164_example_2() {
        assert_eq!(parse("Use the BFG!"), Err(Malformed::NoPriority));
        assert_eq!(
            parse("<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!").unwrap(),
            Message {
                hostname: Some("10.0.0.99"),
                message: Some("Use the BFG!"),
                ..rfc3164_message(13, local(2, 5, "17:32:18"))
            }
        );
    }

    // Example 3: "CST 1987" after the TIMESTAMP; "CST" is read as the HOSTNAME and the rest
    // is content without a TAG, as the RFC says a relay will read it.
    #[test]
    fn rfc3164_example_3() {
        let line = "<165>Aug 24 05:34:00 CST 1987 mymachine myproc[10]: %% It's time to make the do-nuts.  %%  Ingredients: Mix=OK, Jelly=OK # Devices: Mixer=OK, Jelly_Injector=OK, Frier=OK # Transport: Conveyer1=OK, Conveyer2=OK # %%";
        assert_eq!(
            parse(line).unwrap(),
            Message {
                hostname: Some("CST"),
                message: Some(&line["<165>Aug 24 05:34:00 CST ".len()..]),
                ..rfc3164_message(165, local(8, 24, "05:34:00"))
            }
        );
    }

    // Example 4: a TIMESTAMP that is not one ("1990 Oct 22 ..."): all of it is content, as
    // the RFC's relay treats it; and the relayed form, with the relay's header before it.
    #[test]
    fn rfc3164_example_4() {
        let content = "1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All Folks!";
        assert_eq!(
            parse(&format!("<0>{content}")).unwrap(),
            Message {
                message: Some(content),
                ..rfc3164_message(0, Stamp::Missing)
            }
        );
        assert_eq!(
            parse(&format!("<0>Oct 22 10:52:12 scapegoat {content}")).unwrap(),
            Message {
                hostname: Some("scapegoat"),
                message: Some(content),
                ..rfc3164_message(0, local(10, 22, "10:52:12"))
            }
        );
    }

    #[test]
    fn rfc3164_tags_pids_and_missing_hostnames() {
        // As logger(1) and rsyslog's traditional template send it.
        let message = parse("<13>Dec  1 22:40:13 web-1 billing[4242]: charged 42").unwrap();
        assert_eq!(
            (
                message.hostname,
                message.app_name,
                message.proc_id,
                message.message
            ),
            (
                Some("web-1"),
                Some("billing"),
                Some("4242"),
                Some("charged 42")
            )
        );
        // As a local socket gets it: no HOSTNAME.
        let message = parse("<13>Dec  1 22:40:13 billing[4242]: charged 42").unwrap();
        assert_eq!(
            (message.hostname, message.app_name, message.proc_id),
            (None, Some("billing"), Some("4242"))
        );
        // No TIMESTAMP either.
        let message = parse("<13>billing: charged 42").unwrap();
        assert_eq!(
            (message.stamp, message.app_name, message.message),
            (Stamp::Missing, Some("billing"), Some("charged 42"))
        );
        // `tag[pid]` without the colon.
        let message = parse("<13>Dec  1 22:40:13 host cron[77] job done").unwrap();
        assert_eq!(
            (message.app_name, message.proc_id, message.message),
            (Some("cron"), Some("77"), Some("job done"))
        );
        // Not tags: a colon not followed by a space, a first word alone, an empty pid.
        for (line, content) in [
            (
                "<13>Dec  1 22:40:13 host http://x is down",
                "http://x is down",
            ),
            ("<13>Dec  1 22:40:13 host 12:00 noon", "12:00 noon"),
            ("<13>Dec  1 22:40:13 host hello world", "hello world"),
            ("<13>Dec  1 22:40:13 host app[] x", "app[] x"),
        ] {
            let message = parse(line).unwrap();
            assert_eq!(
                (message.app_name, message.message),
                (None, Some(content)),
                "{line}"
            );
        }
        // A TAG alone: an empty message.
        let message = parse("<13>Dec  1 22:40:13 host app:").unwrap();
        assert_eq!((message.app_name, message.message), (Some("app"), None));
        // A HOSTNAME alone.
        let message = parse("<13>Dec  1 22:40:13 host").unwrap();
        assert_eq!((message.hostname, message.message), (Some("host"), None));
        assert_eq!(parse("<13>").unwrap().message, None);
    }

    #[test]
    fn rfc3164_timestamps_in_their_variants() {
        let stamp = |line: &str| parse(line).unwrap().stamp;
        assert_eq!(stamp("<13>Feb  5 17:32:18 h m"), local(2, 5, "17:32:18"));
        assert_eq!(stamp("<13>Feb 05 17:32:18 h m"), local(2, 5, "17:32:18"));
        assert_eq!(stamp("<13>Feb 5 17:32:18 h m"), local(2, 5, "17:32:18"));
        assert_eq!(stamp("<13>feb 5 17:32:18 h m"), local(2, 5, "17:32:18"));
        assert_eq!(
            stamp("<13>Feb  5 17:32:18.250 h m"),
            local(2, 5, "17:32:18.250")
        );
        assert_eq!(
            stamp("<13>Feb  5 2027 17:32:18 h m"),
            Stamp::Local {
                year: Some(2027),
                month: 2,
                day: 5,
                time: "17:32:18".parse().unwrap()
            }
        );
        assert_eq!(
            stamp("<13>Jun 30 23:59:60 h m"),
            Stamp::Local {
                year: None,
                month: 6,
                day: 30,
                time: NaiveTime::from_hms_nano_opt(23, 59, 59, 1_000_000_000).unwrap()
            }
        );
        // rsyslog's RSYSLOG_ForwardFormat and syslog-ng's ISO stamps.
        assert_eq!(
            stamp("<13>2026-05-05T10:00:00.123+02:00 h app: m"),
            at("2026-05-05T10:00:00.123+02:00")
        );
        // Not TIMESTAMPs: the whole is content.
        for line in [
            "<13>Foo  5 17:32:18 h m",
            "<13>Feb 32 17:32:18 h m",
            "<13>Feb  5 25:32:18 h m",
            "<13>Feb  5 17:32 h m",
            "<13>2026-05-05 10:00:00 h m",
        ] {
            let message = parse(line).unwrap();
            assert_eq!(
                (message.stamp, message.hostname, message.message),
                (Stamp::Missing, None, Some(&line[4..])),
                "{line}"
            );
        }
    }
}
