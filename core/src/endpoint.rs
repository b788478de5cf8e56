//! Where requests go: the four TPNS regions and custom endpoints.
//!
//! The four service access points hold isolated data, so the app's region fixes the host. A
//! custom [`Endpoint`] (scheme, host, port, path prefix) serves tests, proxies and the emulator.

use core::fmt;

use crate::sink::{Sink, put_decimal};

/// A TPNS service access point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Region {
    /// Guangzhou, the default: `api.tpns.tencent.com`.
    #[default]
    Guangzhou,
    /// Shanghai: `api.tpns.sh.tencent.com`.
    Shanghai,
    /// Hong Kong: `api.tpns.hk.tencent.com`.
    HongKong,
    /// Singapore: `api.tpns.sgp.tencent.com`.
    Singapore,
}

impl Region {
    /// Every region, in the order of the API documentation.
    pub const ALL: [Region; 4] = [
        Region::Guangzhou,
        Region::Shanghai,
        Region::HongKong,
        Region::Singapore,
    ];

    /// The region's host name.
    pub const fn host(self) -> &'static str {
        match self {
            Region::Guangzhou => "api.tpns.tencent.com",
            Region::Shanghai => "api.tpns.sh.tencent.com",
            Region::HongKong => "api.tpns.hk.tencent.com",
            Region::Singapore => "api.tpns.sgp.tencent.com",
        }
    }

    /// The short code used on command lines: `gz`, `sh`, `hk` or `sgp`.
    pub const fn code(self) -> &'static str {
        match self {
            Region::Guangzhou => "gz",
            Region::Shanghai => "sh",
            Region::HongKong => "hk",
            Region::Singapore => "sgp",
        }
    }

    /// The region for a short code (`gz`, `sh`, `hk`, `sgp`), if it is one.
    pub fn from_code(code: &str) -> Option<Region> {
        Region::ALL.into_iter().find(|r| r.code() == code)
    }

    /// The region's HTTPS endpoint.
    pub const fn endpoint(self) -> Endpoint<'static> {
        Endpoint {
            scheme: Scheme::Https,
            host: self.host(),
            port: 443,
            path_prefix: "",
        }
    }
}

/// HTTP or HTTPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Scheme {
    /// Plain HTTP: tests and local emulators only.
    Http,
    /// HTTPS: the only scheme TPNS itself serves.
    Https,
}

impl Scheme {
    /// The scheme's default port.
    pub const fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// A base URL that requests are sent to.
///
/// `host` is a DNS name or an IP address (IPv6 without brackets); `path_prefix` is empty or
/// starts with `/` and has no trailing `/`, so that the request target is
/// `{path_prefix}/v3/...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Endpoint<'a> {
    /// HTTP or HTTPS.
    pub scheme: Scheme,
    /// Host name or IP address (an IPv6 address without its brackets).
    pub host: &'a str,
    /// TCP port.
    pub port: u16,
    /// Path before `/v3/...`: empty, or `/`-led without a trailing `/`.
    pub path_prefix: &'a str,
}

/// Why a base URL was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum EndpointError {
    /// The URL does not start with `http://` or `https://`.
    UnsupportedScheme,
    /// The host is missing or holds a character that is not allowed in a host.
    InvalidHost,
    /// The URL carries a user name or password (`user@host`); credentials go elsewhere.
    UserInfoNotAllowed,
    /// The port is not a number from 1 to 65535.
    InvalidPort,
    /// The path holds a space, a control character, `?` or `#`.
    InvalidPath,
}

impl fmt::Display for EndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::UnsupportedScheme => "the URL must start with https:// or http://",
            Self::InvalidHost => "the URL has no valid host",
            Self::UserInfoNotAllowed => "the URL must not contain a user name or password",
            Self::InvalidPort => "the URL's port must be a number from 1 to 65535",
            Self::InvalidPath => {
                "the URL's path must not contain spaces, control characters, '?' or '#'"
            }
        })
    }
}

impl core::error::Error for EndpointError {}

impl<'a> Endpoint<'a> {
    /// Parses a base URL such as `https://127.0.0.1:8443/` or `http://[::1]:8080/prefix/`.
    ///
    /// # Errors
    ///
    /// [`EndpointError`] names the part of the URL that is wrong.
    ///
    /// # Examples
    ///
    /// ```
    /// use tpns_core::endpoint::{Endpoint, Scheme};
    /// let e = Endpoint::parse("https://127.0.0.1:8443/").unwrap();
    /// assert_eq!((e.scheme, e.host, e.port, e.path_prefix), (Scheme::Https, "127.0.0.1", 8443, ""));
    /// ```
    pub fn parse(url: &'a str) -> Result<Self, EndpointError> {
        let (scheme, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (Scheme::Https, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (Scheme::Http, rest)
        } else {
            return Err(EndpointError::UnsupportedScheme);
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err(EndpointError::UserInfoNotAllowed);
        }
        let (host, port) = split_host_port(authority)?;
        let port = match port {
            None => scheme.default_port(),
            Some(digits) => match digits.parse::<u16>() {
                // `parse` accepts a leading '+', which a URL port may not have.
                Ok(p) if p != 0 && digits.bytes().all(|b| b.is_ascii_digit()) => p,
                _ => return Err(EndpointError::InvalidPort),
            },
        };
        if path
            .bytes()
            .any(|b| b <= b' ' || b == 0x7f || b == b'?' || b == b'#')
        {
            return Err(EndpointError::InvalidPath);
        }
        Ok(Endpoint {
            scheme,
            host,
            port,
            path_prefix: path.trim_end_matches('/'),
        })
    }

    /// Whether requests go over TLS.
    pub fn is_tls(&self) -> bool {
        self.scheme == Scheme::Https
    }

    /// Whether the host is a loopback address or `localhost`.
    pub fn is_loopback(&self) -> bool {
        self.host == "localhost"
            || self.host == "::1"
            || self.host.strip_prefix("127.").is_some_and(|rest| {
                rest.split('.').count() == 3 && rest.split('.').all(|o| o.parse::<u8>().is_ok())
            })
    }

    /// Emits the `Host` header value: the host (IPv6 in brackets), and the port when it is not
    /// the scheme's default (RFC 9110 §7.2).
    pub fn emit_authority<S: Sink>(&self, sink: &mut S) -> Result<(), S::Error> {
        let ipv6 = self.host.contains(':');
        if ipv6 {
            sink.put(b"[")?;
        }
        sink.put(self.host.as_bytes())?;
        if ipv6 {
            sink.put(b"]")?;
        }
        if self.port != self.scheme.default_port() {
            sink.put(b":")?;
            put_decimal(sink, u64::from(self.port))?;
        }
        Ok(())
    }
}

fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), EndpointError> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let end = rest.find(']').ok_or(EndpointError::InvalidHost)?;
        let host = &rest[..end];
        if host.is_empty()
            || !host
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return Err(EndpointError::InvalidHost);
        }
        match &rest[end + 1..] {
            "" => (host, None),
            after => (
                host,
                Some(after.strip_prefix(':').ok_or(EndpointError::InvalidPort)?),
            ),
        }
    } else {
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        };
        // RFC 3986 reg-name / IPv4: letters, digits, '-', '.', '_' and '~' cover real hosts.
        let valid = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
        if host.is_empty() || !host.bytes().all(valid) {
            return Err(EndpointError::InvalidHost);
        }
        (host, port)
    };
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::emitted;

    #[test]
    fn regions_match_the_api_documentation() {
        let hosts = Region::ALL.map(Region::host);
        assert_eq!(
            hosts,
            [
                "api.tpns.tencent.com",
                "api.tpns.sh.tencent.com",
                "api.tpns.hk.tencent.com",
                "api.tpns.sgp.tencent.com"
            ]
        );
        for r in Region::ALL {
            assert_eq!(Region::from_code(r.code()), Some(r));
            let e = r.endpoint();
            assert!(e.is_tls());
            assert_eq!(emitted(|s| e.emit_authority(s)), r.host());
        }
        assert_eq!(Region::from_code("bj"), None);
    }

    #[test]
    fn parses_custom_urls() {
        let cases = [
            (
                "https://127.0.0.1:8443/",
                Scheme::Https,
                "127.0.0.1",
                8443,
                "",
                "127.0.0.1:8443",
            ),
            (
                "http://localhost",
                Scheme::Http,
                "localhost",
                80,
                "",
                "localhost",
            ),
            (
                "https://[::1]:9/x/y/",
                Scheme::Https,
                "::1",
                9,
                "/x/y",
                "[::1]:9",
            ),
            (
                "https://h.example:443/p",
                Scheme::Https,
                "h.example",
                443,
                "/p",
                "h.example",
            ),
        ];
        for (url, scheme, host, port, prefix, auth) in cases {
            let e = Endpoint::parse(url).unwrap();
            assert_eq!(
                (e.scheme, e.host, e.port, e.path_prefix),
                (scheme, host, port, prefix)
            );
            assert_eq!(emitted(|s| e.emit_authority(s)), auth, "{url}");
        }
    }

    #[test]
    fn refuses_bad_urls() {
        use EndpointError::*;
        for (url, err) in [
            ("ftp://x/", UnsupportedScheme),
            ("https://", InvalidHost),
            ("https://a b/", InvalidHost),
            ("https://u:p@h/", UserInfoNotAllowed),
            ("https://h:0/", InvalidPort),
            ("https://h:99999/", InvalidPort),
            ("https://h:+1/", InvalidPort),
            ("https://[::1/", InvalidHost),
            ("https://h/a\r\nX: y", InvalidPath),
            ("https://h/?q", InvalidPath),
        ] {
            assert_eq!(Endpoint::parse(url), Err(err), "{url}");
        }
    }

    #[test]
    fn loopback_detection() {
        for (url, lo) in [
            ("http://127.0.0.1:1/", true),
            ("http://127.1.2.3/", true),
            ("http://localhost/", true),
            ("http://[::1]/", true),
            ("http://127.0.0.1.evil.example/", false),
            ("http://10.0.0.1/", false),
        ] {
            assert_eq!(Endpoint::parse(url).unwrap().is_loopback(), lo, "{url}");
        }
    }
}
