//! Writes a synthetic capture for measurements: `cargo run --release --example synth -- OUT.pcap [MB]`.

use std::io::BufWriter;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| "synth.pcap".to_string());
    let mb: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(300);
    let cfg = wsclose_testgen::synth::SynthConfig {
        target_bytes: mb << 20,
        ..Default::default()
    };
    let file = std::fs::File::create(&path)?;
    let stats =
        wsclose_testgen::synth::write_capture(BufWriter::with_capacity(1 << 20, file), &cfg)?;
    eprintln!(
        "{path}: {} packets, {} bytes, {} connections, {:.0} bytes/packet",
        stats.packets,
        stats.bytes,
        stats.connections,
        stats.bytes as f64 / stats.packets as f64
    );
    Ok(())
}
