//! Exponential backoff with full jitter, so that a restarted server is not
//! hit by every client at the same instant.

use std::time::Duration;

use rand::Rng;

/// Delays between reconnection attempts: a random delay up to `min`, then
/// up to twice that, and so on, capped at `max`; `reset` after a success.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    ceiling: Duration,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Backoff {
        let max = max.max(min);
        Backoff {
            min,
            max,
            ceiling: min,
        }
    }

    /// The delay before the next attempt: uniform in [min/2, ceiling], the
    /// ceiling doubling at each call up to `max`.
    pub fn next_delay(&mut self) -> Duration {
        let low = self.min / 2;
        let high = self.ceiling.max(low);
        self.ceiling = (self.ceiling * 2).min(self.max);
        rand::rng().random_range(low..=high)
    }

    /// Back to the shortest delay, after a successful connection.
    pub fn reset(&mut self) {
        self.ceiling = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_to_the_cap_and_stay_jittered() {
        let min = Duration::from_millis(100);
        let max = Duration::from_millis(1000);
        let mut b = Backoff::new(min, max);
        let mut ceilings = Vec::new();
        for _ in 0..8 {
            let before = b.ceiling;
            let d = b.next_delay();
            assert!(
                d >= min / 2 && d <= before,
                "{d:?} outside [{:?}, {before:?}]",
                min / 2
            );
            ceilings.push(before);
        }
        assert_eq!(
            ceilings[..5],
            [100, 200, 400, 800, 1000].map(Duration::from_millis)
        );
        assert_eq!(*ceilings.last().unwrap(), max);
        b.reset();
        assert!(b.next_delay() <= min);
    }
}
