//! Shared fixtures for the tpns benchmarks: valid packages, an upload job, an in-memory
//! transport, and the hot loops that the criterion benches and the callgrind bins measure.
//!
//! The figures and how to reproduce them are in `bench/README.md`.

use core::ops::ControlFlow;

use embedded_io::{ErrorKind, ErrorType, Read, Write};
use tpns_core::auth::Credentials;
use tpns_core::endpoint::Endpoint;
use tpns_core::multipart::{Body, Boundary, Form};
use tpns_core::response::Limits;
use tpns_core::upload::{Upload, UploadBytes, UploadResponse, upload};

/// The AccessID used in every fixture.
pub const ACCESS_ID: &str = "1500001048";
/// The SecretKey used in every fixture.
pub const SECRET: &str = "1452fcebae9f3115ba794fb0fff2fd73";
/// The endpoint used in every fixture.
pub const ENDPOINT: &str = "https://127.0.0.1:8443/";
/// The I/O buffer of the std client (`tpns_transport_std::DEFAULT_BUFFER`).
pub const BUFFER: usize = 64 * 1024;

/// A typical upload answer from the emulator (hyper): status line, three headers, JSON.
pub const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\n\
content-type: application/json\r\n\
content-length: 44\r\n\
date: Thu, 26 Nov 2026 12:00:00 GMT\r\n\
\r\n\
{\"retCode\":0,\"errMsg\":\"\",\"uploadId\":1000001}";

/// The same answer, chunked, with an interim `100 Continue` before it.
pub const RESPONSE_CHUNKED: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n\
HTTP/1.1 200 OK\r\n\
content-type: application/json\r\n\
transfer-encoding: chunked\r\n\
date: Thu, 26 Nov 2026 12:00:00 GMT\r\n\
\r\n\
10;emulator=chunk\r\n{\"retCode\":0,\"er\r\n\
10;emulator=chunk\r\nrMsg\":\"\",\"upload\r\n\
c\r\nId\":1000001}\r\n\
0\r\nX-Emulator-Trailer: done\r\n\r\n";

/// An error answer with a longer, escaped message and fields the reader must skip.
pub const JSON_ERROR: &[u8] = br#"{"retCode":1008011,"errMsg":"package rejected: row too long at line 1234 (\"account\u00e9\" has 101 characters)","requestId":"a0b1c2d3-e4f5","data":{"nested":[1,2,3,{"x":null}],"ok":false},"uploadId":null}"#;

/// A valid `.txt` package of exactly `len` bytes: rows `account-00000001\n`, … (17 bytes
/// each), the last row padded or cut so that every row keeps 2..=100 characters.
///
/// `len` must be 0 or at least 3 (a 2-character row and its line end).
pub fn package(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut i = 1u64;
    while len - out.len() >= 17 + 3 || len - out.len() == 17 {
        out.extend_from_slice(format!("account-{i:08}\n").as_bytes());
        i += 1;
    }
    let rest = len - out.len();
    if rest > 0 {
        assert!(rest >= 3, "a package holds at least one 2-character row");
        out.extend(core::iter::repeat_n(b'x', rest - 1));
        out.push(b'\n');
    }
    debug_assert_eq!(out.len(), len);
    out
}

/// Runs `f` with the fixed upload job of the benches.
pub fn with_job<T>(f: impl FnOnce(&Upload<'_>) -> T) -> T {
    let endpoint = Endpoint::parse(ENDPOINT).expect("valid endpoint");
    let job = Upload {
        endpoint: &endpoint,
        credentials: Credentials::new(ACCESS_ID, SECRET).expect("valid credentials"),
        file_name: "accounts.txt",
        boundary: Boundary::from_random([0x5a; 16]),
        expect_continue: false,
        limits: Limits::default(),
    };
    f(&job)
}

/// Hands `buf[..n]` to an optimiser barrier, as a transport's `write` would take it.
#[inline(always)]
fn consume(buf: &[u8]) {
    core::hint::black_box(buf);
}

/// Calls `fill` on `buf` until it returns 0, handing each piece to [`consume`]. Returns the
/// bytes filled. Inlined into each `hot_*` function, which callgrind counts as a whole.
#[inline(always)]
fn drain(buf: &mut [u8], mut fill: impl FnMut(&mut [u8]) -> usize) -> u64 {
    let mut total = 0u64;
    loop {
        let n = fill(buf);
        if n == 0 {
            return total;
        }
        consume(&buf[..n]);
        total += n as u64;
    }
}

/// The floor: copies `source` through `buf` in `buf.len()` pieces with `copy_from_slice`, as
/// any sender must at least do. Returns the bytes copied.
#[inline(never)]
pub fn hot_copy(source: &[u8], buf: &mut [u8]) -> u64 {
    let mut total = 0u64;
    for piece in source.chunks(buf.len()) {
        buf[..piece.len()].copy_from_slice(piece);
        consume(&buf[..piece.len()]);
        total += piece.len() as u64;
    }
    total
}

/// The multipart body alone: [`Body::fill`] over an in-memory package, through `buf`.
#[inline(never)]
pub fn hot_body(source: &[u8], buf: &mut [u8]) -> u64 {
    let boundary = Boundary::from_random([0x5a; 16]);
    let form = Form {
        boundary: &boundary,
        file_name: "accounts.txt",
    };
    let mut body = Body::new(form, source, source.len() as u64);
    drain(buf, |buf| body.fill(buf).expect("in-memory source"))
}

/// The whole request (head, multipart body): [`UploadBytes::fill`], through `buf`.
#[inline(never)]
pub fn hot_request(job: &Upload<'_>, source: &[u8], buf: &mut [u8]) -> u64 {
    let mut request = UploadBytes::new(job, source, source.len() as u64).expect("valid job");
    drain(buf, |buf| request.fill(buf).expect("in-memory source"))
}

/// The blocking driver end to end ([`upload`]): request out through `buf` into a
/// [`MemoryTransport`] that discards it, then the canned [`RESPONSE`] read back.
#[inline(never)]
pub fn hot_upload(job: &Upload<'_>, source: &[u8], buf: &mut [u8]) -> UploadResponse {
    let mut transport = MemoryTransport::new(RESPONSE);
    let answer = upload(&mut transport, job, source, source.len() as u64, buf, |p| {
        core::hint::black_box(p);
        ControlFlow::Continue(())
    })
    .expect("canned answer");
    core::hint::black_box(transport.written);
    answer
}

/// An in-memory connection: writes are counted and dropped, reads return a canned answer.
#[derive(Debug)]
pub struct MemoryTransport<'a> {
    answer: &'a [u8],
    /// Bytes written so far.
    pub written: u64,
}

impl<'a> MemoryTransport<'a> {
    /// A connection that will answer `answer`.
    pub fn new(answer: &'a [u8]) -> Self {
        MemoryTransport { answer, written: 0 }
    }
}

impl ErrorType for MemoryTransport<'_> {
    type Error = ErrorKind;
}

impl Read for MemoryTransport<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        let n = buf.len().min(self.answer.len());
        buf[..n].copy_from_slice(&self.answer[..n]);
        self.answer = &self.answer[n..];
        Ok(n)
    }
}

impl Write for MemoryTransport<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        consume(buf);
        self.written += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

/// The local check that `tpns upload` runs over every byte before sending:
/// `tpns_core::package::validate_rows` over an in-memory package, through `buf`.
#[inline(never)]
pub fn hot_validate(source: &[u8], buf: &mut [u8]) -> u64 {
    tpns_core::package::validate_rows(source, tpns_core::package::Format::Txt, buf)
        .expect("valid package")
        .rows
}

/// The row check alone, as the upload's body source runs it: `source` fed to the validator in
/// pieces of `piece` bytes, in place (no copy). Returns the rows.
#[inline(never)]
pub fn hot_rows(source: &[u8], piece: usize) -> u64 {
    let mut v = tpns_core::package::RowValidator::new(tpns_core::package::Format::Txt);
    for p in source.chunks(piece) {
        v.feed(p).expect("valid package");
    }
    v.finish().expect("valid package").rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_packages_are_valid_exact_and_fixed() {
        for mix in [Mix::Ascii, Mix::Mixed, Mix::Cjk] {
            for len in [0, 3, 4, 5, 100, 101, 102, 103, 104, 250, 4096, 1_000_000] {
                let p = mixed_package(len, mix);
                assert_eq!(p.len(), len, "{mix:?} {len}");
                if len > 0 {
                    assert!(hot_rows(&p, 64 * 1024) > 0, "{mix:?} {len}");
                }
                assert_eq!(p, mixed_package(len, mix), "deterministic");
            }
        }
        // The mixed set: about one row in five and 12 % of the bytes non-ASCII.
        let p = mixed_package(1_000_000, Mix::Mixed);
        let high = p.iter().filter(|&&b| b >= 0x80).count() as f64 / p.len() as f64;
        assert!((0.10..0.14).contains(&high), "{high}");
    }

    #[test]
    fn packages_are_valid_and_exact() {
        let mut buf = vec![0u8; 4096];
        for len in [
            3, 4, 16, 17, 18, 19, 20, 21, 33, 34, 35, 36, 37, 1000, 1_000_000,
        ] {
            let p = package(len);
            assert_eq!(p.len(), len);
            assert!(hot_validate(&p, &mut buf) >= 1, "len {len}");
        }
    }

    /// The validator must give the same verdict (rows, or the error and its line) whatever
    /// the chunking: fed whole, a chunk of 1 byte never reaches a word-at-a-time fast path, so
    /// this compares such a path (if `RowValidator::feed` has one) with the byte path.
    #[test]
    fn the_validator_agrees_with_itself_byte_by_byte() {
        use tpns_core::package::{Format, RowValidator};
        let pieces: [&[u8]; 14] = [
            b"account-00000001",
            b"\n",
            b"\r\n",
            b"ab",
            b"x",
            b"\xc3\xa9",
            b"\xe2\x82\xac",
            b"\xff",
            b"\"q\"",
            b",",
            b"\r",
            b"0123456789abcdef0123456789abcdef0123456789",
            b"\t",
            b"\n\n",
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for case in 0..3000 {
            let mut text = Vec::new();
            let n = 1 + next() % 40;
            for _ in 0..n {
                // Mostly plain rows, so that long clean runs occur.
                let r = next() % 100;
                let piece = if r < 60 {
                    pieces[(r % 2) as usize]
                } else {
                    pieces[(r % 14) as usize]
                };
                text.extend_from_slice(piece);
            }
            for format in [Format::Txt, Format::Csv] {
                let verdict = |chunk: usize| {
                    let mut v = RowValidator::new(format);
                    for c in text.chunks(chunk) {
                        if v.feed(c).is_err() {
                            break;
                        }
                    }
                    v.finish().map(|s| s.rows).map_err(|e| (e.line, e.rule))
                };
                let reference = verdict(1);
                for chunk in [7, 8, 13, 64, text.len().max(1)] {
                    assert_eq!(
                        verdict(chunk),
                        reference,
                        "case {case} {format:?} chunk {chunk}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_hot_loop_moves_the_same_package_bytes() {
        let p = package(300_001);
        let mut buf = vec![0u8; 4096];
        assert_eq!(hot_copy(&p, &mut buf), 300_001);
        assert!(hot_body(&p, &mut buf) > 300_001);
        with_job(|job| {
            let request_len = UploadBytes::new(job, &p[..], p.len() as u64).unwrap().len();
            assert_eq!(hot_request(job, &p, &mut buf), request_len);
            assert_eq!(hot_upload(job, &p, &mut buf).upload_id, 1_000_001);
        });
    }
}

/// What a generated package's rows look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mix {
    /// ASCII accounts only (`user.name_1234`-like, 6..=30 characters).
    Ascii,
    /// Real-world names: one row in five carries non-ASCII characters (accented Latin, Greek,
    /// Cyrillic, CJK in turn); about 12 % of the bytes are non-ASCII.
    Mixed,
    /// Mostly CJK: four rows in five are CJK names of 4..=60 characters (3 bytes each), so
    /// many rows are longer than 100 bytes while holding at most 100 characters.
    Cjk,
}

/// A valid `.txt` package of exactly `len` bytes (`len` = 0 or at least 3) with rows of the
/// given `mix`, from a fixed seed: the same bytes on every machine and every run. Every row
/// holds 2..=100 characters and ends with LF.
pub fn mixed_package(len: usize, mix: Mix) -> Vec<u8> {
    const LATIN: &[char] = &['é', 'è', 'ü', 'ö', 'ñ', 'ç', 'å', 'ø', 'ß', 'á', 'í', 'ó'];
    const GREEK: &[char] = &[
        'α', 'β', 'γ', 'δ', 'ε', 'ζ', 'η', 'θ', 'λ', 'μ', 'π', 'σ', 'ω',
    ];
    const CYRILLIC: &[char] = &['а', 'б', 'в', 'г', 'д', 'ж', 'и', 'к', 'л', 'м', 'н', 'я'];
    const CJK: &[char] = &[
        '王', '李', '张', '刘', '陈', '杨', '黄', '赵', '吴', '周', '明', '华',
    ];
    const ASCII: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789._";
    // A fixed xorshift: deterministic, no dependency.
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let mut out = Vec::with_capacity(len + 400);
    let mut row = String::new();
    let mut i = 0u64;
    while out.len() < len {
        row.clear();
        let script = match mix {
            Mix::Ascii => None,
            Mix::Mixed if i % 5 == 4 => Some([LATIN, GREEK, CYRILLIC, CJK][(i / 5 % 4) as usize]),
            Mix::Mixed => None,
            Mix::Cjk if i % 5 != 4 => Some(CJK),
            Mix::Cjk => None,
        };
        match script {
            Some(CJK) if mix == Mix::Cjk => {
                for _ in 0..4 + next(57) {
                    row.push(CJK[next(CJK.len())]);
                }
            }
            Some(chars) => {
                // A name with some non-ASCII letters: `ana.μαρία` style.
                for _ in 0..3 + next(8) {
                    row.push(ASCII[next(26)] as char);
                }
                row.push('.');
                for _ in 0..3 + next(5) {
                    row.push(chars[next(chars.len())]);
                }
            }
            None => {
                for _ in 0..6 + next(25) {
                    row.push(ASCII[next(ASCII.len())] as char);
                }
            }
        }
        row.push('\n');
        out.extend_from_slice(row.as_bytes());
        i += 1;
    }
    // Cut back to whole rows, then pad with one ASCII row to the exact length.
    while out.len() > len {
        out.pop();
        while out.last().is_some_and(|&b| b != b'\n') {
            out.pop();
        }
    }
    let rest = len - out.len();
    if rest > 0 {
        // Rows of at most 100 characters, the last one at least 2.
        let mut left = rest;
        while left > 0 {
            let take = if left > 101 {
                (left - 4).min(100)
            } else {
                left - 1
            };
            assert!(take >= 2, "a package holds at least one 2-character row");
            out.extend(core::iter::repeat_n(b'x', take));
            out.push(b'\n');
            left -= take + 1;
        }
    }
    debug_assert_eq!(out.len(), len);
    out
}
