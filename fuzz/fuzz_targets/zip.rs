//! The zip inspector and the inflating row check on arbitrary archives: never panic, never
//! read out of bounds, never loop; the one-pass check (`ZipStreamCheck`, fed the archive in
//! pieces) gives the verdict of the seeking one.
#![no_main]

use embedded_io::{ErrorKind, ErrorType, Read, Seek, SeekFrom};
use libfuzzer_sys::fuzz_target;
use tpns_core::package::{
    RowKind, ZIP_WINDOW, ZipError, ZipStreamCheck, inspect_zip, validate_zip_rows,
};

struct Cursor<'a> {
    data: &'a [u8],
    at: u64,
}

impl ErrorType for Cursor<'_> {
    type Error = ErrorKind;
}

impl Read for Cursor<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        let start = usize::try_from(self.at)
            .unwrap_or(usize::MAX)
            .min(self.data.len());
        let n = buf.len().min(self.data.len() - start);
        buf[..n].copy_from_slice(&self.data[start..start + n]);
        self.at += n as u64;
        Ok(n)
    }
}

impl Seek for Cursor<'_> {
    fn seek(&mut self, pos: SeekFrom) -> Result<u64, ErrorKind> {
        let to = match pos {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => (self.data.len() as u64).checked_add_signed(d),
            SeekFrom::Current(d) => self.at.checked_add_signed(d),
        };
        self.at = to.ok_or(ErrorKind::InvalidInput)?;
        Ok(self.at)
    }
}

fuzz_target!(|data: &[u8]| {
    let mut cursor = Cursor { data, at: 0 };
    let mut scratch = [0u8; 256];
    let Ok(entry) = inspect_zip(&mut cursor, &mut scratch) else {
        return;
    };
    let mut window = Box::new([0u8; ZIP_WINDOW]);
    let mut inbuf = [0u8; 512];
    let seeking = validate_zip_rows(&mut cursor, &entry, &mut window, &mut inbuf).map(|s| s.rows);
    // The one pass, in pieces whose size comes from the archive's last byte.
    let piece = usize::from(data.last().copied().unwrap_or(1)).max(1);
    let mut stream = ZipStreamCheck::new(entry, RowKind::Account, Box::new([0u8; ZIP_WINDOW]));
    let streamed = data
        .chunks(piece)
        .try_for_each(|p| stream.feed(p))
        .and_then(|()| stream.finish())
        .map(|s| s.rows);
    match (seeking, streamed) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        // The seeking reader may fail to read where the one pass just ends (a truncated file).
        (
            Err(ZipError::Io(_) | ZipError::Archive(tpns_core::package::ZipRule::Truncated)),
            Err(_),
        ) => {}
        (Err(a), Err(b)) => assert_eq!(format!("{a:?}"), format!("{b:?}")),
        (a, b) => panic!("seeking {a:?}, one pass {b:?}"),
    }
});
