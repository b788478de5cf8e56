//! The JSON reader: the upload's success answer and an error answer with escapes and nested
//! fields to skip, whole and in 7-byte pieces.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use tpns_bench::JSON_ERROR;
use tpns_core::json::JsonReader;
use tpns_core::upload::UploadFields;

const SUCCESS: &[u8] = br#"{"retCode":0,"errMsg":"","uploadId":1000001}"#;

fn parse(input: &[u8], piece: usize) -> UploadFields {
    let mut reader = JsonReader::new();
    let mut fields = UploadFields::default();
    for chunk in input.chunks(piece) {
        reader.feed(chunk, &mut fields).expect("valid JSON");
    }
    reader.finish().expect("complete");
    fields
}

fn json(c: &mut Criterion) {
    let mut group = c.benchmark_group("json");
    for (name, input) in [("success", SUCCESS), ("error", JSON_ERROR)] {
        group.throughput(Throughput::Bytes(input.len() as u64));
        for piece in [input.len(), 7] {
            group.bench_with_input(BenchmarkId::new(name, piece), &piece, |b, &piece| {
                b.iter(|| parse(black_box(input), piece))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, json);
criterion_main!(benches);
