//! Rule 5: a zip package, read without a heap.
//!
//! [`inspect_zip`] reads the End Of Central Directory record (APPNOTE.TXT 4.3.16), every central
//! directory header (4.3.12) and every entry's local header (4.3.7) through small reads;
//! [`validate_zip_rows`] then inflates the entry through a 32 KiB window
//! (`miniz_oxide::inflate::core`), checks its CRC-32 and size, and validates its rows.
//!
//! # An archive that reads the same to every reader
//!
//! A zip can be read from its central directory (as here, and as `unzip` does) or from its local
//! headers (as a streaming reader, such as the emulator, does). A hostile archive makes the two
//! disagree: a directory that holds more entries than its end record says, a local entry that no
//! directory entry names, a local header whose name, flags or method differ from the directory's.
//! [`inspect_zip`] therefore accepts only the layout a normal writer produces, and nothing else:
//!
//! ```text
//! offset 0: local header, name, extra, data [, data descriptor]   (one per directory entry,
//!           ...                                                     in directory order, no gap)
//!           central directory headers                            (exactly `entries` of them,
//!                                                                  exactly `cd_size` bytes)
//!           end of central directory record, comment              (the comment ends the file)
//! ```
//!
//! Each local header must agree with its directory entry on the name, flags, method, CRC-32 and
//! sizes. The one exception is a deflated entry written to a stream (flag bit 3): its local
//! CRC-32 and sizes may all be 0, and then the data descriptor after the data must agree with the
//! directory instead (the deflate stream marks its own end, so a streaming reader finds it).

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

/// Largest inflated entry accepted: 1 GiB, the emulator's cap. A zip bomb is refused from its
/// directory entry before anything is inflated, and no entry is ever inflated beyond this.
pub const ZIP_INFLATED_MAX: u64 = 1 << 30;

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
const DESCRIPTOR_SIG: [u8; 4] = *b"PK\x07\x08";
/// General purpose flag bit 3: the CRC-32 and sizes follow the data in a data descriptor.
const FLAG_DESCRIPTOR: u16 = 1 << 3;
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

/// The rule of the service (or of the zip format) that an archive broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ZipRule {
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
    /// The central directory does not match the end record: another entry count, or another end.
    DirectoryMismatch,
    /// A local header (or data descriptor) disagrees with its central directory entry on the
    /// name, flags, method, CRC-32 or sizes.
    LocalMismatch,
    /// Bytes sit outside the entries, the central directory and the end record: before the first
    /// entry, between entries, before the directory or after the end record's comment.
    StrayData,
    /// The archive holds no entry, or more than one.
    NotOneFile,
    /// An entry is a folder, or its name holds a `/`.
    Folder,
    /// An entry is macOS metadata (`__MACOSX/…` or `.DS_Store`).
    MacMetadata,
    /// An entry's name holds a `\\` or a `:` (a Windows path or drive letter).
    WindowsPath,
    /// The entry's name does not end in `.txt` or `.csv`.
    EntryType,
    /// The entry is encrypted (general purpose flag bit 0).
    Encrypted,
    /// The entry is compressed with a method other than stored (0) or deflate (8).
    Method,
    /// The compressed data is not valid deflate data.
    CorruptData,
    /// The entry's data is not as long as the central directory says.
    SizeMismatch,
    /// The entry's CRC-32 does not match its data.
    CrcMismatch,
    /// The entry inflates to more than [`ZIP_INFLATED_MAX`] (1 GiB).
    InflatedTooLarge,
}

impl ZipRule {
    /// The rule's fixed text, as used by [`Display`](fmt::Display).
    pub const fn as_str(self) -> &'static str {
        match self {
            ZipRule::Truncated => "zip is truncated",
            ZipRule::NotZip => "not a zip archive (no end of central directory)",
            ZipRule::MultiDisk => "multi-disk zip archives are not supported",
            ZipRule::Zip64 => "zip64 archives are not supported",
            ZipRule::BadCentralDirectory => "zip central directory is damaged",
            ZipRule::BadLocalHeader => "zip local header is damaged",
            ZipRule::DirectoryMismatch => "zip central directory does not match its end record",
            ZipRule::LocalMismatch => "zip local header does not match the central directory",
            ZipRule::StrayData => "zip holds data outside its entries and central directory",
            ZipRule::NotOneFile => "zip must hold exactly one file",
            ZipRule::Folder => "zip must not hold folders",
            ZipRule::MacMetadata => "zip holds macOS metadata (__MACOSX/.DS_Store)",
            ZipRule::WindowsPath => "zip entry name holds a backslash or a colon (a Windows path)",
            ZipRule::EntryType => "zip entry must be a .txt or .csv file",
            ZipRule::Encrypted => "zip entry is encrypted",
            ZipRule::Method => "zip entry must be stored or deflate-compressed",
            ZipRule::CorruptData => "zip entry's compressed data is corrupt",
            ZipRule::SizeMismatch => "zip entry's size does not match its data",
            ZipRule::CrcMismatch => "zip entry's CRC-32 does not match its data",
            ZipRule::InflatedTooLarge => "zip entry inflates to more than 1 GiB",
        }
    }
}

impl fmt::Display for ZipRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl core::error::Error for ZipRule {}

/// Why a zip package was refused, or could not be read: the reader's error, a broken archive
/// rule ([`ZipRule`]), a broken row rule in the entry's text, or a buffer too small.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ZipError<E> {
    /// The reader failed; its error is kept.
    Io(E),
    /// The archive breaks a rule of the service or of the zip format.
    Archive(ZipRule),
    /// The entry's text broke a row rule (its line is the line in the entry's text).
    Row(RowError),
    /// The caller's buffer is smaller than [`ZIP_SCRATCH_MIN`] (scratch) or empty (input).
    BufferTooSmall,
}

impl<E> ZipError<E> {
    /// The line to report: the row error's line, or 0 for any structural error.
    pub fn line(&self) -> u64 {
        match self {
            ZipError::Row(e) => e.line,
            _ => 0,
        }
    }

    /// The archive rule broken, if this is an archive error.
    pub fn rule(&self) -> Option<ZipRule> {
        match self {
            ZipError::Archive(rule) => Some(*rule),
            _ => None,
        }
    }
}

impl<E> From<ZipRule> for ZipError<E> {
    fn from(rule: ZipRule) -> Self {
        ZipError::Archive(rule)
    }
}

impl<E> fmt::Display for ZipError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ZipError::Io(_) => f.write_str("reading the zip failed"),
            ZipError::Archive(rule) => fmt::Display::fmt(rule, f),
            ZipError::Row(e) => fmt::Display::fmt(e, f),
            ZipError::BufferTooSmall => f.write_str("buffer too small for the zip reader"),
        }
    }
}

impl<E: core::error::Error + 'static> core::error::Error for ZipError<E> {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            ZipError::Io(e) => Some(e),
            ZipError::Archive(rule) => Some(rule),
            ZipError::Row(e) => Some(e),
            ZipError::BufferTooSmall => None,
        }
    }
}

impl<E> From<ReadExactError<E>> for ZipError<E> {
    fn from(e: ReadExactError<E>) -> Self {
        match e {
            ReadExactError::UnexpectedEof => ZipError::Archive(ZipRule::Truncated),
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
    /// A `\` or a `:`: a Windows separator or drive letter (`..\x.txt`, `C:x.txt`).
    has_windows: bool,
}

impl NameScan {
    const fn new() -> Self {
        NameScan {
            len: 0,
            head: [0; 9],
            tail: [0; 10],
            has_slash: false,
            has_windows: false,
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
            self.has_windows |= b == b'\\' || b == b':';
            self.len += 1;
        }
    }

    /// macOS metadata: the name starts with the folder `__MACOSX/`, or its last `/` component is
    /// `.DS_Store`. A plain file such as `__MACOSXa.txt` is not metadata (see the policy).
    fn is_macos_metadata(&self) -> bool {
        let macosx = self.len >= 9 && &self.head == b"__MACOSX/";
        let ds_store = (self.len == 9 && &self.tail[1..] == b".DS_Store")
            || (self.len >= 10 && &self.tail == b"/.DS_Store");
        macosx || ds_store
    }
}

/// Finds the End Of Central Directory record: the last `PK\5\6` in the final 64 KiB + 22 bytes
/// whose comment length reaches exactly the end of the file. Returns its offset and its bytes.
///
/// A record whose comment ends before the end of the file, with none that reaches it, means bytes
/// were appended after the archive: [`ZipRule::StrayData`].
fn find_eocd<R: Read + Seek>(
    r: &mut R,
    len: u64,
    scratch: &mut [u8],
) -> Result<(u64, [u8; EOCD_LEN as usize]), ZipError<R::Error>> {
    if len < EOCD_LEN {
        return Err(ZipError::Archive(ZipRule::NotZip));
    }
    let floor = len.saturating_sub(EOCD_SEARCH);
    // A record starts at most at len - 22; its signature ends 4 bytes later.
    let mut end = len - EOCD_LEN + 4;
    let mut short = false;
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
                let comment_end = at + EOCD_LEN + u64::from(u16_at(&eocd, 20));
                if comment_end == len {
                    return Ok((at, eocd));
                }
                // A false signature (inside the comment, say): keep scanning backwards.
                short |= comment_end < len;
            }
            if i == 0 {
                break;
            }
            i -= 1;
        }
        if start == floor {
            return Err(if short {
                ZipError::Archive(ZipRule::StrayData)
            } else {
                ZipError::Archive(ZipRule::NotZip)
            });
        }
        // Keep 3 bytes of overlap so that a signature across the boundary is found.
        end = start + 3;
    }
}

/// The fields of a central directory header (APPNOTE.TXT 4.3.12) that its local header repeats.
#[derive(Clone, Copy)]
struct Central {
    flags: u16,
    method: u16,
    crc32: u32,
    compressed: u32,
    uncompressed: u32,
    name_len: usize,
    local_at: u64,
}

impl Central {
    fn parse(h: &[u8; CENTRAL_LEN]) -> Central {
        Central {
            flags: u16_at(h, 8),
            method: u16_at(h, 10),
            crc32: u32_at(h, 16),
            compressed: u32_at(h, 20),
            uncompressed: u32_at(h, 24),
            name_len: usize::from(u16_at(h, 28)),
            local_at: u64::from(u32_at(h, 42)),
        }
    }

    /// Zip64 markers (APPNOTE.TXT 4.4.8) and disk numbers, which this reader refuses.
    fn unsupported<E>(h: &[u8; CENTRAL_LEN]) -> Option<ZipError<E>> {
        let disk = u16_at(h, 34);
        if u32_at(h, 20) == u32::MAX
            || u32_at(h, 24) == u32::MAX
            || u32_at(h, 42) == u32::MAX
            || disk == u16::MAX
        {
            Some(ZipError::Archive(ZipRule::Zip64))
        } else if disk != 0 {
            Some(ZipError::Archive(ZipRule::MultiDisk))
        } else {
            None
        }
    }
}

/// Checks the fixed part of the local header at `pos` (where the previous entry ended) against
/// its directory entry, and returns the offsets of the local name and of the entry's data.
fn check_local_header<R: Read + Seek>(
    r: &mut R,
    c: &Central,
    pos: u64,
    cd_offset: u64,
) -> Result<(u64, u64), ZipError<R::Error>> {
    if c.local_at != pos {
        // Bytes before this entry that no directory entry accounts for (a hidden local entry,
        // a prefix), or entries listed out of order.
        return Err(ZipError::Archive(ZipRule::StrayData));
    }
    if pos + LOCAL_LEN as u64 > cd_offset {
        return Err(ZipError::Archive(ZipRule::BadLocalHeader));
    }
    let mut lh = [0u8; LOCAL_LEN];
    read_at(r, pos, &mut lh)?;
    if lh[..4] != LOCAL_SIG {
        return Err(ZipError::Archive(ZipRule::BadLocalHeader));
    }
    let facts = (u16_at(&lh, 6), u16_at(&lh, 8), usize::from(u16_at(&lh, 26)));
    if facts != (c.flags, c.method, c.name_len) {
        return Err(ZipError::Archive(ZipRule::LocalMismatch));
    }
    let sizes = (u32_at(&lh, 14), u32_at(&lh, 18), u32_at(&lh, 22));
    let streamed = c.flags & FLAG_DESCRIPTOR != 0 && c.method == 8 && sizes == (0, 0, 0);
    if !streamed && sizes != (c.crc32, c.compressed, c.uncompressed) {
        return Err(ZipError::Archive(ZipRule::LocalMismatch));
    }
    let name_at = pos + LOCAL_LEN as u64;
    let data_at = name_at + c.name_len as u64 + u64::from(u16_at(&lh, 28));
    if data_at > cd_offset {
        return Err(ZipError::Archive(ZipRule::BadLocalHeader));
    }
    Ok((name_at, data_at))
}

/// Where an entry whose data starts at `data_at` ends: after its data, and after its data
/// descriptor (APPNOTE.TXT 4.3.9; 12 bytes, or 16 with its optional signature) if flag bit 3 is
/// set, whose CRC-32 and sizes must be the directory's.
fn entry_end<R: Read + Seek>(
    r: &mut R,
    c: &Central,
    data_at: u64,
    cd_offset: u64,
) -> Result<u64, ZipError<R::Error>> {
    let data_end = data_at + u64::from(c.compressed);
    if data_end > cd_offset {
        return Err(ZipError::Archive(ZipRule::Truncated));
    }
    if c.flags & FLAG_DESCRIPTOR == 0 {
        return Ok(data_end);
    }
    let room = cd_offset - data_end;
    if room < 12 {
        return Err(ZipError::Archive(ZipRule::BadLocalHeader));
    }
    let mut d = [0u8; 16];
    let n = if room >= 16 { 16 } else { 12 };
    read_at(r, data_end, &mut d[..n])?;
    // With the signature, the CRC-32 follows it; without, the CRC-32 comes first (and may
    // itself look like the signature, hence the second test).
    let (at, len) = if n == 16 && d[..4] == DESCRIPTOR_SIG && u32_at(&d, 4) == c.crc32 {
        (4, 16)
    } else {
        (0, 12)
    };
    let fields = (u32_at(&d, at), u32_at(&d, at + 4), u32_at(&d, at + 8));
    if fields != (c.crc32, c.compressed, c.uncompressed) {
        return Err(ZipError::Archive(ZipRule::LocalMismatch));
    }
    Ok(data_end + len)
}

/// Streams a directory entry's name at `name_at` through `scratch` into `scan` (names can be up
/// to 64 KiB), keeps its first bytes in `kept`, and compares it with the local header's name at
/// `local_name_at` if given. Returns `false` if the two names differ.
fn stream_name<R: Read + Seek>(
    r: &mut R,
    name_at: u64,
    name_len: usize,
    local_name_at: Option<u64>,
    scratch: &mut [u8],
    scan: &mut NameScan,
    mut kept: Option<&mut [u8; ZIP_NAME_MAX]>,
) -> Result<bool, ZipError<R::Error>> {
    let (ours, theirs) = scratch.split_at_mut(scratch.len() / 2);
    let mut same = true;
    let mut done = 0;
    while done < name_len {
        let n = (name_len - done).min(ours.len());
        read_at(r, name_at + done as u64, &mut ours[..n])?;
        if let Some(local) = local_name_at.filter(|_| same) {
            read_at(r, local + done as u64, &mut theirs[..n])?;
            same = ours[..n] == theirs[..n];
        }
        if let Some(kept) = kept.as_deref_mut().filter(|_| done < ZIP_NAME_MAX) {
            let k = n.min(ZIP_NAME_MAX - done);
            kept[done..done + k].copy_from_slice(&ours[..k]);
        }
        scan.push(&ours[..n]);
        done += n;
    }
    Ok(same)
}

/// Where an entry's data starts and where the entry ends.
#[derive(Clone, Copy)]
struct Span {
    data_at: u64,
    end: u64,
}

/// One entry's layout: where it lies, or what is wrong with it.
type EntryLayout<E> = Result<Span, ZipError<E>>;

/// Checks one entry's local header, name and data descriptor against its directory entry `c`,
/// given where the previous entry ended (`pos`). Streams the directory name into `scan` in every
/// case. The outer error is the reader's; the inner one is a layout error.
#[allow(clippy::too_many_arguments)]
fn check_entry<R: Read + Seek>(
    r: &mut R,
    c: &Central,
    name_at: u64,
    pos: u64,
    cd_offset: u64,
    scratch: &mut [u8],
    scan: &mut NameScan,
    kept: Option<&mut [u8; ZIP_NAME_MAX]>,
) -> Result<EntryLayout<R::Error>, ZipError<R::Error>> {
    let (local_name_at, data_at) = match check_local_header(r, c, pos, cd_offset) {
        Ok(local) => local,
        Err(ZipError::Io(e)) => return Err(ZipError::Io(e)),
        Err(e) => {
            stream_name(r, name_at, c.name_len, None, scratch, scan, kept)?;
            return Ok(Err(e));
        }
    };
    let same = stream_name(
        r,
        name_at,
        c.name_len,
        Some(local_name_at),
        scratch,
        scan,
        kept,
    )?;
    if !same {
        return Ok(Err(ZipError::Archive(ZipRule::LocalMismatch)));
    }
    match entry_end(r, c, data_at, cd_offset) {
        Ok(end) => Ok(Ok(Span { data_at, end })),
        Err(ZipError::Io(e)) => Err(ZipError::Io(e)),
        Err(e) => Ok(Err(e)),
    }
}

/// Reads a zip package's directory and returns its single text entry.
///
/// First the layout (see the module documentation): the end record, the directory walk (which
/// must end exactly at the directory's end, with the end record's entry count), and every entry's
/// local header against its directory entry, with no byte outside the entries and the directory.
/// Then rule 5 on every directory entry: macOS metadata is reported first, then folders (a `/`),
/// then Windows paths (a `\` or a `:`), then the entry count; then the entry's extension
/// (`.txt`/`.csv`, ASCII case-insensitive), encryption, compression method and inflated size
/// (at most [`ZIP_INFLATED_MAX`]). Zip64 and multi-disk archives are refused. `scratch` (at least
/// [`ZIP_SCRATCH_MIN`] bytes) carries the reads; no other buffer is used.
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
    let cd_offset = u64::from(u32_at(&eocd, 16));
    if entries == 0xFFFF || cd_size == 0xFFFF_FFFF || cd_offset == 0xFFFF_FFFF {
        return Err(ZipError::Archive(ZipRule::Zip64));
    }
    if eocd_at >= ZIP64_LOCATOR_LEN {
        let mut sig = [0u8; 4];
        read_at(r, eocd_at - ZIP64_LOCATOR_LEN, &mut sig)?;
        if sig == ZIP64_LOCATOR_SIG {
            return Err(ZipError::Archive(ZipRule::Zip64));
        }
    }
    if disk != 0 || cd_disk != 0 || entries_here != entries {
        return Err(ZipError::Archive(ZipRule::MultiDisk));
    }
    let cd_end = cd_offset + u64::from(cd_size);
    if cd_end > eocd_at {
        return Err(ZipError::Archive(ZipRule::BadCentralDirectory));
    }

    let mut macos = false;
    let mut folder = false;
    let mut windows = false;
    let mut first: Option<(Central, [u8; ZIP_NAME_MAX], NameScan, u64)> = None;
    // The first layout error in directory order; `pos` is where the previous entry ended.
    let mut layout: Option<ZipError<R::Error>> = None;
    let mut pos = 0u64;
    let mut at = cd_offset;
    for _ in 0..entries {
        let mut h = [0u8; CENTRAL_LEN];
        if at + CENTRAL_LEN as u64 > cd_end {
            return Err(ZipError::Archive(ZipRule::DirectoryMismatch));
        }
        read_at(r, at, &mut h)?;
        if h[..4] != CENTRAL_SIG {
            return Err(ZipError::Archive(ZipRule::BadCentralDirectory));
        }
        let name_len = usize::from(u16_at(&h, 28));
        let skip = u64::from(u16_at(&h, 30)) + u64::from(u16_at(&h, 32));
        let name_at = at + CENTRAL_LEN as u64;
        let next = name_at + name_len as u64 + skip;
        if next > cd_end {
            return Err(ZipError::Archive(ZipRule::BadCentralDirectory));
        }
        let mut scan = NameScan::new();
        let mut kept = [0u8; ZIP_NAME_MAX];
        let keep = first.is_none().then_some(&mut kept);
        let c = Central::parse(&h);
        let mut data_at = 0;
        layout = layout.or(Central::unsupported(&h));
        if layout.is_some() {
            // The layout is already refused: only the name rules still need this entry.
            stream_name(r, name_at, name_len, None, scratch, &mut scan, keep)?;
        } else {
            match check_entry(r, &c, name_at, pos, cd_offset, scratch, &mut scan, keep)? {
                Ok(span) => (data_at, pos) = (span.data_at, span.end),
                Err(e) => layout = Some(e),
            }
        }
        macos |= scan.is_macos_metadata();
        folder |= scan.has_slash;
        windows |= scan.has_windows;
        if first.is_none() {
            first = Some((c, kept, scan, data_at));
        }
        at = next;
    }
    if at != cd_end {
        // The directory holds more than the end record's entry count.
        return Err(ZipError::Archive(ZipRule::DirectoryMismatch));
    }
    if cd_end < eocd_at {
        // A directory entry the end record does not count, or junk before the end record.
        let mut sig = [0u8; 4];
        let n = (eocd_at - cd_end).min(4) as usize;
        read_at(r, cd_end, &mut sig[..n])?;
        return Err(if sig == CENTRAL_SIG {
            ZipError::Archive(ZipRule::DirectoryMismatch)
        } else {
            ZipError::Archive(ZipRule::StrayData)
        });
    }
    if let Some(e) = layout {
        return Err(e);
    }
    if pos != cd_offset {
        // Bytes between the last entry and the directory: a hidden local entry, say.
        return Err(ZipError::Archive(ZipRule::StrayData));
    }
    if macos {
        return Err(ZipError::Archive(ZipRule::MacMetadata));
    }
    if folder {
        return Err(ZipError::Archive(ZipRule::Folder));
    }
    if windows {
        return Err(ZipError::Archive(ZipRule::WindowsPath));
    }
    let (c, name, scan, data_offset) = match first {
        Some(first) if entries == 1 => first,
        _ => return Err(ZipError::Archive(ZipRule::NotOneFile)),
    };
    let name_len = scan.len;
    let format = match kind_of(&scan.tail[10 - name_len.min(10)..]) {
        Some(PackageKind::Txt) => Format::Txt,
        Some(PackageKind::Csv) => Format::Csv,
        Some(PackageKind::Zip) | None => return Err(ZipError::Archive(ZipRule::EntryType)),
    };
    if c.flags & 1 != 0 {
        return Err(ZipError::Archive(ZipRule::Encrypted));
    }
    let method = match c.method {
        0 => ZipMethod::Stored,
        8 => ZipMethod::Deflate,
        _ => return Err(ZipError::Archive(ZipRule::Method)),
    };
    if method == ZipMethod::Stored && c.compressed != c.uncompressed {
        return Err(ZipError::Archive(ZipRule::SizeMismatch));
    }
    if u64::from(c.uncompressed) > ZIP_INFLATED_MAX {
        return Err(ZipError::Archive(ZipRule::InflatedTooLarge));
    }
    Ok(ZipEntry {
        name,
        name_len: name_len as u16,
        method,
        compressed_size: u64::from(c.compressed),
        uncompressed_size: u64::from(c.uncompressed),
        crc32: c.crc32,
        data_offset,
        format,
    })
}

/// The entry's size and CRC-32 while its data streams.
pub(super) struct Check {
    crc: crc::Digest<'static, u32>,
    out: u64,
    expected: u64,
}

impl Check {
    /// A check of `expected` bytes of text.
    pub(super) fn new(expected: u64) -> Check {
        Check {
            crc: ZIP_CRC.digest(),
            out: 0,
            expected,
        }
    }

    /// Counts the next piece of the entry's text into the size and the CRC.
    pub(super) fn take<E>(&mut self, text: &[u8]) -> Result<(), ZipError<E>> {
        self.out += text.len() as u64;
        if self.out > self.expected {
            return Err(ZipError::Archive(ZipRule::SizeMismatch));
        }
        self.crc.update(text);
        Ok(())
    }

    pub(super) fn finish<E>(self, crc32: u32) -> Result<(), ZipError<E>> {
        if self.out != self.expected {
            return Err(ZipError::Archive(ZipRule::SizeMismatch));
        }
        if self.crc.finalize() != crc32 {
            return Err(ZipError::Archive(ZipRule::CrcMismatch));
        }
        Ok(())
    }
}

/// Streams the entry found by [`inspect_zip`] through the row validator.
///
/// Memory: the caller's `window` (32 KiB, deflate's history) and `inbuf` (any size from 1 byte;
/// 512 B to 4 KiB is a good trade), plus about 11 KB of inflate state on the stack. The whole
/// entry is always read: its size and CRC-32 are checked before any row error is reported, so a
/// damaged archive is never blamed on a row. Inflating stops as soon as the text outgrows the
/// directory's uncompressed size, which is at most [`ZIP_INFLATED_MAX`]: a zip bomb costs at
/// most that much inflating, whatever its real size.
///
/// # Errors
///
/// [`ZipError::Row`] with the line in the entry's text; [`ZipRule::CorruptData`] (also for bytes
/// after the end of the deflate stream), [`ZipRule::SizeMismatch`], [`ZipRule::CrcMismatch`] or
/// [`ZipRule::Truncated`] for damaged data; [`ZipRule::InflatedTooLarge`]; [`ZipError::Io`];
/// [`ZipError::BufferTooSmall`] if `inbuf` is empty.
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
    if entry.uncompressed_size > ZIP_INFLATED_MAX {
        // Checked by `inspect_zip` already; `entry`'s fields are public, so checked again.
        return Err(ZipError::Archive(ZipRule::InflatedTooLarge));
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
                    // Bytes of the entry after the end of its deflate stream would be data
                    // that no reader shows: refused like any other stray byte.
                    TINFLStatus::Done if in_start < in_end || remaining > 0 => {
                        return Err(ZipError::Archive(ZipRule::CorruptData));
                    }
                    TINFLStatus::Done => break,
                    TINFLStatus::HasMoreOutput => {}
                    TINFLStatus::NeedsMoreInput if more || in_start < in_end => {}
                    // The stream needs bytes past the entry's compressed size, or is invalid.
                    _ => return Err(ZipError::Archive(ZipRule::CorruptData)),
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

    #[test]
    fn archive_errors_are_their_rule_and_row_errors_their_line() {
        use std::string::ToString;
        let e: ZipError<Infallible> = ZipRule::MacMetadata.into();
        assert_eq!(e, ZipError::Archive(ZipRule::MacMetadata));
        assert_eq!(e.rule(), Some(ZipRule::MacMetadata));
        assert_eq!(e.to_string(), ZipRule::MacMetadata.as_str());
        assert_eq!(e.line(), 0);
        let row: ZipError<Infallible> = ZipError::Row(RowError {
            line: 3,
            rule: RowRule::BlankLine,
        });
        assert_eq!((row.rule(), row.line()), (None, 3));
        assert_eq!(row.to_string(), "line 3: blank line");
    }

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
        /// A data descriptor after the data (flag bit 3 set, zeros in the local header): none
        /// (0), without its signature (12) or with it (16).
        descriptor: usize,
        /// The bytes stored for the entry, if not its data as `method` compresses it.
        body: Option<Vec<u8>>,
    }

    fn spec(name: &str, data: &[u8], method: u16) -> Spec {
        Spec {
            name: name.as_bytes().to_vec(),
            data: data.to_vec(),
            method,
            flags: 0,
            descriptor: 0,
            body: None,
        }
    }

    /// A zip writer on the host (APPNOTE.TXT 4.3), independent of the reader under test.
    fn make_zip(entries: &[Spec], comment: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for e in entries {
            let stored = match (&e.body, e.method) {
                (Some(body), _) => body.clone(),
                (None, 8) => miniz_oxide::deflate::compress_to_vec(&e.data, 6),
                (None, _) => e.data.clone(),
            };
            let crc = ZIP_CRC.checksum(&e.data);
            let offset = out.len() as u32;
            let flags = e.flags | if e.descriptor > 0 { FLAG_DESCRIPTOR } else { 0 };
            let mut facts = Vec::new();
            facts.extend_from_slice(&crc.to_le_bytes());
            facts.extend_from_slice(&(stored.len() as u32).to_le_bytes());
            facts.extend_from_slice(&(e.data.len() as u32).to_le_bytes());
            let common = |v: &mut Vec<u8>, facts: &[u8]| {
                v.extend_from_slice(&20u16.to_le_bytes()); // version needed
                v.extend_from_slice(&flags.to_le_bytes());
                v.extend_from_slice(&e.method.to_le_bytes());
                v.extend_from_slice(&[0, 0, 0x21, 0x50]); // time, date
                v.extend_from_slice(facts);
                v.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
            };
            out.extend_from_slice(&LOCAL_SIG);
            common(&mut out, if e.descriptor > 0 { &[0; 12] } else { &facts });
            out.extend_from_slice(&4u16.to_le_bytes()); // extra length
            out.extend_from_slice(&e.name);
            out.extend_from_slice(&[0xFE, 0xCA, 0, 0]); // an empty extra field
            out.extend_from_slice(&stored);
            if e.descriptor == 16 {
                out.extend_from_slice(&DESCRIPTOR_SIG);
            }
            if e.descriptor > 0 {
                out.extend_from_slice(&facts);
            }

            central.extend_from_slice(&CENTRAL_SIG);
            central.extend_from_slice(&0x031Eu16.to_le_bytes()); // made by
            common(&mut central, &facts);
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

    /// The verdict of the one-pass check ([`super::super::ZipStreamCheck`]): the structure
    /// inspected first, then the whole archive fed in pieces of `piece` bytes.
    fn stream_with(zip: &[u8], piece: usize) -> Verdict {
        let mut file = Cursor {
            data: zip.to_vec(),
            pos: 0,
        };
        let entry = inspect_zip(&mut file, &mut [0u8; 4096])?;
        let window = std::boxed::Box::new([0u8; ZIP_WINDOW]);
        let mut check = super::super::ZipStreamCheck::new(entry, RowKind::Account, window);
        for p in zip.chunks(piece) {
            check.feed(p)?;
        }
        check.finish().map(|s| s.rows)
    }

    /// The verdict with several buffer sizes; asserts that all agree.
    fn check(zip: &[u8]) -> Verdict {
        let v = check_with(zip, 4096, 4096);
        for (s, i) in [(64, 1), (64, 7), (100, 512), (65_600, 65_536)] {
            assert_eq!(check_with(zip, s, i), v, "scratch {s}, inbuf {i}");
        }
        // The one-pass check agrees, fed in any pieces (the structure it inspects first).
        for piece in [1, 7, 512, 65_536] {
            assert_eq!(stream_with(zip, piece), v, "one pass, pieces of {piece}");
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
        let cases: [(&[Spec], ZipRule); 13] = [
            (&[][..], ZipRule::NotOneFile),
            (
                &[spec("a.txt", &good, 8), spec("b.txt", &good, 8)][..],
                ZipRule::NotOneFile,
            ),
            (
                &[spec("d/", b"", 0), spec("d/a.txt", &good, 8)][..],
                ZipRule::Folder,
            ),
            (&[spec("d/a.txt", &good, 8)][..], ZipRule::Folder),
            (
                &[spec("a.txt", &good, 8), spec("__MACOSX/._a.txt", b"x", 8)][..],
                ZipRule::MacMetadata,
            ),
            (&[spec("__MACOSX/", b"", 0)][..], ZipRule::MacMetadata),
            (&[spec(".DS_Store", b"x", 0)][..], ZipRule::MacMetadata),
            (
                &[spec("a.txt", &good, 8), spec("d/.DS_Store", b"x", 0)][..],
                ZipRule::MacMetadata,
            ),
            (&[spec("x.DS_Store", b"x", 0)][..], ZipRule::EntryType),
            (&[spec("a.xlsx", &good, 8)][..], ZipRule::EntryType),
            (&[spec("a.zip", &good, 8)][..], ZipRule::EntryType),
            (&[spec("txt", &good, 8)][..], ZipRule::EntryType),
            (&[spec("a.txt", &good, 12)][..], ZipRule::Method),
        ];
        for (i, (entries, rule)) in cases.into_iter().enumerate() {
            assert_eq!(z(entries), Err(ZipError::Archive(rule)), "case {i}");
        }
        let mut enc = spec("a.txt", &good, 8);
        enc.flags = 1;
        assert_eq!(z(&[enc]), Err(ZipError::Archive(ZipRule::Encrypted)));
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
        assert_eq!(check(b""), Err(ZipError::Archive(ZipRule::NotZip)));
        assert_eq!(
            check(b"PK\x05\x06"),
            Err(ZipError::Archive(ZipRule::NotZip))
        );
        assert_eq!(check(&rows(100)), Err(ZipError::Archive(ZipRule::NotZip)));
        // A comment whose length does not reach the end of the file: bytes after the archive.
        let mut zip = make_zip(&[spec("a.txt", &rows(2), 8)], b"abc");
        zip.push(b'!');
        assert_eq!(check(&zip), Err(ZipError::Archive(ZipRule::StrayData)));
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
            Err(ZipError::Archive(ZipRule::BadCentralDirectory)
                | ZipError::Archive(ZipRule::BadLocalHeader))
        ));
        // Zip64 markers.
        let mut z = zip.clone();
        z[eocd + 16..eocd + 20].copy_from_slice(&[0xFF; 4]);
        assert_eq!(check(&z), Err(ZipError::Archive(ZipRule::Zip64)));
        let mut z = zip.clone();
        z[cd + 20..cd + 24].copy_from_slice(&[0xFF; 4]);
        assert_eq!(check(&z), Err(ZipError::Archive(ZipRule::Zip64)));
        // Multi-disk.
        let mut z = zip.clone();
        z[eocd + 4] = 1;
        assert_eq!(check(&z), Err(ZipError::Archive(ZipRule::MultiDisk)));
        // Bad signatures.
        let mut z = zip.clone();
        z[cd] = b'X';
        assert_eq!(
            check(&z),
            Err(ZipError::Archive(ZipRule::BadCentralDirectory))
        );
        let mut z = zip.clone();
        z[0] = b'X';
        assert_eq!(check(&z), Err(ZipError::Archive(ZipRule::BadLocalHeader)));
        // Declared sizes that lie, in the local header and the directory alike.
        let lie = |field: usize, by: fn(u32) -> u32| {
            let mut z = zip.clone();
            for at in [14 + field, cd + 16 + field] {
                let v = by(u32_at(&z, at));
                z[at..at + 4].copy_from_slice(&v.to_le_bytes());
            }
            check(&z)
        };
        assert_eq!(
            lie(8, |n| n - 1),
            Err(ZipError::Archive(ZipRule::SizeMismatch))
        );
        assert_eq!(
            lie(8, |n| n + 1),
            Err(ZipError::Archive(ZipRule::SizeMismatch))
        );
        assert_eq!(
            lie(0, |n| n ^ 1),
            Err(ZipError::Archive(ZipRule::CrcMismatch))
        );
        // In the directory only: the local header disagrees.
        for field in [0, 4, 8] {
            let mut z = zip.clone();
            z[cd + 16 + field] ^= 1;
            assert_eq!(
                check(&z),
                Err(ZipError::Archive(ZipRule::LocalMismatch)),
                "field {field}"
            );
        }
        // A deflate stream cut short, or followed by bytes inside the entry.
        let text = rows(50);
        let full = miniz_oxide::deflate::compress_to_vec(&text, 6);
        let mut cut = spec("a.txt", &text, 8);
        cut.body = Some(full[..full.len() - 3].to_vec());
        assert_eq!(
            check(&make_zip(&[cut], b"")),
            Err(ZipError::Archive(ZipRule::CorruptData))
        );
        let mut padded = spec("a.txt", &text, 8);
        padded.body = Some([&full[..], b"hidden"].concat());
        assert_eq!(
            check(&make_zip(&[padded], b"")),
            Err(ZipError::Archive(ZipRule::CorruptData))
        );
    }

    /// Offsets in a one-entry zip made by [`make_zip`] (no comment).
    fn eocd_of(z: &[u8]) -> usize {
        z.len() - 22
    }

    fn set_u32(z: &mut [u8], at: usize, v: u32) {
        z[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    fn set_u16(z: &mut [u8], at: usize, v: u16) {
        z[at..at + 2].copy_from_slice(&v.to_le_bytes());
    }

    /// Inserts `junk` at `at` and moves the directory and the local offsets after it.
    fn insert(zip: &[u8], at: usize, junk: &[u8]) -> Vec<u8> {
        let mut z = zip.to_vec();
        let eocd = eocd_of(&z);
        let cd = u32_at(&z, eocd + 16) as usize;
        let entries = u16_at(&z, eocd + 10);
        let mut c = cd;
        for _ in 0..entries {
            let local = u32_at(&z, c + 42) as usize;
            if local >= at {
                set_u32(&mut z, c + 42, (local + junk.len()) as u32);
            }
            c += CENTRAL_LEN + usize::from(u16_at(&z, c + 28));
        }
        if cd >= at {
            set_u32(&mut z, eocd + 16, (cd + junk.len()) as u32);
        }
        z.splice(at..at, junk.iter().copied());
        z
    }

    #[test]
    fn hostile_layouts() {
        let good = rows(3);
        let one = make_zip(&[spec("a.txt", &good, 8)], b"");
        assert_eq!(check(&one), Ok(3));
        let two = make_zip(
            &[spec("a.txt", &good, 8), spec("evil.sh", b"rm -rf /\n", 8)],
            b"",
        );
        let eocd = eocd_of(&two);
        let cd = u32_at(&two, eocd + 16) as usize;
        let first_central = CENTRAL_LEN + 5;

        // cdcount: the end record counts one entry, the directory holds two.
        let mut z = two.clone();
        set_u16(&mut z, eocd + 8, 1);
        set_u16(&mut z, eocd + 10, 1);
        assert_eq!(
            check(&z),
            Err(ZipError::Archive(ZipRule::DirectoryMismatch))
        );
        // ... and its size covers only the first: the second is between it and the end record.
        set_u32(&mut z, eocd + 12, first_central as u32);
        assert_eq!(
            check(&z),
            Err(ZipError::Archive(ZipRule::DirectoryMismatch))
        );

        // hidden_local: a local entry that no directory entry names.
        let mut z = two.clone();
        z.drain(cd + first_central..eocd);
        let eocd = eocd_of(&z);
        set_u16(&mut z, eocd + 8, 1);
        set_u16(&mut z, eocd + 10, 1);
        set_u32(&mut z, eocd + 12, first_central as u32);
        assert_eq!(check(&z), Err(ZipError::Archive(ZipRule::StrayData)));

        // Bytes before the first entry (a self-extractor's stub), between the entry and the
        // directory, between the directory and the end record, and after the end record.
        let cd1 = u32_at(&one, eocd_of(&one) + 16) as usize;
        assert_eq!(
            check(&insert(&one, 0, b"MZ stub")),
            Err(ZipError::Archive(ZipRule::StrayData))
        );
        assert_eq!(
            check(&insert(&one, cd1, b"junk")),
            Err(ZipError::Archive(ZipRule::StrayData))
        );
        let mut z = one.clone();
        let at = eocd_of(&z);
        z.splice(at..at, *b"junk");
        assert_eq!(check(&z), Err(ZipError::Archive(ZipRule::StrayData)));
        let mut z = one.clone();
        z.extend_from_slice(b"junk");
        assert_eq!(check(&z), Err(ZipError::Archive(ZipRule::StrayData)));

        // The local header disagrees with the directory.
        let mut z = one.clone();
        z[6] |= 1; // encrypted
        assert_eq!(check(&z), Err(ZipError::Archive(ZipRule::LocalMismatch)));
        let mut z = one.clone();
        z[8] = 0; // stored
        assert_eq!(check(&z), Err(ZipError::Archive(ZipRule::LocalMismatch)));
        let mut z = one.clone();
        z[30] = b'b'; // b.txt
        assert_eq!(check(&z), Err(ZipError::Archive(ZipRule::LocalMismatch)));
        // A local name of another length: `../../../tmp/pwn.sh` for `a.txt`.
        let mut z = insert(&one, 30, b"../../../tmp/pwn.sh");
        z.drain(30 + 19..30 + 19 + 5);
        let eocd = eocd_of(&z);
        let cd = u32_at(&z, eocd + 16) - 5;
        set_u32(&mut z, eocd + 16, cd);
        set_u16(&mut z, 26, 19);
        assert_eq!(check(&z), Err(ZipError::Archive(ZipRule::LocalMismatch)));
        // A long name is compared through the scratch buffer, chunk by chunk.
        let long = "n".repeat(700) + ".txt";
        let zip = make_zip(&[spec(&long, &good, 8)], b"");
        assert_eq!(check(&zip), Ok(3));
        let mut z = zip.clone();
        z[30 + 650] = b'm';
        assert_eq!(check(&z), Err(ZipError::Archive(ZipRule::LocalMismatch)));
    }

    #[test]
    fn data_descriptors() {
        let good = rows(4);
        for descriptor in [12, 16] {
            let mut e = spec("a.csv", &good, 8);
            e.descriptor = descriptor;
            let zip = make_zip(&[e], b"");
            assert_eq!(check(&zip), Ok(4), "descriptor of {descriptor} bytes");
            // The descriptor must agree with the directory.
            let cd = u32_at(&zip, eocd_of(&zip) + 16) as usize;
            let mut z = zip.clone();
            z[cd - 4] ^= 1; // its uncompressed size
            assert_eq!(check(&z), Err(ZipError::Archive(ZipRule::LocalMismatch)));
            // A local header with its sizes after all agrees as well.
            let mut z = zip.clone();
            z.copy_within(cd + 16..cd + 28, 14);
            assert_eq!(check(&z), Ok(4));
            // The descriptor is missing: the directory follows the data.
            let mut z = zip.clone();
            z.drain(cd - descriptor..cd);
            let eocd = eocd_of(&z);
            set_u32(&mut z, eocd + 16, (cd - descriptor) as u32);
            assert!(check(&z).is_err());
        }
        // A stored entry must give its sizes in its local header: a streaming reader cannot
        // find its end otherwise.
        let mut e = spec("a.txt", &good, 0);
        e.descriptor = 16;
        assert_eq!(
            check(&make_zip(&[e], b"")),
            Err(ZipError::Archive(ZipRule::LocalMismatch))
        );
    }

    #[test]
    fn names_with_windows_paths() {
        let good = rows(2);
        let z = |name: &str| check(&make_zip(&[spec(name, &good, 8)], b""));
        assert_eq!(
            z("..\\..\\evil.txt"),
            Err(ZipError::Archive(ZipRule::WindowsPath))
        );
        assert_eq!(
            z("C:evil.txt"),
            Err(ZipError::Archive(ZipRule::WindowsPath))
        );
        assert_eq!(z("a:b.txt"), Err(ZipError::Archive(ZipRule::WindowsPath)));
        // A `/` is a folder first.
        assert_eq!(z("C:/evil.txt"), Err(ZipError::Archive(ZipRule::Folder)));
        assert_eq!(z("../../evil.txt"), Err(ZipError::Archive(ZipRule::Folder)));
        // The policy's metadata is the folder `__MACOSX/`, not any name starting so.
        assert_eq!(z("__MACOSXa.txt"), Ok(2));
        assert_eq!(
            z("__MACOSX/a.txt"),
            Err(ZipError::Archive(ZipRule::MacMetadata))
        );
    }

    #[test]
    fn zip_bombs_stop_at_the_cap() {
        // The directory says more than 1 GiB: refused before anything is inflated.
        let text = rows(2);
        let zip = make_zip(&[spec("a.txt", &text, 8)], b"");
        let cd = u32_at(&zip, eocd_of(&zip) + 16) as usize;
        let big = (ZIP_INFLATED_MAX + 1) as u32;
        let mut z = zip.clone();
        set_u32(&mut z, 22, big);
        set_u32(&mut z, cd + 24, big);
        assert_eq!(check(&z), Err(ZipError::Archive(ZipRule::InflatedTooLarge)));
        // Exactly the cap is allowed by the cap (and then found to be a lie).
        let mut z = zip.clone();
        set_u32(&mut z, 22, ZIP_INFLATED_MAX as u32);
        set_u32(&mut z, cd + 24, ZIP_INFLATED_MAX as u32);
        assert_eq!(check(&z), Err(ZipError::Archive(ZipRule::SizeMismatch)));
        // A directory that says little about a stream that inflates to much more: inflating
        // stops just past what it said.
        let zeros = std::vec![0u8; 8 << 20];
        let mut bomb = spec("a.txt", b"ab\n", 8);
        bomb.body = Some(miniz_oxide::deflate::compress_to_vec(&zeros, 9));
        assert_eq!(
            check(&make_zip(&[bomb], b"")),
            Err(ZipError::Archive(ZipRule::SizeMismatch))
        );
        // A caller that edits the entry cannot lift the cap.
        let mut file = Cursor { data: zip, pos: 0 };
        let mut entry = inspect_zip(&mut file, &mut [0u8; 64]).unwrap();
        entry.uncompressed_size = ZIP_INFLATED_MAX + 1;
        let mut window = std::boxed::Box::new([0u8; ZIP_WINDOW]);
        assert_eq!(
            validate_zip_rows(&mut file, &entry, &mut window, &mut [0u8; 64]),
            Err(ZipError::Archive(ZipRule::InflatedTooLarge))
        );
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
                let verdict = check_with(&z, 256, 256);
                assert_eq!(stream_with(&z, 100), verdict, "one pass, flip at {i}");
                match verdict {
                    Err(
                        ZipError::Archive(ZipRule::CrcMismatch)
                        | ZipError::Archive(ZipRule::CorruptData)
                        | ZipError::Archive(ZipRule::SizeMismatch),
                    ) => {}
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
        let e: ZipError<Infallible> = ZipError::Archive(ZipRule::MacMetadata);
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
            let streamed = stream_with(&zip, inbuf).map_err(|e| match e {
                ZipError::Row(e) => e,
                other => panic!("{other:?}"),
            });
            prop_assert_eq!(streamed, plain);
        }

        /// Arbitrary bytes never panic the inspector.
        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = check_with(&data, 64, 16);
        }
    }
}
