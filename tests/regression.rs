//! Reassembly and framing edge cases on synthetic captures built in memory.

use std::net::SocketAddr;

use wsclose::client::Family;
use wsclose::report::{
    ConnReport, Detection, FailureKind, FileReport, Finding, Outcome, TlsFailure, Verdict,
    WarningKind,
};
use wsclose::rules::{Rule, Severity};
use wsclose::tcp::Direction;
use wsclose::Options;

use crate::analysis::{analyze_bytes, rules};
use crate::pcapgen::{close_body, frame, packet, pcap, Conv, Pkt, ACK, PSH, SYN};
use crate::{temp_capture, wsclose};

/// The library on `bytes` with `opts` (read both ways); a fatal error fails the test, as a
/// failing exit status did.
fn analyze(name: &str, bytes: &[u8], opts: &Options) -> (FileReport, Vec<ConnReport>) {
    let (file, conns, err) = analyze_bytes(name, bytes, opts);
    if let Some(e) = err {
        panic!("{name}: {e}");
    }
    (file, conns)
}

/// The one connection of `bytes` analyzed with the default options.
fn only_conn(name: &str, bytes: &[u8]) -> ConnReport {
    only(analyze(name, bytes, &Options::default()).1)
}

/// The only connection of a capture; fails the test when there are more or none.
fn only(mut conns: Vec<ConnReport>) -> ConnReport {
    assert_eq!(conns.len(), 1, "{conns:#?}");
    conns.remove(0)
}

/// (frame, code) of each Close frame.
fn codes(c: &ConnReport) -> Vec<(u64, Option<u16>)> {
    c.closes.iter().map(|x| (x.frame, x.code)).collect()
}

/// The first finding about `rule`; fails the test when there is none.
fn finding(c: &ConnReport, rule: Rule) -> &Finding {
    c.findings
        .iter()
        .find(|f| f.rule == rule)
        .unwrap_or_else(|| panic!("no {rule} in {:?}", rules(c)))
}

/// The code of the first Close frame, if there is one and it has a code.
fn first_code(c: &ConnReport) -> Option<u16> {
    c.closes.first().and_then(|x| x.code)
}

/// The TLS failure of a connection; fails the test when there is none.
fn tls_failure(c: &ConnReport) -> &TlsFailure {
    c.tls
        .as_ref()
        .and_then(|t| t.failure.as_ref())
        .unwrap_or_else(|| panic!("no TLS failure: {c:#?}"))
}

/// Both Close frames, client first.
fn clean_close(c: &mut Conv, code: u16) {
    c.send(true, &frame(true, 8, true, &close_body(code, b"bye")));
    c.send(false, &frame(true, 8, false, &close_body(code, b"bye")));
    c.fin(false);
    c.fin(true);
}

#[test]
fn close_frame_split_across_segments_and_reordered() {
    let mut c = Conv::handshake(1000, 5000);
    let close = frame(
        true,
        8,
        false,
        &close_body(1011, b"internal error while saving"),
    );
    let (a, rest) = close.split_at(3);
    let (b, d) = rest.split_at(10);
    // Server sends the Close in three segments; the capture holds them out of order.
    let s = c.sseq;
    c.raw(false, PSH | ACK, b"");
    c.pkts.pop();
    let mk = |seq: u32, data: &[u8], ts: u64| Pkt {
        ts_us: ts,
        from_client: false,
        seq,
        ack: c.cseq,
        flags: PSH | ACK,
        payload: data.to_vec(),
    };
    let t = c.ts_us;
    c.pkts.push(mk(s, a, t + 1));
    c.pkts.push(mk(s + (a.len() + b.len()) as u32, d, t + 2));
    c.pkts.push(mk(s + a.len() as u32, b, t + 3));
    c.sseq = s + close.len() as u32;
    c.ts_us = t + 10;
    c.send(true, &frame(true, 8, true, &close_body(1011, b"")));
    c.fin(false);
    let conn = only_conn("split-reordered.pcap", &c.pcap());
    // The frame completes with the segment that fills the hole: the 8th packet.
    assert_eq!(codes(&conn), vec![(8, Some(1011)), (9, Some(1011))]);
    assert_eq!(
        conn.closes[0].reason.as_deref(),
        Some("internal error while saving")
    );
    assert_eq!(conn.story.first_closer, Some(Direction::ServerToClient));
}

#[test]
fn gap_inside_a_message_does_not_lose_the_close() {
    let mut c = Conv::handshake(7, 9);
    let big = frame(true, 2, false, &vec![0xab; 3000]);
    let (head, tail) = big.split_at(1000);
    let (middle, end) = tail.split_at(1000);
    c.send(false, head);
    let before = c.sseq;
    c.sseq += middle.len() as u32; // this segment is missing from the capture
    c.send(false, end);
    c.raw(true, ACK, &[]); // the client acknowledges everything: the hole is real
    assert!(c.sseq > before);
    clean_close(&mut c, 1000);
    let conn = only_conn("gap.pcap", &c.pcap());
    assert_eq!(codes(&conn).len(), 2);
    assert_eq!(conn.story.outcome, Outcome::Clean);
    assert!(
        rules(&conn).contains(&Rule::CaptureGap),
        "{:?}",
        rules(&conn)
    );
    assert!(
        !rules(&conn).contains(&Rule::LostFrameSync),
        "the gap is inside a payload"
    );
}

#[test]
fn sequence_numbers_wrap() {
    let mut c = Conv::handshake(u32::MAX - 100, u32::MAX - 150);
    for i in 0..5 {
        c.send(
            true,
            &frame(
                true,
                1,
                true,
                format!("message {i} crossing the wrap").as_bytes(),
            ),
        );
        c.send(false, &frame(true, 1, false, b"ack"));
    }
    clean_close(&mut c, 1001);
    let conn = only_conn("wrap.pcap", &c.pcap());
    assert_eq!(conn.messages[Direction::ClientToServer], 5);
    assert_eq!(codes(&conn).len(), 2);
    assert!(rules(&conn).is_empty(), "{:?}", rules(&conn));
}

#[test]
fn frame_rule_violations() {
    let mut c = Conv::handshake(1, 1);
    c.send(true, &frame(true, 0x41, true, b"rsv1 without deflate")); // RSV1 + text
    c.send(true, &frame(true, 3, true, b"reserved opcode"));
    c.send(true, &frame(false, 9, true, b"fragmented ping"));
    c.send(true, &frame(true, 0, true, b"continuation without start"));
    c.send(false, &frame(true, 1, true, b"masked server frame"));
    c.send(false, &[0x82, 126, 0, 5, 1, 2, 3, 4, 5]); // 5 in 16 bits: not minimal
    c.send(false, &frame(false, 1, false, b"start"));
    c.send(false, &frame(true, 2, false, b"new message inside"));
    clean_close(&mut c, 1000);
    c.send(true, &frame(true, 1, true, b"after close"));
    let conn = only_conn("violations.pcap", &c.pcap());
    let r = rules(&conn);
    for rule in [
        Rule::ReservedBitsSet,
        Rule::ReservedOpcode,
        Rule::FragmentedControlFrame,
        Rule::ContinuationWithoutStart,
        Rule::MaskedServerFrame,
        Rule::NonMinimalLength,
        Rule::NewMessageInsideFragmented,
        Rule::DataAfterClose,
    ] {
        assert!(r.contains(&rule), "{rule} missing from {r:?}");
    }
    assert!(conn.story.data_after_close);
}

#[test]
fn second_close_and_accept_mismatch() {
    let mut c = Conv {
        pkts: Vec::new(),
        cseq: 1,
        sseq: 1,
        ts_us: 1_000_000,
    };
    c.send(true, crate::pcapgen::REQUEST);
    c.send(
        false,
        &crate::pcapgen::RESPONSE
            .iter()
            .map(|b| if *b == b's' { b'S' } else { *b })
            .collect::<Vec<u8>>(),
    );
    c.send(false, &frame(true, 8, false, &close_body(1000, b"")));
    c.send(false, &frame(true, 8, false, &close_body(1000, b"")));
    let conn = only_conn("second-close.pcap", &c.pcap());
    let r = rules(&conn);
    assert!(r.contains(&Rule::SecondClose), "{r:?}");
    assert!(r.contains(&Rule::AcceptMismatch), "{r:?}");
    assert_eq!(conn.closes.len(), 2);
    assert_eq!(conn.story.outcome, Outcome::OneSided);
}

#[test]
fn port_reuse_gives_two_connections() {
    let mut a = Conv::handshake(100, 200);
    clean_close(&mut a, 1000);
    let mut b = Conv::handshake(90_000, 80_000);
    b.ts_us = a.ts_us + 5_000_000;
    let mut pkts = a.pkts;
    for (i, mut p) in b.pkts.into_iter().enumerate() {
        p.ts_us = a.ts_us + 5_000_000 + i as u64;
        pkts.push(p);
    }
    let mut tail = Conv {
        pkts: Vec::new(),
        cseq: b.cseq,
        sseq: b.sseq,
        ts_us: a.ts_us + 6_000_000,
    };
    clean_close(&mut tail, 4000);
    pkts.extend(tail.pkts);
    let (_, conns) = analyze("reuse.pcap", &pcap(&pkts), &Options::default());
    assert_eq!(conns.len(), 2);
    assert_eq!(first_code(&conns[0]), Some(1000));
    assert_eq!(first_code(&conns[1]), Some(4000));
}

#[test]
fn flow_cap_evicts_and_says_so() {
    // Three connections open at once with room for two.
    let convs = (0..3u16)
        .map(|i| {
            let mut c = Conv::handshake(u32::from(i) * 1000, 50);
            for p in &mut c.pkts {
                p.ts_us += u64::from(i) * 100_000;
            }
            (40000 + i, c.pkts)
        })
        .collect();
    let bytes = multi(convs);
    let opts = Options {
        max_flows: 2,
        ..Options::default()
    };
    let (file, conns) = analyze("evict.pcap", &bytes, &opts);
    assert_eq!(conns.len(), 3);
    assert!(
        file.warnings
            .iter()
            .any(|w| w.kind == WarningKind::FlowsEvicted),
        "{:?}",
        file.warnings
    );
    let evicted = conns
        .iter()
        .filter(|c| rules(c).contains(&Rule::FlowEvicted))
        .count();
    assert!(evicted >= 1);
}

#[test]
fn ws_port_forces_detection_of_a_lone_frame() {
    // Mid-stream: one server frame that the heuristic alone would not trust.
    let pkts = vec![Pkt {
        ts_us: 1,
        from_client: false,
        seq: 10,
        ack: 1,
        flags: PSH | ACK,
        payload: {
            let mut v = frame(true, 8, false, &close_body(1013, b"try later"));
            v.push(0x81); // the first byte of a next frame
            v
        },
    }];
    let (_, conns) = analyze("forced-none.pcap", &pcap(&pkts), &Options::default());
    assert_eq!(conns.len(), 0, "{conns:#?}");
    let mut opts = Options::default();
    opts.conn.ws_ports = vec![80];
    let conn = only(analyze("forced.pcap", &pcap(&pkts), &opts).1);
    assert_eq!(conn.detection, Detection::Forced);
    assert_eq!(first_code(&conn), Some(1013));
    assert_eq!(conn.closes[0].direction, Direction::ServerToClient);
}

#[test]
fn tiny_buffer_gives_up_on_holes_and_reports_it() {
    let mut c = Conv::handshake(1, 1);
    let msgs: Vec<Vec<u8>> = (0..4)
        .map(|i| frame(true, 2, false, &vec![i; 400]))
        .collect();
    let start = c.sseq;
    let mut seq = start;
    let mut segs = Vec::new();
    for m in &msgs {
        segs.push((seq, m.clone()));
        seq += m.len() as u32;
    }
    c.sseq = seq;
    // The first segment is lost; the other three wait in a buffer too small for them.
    for (s, m) in segs.iter().skip(1) {
        c.ts_us += 10;
        c.pkts.push(Pkt {
            ts_us: c.ts_us,
            from_client: false,
            seq: *s,
            ack: c.cseq,
            flags: PSH | ACK,
            payload: m.clone(),
        });
    }
    clean_close(&mut c, 1000);
    let mut opts = Options::default();
    opts.conn.max_pending = 500;
    let conn = only(analyze("tiny-buffer.pcap", &c.pcap(), &opts).1);
    let gap = finding(&conn, Rule::BufferLimit);
    assert!(gap.message.contains("buffer limit"), "{gap:?}");
    assert_eq!(
        codes(&conn).len(),
        2,
        "the Close frames after the hole are still found"
    );
}

#[test]
fn different_bytes_in_a_retransmission_are_a_finding() {
    let mut c = Conv::handshake(1, 1);
    let m = frame(true, 1, false, b"original text");
    let seq = c.sseq;
    c.send(false, &m);
    let mut altered = m.clone();
    let n = altered.len();
    altered[n - 1] = b'X';
    c.pkts.push(Pkt {
        ts_us: c.ts_us + 5,
        from_client: false,
        seq,
        ack: c.cseq,
        flags: PSH | ACK,
        payload: altered,
    });
    clean_close(&mut c, 1000);
    let conn = only_conn("retrans.pcap", &c.pcap());
    assert!(
        rules(&conn).contains(&Rule::InconsistentRetransmission),
        "{:?}",
        rules(&conn)
    );
    assert_eq!(
        conn.messages[Direction::ServerToClient],
        1,
        "delivered once"
    );
}

#[test]
fn syn_only_and_non_websocket_traffic_are_not_reported() {
    let mut c = Conv {
        pkts: Vec::new(),
        cseq: 1,
        sseq: 1,
        ts_us: 1,
    };
    c.raw(true, SYN, &[]);
    c.send(true, b"\x16\x03\x01\x00\x05hello");
    c.send(false, b"SSH-2.0-OpenSSH_9.6\r\n");
    let (file, conns) = analyze("other.pcap", &c.pcap(), &Options::default());
    assert_eq!(conns.len(), 0, "{conns:#?}");
    assert_eq!(file.summary.tcp_connections, 1);
}

#[test]
fn tls_session_joined_mid_stream_is_encrypted_not_abnormal() {
    let record = |len: usize| {
        let mut r = vec![23, 3, 3];
        r.extend_from_slice(&(len as u16).to_be_bytes());
        r.extend(std::iter::repeat_n(0x5a, len));
        r
    };
    let mut c = Conv {
        pkts: Vec::new(),
        cseq: 1000,
        sseq: 9000,
        ts_us: 1,
    };
    c.send(true, &record(120));
    c.send(false, &record(300));
    c.send(true, &record(80));
    c.fin(false);
    c.fin(true);
    let conn = only_conn("tls-mid-stream.pcap", &c.pcap());
    assert_eq!(conn.detection, Detection::Tls);
    assert_eq!(conn.story.outcome, Outcome::Encrypted);
    let tls = conn.tls.as_ref().expect("a TLS summary");
    assert!(tls.failure.is_none(), "{:?}", tls.failure);
    assert!(!rules(&conn).contains(&Rule::NoCloseHandshake));
}

#[test]
fn port_reuse_without_the_old_teardown_in_the_capture() {
    // The first connection's FIN/RST are missing; a new SYN with another ISN starts over.
    let mut a = Conv::handshake(100, 200);
    a.send(true, &frame(true, 1, true, b"first"));
    let mut b = Conv::handshake(70_000, 80_000);
    let mut pkts = a.pkts;
    let base = a.ts_us + 1_000_000;
    for (i, mut p) in b.pkts.drain(..).enumerate() {
        p.ts_us = base + i as u64;
        pkts.push(p);
    }
    let mut tail = Conv {
        pkts: Vec::new(),
        cseq: b.cseq,
        sseq: b.sseq,
        ts_us: base + 100,
    };
    clean_close(&mut tail, 1001);
    pkts.extend(tail.pkts);
    let (_, conns) = analyze("reuse-no-fin.pcap", &pcap(&pkts), &Options::default());
    assert_eq!(conns.len(), 2, "{conns:#?}");
    assert_eq!(first_code(&conns[1]), Some(1001));
    assert_eq!(conns[1].story.outcome, Outcome::Clean);
}

#[test]
fn capture_wide_buffer_budget_is_enforced() {
    // Two connections, each waiting on a hole with 800 bytes buffered behind it; the budget
    // holds 1000 bytes, so the second gives up on its hole rather than buffer.
    let mut convs = Vec::new();
    for (i, port) in [40000u16, 40001].into_iter().enumerate() {
        let mut c = Conv::handshake(1 + i as u32 * 10_000, 500);
        let msgs: Vec<Vec<u8>> = (0..3)
            .map(|k| frame(true, 2, false, &vec![k; 398]))
            .collect();
        let mut seq = c.sseq;
        for (k, m) in msgs.iter().enumerate() {
            if k > 0 {
                c.ts_us += 10;
                c.pkts.push(Pkt {
                    ts_us: c.ts_us,
                    from_client: false,
                    seq,
                    ack: c.cseq,
                    flags: PSH | ACK,
                    payload: m.clone(),
                });
            }
            seq += m.len() as u32;
        }
        for p in &mut c.pkts {
            p.ts_us += i as u64 * 1000;
        }
        convs.push((port, c.pkts));
    }
    let bytes = multi(convs);
    let opts = Options {
        max_total_pending: 1000,
        ..Options::default()
    };
    let (_, conns) = analyze("budget.pcap", &bytes, &opts);
    assert_eq!(conns.len(), 2);
    let gave_up = conns
        .iter()
        .filter(|c| {
            c.findings
                .iter()
                .any(|f| f.rule == Rule::BufferLimit && f.message.contains("buffer limit"))
        })
        .count();
    assert_eq!(gave_up, 1, "{conns:#?}");
}

#[test]
fn server_sending_1010_is_a_warning() {
    let mut c = Conv::handshake(1, 1);
    c.send(false, &frame(true, 8, false, &close_body(1010, b"")));
    c.send(true, &frame(true, 8, true, &close_body(1010, b"")));
    c.fin(false);
    c.fin(true);
    let conn = only_conn("server-1010.pcap", &c.pcap());
    assert!(
        rules(&conn).contains(&Rule::ServerSentMandatoryExtension),
        "{:?}",
        rules(&conn)
    );
    assert_eq!(conn.closes[0].verdict, Verdict::Legal);
    let f = finding(&conn, Rule::ServerSentMandatoryExtension);
    assert_eq!(f.severity, Severity::Warning);
}

/// One pcap holding several conversations, each with its own client port (the builder
/// gives every conversation port 40000; this rewrites it).
fn multi(convs: Vec<(u16, Vec<Pkt>)>) -> Vec<u8> {
    let mut pkts: Vec<(u16, Pkt)> = convs
        .into_iter()
        .flat_map(|(port, ps)| ps.into_iter().map(move |p| (port, p)))
        .collect();
    pkts.sort_by_key(|(_, p)| p.ts_us);
    let mut bytes = pcap(
        &pkts
            .iter()
            .map(|(_, p)| Pkt {
                payload: p.payload.clone(),
                ..*p
            })
            .collect::<Vec<_>>(),
    );
    let mut off = 24;
    for (port, p) in &pkts {
        let tcp = off + 16 + 14 + 20;
        let at = if p.from_client { tcp } else { tcp + 2 };
        bytes[at..at + 2].copy_from_slice(&port.to_be_bytes());
        off += 16 + 14 + 40 + p.payload.len();
    }
    bytes
}

#[test]
fn handshakes_in_progress_count_against_the_budget() {
    // Three clients each send 2000 bytes of an HTTP head that does not end yet; the budget
    // holds 5000 bytes, so the third connection's partial head is dropped, and it says so.
    let mut convs = Vec::new();
    for i in 0..3u16 {
        let mut c = Conv {
            pkts: Vec::new(),
            cseq: 1,
            sseq: 1,
            ts_us: 1_000 + u64::from(i) * 100,
        };
        c.raw(true, SYN, &[]);
        c.cseq += 1;
        let mut head = b"GET /chat HTTP/1.1\r\nUpgrade: websocket\r\nX-Pad: ".to_vec();
        head.resize(2000, b'a');
        c.send(true, &head);
        convs.push((41000 + i, c.pkts));
    }
    let opts = Options {
        max_total_pending: 5000,
        ..Options::default()
    };
    let conn = only(analyze("head-budget.pcap", &multi(convs.clone()), &opts).1);
    assert_eq!(conn.client, "10.0.0.1:41002".parse::<SocketAddr>().unwrap());
    let gap = finding(&conn, Rule::BufferLimit);
    assert!(gap.message.contains("buffer budget"), "{gap:?}");
    // With the default budget nothing is dropped and nothing is reported.
    let (_, conns) = analyze(
        "head-budget-default.pcap",
        &multi(convs),
        &Options::default(),
    );
    assert_eq!(conns.len(), 0, "{conns:#?}");
}

/// A TLS record that starts like a ClientHello (content type 22, TLS 1.0 record version).
fn client_hello_record() -> Vec<u8> {
    let body = [1u8, 0, 0, 4, 3, 3, 0, 0];
    let mut r = vec![22, 3, 1];
    r.extend_from_slice(&(body.len() as u16).to_be_bytes());
    r.extend_from_slice(&body);
    r
}

#[test]
fn wss_client_answered_in_plain_http() {
    let mut c = Conv {
        pkts: Vec::new(),
        cseq: 1,
        sseq: 1,
        ts_us: 1,
    };
    c.raw(true, SYN, &[]);
    c.cseq += 1;
    c.send(true, &client_hello_record());
    c.send(
        false,
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
    );
    c.fin(false);
    let conn = only_conn("http-answer.pcap", &c.pcap());
    let f = tls_failure(&conn);
    assert_eq!(f.kind, FailureKind::HttpAnswer, "{conn:#?}");
    assert!(f.cause.contains("HTTP/1.1 400 Bad Request"), "{f:?}");
    // An unidentified client: what each family reports, side by side (Chromium's 1006,
    // Node's error without a close code).
    let seen = conn.story.client_observed.as_ref().expect("observed");
    assert!(
        seen.alternatives
            .iter()
            .any(|a| a.families.contains(&Family::Chromium) && a.reported.code == Some(1006)),
        "{seen:?}"
    );
    assert!(
        seen.alternatives
            .iter()
            .any(|a| a.families.contains(&Family::Node) && a.reported.code.is_none()),
        "{seen:?}"
    );
}

#[test]
fn ws_request_answered_by_a_tls_alert() {
    let mut c = Conv {
        pkts: Vec::new(),
        cseq: 1,
        sseq: 1,
        ts_us: 1,
    };
    c.raw(true, SYN, &[]);
    c.cseq += 1;
    c.send(true, crate::pcapgen::REQUEST);
    c.send(false, &[21, 3, 3, 0, 2, 2, 10]); // fatal unexpected_message
    c.fin(false);
    let conn = only_conn("plain-to-tls.pcap", &c.pcap());
    let f = tls_failure(&conn);
    assert_eq!(f.kind, FailureKind::PlainHttpToTls, "{conn:#?}");
    // The Upgrade is never answered: browsers report 1006, as for any drop.
    let seen = conn.story.client_observed.as_ref().expect("observed");
    assert!(
        seen.alternatives
            .iter()
            .any(|a| a.families.contains(&Family::Chromium) && a.reported.code == Some(1006)),
        "{seen:?}"
    );
    assert!(f.cause.contains("unexpected_message"), "{f:?}");
}

#[test]
fn missing_accept_msb_length_and_a_stream_that_stops_inside_a_frame() {
    let mut c = Conv {
        pkts: Vec::new(),
        cseq: 1,
        sseq: 1,
        ts_us: 1,
    };
    c.send(true, crate::pcapgen::REQUEST);
    c.send(
        false,
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    );
    // A 64-bit length with its top bit set: the stream cannot hold that many bytes, so the
    // capture ends inside the frame.
    c.send(false, &[0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4]);
    let conn = only_conn("msb.pcap", &c.pcap());
    let r = rules(&conn);
    for rule in [
        Rule::MissingAccept,
        Rule::LengthMsbSet,
        Rule::TruncatedAtEnd,
    ] {
        assert!(r.contains(&rule), "{rule} missing from {r:?}");
    }
    let handshake = conn.handshake.as_ref().expect("a handshake");
    assert_eq!(handshake.accept_valid, None);
}

#[test]
fn close_payload_partly_missing_from_the_capture() {
    let mut c = Conv::handshake(1, 1);
    let close = frame(
        true,
        8,
        false,
        &close_body(1001, b"server restarting for maintenance"),
    );
    let (head, tail) = close.split_at(6);
    let (lost, rest) = tail.split_at(10);
    c.send(false, head);
    c.sseq += lost.len() as u32; // not in the capture
    c.send(false, rest);
    c.raw(true, ACK, &[]);
    c.send(true, &frame(true, 8, true, &close_body(1001, b"")));
    c.fin(false);
    c.fin(true);
    let conn = only_conn("close-gap.pcap", &c.pcap());
    assert!(
        rules(&conn).contains(&Rule::CloseIncomplete),
        "{:?}",
        rules(&conn)
    );
    assert_eq!(
        first_code(&conn),
        Some(1001),
        "the code was in the captured part"
    );
    assert_eq!(
        conn.closes[0].verdict,
        Verdict::Legal,
        "a cut reason is not an invalid one"
    );
}

#[test]
fn unsupported_link_types_and_ip_fragments_are_file_warnings() {
    // One packet on link type 147 (user-defined) and one IPv4 fragment carrying TCP.
    let p = wsclose_testgen::pcap::file_header(147).to_vec();
    let record = |data: &[u8]| {
        let mut r = Vec::new();
        wsclose_testgen::pcap::push_raw_record(&mut r, 0, 0, data);
        r
    };
    let mut user = p.clone();
    user.extend(record(&[1, 2, 3, 4]));
    let (file, _) = analyze("user-linktype.pcap", &user, &Options::default());
    let w = file.warnings.first().expect("a warning");
    assert_eq!(w.kind, WarningKind::UnsupportedLinktype);
    assert!(w.message.contains("link type 147"), "{w:?}");
    // The kind's JSON name is part of the documented output.
    assert_eq!(
        serde_json::to_value(w).unwrap()["kind"],
        "unsupported_linktype"
    );
    // `-v` prints the warning on stderr: that is the command line's job.
    let out = wsclose(&[
        "analyze",
        "-v",
        temp_capture("user-linktype.pcap", &user).to_str().unwrap(),
    ]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("warning: link type 147 is not supported")
    );

    let mut frag = packet(&Pkt {
        ts_us: 1,
        from_client: true,
        seq: 1,
        ack: 1,
        flags: ACK,
        payload: b"abc".to_vec(),
    });
    frag[20] = 0x20; // IPv4 flags: more fragments
    let mut eth = pcap(&[]);
    eth.extend(record(&frag));
    let (file, _) = analyze("fragment.pcap", &eth, &Options::default());
    assert_eq!(
        file.warnings.first().map(|w| w.kind),
        Some(WarningKind::IpFragments),
        "{:?}",
        file.warnings
    );
}

#[test]
fn random_tcp_payloads_are_not_taken_for_websocket() {
    // 2000 mid-stream flows of pseudo-random bytes, one direction each: a single segment
    // looks like a whole frame now and then (7 of these flows when one was trusted);
    // none may be reported as WebSocket.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut convs = Vec::new();
    for f in 0..2000u16 {
        let mut c = Conv {
            pkts: Vec::new(),
            cseq: next() as u32,
            sseq: next() as u32,
            ts_us: 1 + u64::from(f) * 10,
        };
        for _ in 0..6 {
            let len = [1usize, 7, 60, 500, 1400][(next() % 5) as usize];
            let payload: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            c.send(true, &payload);
        }
        convs.push((20000 + f, c.pkts));
    }
    let (file, conns) = analyze("random-flows.pcap", &multi(convs), &Options::default());
    assert_eq!(file.summary.tcp_connections, 2000);
    assert_eq!(conns.len(), 0, "{:?}", file.summary);
}
