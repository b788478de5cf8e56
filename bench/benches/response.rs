//! The response reader: a typical upload answer, whole and in small pieces, Content-Length and
//! chunked (with a `100 Continue` first); and the `Collector` (reader + JSON fields) on top.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use tpns_bench::{RESPONSE, RESPONSE_CHUNKED};
use tpns_core::exchange::{Collector, Step};
use tpns_core::response::{Event, Limits, ResponseReader};
use tpns_core::upload::UploadFields;

/// Feeds `input` in `piece`-byte reads; returns the body bytes seen.
fn read(input: &[u8], piece: usize) -> usize {
    let mut reader = ResponseReader::new(Limits::default());
    let mut body = 0;
    for mut chunk in input.chunks(piece) {
        loop {
            let (used, event) = reader.parse(chunk).expect("valid response");
            chunk = &chunk[used..];
            match event {
                Event::NeedMore => break,
                Event::Body(b) => body += b.len(),
                Event::End => return body,
                Event::Interim { .. } | Event::Head(_) => {}
            }
        }
    }
    panic!("response incomplete")
}

fn collect(input: &[u8], piece: usize) -> Option<i64> {
    let mut collector = Collector::new(Limits::default(), UploadFields::default());
    for chunk in input.chunks(piece) {
        if collector.feed(chunk).expect("valid response") == Step::Complete {
            break;
        }
    }
    collector.finish().expect("complete").fields.upload_id
}

fn response(c: &mut Criterion) {
    let mut group = c.benchmark_group("response");
    for (name, input) in [("length", RESPONSE), ("chunked", RESPONSE_CHUNKED)] {
        group.throughput(Throughput::Bytes(input.len() as u64));
        for piece in [input.len(), 16, 1] {
            group.bench_with_input(
                BenchmarkId::new(format!("reader/{name}"), piece),
                &piece,
                |b, &piece| b.iter(|| read(black_box(input), piece)),
            );
        }
        group.bench_function(
            BenchmarkId::new(format!("collector/{name}"), input.len()),
            |b| b.iter(|| collect(black_box(input), input.len())),
        );
    }
    group.finish();
}

criterion_group!(benches, response);
criterion_main!(benches);
