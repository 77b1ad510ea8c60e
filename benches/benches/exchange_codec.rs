//! Encoding record batches for an exchange and decoding them on the other
//! side: the CPU cost of every byte a shuffle moves, without the network.
//! Batches are TPC-H lineitem rows as `tpchgen` makes them (8192 rows each).

use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::error::FlightError;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use datafusion::arrow::record_batch::RecordBatch;
use futures::TryStreamExt;
use futures::executor::block_on;
use hayate_rpc::flight_encode;
use tpchgen::generators::LineItemGenerator;
use tpchgen_arrow::LineItemArrow;

fn lineitem_batches(n: usize) -> Vec<RecordBatch> {
    LineItemArrow::new(LineItemGenerator::new(0.1, 1, 1))
        .with_batch_size(8192)
        .take(n)
        .collect::<Result<_, _>>()
        .expect("generates")
}

fn encode(batches: &[RecordBatch]) -> Vec<arrow_flight::FlightData> {
    let schema = batches[0].schema();
    let stream = futures::stream::iter(batches.iter().map(|b| Ok(b.clone())).collect::<Vec<_>>());
    block_on(flight_encode(schema, stream).try_collect()).expect("encodes")
}

fn exchange_codec(c: &mut Criterion) {
    let batches = lineitem_batches(16);
    let bytes: usize = batches.iter().map(|b| b.get_array_memory_size()).sum();
    let encoded = encode(&batches);
    let mut group = c.benchmark_group("exchange");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("encode 16 lineitem batches", |b| {
        b.iter(|| encode(&batches))
    });
    group.bench_function("decode 16 lineitem batches", |b| {
        b.iter(|| {
            let data = futures::stream::iter(encoded.clone().into_iter().map(Ok::<_, FlightError>));
            let decoded: Vec<RecordBatch> =
                block_on(FlightRecordBatchStream::new_from_flight_data(data).try_collect())
                    .expect("decodes");
            assert_eq!(decoded.len(), batches.len());
        })
    });
    group.finish();
}

criterion_group!(benches, exchange_codec);
criterion_main!(benches);
