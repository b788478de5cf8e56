//! The whole-exchange deadline: a bound on an upload or a push, however the server behaves.
//!
//! The stall timeout bounds each socket call, so a server that sends one byte just before each
//! stall timeout would keep an exchange alive for as long as it likes (16 KiB of response head
//! at 30 s a byte is nearly a week). The deadline bounds the whole call instead: every socket
//! read and write waits at most `min(stall timeout, time left)`, and once the time is up the
//! call fails with [`Error::Deadline`](crate::Error::Deadline).

use std::fmt;
use std::io;
use std::time::{Duration, Instant};

use crate::net::Timeouts;

/// The deadline's fixed part when none is set: long enough for a connection, a TLS handshake
/// and an answer on a slow network.
pub const DEADLINE_BASE: Duration = Duration::from_secs(60);

/// The slowest upload speed the default deadline allows for, in bytes per second: 256 KiB/s
/// (2 Mbit/s), a slow office or mobile uplink.
pub const DEADLINE_MIN_RATE: u64 = 256 * 1024;

/// The default deadline of an exchange that sends `size` bytes: [`DEADLINE_BASE`] (or twice
/// the stall timeout, if that is longer, so that a stall is reported as a stall), plus the
/// time `size` takes at [`DEADLINE_MIN_RATE`] (4 s per MiB).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tpns_transport_std::{Timeouts, default_deadline};
///
/// let t = Timeouts::default();
/// assert_eq!(default_deadline(0, t), Duration::from_secs(60));
/// assert_eq!(default_deadline(100 << 20, t), Duration::from_secs(60 + 400));
/// ```
pub fn default_deadline(size: u64, timeouts: Timeouts) -> Duration {
    let transfer = Duration::from_secs_f64(size as f64 / DEADLINE_MIN_RATE as f64);
    DEADLINE_BASE
        .max(timeouts.stall.saturating_mul(2))
        .saturating_add(transfer)
}

/// When an exchange must be over, and how long it was given.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    at: Option<Instant>,
    total: Duration,
}

impl Deadline {
    /// The deadline `total` from now. A `total` too large to add to the clock never passes.
    pub(crate) fn after(total: Duration) -> Self {
        Deadline {
            at: Instant::now().checked_add(total),
            total,
        }
    }

    /// The time left, or `None` once it has passed.
    pub(crate) fn left(&self) -> Option<Duration> {
        match self.at {
            Some(at) => at
                .checked_duration_since(Instant::now())
                .filter(|d| !d.is_zero()),
            None => Some(Duration::MAX),
        }
    }

    /// How long the next blocking call may wait: `limit`, or the time left if that is
    /// shorter, and whether the deadline is what limits it.
    ///
    /// # Errors
    ///
    /// [`Deadline::error`] once the deadline has passed.
    pub(crate) fn bound(&self, limit: Duration) -> io::Result<(Duration, bool)> {
        let left = self.left().ok_or_else(|| self.error())?;
        Ok(if left < limit {
            (left, true)
        } else {
            (limit, false)
        })
    }

    /// The I/O error that says the deadline passed: [`io::ErrorKind::TimedOut`] carrying a
    /// [`DeadlinePassed`], which [`io_error`](crate::error::io_error) turns into
    /// [`Error::Deadline`](crate::Error::Deadline) whatever layer (TLS, the core's driver)
    /// it crossed.
    pub(crate) fn error(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::TimedOut,
            DeadlinePassed { total: self.total },
        )
    }
}

/// The payload of [`Deadline::error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DeadlinePassed {
    /// The deadline that passed.
    pub(crate) total: Duration,
}

impl fmt::Display for DeadlinePassed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the deadline of {:.1} s passed",
            self.total.as_secs_f64()
        )
    }
}

impl std::error::Error for DeadlinePassed {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_grows_with_the_size_and_the_stall_timeout() {
        let t = Timeouts::default();
        assert_eq!(default_deadline(0, t), Duration::from_secs(60));
        assert_eq!(default_deadline(1 << 20, t), Duration::from_secs(64));
        assert_eq!(
            default_deadline(DEADLINE_MIN_RATE / 2, t).as_millis(),
            60_500
        );
        let slow = Timeouts {
            connect: Duration::from_secs(5),
            stall: Duration::from_secs(50),
        };
        assert_eq!(default_deadline(0, slow), Duration::from_secs(100));
        assert!(default_deadline(u64::MAX, t) > Duration::from_secs(1 << 40));
    }

    #[test]
    fn bounds_are_the_shorter_of_the_limit_and_the_time_left() {
        let d = Deadline::after(Duration::from_secs(3600));
        let (wait, by_deadline) = d.bound(Duration::from_secs(1)).unwrap();
        assert_eq!((wait, by_deadline), (Duration::from_secs(1), false));
        let (wait, by_deadline) = d.bound(Duration::from_secs(7200)).unwrap();
        assert!(by_deadline && wait <= Duration::from_secs(3600) && wait.as_secs() > 3500);
        let never = Deadline::after(Duration::MAX);
        assert!(!never.bound(Duration::from_secs(1)).unwrap().1);
        let passed = Deadline::after(Duration::ZERO);
        let err = passed.bound(Duration::from_secs(1)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        let inner = err
            .get_ref()
            .and_then(|e| e.downcast_ref::<DeadlinePassed>());
        assert_eq!(
            inner,
            Some(&DeadlinePassed {
                total: Duration::ZERO
            })
        );
    }
}
