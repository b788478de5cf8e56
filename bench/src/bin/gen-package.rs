//! Writes a generated package to stdout: `gen-package SIZE [ascii|mixed|cjk]` (default
//! mixed). The bytes depend only on the arguments (`tpns_bench::mixed_package`), so
//! `bench/upload.sh` and the criterion benches measure the same text.

use std::io::Write;

fn main() {
    let mut args = std::env::args().skip(1);
    let size: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .expect("usage: gen-package SIZE [ascii|mixed|cjk]");
    let mix = match args.next().as_deref() {
        None | Some("mixed") => tpns_bench::Mix::Mixed,
        Some("ascii") => tpns_bench::Mix::Ascii,
        Some("cjk") => tpns_bench::Mix::Cjk,
        Some(other) => panic!("unknown mix {other:?}: ascii, mixed or cjk"),
    };
    let package = tpns_bench::mixed_package(size, mix);
    std::io::stdout()
        .lock()
        .write_all(&package)
        .expect("stdout");
}
