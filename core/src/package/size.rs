//! Rule 2: the package's size.

use core::fmt;

/// Largest accepted package, in bytes: 100 MiB. Whether TPNS's "100 MB" means 10^8 bytes or
/// 100 MiB is unconfirmed, so the client rejects only what is certainly too large.
pub const MAX_PACKAGE_BYTES: u64 = 100 * 1024 * 1024;

/// Above this size (10^8 bytes) a package is accepted with a warning: the service may count
/// "100 MB" in powers of ten.
pub const SIZE_WARNING_BYTES: u64 = 100_000_000;

/// A size that may be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SizeVerdict {
    /// 1..=10^8 bytes.
    Ok,
    /// Above 10^8 bytes but within 100 MiB: the service might refuse it.
    OkWithWarning,
}

/// Why a size was refused (rule 2). File-level: reported on line 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum SizeError {
    /// The file has 0 bytes.
    Empty,
    /// The file is larger than 100 MiB ([`MAX_PACKAGE_BYTES`]).
    TooLarge,
}

impl fmt::Display for SizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SizeError::Empty => "empty file",
            SizeError::TooLarge => "file larger than 100 MiB",
        })
    }
}

impl core::error::Error for SizeError {}

/// Checks a package's length in bytes.
///
/// # Errors
///
/// [`SizeError::Empty`] for 0 bytes, [`SizeError::TooLarge`] above [`MAX_PACKAGE_BYTES`].
///
/// # Examples
///
/// ```
/// use tpns_core::package::{check_size, SizeError, SizeVerdict};
///
/// assert_eq!(check_size(1_000), Ok(SizeVerdict::Ok));
/// assert_eq!(check_size(100_000_001), Ok(SizeVerdict::OkWithWarning));
/// assert_eq!(check_size(0), Err(SizeError::Empty));
/// ```
pub const fn check_size(len: u64) -> Result<SizeVerdict, SizeError> {
    if len == 0 {
        Err(SizeError::Empty)
    } else if len > MAX_PACKAGE_BYTES {
        Err(SizeError::TooLarge)
    } else if len > SIZE_WARNING_BYTES {
        Ok(SizeVerdict::OkWithWarning)
    } else {
        Ok(SizeVerdict::Ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries() {
        assert_eq!(check_size(0), Err(SizeError::Empty));
        assert_eq!(check_size(1), Ok(SizeVerdict::Ok));
        assert_eq!(check_size(SIZE_WARNING_BYTES), Ok(SizeVerdict::Ok));
        assert_eq!(
            check_size(SIZE_WARNING_BYTES + 1),
            Ok(SizeVerdict::OkWithWarning)
        );
        assert_eq!(
            check_size(MAX_PACKAGE_BYTES),
            Ok(SizeVerdict::OkWithWarning)
        );
        assert_eq!(check_size(MAX_PACKAGE_BYTES + 1), Err(SizeError::TooLarge));
        assert_eq!(check_size(u64::MAX), Err(SizeError::TooLarge));
        assert_eq!(MAX_PACKAGE_BYTES, 104_857_600);
    }
}
