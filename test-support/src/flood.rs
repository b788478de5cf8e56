//! The flooding answers every transport must refuse: an endless response head, an endless
//! body (close-delimited or with a huge length) and garbage instead of HTTP. Each transport's
//! tests run the same table against a [`RawServer`] that reads the
//! request and then floods, and map their own error onto a [`Refusal`].

use std::fmt::Debug;
use std::net::TcpStream;
use std::time::Duration;

use crate::raw::{FLOOD_CAP, RawServer, flood, read_request};

/// The error a flood must end in, named without any tpns type (this crate depends on none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The response head passed the head limit.
    HeadTooLarge,
    /// The response body passed the body limit.
    BodyTooLarge,
    /// What came back does not start with an HTTP status line.
    InvalidStatusLine,
}

impl Refusal {
    /// The refusal a response error stands for, by its `Debug` text: the variant's name, which
    /// this crate can match without depending on the error's crate. `None` for any other error.
    pub fn of(response_error: &dyn Debug) -> Option<Refusal> {
        match format!("{response_error:?}").as_str() {
            "HeadTooLarge" => Some(Refusal::HeadTooLarge),
            "BodyTooLarge" => Some(Refusal::BodyTooLarge),
            "InvalidStatusLine" => Some(Refusal::InvalidStatusLine),
            _ => None,
        }
    }
}

/// One flooding answer: `first` once, then `filler` over and over.
#[derive(Debug)]
pub struct FloodCase {
    /// What the case is, for failure messages.
    pub name: &'static str,
    /// Written once, first.
    pub first: &'static [u8],
    /// Written over and over after `first`.
    pub filler: &'static [u8],
    /// The error the client must end in.
    pub refusal: Refusal,
    /// Whether the error must also say it is not transient (retrying would flood again).
    pub permanent: bool,
}

/// Every flood, in the order the transports' tests have always run them.
pub const CASES: &[FloodCase] = &[
    FloodCase {
        name: "endless head",
        first: b"HTTP/1.1 200 OK\r\n",
        filler: b"X-Padding: 0123456789abcdef0123456789abcdef\r\n",
        refusal: Refusal::HeadTooLarge,
        permanent: true,
    },
    FloodCase {
        name: "endless close-delimited body",
        first: b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{\"errMsg\":\"",
        filler: b"abcdefghijklmnop",
        refusal: Refusal::BodyTooLarge,
        permanent: false,
    },
    FloodCase {
        name: "body of a length far beyond the limit",
        first: b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n{\"errMsg\":\"",
        filler: b"abcdefghijklmnop",
        refusal: Refusal::BodyTooLarge,
        permanent: false,
    },
    FloodCase {
        name: "an SSH banner and garbage",
        first: b"SSH-2.0-OpenSSH_9.6\r\n",
        filler: b"\x00\xff garbage \x80",
        refusal: Refusal::InvalidStatusLine,
        permanent: true,
    },
    FloodCase {
        name: "a TLS alert and garbage",
        first: b"\x16\x03\x03\x00\x02\x02\x28",
        filler: b"\x00\xff garbage \x80",
        refusal: Refusal::InvalidStatusLine,
        permanent: true,
    },
];

/// The cases that must end in `refusal`.
pub fn cases(refusal: Refusal) -> impl Iterator<Item = &'static FloodCase> {
    CASES.iter().filter(move |c| c.refusal == refusal)
}

/// How long a refusal may take: the limits are small, so a client that takes longer kept
/// reading.
pub const QUICK: Duration = Duration::from_secs(3);

impl FloodCase {
    /// A server that reads one request and then floods; its result is the bytes it wrote.
    pub fn serve(&'static self) -> RawServer<usize> {
        RawServer::spawn(move |mut conn: TcpStream| {
            read_request(&mut conn).unwrap();
            flood(&mut conn, self.first, self.filler)
        })
    }

    /// Checks the client's end: `got` is its error mapped onto a [`Refusal`] (`None` for any
    /// other error), `transient` what the error says of a retry, `took` how long the upload
    /// ran, `written` what the server wrote; `err` is shown on failure.
    pub fn check(
        &self,
        got: Option<Refusal>,
        transient: bool,
        took: Duration,
        written: usize,
        err: &dyn Debug,
    ) {
        let name = self.name;
        assert_eq!(got, Some(self.refusal), "{name}: {err:?}");
        if self.permanent {
            assert!(!transient, "{name}: {err:?}");
        }
        assert!(took < QUICK, "{name}: {took:?}");
        assert!(
            written < FLOOD_CAP,
            "{name}: the client kept reading: {written} bytes"
        );
    }
}
