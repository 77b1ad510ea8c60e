//! Summaries of repeated measurements.

use std::time::Duration;

/// The median of `v` (the upper one of an even count); zero when empty.
pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// The `p`-th percentile (0 to 100) of `v`, nearest rank; zero when empty.
pub fn percentile(mut v: Vec<Duration>, p: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    v.sort();
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// Milliseconds, for reports.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(v.clone(), 50.0), Duration::from_millis(50));
        assert_eq!(percentile(v.clone(), 99.0), Duration::from_millis(99));
        assert_eq!(percentile(v.clone(), 100.0), Duration::from_millis(100));
        assert_eq!(median(v), Duration::from_millis(51));
        assert_eq!(percentile(Vec::new(), 99.0), Duration::ZERO);
    }
}
