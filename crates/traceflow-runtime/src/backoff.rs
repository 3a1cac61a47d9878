//! Capped exponential backoff with equal jitter (half the delay fixed, half random), for
//! retrying a dependency that is down.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap,
            attempt: 0,
        }
    }

    /// The failures seen since the last reset.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The delay before the next try: random in [ceiling/2, ceiling], where the ceiling
    /// doubles per failure up to the cap. Half the ceiling is kept so retries do not spin.
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(2u32.saturating_pow(self.attempt.min(20)))
            .min(self.cap);
        self.attempt += 1;
        let half = ceiling / 2;
        half + half.mul_f64(rand::random::<f64>())
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_to_the_cap_and_reset() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let first = backoff.next_delay();
        assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
        for _ in 0..10 {
            let delay = backoff.next_delay();
            assert!(delay <= Duration::from_secs(2), "{delay:?}");
        }
        let capped = backoff.next_delay();
        assert!(capped >= Duration::from_secs(1), "{capped:?}");
        assert_eq!(backoff.attempt(), 12);
        backoff.reset();
        assert!(backoff.next_delay() <= Duration::from_millis(100));
    }
}
