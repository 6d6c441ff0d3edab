//! `analyze` over several files: 4 copies of a synthetic capture (32 MB each, built once
//! under target/ by the project's generator) reported with one job, then with one per
//! core (`wsclose::jobs`), in text to a sink. On a 2-core machine the second should take
//! about half the time of the first.
//! Run: `cargo bench --bench jobs`.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use wsclose::jobs::{analyze_files, Run};
use wsclose::render::{Format, Output, View};
use wsclose_testgen::synth::{write_capture, SynthConfig};

const COPIES: usize = 4;
const MB: u64 = 32;

/// The capture, and its copies: (paths, bytes of them all).
fn copies() -> (Vec<String>, u64) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    std::fs::create_dir_all(&dir).expect("bench data dir");
    let first = dir.join(format!("jobs-{MB}mb-0.pcap"));
    let cfg = SynthConfig {
        target_bytes: MB << 20,
        ..SynthConfig::default()
    };
    let file = File::create(&first).expect("create capture");
    let stats =
        write_capture(BufWriter::with_capacity(1 << 20, file), &cfg).expect("write capture");
    let mut paths = vec![first.clone()];
    for i in 1..COPIES {
        let p = dir.join(format!("jobs-{MB}mb-{i}.pcap"));
        std::fs::copy(&first, &p).expect("copy capture");
        paths.push(p);
    }
    let paths = paths
        .iter()
        .map(|p| p.to_str().expect("utf-8 path").to_string())
        .collect();
    (paths, stats.bytes * COPIES as u64)
}

/// The text report of `files` with `jobs` workers, to a sink; returns the bytes written.
fn report(files: &[String], jobs: usize) -> u64 {
    let opts = wsclose::Options::default();
    let view = View {
        files: files.len(),
        ..View::default()
    };
    let mut sink = Counter(0);
    let mut out = Output::new(Format::Text, false, view, &mut sink);
    out.begin().expect("begin");
    let run = Run {
        files,
        opts: &opts,
        jobs,
        only_problems: false,
    };
    analyze_files(&run, &mut out, &mut |_, err| assert!(err.is_none()), &|e| {
        panic!("{e}")
    })
    .expect("report");
    out.end().expect("end");
    drop(out);
    sink.0
}

/// A writer that counts and forgets.
struct Counter(u64);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn bench(c: &mut Criterion) {
    let (files, bytes) = copies();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    assert_eq!(report(&files, 1), report(&files, cores));
    let mut group = c.benchmark_group("jobs");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function(format!("{COPIES}x{MB}MB/jobs-1"), |b| {
        b.iter(|| report(&files, 1))
    });
    group.bench_function(format!("{COPIES}x{MB}MB/jobs-{cores}"), |b| {
        b.iter(|| report(&files, cores))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
