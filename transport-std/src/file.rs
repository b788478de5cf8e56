//! Opening the files a caller names: a package, a CA file, a key file. A path can name a FIFO
//! (whose `open` waits for a writer), a device such as `/dev/zero` (which never ends) or a
//! directory; all of them are refused here, before one byte is read, and small files are read
//! with a bound.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::path::Path;

/// Opens `path` for reading if it is a regular file (after following symbolic links), and
/// returns it with its length.
///
/// The file is opened without blocking (`O_NONBLOCK`, and `O_NOCTTY` so that a terminal never
/// becomes the controlling one) and its type is then read from the open descriptor (`fstat`),
/// so that neither a FIFO without a writer nor a device can stall the caller, and a file
/// swapped between a check and the open cannot slip through. On a regular file `O_NONBLOCK`
/// has no effect on reads.
///
/// # Errors
///
/// What the file system says, or an error of kind [`io::ErrorKind::InvalidInput`] naming the
/// type (`not a regular file: a FIFO`) for anything but a regular file.
pub fn open_regular(path: impl AsRef<Path>) -> io::Result<(File, u64)> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a regular file: {}", type_name(&meta.file_type())),
        ));
    }
    Ok((file, meta.len()))
}

/// Reads the regular file at `path` whole, if it holds at most `limit` bytes: for files that
/// are small by nature (a key, a PEM bundle), where a larger one is a mistake and reading it
/// without a bound would let it exhaust memory.
///
/// The limit holds even for a file that grows while it is read.
///
/// # Errors
///
/// As [`open_regular`], and an error of kind [`io::ErrorKind::InvalidData`]
/// (`larger than the limit of N bytes`) for a file above `limit`.
pub fn read_limited(path: impl AsRef<Path>, limit: u64) -> io::Result<Vec<u8>> {
    let (file, len) = open_regular(path)?;
    let too_large = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than the limit of {limit} bytes"),
        )
    };
    if len > limit {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    // One byte past the limit tells a file that grew beyond it from one that ends at it.
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

/// The name of a file type that is not a regular file, for an error message.
fn type_name(t: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a directory"
    } else {
        "a special file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tpns-file-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_regular_file_opens_with_its_length() {
        let dir = temp_dir("regular");
        let path = dir.join("a.txt");
        std::fs::write(&path, b"alice\n").unwrap();
        let (_, len) = open_regular(&path).unwrap();
        assert_eq!(len, 6);
        assert_eq!(read_limited(&path, 6).unwrap(), b"alice\n");
        let e = read_limited(&path, 5).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert_eq!(e.to_string(), "larger than the limit of 5 bytes");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_directory_is_refused() {
        let dir = temp_dir("dir");
        let e = open_regular(&dir).unwrap_err();
        assert_eq!(e.to_string(), "not a regular file: a directory");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_and_a_device_are_refused_without_blocking() {
        let dir = temp_dir("fifo");
        let fifo = dir.join("pipe.txt");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        // Without O_NONBLOCK this open would wait for a writer forever: run it in a thread
        // so that the test fails in bounded time instead of hanging.
        let (tx, rx) = std::sync::mpsc::channel();
        let path = fifo.clone();
        std::thread::spawn(move || tx.send(open_regular(&path).map(|_| ())));
        let e = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("opening a FIFO blocked")
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(e.to_string(), "not a regular file: a FIFO");
        let e = read_limited("/dev/zero", 1024).unwrap_err();
        assert_eq!(e.to_string(), "not a regular file: a character device");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
