//! `analyze` throughput on a synthetic capture of about 300 MB (many interleaved
//! connections, ~550-byte packets, every close outcome), built once under target/ by the
//! project's generator (`wsclose-testgen`). Run: `cargo bench --bench analyze`.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use wsclose_testgen::synth::{write_capture, SynthConfig, SynthStats};

fn capture(mb: u64) -> (PathBuf, SynthStats) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    std::fs::create_dir_all(&dir).expect("bench data dir");
    let path = dir.join(format!("synth-{mb}mb.pcap"));
    let cfg = SynthConfig {
        target_bytes: mb << 20,
        ..SynthConfig::default()
    };
    let file = File::create(&path).expect("create capture");
    let stats =
        write_capture(BufWriter::with_capacity(1 << 20, file), &cfg).expect("write capture");
    (path, stats)
}

fn run(path: &str, pipelined: bool) -> u64 {
    let mut closes = 0u64;
    let opts = wsclose::Options {
        pipelined,
        ..wsclose::Options::default()
    };
    let (_report, err) =
        wsclose::analyze_file(path, &opts, &mut |c| closes += c.closes.len() as u64);
    assert!(err.is_none());
    closes
}

fn bench(c: &mut Criterion) {
    let (path, stats) = capture(300);
    let path = path.to_str().expect("utf-8 path").to_string();
    assert_eq!(run(&path, false), run(&path, true));
    let mut group = c.benchmark_group("analyze");
    group.sample_size(10);
    // One core: everything on the calling thread.
    group.throughput(Throughput::Bytes(stats.bytes));
    group.bench_function("synth-300MB/one-thread/bytes", |b| {
        b.iter(|| run(&path, false))
    });
    group.throughput(Throughput::Elements(stats.packets));
    group.bench_function("synth-300MB/one-thread/packets", |b| {
        b.iter(|| run(&path, false))
    });
    // Reading and decoding on a second thread (the command line's default).
    group.bench_function("synth-300MB/two-threads/packets", |b| {
        b.iter(|| run(&path, true))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
