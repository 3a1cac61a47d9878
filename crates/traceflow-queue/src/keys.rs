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
    fn patterns_match_the_queue_name_literally() {
        let keys = QueueKeys::new(r"logs[1]*?\");
        assert_eq!(keys.processing_pattern(), r"logs\[1\]\*\?\\:processing:*");
        // Keys themselves are not escaped.
        assert_eq!(keys.depth(), r"logs[1]*?\:depth");
    }
}
