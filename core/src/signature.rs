//! TPNS signature authentication for JSON requests (feature `signature`).
//!
//! `Sign = base64(lowercase_hex(HMAC-SHA256(key = SecretKey, msg = TimeStamp + AccessId +
//! body)))`: the *hex string* of the MAC is base64-encoded, not the raw MAC. The request then
//! carries the headers `AccessId`, `TimeStamp` and `Sign` instead of `Authorization`.
//!
//! [`Signer`] is a [`Sink`]: emit the body into it (the same emitter that later writes the
//! body), so the signature covers exactly the bytes sent and the body is never buffered.

use core::convert::Infallible;
use core::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::auth::{Base64, Credentials};
use crate::sink::{Sink, SliceSink, put_decimal};

/// A `Sign` header value: 88 base64 characters (of the 64-character hex MAC).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Sign {
    text: [u8; Sign::LEN],
}

impl Sign {
    /// Length of the value in bytes.
    pub const LEN: usize = 88;

    /// The value as text.
    pub fn as_str(&self) -> &str {
        // Only base64 characters are ever written.
        core::str::from_utf8(&self.text).unwrap_or("")
    }
}

impl fmt::Debug for Sign {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Sign").field(&self.as_str()).finish()
    }
}

/// Computes a [`Sign`] over the body bytes put into it.
///
/// # Examples
///
/// ```
/// use tpns_core::{auth::Credentials, signature::Signer, sink::Sink};
/// let creds = Credentials::new("1500001048", "1452fcebae9f3115ba794fb0fff2fd73").unwrap();
/// let mut signer = Signer::new(&creds, 1565314789);
/// signer.put(br#"{"audience_type":"package_account_push"}"#).unwrap();
/// assert_eq!(signer.finish().as_str().len(), 88);
/// ```
pub struct Signer {
    mac: Hmac<Sha256>,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Signer { .. }")
    }
}

impl Signer {
    /// Starts a signature for `credentials` at `timestamp` (unix seconds).
    pub fn new(credentials: &Credentials<'_>, timestamp: u64) -> Self {
        // HMAC accepts keys of any length (RFC 2104 §2), so this cannot fail.
        let mut mac =
            match Hmac::<Sha256>::new_from_slice(credentials.dangerous_secret_key().as_bytes()) {
                Ok(mac) => mac,
                Err(_) => unreachable!("HMAC takes keys of any length"),
            };
        let mut ts = [0u8; 20];
        let mut sink = SliceSink::new(&mut ts);
        let Ok(()) = put_decimal(&mut sink, timestamp);
        let n = sink.finish().unwrap_or(0);
        mac.update(&ts[..n]);
        mac.update(credentials.access_id().as_bytes());
        Signer { mac }
    }

    /// The `Sign` value for everything put in.
    pub fn finish(self) -> Sign {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let digest = self.mac.finalize().into_bytes();
        let mut hex = [0u8; 64];
        for (i, byte) in digest.iter().enumerate() {
            hex[2 * i] = HEX[usize::from(byte >> 4)];
            hex[2 * i + 1] = HEX[usize::from(byte & 0xf)];
        }
        let mut text = [0u8; Sign::LEN];
        let mut out = SliceSink::new(&mut text);
        let mut b64 = Base64::new(&mut out);
        let Ok(()) = b64.put(&hex);
        let Ok(()) = b64.finish();
        debug_assert_eq!(out.finish(), Ok(Sign::LEN));
        Sign { text }
    }
}

impl Sink for Signer {
    type Error = Infallible;

    fn put(&mut self, bytes: &[u8]) -> Result<(), Infallible> {
        self.mac.update(bytes);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_documentation_vector() {
        let creds = Credentials::new("1500001048", "1452fcebae9f3115ba794fb0fff2fd73").unwrap();
        let body = br#"{"audience_type": "account","message": {"title": "test title","content": "test content","android": { "action": {"action_type": 3,"intent": "xgscheme://com.xg.push/notify_detail?param1=xg"}}},"message_type": "notify","account_list": ["5822f0eee44c3625ef0000bb"] }"#;
        // Split the body at every byte: the signature must not depend on it.
        for split in [0, 1, 100, body.len()] {
            let mut signer = Signer::new(&creds, 1_565_314_789);
            signer.put(&body[..split]).unwrap();
            signer.put(&body[split..]).unwrap();
            assert_eq!(
                signer.finish().as_str(),
                "MDlmMDdkMmE1MThhODgxNGUzNjlkY2Q5NTM0ZjEwYjhhMjlkMTI4NTMxYTE5YWRhYTI4Y2IyNDc2MDVjMWU4NA=="
            );
        }
    }
}
