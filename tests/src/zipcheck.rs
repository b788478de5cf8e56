//! A streaming zip inspector (policy rule 5) that never needs to seek, so it works on an upload
//! as it arrives and in `--discard` mode where nothing is written to disk.
//!
//! It walks the local file headers (APPNOTE.TXT §4.3.7) from the start of the archive, inflates
//! the single `.txt`/`.csv` entry through a [`TextValidator`] and checks its CRC-32; then it walks
//! the central directory (§4.3.12) and the end record (§4.3.16) and holds them against what the
//! local headers said. A streaming reader and a directory reader (such as `unzip`, or the client)
//! must see the same archive, so the policy (`tests/packages/README.md`, "The zip layout") accepts
//! only the layout a normal writer produces:
//!
//! - local entries one after the other from offset 0, each followed by its data (and its data
//!   descriptor, with flag bit 3);
//! - then the central directory, naming exactly those entries, in that order, at those offsets,
//!   with the same name, flags, method, CRC-32 and sizes (a deflated entry's local header may
//!   give zeros with flag bit 3: its data descriptor must then agree instead);
//! - then the end record, whose entry count, directory size and offset are the directory's, and
//!   its comment, which ends the file.
//!
//! The order of precedence: a layout problem (the archive reads differently to different
//! readers, or cannot be read) outranks the entry rules (macOS metadata, folders, Windows paths,
//! the entry count, then the entry's extension, encryption, method and size), which outrank a
//! damaged entry (CRC-32), which outranks a row error in the entry's text. So a zip holding a bad
//! row *and* a second file is "zip must hold exactly one file" (line 0), whatever the order of
//! the entries.

use crate::policy::{Kind, Rule, TextValidator, Violation, kind_of};
use flate2::{Decompress, FlushDecompress, Status};
use sha2::{Digest, Sha256};

const LOCAL_HEADER: u32 = 0x0403_4b50;
const CENTRAL_HEADER: u32 = 0x0201_4b50;
const END_OF_CENTRAL_DIR: u32 = 0x0605_4b50;
const DATA_DESCRIPTOR: u32 = 0x0807_4b50;
/// General purpose flag bit 3: CRC-32 and sizes follow the data in a data descriptor.
const FLAG_DESCRIPTOR: u16 = 1 << 3;
/// The end-of-central-directory record (22 bytes) plus the longest comment.
const MAX_TAIL: usize = 22 + 0xFFFF;
/// Cap on the inflated size of the entry: a zip bomb must not keep the emulator busy forever.
/// The client uses the same cap (`ZIP_INFLATED_MAX`), written down in the policy.
pub const MAX_INFLATED: u64 = 1 << 30;
/// Local entries remembered for the directory check. A package holds one; past this many the
/// verdict ("exactly one file") is certain, and memory stays bounded.
const MAX_ENTRIES: usize = 1024;

/// Where the parser is in the archive.
#[derive(Debug, Clone, Copy)]
enum State {
    /// Expecting a 4-byte signature.
    Signature,
    /// Expecting the 26 fixed bytes of a local header.
    LocalHeader,
    /// Expecting `n` bytes of name + extra field.
    NameExtra(usize),
    /// Passing `remaining` stored (or skipped) bytes of the entry.
    Stored(u64),
    /// Inflating the entry; `remaining` compressed bytes if the header gave the size.
    Deflate(Option<u64>),
    /// Expecting the data descriptor (12 bytes after an optional signature).
    Descriptor,
    /// Expecting the 42 fixed bytes of a central directory header.
    CentralHeader,
    /// Expecting a central header's name; `skip` bytes of extra field and comment follow it.
    CentralName { skip: u64 },
    /// Skipping a central header's extra field and comment.
    Skip(u64),
    /// Expecting the 18 fixed bytes of the end record.
    EndRecord,
    /// Passing `remaining` bytes of the archive comment.
    Comment(u64),
    /// After the comment: nothing may follow.
    End,
    /// Bytes that are not a zip record: the rest is kept only to tell a zip with stray bytes
    /// (it has an end record) from something that is not a zip.
    Junk,
    /// An unrecoverable problem (already recorded): the rest is ignored.
    Failed,
}

/// What a local header said about its entry, kept to hold the central directory against it.
#[derive(Debug, Clone)]
struct LocalRecord {
    offset: u64,
    name_len: usize,
    /// SHA-256 of the name: compared with the directory's name without keeping either.
    name_digest: [u8; 32],
    flags: u16,
    method: u16,
    /// CRC-32, compressed and uncompressed size from the local header.
    sizes: (u32, u32, u32),
    /// The same three from the data descriptor, if the entry has one.
    descriptor: Option<(u32, u32, u32)>,
}

impl LocalRecord {
    /// A deflated entry written to a stream: flag bit 3, zeros in the local header.
    fn streamed(&self) -> bool {
        self.flags & FLAG_DESCRIPTOR != 0 && self.method == 8 && self.sizes == (0, 0, 0)
    }
}

/// The entry whose data is being read.
#[derive(Debug)]
struct Entry {
    record: LocalRecord,
    /// Some for the entry whose rows are validated.
    text: Option<TextValidator>,
    /// Whether the data is read for its CRC-32 (stored or deflate, not encrypted, not skipped).
    decoded: bool,
    crc: crc32fast::Hasher,
    inflated: u64,
    /// Compressed bytes of the entry read so far.
    consumed: u64,
    /// Inflating beyond this is an error: the declared size, or [`MAX_INFLATED`].
    limit: u64,
}

/// The streaming zip inspector. Feed the archive in chunks, then [`ZipInspector::finish`].
#[derive(Debug)]
pub struct ZipInspector {
    state: State,
    buf: Vec<u8>,
    want: usize,
    header: [u8; 42],
    /// Offset of the next byte fed, and of the record being read.
    pos: u64,
    record_at: u64,
    entry: Option<Entry>,
    inflater: Decompress,
    out: Box<[u8]>,
    locals: Vec<LocalRecord>,
    /// Where the central directory starts, and the directory headers read so far.
    cd_start: Option<u64>,
    centrals: usize,
    /// The end record and its whole comment were read.
    ended: bool,
    files: u32,
    saw_folder: bool,
    saw_mac: bool,
    saw_windows: bool,
    /// The first layout problem: stray bytes, a local header or end record that disagrees with
    /// the directory, or a failure to read on.
    layout: Option<Violation>,
    /// The first entry problem other than the counted ones above (extension, encryption,
    /// method, declared size).
    structural: Option<Violation>,
    /// The first damaged entry (CRC-32, sizes).
    corrupt: Option<Violation>,
    /// The outcome of the validated entry: rows or its first row violation.
    content: Option<Result<u64, Violation>>,
    /// The last bytes of junk, to find an end record in them.
    tail: Vec<u8>,
    /// The inflated size cap: [`MAX_INFLATED`] (smaller in tests).
    cap: u64,
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
            header: [0; 42],
            pos: 0,
            record_at: 0,
            entry: None,
            inflater: Decompress::new(false),
            out: vec![0; 32 * 1024].into_boxed_slice(),
            locals: Vec::new(),
            cd_start: None,
            centrals: 0,
            ended: false,
            files: 0,
            saw_folder: false,
            saw_mac: false,
            saw_windows: false,
            layout: None,
            structural: None,
            corrupt: None,
            content: None,
            tail: Vec::new(),
            cap: MAX_INFLATED,
        }
    }

    /// An inspector with a smaller inflated size cap, so that tests can reach it quickly.
    #[cfg(test)]
    fn with_cap(cap: u64) -> Self {
        ZipInspector { cap, ..Self::new() }
    }

    /// Feeds the next bytes of the archive.
    pub fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let before = data.len();
            match self.state {
                State::Junk => {
                    self.keep_tail(data);
                    data = &[];
                }
                State::Failed => data = &[],
                State::End => {
                    self.layout_error(Rule::ZipStrayData, "bytes after the end record");
                    self.state = State::Failed;
                    data = &[];
                }
                State::Stored(remaining) | State::Skip(remaining) | State::Comment(remaining) => {
                    let n = remaining.min(data.len() as u64) as usize;
                    if matches!(self.state, State::Stored(_)) {
                        self.entry_data(&data[..n], n);
                    }
                    data = &data[n..];
                    self.advance(remaining - n as u64);
                }
                State::Deflate(remaining) => {
                    let limit = remaining.map_or(data.len(), |r| r.min(data.len() as u64) as usize);
                    let used = self.inflate(&data[..limit], remaining);
                    data = &data[used..];
                }
                _ => {
                    if self.buf.is_empty() && matches!(self.state, State::Signature) {
                        self.record_at = self.pos;
                    }
                    let n = (self.want - self.buf.len()).min(data.len());
                    self.buf.extend_from_slice(&data[..n]);
                    data = &data[n..];
                    if self.buf.len() == self.want {
                        self.parse_buffered();
                    }
                }
            }
            self.pos += (before - data.len()) as u64;
        }
    }

    /// Ends the archive and returns the validated entry's row count.
    ///
    /// # Errors
    /// The policy [`Violation`], in the order of precedence of the module documentation.
    pub fn finish(mut self) -> Result<u64, Violation> {
        if matches!(self.state, State::Junk) {
            let v = if self.has_end_record() {
                Violation::with_detail(
                    Rule::ZipStrayData,
                    0,
                    format!(
                        "bytes that are not a zip record at offset {}",
                        self.record_at
                    ),
                )
            } else {
                Violation::with_detail(Rule::ZipInvalid, 0, "no end of central directory record")
            };
            self.layout.get_or_insert(v);
        }
        if let Some(v) = self.layout {
            return Err(v);
        }
        if !self.ended {
            return Err(Violation::with_detail(
                Rule::ZipInvalid,
                0,
                "archive ends before its end record",
            ));
        }
        if self.saw_mac {
            return Err(Violation::new(Rule::ZipMacMetadata, 0));
        }
        if self.saw_folder {
            return Err(Violation::new(Rule::ZipFolders, 0));
        }
        if self.saw_windows {
            return Err(Violation::new(Rule::ZipWindowsPath, 0));
        }
        if self.files != 1 {
            return Err(Violation::with_detail(
                Rule::ZipNotExactlyOne,
                0,
                format!("it holds {}", self.files),
            ));
        }
        if let Some(v) = self.structural.or(self.corrupt) {
            return Err(v);
        }
        match self.content {
            Some(result) => result,
            None => Err(Violation::new(Rule::ZipInvalid, 0)),
        }
    }

    /// Keeps the last [`MAX_TAIL`] bytes of junk: an end record plus its longest comment.
    fn keep_tail(&mut self, data: &[u8]) {
        self.tail.extend_from_slice(data);
        if self.tail.len() > 2 * MAX_TAIL {
            let cut = self.tail.len() - MAX_TAIL;
            self.tail.drain(..cut);
        }
    }

    /// Whether the kept tail holds an end record (its comment need not reach the end).
    fn has_end_record(&self) -> bool {
        let t = &self.tail;
        (0..t.len().saturating_sub(21)).any(|p| {
            le32(&t[p..]) == END_OF_CENTRAL_DIR
                && p + 22 + usize::from(le16(&t[p + 20..])) <= t.len()
        })
    }

    fn layout_error(&mut self, rule: Rule, detail: impl Into<String>) {
        if self.layout.is_none() {
            self.layout = Some(Violation::with_detail(rule, 0, detail));
        }
    }

    fn structural(&mut self, v: Violation) {
        if self.structural.is_none() {
            self.structural = Some(v);
        }
    }

    fn fail(&mut self, rule: Rule, detail: &str) {
        self.layout_error(rule, detail);
        self.state = State::Failed;
    }

    fn expect(&mut self, state: State, want: usize) {
        self.buf.clear();
        self.want = want;
        self.state = state;
    }

    /// Moves on once `remaining` bytes of a passed-through field are left.
    fn advance(&mut self, remaining: u64) {
        self.state = match (self.state, remaining) {
            (State::Stored(_), 0) => {
                self.end_entry_data();
                return;
            }
            (State::Stored(_), r) => State::Stored(r),
            (State::Skip(_), 0) => {
                return self.expect(State::Signature, 4);
            }
            (State::Skip(_), r) => State::Skip(r),
            (State::Comment(_), 0) => {
                self.ended = true;
                State::End
            }
            (State::Comment(_), r) => State::Comment(r),
            (other, _) => other,
        };
    }

    fn parse_buffered(&mut self) {
        match self.state {
            State::Signature => self.parse_signature(),
            State::LocalHeader => {
                self.header[..26].copy_from_slice(&self.buf);
                let name_len = usize::from(le16(&self.header[22..]));
                let extra_len = usize::from(le16(&self.header[24..]));
                self.expect(State::NameExtra(name_len), name_len + extra_len);
                if self.want == 0 {
                    self.start_entry();
                }
            }
            State::NameExtra(_) => self.start_entry(),
            State::Descriptor => self.parse_descriptor(),
            State::CentralHeader => {
                self.header.copy_from_slice(&self.buf);
                let name_len = usize::from(le16(&self.header[24..]));
                let skip =
                    u64::from(le16(&self.header[26..])) + u64::from(le16(&self.header[28..]));
                self.expect(State::CentralName { skip }, name_len);
                if name_len == 0 {
                    self.check_central();
                }
            }
            State::CentralName { .. } => self.check_central(),
            State::EndRecord => self.check_end_record(),
            _ => {}
        }
    }

    fn parse_signature(&mut self) {
        let sig = le32(&self.buf);
        let in_directory = self.cd_start.is_some();
        match sig {
            LOCAL_HEADER if !in_directory => self.expect(State::LocalHeader, 26),
            CENTRAL_HEADER | END_OF_CENTRAL_DIR => {
                self.cd_start.get_or_insert(self.record_at);
                if sig == CENTRAL_HEADER {
                    self.expect(State::CentralHeader, 42);
                } else {
                    self.expect(State::EndRecord, 18);
                }
            }
            _ => {
                let sig = std::mem::take(&mut self.buf);
                self.state = State::Junk;
                self.keep_tail(&sig);
            }
        }
    }

    fn start_entry(&mut self) {
        let State::NameExtra(name_len) = self.state else {
            return;
        };
        let h = self.header;
        let flags = le16(&h[2..]);
        let method = le16(&h[4..]);
        let sizes = (le32(&h[10..]), le32(&h[14..]), le32(&h[18..]));
        if sizes.1 == u32::MAX || sizes.2 == u32::MAX {
            return self.fail(Rule::ZipInvalid, "zip64 archives are not supported");
        }
        if self.locals.len() == MAX_ENTRIES {
            return self.fail(
                Rule::ZipNotExactlyOne,
                &format!("it holds more than {MAX_ENTRIES} entries"),
            );
        }
        let raw_name = &self.buf[..name_len];
        let name = String::from_utf8_lossy(raw_name).into_owned();
        let record = LocalRecord {
            offset: self.record_at,
            name_len,
            name_digest: Sha256::digest(raw_name).into(),
            flags,
            method,
            sizes,
            descriptor: None,
        };

        // The name policy (README, "Names inside a zip").
        let base = name.rsplit('/').next().unwrap_or("");
        let is_mac = name.starts_with("__MACOSX/") || base == ".DS_Store";
        let is_folder = name.contains('/');
        let is_windows = name.contains(['\\', ':']);
        self.saw_mac |= is_mac;
        self.saw_folder |= is_folder;
        self.saw_windows |= is_windows;
        let mut text = None;
        let encrypted = flags & 1 != 0;
        let known_method = method == 0 || method == 8;
        let streamed = record.streamed();
        let too_large = !streamed && u64::from(sizes.2) > self.cap;
        if !is_mac && !is_folder && !is_windows {
            self.files += 1;
            match kind_of(&name) {
                Some(k @ (Kind::Txt | Kind::Csv)) if self.files == 1 => {
                    text = Some(TextValidator::new(k == Kind::Csv));
                }
                Some(Kind::Txt | Kind::Csv) => {}
                _ => self.structural(Violation::with_detail(Rule::ZipEntryExtension, 0, name)),
            }
            if encrypted {
                self.structural(Violation::new(Rule::ZipEncrypted, 0));
            } else if !known_method {
                self.structural(Violation::with_detail(
                    Rule::ZipCompression,
                    0,
                    format!("method {method}"),
                ));
            } else if too_large {
                self.structural(Violation::with_detail(
                    Rule::ZipTooLargeUncompressed,
                    0,
                    format!("its header says {} bytes", sizes.2),
                ));
            }
        }
        // Data that is not decoded (encrypted, another method, too large to inflate) is passed
        // by its size.
        let decoded = !encrypted && known_method && !too_large;
        self.entry = Some(Entry {
            record,
            text: text.filter(|_| decoded),
            decoded,
            crc: crc32fast::Hasher::new(),
            inflated: 0,
            consumed: 0,
            limit: if streamed {
                self.cap
            } else {
                u64::from(sizes.2)
            },
        });
        self.buf.clear();
        if decoded && method == 8 {
            self.inflater = Decompress::new(false);
            self.state = State::Deflate((!streamed).then_some(u64::from(sizes.1)));
        } else if decoded || flags & FLAG_DESCRIPTOR == 0 || sizes.1 != 0 {
            // A stored entry with flag bit 3 and no size in its header has no findable end: it
            // is passed as empty, and its data descriptor then cannot match (see below).
            self.state = State::Stored(u64::from(sizes.1));
        } else {
            return self.fail(
                Rule::ZipInvalid,
                "cannot find the end of an entry it cannot decode",
            );
        }
        if matches!(self.state, State::Stored(0)) {
            self.end_entry_data();
        }
    }

    /// Takes `data`, the next decoded (or passed) bytes of the entry, `compressed` of which were
    /// read from the archive.
    fn entry_data(&mut self, data: &[u8], compressed: usize) {
        if let Some(e) = self.entry.as_mut() {
            e.consumed += compressed as u64;
            if e.decoded {
                e.crc.update(data);
                e.inflated += data.len() as u64;
                if let Some(t) = e.text.as_mut() {
                    t.feed(data);
                }
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
            let out = std::mem::take(&mut self.out);
            self.entry_data(&out[..produced], consumed);
            self.out = out;
            // What is left of the entry after everything this call consumed (not just this
            // round: a well-compressed entry fills `out` several times per input chunk).
            let remaining = remaining.map(|r| r - used as u64);
            if let Some(e) = self.entry.as_ref().filter(|e| e.inflated > e.limit) {
                if e.limit == self.cap {
                    self.fail(
                        Rule::ZipTooLargeUncompressed,
                        "stopped inflating at the cap",
                    );
                    return input.len();
                }
                self.bad_data("inflates to more than its header says", remaining);
                return used;
            }
            match status {
                Ok(Status::StreamEnd) => {
                    if remaining.is_some_and(|r| r > 0) {
                        self.bad_data(
                            "deflate stream ends before the entry's compressed size",
                            remaining,
                        );
                    } else {
                        self.end_entry_data();
                    }
                    return used;
                }
                Ok(_) => {
                    self.state = State::Deflate(remaining);
                    if remaining == Some(0) {
                        self.bad_data(
                            "deflate stream longer than the entry's compressed size",
                            remaining,
                        );
                        return used;
                    }
                    if produced == 0 && consumed == 0 {
                        if used < input.len() {
                            // No progress with input available would spin forever.
                            self.bad_data("deflate data makes no progress", remaining);
                        }
                        return used;
                    }
                    if used == input.len() && produced < self.out.len() {
                        return used;
                    }
                }
                Err(_) => {
                    self.bad_data("corrupt deflate data", remaining);
                    return used;
                }
            }
        }
    }

    /// The entry's deflate data is damaged. With its compressed size known, the rest of it is
    /// passed undecoded, so that the layout is still checked (it outranks a damaged entry);
    /// without, the end of the entry cannot be found.
    fn bad_data(&mut self, detail: &str, remaining: Option<u64>) {
        let Some(left) = remaining else {
            return self.fail(Rule::ZipInvalid, detail);
        };
        self.corrupt
            .get_or_insert(Violation::with_detail(Rule::ZipInvalid, 0, detail));
        if let Some(e) = self.entry.as_mut() {
            e.decoded = false;
            e.text = None;
        }
        self.state = State::Stored(left);
        if left == 0 {
            self.end_entry_data();
        }
    }

    fn end_entry_data(&mut self) {
        let Some(e) = self.entry.as_ref() else {
            return;
        };
        if e.record.flags & FLAG_DESCRIPTOR != 0 {
            self.expect(State::Descriptor, 4);
        } else {
            self.finish_entry();
            self.expect(State::Signature, 4);
        }
    }

    fn parse_descriptor(&mut self) {
        if self.buf.len() == 4 {
            // The signature is optional (APPNOTE §4.3.9.3): without it, these 4 bytes are the
            // CRC-32 and 8 more follow; with it, 12 more follow.
            self.want = if le32(&self.buf) == DATA_DESCRIPTOR {
                16
            } else {
                12
            };
            return;
        }
        let d = &self.buf[self.buf.len() - 12..];
        let fields = (le32(d), le32(&d[4..]), le32(&d[8..]));
        let Some(e) = self.entry.as_mut() else {
            return;
        };
        e.record.descriptor = Some(fields);
        if u64::from(fields.1) != e.consumed {
            // The descriptor does not describe the data just read: for a stored entry without
            // sizes in its header, this is where it shows.
            return self.fail(
                Rule::ZipLocalMismatch,
                "the data descriptor's compressed size is not the entry's",
            );
        }
        self.finish_entry();
        self.expect(State::Signature, 4);
    }

    fn finish_entry(&mut self) {
        let Some(e) = self.entry.take() else {
            return;
        };
        let (crc, _, size) = e.record.descriptor.unwrap_or(e.record.sizes);
        if e.decoded && (e.crc.finalize() != crc || e.inflated != u64::from(size)) {
            self.corrupt
                .get_or_insert(Violation::new(Rule::ZipCorrupt, 0));
        }
        if let Some(t) = e.text {
            self.content = Some(t.finish());
        }
        self.locals.push(e.record);
    }

    /// Holds a central directory header (in `header`, its name in `buf`) against the local
    /// entry it names.
    fn check_central(&mut self) {
        let h = self.header;
        let i = self.centrals;
        self.centrals += 1;
        let skip = match self.state {
            State::CentralName { skip } => skip,
            _ => 0,
        };
        self.state = State::Skip(skip);
        let name = std::mem::take(&mut self.buf);
        if skip == 0 {
            self.expect(State::Signature, 4);
        }
        let flags = le16(&h[4..]);
        let method = le16(&h[6..]);
        let sizes = (le32(&h[12..]), le32(&h[16..]), le32(&h[20..]));
        let disk = le16(&h[30..]);
        let offset = le32(&h[38..]);
        if sizes.1 == u32::MAX || sizes.2 == u32::MAX || offset == u32::MAX || disk == u16::MAX {
            return self.layout_error(Rule::ZipInvalid, "zip64 archives are not supported");
        }
        if disk != 0 {
            return self.layout_error(Rule::ZipInvalid, "multi-disk archives are not supported");
        }
        let Some(local) = self.locals.get(i) else {
            let detail = format!("directory entry {} has no local entry", i + 1);
            return self.layout_error(Rule::ZipLocalMismatch, detail);
        };
        let what = if u64::from(offset) != local.offset {
            return self.layout_error(
                Rule::ZipStrayData,
                format!("directory entry {} is not where its local entry is", i + 1),
            );
        } else if local.name_len != name.len()
            || local.name_digest != <[u8; 32]>::from(Sha256::digest(&name))
        {
            "name"
        } else if local.flags != flags {
            "flags"
        } else if local.method != method {
            "method"
        } else if (!local.streamed() && local.sizes != sizes)
            || local.descriptor.is_some_and(|d| d != sizes)
        {
            "CRC-32 or sizes"
        } else {
            return;
        };
        self.layout_error(
            Rule::ZipLocalMismatch,
            format!("entry {}: {what} not as in the directory", i + 1),
        );
    }

    /// Holds the end record (in `buf`) against the directory read before it.
    fn check_end_record(&mut self) {
        let b = std::mem::take(&mut self.buf);
        let (disk, cd_disk) = (le16(&b), le16(&b[2..]));
        let (here, total) = (le16(&b[4..]), le16(&b[6..]));
        let (size, offset) = (le32(&b[8..]), le32(&b[12..]));
        let comment = u64::from(le16(&b[16..]));
        self.state = State::Comment(comment);
        if comment == 0 {
            self.ended = true;
            self.state = State::End;
        }
        let cd_start = self.cd_start.unwrap_or(self.record_at);
        if total == u16::MAX || size == u32::MAX || offset == u32::MAX {
            self.layout_error(Rule::ZipInvalid, "zip64 archives are not supported");
        } else if disk != 0 || cd_disk != 0 || here != total {
            self.layout_error(Rule::ZipInvalid, "multi-disk archives are not supported");
        } else if usize::from(total) != self.centrals
            || u64::from(size) != self.record_at - cd_start
            || u64::from(offset) != cd_start
        {
            self.layout_error(
                Rule::ZipDirectoryMismatch,
                format!(
                    "the directory holds {} entries in {} bytes at offset {cd_start}; the end \
                     record says {total} in {size} at {offset}",
                    self.centrals,
                    self.record_at - cd_start
                ),
            );
        } else if self.locals.len() > self.centrals {
            self.layout_error(
                Rule::ZipStrayData,
                format!(
                    "{} local entries, {} named by the directory",
                    self.locals.len(),
                    self.centrals
                ),
            );
        }
    }
}

fn le16(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
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
    use tpns_test_support::deflate::deflate_repeated;
    use tpns_test_support::random::xorshift;

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
        let e = EntrySpec::new;
        // A zip of `entries` is refused for `rule`, before any row.
        let refused = |entries: &[EntrySpec<'_>], rule| {
            assert_eq!(inspect(&zip(entries)), Err((rule, 0)), "{rule:?}");
        };
        refused(
            &[e("a.txt", ROWS), e("b.txt", ROWS)],
            Rule::ZipNotExactlyOne,
        );
        // Structure outranks a bad row in the first entry.
        refused(
            &[e("a.txt", b"x\n"), e("b.txt", ROWS)],
            Rule::ZipNotExactlyOne,
        );
        refused(&[e("dir/", b""), e("dir/a.txt", ROWS)], Rule::ZipFolders);
        refused(&[e("dir/a.txt", ROWS)], Rule::ZipFolders);
        let mac_fork = e("__MACOSX/._a.txt", b"\0\x05\x16\x07");
        refused(
            &[e("a.txt", ROWS), e("__MACOSX/", b""), mac_fork],
            Rule::ZipMacMetadata,
        );
        refused(
            &[e(".DS_Store", b"x"), e("a.txt", ROWS)],
            Rule::ZipMacMetadata,
        );
        refused(&[e("a.json", ROWS)], Rule::ZipEntryExtension);
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

    fn set16(z: &mut [u8], at: usize, v: u16) {
        z[at..at + 2].copy_from_slice(&v.to_le_bytes());
    }

    fn set32(z: &mut [u8], at: usize, v: u32) {
        z[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    /// The offset of the end record and of the directory, in an archive without a comment.
    fn ends(z: &[u8]) -> (usize, usize) {
        let eocd = z.len() - 22;
        (eocd, le32(&z[eocd + 16..]) as usize)
    }

    #[test]
    fn hostile_layouts() {
        let one = zip(&[EntrySpec::new("a.txt", ROWS)]);
        let two = zip(&[
            EntrySpec::new("a.txt", ROWS),
            EntrySpec::new("evil.sh", b"rm -rf ~\n"),
        ]);
        let (eocd, cd) = ends(&two);
        let first_central = 46 + 5;

        // cdcount: the end record counts one entry of two.
        let mut z = two.clone();
        set16(&mut z, eocd + 8, 1);
        set16(&mut z, eocd + 10, 1);
        assert_eq!(inspect(&z), Err((Rule::ZipDirectoryMismatch, 0)));
        set32(&mut z, eocd + 12, first_central as u32);
        assert_eq!(inspect(&z), Err((Rule::ZipDirectoryMismatch, 0)));
        // The directory's offset or size is not where the directory is.
        let mut z = one.clone();
        let (e1, cd1) = ends(&z);
        set32(&mut z, e1 + 16, cd1 as u32 - 1);
        assert_eq!(inspect(&z), Err((Rule::ZipDirectoryMismatch, 0)));

        // hidden_local: the second local entry is in no directory entry.
        let mut z = two.clone();
        z.drain(cd + first_central..eocd);
        let (e, _) = ends(&z);
        set16(&mut z, e + 8, 1);
        set16(&mut z, e + 10, 1);
        set32(&mut z, e + 12, first_central as u32);
        assert_eq!(inspect(&z), Err((Rule::ZipStrayData, 0)));

        // Stray bytes: before the first entry, between the entry and the directory (directory
        // offset moved along), before the end record, after it.
        let junk = b"MZ\x90\x00 junk";
        let z = [&junk[..], &one].concat();
        assert_eq!(inspect(&z), Err((Rule::ZipStrayData, 0)));
        let mut z = [&one[..cd1], &junk[..], &one[cd1..]].concat();
        let (e, _) = ends(&z);
        set32(&mut z, e + 16, (cd1 + junk.len()) as u32);
        assert_eq!(inspect(&z), Err((Rule::ZipStrayData, 0)));
        let z = [&one[..e1], &junk[..], &one[e1..]].concat();
        assert_eq!(inspect(&z), Err((Rule::ZipStrayData, 0)));
        let z = [&one[..], &junk[..]].concat();
        assert_eq!(inspect(&z), Err((Rule::ZipStrayData, 0)));

        // The local header disagrees with the directory: flags, method, name, sizes.
        for (at, v) in [(6, 1u8), (8, 8), (30, b'b'), (22, 0xEE), (14, 0)] {
            let mut z = one.clone();
            z[at] = v;
            assert_eq!(inspect(&z), Err((Rule::ZipLocalMismatch, 0)), "byte {at}");
        }
        // A stored size that lies runs into the directory: refused, though the directory is
        // no longer found where the local walk ends.
        let mut z = one.clone();
        z[18] = 0xEE;
        assert_eq!(inspect(&z).map_err(|e| e.1), Err(0));
        // A longer local name, `../../../tmp/pwn.sh`, while the directory says `a.txt`.
        let evil = b"../../../tmp/pwn.sh";
        let mut z = [&one[..30], &evil[..], &one[35..]].concat();
        set16(&mut z, 26, evil.len() as u16);
        let (e, c) = ends(&z);
        set32(&mut z, e + 16, (c + evil.len() - 5) as u32);
        set32(&mut z, c + 42, 0);
        assert_eq!(inspect(&z), Err((Rule::ZipLocalMismatch, 0)));
        // A directory entry whose local entry is missing.
        let mut z = one.clone();
        let (e, c) = ends(&z);
        let central = z[c..e].to_vec();
        z.splice(e..e, central);
        set16(&mut z, e + 46 + 5 + 8, 2);
        set16(&mut z, e + 46 + 5 + 10, 2);
        set32(&mut z, e + 46 + 5 + 12, 2 * (46 + 5));
        assert_eq!(inspect(&z).map_err(|e| e.1), Err(0));
    }

    #[test]
    fn data_descriptors_must_agree() {
        let mut e = EntrySpec::new("a.csv", ROWS);
        e.deflate = true;
        e.descriptor = true;
        let z = zip(&[e]);
        assert_eq!(inspect(&z), Ok(3));
        let (_, cd) = ends(&z);
        // The descriptor's uncompressed size (its last field) disagrees with the directory.
        let mut bad = z.clone();
        bad[cd - 4] ^= 1;
        assert_eq!(inspect(&bad).map_err(|e| e.1), Err(0));
        let mut bad = z.clone();
        bad[cd - 8] ^= 1; // its compressed size
        assert_eq!(inspect(&bad), Err((Rule::ZipLocalMismatch, 0)));
        // A stored entry with flag bit 3 and zero sizes in its local header (what Python's
        // zipfile writes to a pipe): a streaming reader cannot find its end.
        let mut e = EntrySpec::new("a.txt", ROWS);
        e.descriptor = true;
        let mut z = zip(&[e]);
        for at in [14, 18, 22] {
            set32(&mut z, at, 0);
        }
        assert_eq!(inspect(&z), Err((Rule::ZipLocalMismatch, 0)));
    }

    #[test]
    fn names_follow_the_shared_policy() {
        let z = |name: &str| inspect(&zip(&[EntrySpec::new(name, ROWS)]));
        assert_eq!(z("..\\..\\evil.txt"), Err((Rule::ZipWindowsPath, 0)));
        assert_eq!(z("C:evil.txt"), Err((Rule::ZipWindowsPath, 0)));
        assert_eq!(z("C:/evil.txt"), Err((Rule::ZipFolders, 0)));
        assert_eq!(z("__MACOSXa.txt"), Ok(3));
        assert_eq!(z("__MACOSX"), Err((Rule::ZipEntryExtension, 0)));
        assert_eq!(z("__MACOSX/x.txt"), Err((Rule::ZipMacMetadata, 0)));
        assert_eq!(z("d/.DS_Store"), Err((Rule::ZipMacMetadata, 0)));
    }

    #[test]
    fn zip_bombs_stop_at_the_cap() {
        let chunk = b"ab\n".repeat(1 << 12);
        // The stream is what it claims: 5 chunks of rows.
        let stream = deflate_repeated(&chunk, 5);
        let mut d = Decompress::new(false);
        let mut text = vec![0; 5 * chunk.len() + 1];
        d.decompress(&stream, &mut text, FlushDecompress::Finish)
            .unwrap();
        assert_eq!(text[..5 * chunk.len()], chunk.repeat(5)[..]);
        assert_eq!(d.total_out(), 5 * chunk.len() as u64);

        // A local header that declares more than the cap: refused before inflating.
        let mut e = EntrySpec::new("a.txt", ROWS);
        e.deflate = true;
        let mut z = zip(&[e]);
        let (_, cd) = ends(&z);
        for at in [22, cd + 24] {
            set32(&mut z, at, (MAX_INFLATED + 1) as u32);
        }
        assert_eq!(inspect(&z), Err((Rule::ZipTooLargeUncompressed, 0)));

        // Streamed (sizes only after the data): inflating stops just past the cap, long before
        // the end. The cap is made small here; the code path is the one of the 1 GiB cap.
        let cap = 64 * 1024;
        let bomb = deflate_repeated(&chunk, 1000); // 12 MB of rows
        let mut local = Vec::new();
        local.extend_from_slice(&LOCAL_HEADER.to_le_bytes());
        local.extend_from_slice(&[20, 0, 8, 0, 8, 0, 0, 0, 0, 0]); // bit 3, deflate
        local.extend_from_slice(&[0; 12]);
        local.extend_from_slice(&5u16.to_le_bytes());
        local.extend_from_slice(&[0, 0]);
        local.extend_from_slice(b"a.txt");
        local.extend_from_slice(&bomb);
        let mut z = ZipInspector::with_cap(cap);
        z.feed(&local);
        assert!(
            z.entry
                .as_ref()
                .is_none_or(|e| e.inflated <= cap + 32 * 1024)
        );
        assert!(matches!(z.state, State::Failed));
        assert_eq!(
            z.finish().map_err(|v| v.rule),
            Err(Rule::ZipTooLargeUncompressed)
        );
        // A header that says less than the stream holds: stopped just past what it says.
        let mut e = EntrySpec::new("a.txt", ROWS);
        e.deflate = true;
        let mut z = zip(&[e]);
        let good_stream_len = le32(&z[18..]) as usize;
        z.splice(35..35 + good_stream_len, bomb.iter().copied());
        let (e, old_cd) = ends(&z);
        let cd = old_cd + bomb.len() - good_stream_len;
        set32(&mut z, 18, bomb.len() as u32);
        set32(&mut z, cd + 20, bomb.len() as u32);
        set32(&mut z, e + 16, cd as u32);
        let mut inspector = ZipInspector::new();
        inspector.feed(&z);
        let v = inspector.finish().unwrap_err();
        assert_eq!(v.detail, "inflates to more than its header says", "{v}");
    }

    /// Mutated and cut archives, fed in random chunk sizes, never panic the inspector.
    #[test]
    fn mutations_never_panic() {
        let mut next = xorshift(0x9E37_79B9_7F4A_7C15u64);
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
            if next().is_multiple_of(3) {
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
