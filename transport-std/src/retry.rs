//! Retries with exponential backoff and jitter.

use std::time::Duration;

/// How often, and after what pause, a transient failure is tried again.
///
/// The pause before retry `n` (1-based) is drawn at random between half and all of
/// `min(initial_delay × 2^(n-1), max_delay)` ("equal jitter"), so that many clients that failed
/// together do not come back together. After the rate limit (`retCode` 1008028) the pause is
/// at least one second, since package pushes are limited to one a second per app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts after the first; 0 disables retries.
    pub max_retries: u32,
    /// The pause before the first retry (before jitter).
    pub initial_delay: Duration,
    /// The longest pause (before jitter).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 3 retries, 500 ms doubling up to 8 s.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            initial_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub const fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            initial_delay: Duration::ZERO,
            max_delay: Duration::ZERO,
        }
    }

    /// The same policy with `max_retries` retries.
    pub const fn with_max_retries(mut self, max_retries: u32) -> Self {
        self.max_retries = max_retries;
        self
    }

    /// The pause before retry `retry` (1-based), given a random number.
    pub(crate) fn delay(&self, retry: u32, random: u64) -> Duration {
        let doublings = retry.saturating_sub(1).min(31);
        let ceiling = self
            .initial_delay
            .saturating_mul(1 << doublings)
            .min(self.max_delay);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        let half = nanos / 2;
        let jitter = if half == 0 {
            0
        } else {
            random % (nanos - half + 1)
        };
        Duration::from_nanos(half + jitter)
    }
}

/// A random `u64` from the operating system's CSPRNG (through ring), or the clock's nanoseconds
/// if that fails: jitter needs spread, not secrecy.
pub(crate) fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    if rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut bytes)
        .is_err()
    {
        return std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::from(d.subsec_nanos()));
    }
    u64::from_le_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_with_jitter_in_the_upper_half() {
        let p = RetryPolicy {
            max_retries: 10,
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
        };
        for (retry, ceiling_ms) in [
            (1, 100),
            (2, 200),
            (3, 400),
            (4, 800),
            (5, 1000),
            (40, 1000),
        ] {
            let ceiling = Duration::from_millis(ceiling_ms);
            assert_eq!(p.delay(retry, 0), ceiling / 2, "retry {retry}");
            assert_eq!(
                p.delay(retry, ceiling.as_nanos() as u64 / 2),
                ceiling,
                "retry {retry}"
            );
            for _ in 0..100 {
                let d = p.delay(retry, random_u64());
                assert!(d >= ceiling / 2 && d <= ceiling, "retry {retry}: {d:?}");
            }
        }
        assert_eq!(RetryPolicy::none().delay(1, 12345), Duration::ZERO);
    }

    #[test]
    fn random_numbers_differ() {
        let a: Vec<u64> = (0..8).map(|_| random_u64()).collect();
        assert!(a.windows(2).any(|w| w[0] != w[1]));
    }
}
