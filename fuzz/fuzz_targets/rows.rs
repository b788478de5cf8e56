//! The package row validator on arbitrary bytes: never panics and gives the same verdict
//! however the input is split.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tpns_core::package::{Format, RowValidator};

fn verdict(input: &[u8], format: Format, split: usize) -> String {
    let mut v = RowValidator::new(format);
    let split = split.min(input.len());
    let result = v
        .feed(&input[..split])
        .and_then(|()| v.feed(&input[split..]))
        .and_then(|()| v.finish());
    format!("{result:?}")
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
    let split = usize::from(head >> 1);
    assert_eq!(
        verdict(input, format, input.len()),
        verdict(input, format, split)
    );
});
