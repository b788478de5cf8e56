#!/usr/bin/env python3
"""Regenerates the shared package corpus (files + cases.tsv) in this folder.

Run from anywhere: `python3 tests/packages/make_corpus.py`. The output is deterministic (fixed zip
timestamps), so re-running it on an unchanged script leaves `git status` clean. The expected
verdicts are written here by hand from the policy in README.md; they are the contract that both
the client validator (core/tests/corpus.rs) and the emulator are tested against.
"""

import os
import struct
import zipfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
BOM = b"\xef\xbb\xbf"
DATE = (2020, 1, 1, 0, 0, 0)

# (file name, verdict, line, rows, comment); filled by the helpers below.
CASES = []

# What `tpns fix FILE -o OUT` (OUT with FILE's extension) makes of each .txt/.csv file; written
# to fixes.tsv. See README.md, "Format of fixes.tsv".
FIXES = [
    # file, without --drop-bad, with --drop-bad, changes reported by the run that writes
    ("rows_2chars.txt", "3", "3", "-"),
    ("row_1char.txt", "bad", "2", "bad=1"),
    ("row_100chars.txt", "3", "3", "-"),
    ("row_101chars.txt", "bad", "2", "bad=1"),
    ("cjk_100chars.txt", "1", "1", "-"),
    ("cjk_101chars.txt", "bad", "1", "bad=1"),
    ("emoji_100chars.txt", "2", "2", "-"),
    ("emoji_101chars.txt", "bad", "empty", "-"),
    ("invalid_utf8.txt", "bad", "3", "bad=1"),
    ("overlong_utf8.txt", "bad", "1", "bad=1"),
    ("surrogate_utf8.txt", "bad", "1", "bad=1"),
    ("truncated_utf8_at_eof.txt", "bad", "1", "bad=1"),
    ("utf8_cut_by_newline.txt", "bad", "1", "bad=1"),
    ("crlf.txt", "3", "3", "crlf=3"),
    ("crlf_no_final.txt", "2", "2", "crlf=1"),
    ("mixed_line_ends.txt", "3", "3", "crlf=1"),
    ("bom.txt", "2", "2", "bom"),
    ("bom_2chars.txt", "1", "1", "bom"),
    ("bom_1char.txt", "bad", "empty", "-"),
    ("bom_in_middle.txt", "2", "2", "-"),
    ("blank_line_middle.txt", "2", "2", "blank=1"),
    ("blank_line_trailing.txt", "2", "2", "blank=1"),
    ("blank_line_trailing_crlf.txt", "1", "1", "crlf=1,blank=1"),
    ("blank_line_first.txt", "1", "1", "blank=1"),
    ("newline_only.txt", "empty", "empty", "-"),
    ("bom_newline.txt", "empty", "empty", "-"),
    ("final_newline.txt", "2", "2", "-"),
    ("no_final_newline.txt", "2", "2", "-"),
    ("single_row_no_newline.txt", "1", "1", "-"),
    ("empty.txt", "empty", "empty", "-"),
    ("bom_only.txt", "empty", "empty", "-"),
    ("stray_cr.txt", "bad", "1", "bad=1"),
    ("cr_line_ends.txt", "bad", "empty", "-"),
    ("cr_at_eof.txt", "bad", "1", "bad=1"),
    ("cr_cr_lf.txt", "bad", "empty", "-"),
    ("spaces_row.txt", "2", "2", "-"),
    ("space_row.txt", "bad", "1", "bad=1"),
    ("quotes_and_commas.txt", "3", "3", "-"),
    ("upper_ext.TXT", "1", "1", "-"),
    ("plain.csv", "3", "3", "-"),
    ("quoted_comma.csv", "bad", "1", "bad=1"),
    ("escaped_quote.csv", "bad", "empty", "-"),
    ("escaped_quote_1char.csv", "bad", "empty", "-"),
    ("empty_quoted.csv", "bad", "1", "bad=1"),
    ("quoted_100chars.csv", "1", "1", "unquoted=1"),
    ("quoted_101chars.csv", "bad", "1", "bad=1"),
    ("escaped_100chars.csv", "bad", "empty", "-"),
    ("csv_crlf_bom.csv", "bad", "2", "bom,crlf=1,bad=1"),
    ("bom_quoted.csv", "1", "1", "bom,unquoted=1"),
    ("two_columns.csv", "bad", "1", "bad=1"),
    ("leading_comma.csv", "bad", "empty", "-"),
    ("two_columns_quoted.csv", "bad", "empty", "-"),
    ("unterminated_quote.csv", "bad", "2", "bad=1"),
    ("unterminated_quote_eof.csv", "bad", "1", "bad=1"),
    ("quoted_newline.csv", "bad", "empty", "-"),
    ("text_after_quote.csv", "bad", "empty", "-"),
    ("space_after_quote.csv", "bad", "1", "bad=1"),
    ("quote_in_unquoted.csv", "bad", "empty", "-"),
    ("csv_blank_line.csv", "2", "2", "blank=1"),
    ("csv_stray_cr.csv", "bad", "empty", "-"),
    ("csv_invalid_utf8.csv", "bad", "1", "bad=1"),
    ("csv_empty.csv", "empty", "empty", "-"),
    ("n" * 96 + ".txt", "1", "1", "-"),
    ("n" * 97 + ".txt", "1", "1", "-"),
    ("é" * 96 + ".csv", "1", "1", "-"),
]


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def ok(name, data, rows, why):
    write(name, data)
    CASES.append((name, "ok", "-", str(rows), why))


def reject(name, data, line, why):
    write(name, data)
    CASES.append((name, "reject", str(line), "-", why))


def rows(*items):
    return "".join(r + "\n" for r in items).encode()


def make_zip(entries, method=zipfile.ZIP_DEFLATED, comment=b""):
    """entries: list of (name, bytes); a name ending in '/' is a directory entry."""
    path = os.path.join(HERE, "_tmp.zip")
    with zipfile.ZipFile(path, "w") as z:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=DATE)
            info.compress_type = zipfile.ZIP_STORED if name.endswith("/") else method
            info.create_system = 3  # Unix, so the bytes do not depend on the host OS
            info.external_attr = (0o40755 << 16) | 0x10 if name.endswith("/") else 0o100644 << 16
            z.writestr(info, data)
        z.comment = comment
    with open(path, "rb") as f:
        data = f.read()
    os.remove(path)
    return data


def make_streamed_zip(name, data, method=zipfile.ZIP_DEFLATED):
    """A zip written to a non-seekable stream: sizes and CRC follow the data in a data
    descriptor (general purpose flag bit 3), and the local header holds zeros."""
    import io

    class Unseekable(io.RawIOBase):
        def __init__(self):
            self.buf = bytearray()

        def writable(self):
            return True

        def write(self, b):
            self.buf += b
            return len(b)

    out = Unseekable()
    with zipfile.ZipFile(out, "w") as z:
        info = zipfile.ZipInfo(name, date_time=DATE)
        info.compress_type = method
        info.create_system = 3
        info.external_attr = 0o100644 << 16
        with z.open(info, "w") as f:
            f.write(data)
    return bytes(out.buf)


def set_encrypted_flag(data):
    """Sets general purpose flag bit 0 in every local and central header (the data itself is
    not encrypted: readers must refuse on the flag alone)."""
    data = bytearray(data)
    for sig, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = data.find(sig)
        while i >= 0:
            data[i + flag_at] |= 1
            i = data.find(sig, i + 4)
    return bytes(data)


def raw_zip(entries, count=None, prefix=b"", suffix=b""):
    """A zip written byte by byte, for the hostile layouts `zipfile` refuses to write.

    entries: list of dicts with `name`, `data` and optionally `method` (0 or 8, default 8),
    `local_name`, `local_flags`, `local_method` (what the local header says instead of the
    directory), `listed` (False: a local entry that no directory entry names) and `declared`
    (the uncompressed size both headers give instead of the real one). `count` overrides the end
    record's entry count; `prefix` and `suffix` are bytes before the first entry and after the
    end record.
    """
    out = bytearray(prefix)
    central = bytearray()
    listed = 0
    for e in entries:
        method = e.get("method", 8)
        data = e["data"]
        if method == 8:
            c = zlib.compressobj(9, zlib.DEFLATED, -15)
            body = c.compress(data) + c.flush()
        else:
            body = data
        body += e.get("after_stream", b"")
        crc = zlib.crc32(data)
        usize = e.get("declared", len(data))
        name = e["name"].encode()
        local_name = e.get("local_name", e["name"]).encode()
        offset = len(out)
        out += struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, e.get("local_flags", 0),
                           e.get("local_method", method), 0, 0x5021, crc, len(body), usize,
                           len(local_name), 0)
        out += local_name + body
        if e.get("listed", True):
            listed += 1
            central += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 0x031E, 20, 0, method,
                                   0, 0x5021, crc, len(body), usize, len(name), 0, 0, 0, 0,
                                   0o100644 << 16, offset)
            central += name
    cd_offset = len(out)
    n = listed if count is None else count
    out += central
    out += struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, n, n, len(central), cd_offset, 0)
    return bytes(out + suffix)


def main():
    for f in os.listdir(HERE):
        if f not in ("make_corpus.py", "README.md"):
            os.remove(os.path.join(HERE, f))

    a100 = "a" * 100
    cjk100 = "账" * 100  # U+8D26, 3 bytes in UTF-8
    emoji100 = "\U0001F600" * 100  # 4 bytes in UTF-8

    # --- Rule 3: rows, characters, UTF-8, line ends (.txt) ---
    ok("rows_2chars.txt", rows("ab", "cd", "ef"), 3, "shortest valid rows")
    reject("row_1char.txt", rows("ab", "c", "de"), 2, "row shorter than 2 characters")
    ok("row_100chars.txt", rows("first", a100, "last"), 3, "longest valid row")
    reject("row_101chars.txt", rows("first", a100 + "b", "last"), 2,
           "row longer than 100 characters")
    ok("cjk_100chars.txt", rows(cjk100), 1, "100 CJK characters = 300 bytes: characters count")
    reject("cjk_101chars.txt", rows("ab", cjk100 + "账"), 2, "row longer than 100 characters")
    ok("emoji_100chars.txt", rows(emoji100, "ok"), 2, "100 emoji = 400 bytes")
    reject("emoji_101chars.txt", rows(emoji100 + "\U0001F600"), 1,
           "row longer than 100 characters")
    reject("invalid_utf8.txt", b"abc\ndef\ngh\xffij\nklm\n", 3, "invalid UTF-8")
    reject("overlong_utf8.txt", b"abc\n\xc0\xafcd\n", 2, "invalid UTF-8 (overlong encoding)")
    reject("surrogate_utf8.txt", b"abc\nde\xed\xa0\x80f\n", 2, "invalid UTF-8 (surrogate)")
    reject("truncated_utf8_at_eof.txt", b"abc\nde\xe8\xb4", 2,
           "invalid UTF-8: sequence cut by the end of the file")
    reject("utf8_cut_by_newline.txt", b"abc\nde\xe8\n", 2,
           "invalid UTF-8: sequence cut by the line end")
    ok("crlf.txt", b"abc\r\ndef\r\nghi\r\n", 3, "CRLF line ends")
    ok("crlf_no_final.txt", b"abc\r\ndef", 2, "CRLF, no final line end")
    ok("mixed_line_ends.txt", b"abc\r\ndef\nghi", 3, "LF and CRLF mixed")
    ok("bom.txt", BOM + rows("abc", "def"), 2, "a BOM at the very start is ignored")
    ok("bom_2chars.txt", BOM + rows("ab"), 1, "the BOM is not a character of row 1")
    reject("bom_1char.txt", BOM + rows("a"), 1, "row shorter than 2 characters (BOM not counted)")
    ok("bom_in_middle.txt", rows("abc") + BOM + b"x\n", 2,
       "U+FEFF after the start is an ordinary character (row 2 = 2 characters)")
    reject("blank_line_middle.txt", rows("abc", "", "def"), 2, "blank line")
    reject("blank_line_trailing.txt", rows("abc", "def", ""), 3,
           "blank line: a file ending in \\n\\n has a blank last line")
    reject("blank_line_trailing_crlf.txt", b"abc\r\n\r\n", 2, "blank line (CRLF)")
    reject("blank_line_first.txt", b"\nabc\n", 1, "blank line")
    reject("newline_only.txt", b"\n", 1, "a lone line end is a blank line 1, not an empty file")
    reject("bom_newline.txt", BOM + b"\n", 1, "blank line after the BOM")
    ok("final_newline.txt", rows("abc", "def"), 2, "a single final line end is just a line end")
    ok("no_final_newline.txt", b"abc\ndef", 2, "the last row's line end is optional")
    ok("single_row_no_newline.txt", b"ab", 1, "one row, no line end")
    reject("empty.txt", b"", 0, "empty file (0 bytes)")
    reject("bom_only.txt", BOM, 0, "empty file (only a BOM)")
    reject("stray_cr.txt", b"abc\nde\rf\n", 2, "carriage return not followed by line feed")
    reject("cr_line_ends.txt", b"abc\rdef\r", 1, "carriage return not followed by line feed")
    reject("cr_at_eof.txt", b"abc\ndef\r", 2, "carriage return not followed by line feed (EOF)")
    reject("cr_cr_lf.txt", b"abc\r\r\n", 1, "carriage return not followed by line feed")
    ok("spaces_row.txt", rows("abc", "  "), 2, "two spaces are 2 characters, not a blank line")
    reject("space_row.txt", rows("abc", " "), 2, "row shorter than 2 characters")
    ok("quotes_and_commas.txt", rows('a,b', '"x"', 'c"d'), 3,
       ".txt has no quoting: commas and quotes are characters")
    ok("upper_ext.TXT", rows("abc"), 1, "extension is ASCII case-insensitive")

    # --- Rule 4: CSV ---
    ok("plain.csv", rows("account", "user01", "user02"), 3, "a header row is a row")
    ok("quoted_comma.csv", rows('"a,b"', "abc"), 2, "comma inside quotes is part of the value")
    ok("escaped_quote.csv", rows('"a""b"'), 1, 'value a"b (3 characters)')
    reject("escaped_quote_1char.csv", rows('""""'), 1,
           'value " is 1 character: row shorter than 2 characters')
    reject("empty_quoted.csv", rows("abc", '""'), 2,
           "empty quoted value: row shorter than 2 characters")
    ok("quoted_100chars.csv", rows('"' + a100 + '"'), 1,
       "100 decoded characters (102 with the quotes)")
    reject("quoted_101chars.csv", rows("abc", '"' + a100 + 'b"'), 2,
           "row longer than 100 characters (decoded)")
    ok("escaped_100chars.csv", rows('"' + "a" * 98 + '""""' + '"'), 1,
       '98 a + 2 escaped quotes = 100 decoded characters (104 raw)')
    ok("csv_crlf_bom.csv", BOM + b'abc\r\n"d,e"\r\nfgh', 3, "BOM, CRLF, quoted, no final line end")
    ok("bom_quoted.csv", BOM + rows('"ab"'), 1, "a quote right after the BOM opens a quoted field")
    reject("two_columns.csv", rows("abc", "de,fg"), 2, "more than one column")
    reject("leading_comma.csv", rows(",abc"), 1, "more than one column")
    reject("two_columns_quoted.csv", rows('"ab","cd"'), 1, "text after closing quote")
    reject("unterminated_quote.csv", rows("abc", '"def', "ghi"), 2, "unterminated quote")
    reject("unterminated_quote_eof.csv", b'abc\n"def', 2, "unterminated quote at end of file")
    reject("quoted_newline.csv", rows('"ab', 'cd"'), 1,
           "a quoted field must close on its own line")
    reject("text_after_quote.csv", rows('"abc"d'), 1, "text after closing quote")
    reject("space_after_quote.csv", rows("abc", '"def" '), 2, "text after closing quote")
    reject("quote_in_unquoted.csv", rows('ab"c'), 1, "quote in unquoted field")
    reject("csv_blank_line.csv", rows("abc", "", "def"), 2, "blank line")
    reject("csv_stray_cr.csv", b'"ab\rc"\n', 1, "carriage return not followed by line feed")
    reject("csv_invalid_utf8.csv", b'abc\n"d\xfe"\n', 2, "invalid UTF-8")
    reject("csv_empty.csv", b"", 0, "empty file")

    # --- Rule 1: file names ---
    stem100 = "n" * 96
    ok(stem100 + ".txt", rows("abc"), 1, "100-character file name")
    reject(stem100 + "n.txt", rows("abc"), 0, "101-character file name")
    ok("é" * 96 + ".csv", rows("abc"), 1, "100 characters (196 bytes): characters count")
    reject("accounts.xlsx", rows("abc"), 0, "wrong extension")
    reject("accounts.txt.bak", rows("abc"), 0, "wrong extension")
    reject("accounts", rows("abc"), 0, "no extension")

    # --- Rule 5: zip ---
    good = rows("user01", "user02", "账户三", "\U0001F600\U0001F600")
    ok("good_deflate.zip", make_zip([("accounts.txt", good * 50)]), 200, "deflate .txt entry")
    ok("good_stored.zip", make_zip([("accounts.csv", rows("account", '"a,b"', '"c""d"'))],
                                   method=zipfile.ZIP_STORED), 3, "stored .csv entry")
    ok("good_comment.zip", make_zip([("accounts.txt", good)], comment=b"made by tests"), 4,
       "zip with an archive comment")
    ok("good_bom_crlf.zip", make_zip([("accounts.txt", BOM + b"abc\r\ndef\r\n")]), 2,
       "BOM and CRLF inside the entry")
    reject("two_entries.zip", make_zip([("a.txt", good), ("b.txt", good)]), 0,
           "zip must hold exactly one file")
    reject("folder.zip", make_zip([("dir/", b""), ("dir/accounts.txt", good)]), 0,
           "zip must not hold folders")
    reject("folder_path.zip", make_zip([("dir/accounts.txt", good)]), 0,
           "zip must not hold folders (a / in the entry name)")
    reject("macos.zip", make_zip([("accounts.txt", good), ("__MACOSX/", b""),
                                  ("__MACOSX/._accounts.txt", b"\x00\x05\x16\x07"),
                                  (".DS_Store", b"\x00\x00\x00\x01Bud1")]), 0,
           "zip holds macOS metadata (__MACOSX/.DS_Store)")
    reject("ds_store.zip", make_zip([("accounts.txt", good), (".DS_Store", b"Bud1")]), 0,
           "zip holds macOS metadata (__MACOSX/.DS_Store)")
    reject("bad_row.zip", make_zip([("accounts.txt", rows("user01", "user02", "x", "user04"))]),
           3, "row shorter than 2 characters, line of the entry's text")
    reject("bad_csv_row.zip", make_zip([("accounts.csv", rows("abc", "def", "gh,ij"))]), 3,
           "more than one column in a .csv entry")
    ok("txt_entry_commas.zip", make_zip([("accounts.txt", rows("abc", "gh,ij"))]), 2,
       "entry rules follow the entry's extension: commas are fine in a .txt entry")
    reject("xlsx_entry.zip", make_zip([("accounts.xlsx", b"PK\x03\x04 not really")]), 0,
           "zip entry must be .txt or .csv")
    reject("empty.zip", make_zip([]), 0, "zip must hold exactly one file (no entries)")
    reject("empty_entry.zip", make_zip([("accounts.txt", b"")]), 0, "empty file inside the zip")
    reject("bzip2.zip", make_zip([("accounts.txt", good)], method=zipfile.ZIP_BZIP2), 0,
           "compression other than stored/deflate")
    reject("encrypted.zip", set_encrypted_flag(make_zip([("accounts.txt", good)])), 0,
           "zip entry is encrypted (flag bit 0)")
    reject("only_folder.zip", make_zip([("accounts/", b"")]), 0,
           "zip must not hold folders (a lone directory entry)")
    ok("upper_entry.zip", make_zip([("ACCOUNTS.TXT", good)]), 4,
       "the entry's extension is ASCII case-insensitive, like a file name's")
    ok("data_descriptor.zip", make_streamed_zip("accounts.csv", rows("abc", '"d,e"')), 2,
       "sizes in a data descriptor (flag bit 3, deflate, zeros in the local header): the "
       "descriptor agrees with the directory")
    reject("not_a_zip.zip", rows("abc", "def"), 0, "not a zip archive")
    reject("bad_utf8.zip", make_zip([("accounts.txt", b"abc\nde\xff\n")]), 2, "invalid UTF-8")

    # --- Rule 5: a zip that reads the same to every reader (README: "The zip layout") ---
    evil = b"#!/bin/sh\nrm -rf ~\n"
    entry = {"name": "accounts.txt", "data": good}
    reject("cdcount.zip", raw_zip([entry, {"name": "evil.sh", "data": evil}], count=1), 0,
           "zip central directory does not match its end record: it holds 2 entries, the end "
           "record says 1")
    reject("hidden_local.zip",
           raw_zip([entry, {"name": "evil.sh", "data": evil, "listed": False}]), 0,
           "zip holds data outside its entries and central directory: a local entry no "
           "directory entry names")
    reject("localname.zip", raw_zip([dict(entry, local_name="../../../tmp/pwn.sh")]), 0,
           "zip local header does not match the central directory: its name")
    reject("enc_local.zip", raw_zip([dict(entry, local_flags=1)]), 0,
           "zip local header does not match the central directory: encrypted in the local "
           "header only")
    reject("method_local.zip", raw_zip([dict(entry, local_method=0)]), 0,
           "zip local header does not match the central directory: stored in the local header, "
           "deflate in the directory")
    reject("stored_descriptor.zip", make_streamed_zip("accounts.txt", good, zipfile.ZIP_STORED),
           0, "zip local header does not match the central directory: a stored entry must give "
           "its sizes in its local header")
    reject("stray_prefix.zip", raw_zip([entry], prefix=b"MZ\x90\x00 a stub"), 0,
           "zip holds data outside its entries and central directory: bytes before the first "
           "entry")
    reject("trailing_bytes.zip", raw_zip([entry], suffix=b"hidden"), 0,
           "zip holds data outside its entries and central directory: bytes after the end "
           "record")
    reject("deflate_trailing.zip", raw_zip([dict(entry, after_stream=evil)]), 0,
           "bytes after the end of the deflate stream, inside the entry")
    reject("bslash.zip", raw_zip([{"name": "..\\..\\evil.txt", "data": good}]), 0,
           "zip entry name holds a backslash or a colon (a Windows path)")
    reject("drive.zip", raw_zip([{"name": "C:evil.txt", "data": good}]), 0,
           "zip entry name holds a backslash or a colon (a Windows path): a drive letter")
    reject("drive_root.zip", raw_zip([{"name": "C:/evil.txt", "data": good}]), 0,
           "zip must not hold folders (a / comes first, also after a drive letter)")
    ok("macosx_prefix.zip", raw_zip([{"name": "__MACOSXa.txt", "data": good}]), 4,
       "a plain file whose name starts with __MACOSX is not macOS metadata")
    reject("inflates_too_large.zip", raw_zip([dict(entry, declared=(1 << 30) + 1)]), 0,
           "zip entry inflates to more than 1 GiB (as its headers say)")

    with open(os.path.join(HERE, "cases.tsv"), "w", encoding="utf-8", newline="\n") as f:
        f.write("# Shared package corpus: <file name>\\t<verdict>\\t<line>\\t<rows>\n")
        f.write("# verdict ok: line '-', rows = row count; reject: line (0 = file-level), rows '-'.\n")
        f.write("# The comment line above each case names the rule. See README.md.\n")
        f.write("# Generated by make_corpus.py; also: a >100 MiB file (too large, line 0) is made\n")
        f.write("# at test time and is not committed.\n")
        for name, verdict, line, nrows, why in CASES:
            f.write(f"# {why}\n{name}\t{verdict}\t{line}\t{nrows}\n")

    names = {c[0] for c in CASES}
    texts = {n for n in names if n.lower().endswith((".txt", ".csv"))}
    fixed = [f[0] for f in FIXES]
    assert set(fixed) == texts and len(fixed) == len(texts), set(fixed) ^ texts
    with open(os.path.join(HERE, "fixes.tsv"), "w", encoding="utf-8", newline="\n") as f:
        f.write("# What `tpns fix FILE -o OUT` makes of each .txt/.csv file of cases.tsv:\n")
        f.write("# <file name>\\t<without --drop-bad>\\t<with --drop-bad>\\t<changes>\n")
        f.write("# N: N rows written; bad: exit 3, rows that cannot be repaired, nothing written;\n")
        f.write("# empty: exit 3, no valid row left. Fixable = a number without --drop-bad.\n")
        f.write("# changes (of the run that writes): bom, crlf=N, blank=N, unquoted=N, bad=N.\n")
        f.write("# Generated by make_corpus.py. See README.md.\n")
        for name, plain, drop_bad, changes in FIXES:
            f.write(f"{name}\t{plain}\t{drop_bad}\t{changes}\n")


if __name__ == "__main__":
    main()
