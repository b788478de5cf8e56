//! The row check's best speed on each data set: `rows-speed [RUNS]` (default 30) times
//! `tpns_bench::hot_rows` (the validator fed 64 KiB pieces, as the criterion bench `rows` and
//! the upload run it) over 16 MiB of ASCII, mixed and CJK-heavy text, and prints the fastest
//! run of each in GB/s (10^9 bytes per second).
//!
//! The fastest run rather than the mean: on a machine shared with other jobs, a run is only
//! ever slowed down by them, so the minimum is the figure that repeats (criterion's mean moves
//! by 2x with the load).

use std::time::Instant;

use tpns_bench::{Mix, hot_rows, mixed_package};

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .map_or(30, |a| a.parse().expect("usage: rows-speed [RUNS]"));
    for (name, mix) in [
        ("ascii", Mix::Ascii),
        ("mixed", Mix::Mixed),
        ("cjk", Mix::Cjk),
    ] {
        let package = mixed_package(16 << 20, mix);
        let fastest = (0..runs.max(1))
            .map(|_| {
                let start = Instant::now();
                std::hint::black_box(hot_rows(std::hint::black_box(&package), 64 * 1024));
                start.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min);
        println!(
            "{name}: {:.2} GB/s (fastest of {runs} runs over 16 MiB)",
            package.len() as f64 / fastest / 1e9
        );
    }
}
