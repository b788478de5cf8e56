//! Deflate streams far larger inflated than stored, for the zip-bomb tests of both the client
//! and the emulator.

use flate2::{Compress, Compression, FlushCompress};

/// A raw deflate stream of `copies` copies of `chunk`, made by repeating one sync-flushed
/// block: a gigabyte of text from a megabyte of stream and milliseconds of work.
pub fn deflate_repeated(chunk: &[u8], copies: usize) -> Vec<u8> {
    let mut c = Compress::new(Compression::best(), false);
    let mut block = || {
        let mut out = Vec::with_capacity(chunk.len() + 1024);
        c.compress_vec(chunk, &mut out, FlushCompress::Sync)
            .unwrap();
        out
    };
    // The first block may refer to nothing before it; the second is one that can be repeated.
    let (first, next) = (block(), block());
    let mut out = first;
    for _ in 1..copies {
        out.extend_from_slice(&next);
    }
    out.extend_from_slice(&[0x01, 0x00, 0x00, 0xFF, 0xFF]); // an empty final stored block
    out
}
