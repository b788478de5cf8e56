//! The durable store: accepted packages, their index, and the recorded pushes.
//!
//! Layout under the data directory:
//! - `tmp/`: uploads in progress (emptied at start: whatever is there was cut off by a crash);
//! - `packages/<upload_id>-<sanitised name>`: accepted packages;
//! - `index.jsonl`: one [`UploadRecord`] per line, appended and fsynced *after* the package was
//!   renamed into `packages/`, so an index line always names a complete file;
//! - `pushes.jsonl`: one [`PushRecord`] per line.
//!
//! A crash between the rename and the index append leaves an orphan file: it is removed at the
//! next start, and its id is never handed out again. A torn last index line is dropped.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// One accepted package, as listed by `GET /_emulator/uploads` and kept in `index.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRecord {
    /// The `uploadId` handed out; strictly increasing, also across restarts.
    pub upload_id: u64,
    /// The app (AccessID) that uploaded it.
    pub access_id: String,
    /// The multipart `filename`, as sent.
    pub file_name: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the file, lowercase hex.
    pub sha256: String,
    /// Number of rows (accounts or tokens).
    pub rows: u64,
    /// Unix time of acceptance, in seconds.
    pub time: u64,
}

/// One accepted package push, as listed by `GET /_emulator/pushes` and kept in `pushes.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushRecord {
    /// The `push_id` answered (a decimal number, as a string like the service's).
    pub push_id: String,
    /// The package pushed to.
    pub upload_id: u64,
    /// The app (AccessID) that pushed.
    pub access_id: String,
    /// `package_account_push` or `package_token_push`.
    pub audience_type: String,
    /// `notify` or `message`.
    pub message_type: String,
    /// `message.title` (empty if absent).
    pub title: String,
    /// `message.content` (empty if absent).
    pub content: String,
    /// Unix time of acceptance, in seconds.
    pub time: u64,
    /// The whole request body as received (parsed), for tests to read back every field;
    /// `null` in records written before it was kept.
    #[serde(default)]
    pub request: serde_json::Value,
}

/// The mutable part of the store, behind one lock so ids, files and index lines stay in step.
#[derive(Debug)]
struct Inner {
    next_upload: u64,
    uploads: Vec<UploadRecord>,
    next_push: u64,
    pushes: Vec<PushRecord>,
    index: Option<File>,
    push_log: Option<File>,
    last_push: HashMap<String, Instant>,
}

/// The store. All methods are safe to call from several threads.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    discard: bool,
    tmp_seq: AtomicU64,
    inner: Mutex<Inner>,
}

/// An upload being received: a temporary file (none in discard mode) that is removed on drop
/// unless [`Store::commit`] moved it into `packages/`.
#[derive(Debug)]
pub struct TempUpload {
    path: Option<PathBuf>,
    file: Option<tokio::fs::File>,
}

impl TempUpload {
    /// Appends bytes to the temporary file (nothing in discard mode).
    ///
    /// # Errors
    /// The write error.
    pub async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        use tokio::io::AsyncWriteExt;
        match self.file.as_mut() {
            Some(f) => f.write_all(bytes).await,
            None => Ok(()),
        }
    }

    /// Flushes and fsyncs the file, so the data is on disk before it is renamed into place.
    ///
    /// # Errors
    /// The flush or fsync error.
    pub async fn sync(&mut self) -> io::Result<()> {
        use tokio::io::AsyncWriteExt;
        if let Some(mut f) = self.file.take() {
            f.flush().await?;
            f.sync_all().await?;
        }
        Ok(())
    }
}

impl Drop for TempUpload {
    fn drop(&mut self) {
        if let Some(p) = self.path.take() {
            // The upload failed or was cut off: leave nothing half-written behind.
            let _ = fs::remove_file(p);
        }
    }
}

/// Unix time in seconds.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The name part of a stored package's file name: the base name with anything but ASCII
/// letters, digits, `.`, `-` and `_` replaced by `_`, at most 100 characters.
pub fn sanitise(name: &str) -> String {
    let base = crate::policy::base_name(name);
    let s: String = base
        .chars()
        .take(100)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.chars().all(|c| c == '.') {
        "package".to_owned()
    } else {
        s
    }
}

impl Store {
    /// Opens (creating if needed) the store in `root`. In `discard` mode nothing is read or
    /// written: ids start at 1 and records live in memory only.
    ///
    /// # Errors
    /// Any I/O error while creating the folders or loading the index.
    pub fn open(root: &Path, discard: bool) -> io::Result<Store> {
        let mut inner = Inner {
            next_upload: 1,
            uploads: Vec::new(),
            next_push: 1,
            pushes: Vec::new(),
            index: None,
            push_log: None,
            last_push: HashMap::new(),
        };
        if !discard {
            fs::create_dir_all(root.join("tmp"))?;
            fs::create_dir_all(root.join("packages"))?;
            for entry in fs::read_dir(root.join("tmp"))? {
                let _ = fs::remove_file(entry?.path());
            }
            let index_path = root.join("index.jsonl");
            inner.uploads = load_jsonl(&index_path)?;
            let known: HashSet<u64> = inner.uploads.iter().map(|u| u.upload_id).collect();
            let mut max_id = known.iter().copied().max().unwrap_or(0);
            for entry in fs::read_dir(root.join("packages"))? {
                let entry = entry?;
                let name = entry.file_name().to_string_lossy().into_owned();
                let Some(id) = name.split('-').next().and_then(|s| s.parse::<u64>().ok()) else {
                    continue;
                };
                max_id = max_id.max(id);
                if !known.contains(&id) {
                    // Renamed but never indexed: a crash in between. Not a stored upload.
                    let _ = fs::remove_file(entry.path());
                }
            }
            inner.next_upload = max_id + 1;
            inner.index = Some(open_append(&index_path)?);
            let push_path = root.join("pushes.jsonl");
            inner.pushes = load_jsonl(&push_path)?;
            let max_push = inner
                .pushes
                .iter()
                .filter_map(|p| p.push_id.parse::<u64>().ok())
                .max()
                .unwrap_or(0);
            inner.next_push = max_push + 1;
            inner.push_log = Some(open_append(&push_path)?);
            sync_dir(root)?;
        }
        Ok(Store {
            root: root.to_path_buf(),
            discard,
            tmp_seq: AtomicU64::new(0),
            inner: Mutex::new(inner),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the vectors half-updated in a way that
        // matters more than stopping the emulator would, so a poisoned lock is still used.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts receiving an upload.
    ///
    /// # Errors
    /// The error creating the temporary file.
    pub async fn begin_upload(&self) -> io::Result<TempUpload> {
        if self.discard {
            return Ok(TempUpload {
                path: None,
                file: None,
            });
        }
        let seq = self.tmp_seq.fetch_add(1, Ordering::Relaxed);
        let path = self
            .root
            .join("tmp")
            .join(format!("upload-{}-{seq}.part", std::process::id()));
        let file = tokio::fs::File::create(&path).await?;
        Ok(TempUpload {
            path: Some(path),
            file: Some(file),
        })
    }

    /// Moves a fully received, fsynced upload into `packages/` under the next id and appends
    /// its index line. Blocking (renames and fsyncs): call it from a blocking thread.
    ///
    /// # Errors
    /// Any I/O error; then no index line was written and the temporary file is removed.
    pub fn commit(
        &self,
        mut temp: TempUpload,
        access_id: &str,
        file_name: &str,
        verdict: &crate::package::Verdict,
    ) -> io::Result<UploadRecord> {
        let mut inner = self.lock();
        let record = UploadRecord {
            upload_id: inner.next_upload,
            access_id: access_id.to_owned(),
            file_name: file_name.to_owned(),
            size: verdict.size,
            sha256: verdict.sha256.clone(),
            rows: verdict.rows,
            time: unix_now(),
        };
        if let Some(tmp) = temp.path.as_ref() {
            let dest = self.package_path(record.upload_id, file_name);
            fs::rename(tmp, &dest)?;
            temp.path = None;
            // The id is used from here on, even if the index append below fails.
            inner.next_upload += 1;
            sync_dir(&self.root.join("packages"))?;
            if let Some(index) = inner.index.as_mut() {
                append_line(index, &record)?;
            }
        } else {
            inner.next_upload += 1;
        }
        inner.uploads.push(record.clone());
        Ok(record)
    }

    /// The path a package is (or would be) stored at.
    fn package_path(&self, upload_id: u64, file_name: &str) -> PathBuf {
        self.root
            .join("packages")
            .join(format!("{upload_id}-{}", sanitise(file_name)))
    }

    /// The stored file of `upload_id` (a path that does not exist if the id is unknown or in
    /// discard mode).
    pub fn stored_path(&self, upload_id: u64) -> PathBuf {
        let name = self
            .upload(upload_id)
            .map(|u| u.file_name)
            .unwrap_or_default();
        self.package_path(upload_id, &name)
    }

    /// The record of `upload_id`, if it was accepted.
    pub fn upload(&self, upload_id: u64) -> Option<UploadRecord> {
        self.lock()
            .uploads
            .iter()
            .find(|u| u.upload_id == upload_id)
            .cloned()
    }

    /// All accepted uploads, oldest first.
    pub fn uploads(&self) -> Vec<UploadRecord> {
        self.lock().uploads.clone()
    }

    /// All accepted pushes, oldest first.
    pub fn pushes(&self) -> Vec<PushRecord> {
        self.lock().pushes.clone()
    }

    /// Takes the app's package-push slot if its last accepted push is at least `interval` ago.
    pub fn take_push_slot(&self, access_id: &str, interval: Duration) -> bool {
        let mut inner = self.lock();
        let now = Instant::now();
        match inner.last_push.get(access_id) {
            Some(last) if now.duration_since(*last) < interval => false,
            _ => {
                inner.last_push.insert(access_id.to_owned(), now);
                true
            }
        }
    }

    /// Records an accepted push under the next push id, built by `make`. Blocking (fsync).
    ///
    /// # Errors
    /// The error appending to `pushes.jsonl`.
    pub fn record_push(&self, make: impl FnOnce(String) -> PushRecord) -> io::Result<PushRecord> {
        let mut inner = self.lock();
        let record = make(inner.next_push.to_string());
        inner.next_push += 1;
        if let Some(log) = inner.push_log.as_mut() {
            append_line(log, &record)?;
        }
        inner.pushes.push(record.clone());
        Ok(record)
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

fn append_line<T: Serialize>(file: &mut File, value: &T) -> io::Result<()> {
    let mut line = serde_json::to_vec(value).map_err(io::Error::other)?;
    line.push(b'\n');
    let before = file.metadata()?.len();
    // One write call per line: a crash can tear only the last line, which load_jsonl drops.
    let written = file.write_all(&line).and_then(|()| file.sync_data());
    if written.is_err() {
        // A write that failed part-way (ENOSPC, EIO) must not leave a fragment that the next
        // acknowledged line would be glued to (and lost with, on restart): cut it off.
        file.set_len(before)?;
        file.sync_data()?;
    }
    written
}

/// Loads a JSON-lines file. A last line without its `\n` was torn by a crash: it is dropped and
/// cut off the file, so later appends start on a clean line.
fn load_jsonl<T: DeserializeOwned>(path: &Path) -> io::Result<Vec<T>> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    if complete < bytes.len() {
        eprintln!(
            "tpns-emulator: dropping a torn last line ({} bytes) of {}",
            bytes.len() - complete,
            path.display()
        );
        let f = OpenOptions::new().write(true).open(path)?;
        f.set_len(complete as u64)?;
        f.sync_all()?;
    }
    let mut out = Vec::new();
    for line in bytes[..complete].split(|&b| b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice(line) {
            Ok(v) => out.push(v),
            Err(e) => eprintln!(
                "tpns-emulator: skipping a bad line of {}: {e}",
                path.display()
            ),
        }
    }
    Ok(out)
}

/// Fsyncs a directory so a rename in it is durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitised_names() {
        assert_eq!(sanitise("a b/c d.txt"), "c_d.txt");
        assert_eq!(sanitise("../../x.txt"), "x.txt");
        assert_eq!(sanitise(".."), "package");
        assert_eq!(sanitise("账号.csv"), "__.csv");
    }
}
