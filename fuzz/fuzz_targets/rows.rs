//! The package row validator on arbitrary bytes: never panics, gives the same verdict however
//! the input is split (at one point, and in pieces of 1..=64 bytes, so that 64-byte blocks and
//! words start anywhere), its fast paths (whole chunks) agree with the byte state machine (one
//! byte per call, where no fast path runs), and its every-error mode agrees with it on the
//! first error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tpns_core::package::{Format, RowKind, RowValidator};

/// The oracle: the byte state machine alone, fed one byte at a time.
fn bytewise(input: &[u8], format: Format, kind: RowKind) -> String {
    let mut v = RowValidator::with_kind(format, kind);
    let result = input
        .chunks(1)
        .try_for_each(|b| v.feed(b))
        .and_then(|()| v.finish());
    format!("{result:?}")
}

/// The verdict with the input fed in pieces of `piece` bytes.
fn pieces(input: &[u8], format: Format, kind: RowKind, piece: usize) -> String {
    let mut v = RowValidator::with_kind(format, kind);
    let result = input
        .chunks(piece)
        .try_for_each(|p| v.feed(p))
        .and_then(|()| v.finish());
    format!("{result:?}")
}

fn verdict(input: &[u8], format: Format, kind: RowKind, split: usize) -> String {
    let mut v = RowValidator::with_kind(format, kind);
    let split = split.min(input.len());
    let result = v
        .feed(&input[..split])
        .and_then(|()| v.feed(&input[split..]))
        .and_then(|()| v.finish());
    format!("{result:?}")
}

/// Every-error mode: the first error (as the stop mode would print it) and all the errors.
fn each(input: &[u8], format: Format, kind: RowKind, split: usize) -> (String, String) {
    let mut v = RowValidator::with_kind(format, kind);
    let split = split.min(input.len());
    let mut errors = Vec::new();
    v.feed_each(&input[..split], |e| errors.push(e));
    v.feed_each(&input[split..], |e| errors.push(e));
    let tally = v.finish_each(|e| errors.push(e));
    let first = match errors.first() {
        Some(e) => format!("{:?}", Err::<(), _>(*e)),
        None => format!(
            "{:?}",
            Ok::<_, ()>(tpns_core::package::RowSummary { rows: tally.rows })
        ),
    };
    (first, format!("{errors:?} {tally:?}"))
}

fuzz_target!(|data: &[u8]| {
    let Some((&head, input)) = data.split_first() else {
        return;
    };
    let format = if head & 1 == 0 {
        Format::Txt
    } else {
        Format::Csv
    };
    let kind = if head & 2 == 0 {
        RowKind::Account
    } else {
        RowKind::Token
    };
    let split = usize::from(head >> 2);
    let whole = verdict(input, format, kind, input.len());
    assert_eq!(whole, verdict(input, format, kind, split));
    assert_eq!(whole, bytewise(input, format, kind));
    // The split point picks the piece size too: 1..=64.
    assert_eq!(whole, pieces(input, format, kind, 1 + split % 64));
    let (first, all) = each(input, format, kind, input.len());
    assert_eq!(first, whole);
    assert_eq!(all, each(input, format, kind, split).1);
});
