//! Package sources for devices: a package in a byte slice (flash) and a region of any
//! `Read + Seek` storage with a known length (a file on an SD card). Both can start over, so
//! a failed upload can be retried.

use core::convert::Infallible;

use embedded_io::{ErrorType, Read, Seek, SeekFrom};

/// A package that an upload reads from the start, knowing its length beforehand (the
/// multipart body's `Content-Length` depends on it), and that can start over for a retry.
pub trait Package: Read {
    /// The package's length in bytes.
    fn len(&self) -> u64;

    /// Whether the package has no bytes (the service refuses empty packages).
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Goes back to the package's first byte.
    ///
    /// # Errors
    ///
    /// The storage's error (an SD card that cannot seek).
    fn rewind(&mut self) -> Result<(), Self::Error>;
}

impl<P: Package + ?Sized> Package for &mut P {
    fn len(&self) -> u64 {
        P::len(self)
    }

    fn rewind(&mut self) -> Result<(), Self::Error> {
        P::rewind(self)
    }
}

/// A package held in memory-mapped storage: a byte slice, typically in flash (`static`).
///
/// ```
/// use embedded_io::Read;
/// use tpns_transport_embedded::source::{FlashPackage, Package};
///
/// static ACCOUNTS: &[u8] = b"device-000001\ndevice-000002\n";
/// let mut package = FlashPackage::new(ACCOUNTS);
/// let mut first = [0u8; 6];
/// package.read_exact(&mut first).unwrap();
/// assert_eq!(&first, b"device");
/// package.rewind().unwrap();
/// assert_eq!(package.len(), 28);
/// ```
#[derive(Debug, Clone)]
pub struct FlashPackage<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> FlashPackage<'a> {
    /// A package made of `bytes`.
    pub const fn new(bytes: &'a [u8]) -> Self {
        FlashPackage { bytes, at: 0 }
    }

    /// The whole package.
    pub const fn bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

impl ErrorType for FlashPackage<'_> {
    type Error = Infallible;
}

impl Read for FlashPackage<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        let rest = &self.bytes[self.at..];
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.at += n;
        Ok(n)
    }
}

impl Package for FlashPackage<'_> {
    fn len(&self) -> u64 {
        self.bytes.len() as u64
    }

    fn rewind(&mut self) -> Result<(), Infallible> {
        self.at = 0;
        Ok(())
    }
}

/// A package in `Read + Seek` storage: the `len` bytes starting at byte `start` (a file on an
/// SD card, or a region of a raw partition). Reads stop at the region's end, so whatever
/// follows it is never sent.
///
/// ```
/// use embedded_io::Read;
/// use tpns_transport_embedded::source::{Package, SeekPackage};
///
/// // Any embedded_io::{Read, Seek}: here a std file through embedded-io-adapters would do as
/// // well as an SD-card file of embedded-sdmmc.
/// # struct Card { data: &'static [u8], at: usize }
/// # impl embedded_io::ErrorType for Card { type Error = embedded_io::ErrorKind; }
/// # impl embedded_io::Read for Card {
/// #     fn read(&mut self, b: &mut [u8]) -> Result<usize, Self::Error> {
/// #         let n = b.len().min(self.data.len() - self.at);
/// #         b[..n].copy_from_slice(&self.data[self.at..self.at + n]); self.at += n; Ok(n)
/// #     }
/// # }
/// # impl embedded_io::Seek for Card {
/// #     fn seek(&mut self, pos: embedded_io::SeekFrom) -> Result<u64, Self::Error> {
/// #         self.at = match pos {
/// #             embedded_io::SeekFrom::Start(p) => p as usize,
/// #             embedded_io::SeekFrom::End(d) => (self.data.len() as i64 + d) as usize,
/// #             embedded_io::SeekFrom::Current(d) => (self.at as i64 + d) as usize,
/// #         };
/// #         Ok(self.at as u64)
/// #     }
/// # }
/// let card = Card { data: b"header\nalice\nbob\n", at: 0 };
/// let mut package = SeekPackage::region(card, 7, 10).unwrap();
/// let mut all = [0u8; 32];
/// let n = package.read(&mut all).unwrap();
/// assert_eq!(&all[..n], b"alice\nbob\n");
/// assert_eq!(package.read(&mut all).unwrap(), 0);
/// package.rewind().unwrap();
/// assert_eq!(package.read(&mut all).unwrap(), 10);
/// ```
#[derive(Debug, Clone)]
pub struct SeekPackage<F> {
    file: F,
    start: u64,
    len: u64,
    at: u64,
}

impl<F: Read + Seek> SeekPackage<F> {
    /// The whole of `file`: its length is found by seeking to its end.
    ///
    /// # Errors
    ///
    /// The storage's error.
    pub fn whole(mut file: F) -> Result<Self, F::Error> {
        let len = file.seek(SeekFrom::End(0))?;
        Self::region(file, 0, len)
    }

    /// The `len` bytes of `file` that start at byte `start`.
    ///
    /// # Errors
    ///
    /// The storage's error (seeking to `start`).
    pub fn region(mut file: F, start: u64, len: u64) -> Result<Self, F::Error> {
        file.seek(SeekFrom::Start(start))?;
        Ok(SeekPackage {
            file,
            start,
            len,
            at: 0,
        })
    }

    /// Gives the storage back.
    pub fn into_inner(self) -> F {
        self.file
    }
}

impl<F: ErrorType> ErrorType for SeekPackage<F> {
    type Error = F::Error;
}

impl<F: Read + Seek> Read for SeekPackage<F> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, F::Error> {
        let rest = self.len - self.at;
        let want = usize::try_from(rest).map_or(buf.len(), |r| r.min(buf.len()));
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read(&mut buf[..want])?;
        self.at += n as u64;
        Ok(n)
    }
}

impl<F: Read + Seek> Package for SeekPackage<F> {
    fn len(&self) -> u64 {
        self.len
    }

    fn rewind(&mut self) -> Result<(), F::Error> {
        self.file.seek(SeekFrom::Start(self.start))?;
        self.at = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;

    /// Seekable storage that returns at most `chunk` bytes per read and counts seeks.
    struct Card {
        data: Vec<u8>,
        at: u64,
        chunk: usize,
        seeks: usize,
    }

    impl ErrorType for Card {
        type Error = embedded_io::ErrorKind;
    }

    impl Read for Card {
        fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
            let at = self.at as usize;
            let n = buf
                .len()
                .min(self.chunk)
                .min(self.data.len().saturating_sub(at));
            buf[..n].copy_from_slice(&self.data[at..at + n]);
            self.at += n as u64;
            Ok(n)
        }
    }

    impl Seek for Card {
        fn seek(&mut self, pos: SeekFrom) -> Result<u64, Self::Error> {
            self.seeks += 1;
            self.at = match pos {
                SeekFrom::Start(p) => p,
                SeekFrom::End(d) => (self.data.len() as i64 + d) as u64,
                SeekFrom::Current(d) => (self.at as i64 + d) as u64,
            };
            Ok(self.at)
        }
    }

    fn drain(r: &mut impl Read<Error = impl core::fmt::Debug>, step: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = std::vec![0u8; step];
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                return out;
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    #[test]
    fn flash_package_reads_in_any_step_and_rewinds() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        for step in [1, 7, 64, 999, 1000, 4096] {
            let mut p = FlashPackage::new(&bytes);
            assert_eq!(drain(&mut p, step), bytes);
            p.rewind().unwrap();
            assert_eq!(drain(&mut p, step), bytes);
            assert_eq!(p.len(), 1000);
            assert!(!p.is_empty());
        }
        assert!(FlashPackage::new(&[]).is_empty());
    }

    #[test]
    fn seek_package_reads_only_its_region_and_rewinds() {
        let data: Vec<u8> = (0..200u8).collect();
        for chunk in [1, 3, 50, 500] {
            let card = Card {
                data: data.clone(),
                at: 17,
                chunk,
                seeks: 0,
            };
            let mut p = SeekPackage::region(card, 10, 100).unwrap();
            assert_eq!(drain(&mut p, 32), &data[10..110]);
            assert_eq!(drain(&mut p, 32), b"");
            p.rewind().unwrap();
            assert_eq!(drain(&mut p, 7), &data[10..110]);
            assert_eq!(p.into_inner().seeks, 2);
        }
    }

    #[test]
    fn seek_package_whole_measures_the_file() {
        let data: Vec<u8> = (0..77u8).collect();
        let card = Card {
            data: data.clone(),
            at: 30,
            chunk: 10,
            seeks: 0,
        };
        let mut p = SeekPackage::whole(card).unwrap();
        assert_eq!(p.len(), 77);
        assert_eq!(drain(&mut p, 64), data);
        // `&mut` a package is a package too: the upload functions borrow it.
        let mut borrowed = &mut p;
        Package::rewind(&mut borrowed).unwrap();
        assert_eq!(Package::len(&borrowed), 77);
    }

    #[test]
    fn a_region_past_the_end_of_the_file_comes_out_short() {
        // The core's body encoder then reports `SourceTooShort`: never a malformed request.
        let card = Card {
            data: std::vec![b'a'; 50],
            at: 0,
            chunk: 64,
            seeks: 0,
        };
        let mut p = SeekPackage::region(card, 40, 100).unwrap();
        assert_eq!(drain(&mut p, 64).len(), 10);
    }
}
