//! A parsed syslog message to a [`Draft`]:
//!
//! - `service`: APP-NAME (RFC 5424) or TAG (RFC 3164), else [`UNKNOWN_SERVICE`].
//! - `level`: the severity: emerg, alert, crit → FATAL; err → ERROR; warning → WARN;
//!   notice, info → INFO; debug → DEBUG.
//! - `message`: the MSG; an RFC 5424 message with structured data and no MSG stands for its
//!   STRUCTURED-DATA text.
//! - `timestamp`: the TIMESTAMP. An RFC 3164 one is a local time in `SYSLOG_TIMEZONE`, in the
//!   latest year (of next, this and last year) that puts it at most a day after the time it
//!   arrived, unless the sender wrote the year; a local time that a daylight-saving change skips is read with
//!   the offset before the change, one it repeats as the earlier of the two. Missing: the
//!   time it arrived.
//! - `metadata`: `hostname`, `proc_id`, `msg_id`, `facility` and `severity` (by name: `local3`,
//!   `notice`), and each structured-data parameter as `<SD-ID>.<PARAM-NAME>`
//!   (`timeQuality.tzKnown`); a parameter given more than once has its values as a JSON
//!   array.

use super::parse::{Element, Message, Stamp};
use chrono::{DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use std::{borrow::Cow, collections::BTreeMap};
use traceflow_event::{Draft, Level, Metadata, Time};

/// The service of messages that name none: what OpenTelemetry calls a service without a name,
/// as the OTLP receiver does too, so one filter finds every event that did not say.
pub const UNKNOWN_SERVICE: &str = "unknown_service";

/// The level of a syslog severity (0 emerg to 7 debug).
pub fn level(severity: u8) -> Level {
    match severity {
        0..=2 => Level::Fatal,
        3 => Level::Error,
        4 => Level::Warn,
        5 | 6 => Level::Info,
        _ => Level::Debug,
    }
}

/// The draft of `message`, arrived at `now`; RFC 3164 local times are in `zone`.
pub fn draft<'a>(message: Message<'a>, now: DateTime<Utc>, zone: Tz) -> Draft<'a> {
    let priority = message.priority;
    let mut metadata = Metadata::new();
    let mut put = |key: &'static str, value: Option<&'a str>| {
        if let Some(value) = value {
            metadata.insert(Cow::Borrowed(key), Cow::Borrowed(value));
        }
    };
    put("hostname", message.hostname);
    put("proc_id", message.proc_id);
    put("msg_id", message.msg_id);
    put("facility", Some(priority.facility_name()));
    put("severity", Some(priority.severity_name()));
    structured_data_into(message.structured_data, &mut metadata);
    let timestamp = match message.stamp {
        Stamp::Missing => None,
        Stamp::Exact(time) => Some(time.with_timezone(&Utc)),
        // A date that exists in none of the years tried (February 30) is not a time:
        // the message keeps the time it arrived.
        Stamp::Local {
            year,
            month,
            day,
            time,
        } => local_time(year, month, day, time, now, zone),
    };
    Draft {
        service: Some(Cow::Borrowed(message.app_name.unwrap_or(UNKNOWN_SERVICE))),
        level: Some(Cow::Borrowed(level(priority.severity).as_str())),
        message: message
            .message
            .or(message.structured_text)
            .map(Cow::Borrowed),
        timestamp: timestamp.map(Time::At),
        trace_id: None,
        metadata,
    }
}

/// Each parameter as `<SD-ID>.<PARAM-NAME>`; repeated ones as a JSON array of their values.
fn structured_data_into<'a>(elements: Vec<Element<'a>>, metadata: &mut Metadata<'a>) {
    let mut values: BTreeMap<String, Vec<Cow<'a, str>>> = BTreeMap::new();
    for element in elements {
        for (name, value) in element.params {
            values
                .entry(format!("{}.{name}", element.id))
                .or_default()
                .push(value);
        }
    }
    for (key, mut values) in values {
        let value = match values.len() {
            1 => values.remove(0),
            _ => Cow::Owned(serde_json::to_string(&values).expect("strings serialize")),
        };
        metadata.insert(Cow::Owned(key), value);
    }
}

/// An RFC 3164 local time in `zone`: in `year`, else in the latest year that puts it no more
/// than a day after `now`. Logs tell of the past: a time a few months ahead is last year's,
/// but one just after midnight on New Year's Day, from a sender whose clock is a little
/// fast, is next year's.
fn local_time(
    year: Option<i32>,
    month: u32,
    day: u32,
    time: chrono::NaiveTime,
    now: DateTime<Utc>,
    zone: Tz,
) -> Option<DateTime<Utc>> {
    let in_year = |year| {
        NaiveDate::from_ymd_opt(year, month, day)
            .and_then(|date| in_zone(date.and_time(time), zone))
    };
    match year {
        Some(year) => in_year(year),
        None => {
            let this_year = now.with_timezone(&zone).year();
            let latest = now + TimeDelta::days(1);
            [this_year + 1, this_year, this_year - 1]
                .into_iter()
                .filter_map(in_year)
                .find(|candidate| *candidate <= latest)
        }
    }
}

fn in_zone(local: NaiveDateTime, zone: Tz) -> Option<DateTime<Utc>> {
    let time = match zone.from_local_datetime(&local) {
        LocalResult::Single(time) | LocalResult::Ambiguous(time, _) => time,
        // Skipped by a change to daylight saving time: the clock still showed the offset
        // before it, so read it with that one.
        LocalResult::None => {
            let hour = TimeDelta::hours(1);
            zone.from_local_datetime(&(local - hour)).earliest()? + hour
        }
    };
    Some(time.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syslog::parse::parse;

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    const NOW: &str = "2026-12-01T12:00:00Z";

    fn drafted(line: &str) -> Draft<'_> {
        draft(parse(line).unwrap(), utc(NOW), chrono_tz::UTC)
    }

    fn metadata(draft: &Draft<'_>) -> Vec<(String, String)> {
        draft
            .metadata
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect()
    }

    fn pairs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn severities_map_to_levels_as_the_issue_says() {
        let levels: Vec<&str> = (0..8).map(|severity| level(severity).as_str()).collect();
        assert_eq!(
            levels,
            [
                "FATAL", "FATAL", "FATAL", "ERROR", "WARN", "INFO", "INFO", "DEBUG"
            ]
        );
    }

    #[test]
    fn an_rfc5424_message_maps_every_field() {
        let draft = drafted(
            r#"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 8710 ID47 [exampleSDID@32473 iut="3" eventSource="Application"][examplePriority@32473 class="high"] An application event log entry..."#,
        );
        assert_eq!(draft.service.as_deref(), Some("evntslog"));
        assert_eq!(draft.level.as_deref(), Some("INFO"));
        assert_eq!(
            draft.message.as_deref(),
            Some("An application event log entry...")
        );
        assert_eq!(
            draft.timestamp,
            Some(Time::At(utc("2003-10-11T22:14:15.003Z")))
        );
        assert_eq!(draft.trace_id, None);
        assert_eq!(
            metadata(&draft),
            pairs(&[
                ("examplePriority@32473.class", "high"),
                ("exampleSDID@32473.eventSource", "Application"),
                ("exampleSDID@32473.iut", "3"),
                ("facility", "local4"),
                ("hostname", "mymachine.example.com"),
                ("msg_id", "ID47"),
                ("proc_id", "8710"),
                ("severity", "notice"),
            ])
        );
    }

    #[test]
    fn missing_parts_fall_back() {
        // No APP-NAME, no TIMESTAMP, structured data but no MSG.
        let draft = drafted(r#"<11>1 - - - - - [origin ip="192.0.2.1"]"#);
        assert_eq!(draft.service.as_deref(), Some(UNKNOWN_SERVICE));
        assert_eq!(draft.level.as_deref(), Some("ERROR"));
        assert_eq!(draft.message.as_deref(), Some(r#"[origin ip="192.0.2.1"]"#));
        assert_eq!(draft.timestamp, None);
        assert_eq!(
            metadata(&draft),
            pairs(&[
                ("facility", "user"),
                ("origin.ip", "192.0.2.1"),
                ("severity", "err")
            ])
        );
        // Nothing at all: no message (the event rules refuse it).
        assert_eq!(drafted("<13>1 - - - - - -").message, None);
    }

    #[test]
    fn a_repeated_parameter_keeps_all_its_values() {
        let draft = drafted(r#"<13>1 - - - - - [meta@1 ip="10.0.0.1" ip="10.0.0.\"2\""] m"#);
        assert_eq!(
            draft.metadata.get("meta@1.ip").map(|value| value.as_ref()),
            Some(r#"["10.0.0.1","10.0.0.\"2\""]"#)
        );
    }

    #[test]
    fn an_rfc3164_message_maps_its_tag_pid_and_hostname() {
        let draft = drafted("<34>Oct 11 22:14:15 mymachine su[77]: 'su root' failed");
        assert_eq!(draft.service.as_deref(), Some("su"));
        assert_eq!(draft.level.as_deref(), Some("FATAL"));
        assert_eq!(draft.message.as_deref(), Some("'su root' failed"));
        assert_eq!(draft.timestamp, Some(Time::At(utc("2026-10-11T22:14:15Z"))));
        assert_eq!(
            metadata(&draft),
            pairs(&[
                ("facility", "auth"),
                ("hostname", "mymachine"),
                ("proc_id", "77"),
                ("severity", "crit"),
            ])
        );
    }

    #[test]
    fn rfc3164_times_get_the_nearest_year_and_the_zone() {
        let at = |line: &str, now: &str, zone: Tz| match draft(parse(line).unwrap(), utc(now), zone)
            .timestamp
        {
            Some(Time::At(time)) => Some(time),
            _ => None,
        };
        let utc_zone = chrono_tz::UTC;
        // Sent just before the new year, received just after it: last year's.
        assert_eq!(
            at(
                "<13>Dec 31 23:59:58 h a: m",
                "2027-01-01T00:00:01Z",
                utc_zone
            ),
            Some(utc("2026-12-31T23:59:58Z"))
        );
        // A sender whose clock is a little ahead, across the new year: next year's.
        assert_eq!(
            at(
                "<13>Jan  1 00:00:30 h a: m",
                "2026-12-31T23:59:50Z",
                utc_zone
            ),
            Some(utc("2027-01-01T00:00:30Z"))
        );
        assert_eq!(
            at("<13>May  5 10:00:00 h a: m", NOW, utc_zone),
            Some(utc("2026-05-05T10:00:00Z"))
        );
        // A written year is kept.
        assert_eq!(
            at("<13>May  5 2024 10:00:00 h a: m", NOW, utc_zone),
            Some(utc("2024-05-05T10:00:00Z"))
        );
        // A few months ahead: last year's.
        assert_eq!(
            at(
                "<13>Dec 24 10:00:00 h a: m",
                "2026-03-01T00:00:00Z",
                utc_zone
            ),
            Some(utc("2025-12-24T10:00:00Z"))
        );
        // February 29th: the latest leap year among those tried, else the arrival time.
        assert_eq!(
            at(
                "<13>Feb 29 10:00:00 h a: m",
                "2028-03-01T00:00:00Z",
                utc_zone
            ),
            Some(utc("2028-02-29T10:00:00Z"))
        );
        assert_eq!(at("<13>Feb 29 10:00:00 h a: m", NOW, utc_zone), None);
        // In a zone: summer and winter offsets, the skipped hour and the repeated one.
        let berlin = chrono_tz::Europe::Berlin;
        assert_eq!(
            at("<13>Jul  1 12:00:00 h a: m", NOW, berlin),
            Some(utc("2026-07-01T10:00:00Z"))
        );
        assert_eq!(
            at("<13>Dec  1 12:00:00 h a: m", NOW, berlin),
            Some(utc("2026-12-01T11:00:00Z"))
        );
        assert_eq!(
            at("<13>Mar 29 02:30:00 h a: m", NOW, berlin),
            Some(utc("2026-03-29T01:30:00Z"))
        );
        assert_eq!(
            at("<13>Oct 25 02:30:00 h a: m", NOW, berlin),
            Some(utc("2026-10-25T00:30:00Z"))
        );
        // An offset in the message wins over the zone.
        assert_eq!(
            at("<13>2026-05-05T10:00:00+02:00 h a: m", NOW, berlin),
            Some(utc("2026-05-05T08:00:00Z"))
        );
        // The year is the zone's: 00:30 on January 1st in Tokyo is still December 31st in UTC.
        assert_eq!(
            at(
                "<13>Jan  1 00:30:00 h a: m",
                "2026-12-31T15:31:00Z",
                chrono_tz::Asia::Tokyo
            ),
            Some(utc("2026-12-31T15:30:00Z"))
        );
    }
}
