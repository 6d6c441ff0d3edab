//! Writes a capture that stresses the flow table, for measurements:
//!
//! ```text
//! cargo run --release --example flood -- scan N OUT.pcap            # N SYNs, each refused
//! cargo run --release --example flood -- filtered N OUT.pcap        # N SYNs, none answered
//! cargo run --release --example flood -- hide N CODE OUT.pcap       # N SYNs hide a Close CODE
//! cargo run --release --example flood -- concurrent N BAD CODE OUT.pcap
//! ```

use std::io::BufWriter;

use wsclose_testgen::flood;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize| -> u32 { args.get(i).and_then(|s| s.parse().ok()).unwrap_or(0) };
    let create =
        |path: &String| std::fs::File::create(path).map(|f| BufWriter::with_capacity(1 << 20, f));
    match (args.first().map(String::as_str), args.last()) {
        (Some("scan"), Some(path)) if args.len() == 3 => {
            flood::syn_scan(create(path)?, num(1), true)?;
        }
        (Some("filtered"), Some(path)) if args.len() == 3 => {
            flood::syn_scan(create(path)?, num(1), false)?;
        }
        (Some("hide"), Some(path)) if args.len() == 4 => {
            flood::syn_flood_hiding_close(create(path)?, num(1), num(2) as u16)?;
        }
        (Some("concurrent"), Some(path)) if args.len() == 5 => {
            flood::concurrent(create(path)?, num(1), num(2), num(3) as u16)?;
        }
        _ => {
            eprintln!("usage: flood scan N OUT | filtered N OUT | hide N CODE OUT | concurrent N BAD CODE OUT");
            std::process::exit(2);
        }
    }
    Ok(())
}
