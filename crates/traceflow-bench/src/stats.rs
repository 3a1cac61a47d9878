//! Percentiles and medians: the only statistics the report uses.

use serde::Serialize;
use std::time::Duration;

/// Latency percentiles of one set of samples, in milliseconds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Latency {
    pub samples: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    /// Nearest-rank percentiles of `samples`; `None` when there are none.
    pub fn of(mut samples: Vec<Duration>) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        Some(Self {
            samples: samples.len(),
            p50_ms: ms(percentile(&samples, 0.50)),
            p99_ms: ms(percentile(&samples, 0.99)),
            max_ms: ms(*samples.last().expect("not empty")),
        })
    }
}

/// The nearest-rank percentile (`q` in 0..=1) of sorted, non-empty `sorted`: the smallest
/// sample such that at least `q` of all samples are at or below it. No interpolation, so
/// the figure is always a latency that some request really had.
pub fn percentile<T: Copy>(sorted: &[T], q: f64) -> T {
    assert!(!sorted.is_empty(), "percentile of no samples");
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The median of `values` (the mean of the middle two for an even count); `None` when empty.
/// Repetitions are summarised by their median so that one disturbed run (the machine is
/// shared by everything) does not move the figure.
pub fn median(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let mut values: Vec<f64> = values.into_iter().filter(|v| v.is_finite()).collect();
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&samples, 0.50), 50);
        assert_eq!(percentile(&samples, 0.99), 99);
        assert_eq!(percentile(&samples, 1.0), 100);
        assert_eq!(percentile(&[7], 0.99), 7);
    }

    #[test]
    fn medians() {
        assert_eq!(median([3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median([4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median([]), None);
    }

    #[test]
    fn latency_summary() {
        let samples = (1..=1000).map(Duration::from_micros).collect();
        let latency = Latency::of(samples).unwrap();
        assert_eq!(latency.samples, 1000);
        assert!((latency.p50_ms - 0.5).abs() < 1e-9);
        assert!((latency.p99_ms - 0.99).abs() < 1e-9);
        assert!((latency.max_ms - 1.0).abs() < 1e-9);
    }
}
