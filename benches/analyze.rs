//! `analyze` throughput on a synthetic capture of about 300 MB (many interleaved
//! connections, ~550-byte packets, every close outcome), built once under target/ by the
//! project's generator (`wsclose-testgen`), and on wss:// decrypted with key logs: the
//! recorded decryption samples (TLS 1.2 and 1.3, AES-GCM, ChaCha20, CBC) replayed many
//! times into one capture, and, when `WSCLOSE_BENCH_WSS=CAPTURE` names one (with
//! `CAPTURE.keys` beside it, e.g. from `samples/gen/load/record.sh`), a large real one.
//! Run: `cargo bench --bench analyze`.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use wsclose_testgen::synth::{write_capture, SynthConfig, SynthStats};

#[path = "../tests/support/replay.rs"]
mod replay;

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

/// Samples replayed into the wss:// capture, with their key logs.
const WSS_SAMPLES: [&str; 5] = [
    "wss-tls12-gcm",
    "wss-tls12-chacha",
    "wss-tls12-cbc",
    "wss-tls13-chacha-1008",
    "wss-keyupdate",
];
/// Times each sample is replayed.
const REPLAYS: usize = 2000;

/// The decryption samples replayed `REPLAYS` times each, one session after another on the
/// same addresses (each a new SYN), and the key log that opens them.
fn wss_capture() -> (PathBuf, wsclose::tls::keylog::KeyLog, u64) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("samples");
    let mut keylog = wsclose::tls::keylog::KeyLog::new();
    let sessions: Vec<_> = WSS_SAMPLES
        .iter()
        .map(|name| {
            keylog
                .read_file(&dir.join(format!("{name}.keys")))
                .expect("key log");
            replay::payloads(&dir.join(format!("{name}.pcap")))
        })
        .collect();
    let mut c = replay::conv();
    for i in 0..REPLAYS as u32 {
        for payloads in &sessions {
            let isn = (i.wrapping_mul(7919), i.wrapping_mul(104_729));
            replay::session(&mut c, isn, payloads, &[]);
        }
    }
    let bytes = c.pcap();
    let out = root.join("target/bench-data");
    std::fs::create_dir_all(&out).expect("bench data dir");
    let path = out.join("wss-replay.pcap");
    std::fs::write(&path, &bytes).expect("write capture");
    (path, keylog, bytes.len() as u64)
}

fn run(path: &str, pipelined: bool) -> u64 {
    run_with(path, pipelined, None)
}

fn run_with(
    path: &str,
    pipelined: bool,
    keylog: Option<&Arc<wsclose::tls::keylog::KeyLog>>,
) -> u64 {
    let mut closes = 0u64;
    let mut opts = wsclose::Options {
        pipelined,
        ..wsclose::Options::default()
    };
    opts.conn.keylog = keylog.cloned();
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

    let (path, keylog, bytes) = wss_capture();
    let path = path.to_str().expect("utf-8 path").to_string();
    let keylog = Arc::new(keylog);
    let closes = run_with(&path, false, Some(&keylog));
    assert_eq!(closes, (2 * WSS_SAMPLES.len() * REPLAYS) as u64);
    assert_eq!(run(&path, false), 0, "nothing is seen without the keys");
    let mut group = c.benchmark_group("analyze-wss");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function("replayed-samples/keylog/one-thread", |b| {
        b.iter(|| run_with(&path, false, Some(&keylog)))
    });
    group.bench_function("replayed-samples/no-keylog/one-thread", |b| {
        b.iter(|| run(&path, false))
    });
    if let Some(big) = std::env::var_os("WSCLOSE_BENCH_WSS") {
        let big = big.to_string_lossy().into_owned();
        let mut keys = wsclose::tls::keylog::KeyLog::new();
        keys.read_file(Path::new(&format!(
            "{}.keys",
            big.trim_end_matches(".pcap")
        )))
        .expect("the capture's key log");
        let keys = Arc::new(keys);
        let size = std::fs::metadata(&big).map(|m| m.len()).unwrap_or(0);
        group.throughput(Throughput::Bytes(size));
        group.bench_function("real-capture/keylog/one-thread", |b| {
            b.iter(|| run_with(&big, false, Some(&keys)))
        });
        group.bench_function("real-capture/keylog/two-threads", |b| {
            b.iter(|| run_with(&big, true, Some(&keys)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
