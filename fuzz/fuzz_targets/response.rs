//! The response reader on arbitrary bytes: never panics, honours its limits, and gives the
//! same result however the input is split.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tpns_core::response::Limits;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Some((&split, input)) = data.split_first() else {
        return;
    };
    let limits = Limits {
        max_head: 512,
        max_body: 1024,
    };
    let whole = common::read_response(input, input.len(), limits);
    let split = common::read_response(input, usize::from(split), limits);
    assert_eq!(whole, split, "the split changed the result");
});
