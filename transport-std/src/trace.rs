//! What diagnostics see of an exchange: the request and response heads (credentials
//! redacted) and when the request was sent and answered, recorded by a [`Tap`] on the
//! plaintext stream (inside TLS), so the library itself never prints anything.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

/// The most of a head kept: the core's response limit, and far more than a request head.
pub(crate) const HEAD_LIMIT: usize = 16 * 1024;

/// Header names whose values are credentials: the value is replaced by its scheme (the first
/// word) and `<redacted>`. `Sign` is the signed push's HMAC, a replayable credential.
const SECRET_HEADERS: [&str; 3] = ["authorization", "proxy-authorization", "sign"];

/// A head being captured, up to its blank line or [`HEAD_LIMIT`].
#[derive(Debug, Default)]
struct Head {
    bytes: Vec<u8>,
    done: Option<Instant>,
}

impl Head {
    fn take(&mut self, data: &[u8]) {
        if self.done.is_some() {
            return;
        }
        let from = self.bytes.len().saturating_sub(3);
        let room = HEAD_LIMIT - self.bytes.len();
        self.bytes.extend_from_slice(&data[..data.len().min(room)]);
        if let Some(end) = find_blank_line(&self.bytes[from..]) {
            self.bytes.truncate(from + end);
            self.done = Some(Instant::now());
        } else if self.bytes.len() >= HEAD_LIMIT {
            self.done = Some(Instant::now());
        }
    }
}

/// The end of the first `\r\n\r\n` in `b` (just after it).
fn find_blank_line(b: &[u8]) -> Option<usize> {
    b.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// A stream that records the first request head written, the first response head read, and
/// the times of the first and last write.
#[derive(Debug)]
pub(crate) struct Tap<S> {
    pub(crate) inner: S,
    request: Head,
    response: Head,
    first_write: Option<Instant>,
    last_write: Option<Instant>,
}

impl<S> Tap<S> {
    pub(crate) fn new(inner: S) -> Self {
        Tap {
            inner,
            request: Head::default(),
            response: Head::default(),
            first_write: None,
            last_write: None,
        }
    }

    /// The request head as sent, credentials redacted (empty if nothing was written).
    pub(crate) fn request_head(&self) -> String {
        redact_head(&self.request.bytes)
    }

    /// The response head as received, credentials redacted (empty if nothing was read).
    pub(crate) fn response_head(&self) -> String {
        redact_head(&self.response.bytes)
    }

    /// From the first byte written to the last.
    pub(crate) fn send_time(&self) -> Duration {
        match (self.first_write, self.last_write) {
            (Some(a), Some(b)) => b.duration_since(a),
            _ => Duration::ZERO,
        }
    }

    /// From the last byte written to the end of the response head, if one came after it.
    pub(crate) fn answer_time(&self) -> Option<Duration> {
        let done = self.response.done?;
        Some(done.saturating_duration_since(self.last_write?))
    }
}

impl<S: Read> Read for Tap<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.response.take(&buf[..n]);
        Ok(n)
    }
}

impl<S: Write> Write for Tap<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        if n > 0 {
            let now = Instant::now();
            self.first_write.get_or_insert(now);
            self.last_write = Some(now);
            self.request.take(&buf[..n]);
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A head as text, each line ending in `\n` (without the blank line), bytes that are not
/// UTF-8 shown as U+FFFD, and the values of [`SECRET_HEADERS`] redacted:
/// `Authorization: Basic <redacted>`.
pub(crate) fn redact_head(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut out = String::with_capacity(text.len());
    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
        match line.split_once(':') {
            Some((name, value))
                if SECRET_HEADERS
                    .iter()
                    .any(|s| name.trim().eq_ignore_ascii_case(s)) =>
            {
                out.push_str(name);
                out.push(':');
                let value = value.trim();
                // The scheme word is kept when there is one (`Basic`, `Bearer`); a bare value
                // (`Sign`) shows nothing of itself.
                if let Some((scheme, _)) = value.split_once(' ') {
                    out.push(' ');
                    out.push_str(scheme);
                }
                out.push_str(" <redacted>");
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_redacted_and_the_rest_kept() {
        let head = b"POST /v3/push/app HTTP/1.1\r\nHost: h\r\nAuthorization: Basic dTpw\r\n\
            proxy-authorization: Basic eDp5\r\nSign: c2lnbg==\r\nContent-Length: 2\r\n\r\n";
        let text = redact_head(head);
        assert_eq!(
            text,
            "POST /v3/push/app HTTP/1.1\nHost: h\nAuthorization: Basic <redacted>\n\
             proxy-authorization: Basic <redacted>\nSign: <redacted>\nContent-Length: 2\n"
        );
    }

    #[test]
    fn the_tap_keeps_the_heads_only_across_chunks() {
        let mut tap = Tap::new(io::Cursor::new(
            b"HTTP/1.1 200 OK\r\nA: b\r\n\r\n{\"x\":1}".to_vec(),
        ));
        let mut buf = [0u8; 5];
        while tap.read(&mut buf).unwrap() > 0 {}
        assert_eq!(tap.response_head(), "HTTP/1.1 200 OK\nA: b\n");
        let mut tap = Tap::new(Vec::new());
        for chunk in [&b"GET / HTTP/1.1\r"[..], b"\n\r", b"\nbody body"] {
            tap.write_all(chunk).unwrap();
        }
        assert_eq!(tap.request_head(), "GET / HTTP/1.1\n");
        assert_eq!(tap.inner.len(), 27);
        assert!(tap.answer_time().is_none());
    }
}
