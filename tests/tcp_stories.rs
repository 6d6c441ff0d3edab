//! TCP stories that must follow what the endpoints' stacks did, on the captures of
//! `wsclose_testgen::conv::stories`: data after the sender's own RST, a segment far outside
//! the window, closes in capture order, a SYN-ACK choosing between two SYNs, a frame's
//! packet being the one that completed it, conflicting overlaps with buffered data, and an
//! Upgrade request over the size limit.

use wsclose::report::{ConnReport, Outcome};
use wsclose::rules::Rule;
use wsclose::tcp::Direction;
use wsclose::Options;
use wsclose_testgen::conv::stories;

use crate::analysis::{analyze_bytes, rules};
use crate::temp_capture;

/// The one connection of `bytes`, analyzed with the default options; the capture is also
/// written under the target directory as `name`, for tshark.
fn only_conn(name: &str, bytes: &[u8]) -> ConnReport {
    temp_capture(name, bytes);
    let (_, mut conns, err) = analyze_bytes(name, bytes, &Options::default());
    assert!(err.is_none(), "{name}: {err:?}");
    assert_eq!(conns.len(), 1, "{conns:#?}");
    conns.remove(0)
}

/// (packet, direction, code) of each Close frame, in report order.
fn closes(c: &ConnReport) -> Vec<(u64, Direction, Option<u16>)> {
    c.closes
        .iter()
        .map(|x| (x.frame, x.direction, x.code))
        .collect()
}

fn count(c: &ConnReport, rule: Rule) -> u64 {
    c.findings
        .iter()
        .filter(|f| f.rule == rule)
        .map(|f| f.count)
        .sum()
}

use Direction::{ClientToServer as C2S, ServerToClient as S2C};

#[test]
fn data_after_the_senders_own_rst_is_not_delivered() {
    let conn = only_conn(
        "rst-then-close.pcap",
        &stories::close_after_own_rst().pcap(),
    );
    // Packets: 1-3 TCP handshake, 4 GET, 5 101, 6 text, 7 client Close, 8 server RST,
    // 9 the server's Close after its own RST: never delivered by the client's stack.
    assert_eq!(closes(&conn), vec![(7, C2S, Some(1000))]);
    assert_eq!(conn.story.outcome, Outcome::OneSided, "{:#?}", conn.story);
    let f = conn
        .findings
        .iter()
        .find(|f| f.rule == Rule::DataAfterReset)
        .unwrap_or_else(|| panic!("{:?}", rules(&conn)));
    assert_eq!((f.frame, f.direction), (9, Some(S2C)));
}

#[test]
fn a_rst_off_the_next_byte_that_the_sender_outlives_did_not_end_anything() {
    let conn = only_conn(
        "rst-challenged.pcap",
        &stories::rst_off_the_next_byte().pcap(),
    );
    // Packets: 7 the RST, 8 the challenge ACK, 9 the server's message, 10-11 the closes.
    assert_eq!(
        closes(&conn),
        vec![(10, C2S, Some(1000)), (11, S2C, Some(1000))]
    );
    assert_eq!(conn.messages.server_to_client, 1);
    assert_eq!(conn.story.outcome, Outcome::Clean);
    assert_ne!(
        conn.story.tcp_end.as_ref().map(|e| e.kind),
        Some(wsclose::report::EndKind::Rst),
        "{:#?}",
        conn.story
    );
    assert!(!rules(&conn).contains(&Rule::DataAfterReset));
}

#[test]
fn a_segment_far_beyond_the_window_is_not_assembled() {
    let conn = only_conn(
        "beyond-window.pcap",
        &stories::segment_beyond_window(10_000_000).pcap(),
    );
    // Packets: 6 text, 7 the far Close 4006, 8-9 the closing handshake, 10-11 FINs.
    assert_eq!(
        closes(&conn),
        vec![(8, C2S, Some(1000)), (9, S2C, Some(1000))]
    );
    assert_eq!(conn.story.outcome, Outcome::Clean);
    assert!(
        !rules(&conn).contains(&Rule::SecondClose),
        "{:?}",
        rules(&conn)
    );
    assert!(
        !rules(&conn).contains(&Rule::CaptureGap),
        "{:?}",
        rules(&conn)
    );
    let f = conn
        .findings
        .iter()
        .find(|f| f.rule == Rule::OutOfWindow)
        .unwrap_or_else(|| panic!("{:?}", rules(&conn)));
    assert_eq!((f.frame, f.direction), (7, Some(C2S)));
    // Within the window, the same segment is only out of order (and then a gap).
    let near = only_conn(
        "near-window.pcap",
        &stories::segment_beyond_window(60_000).pcap(),
    );
    assert!(
        !rules(&near).contains(&Rule::OutOfWindow),
        "{:?}",
        rules(&near)
    );
}

#[test]
fn closes_are_listed_in_capture_order() {
    // A Close buffered behind a hole that is never filled is delivered at the end of the
    // capture; it is still listed by its packet.
    let mut c = wsclose_testgen::conv::Conv::handshake(1000, 5000);
    let hole = c.cseq;
    let text = wsclose_testgen::conv::frame(true, 1, true, b"lost");
    c.cseq = hole.wrapping_add(text.len() as u32);
    // Packet 6: the client's Close behind the hole; 7: the server's Close.
    c.send(
        true,
        &wsclose_testgen::conv::frame(true, 8, true, &wsclose_testgen::conv::close_body(1000, b"")),
    );
    c.send(
        false,
        &wsclose_testgen::conv::frame(
            true,
            8,
            false,
            &wsclose_testgen::conv::close_body(1000, b""),
        ),
    );
    let conn = only_conn("closes-capture-order.pcap", &c.pcap());
    let frames: Vec<u64> = conn.closes.iter().map(|x| x.frame).collect();
    assert_eq!(frames, vec![6, 7], "{:?}", closes(&conn));
    // The server's Close acknowledges the client's (its ACK covers the hole and the Close):
    // it answered it.
    assert_eq!(conn.story.first_closer, Some(C2S));
    assert_eq!(conn.story.answered, Some(true));
    assert!(conn.closes[0].evidence.is_some());
}

#[test]
fn the_syn_ack_chooses_between_two_syns() {
    for ack_first in [true, false] {
        let name = format!("dup-syn-ack-first-{ack_first}.pcap");
        let conn = only_conn(
            &name,
            &stories::duplicate_syn(100, 7_000_000, ack_first).pcap(),
        );
        assert!(conn.handshake.is_some(), "{ack_first}: {:?}", rules(&conn));
        // Packets: 1-2 SYNs, 3 SYN-ACK, 4 ACK, 5 GET, 6 101, 7 text, 8-9 closes.
        assert_eq!(
            closes(&conn),
            vec![(8, C2S, Some(1000)), (9, S2C, Some(1000))],
            "{ack_first}"
        );
        assert_eq!(conn.story.outcome, Outcome::Clean, "{ack_first}");
        assert!(!rules(&conn).contains(&Rule::CloseNotAnswered));
        assert!(!rules(&conn).contains(&Rule::MidStreamStart));
    }
}

#[test]
fn a_frame_belongs_to_the_packet_that_completed_it() {
    let c = stories::reversed_stream(20_000, 1);
    let n = c.pkts.len() as u64;
    let conn = only_conn("reversed.pcap", &c.pcap());
    // The last of the reversed segments (packet n - 3) fills the first hole: the message
    // and the Close are delivered then. The client answers with the next packet.
    assert_eq!(
        closes(&conn),
        vec![(n - 3, S2C, Some(1001)), (n - 2, C2S, Some(1001))]
    );
    assert_eq!(conn.story.close_delay_ms, Some(1.0));
    assert_eq!(conn.story.outcome, Outcome::Clean);
}

#[test]
fn every_conflicting_overlap_is_a_finding() {
    let conn = only_conn(
        "conflicting-overlaps.pcap",
        &stories::conflicting_overlaps().pcap(),
    );
    let f = conn
        .findings
        .iter()
        .find(|f| f.rule == Rule::InconsistentRetransmission)
        .unwrap_or_else(|| panic!("{:?}", rules(&conn)));
    assert!(f.message.starts_with("2 "), "{}", f.message);
    // Packets 6-9 carry the pieces: the first conflict is packet 7.
    assert_eq!((f.frame, f.direction), (7, Some(S2C)));
    assert_eq!(conn.story.outcome, Outcome::Clean);
    assert_eq!(count(&conn, Rule::CaptureGap), 0);
}

#[test]
fn an_upgrade_request_over_the_size_limit_is_a_finding() {
    let conn = only_conn(
        "oversized-upgrade.pcap",
        &stories::oversized_handshake(40_000).pcap(),
    );
    assert!(
        rules(&conn).contains(&Rule::HandshakeTooLarge),
        "{:?}",
        rules(&conn)
    );
    assert!(conn.handshake.is_none());
    // The text report does not claim a handshake it could not read.
    let path = temp_capture(
        "oversized-upgrade.pcap",
        &stories::oversized_handshake(40_000).pcap(),
    );
    let (_, text, _) = crate::run(&["analyze", path.to_str().expect("path")]);
    assert!(
        text.contains("handshake not read (over the size limit)"),
        "{text}"
    );
    assert!(!text.contains("handshake seen"), "{text}");
    // Under the limit, the same request is read.
    let conn = only_conn(
        "padded-upgrade.pcap",
        &stories::oversized_handshake(20_000).pcap(),
    );
    assert!(conn.handshake.is_some());
    assert!(!rules(&conn).contains(&Rule::HandshakeTooLarge));
}
