//! The log event every ingest protocol maps into: its fields ([`Event`]), its severities
//! ([`Level`]), and its rules ([`Draft::check`], [`Limits`], [`Violation`]). A protocol
//! decodes its format into a [`Draft`], checks it here, and renders a [`Violation`] in its
//! own words; the queue, storage and query crates take the checked [`Event`] as it is.

mod event;
mod level;
mod rules;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use event::{DEFAULT_TENANT, Event, LogEvent, Metadata, Text};
pub use level::{Level, UnknownLevel};
pub use rules::{
    Defaults, Draft, EARLIEST, EventWording, Field, Limits, Time, TimeWindow, Unit, Violation,
    Wording, from_epoch, latest, quoted_key,
};
