//! The floor for `callgrind.sh`: copies N MiB (argument, default 64) of a package through the
//! client's 64 KiB buffer with `copy_from_slice`. Only `tpns_bench::hot_copy` is counted.

fn main() {
    let mib: usize = std::env::args()
        .nth(1)
        .map_or(64, |a| a.parse().expect("MiB"));
    let package = tpns_bench::package(mib << 20);
    let mut buf = vec![0u8; tpns_bench::BUFFER];
    let n = tpns_bench::hot_copy(&package, &mut buf);
    println!("copy {n} bytes");
}
