//! The flow table under floods: scans, SYN floods and more open connections than
//! `--max-flows`, on captures from testgen's `flood` module. Counts must stay exact, the
//! WebSocket connection a flood surrounds must keep its findings, and `check` must fail
//! whenever a connection still being analyzed was evicted.

use wsclose::report::{FileReport, WarningKind};
use wsclose::rules::Rule;
use wsclose::Options;
use wsclose_testgen::flood;

use wsclose_testgen::close::close_body;
use wsclose_testgen::packet::{TcpPacket, ACK, PSH, SYN};
use wsclose_testgen::pcap::{file_header, push_record};
use wsclose_testgen::ws::frame;

use crate::analysis::{analyze_bytes, rules};
use crate::{run, temp_capture};

type End = ([u8; 4], u16);

/// An Ethernet/IPv4/TCP frame.
fn packet(src: End, dst: End, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    TcpPacket {
        src_mac: [2, 0, 0, 0, 0, 1],
        dst_mac: [2, 0, 0, 0, 0, 2],
        src_ip: src.0,
        dst_ip: dst.0,
        src_port: src.1,
        dst_port: dst.1,
        seq,
        ack,
        flags,
        window: 65535,
        payload,
    }
    .to_vec()
}

/// A pcap of (time in µs, frame) records.
fn pcap(records: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut out = file_header(1).to_vec();
    for (ts_us, data) in records {
        push_record(&mut out, *ts_us, data);
    }
    out
}

fn with_max_flows(n: usize) -> Options {
    Options {
        max_flows: n,
        ..Options::default()
    }
}

fn warning(file: &FileReport, kind: WarningKind) -> Option<&str> {
    file.warnings
        .iter()
        .find(|w| w.kind == kind)
        .map(|w| w.message.as_str())
}

#[test]
fn a_syn_flood_does_not_evict_the_websocket_connection_it_surrounds() {
    let bytes = flood::syn_flood_hiding_close(Vec::new(), 3000, 1004).unwrap();
    let (file, conns, err) = analyze_bytes("hide.pcap", &bytes, &with_max_flows(1000));
    assert!(err.is_none());
    assert_eq!(file.summary.tcp_connections, 3001);
    assert_eq!(conns.len(), 1, "only the WebSocket connection is reported");
    let ws = &conns[0];
    assert!(
        rules(ws).contains(&Rule::IllegalCloseCode),
        "{:?}",
        rules(ws)
    );
    assert!(!rules(ws).contains(&Rule::FlowEvicted));
    let msg = warning(&file, WarningKind::FlowsEvicted).expect("an eviction warning");
    assert!(
        msg.contains("no connection still being analyzed was evicted"),
        "{msg}"
    );

    // The gate sees the illegal Close, with the same table size.
    let path = temp_capture("flood-hide.pcap", &bytes);
    let (code, out, _) = run(&["check", "--max-flows", "1000", path.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("IllegalCloseCode"), "{out}");
}

#[test]
fn more_open_connections_than_the_table_are_each_counted_once() {
    // 2,500 connections open at once, 1,000 tracked: every connection is reported exactly
    // once, the evicted ones with a finding, their later packets counted and not analyzed.
    let bytes = flood::concurrent(Vec::new(), 2500, 0, 1000).unwrap();
    let (file, conns, _) = analyze_bytes("open.pcap", &bytes, &with_max_flows(1000));
    assert_eq!(file.summary.tcp_connections, 2500);
    assert_eq!(file.summary.websocket_connections, 2500);
    assert_eq!(conns.len(), 2500);
    let mut clients: Vec<_> = conns.iter().map(|c| c.client).collect();
    clients.sort();
    clients.dedup();
    assert_eq!(clients.len(), 2500, "no connection reported twice");
    let evicted = conns
        .iter()
        .filter(|c| rules(c).contains(&Rule::FlowEvicted))
        .count();
    // Each eviction takes an eighth of the table: 1,500 too many means 12 rounds of 125.
    assert_eq!(evicted, 1500);
    let msg = warning(&file, WarningKind::FlowsEvicted).expect("an eviction warning");
    // After its eviction, each connection carried three packets with data: its message,
    // its Close and the server's Close (the FINs carry none).
    assert!(
        msg.contains("1500 connection(s) were evicted while still being analyzed")
            && msg.contains("4500 later packet(s)"),
        "{msg}"
    );
}

#[test]
fn check_fails_when_connections_with_illegal_closes_were_evicted() {
    // The first 500 of 1,500 open connections send 1004; with 1,000 tracked they are the
    // ones evicted before their Close: check must not pass.
    let bytes = flood::concurrent(Vec::new(), 1500, 500, 1004).unwrap();
    let path = temp_capture("flood-evicted-1004.pcap", &bytes);
    let path = path.to_str().unwrap();
    let (code, out, _) = run(&["check", "--max-flows", "1000", path]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FlowEvicted"), "{out}");
    // With room for all of them, the Close frames themselves fail it.
    let (code, out, _) = run(&["check", "--max-flows", "2000", path]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("IllegalCloseCode") && !out.contains("FlowEvicted"),
        "{out}"
    );
    // The same number of connections closing cleanly passes when they fit.
    let clean = flood::concurrent(Vec::new(), 1500, 0, 1000).unwrap();
    let clean = temp_capture("flood-clean.pcap", &clean);
    let (code, out, _) = run(&["check", "--max-flows", "2000", clean.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn scans_are_dropped_without_findings() {
    for answered in [true, false] {
        let bytes = flood::syn_scan(Vec::new(), 5000, answered).unwrap();
        let (file, conns, _) = analyze_bytes("scan.pcap", &bytes, &with_max_flows(1000));
        assert_eq!(file.summary.tcp_connections, 5000, "answered: {answered}");
        assert!(conns.is_empty());
        let msg = warning(&file, WarningKind::FlowsEvicted);
        if answered {
            // Refused at once: each attempt ends before the table fills.
            assert_eq!(msg, None);
        } else {
            // Never answered: attempts fill the table and go first, nothing analyzed lost.
            let msg = msg.expect("an eviction warning");
            assert!(
                msg.contains("no connection still being analyzed was evicted"),
                "{msg}"
            );
        }
        let path = temp_capture("scan.pcap", &bytes);
        let (code, out, _) = run(&["check", "--max-flows", "1000", path.to_str().unwrap()]);
        assert_eq!(code, 0, "{out}");
    }
}

/// One connection's three-way handshake, then `syns` unanswered SYNs from other clients
/// that push it out of a small table, then the connection's Upgrade and Close.
fn handshake_then_flood(syns: u16) -> Vec<u8> {
    let c: End = ([10, 0, 0, 1], 40000);
    let s: End = ([10, 0, 0, 2], 80);
    let mut pkts = Vec::new();
    let mut t = 1_000_000u64;
    let mut push = |from_client: bool, seq: u32, ack: u32, flags: u8, payload: &[u8]| {
        t += 100;
        let (src, dst) = if from_client { (c, s) } else { (s, c) };
        pkts.push((t, packet(src, dst, seq, ack, flags, payload)));
    };
    push(true, 100, 0, SYN, b"");
    push(false, 500, 101, SYN | ACK, b"");
    push(true, 101, 501, ACK, b"");
    for i in 0..syns {
        let flooder: End = ([10, 1, (i >> 8) as u8, i as u8], 50000);
        push_flood(&mut pkts, &mut t, packet(flooder, s, 7, 0, SYN, b""));
    }
    let get = b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let ok = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    let mut push = |from_client: bool, seq: u32, ack: u32, payload: &[u8]| {
        t += 100;
        let (src, dst) = if from_client { (c, s) } else { (s, c) };
        pkts.push((t, packet(src, dst, seq, ack, PSH | ACK, payload)));
    };
    let close = frame(true, 8, Some([1, 2, 3, 4]), &close_body(1000, b""));
    push(true, 101, 501, get);
    push(false, 501, 101 + get.len() as u32, ok);
    push(true, 101 + get.len() as u32, 501 + ok.len() as u32, &close);
    pcap(&pkts)
}

fn push_flood(pkts: &mut Vec<(u64, Vec<u8>)>, t: &mut u64, data: Vec<u8>) {
    *t += 100;
    pkts.push((*t, data));
}

#[test]
fn a_flow_evicted_before_its_payload_is_analyzed_when_it_goes_on_and_says_so() {
    let bytes = handshake_then_flood(400);
    let (file, conns, _) = analyze_bytes("resumed.pcap", &bytes, &with_max_flows(100));
    // Counted once, not again when it went on.
    assert_eq!(file.summary.tcp_connections, 401);
    assert_eq!(conns.len(), 1);
    let conn = &conns[0];
    assert_eq!(conn.closes.len(), 1, "the Close is read");
    assert!(
        rules(conn).contains(&Rule::FlowEvicted),
        "{:?}",
        rules(conn)
    );
    let msg = warning(&file, WarningKind::FlowsEvicted).expect("an eviction warning");
    assert!(
        msg.contains("went on and were analyzed from there"),
        "{msg}"
    );
    // Without the flood's pressure, the same connection is whole.
    let (_, conns, _) = analyze_bytes("resumed.pcap", &bytes, &Options::default());
    assert!(!rules(&conns[0]).contains(&Rule::FlowEvicted));
}

#[test]
fn deep_vlan_nesting_and_time_running_backwards_are_file_warnings() {
    // One packet behind six VLAN tags, then two packets, the second a second earlier.
    let tcp = packet(([10, 0, 0, 1], 40000), ([10, 0, 0, 2], 80), 1, 0, SYN, b"");
    let mut tagged = tcp[..12].to_vec();
    for _ in 0..6 {
        tagged.extend_from_slice(&[0x81, 0x00, 0x00, 0x0a]);
    }
    tagged.extend_from_slice(&tcp[12..]);
    let pkts = [
        (5_000_000, tagged),
        (6_000_000, tcp.clone()),
        (4_500_000, tcp),
    ];
    let (file, _, _) = analyze_bytes("odd.pcap", &pcap(&pkts), &Options::default());
    let vlan = warning(&file, WarningKind::VlanDepth).expect("a VLAN warning");
    assert!(
        vlan.starts_with("1 packet(s) with more than 4 stacked VLAN tags"),
        "{vlan}"
    );
    let back = warning(&file, WarningKind::TimeBackwards).expect("a time warning");
    assert!(
        back.starts_with("1 packet(s)") && back.contains("1.500 s"),
        "{back}"
    );
}

/// Peak resident memory of this process so far, from /proc (Linux), in KiB.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
#[ignore = "writes a 140 MB capture and reads 2M packets: cargo test --release --test main -- --ignored --test-threads 1 two_million"]
fn a_two_million_syn_scan_stays_under_64_mib() {
    // Never answered, so every attempt stays open until the table is full: the worst case
    // of a scan for the table. The capture is written to a file and streamed back.
    let path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("scan-2m.pcap");
    let out = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
    flood::syn_scan(out, 2_000_000, false).expect("write");
    let mut reported = 0;
    let (file, err) = wsclose::analyze_file(
        path.to_str().expect("path"),
        &Options::default(),
        &mut |_| reported += 1,
    );
    std::fs::remove_file(&path).ok();
    assert!(err.is_none());
    assert_eq!(file.summary.tcp_connections, 2_000_000);
    assert_eq!(reported, 0);
    let peak = peak_rss_kib().expect("VmHWM in /proc/self/status");
    assert!(peak < 64 * 1024, "peak {peak} KiB");
}
