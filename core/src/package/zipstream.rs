//! Checking a zip package's entry as the archive goes by: the one-pass upload of a zip.
//!
//! [`inspect_zip`](super::inspect_zip) reads the archive's structure first (the central
//! directory, the local header: small reads near the end and the start). [`ZipStreamCheck`]
//! then takes the archive's bytes in order, as the upload sends them, inflates the entry's data
//! as it passes and checks its rows, size and CRC-32. The verdict comes at the end, once the CRC
//! is known, so that a damaged archive is reported as damaged and not as a bad row (as
//! [`validate_zip_rows`](super::validate_zip_rows) does); the upload reads that end before it
//! sends the body's closing delimiter, so a bad archive is cut short and nothing is stored.

use core::borrow::BorrowMut;
use core::convert::Infallible;

use miniz_oxide::inflate::TINFLStatus;
use miniz_oxide::inflate::core::{DecompressorOxide, decompress, inflate_flags};

use super::ZipRule;
use super::zip::Check;
use super::{
    RowError, RowKind, RowSummary, RowValidator, ZIP_WINDOW, ZipEntry, ZipError, ZipMethod,
};

/// The entry of a zip, checked as the archive's bytes are fed in order from its first byte.
///
/// Memory: deflate's state (about 11 KB, in the struct) and the 32 KiB window `W` (owned or
/// borrowed, as the caller likes: `Box<[u8; ZIP_WINDOW]>` on std, `&mut [u8; ZIP_WINDOW]` on a
/// device).
pub struct ZipStreamCheck<W> {
    entry: ZipEntry,
    window: W,
    inflater: DecompressorOxide,
    /// Where the next output goes in the wrapping window.
    pos: usize,
    /// Archive bytes fed so far.
    offset: u64,
    check: Check,
    rows: RowValidator,
    /// The first row error, kept until the CRC has spoken.
    row_error: Option<RowError>,
    /// The deflate stream has ended.
    done: bool,
    /// A structural error: every later call returns it.
    failed: Option<ZipError<Infallible>>,
}

impl<W> core::fmt::Debug for ZipStreamCheck<W> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ZipStreamCheck")
            .field("entry", &self.entry)
            .field("offset", &self.offset)
            .field("done", &self.done)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl<W: BorrowMut<[u8; ZIP_WINDOW]>> ZipStreamCheck<W> {
    /// Checks `entry` (from [`inspect_zip`](super::inspect_zip) on the same archive) as rows of
    /// `kind`, with `window` for deflate's history.
    pub fn new(entry: ZipEntry, kind: RowKind, window: W) -> Self {
        ZipStreamCheck {
            check: Check::new(entry.uncompressed_size),
            rows: RowValidator::with_kind(entry.format, kind),
            entry,
            window,
            inflater: DecompressorOxide::new(),
            pos: 0,
            offset: 0,
            row_error: None,
            done: false,
            failed: None,
        }
    }

    /// Takes the archive's next bytes.
    ///
    /// # Errors
    ///
    /// The entry's data is damaged (it does not inflate, or inflates to more than declared):
    /// the same error on every later call. Row errors wait for [`finish`](Self::finish).
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), ZipError<Infallible>> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let result = self.take(bytes);
        if let Err(e) = result {
            self.failed = Some(e);
        }
        result
    }

    fn take(&mut self, bytes: &[u8]) -> Result<(), ZipError<Infallible>> {
        let start = self.offset;
        self.offset += bytes.len() as u64;
        let data_start = self.entry.data_offset;
        let data_end = data_start.saturating_add(self.entry.compressed_size);
        // The part of `bytes` inside the entry's data.
        let clip = |at: u64| {
            usize::try_from(at.saturating_sub(start)).map_or(bytes.len(), |x| x.min(bytes.len()))
        };
        let (lo, hi) = (clip(data_start), clip(data_end));
        if lo >= hi {
            return Ok(());
        }
        let data = &bytes[lo..hi];
        // More of the entry's data comes after this piece.
        let more = self.offset < data_end;
        match self.entry.method {
            ZipMethod::Stored => {
                self.check.take(data)?;
                self.text_at(None, data);
                Ok(())
            }
            ZipMethod::Deflate => self.inflate(data, more),
        }
    }

    fn inflate(&mut self, data: &[u8], more: bool) -> Result<(), ZipError<Infallible>> {
        let mut at = 0;
        loop {
            if self.done {
                // Bytes of the entry after the end of its deflate stream.
                return Err(ZipError::Archive(ZipRule::CorruptData));
            }
            let flags = if more {
                inflate_flags::TINFL_FLAG_HAS_MORE_INPUT
            } else {
                0
            };
            let window = self.window.borrow_mut();
            let (status, used, made) = decompress(
                &mut self.inflater,
                &data[at..],
                &mut window[..],
                self.pos,
                flags,
            );
            at += used;
            if made > 0 {
                let (from, to) = (self.pos, self.pos + made);
                self.check
                    .take::<Infallible>(&self.window.borrow()[from..to])?;
                self.text_at(Some((from, to)), &[]);
                self.pos = to % ZIP_WINDOW;
            }
            match status {
                TINFLStatus::Done if at < data.len() || more => {
                    return Err(ZipError::Archive(ZipRule::CorruptData));
                }
                TINFLStatus::Done => {
                    self.done = true;
                    return Ok(());
                }
                TINFLStatus::HasMoreOutput => {}
                TINFLStatus::NeedsMoreInput if at < data.len() => {}
                TINFLStatus::NeedsMoreInput if more => return Ok(()),
                // The stream needs bytes past the entry's compressed size, or is invalid.
                _ => return Err(ZipError::Archive(ZipRule::CorruptData)),
            }
        }
    }

    /// Feeds text to the row check: the window's `range`, or `text`.
    fn text_at(&mut self, range: Option<(usize, usize)>, text: &[u8]) {
        if self.row_error.is_some() {
            return;
        }
        let text = match range {
            Some((from, to)) => &self.window.borrow()[from..to],
            None => text,
        };
        if let Err(e) = self.rows.feed(text) {
            self.row_error = Some(e);
        }
    }

    /// Ends the archive: the entry's data must have been whole, its size and CRC-32 right, and
    /// its rows valid.
    ///
    /// # Errors
    ///
    /// [`ZipError::Archive`] with [`ZipRule::Truncated`] if the archive ended inside the entry's
    /// data, the damage found by [`feed`](Self::feed), or [`ZipRule::CorruptData`],
    /// [`ZipRule::SizeMismatch`] or [`ZipRule::CrcMismatch`]; then [`ZipError::Row`] for the
    /// first broken row.
    pub fn finish(self) -> Result<RowSummary, ZipError<Infallible>> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        if self.offset
            < self
                .entry
                .data_offset
                .saturating_add(self.entry.compressed_size)
        {
            return Err(ZipError::Archive(ZipRule::Truncated));
        }
        if self.entry.method == ZipMethod::Deflate && !self.done {
            return Err(ZipError::Archive(ZipRule::CorruptData));
        }
        self.check.finish::<Infallible>(self.entry.crc32)?;
        if let Some(e) = self.row_error {
            return Err(ZipError::Row(e));
        }
        self.rows.finish().map_err(ZipError::Row)
    }
}
