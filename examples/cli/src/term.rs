//! The one sanitiser for text the program did not write itself: file names, server messages,
//! ids. Such text reaches a terminal, where an escape sequence can rewrite the screen or the
//! title, a bell can ring, and a bidi control or an invisible format character can reorder or
//! hide what is shown (`invoice\u{202e}txt.exe`). Each such character is printed as a visible
//! escape instead, `\u{202e}`; everything else, any script included, is left as it is.

use std::borrow::Cow;
use std::path::Path;

/// Whether `c` must not reach a terminal raw: the control characters (C0, DEL, C1), the line
/// and paragraph separators, and the format characters (Unicode category Cf), which include
/// the bidi controls (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069), the zero-width
/// characters, the byte order mark and the tag characters.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00ad}'
                | '\u{0600}'..='\u{0605}'
                | '\u{061c}'
                | '\u{06dd}'
                | '\u{070f}'
                | '\u{0890}'..='\u{0891}'
                | '\u{08e2}'
                | '\u{180e}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206f}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}'
                | '\u{110bd}'
                | '\u{110cd}'
                | '\u{13430}'..='\u{1343f}'
                | '\u{1bca0}'..='\u{1bca3}'
                | '\u{1d173}'..='\u{1d17a}'
                | '\u{e0001}'
                | '\u{e0020}'..='\u{e007f}'
        )
}

/// `text` with every [unsafe](is_unsafe) character written as `\u{hex}`, borrowed when there
/// is none.
pub fn sanitize(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_unsafe(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A path for a message: [`sanitize`]d, with bytes that are not UTF-8 shown as U+FFFD.
pub fn path(p: &Path) -> String {
    sanitize(&p.to_string_lossy()).into_owned()
}

/// A JSON text (from `serde_json`, which escapes the control characters itself) with every
/// other [unsafe](is_unsafe) character written as a JSON `\uXXXX` escape: the same JSON value
/// for a script, nothing raw for a terminal. Such characters only occur inside strings, where
/// the escape means the character itself.
pub fn json(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_unsafe(c) {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_visibly() {
        assert_eq!(
            sanitize("bad \u{1b}[31mred\u{7}\r\nline\u{9b}x\u{7f}\0"),
            "bad \\u{1b}[31mred\\u{7}\\u{d}\\u{a}line\\u{9b}x\\u{7f}\\u{0}"
        );
    }

    #[test]
    fn bidi_controls_and_invisible_format_characters_are_escaped() {
        assert_eq!(
            sanitize("invoice\u{202e}txt.exe"),
            "invoice\\u{202e}txt.exe"
        );
        for c in [
            '\u{061c}',
            '\u{200b}',
            '\u{200d}',
            '\u{200e}',
            '\u{200f}',
            '\u{2028}',
            '\u{2029}',
            '\u{202a}',
            '\u{202b}',
            '\u{202c}',
            '\u{202d}',
            '\u{2060}',
            '\u{2066}',
            '\u{2067}',
            '\u{2068}',
            '\u{2069}',
            '\u{feff}',
            '\u{e0041}',
            '\u{00ad}',
        ] {
            let s = format!("a{c}b");
            assert_eq!(
                sanitize(&s),
                format!("a\\u{{{:x}}}b", u32::from(c)),
                "{c:?}"
            );
        }
    }

    #[test]
    fn ordinary_text_in_any_script_is_untouched_and_borrowed() {
        for s in [
            "参数错误: line 3",
            "accounts-é.txt",
            "مرحبا",
            "tab\\u{9}",
            "",
            "a b",
        ] {
            assert!(matches!(sanitize(s), Cow::Borrowed(t) if t == s), "{s}");
        }
    }

    #[test]
    fn json_keeps_the_value_and_escapes_for_the_terminal() {
        let value = serde_json::json!({ "file": "a\u{202e}b\u{1b}c\u{e0041}.txt" });
        let text = json(&value.to_string());
        assert!(!text.chars().any(is_unsafe), "{text}");
        assert!(
            text.contains("\\u202e") && text.contains("\\udb40\\udc41"),
            "{text}"
        );
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, value);
    }
}
