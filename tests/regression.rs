//! Reassembly and framing edge cases on synthetic captures built in memory.

use serde_json::Value;

use crate::pcapgen::{close_body, frame, packet, pcap, Conv, Pkt, ACK, PSH, SYN};
use crate::{temp_capture, wsclose};

fn analyze(name: &str, bytes: &[u8], extra: &[&str]) -> Value {
    let path = temp_capture(name, bytes);
    let mut args = vec!["analyze", "--format", "json"];
    args.extend_from_slice(extra);
    args.push(path.to_str().unwrap());
    let out = wsclose(&args);
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn only_conn(doc: &Value) -> &Value {
    let c = doc["files"][0]["connections"].as_array().unwrap();
    assert_eq!(c.len(), 1, "{doc}");
    &c[0]
}

fn rules(c: &Value) -> Vec<String> {
    c["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect()
}

fn codes(c: &Value) -> Vec<(u64, Option<u64>)> {
    c["closes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["frame"].as_u64().unwrap(), x["code"].as_u64()))
        .collect()
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
    let doc = analyze("split-reordered.pcap", &c.pcap(), &[]);
    let conn = only_conn(&doc);
    // The frame completes with the segment that fills the hole: the 8th packet.
    assert_eq!(codes(conn), vec![(8, Some(1011)), (9, Some(1011))]);
    assert_eq!(conn["closes"][0]["reason"], "internal error while saving");
    assert_eq!(conn["story"]["first_closer"], "server_to_client");
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
    let doc = analyze("gap.pcap", &c.pcap(), &[]);
    let conn = only_conn(&doc);
    assert_eq!(codes(conn).len(), 2);
    assert_eq!(conn["story"]["outcome"], "clean");
    assert!(
        rules(conn).contains(&"CaptureGap".to_string()),
        "{:?}",
        rules(conn)
    );
    assert!(
        !rules(conn).contains(&"LostFrameSync".to_string()),
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
    let conn = only_conn(&analyze("wrap.pcap", &c.pcap(), &[])).clone();
    assert_eq!(conn["messages"]["client_to_server"], 5);
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
    let conn = only_conn(&analyze("violations.pcap", &c.pcap(), &[])).clone();
    let r = rules(&conn);
    for rule in [
        "ReservedBitsSet",
        "ReservedOpcode",
        "FragmentedControlFrame",
        "ContinuationWithoutStart",
        "MaskedServerFrame",
        "NonMinimalLength",
        "NewMessageInsideFragmented",
        "DataAfterClose",
    ] {
        assert!(r.contains(&rule.to_string()), "{rule} missing from {r:?}");
    }
    assert_eq!(conn["story"]["data_after_close"], true);
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
    let conn = only_conn(&analyze("second-close.pcap", &c.pcap(), &[])).clone();
    let r = rules(&conn);
    assert!(r.contains(&"SecondClose".to_string()), "{r:?}");
    assert!(r.contains(&"AcceptMismatch".to_string()), "{r:?}");
    assert_eq!(conn["closes"].as_array().unwrap().len(), 2);
    assert_eq!(conn["story"]["outcome"], "one_sided");
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
    let doc = analyze("reuse.pcap", &pcap(&pkts), &[]);
    let conns = doc["files"][0]["connections"].as_array().unwrap();
    assert_eq!(conns.len(), 2);
    assert_eq!(conns[0]["closes"][0]["code"], 1000);
    assert_eq!(conns[1]["closes"][0]["code"], 4000);
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
    let doc = analyze("evict.pcap", &bytes, &["--max-flows", "2"]);
    let file = &doc["files"][0];
    assert_eq!(file["connections"].as_array().unwrap().len(), 3);
    assert!(
        file["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["kind"] == "flows_evicted"),
        "{file}"
    );
    let evicted = file["connections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| rules(c).contains(&"FlowEvicted".to_string()))
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
    let doc = analyze("forced-none.pcap", &pcap(&pkts), &[]);
    assert_eq!(doc["files"][0]["connections"].as_array().unwrap().len(), 0);
    let doc = analyze("forced.pcap", &pcap(&pkts), &["--ws-port", "80"]);
    let conn = only_conn(&doc);
    assert_eq!(conn["detection"], "forced");
    assert_eq!(conn["closes"][0]["code"], 1013);
    assert_eq!(conn["closes"][0]["direction"], "server_to_client");
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
    let conn = only_conn(&analyze(
        "tiny-buffer.pcap",
        &c.pcap(),
        &["--max-buffer", "500"],
    ))
    .clone();
    let gap = conn["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "CaptureGap")
        .expect("gap finding")
        .clone();
    assert!(
        gap["message"].as_str().unwrap().contains("buffer limit"),
        "{gap}"
    );
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
    let conn = only_conn(&analyze("retrans.pcap", &c.pcap(), &[])).clone();
    assert!(
        rules(&conn).contains(&"InconsistentRetransmission".to_string()),
        "{:?}",
        rules(&conn)
    );
    assert_eq!(conn["messages"]["server_to_client"], 1, "delivered once");
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
    let doc = analyze("other.pcap", &c.pcap(), &[]);
    assert_eq!(doc["files"][0]["connections"].as_array().unwrap().len(), 0);
    assert_eq!(doc["files"][0]["summary"]["tcp_connections"], 1);
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
    let conn = only_conn(&analyze("tls-mid-stream.pcap", &c.pcap(), &[])).clone();
    assert_eq!(conn["detection"], "tls");
    assert_eq!(conn["story"]["outcome"], "encrypted");
    assert!(conn["tls"]["failure"].is_null());
    assert!(!rules(&conn).contains(&"NoCloseHandshake".to_string()));
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
    let doc = analyze("reuse-no-fin.pcap", &pcap(&pkts), &[]);
    let conns = doc["files"][0]["connections"].as_array().unwrap();
    assert_eq!(conns.len(), 2, "{doc}");
    assert_eq!(conns[1]["closes"][0]["code"], 1001);
    assert_eq!(conns[1]["story"]["outcome"], "clean");
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
    let doc = analyze("budget.pcap", &bytes, &["--max-buffer-total", "1000"]);
    let conns = doc["files"][0]["connections"].as_array().unwrap();
    assert_eq!(conns.len(), 2);
    let gave_up = conns
        .iter()
        .filter(|c| {
            c["findings"].as_array().unwrap().iter().any(|f| {
                f["rule"] == "CaptureGap" && f["message"].as_str().unwrap().contains("buffer limit")
            })
        })
        .count();
    assert_eq!(gave_up, 1, "{doc}");
}

#[test]
fn server_sending_1010_is_a_warning() {
    let mut c = Conv::handshake(1, 1);
    c.send(false, &frame(true, 8, false, &close_body(1010, b"")));
    c.send(true, &frame(true, 8, true, &close_body(1010, b"")));
    c.fin(false);
    c.fin(true);
    let conn = only_conn(&analyze("server-1010.pcap", &c.pcap(), &[])).clone();
    assert!(
        rules(&conn).contains(&"ServerSentMandatoryExtension".to_string()),
        "{:?}",
        rules(&conn)
    );
    assert_eq!(conn["closes"][0]["verdict"], "legal");
    let finding = conn["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "ServerSentMandatoryExtension")
        .unwrap()
        .clone();
    assert_eq!(finding["severity"], "warning");
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
    let doc = analyze(
        "head-budget.pcap",
        &multi(convs.clone()),
        &["--max-buffer-total", "5000"],
    );
    let conns = doc["files"][0]["connections"].as_array().unwrap();
    assert_eq!(conns.len(), 1, "{doc}");
    assert!(conns[0]["client"].as_str().unwrap().ends_with(":41002"));
    let gap = conns[0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "CaptureGap")
        .expect("gap")
        .clone();
    assert!(
        gap["message"].as_str().unwrap().contains("buffer budget"),
        "{gap}"
    );
    // With the default budget nothing is dropped and nothing is reported.
    let doc = analyze("head-budget-default.pcap", &multi(convs), &[]);
    assert_eq!(doc["files"][0]["connections"].as_array().unwrap().len(), 0);
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
    let conn = only_conn(&analyze("http-answer.pcap", &c.pcap(), &[])).clone();
    let f = &conn["tls"]["failure"];
    assert_eq!(f["kind"], "http_answer", "{conn}");
    assert!(
        f["cause"]
            .as_str()
            .unwrap()
            .contains("HTTP/1.1 400 Bad Request"),
        "{f}"
    );
    assert_eq!(conn["story"]["client_observed"]["code"], 1015);
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
    let conn = only_conn(&analyze("plain-to-tls.pcap", &c.pcap(), &[])).clone();
    let f = &conn["tls"]["failure"];
    assert_eq!(f["kind"], "plain_http_to_tls", "{conn}");
    assert_eq!(f["client_observed_code"], 1006);
    assert!(
        f["cause"].as_str().unwrap().contains("unexpected_message"),
        "{f}"
    );
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
    let conn = only_conn(&analyze("msb.pcap", &c.pcap(), &[])).clone();
    let r = rules(&conn);
    for rule in ["MissingAccept", "LengthMsbSet", "TruncatedAtEnd"] {
        assert!(r.contains(&rule.to_string()), "{rule} missing from {r:?}");
    }
    assert_eq!(conn["handshake"]["accept_valid"], serde_json::Value::Null);
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
    let conn = only_conn(&analyze("close-gap.pcap", &c.pcap(), &[])).clone();
    assert!(
        rules(&conn).contains(&"CloseIncomplete".to_string()),
        "{:?}",
        rules(&conn)
    );
    assert_eq!(
        conn["closes"][0]["code"], 1001,
        "the code was in the captured part"
    );
    assert_eq!(
        conn["closes"][0]["verdict"], "legal",
        "a cut reason is not an invalid one"
    );
}

#[test]
fn unsupported_link_types_and_ip_fragments_are_file_warnings() {
    // One packet on link type 147 (user-defined) and one IPv4 fragment carrying TCP.
    let mut p = pcap(&[]);
    p[20..24].copy_from_slice(&147u32.to_le_bytes());
    let record = |data: &[u8]| {
        let mut r = Vec::new();
        r.extend_from_slice(&[0u8; 8]);
        r.extend_from_slice(&(data.len() as u32).to_le_bytes());
        r.extend_from_slice(&(data.len() as u32).to_le_bytes());
        r.extend_from_slice(data);
        r
    };
    let mut user = p.clone();
    user.extend(record(&[1, 2, 3, 4]));
    let doc = analyze("user-linktype.pcap", &user, &[]);
    let w = &doc["files"][0]["warnings"][0];
    assert_eq!(w["kind"], "unsupported_linktype");
    assert!(
        w["message"].as_str().unwrap().contains("link type 147"),
        "{w}"
    );
    let out = crate::wsclose(&[
        "analyze",
        "-v",
        crate::temp_capture("user-linktype.pcap", &user)
            .to_str()
            .unwrap(),
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
    let doc = analyze("fragment.pcap", &eth, &[]);
    assert_eq!(
        doc["files"][0]["warnings"][0]["kind"], "ip_fragments",
        "{doc}"
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
    let doc = analyze("random-flows.pcap", &multi(convs), &[]);
    assert_eq!(doc["files"][0]["summary"]["tcp_connections"], 2000);
    assert_eq!(
        doc["files"][0]["connections"].as_array().unwrap().len(),
        0,
        "{}",
        doc["files"][0]["summary"]
    );
}
