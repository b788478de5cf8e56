//! Runs of the `tpns` binary, shared by its test files (on top of the workspace's test
//! support, which knows nothing of this binary's path).

#![allow(dead_code, unused_imports)]

use std::process::Command;
use std::time::Duration;

pub use tpns_test_support::run::{GENEROUS, Run, run, with_env};

/// The binary Cargo built for these tests.
pub const TPNS: &str = env!("CARGO_BIN_EXE_tpns");

/// `push --upload-id ID --title t --content c`, then `more`: a valid push of package `upload_id`
/// but for what `more` adds.
pub fn push_args<'a>(upload_id: &'a str, more: &[&'a str]) -> Vec<&'a str> {
    let push = [
        "push",
        "--upload-id",
        upload_id,
        "--title",
        "t",
        "--content",
        "c",
    ];
    [&push[..], more].concat()
}

/// `upload --endpoint URL --secret-key-file KEY FILE`: an upload whose SecretKey comes from a
/// file.
pub fn upload_with_key_file<'a>(url: &'a str, key: &'a str, file: &'a str) -> [&'a str; 6] {
    ["upload", "--endpoint", url, "--secret-key-file", key, file]
}

/// `tpns` with the test app's AccessID and SecretKey in the environment, `RUST_LOG` removed.
pub fn tpns_command() -> Command {
    tpns_test_support::run::command(TPNS)
}

/// Runs `tpns ARGS` with the test app's credentials; fails if it runs longer than `limit`.
pub fn tpns_within(args: &[&str], limit: Duration) -> Run {
    run(tpns_command().args(args), limit)
}
