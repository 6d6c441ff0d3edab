//! The evidence before a close, on real samples (`samples/evidence-*.pcap`, made by
//! `samples/gen/evidence/`): each close's diagnosis and the numbers behind it, checked
//! against what tshark shows for the same packets (`samples/tshark/NAME.tsv`, written by the
//! generator: every WebSocket frame with its time, ports, opcode, payload length and, for
//! compressed frames, the inflated length); and message content shown only when asked.

use std::collections::HashMap;

use wsclose::report::{
    CloseEvidence, CloseReport, Confidence, ConnReport, DiagnosisKind, MessageKind,
};
use wsclose::rules::Rule;
use wsclose::Options;

use crate::analysis::{analyze_sample, rules};

fn conns(sample: &str, opts: &Options) -> Vec<ConnReport> {
    let (_, conns, err) = analyze_sample(sample, opts);
    assert!(err.is_none(), "{sample}: {err:?}");
    conns
}

/// The first Close of the sample's first connection, which must carry evidence.
fn first_close(sample: &str) -> (ConnReport, CloseReport) {
    let c = conns(sample, &Options::default()).remove(0);
    let close = c.closes.first().cloned().expect("a Close");
    assert!(close.evidence.is_some(), "{sample}: no evidence");
    (c, close)
}

fn evidence(close: &CloseReport) -> &CloseEvidence {
    close.evidence.as_deref().expect("evidence")
}

/// (cause, confidence) of a close.
fn verdict(close: &CloseReport) -> (DiagnosisKind, Confidence) {
    let d = close.diagnosis.as_ref().expect("a diagnosis");
    (d.cause, d.confidence)
}

#[test]
fn rate_limit_names_the_burst() {
    let (_, close) = first_close("evidence-1008-rate.pcap");
    assert_eq!(close.code, Some(1008));
    assert_eq!(
        verdict(&close),
        (DiagnosisKind::RateLimit, Confidence::High)
    );
    let ev = evidence(&close);
    let burst = ev.peer.burst.as_ref().expect("a burst");
    // The client's 50-message burst came within a second, much faster than its chat.
    assert!(burst.messages >= 50, "{burst:?}");
    assert!(burst.span_ms < 1000.0, "{burst:?}");
    let before = burst.rate_before_per_s.expect("a rate before");
    assert!(burst.messages as f64 * 1000.0 / burst.span_ms > 5.0 * before);
    assert!(
        ev.trigger.is_some(),
        "the Close followed the burst's last message"
    );
    let summary = &close.diagnosis.as_ref().unwrap().summary;
    assert!(
        summary.contains(&format!("{} messages", burst.messages)),
        "{summary}"
    );
}

#[test]
fn lifetime_is_not_a_reaction_to_a_message() {
    let (_, close) = first_close("evidence-1008-lifetime.pcap");
    assert_eq!(verdict(&close), (DiagnosisKind::Lifetime, Confidence::High));
    let ev = evidence(&close);
    assert_eq!(ev.round_lifetime_s, Some(5));
    assert!((ev.age_ms - 5000.0).abs() < 60.0, "{}", ev.age_ms);
    assert!(ev.trigger.is_none());
    let last = ev.peer.recent.last().expect("client messages");
    assert!(last.ms_before > 300.0, "{last:?}");
}

#[test]
fn too_big_names_the_inflated_size() {
    let (c, close) = first_close("evidence-1009-deflate.pcap");
    assert!(c.handshake.as_ref().unwrap().permessage_deflate);
    // The last message before the close, and the largest: high even though the server took
    // longer than a reaction to inflate it.
    assert_eq!(
        verdict(&close),
        (DiagnosisKind::MessageTooBig, Confidence::High)
    );
    let ev = evidence(&close);
    let big = ev
        .peer
        .recent
        .iter()
        .max_by_key(|m| m.wire_bytes)
        .expect("messages");
    assert!(big.compressed);
    assert_eq!(big.inflated_bytes, Some(2 * 1024 * 1024));
    assert!(!big.inflated_at_least);
    assert!(
        big.wire_bytes < 1024 * 1024,
        "it crossed the limit only inflated"
    );
    // Context takeover: the earlier messages were inflated in order, so text is judged.
    assert!(ev.peer.recent.iter().all(|m| m.utf8_valid == Some(true)));
}

#[test]
fn invalid_utf8_is_found_in_the_message() {
    let (c, close) = first_close("evidence-1007-utf8.pcap");
    assert_eq!(
        verdict(&close),
        (DiagnosisKind::InvalidUtf8, Confidence::High)
    );
    let bad = evidence(&close)
        .peer
        .first_invalid
        .as_ref()
        .expect("the message");
    assert_eq!(bad.utf8_valid, Some(false));
    assert!(bad.invalid_utf8_at.is_some());
    assert!(rules(&c).contains(&Rule::InvalidUtf8Text));
}

#[test]
fn unsupported_names_the_message_type() {
    let (_, close) = first_close("evidence-1003-binary.pcap");
    assert_eq!(
        verdict(&close),
        (DiagnosisKind::UnsupportedType, Confidence::High)
    );
    let ev = evidence(&close);
    let t = ev.trigger.as_ref().expect("a trigger");
    let m = ev.peer.recent.iter().find(|m| m.frame == t.frame).unwrap();
    assert_eq!(m.kind, MessageKind::Binary);
}

#[test]
fn keepalive_timeout_counts_unanswered_pings() {
    let (_, close) = first_close("evidence-1011-keepalive.pcap");
    assert_eq!(close.code, Some(1011));
    assert_eq!(
        verdict(&close),
        (DiagnosisKind::KeepaliveTimeout, Confidence::High)
    );
    let ev = evidence(&close);
    assert!(ev.sender.pings >= 1);
    assert!(ev.sender.unanswered_pings >= 1);
    assert!(ev.sender.unanswered_pings <= ev.sender.pings);
    assert!(ev.peer.pongs < ev.sender.pings);
}

#[test]
fn a_deploy_closes_many_connections_at_once() {
    let all = conns("evidence-1001-deploy.pcap", &Options::default());
    let mut by_port: HashMap<u16, Vec<&ConnReport>> = HashMap::new();
    for c in &all {
        by_port.entry(c.server.port()).or_default().push(c);
    }
    let (restarted, others): (Vec<_>, Vec<_>) = by_port.values().partition(|v| {
        v.iter()
            .any(|c| c.closes.first().and_then(|x| x.code) == Some(1001))
    });
    assert_eq!(restarted.len(), 1, "one server restarted");
    let restarted = restarted[0];
    let n = restarted.len() as u64;
    assert!(n >= 10, "{n} connections");
    for c in restarted {
        let close = c.closes.first().unwrap();
        assert_eq!(verdict(close), (DiagnosisKind::Restart, Confidence::High));
        assert_eq!(evidence(close).same_instant.as_ref().unwrap().others, n - 1);
    }
    // The other server's connections closed normally at about the same time, and are not
    // counted with the restart.
    for c in others.iter().flat_map(|v| v.iter()) {
        let close = c.closes.first().unwrap();
        assert_ne!(close.code, Some(1001));
        assert!(close.diagnosis.is_none(), "{:?}", close.diagnosis);
    }
}

#[test]
fn a_deflate_bomb_is_a_finding_not_a_stall() {
    let (c, close) = first_close("evidence-deflate-bomb.pcap");
    assert_eq!(
        verdict(&close),
        (DiagnosisKind::DeflateBomb, Confidence::High)
    );
    assert!(rules(&c).contains(&Rule::DeflateBomb));
    let m = evidence(&close).peer.recent.last().unwrap();
    assert!(m.compressed && m.inflated_at_least, "{m:?}");
    assert_eq!(
        m.inflated_bytes,
        Some(wsclose::ws::inflate::MAX_MESSAGE_INFLATE)
    );
}

/// One WebSocket frame as tshark shows it.
struct TsharkFrame {
    frame: u64,
    time_ns: i64,
    src_port: u16,
    fin: bool,
    opcode: u8,
    len: u64,
    inflated: Option<u64>,
}

fn tshark_frames(sample: &str) -> Vec<TsharkFrame> {
    let path = format!(
        "{}/samples/tshark/{}.tsv",
        env!("CARGO_MANIFEST_DIR"),
        sample.trim_end_matches(".pcap")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (num, time, src, fin, op) = (
        col("frame.number"),
        col("frame.time_epoch"),
        col("tcp.srcport"),
        col("websocket.fin"),
        col("websocket.opcode"),
    );
    let (l7, l16, l64) = (
        col("websocket.payload_length"),
        col("websocket.payload_length_ext_16"),
        col("websocket.payload_length_ext_64"),
    );
    let inflated = header.iter().position(|h| *h == "decompressed_length");
    let mut out = Vec::new();
    for line in lines {
        let f: Vec<&str> = line.split('\t').collect();
        let get = |i: usize| f.get(i).copied().unwrap_or("");
        // A packet with several frames lists each field comma-separated: only one-frame
        // packets are compared.
        if get(op).contains(',') {
            continue;
        }
        let (secs, frac) = get(time).split_once('.').unwrap();
        let frac = format!("{frac:0<9}");
        let len = match get(l7).parse::<u64>().unwrap() {
            126 => get(l16).parse().unwrap(),
            127 => get(l64).parse().unwrap(),
            n => n,
        };
        out.push(TsharkFrame {
            frame: get(num).parse().unwrap(),
            time_ns: secs.parse::<i64>().unwrap() * 1_000_000_000
                + frac[..9].parse::<i64>().unwrap(),
            src_port: get(src).parse().unwrap(),
            fin: matches!(get(fin), "1" | "True" | "true"),
            opcode: get(op).parse().unwrap(),
            len,
            inflated: inflated.and_then(|i| get(i).parse().ok()),
        });
    }
    out
}

/// Every message the evidence lists before each Close has the packet, the size, the time
/// before the Close and (compressed) the inflated size tshark shows; the counts over the
/// last second and ten are tshark's messages in those windows.
#[test]
fn evidence_numbers_match_tshark() {
    for sample in [
        "evidence-1008-rate.pcap",
        "evidence-1008-lifetime.pcap",
        "evidence-1009-deflate.pcap",
        "evidence-1007-utf8.pcap",
        "evidence-1003-binary.pcap",
        "evidence-1011-keepalive.pcap",
    ] {
        let frames = tshark_frames(sample);
        for c in conns(sample, &Options::default()) {
            for close in c.closes.iter().filter(|x| x.evidence.is_some()) {
                let ev = evidence(close);
                let at = frames
                    .iter()
                    .find(|f| f.frame == close.frame)
                    .expect("the Close in tshark");
                assert_eq!(at.opcode, 8, "{sample}: packet {}", close.frame);
                let peer_port = close.dst.port();
                // The peer's whole messages before the Close: (last frame, size, inflated).
                let mut messages = Vec::new();
                let mut size = 0;
                for f in frames
                    .iter()
                    .filter(|f| f.src_port == peer_port && f.frame < close.frame)
                {
                    if matches!(f.opcode, 0..=2) {
                        size += f.len;
                        if f.fin {
                            messages.push((f, size));
                            size = 0;
                        }
                    }
                }
                assert_eq!(ev.peer.messages, messages.len() as u64, "{sample}");
                for m in &ev.peer.recent {
                    let (f, size) = messages
                        .iter()
                        .find(|(f, _)| f.frame == m.frame)
                        .unwrap_or_else(|| {
                            panic!("{sample}: packet {} is no message end in tshark", m.frame)
                        });
                    assert_eq!(m.wire_bytes, *size, "{sample}: packet {}", m.frame);
                    let before_ms = (at.time_ns - f.time_ns) as f64 / 1e6;
                    assert!(
                        (m.ms_before - before_ms).abs() < 0.002,
                        "{sample}: {} vs {before_ms}",
                        m.ms_before
                    );
                    if m.compressed && !m.inflated_at_least {
                        if let Some(n) = f.inflated {
                            assert_eq!(m.inflated_bytes, Some(n), "{sample}: packet {}", m.frame);
                        }
                    }
                }
                let within = |ns: i64| {
                    messages
                        .iter()
                        .filter(|(f, _)| at.time_ns - f.time_ns <= ns)
                        .count() as u64
                };
                assert_eq!(ev.peer.last_1s, within(1_000_000_000), "{sample}");
                assert_eq!(ev.peer.last_10s, within(10_000_000_000), "{sample}");
                let pings = frames
                    .iter()
                    .filter(|f| {
                        f.src_port == close.src.port() && f.opcode == 9 && f.frame < close.frame
                    })
                    .count() as u64;
                assert_eq!(ev.sender.pings, pings, "{sample}");
            }
        }
    }
}

/// Message content stays out of every report unless `--payloads` asks for it.
#[test]
fn payload_bytes_only_when_asked() {
    let sample = "evidence-1007-utf8.pcap";
    let quiet = serde_json::to_string(&conns(sample, &Options::default())).unwrap();
    assert!(!quiet.contains("\"head\""), "{quiet}");
    assert!(!quiet.contains("hello"), "the first message's text leaked");
    let mut opts = Options::default();
    opts.conn.payloads = true;
    let shown = serde_json::to_string(&conns(sample, &opts)).unwrap();
    assert!(shown.contains("\"head\":\"hello\""), "{shown}");
    let text = crate::wsclose(&["analyze", &format!("samples/{sample}")]);
    assert!(!String::from_utf8_lossy(&text.stdout).contains("\"hello\""));
    let text = crate::wsclose(&["analyze", "--payloads", &format!("samples/{sample}")]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("\"hello\""));
}

/// A client sends a 70,000-byte binary message in two frames (the second cut short), and the
/// server closes with 1009 while it is still arriving: the message in progress is reported
/// with what arrived, whether messages are recorded as their frames end or, with
/// `--payloads`, from their first header.
#[test]
fn a_message_still_arriving_is_the_one_too_big() {
    use crate::pcapgen::{close_body, frame, Conv};
    let mut c = Conv::handshake(100, 900);
    c.send(true, &frame(true, 1, true, b"hello"));
    let first = vec![7u8; 30_000];
    c.send(true, &frame(false, 2, true, &first));
    // The second frame declares 40,000 bytes; 10,000 of them arrive.
    let second = frame(true, 0, true, &vec![7u8; 40_000]);
    let header_len = second.len() - 40_000;
    c.send(true, &second[..header_len + 10_000]);
    c.send(false, &frame(true, 8, false, &close_body(1009, b"too big")));
    c.fin(false);
    let bytes = c.pcap();
    for payloads in [false, true] {
        let mut opts = Options::default();
        opts.conn.payloads = payloads;
        let (_, conns, _) = crate::analysis::analyze_bytes("arriving.pcap", &bytes, &opts);
        let close = conns[0].closes.first().expect("the server's Close");
        let ev = evidence(close);
        let m = ev.peer.in_progress.as_ref().expect("a message in progress");
        assert_eq!(m.kind, MessageKind::Binary, "payloads {payloads}");
        assert_eq!(m.frames, 2, "payloads {payloads}");
        assert_eq!(m.wire_bytes, 70_000, "payloads {payloads}");
        assert_eq!(m.received_bytes, Some(40_000), "payloads {payloads}");
        assert_eq!(ev.peer.messages, 1, "the text message before it");
        assert_eq!(
            verdict(close),
            (DiagnosisKind::MessageTooBig, Confidence::High),
            "payloads {payloads}"
        );
    }
}
