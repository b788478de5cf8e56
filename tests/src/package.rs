//! One uploaded package checked as it streams in: name, size, SHA-256 and content, in the
//! order of precedence of the policy (name, then empty, then too large, then content).

use crate::policy::{self, Kind, MAX_PACKAGE_SIZE, Rule, TextValidator, Violation};
use crate::zipcheck::ZipInspector;
use sha2::{Digest, Sha256};

/// The content checker chosen by the file name.
#[derive(Debug)]
enum Content {
    Text(TextValidator),
    Zip(Box<ZipInspector>),
    /// The name was rejected: the content is not looked at.
    Skipped,
}

/// An accepted package's facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Rows in the package (of its single entry, for a zip).
    pub rows: u64,
    /// Size of the uploaded file in bytes.
    pub size: u64,
    /// SHA-256 of the uploaded file, lowercase hex.
    pub sha256: String,
}

/// Streaming checker for one uploaded file. Memory use does not depend on the file's size.
#[derive(Debug)]
pub struct PackageChecker {
    name: Result<Kind, Violation>,
    size: u64,
    sha: Sha256,
    content: Content,
}

impl PackageChecker {
    /// A checker for a file uploaded under `file_name` (the multipart `filename`).
    pub fn new(file_name: &str) -> Self {
        let name = policy::check_name(file_name);
        let content = match name {
            Ok(Kind::Txt) => Content::Text(TextValidator::new(false)),
            Ok(Kind::Csv) => Content::Text(TextValidator::new(true)),
            Ok(Kind::Zip) => Content::Zip(Box::default()),
            Err(_) => Content::Skipped,
        };
        PackageChecker {
            name,
            size: 0,
            sha: Sha256::new(),
            content,
        }
    }

    /// Feeds the next bytes of the file.
    pub fn feed(&mut self, chunk: &[u8]) {
        self.size = self.size.saturating_add(chunk.len() as u64);
        if self.size > MAX_PACKAGE_SIZE {
            // Too large is final: stop spending time on the content.
            self.content = Content::Skipped;
            return;
        }
        self.sha.update(chunk);
        match &mut self.content {
            Content::Text(t) => t.feed(chunk),
            Content::Zip(z) => z.feed(chunk),
            Content::Skipped => {}
        }
    }

    /// Whether the file is already known to be rejected, so the caller need not keep its bytes.
    pub fn is_rejected(&self) -> bool {
        self.name.is_err()
            || self.size > MAX_PACKAGE_SIZE
            || matches!(&self.content, Content::Text(t) if t.error().is_some())
    }

    /// Bytes fed so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Ends the file.
    ///
    /// # Errors
    /// The [`Violation`] that decides the verdict.
    pub fn finish(self) -> Result<Verdict, Violation> {
        self.name.clone()?;
        if self.size == 0 {
            return Err(Violation::new(Rule::EmptyFile, 0));
        }
        if self.size > MAX_PACKAGE_SIZE {
            return Err(Violation::with_detail(
                Rule::TooLarge,
                0,
                format!("{} bytes", self.size),
            ));
        }
        let rows = match self.content {
            Content::Text(t) => t.finish()?,
            Content::Zip(z) => z.finish()?,
            Content::Skipped => return Err(Violation::new(Rule::NameExtension, 0)),
        };
        Ok(Verdict {
            rows,
            size: self.size,
            sha256: hex(&self.sha.finalize()),
        })
    }
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(name: &str, data: &[u8]) -> Result<Verdict, Rule> {
        let mut c = PackageChecker::new(name);
        c.feed(data);
        c.finish().map_err(|v| v.rule)
    }

    #[test]
    fn precedence_and_facts() {
        let v = run("a.txt", b"abc\n").unwrap();
        assert_eq!(v.rows, 1);
        assert_eq!(v.size, 4);
        // sha256("abc\n")
        assert_eq!(
            v.sha256,
            "edeaaff3f1774ad2888673770c6d64097e391bc362d7d6fb34982ddf0efd18cb"
        );
        assert_eq!(run("a.doc", b""), Err(Rule::NameExtension));
        assert_eq!(run("a.txt", b""), Err(Rule::EmptyFile));
        assert_eq!(run("a.zip", b""), Err(Rule::EmptyFile));
        assert_eq!(run("a.txt", b"x\n"), Err(Rule::RowTooShort));
    }

    #[test]
    fn too_large_wins_over_content() {
        let mut c = PackageChecker::new("a.txt");
        c.feed(b"x\n");
        assert!(c.is_rejected());
        let block = vec![b'a'; 1 << 20];
        for _ in 0..100 {
            c.feed(&block);
        }
        assert_eq!(c.size(), MAX_PACKAGE_SIZE + 2);
        assert_eq!(c.finish().unwrap_err().rule, Rule::TooLarge);
    }
}
