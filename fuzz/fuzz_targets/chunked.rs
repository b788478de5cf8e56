//! Chunked bodies: arbitrary bytes after a chunked head. Besides the response target's checks,
//! a body the reader accepts must equal what a simple reference decoder makes of it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tpns_core::response::Limits;

#[path = "common.rs"]
mod common;

/// A straightforward whole-buffer decoder of RFC 9112 §7.1 (extensions and trailers skipped).
fn reference(mut input: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = input.iter().position(|&b| b == b'\n')?;
        let line = input[..line_end]
            .strip_suffix(b"\r")
            .unwrap_or(&input[..line_end]);
        input = &input[line_end + 1..];
        let size_end = line
            .iter()
            .position(|b| !b.is_ascii_hexdigit())
            .unwrap_or(line.len());
        let size = usize::from_str_radix(std::str::from_utf8(&line[..size_end]).ok()?, 16).ok()?;
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(input.get(..size)?);
        input = &input[size..];
        input = input
            .strip_prefix(b"\r\n")
            .or_else(|| input.strip_prefix(b"\n"))?;
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, chunks)) = data.split_first() else {
        return;
    };
    let mut input = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    input.extend_from_slice(chunks);
    let limits = Limits {
        max_head: 4096,
        max_body: 1 << 16,
    };
    let whole = common::read_response(&input, input.len(), limits);
    let split = common::read_response(&input, usize::from(split) * 2, limits);
    assert_eq!(whole, split, "the split changed the result");
    if let Ok(read) = whole {
        assert_eq!(
            Some(read.body),
            reference(chunks),
            "differs from the reference decoder"
        );
    }
});
