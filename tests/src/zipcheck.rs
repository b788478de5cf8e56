//! A streaming zip inspector (policy rule 5) that never needs to seek, so it works on an upload
//! as it arrives and in `--discard` mode where nothing is written to disk.
//!
//! It walks the local file headers (APPNOTE.TXT §4.3.7) from the start of the archive, inflates
//! the single `.txt`/`.csv` entry through a [`TextValidator`], checks its CRC-32, and stops at the
//! central directory. Structural problems outrank content problems: a zip holding a bad row *and*
//! a second file is reported as "zip must hold exactly one file" (line 0), whatever the order of
//! the entries.

use crate::policy::{Kind, Rule, TextValidator, Violation, kind_of};
use flate2::{Decompress, FlushDecompress, Status};

const LOCAL_HEADER: u32 = 0x0403_4b50;
const CENTRAL_HEADER: u32 = 0x0201_4b50;
const END_OF_CENTRAL_DIR: u32 = 0x0605_4b50;
const ZIP64_END: u32 = 0x0606_4b50;
const DATA_DESCRIPTOR: u32 = 0x0807_4b50;
/// The end-of-central-directory record (22 bytes) plus the longest comment.
const MAX_TAIL: usize = 22 + 0xFFFF;
/// Cap on the inflated size of the entry: a zip bomb must not keep the emulator busy forever.
const MAX_INFLATED: u64 = 1 << 30;

/// Where the parser is in the archive.
#[derive(Debug)]
enum State {
    /// Expecting a 4-byte signature.
    Signature,
    /// Expecting the 26 fixed bytes of a local header.
    LocalHeader,
    /// Expecting `n` bytes of name + extra field.
    NameExtra(usize),
    /// Passing `remaining` stored bytes of the entry.
    Stored(u64),
    /// Inflating the entry; `remaining` compressed bytes if the header gave the size.
    Deflate(Option<u64>),
    /// Expecting the data descriptor (12 or 20 bytes after an optional signature).
    Descriptor,
    /// Reached the central directory: the rest is not looked at.
    Done,
    /// An unrecoverable structural error: the rest is ignored.
    Failed,
}

/// What the current entry is and how its data is checked.
#[derive(Debug)]
struct Entry {
    flags: u16,
    method: u16,
    crc_expected: u32,
    zip64: bool,
    /// Some for the entry whose rows are validated.
    text: Option<TextValidator>,
    crc: crc32fast::Hasher,
    inflated: u64,
}

/// The streaming zip inspector. Feed the archive in chunks, then [`ZipInspector::finish`].
#[derive(Debug)]
pub struct ZipInspector {
    state: State,
    buf: Vec<u8>,
    want: usize,
    header: [u8; 26],
    entry: Option<Entry>,
    inflater: Decompress,
    out: Box<[u8]>,
    files: u32,
    saw_folder: bool,
    saw_mac: bool,
    /// The first structural problem other than the three counted ones above.
    structural: Option<Violation>,
    /// The outcome of the validated entry: rows or its first row violation.
    content: Option<Result<u64, Violation>>,
    /// The last bytes of the archive once the central directory started, to find the
    /// end-of-central-directory record (a truncated upload has none).
    tail: Vec<u8>,
}

impl Default for ZipInspector {
    fn default() -> Self {
        Self::new()
    }
}

impl ZipInspector {
    /// A fresh inspector at the start of an archive.
    pub fn new() -> Self {
        ZipInspector {
            state: State::Signature,
            buf: Vec::with_capacity(64),
            want: 4,
            header: [0; 26],
            entry: None,
            inflater: Decompress::new(false),
            out: vec![0; 32 * 1024].into_boxed_slice(),
            files: 0,
            saw_folder: false,
            saw_mac: false,
            structural: None,
            content: None,
            tail: Vec::new(),
        }
    }

    /// Feeds the next bytes of the archive.
    pub fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            match self.state {
                State::Done => {
                    self.keep_tail(data);
                    return;
                }
                State::Failed => return,
                State::Stored(remaining) => {
                    let n = remaining.min(data.len() as u64) as usize;
                    self.entry_data(&data[..n]);
                    data = &data[n..];
                    if remaining == n as u64 {
                        self.end_entry_data();
                    } else {
                        self.state = State::Stored(remaining - n as u64);
                    }
                }
                State::Deflate(remaining) => {
                    let limit = remaining.map_or(data.len(), |r| r.min(data.len() as u64) as usize);
                    let used = self.inflate(&data[..limit], remaining);
                    data = &data[used..];
                }
                _ => {
                    let n = (self.want - self.buf.len()).min(data.len());
                    self.buf.extend_from_slice(&data[..n]);
                    data = &data[n..];
                    if self.buf.len() == self.want {
                        self.parse_buffered();
                    }
                }
            }
        }
    }

    /// Ends the archive and returns the validated entry's row count.
    ///
    /// # Errors
    /// The policy [`Violation`]: structural ones (line 0) first, then the entry's row error.
    pub fn finish(mut self) -> Result<u64, Violation> {
        let complete = matches!(self.state, State::Done) && self.has_end_record();
        if !complete && !matches!(self.state, State::Failed) {
            self.structural(Violation::with_detail(
                Rule::ZipInvalid,
                0,
                "archive ends before its central directory",
            ));
        }
        // macOS metadata and folders are definite even in a damaged archive; the entry count is
        // only known once the scan reached the central directory.
        if self.saw_mac {
            return Err(Violation::new(Rule::ZipMacMetadata, 0));
        }
        if self.saw_folder {
            return Err(Violation::new(Rule::ZipFolders, 0));
        }
        if complete && self.files != 1 {
            return Err(Violation::with_detail(
                Rule::ZipNotExactlyOne,
                0,
                format!("it holds {}", self.files),
            ));
        }
        if let Some(v) = self.structural {
            return Err(v);
        }
        match self.content {
            Some(result) => result,
            None => Err(Violation::new(Rule::ZipInvalid, 0)),
        }
    }

    /// Keeps the last [`MAX_TAIL`] bytes: the EOCD record plus its longest comment.
    fn keep_tail(&mut self, data: &[u8]) {
        self.tail.extend_from_slice(data);
        if self.tail.len() > 2 * MAX_TAIL {
            let cut = self.tail.len() - MAX_TAIL;
            self.tail.drain(..cut);
        }
    }

    /// Whether the kept tail ends with a complete end-of-central-directory record.
    fn has_end_record(&self) -> bool {
        let t = &self.tail;
        (0..t.len().saturating_sub(21)).rev().any(|p| {
            le32(&t[p..]) == END_OF_CENTRAL_DIR
                && p + 22 + usize::from(le16(&t[p + 20..])) == t.len()
        })
    }

    fn structural(&mut self, v: Violation) {
        if self.structural.is_none() {
            self.structural = Some(v);
        }
    }

    fn fail(&mut self, detail: &str) {
        self.structural(Violation::with_detail(Rule::ZipInvalid, 0, detail));
        self.state = State::Failed;
    }

    fn expect(&mut self, state: State, want: usize) {
        self.buf.clear();
        self.want = want;
        self.state = state;
    }

    fn parse_buffered(&mut self) {
        match self.state {
            State::Signature => match le32(&self.buf) {
                LOCAL_HEADER => self.expect(State::LocalHeader, 26),
                CENTRAL_HEADER | END_OF_CENTRAL_DIR | ZIP64_END => {
                    self.state = State::Done;
                    let sig = std::mem::take(&mut self.buf);
                    self.keep_tail(&sig);
                }
                _ => self.fail("unexpected signature (not a zip, or a zip with a prefix)"),
            },
            State::LocalHeader => {
                self.header.copy_from_slice(&self.buf);
                let name_len = usize::from(le16(&self.header[22..]));
                let extra_len = usize::from(le16(&self.header[24..]));
                self.expect(State::NameExtra(name_len), name_len + extra_len);
                if self.want == 0 {
                    self.start_entry();
                }
            }
            State::NameExtra(_) => self.start_entry(),
            State::Descriptor => self.parse_descriptor(),
            _ => {}
        }
    }

    fn start_entry(&mut self) {
        let State::NameExtra(name_len) = self.state else {
            return;
        };
        let h = self.header;
        let flags = le16(&h[2..]);
        let method = le16(&h[4..]);
        let crc_expected = le32(&h[10..]);
        let mut compressed = u64::from(le32(&h[14..]));
        let uncompressed = le32(&h[18..]);
        let name = String::from_utf8_lossy(&self.buf[..name_len]).into_owned();
        let extra = self.buf[name_len..].to_vec();
        let mut zip64 = false;
        if compressed == 0xFFFF_FFFF || uncompressed == 0xFFFF_FFFF {
            // APPNOTE §4.5.3: the zip64 extra field holds the sizes that are 0xFFFFFFFF, in the
            // order uncompressed, compressed.
            zip64 = true;
            if let Some(field) = find_extra(&extra, 0x0001) {
                let mut at = 0;
                if uncompressed == 0xFFFF_FFFF {
                    at += 8;
                }
                if compressed == 0xFFFF_FFFF {
                    match field.get(at..at + 8) {
                        Some(b) => compressed = le64(b),
                        None => return self.fail("zip64 extra field too short"),
                    }
                }
            }
        }

        let base = name.rsplit('/').next().unwrap_or("");
        let is_mac =
            name.starts_with("__MACOSX") || name.contains("/__MACOSX") || base == ".DS_Store";
        // Some Windows tools write a backslash as the separator: a folder all the same.
        let is_folder = name.ends_with('/') || name.contains('/') || name.contains('\\');
        if is_mac {
            self.saw_mac = true;
        } else if is_folder {
            self.saw_folder = true;
        } else {
            self.files += 1;
        }
        let mut text = None;
        if !is_mac && !is_folder {
            if flags & 1 != 0 {
                self.structural(Violation::with_detail(Rule::ZipEncrypted, 0, name.clone()));
            } else if method != 0 && method != 8 {
                self.structural(Violation::with_detail(
                    Rule::ZipCompression,
                    0,
                    format!("method {method}"),
                ));
            }
            match kind_of(&name) {
                Some(k @ (Kind::Txt | Kind::Csv)) if self.files == 1 => {
                    text = Some(TextValidator::new(k == Kind::Csv));
                }
                Some(Kind::Txt | Kind::Csv) => {}
                _ => self.structural(Violation::with_detail(Rule::ZipEntryExtension, 0, name)),
            }
        }
        let has_descriptor = flags & 0x0008 != 0;
        self.entry = Some(Entry {
            flags,
            method,
            crc_expected,
            zip64,
            text,
            crc: crc32fast::Hasher::new(),
            inflated: 0,
        });
        self.buf.clear();
        if flags & 1 != 0 || (method != 0 && method != 8) {
            // The data cannot be decoded: skip it by its size if the header gives one.
            if has_descriptor {
                return self.fail("cannot find the end of an entry it cannot decode");
            }
            if let Some(e) = self.entry.as_mut() {
                e.text = None;
            }
            self.state = State::Stored(compressed);
        } else if method == 8 {
            self.inflater = Decompress::new(false);
            self.state = State::Deflate((!has_descriptor).then_some(compressed));
        } else {
            // Stored with a data descriptor and no size in the header has no findable end;
            // writers that stream stored entries put the size in the header anyway.
            self.state = State::Stored(compressed);
        }
        if matches!(self.state, State::Stored(0)) {
            self.end_entry_data();
        }
    }

    fn entry_data(&mut self, data: &[u8]) {
        if let Some(e) = self.entry.as_mut() {
            e.crc.update(data);
            e.inflated += data.len() as u64;
            if let Some(t) = e.text.as_mut() {
                t.feed(data);
            }
        }
    }

    /// Inflates from `input`, returns how many bytes it consumed.
    fn inflate(&mut self, input: &[u8], remaining: Option<u64>) -> usize {
        let mut used = 0;
        loop {
            let before_in = self.inflater.total_in();
            let before_out = self.inflater.total_out();
            let status =
                self.inflater
                    .decompress(&input[used..], &mut self.out, FlushDecompress::None);
            let consumed = (self.inflater.total_in() - before_in) as usize;
            let produced = (self.inflater.total_out() - before_out) as usize;
            used += consumed;
            if produced > 0 {
                let out = std::mem::take(&mut self.out);
                self.entry_data(&out[..produced]);
                self.out = out;
                if self
                    .entry
                    .as_ref()
                    .is_some_and(|e| e.inflated > MAX_INFLATED)
                {
                    self.structural(Violation::new(Rule::ZipTooLargeUncompressed, 0));
                    self.state = State::Failed;
                    return input.len();
                }
            }
            // What is left of the entry after everything this call consumed (not just this
            // round: a well-compressed entry fills `out` several times per input chunk).
            let remaining = remaining.map(|r| r - used as u64);
            match status {
                Ok(Status::StreamEnd) => {
                    if remaining.is_some_and(|r| r > 0) {
                        self.fail("deflate stream ends before the entry's compressed size");
                    } else {
                        self.end_entry_data();
                    }
                    return used;
                }
                Ok(_) => {
                    self.state = State::Deflate(remaining);
                    if remaining == Some(0) {
                        self.fail("deflate stream longer than the entry's compressed size");
                        return used;
                    }
                    if produced == 0 && consumed == 0 {
                        if used < input.len() {
                            // No progress with input available would spin forever.
                            self.fail("deflate data makes no progress");
                            return input.len();
                        }
                        return used;
                    }
                    if used == input.len() && produced < self.out.len() {
                        return used;
                    }
                }
                Err(_) => {
                    self.fail("corrupt deflate data");
                    return input.len();
                }
            }
        }
    }

    fn end_entry_data(&mut self) {
        let Some(e) = self.entry.as_ref() else {
            return;
        };
        if e.flags & 0x0008 != 0 {
            self.expect(State::Descriptor, 4);
        } else {
            self.finish_entry(None);
            self.expect(State::Signature, 4);
        }
    }

    fn parse_descriptor(&mut self) {
        let zip64 = self.entry.as_ref().is_some_and(|e| e.zip64);
        let sizes = if zip64 { 16 } else { 8 };
        if self.buf.len() == 4 && le32(&self.buf) == DATA_DESCRIPTOR {
            // The signature is optional (APPNOTE §4.3.9.3): read what follows it.
            self.buf.clear();
            self.want = 4 + sizes;
            return;
        }
        if self.buf.len() == 4 {
            self.want = 4 + sizes;
            return;
        }
        let crc = le32(&self.buf);
        self.finish_entry(Some(crc));
        self.expect(State::Signature, 4);
    }

    fn finish_entry(&mut self, descriptor_crc: Option<u32>) {
        let Some(e) = self.entry.take() else {
            return;
        };
        let decodable = e.flags & 1 == 0 && (e.method == 0 || e.method == 8);
        let expected = descriptor_crc.unwrap_or(e.crc_expected);
        if decodable && e.crc.finalize() != expected {
            self.structural(Violation::new(Rule::ZipCorrupt, 0));
        }
        if let Some(t) = e.text {
            self.content = Some(t.finish());
        }
    }
}

fn find_extra(mut extra: &[u8], id: u16) -> Option<&[u8]> {
    while extra.len() >= 4 {
        let tag = le16(extra);
        let len = usize::from(le16(&extra[2..]));
        let body = extra.get(4..4 + len)?;
        if tag == id {
            return Some(body);
        }
        extra = &extra[4 + len..];
    }
    None
}

fn le16(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn le64(b: &[u8]) -> u64 {
    let mut a = [0; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

/// A small zip writer for tests (stored or deflated entries, optional data descriptors), so the
/// inspector is tested on archives built byte by byte rather than by another zip library.
#[cfg(test)]
pub(crate) mod writer {
    use flate2::Compression;
    use flate2::write::DeflateEncoder;
    use std::io::Write;

    /// How to write one entry.
    pub struct EntrySpec<'a> {
        pub name: &'a str,
        pub data: &'a [u8],
        pub deflate: bool,
        pub descriptor: bool,
        pub flags: u16,
    }

    impl<'a> EntrySpec<'a> {
        pub fn new(name: &'a str, data: &'a [u8]) -> Self {
            EntrySpec {
                name,
                data,
                deflate: false,
                descriptor: false,
                flags: 0,
            }
        }
    }

    pub fn zip(entries: &[EntrySpec<'_>]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for e in entries {
            let offset = out.len() as u32;
            let crc = crc32fast::hash(e.data);
            let body = if e.deflate {
                let mut enc = DeflateEncoder::new(Vec::new(), Compression::default());
                enc.write_all(e.data).unwrap();
                enc.finish().unwrap()
            } else {
                e.data.to_vec()
            };
            let method: u16 = if e.deflate { 8 } else { 0 };
            let flags = e.flags | if e.descriptor { 8 } else { 0 };
            let (hcrc, hc, hu) = if e.descriptor && e.deflate {
                (0, 0, 0)
            } else {
                (crc, body.len() as u32, e.data.len() as u32)
            };
            out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
            out.extend_from_slice(&20u16.to_le_bytes());
            out.extend_from_slice(&flags.to_le_bytes());
            out.extend_from_slice(&method.to_le_bytes());
            out.extend_from_slice(&[0; 4]);
            out.extend_from_slice(&hcrc.to_le_bytes());
            out.extend_from_slice(&hc.to_le_bytes());
            out.extend_from_slice(&hu.to_le_bytes());
            out.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(e.name.as_bytes());
            out.extend_from_slice(&body);
            if e.descriptor {
                out.extend_from_slice(&0x0807_4b50u32.to_le_bytes());
                out.extend_from_slice(&crc.to_le_bytes());
                out.extend_from_slice(&(body.len() as u32).to_le_bytes());
                out.extend_from_slice(&(e.data.len() as u32).to_le_bytes());
            }
            central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
            central.extend_from_slice(&[20, 0, 20, 0]);
            central.extend_from_slice(&flags.to_le_bytes());
            central.extend_from_slice(&method.to_le_bytes());
            central.extend_from_slice(&[0; 4]);
            central.extend_from_slice(&crc.to_le_bytes());
            central.extend_from_slice(&(body.len() as u32).to_le_bytes());
            central.extend_from_slice(&(e.data.len() as u32).to_le_bytes());
            central.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
            central.extend_from_slice(&[0; 12]);
            central.extend_from_slice(&offset.to_le_bytes());
            central.extend_from_slice(e.name.as_bytes());
        }
        let cd_offset = out.len() as u32;
        out.extend_from_slice(&central);
        out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        out.extend_from_slice(&(central.len() as u32).to_le_bytes());
        out.extend_from_slice(&cd_offset.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::writer::{EntrySpec, zip};
    use super::*;

    fn inspect(bytes: &[u8]) -> Result<u64, (Rule, u64)> {
        let mut z = ZipInspector::new();
        z.feed(bytes);
        let whole = z.finish().map_err(|v| (v.rule, v.line));
        for chunk in [1, 7, 4096] {
            let mut z = ZipInspector::new();
            for c in bytes.chunks(chunk) {
                z.feed(c);
            }
            assert_eq!(
                z.finish().map_err(|v| (v.rule, v.line)),
                whole,
                "chunk {chunk}"
            );
        }
        whole
    }

    const ROWS: &[u8] = b"alice01\nbob0002\r\ncarol03\n";

    #[test]
    fn one_entry_in_every_layout() {
        for deflate in [false, true] {
            for descriptor in [false, true] {
                let mut e = EntrySpec::new("accounts.txt", ROWS);
                e.deflate = deflate;
                e.descriptor = descriptor;
                assert_eq!(
                    inspect(&zip(&[e])),
                    Ok(3),
                    "deflate {deflate} dd {descriptor}"
                );
            }
        }
        let mut e = EntrySpec::new("a.CSV", b"\"x,y\"\nzz\n");
        e.deflate = true;
        assert_eq!(inspect(&zip(&[e])), Ok(2));
    }

    #[test]
    fn entry_rows_are_checked_with_line_numbers() {
        let mut e = EntrySpec::new("a.txt", b"ab\ncd\nx\n");
        e.deflate = true;
        assert_eq!(inspect(&zip(&[e])), Err((Rule::RowTooShort, 3)));
        let e = EntrySpec::new("a.csv", b"ab\nc,d\n");
        assert_eq!(inspect(&zip(&[e])), Err((Rule::MoreThanOneColumn, 2)));
        let e = EntrySpec::new("a.txt", b"");
        assert_eq!(inspect(&zip(&[e])), Err((Rule::EmptyFile, 0)));
    }

    #[test]
    fn structure_rules() {
        assert_eq!(inspect(&zip(&[])), Err((Rule::ZipNotExactlyOne, 0)));
        let two = zip(&[EntrySpec::new("a.txt", ROWS), EntrySpec::new("b.txt", ROWS)]);
        assert_eq!(inspect(&two), Err((Rule::ZipNotExactlyOne, 0)));
        // Structure outranks a bad row in the first entry.
        let two_bad = zip(&[
            EntrySpec::new("a.txt", b"x\n"),
            EntrySpec::new("b.txt", ROWS),
        ]);
        assert_eq!(inspect(&two_bad), Err((Rule::ZipNotExactlyOne, 0)));
        let folder = zip(&[
            EntrySpec::new("dir/", b""),
            EntrySpec::new("dir/a.txt", ROWS),
        ]);
        assert_eq!(inspect(&folder), Err((Rule::ZipFolders, 0)));
        let nested = zip(&[EntrySpec::new("dir/a.txt", ROWS)]);
        assert_eq!(inspect(&nested), Err((Rule::ZipFolders, 0)));
        let mac = zip(&[
            EntrySpec::new("a.txt", ROWS),
            EntrySpec::new("__MACOSX/", b""),
            EntrySpec::new("__MACOSX/._a.txt", b"\0\x05\x16\x07"),
        ]);
        assert_eq!(inspect(&mac), Err((Rule::ZipMacMetadata, 0)));
        let ds = zip(&[
            EntrySpec::new(".DS_Store", b"x"),
            EntrySpec::new("a.txt", ROWS),
        ]);
        assert_eq!(inspect(&ds), Err((Rule::ZipMacMetadata, 0)));
        let ext = zip(&[EntrySpec::new("a.json", ROWS)]);
        assert_eq!(inspect(&ext), Err((Rule::ZipEntryExtension, 0)));
        let mut enc = EntrySpec::new("a.txt", ROWS);
        enc.flags = 1;
        assert_eq!(inspect(&zip(&[enc])), Err((Rule::ZipEncrypted, 0)));
    }

    #[test]
    fn damaged_archives() {
        assert_eq!(inspect(b"ab\ncd\n"), Err((Rule::ZipInvalid, 0)));
        let good = zip(&[EntrySpec::new("a.txt", ROWS)]);
        assert_eq!(inspect(&good[..good.len() / 2]), Err((Rule::ZipInvalid, 0)));
        assert_eq!(inspect(&good[..good.len() - 1]), Err((Rule::ZipInvalid, 0)));
        let mut commented = good.clone();
        let n = commented.len();
        commented[n - 2] = 3;
        commented.extend_from_slice(b"hey");
        assert_eq!(inspect(&commented), Ok(3));
        let mut bad_crc = good.clone();
        bad_crc[30 + 5 + 2] ^= 0x01; // a byte of the stored data
        assert_eq!(inspect(&bad_crc), Err((Rule::ZipCorrupt, 0)));
        let mut e = EntrySpec::new("a.txt", ROWS);
        e.deflate = true;
        let mut bad_deflate = zip(&[e]);
        bad_deflate[30 + 5] = 0xFF; // an invalid block type
        assert_eq!(inspect(&bad_deflate).map_err(|e| e.1), Err(0));
        assert_eq!(inspect(b""), Err((Rule::ZipInvalid, 0)));
    }

    /// Mutated and cut archives, fed in random chunk sizes, never panic the inspector.
    #[test]
    fn mutations_never_panic() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut bases = Vec::new();
        for (deflate, descriptor) in [(false, false), (true, false), (true, true)] {
            let mut e = EntrySpec::new("a.csv", b"\"x,y\"\nabc\r\nzzz\n");
            e.deflate = deflate;
            e.descriptor = descriptor;
            bases.push(zip(&[e, EntrySpec::new("b.txt", ROWS)]));
            bases.push(zip(&[EntrySpec::new("c.txt", ROWS)]));
        }
        for _ in 0..3000 {
            let mut z = bases[(next() % bases.len() as u64) as usize].clone();
            for _ in 0..1 + next() % 4 {
                let i = (next() % z.len() as u64) as usize;
                z[i] = next() as u8;
            }
            if next() % 3 == 0 {
                z.truncate((next() % z.len() as u64) as usize);
            }
            let mut inspector = ZipInspector::new();
            let mut rest = z.as_slice();
            while !rest.is_empty() {
                let n = 1 + (next() % 64) as usize;
                let n = n.min(rest.len());
                inspector.feed(&rest[..n]);
                rest = &rest[n..];
            }
            let _ = inspector.finish();
        }
    }
}
