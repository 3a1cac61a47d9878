//! The queue's Lua scripts (`scripts/*.lua`) and the one way they are run.
//!
//! Every call is an `EVAL` carrying the script's source. The push needs it: its script runs
//! inside `MULTI` after the `LPUSH`, and an `EVALSHA` that a restarted Redis no longer knows
//! would fail there after the `LPUSH` ran. The other calls follow suit, so that no call site
//! handles a forgotten script. The cost is the source's bytes and a SHA1 of them per call,
//! so the source sent leaves out the files' comments (docs/benchmarks.md).

use crate::QueueKeys;
use std::sync::LazyLock;

/// `events_in(entry)` and `tenant_of(entry)`, prepended to the scripts that count the
/// entries they move.
const EVENTS_IN: &str = include_str!("scripts/events_in.lua");

/// The Lua sent for a script made of `files`: their lines joined, without comment lines
/// (the headers) and blank ones. The files use `--` line comments only, no `--[[` blocks.
fn lua(files: &[&str]) -> String {
    let code = files.iter().flat_map(|file| file.lines()).filter(|line| {
        let line = line.trim_start();
        !line.is_empty() && !line.starts_with("--")
    });
    code.collect::<Vec<_>>().join("\n")
}

/// One call of a script: its keys and arguments by name, bound in the script's header to
/// locals of the same names, in the same order.
pub(crate) trait Script {
    /// The Lua, with the helpers it uses prepended.
    fn source() -> &'static str;

    /// `KEYS`, in order.
    fn keys(&self) -> Vec<(&'static str, &str)>;

    /// `ARGV`, in order.
    fn argv(&self) -> Vec<(&'static str, u64)>;

    /// `ARGV` after the named ones: groups of values the script reads in a loop.
    fn repeated(&self) -> Vec<String> {
        Vec::new()
    }

    /// The `EVAL` of this call, to run alone or inside a pipeline or transaction.
    fn eval(&self) -> redis::Cmd {
        let keys = self.keys();
        let mut eval = redis::cmd("EVAL");
        eval.arg(Self::source()).arg(keys.len());
        for (_, key) in keys {
            eval.arg(key);
        }
        for (_, value) in self.argv() {
            eval.arg(value);
        }
        for value in self.repeated() {
            eval.arg(value);
        }
        eval
    }
}

/// `admit.lua`: keeps the entries just pushed, or trims them off when the queue is full or
/// a tenant would pass its share.
pub(crate) struct Admit<'a> {
    pub keys: &'a QueueKeys,
    pub max_depth: u64,
    /// Events in the pushed entries.
    pub events: u64,
    /// How many entries were pushed.
    pub entries: u64,
    /// Each tenant of the pushed entries: its events among them and its share, if limited.
    pub tenants: &'a [TenantPush<'a>],
}

/// One tenant's part of a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TenantPush<'a> {
    pub tenant: &'a str,
    pub events: u64,
    /// `max_queued_events`: most of its events the queue may hold.
    pub max_queued: Option<u64>,
}

impl Script for Admit<'_> {
    fn source() -> &'static str {
        static SOURCE: LazyLock<String> =
            LazyLock::new(|| lua(&[include_str!("scripts/admit.lua")]));
        &SOURCE
    }

    fn keys(&self) -> Vec<(&'static str, &str)> {
        vec![
            ("queue", self.keys.queue()),
            ("depth_key", self.keys.depth()),
            ("tenant_depth_key", self.keys.tenant_depth()),
        ]
    }

    fn argv(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("max_depth", self.max_depth),
            ("events", self.events),
            ("entries", self.entries),
        ]
    }

    /// `tenant, events, max_queued` for each tenant, -1 standing for no share.
    fn repeated(&self) -> Vec<String> {
        self.tenants
            .iter()
            .flat_map(|part| {
                let share = part
                    .max_queued
                    .map_or(-1, |limit| limit.min(i64::MAX as u64) as i64);
                [
                    part.tenant.to_owned(),
                    part.events.to_string(),
                    share.to_string(),
                ]
            })
            .collect()
    }
}

/// `claim.lua`: moves the oldest entries into a worker's processing list, unless it holds a
/// batch already.
pub(crate) struct Claim<'a> {
    pub keys: &'a QueueKeys,
    /// The claiming worker's processing list.
    pub processing: &'a str,
    pub max_events: u64,
}

impl Script for Claim<'_> {
    fn source() -> &'static str {
        static SOURCE: LazyLock<String> =
            LazyLock::new(|| lua(&[EVENTS_IN, include_str!("scripts/claim.lua")]));
        &SOURCE
    }

    fn keys(&self) -> Vec<(&'static str, &str)> {
        vec![
            ("queue", self.keys.queue()),
            ("processing", self.processing),
            ("depth_key", self.keys.depth()),
            ("tenant_depth_key", self.keys.tenant_depth()),
            ("holders", self.keys.holders()),
        ]
    }

    fn argv(&self) -> Vec<(&'static str, u64)> {
        vec![("max_events", self.max_events)]
    }
}

/// `take_over.lua`: hands a dead worker's processing list, whole, to a worker holding none.
pub(crate) struct TakeOver<'a> {
    pub keys: &'a QueueKeys,
    /// The dead worker's processing list.
    pub orphan: &'a str,
    /// The dead worker's heartbeat.
    pub orphan_heartbeat: &'a str,
    /// The processing list of the worker taking the batch over.
    pub heir: &'a str,
}

impl Script for TakeOver<'_> {
    fn source() -> &'static str {
        static SOURCE: LazyLock<String> =
            LazyLock::new(|| lua(&[EVENTS_IN, include_str!("scripts/take_over.lua")]));
        &SOURCE
    }

    fn keys(&self) -> Vec<(&'static str, &str)> {
        vec![
            ("orphan", self.orphan),
            ("orphan_heartbeat", self.orphan_heartbeat),
            ("heir", self.heir),
            ("holders", self.keys.holders()),
        ]
    }

    fn argv(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names a script binds `KEYS[n]` and `ARGV[n]` to (`local name = KEYS[n]`,
    /// `local name = tonumber(ARGV[n])`), in order; panics if a numbered position is used
    /// anywhere else or out of order. (The repeated arguments after them are read in a
    /// loop, `ARGV[i]`.)
    fn bindings(source: &str, array: &str) -> Vec<String> {
        let mut names = Vec::new();
        let numbered = |line: &&str| {
            line.match_indices(&format!("{array}["))
                .any(|(at, opening)| {
                    line[at + opening.len()..].starts_with(|c: char| c.is_ascii_digit())
                })
        };
        for line in source.lines().filter(numbered) {
            let binding = line
                .strip_prefix("local ")
                .and_then(|rest| rest.split_once(" = "))
                .unwrap_or_else(|| panic!("{array} used outside a binding: {line:?}"));
            let (name, value) = binding;
            let expected = format!("{array}[{}]", names.len() + 1);
            assert!(
                value == expected || value == format!("tonumber({expected})"),
                "{line:?} is not the binding of {expected}"
            );
            names.push(name.to_owned());
        }
        names
    }

    fn assert_bound_by_name<S: Script>(call: &S) {
        let keys: Vec<&str> = call.keys().into_iter().map(|(name, _)| name).collect();
        let argv: Vec<&str> = call.argv().into_iter().map(|(name, _)| name).collect();
        assert_eq!(bindings(S::source(), "KEYS"), keys, "{}", S::source());
        assert_eq!(bindings(S::source(), "ARGV"), argv, "{}", S::source());
    }

    #[test]
    fn every_script_binds_its_keys_and_arguments_to_the_names_rust_passes() {
        let keys = QueueKeys::new("q");
        assert_bound_by_name(&Admit {
            keys: &keys,
            max_depth: 10,
            events: 1,
            entries: 1,
            tenants: &[],
        });
        assert_bound_by_name(&Claim {
            keys: &keys,
            processing: "q:processing:w",
            max_events: 10,
        });
        assert_bound_by_name(&TakeOver {
            keys: &keys,
            orphan: "q:processing:dead",
            orphan_heartbeat: "q:worker:dead",
            heir: "q:processing:w",
        });
    }

    #[test]
    fn the_source_sent_is_the_code_without_the_comments() {
        let source = TakeOver::source();
        assert!(
            source.starts_with("local function events_in(entry)"),
            "{source}"
        );
        assert!(source.contains("local orphan = KEYS[1]"), "{source}");
        assert!(
            source
                .lines()
                .all(|line| !line.trim_start().starts_with("--"))
        );
    }

    #[test]
    fn an_eval_carries_the_source_then_the_keys_then_the_arguments() {
        let keys = QueueKeys::new("q");
        let eval = Claim {
            keys: &keys,
            processing: "q:processing:w",
            max_events: 7,
        }
        .eval();
        let args: Vec<&[u8]> = eval
            .args_iter()
            .map(|arg| match arg {
                redis::Arg::Simple(bytes) => bytes,
                _ => unreachable!("an EVAL has plain arguments only"),
            })
            .collect();
        assert_eq!(
            args,
            [
                b"EVAL".as_slice(),
                Claim::source().as_bytes(),
                b"5",
                b"q",
                b"q:processing:w",
                b"q:depth",
                b"q:tenant_depth",
                b"q:holders",
                b"7"
            ]
        );
    }
}
