//! The Redis keys of one queue, named in one place for the producer, the consumer, the test
//! kit, the benchmark and the tests.

/// The keys of the queue `Q` (`REDIS_QUEUE_KEY`, default `logs_queue`). See the crate
/// documentation for what each one holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueKeys {
    queue: String,
    depth: String,
    tenant_depth: String,
    dead: String,
    holders: String,
}

impl QueueKeys {
    pub fn new(queue: impl Into<String>) -> Self {
        let queue = queue.into();
        Self {
            depth: format!("{queue}:depth"),
            tenant_depth: format!("{queue}:tenant_depth"),
            dead: format!("{queue}:dead"),
            holders: format!("{queue}:holders"),
            queue,
        }
    }

    /// The keys of `count` shards of the queue `queue` on a Redis Cluster, each a hash tag
    /// (so that all of a shard's keys share a slot) chosen so that the shards' slots are
    /// spread evenly over the slot space: shard `i` is `{queue:i}`, or `{queue:i.k}` with
    /// the first `k` that puts its slot in the `i`-th `count`-th of the 16,384 slots. A
    /// cluster whose primaries hold equal ranges of slots (as `redis-cli --cluster create`
    /// gives them) then holds equal numbers of shards on each when `count` is a multiple of
    /// the primaries, where names left to the hash could put half the shards on one.
    pub fn shards(queue: &str, count: usize) -> Vec<Self> {
        (0..count)
            .map(|shard| {
                let wanted = shard * SLOTS / count..(shard + 1) * SLOTS / count;
                let fits = |tag: &String| wanted.contains(&usize::from(slot(tag)));
                let tag = std::iter::once(format!("{queue}:{shard}"))
                    .chain((0..).map(|k| format!("{queue}:{shard}.{k}")))
                    .find(fits)
                    .expect("some suffix lands in every range of slots");
                Self::new(format!("{{{tag}}}"))
            })
            .collect()
    }

    /// `Q`: the list of entries, pushed on the left, claimed from the right.
    pub fn queue(&self) -> &str {
        &self.queue
    }

    /// `Q:depth`: the number of events in `Q`.
    pub fn depth(&self) -> &str {
        &self.depth
    }

    /// `Q:tenant_depth`: a hash of each tenant's number of events in `Q`.
    pub fn tenant_depth(&self) -> &str {
        &self.tenant_depth
    }

    /// `Q:dead`: the dead letters, newest first.
    pub fn dead(&self) -> &str {
        &self.dead
    }

    /// `Q:holders`: the set of the processing lists that hold a batch, so that a dead
    /// worker's is found without scanning the keys (which a cluster spreads over its nodes).
    pub fn holders(&self) -> &str {
        &self.holders
    }

    /// `Q:processing:<worker>`: the batch `worker` holds.
    pub fn processing(&self, worker: &str) -> String {
        format!("{}{worker}", self.processing_prefix())
    }

    /// `Q:worker:<worker>`: `worker`'s heartbeat.
    pub fn heartbeat(&self, worker: &str) -> String {
        format!("{}:worker:{worker}", self.queue)
    }

    /// A `SCAN`/`KEYS` pattern matching every processing list of this queue.
    pub fn processing_pattern(&self) -> String {
        format!("{}:processing:*", glob_escape(&self.queue))
    }

    /// A `SCAN`/`KEYS` pattern matching every heartbeat of this queue.
    pub fn heartbeat_pattern(&self) -> String {
        format!("{}:worker:*", glob_escape(&self.queue))
    }

    /// A `SCAN`/`KEYS` pattern matching every key of this queue except `Q` itself.
    pub fn derived_pattern(&self) -> String {
        format!("{}:*", glob_escape(&self.queue))
    }

    /// The worker whose processing list `key` is; `None` for any other key.
    pub fn processing_worker<'k>(&self, key: &'k str) -> Option<&'k str> {
        key.strip_prefix(&self.processing_prefix())
    }

    fn processing_prefix(&self) -> String {
        format!("{}:processing:", self.queue)
    }
}

/// The slots of a Redis Cluster.
const SLOTS: usize = 16_384;

/// The slot of `key` in a Redis Cluster: CRC16 (XMODEM) of its hash tag (the text between
/// the first `{` and the next `}`, if not empty) or of the whole key, modulo 16,384.
fn slot(key: &str) -> u16 {
    let hashed = key
        .split_once('{')
        .and_then(|(_, rest)| rest.split_once('}'))
        .map(|(tag, _)| tag)
        .filter(|tag| !tag.is_empty())
        .unwrap_or(key);
    let mut crc: u16 = 0;
    for byte in hashed.bytes() {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc % SLOTS as u16
}

/// `text` matching itself literally in a Redis glob pattern, so a queue name holding `*`,
/// `?` or `[` does not match other queues' keys.
fn glob_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        if matches!(character, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_derives_from_the_queue_name() {
        let keys = QueueKeys::new("logs_queue");
        assert_eq!(keys.queue(), "logs_queue");
        assert_eq!(keys.depth(), "logs_queue:depth");
        assert_eq!(keys.dead(), "logs_queue:dead");
        assert_eq!(keys.holders(), "logs_queue:holders");
        assert_eq!(keys.processing("w-1"), "logs_queue:processing:w-1");
        assert_eq!(keys.heartbeat("w-1"), "logs_queue:worker:w-1");
        assert_eq!(keys.processing_pattern(), "logs_queue:processing:*");
        assert_eq!(keys.heartbeat_pattern(), "logs_queue:worker:*");
        assert_eq!(keys.derived_pattern(), "logs_queue:*");
    }

    #[test]
    fn a_processing_key_names_its_worker() {
        let keys = QueueKeys::new("q");
        assert_eq!(keys.processing_worker(&keys.processing("w-1")), Some("w-1"));
        assert_eq!(keys.processing_worker(&keys.heartbeat("w-1")), None);
        assert_eq!(keys.processing_worker("other:processing:w-1"), None);
    }

    #[test]
    fn slots_are_redis_clusters() {
        // The Redis Cluster specification's example, and its hash tag rules.
        assert_eq!(slot("123456789"), 0x31C3);
        assert_eq!(slot("{123456789}.depth"), 0x31C3);
        assert_ne!(
            slot("{}123456789"),
            0x31C3,
            "an empty tag hashes the whole key"
        );
        assert_eq!(slot("foo{123456789}{bar}"), 0x31C3);
    }

    #[test]
    fn shards_spread_evenly_over_the_slots_and_keep_their_index() {
        let shards = QueueKeys::shards("logs_queue", 12);
        for (index, shard) in shards.iter().enumerate() {
            let name = shard.queue();
            let slot = usize::from(slot(name));
            assert!(
                (index * SLOTS / 12..(index + 1) * SLOTS / 12).contains(&slot),
                "{name}: slot {slot}"
            );
            let tag = name
                .strip_prefix('{')
                .and_then(|n| n.strip_suffix('}'))
                .unwrap();
            let index_part = tag.strip_prefix("logs_queue:").unwrap();
            let shard_index = index_part.split('.').next().unwrap();
            assert_eq!(shard_index, index.to_string(), "{name}");
        }
        assert_eq!(
            QueueKeys::shards("logs_queue", 12),
            shards,
            "the same names every time"
        );
    }

    #[test]
    fn patterns_match_the_queue_name_literally() {
        let keys = QueueKeys::new(r"logs[1]*?\");
        assert_eq!(keys.processing_pattern(), r"logs\[1\]\*\?\\:processing:*");
        // Keys themselves are not escaped.
        assert_eq!(keys.depth(), r"logs[1]*?\:depth");
    }
}
