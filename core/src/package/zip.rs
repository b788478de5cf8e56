//! Rule 5: a zip package, read without a heap.
//!
//! [`inspect_zip`] reads the End Of Central Directory record (APPNOTE.TXT 4.3.16), every central
//! directory header (4.3.12) and the chosen entry's local header (4.3.7) through small reads;
//! [`validate_zip_rows`] then inflates the entry through a 32 KiB window
//! (`miniz_oxide::inflate::core`), checks its CRC-32 and size, and validates its rows.

use core::fmt;

use crc::{CRC_32_ISO_HDLC, Crc};
use embedded_io::{Read, ReadExactError, Seek, SeekFrom};
use miniz_oxide::inflate::TINFLStatus;
use miniz_oxide::inflate::core::{DecompressorOxide, decompress, inflate_flags};

use super::name::kind_of;
use super::{Format, PackageKind, RowError, RowKind, RowSummary, RowValidator};

/// Size of the inflate window that [`validate_zip_rows`] needs: deflate's 32 KiB history.
pub const ZIP_WINDOW: usize = 32 * 1024;

/// Smallest scratch buffer [`inspect_zip`] accepts. Larger buffers mean fewer reads.
pub const ZIP_SCRATCH_MIN: usize = 64;

/// Bytes of an entry name kept in a [`ZipEntry`] (longer names are cut; see
/// [`ZipEntry::name`]).
pub const ZIP_NAME_MAX: usize = 255;

/// The zip CRC-32 (ISO-HDLC: reflected 0x04C11DB7, as in APPNOTE.TXT 4.4.7).
static ZIP_CRC: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);

const EOCD_SIG: [u8; 4] = *b"PK\x05\x06";
const EOCD_LEN: u64 = 22;
const ZIP64_LOCATOR_SIG: [u8; 4] = *b"PK\x06\x07";
const ZIP64_LOCATOR_LEN: u64 = 20;
const CENTRAL_SIG: [u8; 4] = *b"PK\x01\x02";
const CENTRAL_LEN: usize = 46;
const LOCAL_SIG: [u8; 4] = *b"PK\x03\x04";
const LOCAL_LEN: usize = 30;
/// The EOCD ends the file, after a comment of at most 65 535 bytes (APPNOTE.TXT 4.3.16).
const EOCD_SEARCH: u64 = 0xFFFF + EOCD_LEN;

/// How an entry's data is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ZipMethod {
    /// Method 0: the bytes as they are.
    Stored,
    /// Method 8: deflate (RFC 1951).
    Deflate,
}

/// The single text entry of a zip package, as found by [`inspect_zip`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZipEntry {
    name: [u8; ZIP_NAME_MAX],
    name_len: u16,
    /// How the data is compressed.
    pub method: ZipMethod,
    /// Bytes of data in the archive.
    pub compressed_size: u64,
    /// Bytes of text once inflated.
    pub uncompressed_size: u64,
    /// CRC-32 of the text, from the central directory.
    pub crc32: u32,
    /// Offset of the entry's data from the start of the archive.
    pub data_offset: u64,
    /// Row format, from the entry's extension.
    pub format: Format,
}

impl ZipEntry {
    /// The entry's name as stored in the archive (raw bytes, usually UTF-8), cut to its first
    /// [`ZIP_NAME_MAX`] bytes; [`name_len`](Self::name_len) tells the full length.
    pub fn name(&self) -> &[u8] {
        &self.name[..usize::from(self.name_len).min(ZIP_NAME_MAX)]
    }

    /// Full length of the entry's name in bytes.
    pub const fn name_len(&self) -> usize {
        self.name_len as usize
    }
}

/// Why a zip package was refused, or could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ZipError<E> {
    /// The reader failed; its error is kept.
    Io(E),
    /// The archive ends before data it points to.
    Truncated,
    /// No End Of Central Directory record: not a zip archive.
    NotZip,
    /// The archive is split over several disks.
    MultiDisk,
    /// The archive or the entry needs zip64, which is not supported.
    Zip64,
    /// A central directory header is missing or does not fit the directory.
    BadCentralDirectory,
    /// The entry's local header is missing or damaged.
    BadLocalHeader,
    /// The archive holds no entry, or more than one.
    NotOneFile,
    /// An entry is a folder, or its name holds a `/`.
    Folder,
    /// An entry is macOS metadata (`__MACOSX/…` or `.DS_Store`).
    MacMetadata,
    /// The entry's name does not end in `.txt` or `.csv`.
    EntryType,
    /// The entry is encrypted (general purpose flag bit 0).
    Encrypted,
    /// The entry is compressed with a method other than stored (0) or deflate (8).
    Method,
    /// The caller's buffer is smaller than [`ZIP_SCRATCH_MIN`] (scratch) or empty (input).
    BufferTooSmall,
    /// The compressed data is not valid deflate data.
    CorruptData,
    /// The entry's data is not as long as the central directory says.
    SizeMismatch,
    /// The entry's CRC-32 does not match its data.
    CrcMismatch,
    /// The entry's text broke a row rule (its line is the line in the entry's text).
    Row(RowError),
}

impl<E> ZipError<E> {
    /// The line to report: the row error's line, or 0 for any structural error.
    pub fn line(&self) -> u64 {
        match self {
            ZipError::Row(e) => e.line,
            _ => 0,
        }
    }
}

impl<E> fmt::Display for ZipError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ZipError::Io(_) => "reading the zip failed",
            ZipError::Truncated => "zip is truncated",
            ZipError::NotZip => "not a zip archive (no end of central directory)",
            ZipError::MultiDisk => "multi-disk zip archives are not supported",
            ZipError::Zip64 => "zip64 archives are not supported",
            ZipError::BadCentralDirectory => "zip central directory is damaged",
            ZipError::BadLocalHeader => "zip local header is damaged",
            ZipError::NotOneFile => "zip must hold exactly one file",
            ZipError::Folder => "zip must not hold folders",
            ZipError::MacMetadata => "zip holds macOS metadata (__MACOSX/.DS_Store)",
            ZipError::EntryType => "zip entry must be a .txt or .csv file",
            ZipError::Encrypted => "zip entry is encrypted",
            ZipError::Method => "zip entry must be stored or deflate-compressed",
            ZipError::BufferTooSmall => "buffer too small for the zip reader",
            ZipError::CorruptData => "zip entry's compressed data is corrupt",
            ZipError::SizeMismatch => "zip entry's size does not match its data",
            ZipError::CrcMismatch => "zip entry's CRC-32 does not match its data",
            ZipError::Row(e) => return fmt::Display::fmt(e, f),
        })
    }
}

impl<E: core::error::Error + 'static> core::error::Error for ZipError<E> {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            ZipError::Io(e) => Some(e),
            ZipError::Row(e) => Some(e),
            _ => None,
        }
    }
}

impl<E> From<ReadExactError<E>> for ZipError<E> {
    fn from(e: ReadExactError<E>) -> Self {
        match e {
            ReadExactError::UnexpectedEof => ZipError::Truncated,
            ReadExactError::Other(e) => ZipError::Io(e),
        }
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn read_at<R: Read + Seek>(r: &mut R, at: u64, buf: &mut [u8]) -> Result<(), ZipError<R::Error>> {
    r.seek(SeekFrom::Start(at)).map_err(ZipError::Io)?;
    r.read_exact(buf)?;
    Ok(())
}

/// What one central directory name says, gathered while it streams through the scratch buffer.
struct NameScan {
    len: usize,
    /// The first 9 bytes (enough for `__MACOSX/`).
    head: [u8; 9],
    /// The last 10 bytes (enough for `/.DS_Store`), right-aligned.
    tail: [u8; 10],
    has_slash: bool,
}

impl NameScan {
    const fn new() -> Self {
        NameScan {
            len: 0,
            head: [0; 9],
            tail: [0; 10],
            has_slash: false,
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.len < self.head.len() {
                self.head[self.len] = b;
            }
            self.tail.copy_within(1.., 0);
            self.tail[9] = b;
            self.has_slash |= b == b'/';
            self.len += 1;
        }
    }

    fn is_macos_metadata(&self) -> bool {
        let macosx = self.len >= 9 && &self.head == b"__MACOSX/";
        let ds_store = (self.len == 9 && &self.tail[1..] == b".DS_Store")
            || (self.len >= 10 && &self.tail == b"/.DS_Store");
        macosx || ds_store
    }
}

/// Finds the End Of Central Directory record: the last `PK\5\6` in the final 64 KiB + 22 bytes
/// whose comment length reaches exactly the end of the file. Returns its offset and its bytes.
fn find_eocd<R: Read + Seek>(
    r: &mut R,
    len: u64,
    scratch: &mut [u8],
) -> Result<(u64, [u8; EOCD_LEN as usize]), ZipError<R::Error>> {
    if len < EOCD_LEN {
        return Err(ZipError::NotZip);
    }
    let floor = len.saturating_sub(EOCD_SEARCH);
    // A record starts at most at len - 22; its signature ends 4 bytes later.
    let mut end = len - EOCD_LEN + 4;
    loop {
        let start = floor.max(end.saturating_sub(scratch.len() as u64));
        let chunk = &mut scratch[..(end - start) as usize];
        read_at(r, start, chunk)?;
        let mut i = chunk.len().saturating_sub(4);
        loop {
            if chunk[i..i + 4] == EOCD_SIG {
                let at = start + i as u64;
                let mut eocd = [0u8; EOCD_LEN as usize];
                read_at(r, at, &mut eocd)?;
                if at + EOCD_LEN + u64::from(u16_at(&eocd, 20)) == len {
                    return Ok((at, eocd));
                }
                // A false signature (inside the comment, say): keep scanning backwards.
            }
            if i == 0 {
                break;
            }
            i -= 1;
        }
        if start == floor {
            return Err(ZipError::NotZip);
        }
        // Keep 3 bytes of overlap so that a signature across the boundary is found.
        end = start + 3;
    }
}

/// Reads a zip package's directory and returns its single text entry.
///
/// Checks rule 5 on every central directory entry: macOS metadata is reported first, then
/// folders, then the entry count; then the entry's extension (`.txt`/`.csv`, ASCII
/// case-insensitive), encryption and compression method. Zip64 and multi-disk archives are
/// refused. `scratch` (at least [`ZIP_SCRATCH_MIN`] bytes) carries the reads; no other buffer is
/// used.
///
/// # Errors
///
/// A structural [`ZipError`] (all are line 0), or [`ZipError::Io`] if the reader fails.
///
/// # Examples
///
/// See [`validate_zip_rows`].
pub fn inspect_zip<R: Read + Seek>(
    r: &mut R,
    scratch: &mut [u8],
) -> Result<ZipEntry, ZipError<R::Error>> {
    if scratch.len() < ZIP_SCRATCH_MIN {
        return Err(ZipError::BufferTooSmall);
    }
    let len = r.seek(SeekFrom::End(0)).map_err(ZipError::Io)?;
    let (eocd_at, eocd) = find_eocd(r, len, scratch)?;

    let disk = u16_at(&eocd, 4);
    let cd_disk = u16_at(&eocd, 6);
    let entries_here = u16_at(&eocd, 8);
    let entries = u16_at(&eocd, 10);
    let cd_size = u32_at(&eocd, 12);
    let cd_offset = u32_at(&eocd, 16);
    if entries == 0xFFFF || cd_size == 0xFFFF_FFFF || cd_offset == 0xFFFF_FFFF {
        return Err(ZipError::Zip64);
    }
    if eocd_at >= ZIP64_LOCATOR_LEN {
        let mut sig = [0u8; 4];
        read_at(r, eocd_at - ZIP64_LOCATOR_LEN, &mut sig)?;
        if sig == ZIP64_LOCATOR_SIG {
            return Err(ZipError::Zip64);
        }
    }
    if disk != 0 || cd_disk != 0 || entries_here != entries {
        return Err(ZipError::MultiDisk);
    }
    let cd_end = u64::from(cd_offset) + u64::from(cd_size);
    if cd_end > eocd_at {
        return Err(ZipError::BadCentralDirectory);
    }

    let mut macos = false;
    let mut folder = false;
    let mut first: Option<([u8; CENTRAL_LEN], [u8; ZIP_NAME_MAX], NameScan)> = None;
    let mut at = u64::from(cd_offset);
    for _ in 0..entries {
        let mut h = [0u8; CENTRAL_LEN];
        if at + CENTRAL_LEN as u64 > cd_end {
            return Err(ZipError::BadCentralDirectory);
        }
        read_at(r, at, &mut h)?;
        if h[..4] != CENTRAL_SIG {
            return Err(ZipError::BadCentralDirectory);
        }
        let name_len = usize::from(u16_at(&h, 28));
        let skip = u64::from(u16_at(&h, 30)) + u64::from(u16_at(&h, 32));
        let name_at = at + CENTRAL_LEN as u64;
        let next = name_at + name_len as u64 + skip;
        if next > cd_end {
            return Err(ZipError::BadCentralDirectory);
        }
        // Stream the name through the scratch buffer (names can be up to 64 KiB).
        let mut scan = NameScan::new();
        let mut kept = [0u8; ZIP_NAME_MAX];
        let mut done = 0;
        r.seek(SeekFrom::Start(name_at)).map_err(ZipError::Io)?;
        while done < name_len {
            let n = (name_len - done).min(scratch.len());
            r.read_exact(&mut scratch[..n])?;
            if first.is_none() && done < ZIP_NAME_MAX {
                let k = n.min(ZIP_NAME_MAX - done);
                kept[done..done + k].copy_from_slice(&scratch[..k]);
            }
            scan.push(&scratch[..n]);
            done += n;
        }
        macos |= scan.is_macos_metadata();
        folder |= scan.has_slash;
        if first.is_none() {
            first = Some((h, kept, scan));
        }
        at = next;
    }
    if macos {
        return Err(ZipError::MacMetadata);
    }
    if folder {
        return Err(ZipError::Folder);
    }
    let (h, name, scan) = match first {
        Some(first) if entries == 1 => first,
        _ => return Err(ZipError::NotOneFile),
    };
    let name_len = scan.len;
    let format = match kind_of(&scan.tail[10 - name_len.min(10)..]) {
        Some(PackageKind::Txt) => Format::Txt,
        Some(PackageKind::Csv) => Format::Csv,
        Some(PackageKind::Zip) | None => return Err(ZipError::EntryType),
    };
    let flags = u16_at(&h, 8);
    if flags & 1 != 0 {
        return Err(ZipError::Encrypted);
    }
    let method = match u16_at(&h, 10) {
        0 => ZipMethod::Stored,
        8 => ZipMethod::Deflate,
        _ => return Err(ZipError::Method),
    };
    let crc32 = u32_at(&h, 16);
    let compressed_size = u32_at(&h, 20);
    let uncompressed_size = u32_at(&h, 24);
    let local_at = u32_at(&h, 42);
    if compressed_size == 0xFFFF_FFFF
        || uncompressed_size == 0xFFFF_FFFF
        || local_at == 0xFFFF_FFFF
        || u16_at(&h, 34) == 0xFFFF
    {
        return Err(ZipError::Zip64);
    }
    if u16_at(&h, 34) != 0 {
        return Err(ZipError::MultiDisk);
    }
    if method == ZipMethod::Stored && compressed_size != uncompressed_size {
        return Err(ZipError::SizeMismatch);
    }

    let mut lh = [0u8; LOCAL_LEN];
    if u64::from(local_at) + LOCAL_LEN as u64 > u64::from(cd_offset) {
        return Err(ZipError::BadLocalHeader);
    }
    read_at(r, u64::from(local_at), &mut lh)?;
    if lh[..4] != LOCAL_SIG {
        return Err(ZipError::BadLocalHeader);
    }
    let data_offset = u64::from(local_at)
        + LOCAL_LEN as u64
        + u64::from(u16_at(&lh, 26))
        + u64::from(u16_at(&lh, 28));
    if data_offset + u64::from(compressed_size) > u64::from(cd_offset) {
        return Err(ZipError::Truncated);
    }

    Ok(ZipEntry {
        name,
        name_len: name_len as u16,
        method,
        compressed_size: u64::from(compressed_size),
        uncompressed_size: u64::from(uncompressed_size),
        crc32,
        data_offset,
        format,
    })
}

/// The entry's size and CRC-32 while its data streams.
struct Check {
    crc: crc::Digest<'static, u32>,
    out: u64,
    expected: u64,
}

impl Check {
    /// Counts the next piece of the entry's text into the size and the CRC.
    fn take<E>(&mut self, text: &[u8]) -> Result<(), ZipError<E>> {
        self.out += text.len() as u64;
        if self.out > self.expected {
            return Err(ZipError::SizeMismatch);
        }
        self.crc.update(text);
        Ok(())
    }

    fn finish<E>(self, crc32: u32) -> Result<(), ZipError<E>> {
        if self.out != self.expected {
            return Err(ZipError::SizeMismatch);
        }
        if self.crc.finalize() != crc32 {
            return Err(ZipError::CrcMismatch);
        }
        Ok(())
    }
}

/// Streams the entry found by [`inspect_zip`] through the row validator.
///
/// Memory: the caller's `window` (32 KiB, deflate's history) and `inbuf` (any size from 1 byte;
/// 512 B to 4 KiB is a good trade), plus about 11 KB of inflate state on the stack. The whole
/// entry is always read: its size and CRC-32 are checked before any row error is reported, so a
/// damaged archive is never blamed on a row.
///
/// # Errors
///
/// [`ZipError::Row`] with the line in the entry's text; [`ZipError::CorruptData`],
/// [`ZipError::SizeMismatch`], [`ZipError::CrcMismatch`] or [`ZipError::Truncated`] for damaged
/// data; [`ZipError::Io`]; [`ZipError::BufferTooSmall`] if `inbuf` is empty.
///
/// # Examples
///
/// ```
/// use tpns_core::package::{inspect_zip, validate_zip_rows, Format, ZIP_WINDOW};
/// # use embedded_io::{ErrorType, Read, Seek, SeekFrom};
/// # struct Cursor<'a>(&'a [u8], usize);
/// # impl ErrorType for Cursor<'_> { type Error = core::convert::Infallible; }
/// # impl Read for Cursor<'_> {
/// #     fn read(&mut self, b: &mut [u8]) -> Result<usize, Self::Error> {
/// #         let n = b.len().min(self.0.len() - self.1);
/// #         b[..n].copy_from_slice(&self.0[self.1..self.1 + n]); self.1 += n; Ok(n)
/// #     }
/// # }
/// # impl Seek for Cursor<'_> {
/// #     fn seek(&mut self, p: SeekFrom) -> Result<u64, Self::Error> {
/// #         self.1 = match p { SeekFrom::Start(o) => o as usize,
/// #             SeekFrom::End(o) => (self.0.len() as i64 + o) as usize,
/// #             SeekFrom::Current(o) => (self.1 as i64 + o) as usize };
/// #         Ok(self.1 as u64)
/// #     }
/// # }
/// // A stored zip with one entry, `a.txt` = "ab\n" (made by Python's zipfile).
/// let zip = b"PK\x03\x04\x14\0\0\0\0\0\0\0!P\x3e\x98\x4a\x01\x03\0\0\0\x03\0\0\0\x05\0\0\0a.txtab\n\
///             PK\x01\x02\x14\x03\x14\0\0\0\0\0\0\0!P\x3e\x98\x4a\x01\x03\0\0\0\x03\0\0\0\x05\0\0\0\
///             \0\0\0\0\0\0\0\0\xa4\x81\0\0\0\0a.txt\
///             PK\x05\x06\0\0\0\0\x01\0\x01\0\x33\0\0\0\x26\0\0\0\0\0";
/// let mut file = Cursor(zip, 0);
/// let mut scratch = [0u8; 256];
/// let entry = inspect_zip(&mut file, &mut scratch)?;
/// assert_eq!((entry.name(), entry.format), (&b"a.txt"[..], Format::Txt));
///
/// let mut window = [0u8; ZIP_WINDOW];
/// let summary = validate_zip_rows(&mut file, &entry, &mut window, &mut scratch)?;
/// assert_eq!(summary.rows, 1);
/// # Ok::<(), tpns_core::package::ZipError<core::convert::Infallible>>(())
/// ```
pub fn validate_zip_rows<R: Read + Seek>(
    r: &mut R,
    entry: &ZipEntry,
    window: &mut [u8; ZIP_WINDOW],
    inbuf: &mut [u8],
) -> Result<RowSummary, ZipError<R::Error>> {
    validate_zip_rows_as(r, entry, RowKind::Account, window, inbuf)
}

/// [`validate_zip_rows`] for a package of `kind` (accounts or device tokens).
///
/// # Errors
///
/// As [`validate_zip_rows`].
pub fn validate_zip_rows_as<R: Read + Seek>(
    r: &mut R,
    entry: &ZipEntry,
    kind: RowKind,
    window: &mut [u8; ZIP_WINDOW],
    inbuf: &mut [u8],
) -> Result<RowSummary, ZipError<R::Error>> {
    let mut rows = RowValidator::with_kind(entry.format, kind);
    // Row errors are kept for later: a damaged archive must be reported as damaged, not as a
    // bad row, so the size and the CRC decide first.
    let mut row_error = None;
    read_zip_text(r, entry, window, inbuf, |text| {
        if row_error.is_none()
            && let Err(e) = rows.feed(text)
        {
            row_error = Some(e);
        }
    })?;
    if let Some(e) = row_error {
        return Err(ZipError::Row(e));
    }
    rows.finish().map_err(ZipError::Row)
}

/// Streams the text of the entry found by [`inspect_zip`] to `text`, piece by piece, and
/// checks its size and CRC-32: the pieces are only trustworthy once this returns `Ok`.
///
/// This is what [`validate_zip_rows`] runs; use it to check the rows some other way (such as
/// with [`RowValidator::feed_each`], to list every bad row). Memory as for
/// [`validate_zip_rows`].
///
/// # Errors
///
/// As [`validate_zip_rows`], without [`ZipError::Row`].
pub fn read_zip_text<R: Read + Seek>(
    r: &mut R,
    entry: &ZipEntry,
    window: &mut [u8; ZIP_WINDOW],
    inbuf: &mut [u8],
    mut text: impl FnMut(&[u8]),
) -> Result<(), ZipError<R::Error>> {
    if inbuf.is_empty() {
        return Err(ZipError::BufferTooSmall);
    }
    r.seek(SeekFrom::Start(entry.data_offset))
        .map_err(ZipError::Io)?;
    let mut check = Check {
        crc: ZIP_CRC.digest(),
        out: 0,
        expected: entry.uncompressed_size,
    };
    let mut remaining = entry.compressed_size;
    match entry.method {
        ZipMethod::Stored => {
            while remaining > 0 {
                let n = usize::try_from(remaining).map_or(inbuf.len(), |x| x.min(inbuf.len()));
                r.read_exact(&mut inbuf[..n])?;
                remaining -= n as u64;
                check.take(&inbuf[..n])?;
                text(&inbuf[..n]);
            }
        }
        ZipMethod::Deflate => {
            let mut inflater = DecompressorOxide::new();
            let mut pos = 0usize; // where the next output goes in the wrapping window
            let (mut in_start, mut in_end) = (0usize, 0usize);
            loop {
                if in_start == in_end && remaining > 0 {
                    let n = usize::try_from(remaining).map_or(inbuf.len(), |x| x.min(inbuf.len()));
                    r.read_exact(&mut inbuf[..n])?;
                    remaining -= n as u64;
                    (in_start, in_end) = (0, n);
                }
                let more = remaining > 0;
                let flags = if more {
                    inflate_flags::TINFL_FLAG_HAS_MORE_INPUT
                } else {
                    0
                };
                let (status, used, made) = decompress(
                    &mut inflater,
                    &inbuf[in_start..in_end],
                    &mut window[..],
                    pos,
                    flags,
                );
                in_start += used;
                if made > 0 {
                    check.take(&window[pos..pos + made])?;
                    text(&window[pos..pos + made]);
                    pos = (pos + made) % ZIP_WINDOW;
                }
                match status {
                    TINFLStatus::Done => break,
                    TINFLStatus::HasMoreOutput => {}
                    TINFLStatus::NeedsMoreInput if more || in_start < in_end => {}
                    // The stream needs bytes past the entry's compressed size, or is invalid.
                    _ => return Err(ZipError::CorruptData),
                }
            }
        }
    }
    check.finish(entry.crc32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::RowRule;
    use core::convert::Infallible;
    use embedded_io::ErrorType;
    use proptest::prelude::*;
    use std::string::String;
    use std::vec::Vec;

    /// A seekable in-memory file.
    struct Cursor {
        data: Vec<u8>,
        pos: usize,
    }
    impl ErrorType for Cursor {
        type Error = Infallible;
    }
    impl Read for Cursor {
        fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
            let start = self.pos.min(self.data.len());
            let n = buf.len().min(self.data.len() - start);
            buf[..n].copy_from_slice(&self.data[start..start + n]);
            self.pos = start + n;
            Ok(n)
        }
    }
    impl Seek for Cursor {
        fn seek(&mut self, pos: SeekFrom) -> Result<u64, Infallible> {
            self.pos = match pos {
                SeekFrom::Start(o) => o as usize,
                SeekFrom::End(o) => (self.data.len() as i64 + o) as usize,
                SeekFrom::Current(o) => (self.pos as i64 + o) as usize,
            };
            Ok(self.pos as u64)
        }
    }

    /// One entry of a zip made by [`make_zip`].
    #[derive(Clone)]
    struct Spec {
        name: Vec<u8>,
        data: Vec<u8>,
        method: u16,
        flags: u16,
    }

    fn spec(name: &str, data: &[u8], method: u16) -> Spec {
        Spec {
            name: name.as_bytes().to_vec(),
            data: data.to_vec(),
            method,
            flags: 0,
        }
    }

    /// A zip writer on the host (APPNOTE.TXT 4.3), independent of the reader under test.
    fn make_zip(entries: &[Spec], comment: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for e in entries {
            let stored = match e.method {
                8 => miniz_oxide::deflate::compress_to_vec(&e.data, 6),
                _ => e.data.clone(),
            };
            let crc = ZIP_CRC.checksum(&e.data);
            let offset = out.len() as u32;
            let common = |v: &mut Vec<u8>| {
                v.extend_from_slice(&20u16.to_le_bytes()); // version needed
                v.extend_from_slice(&e.flags.to_le_bytes());
                v.extend_from_slice(&e.method.to_le_bytes());
                v.extend_from_slice(&[0, 0, 0x21, 0x50]); // time, date
                v.extend_from_slice(&crc.to_le_bytes());
                v.extend_from_slice(&(stored.len() as u32).to_le_bytes());
                v.extend_from_slice(&(e.data.len() as u32).to_le_bytes());
                v.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
            };
            out.extend_from_slice(&LOCAL_SIG);
            common(&mut out);
            out.extend_from_slice(&4u16.to_le_bytes()); // extra length
            out.extend_from_slice(&e.name);
            out.extend_from_slice(&[0xFE, 0xCA, 0, 0]); // an empty extra field
            out.extend_from_slice(&stored);

            central.extend_from_slice(&CENTRAL_SIG);
            central.extend_from_slice(&0x031Eu16.to_le_bytes()); // made by
            common(&mut central);
            central.extend_from_slice(&[0; 8]); // extra, comment, disk, internal attrs
            central.extend_from_slice(&(0o100644u32 << 16).to_le_bytes());
            central.extend_from_slice(&offset.to_le_bytes());
            central.extend_from_slice(&e.name);
        }
        let cd_offset = out.len() as u32;
        out.extend_from_slice(&central);
        out.extend_from_slice(&EOCD_SIG);
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        out.extend_from_slice(&(central.len() as u32).to_le_bytes());
        out.extend_from_slice(&cd_offset.to_le_bytes());
        out.extend_from_slice(&(comment.len() as u16).to_le_bytes());
        out.extend_from_slice(comment);
        out
    }

    type Verdict = Result<u64, ZipError<Infallible>>;

    fn check_with(zip: &[u8], scratch_len: usize, inbuf_len: usize) -> Verdict {
        let mut file = Cursor {
            data: zip.to_vec(),
            pos: 0,
        };
        let mut scratch = std::vec![0u8; scratch_len];
        let entry = inspect_zip(&mut file, &mut scratch)?;
        let mut window = std::boxed::Box::new([0u8; ZIP_WINDOW]);
        let mut inbuf = std::vec![0u8; inbuf_len];
        validate_zip_rows(&mut file, &entry, &mut window, &mut inbuf).map(|s| s.rows)
    }

    /// The verdict with several buffer sizes; asserts that all agree.
    fn check(zip: &[u8]) -> Verdict {
        let v = check_with(zip, 4096, 4096);
        for (s, i) in [(64, 1), (64, 7), (100, 512), (65_600, 65_536)] {
            assert_eq!(check_with(zip, s, i), v, "scratch {s}, inbuf {i}");
        }
        v
    }

    fn rows(n: usize) -> Vec<u8> {
        (0..n)
            .flat_map(|i| std::format!("user{i:06}\n").into_bytes())
            .collect()
    }

    #[test]
    fn good_zips() {
        for method in [0, 8] {
            assert_eq!(
                check(&make_zip(&[spec("a.txt", &rows(3), method)], b"")),
                Ok(3)
            );
            assert_eq!(
                check(&make_zip(&[spec("A.CSV", &rows(5), method)], b"hi")),
                Ok(5)
            );
            // Larger than the window, so the window wraps many times.
            assert_eq!(
                check(&make_zip(&[spec("a.txt", &rows(20_000), method)], b"")),
                Ok(20_000)
            );
        }
    }

    #[test]
    fn entry_rules_follow_the_entry_extension() {
        let text = b"ab\ngh,ij\n";
        assert_eq!(check(&make_zip(&[spec("a.txt", text, 8)], b"")), Ok(2));
        let err = check(&make_zip(&[spec("a.csv", text, 8)], b"")).unwrap_err();
        assert_eq!(
            err,
            ZipError::Row(RowError {
                line: 2,
                rule: RowRule::MoreThanOneColumn
            })
        );
        assert_eq!(err.line(), 2);
    }

    #[test]
    fn row_errors_inside() {
        let zip = make_zip(&[spec("a.txt", b"ab\ncd\nx\n", 8)], b"");
        assert_eq!(check(&zip).unwrap_err().line(), 3);
        let zip = make_zip(&[spec("a.txt", b"", 0)], b"");
        assert_eq!(
            check(&zip),
            Err(ZipError::Row(RowError {
                line: 0,
                rule: RowRule::EmptyFile
            }))
        );
        let zip = make_zip(&[spec("a.txt", b"", 8)], b"");
        assert_eq!(check(&zip).unwrap_err().line(), 0);
    }

    #[test]
    fn structure() {
        let good = rows(2);
        let z = |entries: &[Spec]| check(&make_zip(entries, b""));
        assert_eq!(z(&[]), Err(ZipError::NotOneFile));
        assert_eq!(
            z(&[spec("a.txt", &good, 8), spec("b.txt", &good, 8)]),
            Err(ZipError::NotOneFile)
        );
        assert_eq!(
            z(&[spec("d/", b"", 0), spec("d/a.txt", &good, 8)]),
            Err(ZipError::Folder)
        );
        assert_eq!(z(&[spec("d/a.txt", &good, 8)]), Err(ZipError::Folder));
        assert_eq!(
            z(&[spec("a.txt", &good, 8), spec("__MACOSX/._a.txt", b"x", 8)]),
            Err(ZipError::MacMetadata)
        );
        assert_eq!(z(&[spec("__MACOSX/", b"", 0)]), Err(ZipError::MacMetadata));
        assert_eq!(z(&[spec(".DS_Store", b"x", 0)]), Err(ZipError::MacMetadata));
        assert_eq!(
            z(&[spec("a.txt", &good, 8), spec("d/.DS_Store", b"x", 0)]),
            Err(ZipError::MacMetadata)
        );
        assert_eq!(z(&[spec("x.DS_Store", b"x", 0)]), Err(ZipError::EntryType));
        assert_eq!(z(&[spec("a.xlsx", &good, 8)]), Err(ZipError::EntryType));
        assert_eq!(z(&[spec("a.zip", &good, 8)]), Err(ZipError::EntryType));
        assert_eq!(z(&[spec("txt", &good, 8)]), Err(ZipError::EntryType));
        assert_eq!(z(&[spec("a.txt", &good, 12)]), Err(ZipError::Method));
        let mut enc = spec("a.txt", &good, 8);
        enc.flags = 1;
        assert_eq!(z(&[enc]), Err(ZipError::Encrypted));
        // A long name: streamed through the scratch buffer, kept cut to ZIP_NAME_MAX bytes.
        let long = "n".repeat(1000) + ".csv";
        let zip = make_zip(&[spec(&long, &good, 8)], b"");
        assert_eq!(check(&zip), Ok(2));
        let mut file = Cursor { data: zip, pos: 0 };
        let entry = inspect_zip(&mut file, &mut [0u8; 64]).unwrap();
        assert_eq!((entry.name_len(), entry.name().len()), (1004, ZIP_NAME_MAX));
        assert_eq!(entry.format, Format::Csv);
    }

    #[test]
    fn not_zips() {
        assert_eq!(check(b""), Err(ZipError::NotZip));
        assert_eq!(check(b"PK\x05\x06"), Err(ZipError::NotZip));
        assert_eq!(check(&rows(100)), Err(ZipError::NotZip));
        // A comment whose length does not reach the end of the file.
        let mut zip = make_zip(&[spec("a.txt", &rows(2), 8)], b"abc");
        zip.push(b'!');
        assert_eq!(check(&zip), Err(ZipError::NotZip));
        // The longest comment is found; one byte of junk more is not.
        let comment = std::vec![b'c'; 0xFFFF];
        let zip = make_zip(&[spec("a.txt", &rows(2), 8)], &comment);
        assert_eq!(check(&zip), Ok(2));
        // A false signature inside the comment is skipped.
        let zip = make_zip(&[spec("a.txt", &rows(2), 8)], b"PK\x05\x06 not this one");
        assert_eq!(check(&zip), Ok(2));
        // Buffers too small.
        let zip = make_zip(&[spec("a.txt", &rows(2), 8)], b"");
        let mut file = Cursor { data: zip, pos: 0 };
        assert_eq!(
            inspect_zip(&mut file, &mut [0u8; 63]),
            Err(ZipError::BufferTooSmall)
        );
        let entry = inspect_zip(&mut file, &mut [0u8; 64]).unwrap();
        let mut window = std::boxed::Box::new([0u8; ZIP_WINDOW]);
        assert_eq!(
            validate_zip_rows(&mut file, &entry, &mut window, &mut []),
            Err(ZipError::BufferTooSmall)
        );
    }

    #[test]
    fn damaged_archives() {
        let zip = make_zip(&[spec("a.txt", &rows(50), 8)], b"");
        let eocd = zip.len() - 22;
        let cd = u32_at(&zip, eocd + 16) as usize;
        // Truncated: the directory points past the data.
        let mut z = zip.clone();
        z.drain(10..20);
        assert!(matches!(
            check(&z),
            Err(ZipError::BadCentralDirectory | ZipError::BadLocalHeader)
        ));
        // Zip64 markers.
        let mut z = zip.clone();
        z[eocd + 16..eocd + 20].copy_from_slice(&[0xFF; 4]);
        assert_eq!(check(&z), Err(ZipError::Zip64));
        let mut z = zip.clone();
        z[cd + 20..cd + 24].copy_from_slice(&[0xFF; 4]);
        assert_eq!(check(&z), Err(ZipError::Zip64));
        // Multi-disk.
        let mut z = zip.clone();
        z[eocd + 4] = 1;
        assert_eq!(check(&z), Err(ZipError::MultiDisk));
        // Bad signatures.
        let mut z = zip.clone();
        z[cd] = b'X';
        assert_eq!(check(&z), Err(ZipError::BadCentralDirectory));
        let mut z = zip.clone();
        z[0] = b'X';
        assert_eq!(check(&z), Err(ZipError::BadLocalHeader));
        // Declared sizes that lie.
        let mut z = zip.clone();
        let usize_at = cd + 24;
        let real = u32_at(&z, usize_at);
        z[usize_at..usize_at + 4].copy_from_slice(&(real - 1).to_le_bytes());
        assert_eq!(check(&z), Err(ZipError::SizeMismatch));
        let mut z = zip.clone();
        z[usize_at..usize_at + 4].copy_from_slice(&(real + 1).to_le_bytes());
        assert_eq!(check(&z), Err(ZipError::SizeMismatch));
        let mut z = zip.clone();
        z[cd + 16] ^= 1;
        assert_eq!(check(&z), Err(ZipError::CrcMismatch));
        // Compressed size cut short: the deflate stream is incomplete.
        let mut z = zip.clone();
        let csize = u32_at(&z, cd + 20);
        z[cd + 20..cd + 24].copy_from_slice(&(csize - 3).to_le_bytes());
        assert_eq!(check(&z), Err(ZipError::CorruptData));
    }

    #[test]
    fn a_flipped_byte_is_never_a_row_error() {
        let text = rows(300);
        for method in [0, 8] {
            let zip = make_zip(&[spec("a.txt", &text, method)], b"");
            let mut file = Cursor {
                data: zip.clone(),
                pos: 0,
            };
            let entry = inspect_zip(&mut file, &mut [0u8; 256]).unwrap();
            let start = entry.data_offset as usize;
            let end = start + entry.compressed_size as usize;
            // Every byte natively; a sample under Miri, which runs ~1000x slower.
            let stride = if cfg!(miri) { 53 } else { 1 };
            for i in (start..end).step_by(stride) {
                let mut z = zip.clone();
                z[i] ^= 0x55;
                match check_with(&z, 256, 256) {
                    Err(ZipError::CrcMismatch | ZipError::CorruptData | ZipError::SizeMismatch) => {
                    }
                    Ok(n) => assert_eq!(n, 300, "a flip at {i} that changed nothing"),
                    other => panic!("flip at {i}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn ram_budget() {
        // What a device pays beyond the caller's buffers (documented on validate_zip_rows).
        assert!(core::mem::size_of::<ZipEntry>() <= 320);
        assert!(core::mem::size_of::<DecompressorOxide>() <= 11 * 1024);
    }

    #[test]
    fn display_texts() {
        use std::string::ToString;
        let e: ZipError<Infallible> = ZipError::MacMetadata;
        assert_eq!(
            e.to_string(),
            "zip holds macOS metadata (__MACOSX/.DS_Store)"
        );
        let e: ZipError<Infallible> = ZipError::Row(RowError {
            line: 4,
            rule: RowRule::BlankLine,
        });
        assert_eq!(e.to_string(), "line 4: blank line");
    }

    fn text() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            8 => "[a-z0-9]{2,12}\n".prop_map(String::into_bytes),
            1 => "[\u{4E00}-\u{4E20}]{2,40}\r\n".prop_map(String::into_bytes),
            1 => Just(b"\n".to_vec()),
            1 => Just(b"x\n".to_vec()),
            1 => Just(b"\xFF".to_vec()),
        ];
        proptest::collection::vec(piece, 0..400).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 4 } else { 64 }))]

        /// The zip path gives exactly the verdict of the plain validator on the same text.
        #[test]
        fn zip_reading_matches_plain_reading(
            data in text(),
            deflate in any::<bool>(),
            csv in any::<bool>(),
            inbuf in 1usize..3000,
            scratch in 64usize..300,
        ) {
            let (name, format) = if csv { ("p.csv", Format::Csv) } else { ("p.txt", Format::Txt) };
            let zip = make_zip(&[spec(name, &data, if deflate { 8 } else { 0 })], b"");
            let mut v = RowValidator::new(format);
            let plain = v.feed(&data).and_then(|()| v.finish()).map(|s| s.rows);
            let zipped = check_with(&zip, scratch, inbuf).map_err(|e| match e {
                ZipError::Row(e) => e,
                other => panic!("{other:?}"),
            });
            prop_assert_eq!(zipped, plain);
        }

        /// Arbitrary bytes never panic the inspector.
        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = check_with(&data, 64, 16);
        }
    }
}
