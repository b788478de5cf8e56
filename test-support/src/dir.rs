//! Temporary folders for tests, removed on drop.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// A fresh, empty folder under the system's temporary folder, removed (with what it holds)
/// when dropped. Its name holds the tag, the process id and a counter, so that tests running
/// at the same time never share one.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates `tpns-{tag}-{pid}-{n}`, emptied first if a crashed run left it behind.
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tpns-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// `name` inside the folder.
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// `name` inside the folder, as text, ready to be an argument.
    pub fn file(&self, name: &str) -> String {
        self.join(name).to_str().unwrap().to_owned()
    }

    /// Writes `bytes` to `name` inside the folder; returns the file's path as text, ready to
    /// be an argument.
    pub fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> String {
        let path = self.file(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// The names in the folder, sorted (to see that no temporary file is left behind).
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::TempDir;

    #[test]
    fn a_temp_dir_is_fresh_distinct_and_removed_on_drop() {
        let a = TempDir::new("support");
        let b = TempDir::new("support");
        assert_ne!(a.path(), b.path());
        a.write("x.txt", b"x");
        assert_eq!(a.names(), ["x.txt"]);
        assert!(b.names().is_empty());
        let path = a.path().to_owned();
        drop(a);
        assert!(!path.exists());
    }
}
