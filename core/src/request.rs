//! The HTTP/1.1 request head (RFC 9112 §3): request line and header fields.
//!
//! This module is the one place that decides the framing headers (`Content-Length`, `Expect`).
//! Every value is checked for CR, LF and other control characters before anything is emitted,
//! so no input can inject a header line.

use core::fmt;

use crate::auth::Credentials;
use crate::endpoint::Endpoint;
use crate::multipart::Boundary;
use crate::sink::{Sink, put_decimal};

/// Path of the account package upload endpoint.
pub const UPLOAD_PATH: &str = "/v3/push/package/upload";
/// Path of the push endpoint.
pub const PUSH_PATH: &str = "/v3/push/app";

/// The `User-Agent` this crate sends: `tpns/<version>`.
pub const USER_AGENT: &str = concat!("tpns/", env!("CARGO_PKG_VERSION"));

/// How the request authenticates.
#[derive(Debug, Clone, Copy)]
pub enum Authorization<'a> {
    /// HTTP Basic with the app's AccessID and SecretKey (RFC 7617).
    Basic(Credentials<'a>),
    /// TPNS's signature headers `AccessId`, `TimeStamp` and `Sign`, computed over the body
    /// (see [`crate::signature`]).
    #[cfg(feature = "signature")]
    Signature {
        /// The AccessID.
        access_id: &'a str,
        /// Unix time in seconds that the signature covers.
        timestamp: u64,
        /// The `Sign` value.
        sign: &'a crate::signature::Sign,
    },
}

/// What the body is.
#[derive(Debug, Clone, Copy)]
pub enum ContentType<'a> {
    /// `multipart/form-data` with this boundary (RFC 7578).
    Multipart(&'a Boundary),
    /// `application/json`.
    Json,
}

/// Everything the request head says.
#[derive(Debug, Clone, Copy)]
pub struct RequestHead<'a> {
    /// Where the request goes (host, port, path prefix).
    pub endpoint: &'a Endpoint<'a>,
    /// The API path, such as [`UPLOAD_PATH`].
    pub path: &'a str,
    /// The credentials.
    pub authorization: Authorization<'a>,
    /// The body's media type.
    pub content_type: ContentType<'a>,
    /// The exact body length in bytes.
    pub content_length: u64,
    /// Whether to send `Expect: 100-continue` and wait for the interim response before the body.
    pub expect_continue: bool,
}

/// A request value that cannot be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum RequestError {
    /// The host is empty or holds a space or control character.
    InvalidHost,
    /// The path prefix or path holds a space or control character, or does not start with `/`.
    InvalidPath,
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InvalidHost => "the host is empty or contains a space or control character",
            Self::InvalidPath => "the request path contains a space or control character",
        })
    }
}

impl core::error::Error for RequestError {}

fn is_clean(value: &str) -> bool {
    value.bytes().all(|b| b > b' ' && b != 0x7f)
}

impl RequestHead<'_> {
    /// Checks every value that goes into the head.
    ///
    /// # Errors
    ///
    /// [`RequestError`] when a value could break the head's framing.
    pub fn check(&self) -> Result<(), RequestError> {
        if self.endpoint.host.is_empty() || !is_clean(self.endpoint.host) {
            return Err(RequestError::InvalidHost);
        }
        let prefix = self.endpoint.path_prefix;
        if !is_clean(prefix) || !(prefix.is_empty() || prefix.starts_with('/')) {
            return Err(RequestError::InvalidPath);
        }
        if !is_clean(self.path) || !self.path.starts_with('/') {
            return Err(RequestError::InvalidPath);
        }
        Ok(())
    }

    /// Emits the head, ending with the blank line that precedes the body.
    ///
    /// Call [`RequestHead::check`] first: `emit` assumes the values are clean.
    ///
    /// # Errors
    ///
    /// Only the sink's own errors.
    pub fn emit<S: Sink>(&self, s: &mut S) -> Result<(), S::Error> {
        s.put(b"POST ")?;
        s.put(self.endpoint.path_prefix.as_bytes())?;
        s.put(self.path.as_bytes())?;
        s.put(b" HTTP/1.1\r\nHost: ")?;
        self.endpoint.emit_authority(s)?;
        match self.authorization {
            Authorization::Basic(creds) => {
                s.put(b"\r\nAuthorization: ")?;
                creds.emit_basic(s)?;
            }
            #[cfg(feature = "signature")]
            Authorization::Signature {
                access_id,
                timestamp,
                sign,
            } => {
                s.put(b"\r\nAccessId: ")?;
                s.put(access_id.as_bytes())?;
                s.put(b"\r\nTimeStamp: ")?;
                put_decimal(s, timestamp)?;
                s.put(b"\r\nSign: ")?;
                s.put(sign.as_str().as_bytes())?;
            }
        }
        s.put(b"\r\nContent-Type: ")?;
        match self.content_type {
            ContentType::Multipart(boundary) => {
                s.put(b"multipart/form-data; boundary=")?;
                s.put(boundary.as_bytes())?;
            }
            ContentType::Json => s.put(b"application/json")?,
        }
        s.put(b"\r\nContent-Length: ")?;
        put_decimal(s, self.content_length)?;
        s.put(b"\r\nUser-Agent: ")?;
        s.put(USER_AGENT.as_bytes())?;
        s.put(b"\r\nAccept: application/json\r\n")?;
        if self.expect_continue {
            s.put(b"Expect: 100-continue\r\n")?;
        }
        s.put(b"\r\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::{Region, Scheme};
    use crate::sink::emitted;

    #[test]
    fn golden_head() {
        let creds = Credentials::new("1500001048", "open sesame").unwrap();
        let boundary = Boundary::from_random([0xab; 16]);
        let endpoint = Region::HongKong.endpoint();
        let head = RequestHead {
            endpoint: &endpoint,
            path: UPLOAD_PATH,
            authorization: Authorization::Basic(creds),
            content_type: ContentType::Multipart(&boundary),
            content_length: 1234,
            expect_continue: true,
        };
        head.check().unwrap();
        let expected = std::format!(
            "POST /v3/push/package/upload HTTP/1.1\r\n\
             Host: api.tpns.hk.tencent.com\r\n\
             Authorization: Basic MTUwMDAwMTA0ODpvcGVuIHNlc2FtZQ==\r\n\
             Content-Type: multipart/form-data; boundary=tpns-abababababababababababababababab\r\n\
             Content-Length: 1234\r\n\
             User-Agent: {USER_AGENT}\r\n\
             Accept: application/json\r\n\
             Expect: 100-continue\r\n\r\n"
        );
        assert_eq!(emitted(|s| head.emit(s)), expected);
    }

    #[test]
    fn injected_values_are_refused() {
        let creds = Credentials::new("1", "s").unwrap();
        let bad_host = Endpoint {
            scheme: Scheme::Http,
            host: "h\r\nX-Evil: 1",
            port: 80,
            path_prefix: "",
        };
        let bad_prefix = Endpoint {
            path_prefix: "/a\nb",
            host: "h",
            ..bad_host
        };
        for (endpoint, err) in [
            (&bad_host, RequestError::InvalidHost),
            (&bad_prefix, RequestError::InvalidPath),
        ] {
            let head = RequestHead {
                endpoint,
                path: PUSH_PATH,
                authorization: Authorization::Basic(creds),
                content_type: ContentType::Json,
                content_length: 0,
                expect_continue: false,
            };
            assert_eq!(head.check(), Err(err));
        }
    }
}
