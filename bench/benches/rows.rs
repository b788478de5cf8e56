//! The row check (rules 3 and 4) on 16 MiB of ASCII, mixed-script and CJK-heavy accounts
//! (`tpns_bench::mixed_package`), fed in 64 KiB pieces as the upload reads them. With the
//! `simd` feature (the default) UTF-8 is validated by simdutf8; `--no-default-features` gives
//! the portable path of a device.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tpns_bench::{Mix, hot_rows, mixed_package};

fn rows(c: &mut Criterion) {
    let mut group = c.benchmark_group("rows");
    for (name, mix) in [
        ("ascii", Mix::Ascii),
        ("mixed", Mix::Mixed),
        ("cjk", Mix::Cjk),
    ] {
        let package = mixed_package(16 << 20, mix);
        group.throughput(Throughput::Bytes(package.len() as u64));
        group.bench_function(BenchmarkId::new("check", name), |b| {
            b.iter(|| hot_rows(&package, 64 * 1024))
        });
    }
    group.finish();
}

criterion_group!(benches, rows);
criterion_main!(benches);
