//! The two authentication schemes of `docs/TPNS-API.md`: HTTP Basic (RFC 7617) and the TPNS signature
//! (`AccessId`, `TimeStamp`, `Sign` headers).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use hyper::http::HeaderMap;
use sha2::Sha256;
use std::collections::HashMap;
use std::time::Duration;

/// The configured apps: AccessID → SecretKey.
pub type Apps = HashMap<String, String>;

/// Checks `Authorization: Basic …` against the apps and returns the AccessID.
pub fn basic(headers: &HeaderMap, apps: &Apps) -> Option<String> {
    let value = headers.get(hyper::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    // RFC 7617 §2: the scheme name is case-insensitive.
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(token.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let expected = apps.get(id)?;
    constant_time_eq(expected.as_bytes(), secret.as_bytes()).then(|| id.to_owned())
}

/// `Sign` for a request: base64 of the lowercase hex HMAC-SHA256 of `timestamp + access_id +
/// body`, keyed with the secret (the hex *string* is base64-encoded, not the raw MAC).
pub fn sign(secret: &str, timestamp: &str, access_id: &str, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so new_from_slice cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(timestamp.as_bytes());
    mac.update(access_id.as_bytes());
    mac.update(body);
    let hex = crate::package::hex(&mac.finalize().into_bytes());
    STANDARD.encode(hex)
}

/// Whether `timestamp` (unix seconds, decimal) is within `max_skew` of `now`, either way: a
/// signed request replayed later, or signed by a machine whose clock is wrong, is refused.
pub fn fresh(timestamp: &str, now: u64, max_skew: Duration) -> bool {
    timestamp
        .parse::<u64>()
        .is_ok_and(|ts| ts.abs_diff(now) <= max_skew.as_secs())
}

/// Checks the signature headers against the apps and returns the AccessID. The `TimeStamp`
/// must be [`fresh`] at `now` within `max_skew` (tests of Tencent's test vector, signed in 2019,
/// allow a skew of years).
pub fn signature(
    headers: &HeaderMap,
    body: &[u8],
    apps: &Apps,
    now: u64,
    max_skew: Duration,
) -> Option<String> {
    let id = signature_head(headers, apps, now, max_skew)?;
    let ts = header(headers, "TimeStamp")?;
    let given = header(headers, "Sign")?;
    let expected = sign(apps.get(&id)?, ts, &id, body);
    constant_time_eq(expected.as_bytes(), given.as_bytes()).then_some(id)
}

/// The value of header `name`, trimmed; `None` if absent or not text.
fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    Some(headers.get(name)?.to_str().ok()?.trim())
}

/// What can be checked of signature auth before the body is read: `AccessId` names an app,
/// `TimeStamp` is [`fresh`] and `Sign` is present. Returns the AccessID; the signature itself
/// covers the body and is checked by [`signature`] once the body is read.
pub fn signature_head(
    headers: &HeaderMap,
    apps: &Apps,
    now: u64,
    max_skew: Duration,
) -> Option<String> {
    let id = header(headers, "AccessId")?;
    let ts = header(headers, "TimeStamp")?;
    if !fresh(ts, now, max_skew) {
        return None;
    }
    headers.get("Sign")?;
    apps.contains_key(id).then(|| id.to_owned())
}

/// Whether the request carries the signature headers (so signature auth is meant).
pub fn has_signature(headers: &HeaderMap) -> bool {
    headers.contains_key("AccessId") || headers.contains_key("Sign")
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::http::HeaderValue;

    /// Tencent's test vector (docs/TPNS-API.md).
    const BODY: &str = r#"{"audience_type": "account","message": {"title": "test title","content": "test content","android": { "action": {"action_type": 3,"intent": "xgscheme://com.xg.push/notify_detail?param1=xg"}}},"message_type": "notify","account_list": ["5822f0eee44c3625ef0000bb"] }"#;
    const SIGN: &str =
        "MDlmMDdkMmE1MThhODgxNGUzNjlkY2Q5NTM0ZjEwYjhhMjlkMTI4NTMxYTE5YWRhYTI4Y2IyNDc2MDVjMWU4NA==";

    fn apps() -> Apps {
        [(
            "1500001048".to_owned(),
            "1452fcebae9f3115ba794fb0fff2fd73".to_owned(),
        )]
        .into()
    }

    #[test]
    fn api_md_signature_vector() {
        let s = sign(
            "1452fcebae9f3115ba794fb0fff2fd73",
            "1565314789",
            "1500001048",
            BODY.as_bytes(),
        );
        assert_eq!(s, SIGN);
        let mut h = HeaderMap::new();
        h.insert("AccessId", HeaderValue::from_static("1500001048"));
        h.insert("TimeStamp", HeaderValue::from_static("1565314789"));
        h.insert("Sign", HeaderValue::from_static(SIGN));
        // The clock of the vector's day, one second later.
        let (now, skew) = (1_565_314_790, Duration::from_secs(600));
        assert_eq!(
            signature(&h, BODY.as_bytes(), &apps(), now, skew).as_deref(),
            Some("1500001048")
        );
        assert_eq!(signature(&h, b"{}", &apps(), now, skew), None);
        h.insert("TimeStamp", HeaderValue::from_static("1565314790"));
        assert_eq!(signature(&h, BODY.as_bytes(), &apps(), now, skew), None);
    }

    #[test]
    fn the_timestamp_must_be_within_the_skew() {
        let skew = Duration::from_secs(600);
        let now = 1_800_000_000;
        for (ts, ok) in [
            ("1800000000", true),
            ("1799999400", true),
            ("1800000600", true),
            ("1799999399", false),
            ("1800000601", false),
            ("0", false),
            ("-1800000000", false),
            ("1800000000.0", false),
            ("", false),
            ("99999999999999999999999", false),
        ] {
            assert_eq!(fresh(ts, now, skew), ok, "{ts}");
        }
        let mut h = HeaderMap::new();
        h.insert("AccessId", HeaderValue::from_static("1500001048"));
        h.insert("TimeStamp", HeaderValue::from_static("1565314789"));
        h.insert("Sign", HeaderValue::from_static(SIGN));
        // Tencent's test vector, correctly signed, is refused today: it is years old.
        assert_eq!(signature(&h, BODY.as_bytes(), &apps(), now, skew), None);
        assert_eq!(signature_head(&h, &apps(), now, skew), None);
        assert!(signature_head(&h, &apps(), 1_565_314_789, skew).is_some());
    }

    #[test]
    fn basic_auth() {
        let mut apps = apps();
        apps.insert("Aladdin".into(), "open sesame".into());
        let mut h = HeaderMap::new();
        // RFC 7617 §2 example.
        h.insert(
            "authorization",
            HeaderValue::from_static("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
        );
        assert_eq!(basic(&h, &apps).as_deref(), Some("Aladdin"));
        h.insert(
            "authorization",
            HeaderValue::from_static("bAsIc QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
        );
        assert_eq!(basic(&h, &apps).as_deref(), Some("Aladdin"));
        // "Aladdin:open sesamE"
        h.insert(
            "authorization",
            HeaderValue::from_static("Basic QWxhZGRpbjpvcGVuIHNlc2FtRQ=="),
        );
        assert_eq!(basic(&h, &apps), None);
        h.insert("authorization", HeaderValue::from_static("Basic !!!"));
        assert_eq!(basic(&h, &apps), None);
        h.insert("authorization", HeaderValue::from_static("Bearer x"));
        assert_eq!(basic(&h, &apps), None);
        assert_eq!(basic(&HeaderMap::new(), &apps), None);
    }
}
