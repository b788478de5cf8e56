//! Rule 1: the package's file name.

use core::fmt;

/// Longest accepted file name, in characters (Unicode scalar values), extension included.
pub const MAX_NAME_CHARS: usize = 100;

/// How the rows of a text package are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Format {
    /// `.txt`: one account per line, the whole line is the account.
    Txt,
    /// `.csv`: one account per line, one column, RFC 4180 quoting.
    Csv,
}

/// The kind of package a file name announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PackageKind {
    /// A `.txt` file.
    Txt,
    /// A `.csv` file.
    Csv,
    /// A `.zip` archive holding one `.txt` or `.csv` entry.
    Zip,
}

impl PackageKind {
    /// The row format of a text package, or `None` for a zip (whose entry decides).
    pub const fn format(self) -> Option<Format> {
        match self {
            PackageKind::Txt => Some(Format::Txt),
            PackageKind::Csv => Some(Format::Csv),
            PackageKind::Zip => None,
        }
    }
}

/// Why a file name was refused (rule 1). File-level: reported on line 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum NameError {
    /// The name has no characters.
    Empty,
    /// The name has more than 100 characters.
    TooLong,
    /// The name holds a control character (U+0000..=U+001F or U+007F).
    ControlCharacter,
    /// The name does not end in `.txt`, `.csv` or `.zip`.
    Extension,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameError::Empty => "file name is empty",
            NameError::TooLong => "file name longer than 100 characters",
            NameError::ControlCharacter => "file name contains a control character",
            NameError::Extension => "file name must end in .txt, .csv or .zip",
        })
    }
}

impl core::error::Error for NameError {}

/// Checks a package's file name (its base name, without directories) and tells its kind.
///
/// Characters are Unicode scalar values, so a 100-character name of accented letters is valid
/// even though it takes more than 100 bytes. The extension is compared ASCII case-insensitively.
///
/// # Errors
///
/// [`NameError`] for an empty name, more than 100 characters, a control character, or an
/// extension other than `.txt`, `.csv` and `.zip`, checked in that order.
///
/// # Examples
///
/// ```
/// use tpns_core::package::{check_file_name, NameError, PackageKind};
///
/// assert_eq!(check_file_name("Accounts.ZIP"), Ok(PackageKind::Zip));
/// assert_eq!(check_file_name("accounts.xlsx"), Err(NameError::Extension));
/// ```
pub fn check_file_name(name: &str) -> Result<PackageKind, NameError> {
    let mut chars = 0usize;
    let mut control = false;
    for c in name.chars() {
        chars += 1;
        control |= c.is_ascii_control();
    }
    if chars == 0 {
        return Err(NameError::Empty);
    }
    if chars > MAX_NAME_CHARS {
        return Err(NameError::TooLong);
    }
    if control {
        return Err(NameError::ControlCharacter);
    }
    kind_of(name.as_bytes()).ok_or(NameError::Extension)
}

/// The kind announced by the last four bytes of `name`, ASCII case-insensitive.
pub(crate) fn kind_of(name: &[u8]) -> Option<PackageKind> {
    let ext = name.len().checked_sub(4).map(|start| &name[start..])?;
    if ext.eq_ignore_ascii_case(b".txt") {
        Some(PackageKind::Txt)
    } else if ext.eq_ignore_ascii_case(b".csv") {
        Some(PackageKind::Csv)
    } else if ext.eq_ignore_ascii_case(b".zip") {
        Some(PackageKind::Zip)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;

    #[test]
    fn extensions() {
        assert_eq!(check_file_name("a.txt"), Ok(PackageKind::Txt));
        assert_eq!(check_file_name("a.CSV"), Ok(PackageKind::Csv));
        assert_eq!(check_file_name("a.Zip"), Ok(PackageKind::Zip));
        assert_eq!(check_file_name(".txt"), Ok(PackageKind::Txt));
        assert_eq!(check_file_name("a.txt.bak"), Err(NameError::Extension));
        assert_eq!(check_file_name("a.xlsx"), Err(NameError::Extension));
        assert_eq!(check_file_name("txt"), Err(NameError::Extension));
        assert_eq!(check_file_name("a"), Err(NameError::Extension));
        assert_eq!(check_file_name("a.tx\u{0442}"), Err(NameError::Extension));
    }

    #[test]
    fn length_in_characters() {
        assert_eq!(check_file_name(""), Err(NameError::Empty));
        let mut name: String = "n".repeat(96);
        name.push_str(".txt");
        assert_eq!(check_file_name(&name), Ok(PackageKind::Txt));
        name.insert(0, 'n');
        assert_eq!(check_file_name(&name), Err(NameError::TooLong));
        // 96 two-byte characters: 196 bytes, but 100 characters.
        let name = "é".repeat(96) + ".csv";
        assert_eq!(check_file_name(&name), Ok(PackageKind::Csv));
        let name = "账".repeat(97) + ".csv";
        assert_eq!(check_file_name(&name), Err(NameError::TooLong));
    }

    #[test]
    fn control_characters() {
        assert_eq!(
            check_file_name("a\nb.txt"),
            Err(NameError::ControlCharacter)
        );
        assert_eq!(
            check_file_name("a\rb.txt"),
            Err(NameError::ControlCharacter)
        );
        assert_eq!(check_file_name("\0.txt"), Err(NameError::ControlCharacter));
        assert_eq!(
            check_file_name("a\u{7f}.txt"),
            Err(NameError::ControlCharacter)
        );
        assert_eq!(
            check_file_name("a\tb.csv"),
            Err(NameError::ControlCharacter)
        );
        // C1 controls are not in the policy's list.
        assert_eq!(check_file_name("a\u{85}.csv"), Ok(PackageKind::Csv));
    }

    #[test]
    fn display_is_fixed() {
        use std::string::ToString;
        assert_eq!(
            NameError::TooLong.to_string(),
            "file name longer than 100 characters"
        );
    }
}
