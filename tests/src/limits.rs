//! What the emulator grants one client, so that a hostile or broken one cannot hold its memory
//! or its connections: time limits on the head and the body, a cap on open connections, and a
//! cap on the bytes of a multipart body that are not file content.
//!
//! Every body goes through [`timed`], and every multipart body through [`FramingGuard`], in
//! `api::handle` / `api::upload`, whichever side (hyper or the raw writer) carries it.

use crate::api::BodyStream;
use bytes::Bytes;
use futures_util::Stream;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// The largest number of bytes of a multipart body outside its parts' contents: the preamble,
/// the delimiters and the part headers together, plus what is buffered but not yet handed out.
/// A well-formed upload needs a few hundred bytes; the read buffers below the multipart parser
/// hold at most about 400 KiB. Past this the body is refused as malformed, which bounds a part
/// header that never ends.
pub const MAX_MULTIPART_FRAMING: u64 = 1024 * 1024;

/// The largest upload body read: the package size rule (100 MiB, see `tests/packages/README.md`)
/// plus the multipart framing allowance. A larger `Content-Length` is refused before the body
/// is read; a chunked body is cut when it passes this.
pub const MAX_UPLOAD_BODY: u64 = crate::policy::MAX_PACKAGE_SIZE + MAX_MULTIPART_FRAMING;

/// The largest non-file part of an upload (the endpoint reads only the `file` part).
pub const MAX_OTHER_PART: u64 = 64 * 1024;

/// Time and connection limits. The defaults suit a test tool that must also survive abuse;
/// tests shorten the timeouts to stay within seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// From accept to the end of the request head, the TLS handshake included.
    pub head_timeout: Duration,
    /// The longest pause between two pieces of a request body.
    pub idle_timeout: Duration,
    /// The longest an upload body may take, from the end of its head.
    pub upload_timeout: Duration,
    /// The longest any other body (a push, a request to another path) may take.
    pub push_timeout: Duration,
    /// Connections served at once; further ones wait in the listen queue until one ends.
    pub max_connections: usize,
    /// How far a signed push's `TimeStamp` may be from the emulator's clock, either way.
    pub max_clock_skew: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            head_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(30),
            // 100 MiB in 10 minutes is about 175 KB/s: slower than any link a test uses.
            upload_timeout: Duration::from_secs(600),
            push_timeout: Duration::from_secs(30),
            max_connections: 512,
            // TPNS documents no bound; ten minutes is what signed APIs commonly allow.
            max_clock_skew: Duration::from_secs(600),
        }
    }
}

/// The error a timed-out body yields (kind [`io::ErrorKind::TimedOut`]).
pub fn is_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    e.downcast_ref::<io::Error>()
        .is_some_and(|e| e.kind() == io::ErrorKind::TimedOut)
}

/// `body` with a pause limit and an overall deadline: when the consumer has waited `idle` for
/// the next item, or `total` has passed since this call, the stream yields one `TimedOut`
/// error and ends. The pause counts only time spent waiting for the client, not time the
/// consumer spends between two reads (writing a chunk to disk, say).
pub fn timed<'a>(body: BodyStream<'a>, idle: Duration, total: Duration) -> BodyStream<'a> {
    let now = Instant::now();
    Box::pin(Timed {
        inner: body,
        idle,
        idle_timer: Box::pin(tokio::time::sleep_until(now + idle)),
        deadline: Box::pin(tokio::time::sleep_until(now + total)),
        waiting: false,
        done: false,
    })
}

struct Timed<'a> {
    inner: BodyStream<'a>,
    idle: Duration,
    idle_timer: Pin<Box<Sleep>>,
    deadline: Pin<Box<Sleep>>,
    /// The consumer asked for an item that has not come yet: the pause is running.
    waiting: bool,
    done: bool,
}

impl Stream for Timed<'_> {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = self.inner.as_mut().poll_next(cx) {
            if item.is_none() {
                self.done = true;
            }
            self.waiting = false;
            return Poll::Ready(item);
        }
        if !self.waiting {
            self.waiting = true;
            let next = Instant::now() + self.idle;
            self.idle_timer.as_mut().reset(next);
        }
        let why = if self.deadline.as_mut().poll(cx).is_ready() {
            "the request body took too long"
        } else if self.idle_timer.as_mut().poll(cx).is_ready() {
            "the request body stalled"
        } else {
            return Poll::Pending;
        };
        self.done = true;
        Poll::Ready(Some(Err(io::Error::new(io::ErrorKind::TimedOut, why))))
    }
}

/// Counts the bytes handed to the multipart parser against the bytes of part contents taken
/// out of it; the difference is framing (preamble, delimiters, part headers) or buffered data,
/// and may not pass [`MAX_MULTIPART_FRAMING`]. multer bounds the whole body and each part but
/// not a part header, which it buffers until its blank line.
#[derive(Debug, Clone, Default)]
pub struct FramingGuard {
    fed: Arc<AtomicU64>,
    taken: Arc<AtomicU64>,
}

/// The message of the error a [`FramingGuard`] stream yields.
pub const FRAMING_TOO_LARGE: &str =
    "multipart framing (preamble, delimiters, part headers) larger than 1 MiB";

impl FramingGuard {
    /// Wraps the body given to the parser: after [`MAX_MULTIPART_FRAMING`] bytes of framing
    /// it yields one `InvalidData` error ([`FRAMING_TOO_LARGE`]) and ends.
    pub fn wrap<'a>(&self, body: BodyStream<'a>) -> BodyStream<'a> {
        Box::pin(Guarded {
            inner: body,
            guard: self.clone(),
            failed: false,
        })
    }

    /// Records part content taken out of the parser.
    pub fn took(&self, n: usize) {
        self.taken.fetch_add(n as u64, Ordering::Relaxed);
    }
}

struct Guarded<'a> {
    inner: BodyStream<'a>,
    guard: FramingGuard,
    failed: bool,
}

impl Stream for Guarded<'_> {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.failed {
            return Poll::Ready(None);
        }
        let item = std::task::ready!(self.inner.as_mut().poll_next(cx));
        if let Some(Ok(chunk)) = &item {
            let n = chunk.len() as u64;
            let fed = self.guard.fed.fetch_add(n, Ordering::Relaxed) + n;
            let taken = self.guard.taken.load(Ordering::Relaxed);
            if fed.saturating_sub(taken) > MAX_MULTIPART_FRAMING {
                self.failed = true;
                return Poll::Ready(Some(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    FRAMING_TOO_LARGE,
                ))));
            }
        }
        Poll::Ready(item)
    }
}

/// Whether a multer error is the guard's refusal.
pub fn is_framing_error(e: &(dyn std::error::Error + 'static)) -> bool {
    e.downcast_ref::<io::Error>().is_some_and(|e| {
        e.kind() == io::ErrorKind::InvalidData && e.to_string() == FRAMING_TOO_LARGE
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    fn stream(items: Vec<io::Result<Bytes>>) -> BodyStream<'static> {
        Box::pin(futures_util::stream::iter(items))
    }

    #[tokio::test]
    async fn a_stalled_body_times_out() {
        let pending: BodyStream<'static> = Box::pin(futures_util::stream::pending());
        let mut t = timed(pending, Duration::from_millis(100), Duration::from_secs(10));
        let start = Instant::now();
        let e = t.next().await.unwrap().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert_eq!(e.to_string(), "the request body stalled");
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(100) && took < Duration::from_secs(5),
            "{took:?}"
        );
        assert!(t.next().await.is_none());
    }

    #[tokio::test]
    async fn a_dripping_body_meets_the_deadline() {
        // A byte every 20 ms never trips the 200 ms pause limit; the 300 ms deadline ends it.
        let drip: BodyStream<'static> = Box::pin(
            futures_util::stream::repeat_with(|| Ok(Bytes::from_static(b"x"))).then(|b| async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                b
            }),
        );
        let mut t = timed(drip, Duration::from_millis(200), Duration::from_millis(300));
        let start = Instant::now();
        let mut got = 0;
        let e = loop {
            match t.next().await {
                Some(Ok(_)) => got += 1,
                Some(Err(e)) => break e,
                None => panic!("ended without a timeout"),
            }
        };
        assert!(is_timeout(&e));
        assert_eq!(e.to_string(), "the request body took too long");
        assert!(got > 1, "{got}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn a_slow_consumer_is_not_a_stalled_client() {
        // The client's bytes are all there; the consumer takes 150 ms per item, longer than
        // the 50 ms pause limit.
        let ready = stream((0..4).map(|_| Ok(Bytes::from_static(b"x"))).collect());
        let mut t = timed(ready, Duration::from_millis(50), Duration::from_secs(10));
        let mut got = 0;
        while let Some(item) = t.next().await {
            item.unwrap();
            got += 1;
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        assert_eq!(got, 4);
    }

    #[tokio::test]
    async fn the_guard_counts_framing() {
        let g = FramingGuard::default();
        let big = Bytes::from(vec![0u8; 600 * 1024]);
        let mut s = g.wrap(stream(vec![Ok(big.clone()), Ok(big.clone()), Ok(big)]));
        assert!(s.next().await.unwrap().is_ok());
        g.took(600 * 1024);
        assert!(s.next().await.unwrap().is_ok());
        let e = s.next().await.unwrap().unwrap_err();
        assert!(is_framing_error(&e));
        assert!(s.next().await.is_none());
    }
}
