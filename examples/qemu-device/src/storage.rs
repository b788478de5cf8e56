//! Host files through Arm semihosting, standing in for a file on the device's SD card: an
//! `embedded_io::{Read, Seek}` whose reads are capped at a small chunk, as an SD card driver
//! reads a block or a few at a time. Counted, so the program can show that the package went
//! through RAM in small pieces.

use core::ffi::CStr;
use core::fmt;

use semihosting::fs::File;
use semihosting::io::{Read as _, Seek as _};

/// Longest path accepted (with its NUL).
pub const MAX_PATH: usize = 128;

/// A failed host file operation.
#[derive(Debug)]
pub struct StorageError(semihosting::io::Error);

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "host file: {}", self.0)
    }
}

impl core::error::Error for StorageError {}

impl embedded_io::Error for StorageError {
    fn kind(&self) -> embedded_io::ErrorKind {
        embedded_io::ErrorKind::Other
    }
}

/// An open host file, read at most `chunk` bytes at a time.
pub struct HostFile {
    file: File,
    chunk: usize,
    /// Number of reads that returned bytes.
    pub reads: u32,
    /// Bytes read in all (over every pass).
    pub bytes: u64,
    /// Largest single read.
    pub largest: usize,
}

impl fmt::Debug for HostFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostFile")
            .field("chunk", &self.chunk)
            .field("reads", &self.reads)
            .field("bytes", &self.bytes)
            .finish_non_exhaustive()
    }
}

impl HostFile {
    /// Opens `path` (relative to QEMU's working directory) for reading.
    ///
    /// # Errors
    ///
    /// [`StorageError`] when the host cannot open it (or the path is longer than
    /// [`MAX_PATH`]` - 1`).
    pub fn open(path: &str, chunk: usize) -> Result<Self, StorageError> {
        let mut c = [0u8; MAX_PATH];
        if path.len() >= MAX_PATH || path.bytes().any(|b| b == 0) {
            return Err(StorageError(
                semihosting::io::ErrorKind::InvalidInput.into(),
            ));
        }
        c[..path.len()].copy_from_slice(path.as_bytes());
        let cstr = CStr::from_bytes_until_nul(&c)
            .map_err(|_| StorageError(semihosting::io::ErrorKind::InvalidInput.into()))?;
        let file = File::open(cstr).map_err(StorageError)?;
        Ok(HostFile {
            file,
            chunk: chunk.max(1),
            reads: 0,
            bytes: 0,
            largest: 0,
        })
    }

    /// The file's length.
    ///
    /// # Errors
    ///
    /// [`StorageError`] from the host.
    pub fn len(&self) -> Result<u64, StorageError> {
        self.file.metadata().map(|m| m.len()).map_err(StorageError)
    }
}

impl embedded_io::ErrorType for HostFile {
    type Error = StorageError;
}

impl embedded_io::Read for HostFile {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, StorageError> {
        let want = buf.len().min(self.chunk);
        let n = self.file.read(&mut buf[..want]).map_err(StorageError)?;
        if n > 0 {
            self.reads += 1;
            self.bytes += n as u64;
            self.largest = self.largest.max(n);
        }
        Ok(n)
    }
}

impl embedded_io::Seek for HostFile {
    fn seek(&mut self, pos: embedded_io::SeekFrom) -> Result<u64, StorageError> {
        let pos = match pos {
            embedded_io::SeekFrom::Start(p) => semihosting::io::SeekFrom::Start(p),
            embedded_io::SeekFrom::End(d) => semihosting::io::SeekFrom::End(d),
            // SYS_SEEK takes absolute positions only; `SeekPackage` never seeks relatively.
            embedded_io::SeekFrom::Current(_) => {
                return Err(StorageError(semihosting::io::ErrorKind::Unsupported.into()));
            }
        };
        self.file.seek(pos).map_err(StorageError)
    }
}
