//! HTTP proxies, as curl users configure them: a proxy URL (`http://user:pass@host:port`),
//! `HTTPS_PROXY` / `ALL_PROXY` from the environment, and `NO_PROXY` with curl's matching rules.
//!
//! Requests go through the proxy in a `CONNECT host:port` tunnel; TLS to the service runs
//! inside it with the same verification as without a proxy, so the proxy sees only the host
//! name and port, never the request.

use std::fmt;
use std::net::IpAddr;

use tpns_core::auth::Base64;
use tpns_core::sink::Sink;

/// The default port of a proxy URL without one: 1080, as curl has it.
pub const DEFAULT_PROXY_PORT: u16 = 1080;

/// A proxy's `Proxy-Authorization` value (`Basic <base64>`). `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
struct ProxyAuth(String);

impl fmt::Debug for ProxyAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProxyAuth(<redacted>)")
    }
}

/// A proxy URL as given, not yet checked: it can hold a password, so `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ProxyUrl(pub(crate) String);

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProxyUrl(<redacted>)")
    }
}

/// An HTTP proxy: its host, port and optional Basic credentials.
///
/// `Debug` and `Display` never show the credentials: `Display` is `http://host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    host: String,
    port: u16,
    auth: Option<ProxyAuth>,
}

/// Why a proxy URL was refused. The text never holds the URL's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyError {
    /// A scheme other than `http://`: `socks4://`, `socks5://` and `https://` proxies are not
    /// supported.
    UnsupportedScheme(String),
    /// The URL has no host.
    NoHost,
    /// The host is neither a name, an IPv4 address, nor an IPv6 address in brackets.
    BadHost,
    /// The port is not a number from 1 to 65535.
    BadPort,
    /// The URL has a path, query or fragment other than `/`.
    Path,
    /// The user name or password holds a `%` not followed by two hex digits.
    BadPercent,
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsupportedScheme(s) => write!(
                f,
                "unsupported proxy scheme `{s}://` (only http:// proxies are supported)"
            ),
            Self::NoHost => f.write_str("the proxy URL has no host"),
            Self::BadHost => {
                f.write_str("the proxy URL's host is not a valid host name or address")
            }
            Self::BadPort => f.write_str("the proxy URL's port is not a number from 1 to 65535"),
            Self::Path => f.write_str("the proxy URL has a path (only `http://host:port` is used)"),
            Self::BadPercent => {
                f.write_str("the proxy URL's user name or password has a bad %-escape")
            }
        }
    }
}

impl std::error::Error for ProxyError {}

impl Proxy {
    /// Parses a proxy URL: `http://[user[:password]@]host[:port][/]`. A URL without a scheme
    /// is taken as `http://` (as curl does); the port defaults to [`DEFAULT_PROXY_PORT`]. The
    /// user name and password are percent-decoded and sent as `Proxy-Authorization: Basic`.
    ///
    /// # Errors
    ///
    /// [`ProxyError`]; an `https://` or `socks5://` proxy is [`ProxyError::UnsupportedScheme`].
    ///
    /// # Examples
    ///
    /// ```
    /// use tpns_transport_std::Proxy;
    ///
    /// let p = Proxy::parse("http://user:p%40ss@proxy.example:3128")?;
    /// assert_eq!(p.to_string(), "http://proxy.example:3128"); // no credentials
    /// assert!(p.has_credentials());
    /// assert!(Proxy::parse("socks5://proxy.example:1080").is_err());
    /// # Ok::<(), tpns_transport_std::ProxyError>(())
    /// ```
    pub fn parse(url: &str) -> Result<Proxy, ProxyError> {
        let url = url.trim();
        let rest = match url.find("://") {
            Some(i) => {
                let scheme = &url[..i];
                if !scheme.eq_ignore_ascii_case("http") {
                    // Only the scheme is echoed, bounded and printable: never the credentials.
                    let shown: String = scheme
                        .chars()
                        .take(16)
                        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
                        .collect();
                    return Err(ProxyError::UnsupportedScheme(shown.to_ascii_lowercase()));
                }
                &url[i + 3..]
            }
            None => url,
        };
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if !path.is_empty() && path != "/" {
            return Err(ProxyError::Path);
        }
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
            None => (None, authority),
        };
        let (host, port) = split_host_port(hostport).ok_or(ProxyError::BadHost)?;
        if host.is_empty() {
            return Err(ProxyError::NoHost);
        }
        if !valid_host(host) {
            return Err(ProxyError::BadHost);
        }
        let port = match port {
            None => DEFAULT_PROXY_PORT,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => n,
                _ => return Err(ProxyError::BadPort),
            },
        };
        let auth = match userinfo {
            None => None,
            Some(info) => {
                let (user, pass) = info.split_once(':').unwrap_or((info, ""));
                let mut plain = percent_decode(user)?;
                plain.push(b':');
                plain.extend(percent_decode(pass)?);
                Some(ProxyAuth(format!("Basic {}", base64(&plain))))
            }
        };
        Ok(Proxy {
            host: host.to_ascii_lowercase(),
            port,
            auth,
        })
    }

    /// The proxy's host (an IPv6 address without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the URL carried credentials (sent as `Proxy-Authorization: Basic`).
    pub fn has_credentials(&self) -> bool {
        self.auth.is_some()
    }

    /// The `Proxy-Authorization` header value, for the CONNECT request only.
    pub(crate) fn authorization(&self) -> Option<&str> {
        self.auth.as_ref().map(|a| a.0.as_str())
    }
}

impl fmt::Display for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}", authority(&self.host, self.port))
    }
}

/// `host:port`, with an IPv6 address in brackets.
pub(crate) fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Splits `host[:port]` or `[v6][:port]`; `None` if the brackets are unbalanced.
fn split_host_port(s: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = s.strip_prefix('[') {
        let end = rest.find(']')?;
        let host = &rest[..end];
        let after = &rest[end + 1..];
        return match after.strip_prefix(':') {
            Some(port) => Some((host, Some(port))),
            None if after.is_empty() => Some((host, None)),
            None => None,
        };
    }
    match s.matches(':').count() {
        0 => Some((s, None)),
        1 => s.split_once(':').map(|(h, p)| (h, Some(p))),
        // A bare IPv6 address: no port can be told apart.
        _ => Some((s, None)),
    }
}

/// A host name of letters, digits, `-`, `.` and `_`, or an IP address.
fn valid_host(host: &str) -> bool {
    host.parse::<IpAddr>().is_ok()
        || (host.len() <= 253
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_')))
}

fn percent_decode(s: &str) -> Result<Vec<u8>, ProxyError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3).ok_or(ProxyError::BadPercent)?;
            let hex = std::str::from_utf8(hex).map_err(|_| ProxyError::BadPercent)?;
            let v = u8::from_str_radix(hex, 16).map_err(|_| ProxyError::BadPercent)?;
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// Standard base64 with padding, by the core's encoder (the one that writes HTTP Basic).
fn base64(data: &[u8]) -> String {
    let mut out = Vec::with_capacity(data.len().div_ceil(3) * 4);
    let mut encoder = Base64::new(&mut out);
    let Ok(()) = encoder.put(data).and_then(|()| encoder.finish());
    out.into_iter().map(char::from).collect()
}

/// One `NO_PROXY` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Rule {
    /// A name: matches itself and its subdomains.
    Domain { name: String, port: Option<u16> },
    /// An address, or a CIDR block (`10.0.0.0/8`).
    Ip {
        addr: IpAddr,
        prefix: u8,
        port: Option<u16>,
    },
}

/// The hosts that bypass the proxy: a `NO_PROXY` list with curl's rules.
///
/// Entries are separated by commas (or spaces). `*` alone bypasses every host. A name matches
/// the host and its subdomains, with or without a leading dot (`example.com` and `.example.com`
/// both match `example.com` and `api.example.com`, not `badexample.com`); names are compared
/// without case. An IP address matches that address (IPv6 with or without brackets), a CIDR
/// block (`10.0.0.0/8`, `fd00::/8`) the addresses in it. An entry may end in `:port`
/// (`[::1]:8443` for IPv6), matching that port only. Entries that are none of these are
/// ignored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NoProxy {
    all: bool,
    rules: Vec<Rule>,
}

impl NoProxy {
    /// Parses a list such as `localhost,.internal.example,10.0.0.0/8,[::1]:8443`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tpns_transport_std::NoProxy;
    ///
    /// let n = NoProxy::parse("internal.example, 10.0.0.0/8, [::1]:8443");
    /// assert!(n.matches("api.internal.example", 443));
    /// assert!(!n.matches("notinternal.example", 443));
    /// assert!(n.matches("10.1.2.3", 443));
    /// assert!(n.matches("::1", 8443) && !n.matches("::1", 443));
    /// ```
    pub fn parse(list: &str) -> NoProxy {
        let mut out = NoProxy::default();
        for entry in list.split([',', ' ', '\t']).map(str::trim) {
            if entry.is_empty() {
                continue;
            }
            if entry == "*" {
                out.all = true;
                continue;
            }
            if let Some(rule) = parse_rule(entry) {
                out.rules.push(rule);
            }
        }
        out
    }

    /// Whether a request to `host` (an IPv6 address with or without brackets) on `port`
    /// bypasses the proxy.
    pub fn matches(&self, host: &str, port: u16) -> bool {
        if self.all {
            return true;
        }
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
        let ip = host.parse::<IpAddr>().ok();
        self.rules.iter().any(|rule| match rule {
            Rule::Domain { name, port: p } => {
                p.is_none_or(|p| p == port)
                    && ip.is_none()
                    && (host == *name
                        || (host.len() > name.len()
                            && host.ends_with(name.as_str())
                            && host.as_bytes()[host.len() - name.len() - 1] == b'.'))
            }
            Rule::Ip {
                addr,
                prefix,
                port: p,
            } => p.is_none_or(|p| p == port) && ip.is_some_and(|ip| in_block(ip, *addr, *prefix)),
        })
    }

    /// Whether the list is empty (nothing bypasses the proxy).
    pub fn is_empty(&self) -> bool {
        !self.all && self.rules.is_empty()
    }
}

fn parse_rule(entry: &str) -> Option<Rule> {
    let (host, port) = split_host_port(entry)?;
    let port = match port {
        Some(p) => Some(p.parse::<u16>().ok()?),
        None => None,
    };
    let (host, prefix) = match host.split_once('/') {
        Some((h, bits)) => (h, Some(bits.parse::<u8>().ok()?)),
        None => (host, None),
    };
    if let Ok(addr) = host.parse::<IpAddr>() {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        return (prefix <= max).then_some(Rule::Ip { addr, prefix, port });
    }
    if prefix.is_some() {
        return None;
    }
    let name = host.trim_start_matches('.');
    let name = name.strip_suffix('.').unwrap_or(name);
    (!name.is_empty() && valid_host(name)).then(|| Rule::Domain {
        name: name.to_ascii_lowercase(),
        port,
    })
}

fn in_block(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    let (a, b, bits) = match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (
            u128::from(u32::from(a)) << 96,
            u128::from(u32::from(b)) << 96,
            prefix,
        ),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), prefix),
        // An IPv4-mapped IPv6 address against an IPv4 block, as the address it carries.
        (IpAddr::V6(a), IpAddr::V4(_)) => match a.to_ipv4_mapped() {
            Some(v4) => return in_block(IpAddr::V4(v4), net, prefix),
            None => return false,
        },
        (IpAddr::V4(_), IpAddr::V6(_)) => return false,
    };
    if bits == 0 {
        return true;
    }
    let mask = u128::MAX << (128 - u32::from(bits));
    a & mask == b & mask
}

/// Which proxy a client uses, and which hosts bypass it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ProxyRoute {
    pub(crate) proxy: Option<Proxy>,
    pub(crate) no_proxy: NoProxy,
}

impl ProxyRoute {
    /// The proxy for `host:port`, unless there is none or `NO_PROXY` bypasses it.
    pub(crate) fn for_target(&self, host: &str, port: u16) -> Option<&Proxy> {
        self.proxy
            .as_ref()
            .filter(|_| !self.no_proxy.matches(host, port))
    }
}

/// The proxy variables curl reads for a URL of the given scheme, in order: for HTTPS
/// `HTTPS_PROXY`, `https_proxy`, then `ALL_PROXY`, `all_proxy`; for plain HTTP only the
/// lowercase `http_proxy` (curl ignores `HTTP_PROXY`, which a CGI request can set), then the
/// `ALL_PROXY` pair.
pub fn proxy_env_vars(tls: bool) -> &'static [&'static str] {
    if tls {
        &["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
    } else {
        &["http_proxy", "ALL_PROXY", "all_proxy"]
    }
}

/// The `NO_PROXY` variables, in order.
pub const NO_PROXY_VARS: [&str; 2] = ["NO_PROXY", "no_proxy"];

/// The first of `names` that `get` gives a non-empty value for, with its name.
pub(crate) fn first_var(
    names: &[&'static str],
    get: &dyn Fn(&str) -> Option<String>,
) -> Option<(&'static str, String)> {
    names
        .iter()
        .find_map(|n| get(n).filter(|v| !v.trim().is_empty()).map(|v| (*n, v)))
}

/// The `CONNECT` request for `target` (`host:port`), with the proxy's credentials if any.
pub(crate) fn connect_request(proxy: &Proxy, target: &str) -> String {
    let mut head = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some(auth) = proxy.authorization() {
        head.push_str("Proxy-Authorization: ");
        head.push_str(auth);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls_parse_like_curl() {
        let p = Proxy::parse("http://proxy.example:3128").unwrap();
        assert_eq!(
            (p.host(), p.port(), p.has_credentials()),
            ("proxy.example", 3128, false)
        );
        let p = Proxy::parse("proxy.example").unwrap();
        assert_eq!((p.host(), p.port()), ("proxy.example", DEFAULT_PROXY_PORT));
        let p = Proxy::parse("HTTP://[::1]:8080/").unwrap();
        assert_eq!((p.host(), p.port()), ("::1", 8080));
        assert_eq!(p.to_string(), "http://[::1]:8080");
        let p = Proxy::parse("http://us%3Aer:p%40ss:word@10.0.0.1:3128").unwrap();
        // "us:er" : "p@ss:word" — the user's colon was escaped, the password's need not be.
        assert_eq!(
            p.authorization(),
            Some("Basic dXM6ZXI6cEBzczp3b3Jk") // base64 of "us:er:p@ss:word"
        );
        assert_eq!(p.to_string(), "http://10.0.0.1:3128");
        assert!(!format!("{p:?}").contains("Basic"), "{p:?}");
        for (url, err) in [
            (
                "socks5://h:1080",
                ProxyError::UnsupportedScheme("socks5".into()),
            ),
            (
                "https://h:443",
                ProxyError::UnsupportedScheme("https".into()),
            ),
            ("http://", ProxyError::NoHost),
            ("http://h:0", ProxyError::BadPort),
            ("http://h:99999", ProxyError::BadPort),
            ("http://h:x", ProxyError::BadPort),
            ("http://h/path", ProxyError::Path),
            ("http://u:%zz@h", ProxyError::BadPercent),
            ("http://h\r\nX:1", ProxyError::BadHost),
            ("http://[::1", ProxyError::BadHost),
        ] {
            assert_eq!(Proxy::parse(url), Err(err), "{url}");
        }
    }

    #[test]
    fn no_proxy_follows_curls_rules() {
        let n = NoProxy::parse(
            "example.com, .Internal.Example ,10.0.0.0/8 192.168.1.7,[::1]:8443,fd00::/8,host:99",
        );
        for (host, port, hit) in [
            ("example.com", 443, true),
            ("EXAMPLE.com.", 443, true),
            ("api.example.com", 443, true),
            ("badexample.com", 443, false),
            ("internal.example", 1, true),
            ("a.b.internal.example", 1, true),
            ("10.200.0.1", 443, true),
            ("11.0.0.1", 443, false),
            ("192.168.1.7", 80, true),
            ("192.168.1.8", 80, false),
            ("::1", 8443, true),
            ("[::1]", 8443, true),
            ("::1", 443, false),
            ("fd12::1", 443, true),
            ("fe80::1", 443, false),
            ("host", 99, true),
            ("host", 98, false),
            ("::ffff:10.1.1.1", 1, true),
        ] {
            assert_eq!(n.matches(host, port), hit, "{host}:{port}");
        }
        assert!(NoProxy::parse("*").matches("anything", 1));
        assert!(!NoProxy::parse("").matches("anything", 1));
        assert!(NoProxy::parse("").is_empty());
        // Garbage is ignored, not an error, as in curl.
        assert!(!NoProxy::parse("a/b,:,[x").matches("a", 1));
    }

    #[test]
    fn the_environment_is_read_in_curls_order() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let get = vars(&[("https_proxy", "http://a:1"), ("ALL_PROXY", "http://b:2")]);
        assert_eq!(
            first_var(proxy_env_vars(true), &get),
            Some(("https_proxy", "http://a:1".into()))
        );
        let get = vars(&[("HTTPS_PROXY", " "), ("ALL_PROXY", "http://b:2")]);
        assert_eq!(
            first_var(proxy_env_vars(true), &get),
            Some(("ALL_PROXY", "http://b:2".into()))
        );
        let get = vars(&[("HTTP_PROXY", "http://c:3")]);
        assert_eq!(first_var(proxy_env_vars(false), &get), None);
    }

    #[test]
    fn the_connect_request_names_the_target_twice() {
        let p = Proxy::parse("http://u:p@h:1").unwrap();
        assert_eq!(
            connect_request(&p, "[::1]:443"),
            "CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\
             Proxy-Authorization: Basic dTpw\r\n\r\n"
        );
    }
}
