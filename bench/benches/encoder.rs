//! The multipart encoder against the floor: a 1 MiB package through the client's buffer.
//!
//! `copy` is `copy_from_slice` through the same buffer (what any sender must do); `body` is
//! `multipart::Body`, `request` is `upload::UploadBytes` (request head + body), `upload` the
//! blocking driver into an in-memory transport, `validate` the row check `tpns upload` runs
//! before sending. Instructions per byte, which repeat exactly, come from `callgrind.sh`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tpns_bench::{hot_body, hot_copy, hot_request, hot_upload, hot_validate, package, with_job};

fn encoder(c: &mut Criterion) {
    let package = package(1 << 20);
    let mut group = c.benchmark_group("encoder");
    group.throughput(Throughput::Bytes(package.len() as u64));
    // 64 KiB: the std client's buffer; 1 KiB: a device's.
    for size in [64 * 1024, 1024] {
        let mut buf = vec![0u8; size];
        group.bench_function(BenchmarkId::new("copy", size), |b| {
            b.iter(|| hot_copy(&package, &mut buf))
        });
        group.bench_function(BenchmarkId::new("body", size), |b| {
            b.iter(|| hot_body(&package, &mut buf))
        });
        with_job(|job| {
            group.bench_function(BenchmarkId::new("request", size), |b| {
                b.iter(|| hot_request(job, &package, &mut buf))
            });
            group.bench_function(BenchmarkId::new("upload", size), |b| {
                b.iter(|| hot_upload(job, &package, &mut buf))
            });
        });
    }
    let mut buf = vec![0u8; 64 * 1024];
    group.bench_function(BenchmarkId::new("validate", 64 * 1024), |b| {
        b.iter(|| hot_validate(&package, &mut buf))
    });
    group.finish();
}

criterion_group!(benches, encoder);
criterion_main!(benches);
