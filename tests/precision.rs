//! Detection precision: streams of other protocols are never called WebSocket, and real
//! WebSocket joined mid-stream (without its handshake) still is, Close codes included.

use std::path::Path;

use wsclose::report::Detection;
use wsclose::Options;

use crate::analysis::analyze_bytes;
use crate::pcapgen::{frame, Conv};
use crate::{analyze_json, root, run, temp_capture};

/// The recorded non-WebSocket samples (`samples/gen/nonws/record.sh`).
fn nonws_samples() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("samples"))
        .expect("samples/")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("nonws-") && n.ends_with(".pcap"))
        .collect();
    names.sort();
    names
}

/// (detection, [close codes]) of each connection the report lists.
fn detections(doc: &serde_json::Value) -> Vec<(String, Vec<Option<u64>>)> {
    doc["files"][0]["connections"]
        .as_array()
        .expect("connections")
        .iter()
        .map(|c| {
            let codes = c["closes"]
                .as_array()
                .map(|cl| cl.iter().map(|x| x["code"].as_u64()).collect())
                .unwrap_or_default();
            (c["detection"].as_str().unwrap_or("").to_string(), codes)
        })
        .collect()
}

#[test]
fn non_websocket_samples_have_no_websocket_connection() {
    let names = nonws_samples();
    assert!(names.len() >= 10, "{names:?}");
    for name in &names {
        let file = format!("samples/{name}");
        let doc = analyze_json(&file);
        let summary = &doc["files"][0]["summary"];
        assert!(
            summary["tcp_connections"].as_u64().unwrap_or(0) >= 1,
            "{name}: {summary}"
        );
        assert_eq!(summary["websocket_connections"], 0, "{name}: {summary}");
        assert_eq!(detections(&doc), vec![], "{name}");
        let (code, out, err) = run(&["check", &file]);
        assert_eq!(code, 0, "{name}: check failed:\n{out}{err}");
    }
}

#[test]
fn mid_stream_websocket_is_still_found_with_its_closes() {
    for (name, codes) in [
        ("mid-stream.pcap", [1008, 1008]),
        // Compressed frames (RSV1 set), joined after the permessage-deflate handshake.
        ("mid-stream-deflate.pcap", [1000, 1000]),
    ] {
        let doc = analyze_json(&format!("samples/{name}"));
        let codes: Vec<Option<u64>> = codes.iter().map(|c| Some(*c)).collect();
        assert_eq!(
            detections(&doc),
            vec![("heuristic".to_string(), codes)],
            "{name}"
        );
        let (code, out, err) = run(&["check", &format!("samples/{name}")]);
        assert_eq!(code, 0, "{name}: check failed:\n{out}{err}");
    }
}

/// A conversation joined mid-stream: no SYN, no handshake; `segments` are (from client,
/// bytes), in order.
fn mid_stream(segments: &[(bool, Vec<u8>)]) -> Vec<u8> {
    let mut c = Conv::handshake(1000, 5000);
    c.pkts.clear();
    (c.cseq, c.sseq) = (1001, 5001);
    for (from_client, bytes) in segments {
        c.send(*from_client, bytes);
    }
    c.fin(false);
    c.fin(true);
    c.pcap()
}

fn detected(name: &str, bytes: &[u8]) -> Vec<(Detection, Vec<Option<u16>>)> {
    let (_, conns, err) = analyze_bytes(name, bytes, &Options::default());
    assert!(err.is_none(), "{name}: {err:?}");
    conns
        .iter()
        .map(|c| (c.detection, c.closes.iter().map(|x| x.code).collect()))
        .collect()
}

#[test]
fn frames_that_hold_together_are_recognised() {
    let bytes = mid_stream(&[
        (true, frame(true, 1, true, b"hello")),
        (false, frame(true, 1, false, b"hello")),
        (true, frame(true, 8, true, &[0x03, 0xe8])),
        (false, frame(true, 8, false, &[0x03, 0xe8])),
    ]);
    assert_eq!(
        detected("tiles", &bytes),
        vec![(Detection::Heuristic, vec![Some(1000), Some(1000)])]
    );
}

#[test]
fn an_implausible_close_is_no_evidence_and_never_reported() {
    // Bytes that read as a server Close with code 30840 ("xx"), as a Kerberos stream once
    // did, then as a client Close 1000: the first is not a Close a peer sends.
    let bytes = mid_stream(&[
        (false, vec![0x88, 0x02, b'x', b'x']),
        (true, frame(true, 8, true, &[0x03, 0xe8])),
        (false, vec![0x88, 0x02, b'x', b'x']),
    ]);
    assert_eq!(detected("30840", &bytes), vec![]);
}

#[test]
fn masking_must_differ_between_the_sides() {
    // Both sides unmasked: at most one of them can be a server.
    let bytes = mid_stream(&[
        (true, frame(true, 2, false, b"abc")),
        (false, frame(true, 2, false, b"abc")),
        (true, frame(true, 2, false, b"def")),
        (false, frame(true, 2, false, b"def")),
    ]);
    assert_eq!(detected("masking", &bytes), vec![]);
}

#[test]
fn text_that_is_not_utf8_is_no_evidence() {
    let bytes = mid_stream(&[
        (false, frame(true, 1, false, &[0xff, 0xfe, 0x41])),
        (false, frame(true, 1, false, &[0xc3, 0x28])),
        (false, frame(true, 1, false, &[0xff])),
    ]);
    assert_eq!(detected("utf8", &bytes), vec![]);
}

#[test]
fn a_stream_that_starts_in_the_capture_without_an_upgrade_is_not_websocket() {
    // The SYN is in the capture and the first bytes are frames, not an HTTP Upgrade.
    let mut c = Conv::handshake(1000, 5000);
    c.pkts.truncate(3);
    (c.cseq, c.sseq) = (1001, 5001);
    for _ in 0..3 {
        c.send(true, &frame(true, 1, true, b"hi"));
        c.send(false, &frame(true, 1, false, b"hi"));
    }
    assert_eq!(detected("from-syn", &c.pcap()), vec![]);
}

#[test]
fn random_segments_are_not_websocket() {
    // A fixed xorshift stream: many conversations of random segments, none recognised.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut recognised = 0;
    for round in 0..200 {
        let segments: Vec<(bool, Vec<u8>)> = (0..8)
            .map(|i| {
                let len = 2 + (next() % 300) as usize;
                let bytes = (0..len).map(|_| next() as u8).collect();
                (i % 2 == 0, bytes)
            })
            .collect();
        recognised += detected(&format!("random-{round}"), &mid_stream(&segments)).len();
    }
    assert_eq!(recognised, 0);
}

/// The packets of a microsecond pcap after the one carrying the 101 answer, as a new pcap.
fn without_handshake(pcap: &[u8]) -> Option<Vec<u8>> {
    let header = pcap.get(..24)?;
    let mut records = Vec::new();
    let mut off = 24;
    while let Some(rec) = pcap.get(off..off + 16) {
        let caplen = u32::from_le_bytes(rec[8..12].try_into().ok()?) as usize;
        records.push(pcap.get(off..off + 16 + caplen)?);
        off += 16 + caplen;
    }
    let cut = records
        .iter()
        .position(|r| r.windows(12).any(|w| w == b"HTTP/1.1 101"))?;
    let mut out = header.to_vec();
    for r in &records[cut + 1..] {
        out.extend_from_slice(r);
    }
    Some(out)
}

/// The public Zeek WebSocket captures with their handshake cut off keep their Close frames
/// (skipped when `../shared/captures/zeek` is absent).
#[test]
fn zeek_websocket_captures_cut_after_the_handshake() {
    let dir = root().join("../shared/captures/zeek");
    if !dir.is_dir() {
        eprintln!("skipped: {} is absent", dir.display());
        return;
    }
    let cases: [(&str, Vec<Option<u64>>); 5] = [
        ("broker-websocket.pcap", vec![Some(1000)]),
        ("message-too-big-status.pcap", vec![Some(1009), Some(1000)]),
        ("jupyter-websocket.pcap", vec![None, None]),
        ("two-binary-fragments.pcap", vec![Some(1000), Some(1000)]),
        ("wstunnel-https.pcap", vec![Some(1000), Some(1000)]),
    ];
    for (name, codes) in cases {
        let bytes = std::fs::read(Path::new(&dir).join(name)).expect("read capture");
        let cut = without_handshake(&bytes).expect("a 101 in the capture");
        let path = temp_capture(&format!("nohs-{name}"), &cut);
        let doc = analyze_json(path.to_str().expect("path"));
        assert_eq!(
            detections(&doc),
            vec![(
                "heuristic".to_string(),
                codes.iter().map(|c| c.map(u64::from)).collect()
            )],
            "{name}"
        );
    }
}

/// A minimal TLS 1.2 ClientHello record: one cipher suite, no extensions.
fn client_hello() -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[0x11; 32]); // random
    body.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0]); // no session id, 1 suite, null compression
    let mut msg = vec![1, 0, 0, body.len() as u8];
    msg.extend_from_slice(&body);
    let mut rec = vec![22, 3, 1, 0, msg.len() as u8];
    rec.extend_from_slice(&msg);
    rec
}

#[test]
fn a_plaintext_page_answering_a_client_hello_is_quoted() {
    let mut c = Conv::handshake(1000, 5000);
    c.pkts.truncate(3);
    (c.cseq, c.sseq) = (1001, 5001);
    c.send(true, &client_hello());
    c.send(
        false,
        b"<!DOCTYPE HTML>\n<html lang=\"en\">\n<head><title>Error response</title>",
    );
    c.fin(false);
    c.fin(true);
    let (_, conns, err) = analyze_bytes("html-answer", &c.pcap(), &Options::default());
    assert!(err.is_none(), "{err:?}");
    let cause = conns
        .first()
        .and_then(|c| c.tls.as_ref())
        .and_then(|t| t.failure.as_ref())
        .map(|f| f.cause.clone())
        .unwrap_or_default();
    assert!(
        cause.contains("answered the TLS ClientHello in plaintext: `<!DOCTYPE HTML>`"),
        "{cause}"
    );
}
