//! wss:// samples decrypted with their key logs: every Close frame (packet, sender, code,
//! reason) and every alert (packet, sender, description) as tshark lists them with the same
//! key log (`tshark -r S -o tls.keylog_file:K -Y websocket.opcode==8` and `-Y
//! tls.alert_message`, recorded by hand in samples/README.md), the same story as over
//! ws://, and the reason when a session stays encrypted.

use std::sync::Arc;

use wsclose::report::{
    ConnReport, DecryptionStatus, Detection, FailureKind, Outcome, TlsHandshake, TlsReport, Verdict,
};
use wsclose::rules::Rule;
use wsclose::tcp::Direction::{self, ClientToServer as C2S, ServerToClient as S2C};
use wsclose::tls::keylog::KeyLog;
use wsclose::Options;

use crate::analysis::{analyze_sample, rules};
use crate::replay;

/// Options with the key logs `samples/<name>` loaded.
fn with_keys(names: &[&str]) -> Options {
    let mut keylog = KeyLog::new();
    for name in names {
        let path = crate::root().join("samples").join(name);
        keylog
            .read_file(&path)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let mut opts = Options::default();
    opts.conn.keylog = Some(Arc::new(keylog));
    opts
}

/// The one connection of `sample` analyzed with `opts`.
fn conn(sample: &str, opts: &Options) -> ConnReport {
    let (_, mut conns, err) = analyze_sample(sample, opts);
    assert!(err.is_none(), "{sample}: {err:?}");
    assert_eq!(conns.len(), 1, "{sample}: {conns:#?}");
    conns.remove(0)
}

/// `sample` decrypted with the key log beside it.
fn decrypted(sample: &str) -> ConnReport {
    let keys = sample.replace(".pcapng", ".keys").replace(".pcap", ".keys");
    conn(sample, &with_keys(&[&keys]))
}

fn tls(c: &ConnReport) -> &TlsReport {
    c.tls.as_ref().expect("a TLS section")
}

/// (packet, sender, code, reason) of every Close frame.
fn closes(c: &ConnReport) -> Vec<(u64, Direction, Option<u16>, String)> {
    c.closes
        .iter()
        .map(|x| {
            (
                x.frame,
                x.direction,
                x.code,
                x.reason.clone().unwrap_or_default(),
            )
        })
        .collect()
}

/// (packet, sender, description) of every alert whose description is known.
fn alerts(c: &ConnReport) -> Vec<(u64, Direction, u8)> {
    tls(c)
        .alerts
        .iter()
        .filter_map(|a| a.description.map(|d| (a.frame, a.direction, d)))
        .collect()
}

type Close<'a> = (u64, Direction, u16, &'a str);

/// A decrypted session: closes and alerts as tshark lists them, the WebSocket handshake
/// read from inside TLS, and a decrypted status.
fn expect(sample: &str, want: &[Close<'_>], want_alerts: &[(u64, Direction, u8)]) -> ConnReport {
    let c = decrypted(sample);
    let want: Vec<_> = want
        .iter()
        .map(|(f, d, code, r)| (*f, *d, Some(*code), r.to_string()))
        .collect();
    assert_eq!(closes(&c), want, "{sample}: closes");
    assert_eq!(alerts(&c), want_alerts, "{sample}: alerts");
    let t = tls(&c);
    let d = t.decryption.as_ref().expect("decryption status");
    assert_eq!(
        d.status,
        DecryptionStatus::Decrypted,
        "{sample}: {}",
        d.detail
    );
    assert!(d.bytes.client_to_server > 0 && d.bytes.server_to_client > 0);
    assert_eq!(t.handshake, TlsHandshake::Complete, "{sample}");
    assert_eq!(c.detection, Detection::Handshake, "{sample}");
    let h = c.handshake.as_ref().expect("the Upgrade, read inside TLS");
    assert_eq!(h.status, Some(101), "{sample}");
    assert_eq!(h.accept_valid, Some(true), "{sample}");
    c
}

/// close_notify from both sides.
const fn notify(first: (u64, Direction), second: (u64, Direction)) -> [(u64, Direction, u8); 2] {
    [(first.0, first.1, 0), (second.0, second.1, 0)]
}

#[test]
fn tls12_aead_sessions_read_like_ws() {
    let c = expect(
        "wss-tls12-gcm.pcap",
        &[(18, C2S, 1000, "bye"), (19, S2C, 1000, "bye")],
        &notify((20, S2C), (23, C2S)),
    );
    assert_eq!(c.story.outcome, Outcome::Clean);
    assert_eq!(
        tls(&c).cipher.map(|s| s.to_string()).as_deref(),
        Some("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
    );
    assert_eq!(c.messages.client_to_server, 3);
    assert_eq!(c.messages.server_to_client, 3);
    assert_eq!(
        c.story.tcp_end.as_ref().and_then(|e| e.tls_close_notify),
        Some(true)
    );
    assert!(!rules(&c).contains(&Rule::TlsTruncated));

    let c = expect(
        "wss-tls12-chacha.pcap",
        &[
            (13, S2C, 1001, "server restarting"),
            (14, C2S, 1001, "server restarting"),
        ],
        &notify((15, C2S), (18, S2C)),
    );
    assert_eq!(c.story.first_closer, Some(S2C));
}

#[test]
fn tls12_cbc_with_and_without_encrypt_then_mac() {
    for (sample, c2s_notify) in [
        ("wss-tls12-cbc.pcap", 21),
        ("wss-tls12-cbc-sha384.pcap", 21),
        ("wss-tls12-cbc-mte.pcap", 21),
    ] {
        let c = expect(
            sample,
            &[(16, C2S, 1000, "bye"), (17, S2C, 1000, "bye")],
            &notify((18, S2C), (c2s_notify, C2S)),
        );
        assert_eq!(c.story.outcome, Outcome::Clean, "{sample}");
    }
}

#[test]
fn tls13_rate_limit_1008_with_its_reason() {
    let c = expect(
        "wss-tls13-chacha-1008.pcap",
        &[
            (16, S2C, 1008, "rate limit exceeded"),
            (17, C2S, 1008, "rate limit exceeded"),
        ],
        &notify((18, C2S), (21, S2C)),
    );
    assert_eq!(c.story.outcome, Outcome::Clean);
    assert_eq!(c.story.first_closer, Some(S2C));
    assert_eq!(
        c.story
            .client_observed
            .as_ref()
            .and_then(|o| o.reported.code),
        Some(1008)
    );
    assert_eq!(
        tls(&c).cipher.map(|s| s.to_string()).as_deref(),
        Some("TLS_CHACHA20_POLY1305_SHA256")
    );
    // The server's certificate, sent encrypted in TLS 1.3, is read.
    assert_eq!(tls(&c).certificates.len(), 1);
    assert_eq!(tls(&c).certificates[0].dns_names, ["localhost"]);
}

#[test]
fn tls13_hello_retry_key_update_and_browsers() {
    let c = expect(
        "wss-hrr.pcap",
        &[(16, C2S, 1000, "bye"), (17, S2C, 1000, "bye")],
        &notify((18, S2C), (21, C2S)),
    );
    assert!(tls(&c).hello_retry);

    // Messages after both KeyUpdates decrypt: 4 each way before the Close.
    let c = expect(
        "wss-keyupdate.pcap",
        &[(29, C2S, 1000, "done"), (30, S2C, 1000, "done")],
        &notify((32, S2C), (34, C2S)),
    );
    assert_eq!(c.messages.client_to_server, 4);
    assert_eq!(c.messages.server_to_client, 4);

    // Chromium's key log holds more sessions than the capture; it sends no close_notify.
    let c = expect(
        "wss-browser.pcap",
        &[
            (15, S2C, 1008, "token expired"),
            (16, C2S, 1008, "token expired"),
        ],
        &[(17, S2C, 0)],
    );
    assert!(c
        .handshake
        .as_ref()
        .and_then(|h| h.user_agent.as_deref())
        .is_some_and(|ua| ua.contains("Chrome")));
    expect(
        "wss-firefox.pcap",
        &[
            (17, S2C, 1008, "token expired"),
            (19, C2S, 1008, "token expired"),
        ],
        &notify((20, S2C), (22, C2S)),
    );
}

#[test]
fn illegal_1015_inside_tls_is_flagged_as_on_ws() {
    let c = expect(
        "wss-wire-1015.pcap",
        &[
            (15, S2C, 1015, "TLS handshake failed upstream"),
            (16, C2S, 1002, "invalid status code"),
        ],
        &notify((17, S2C), (18, C2S)),
    );
    assert_eq!(c.closes[0].verdict, Verdict::Illegal);
    assert_eq!(c.closes[1].verdict, Verdict::Legal);
    assert!(
        rules(&c).contains(&Rule::IllegalCloseCode),
        "{:?}",
        rules(&c)
    );
    // As over ws://: the client fails the connection (1006 for it) and says why with 1002.
    assert_eq!(c.story.outcome, Outcome::Failed);
    assert_eq!(
        (
            c.story
                .client_observed
                .as_ref()
                .and_then(|o| o.reported.code),
            c.story
                .server_observed
                .as_ref()
                .and_then(|o| o.reported.code)
        ),
        (Some(1006), Some(1002))
    );
}

#[test]
fn drop_without_close_notify_is_truncation() {
    let c = decrypted("wss-drop.pcap");
    assert!(c.closes.is_empty());
    assert_eq!(c.story.outcome, Outcome::Abnormal);
    assert_eq!(
        c.story
            .client_observed
            .as_ref()
            .and_then(|o| o.reported.code),
        Some(1006)
    );
    let end = c.story.tcp_end.as_ref().expect("TCP end");
    assert_eq!(end.by, S2C);
    assert_eq!(end.tls_close_notify, Some(false));
    assert!(rules(&c).contains(&Rule::TlsTruncated), "{:?}", rules(&c));
    assert!(c.messages.server_to_client >= 1);
}

#[test]
fn mtls_rejection_is_named_with_keys_and_suspected_without() {
    let c = decrypted("wss-mtls-rejected.pcap");
    assert_eq!(alerts(&c), [(9, S2C, 116)]);
    let t = tls(&c);
    let f = t.failure.as_ref().expect("a failure");
    assert_eq!(f.kind, FailureKind::AlertAfterHandshake);
    assert_eq!(f.frame, 9);
    assert_eq!(f.alert.map(|a| a.name), Some("certificate_required"));
    assert!(f.cause.contains("empty Certificate"), "{}", f.cause);
    assert_eq!(f.confidence, None);
    assert_eq!(c.story.outcome, Outcome::TlsFailed);

    let c = conn("wss-mtls-rejected.pcap", &Options::default());
    let t = tls(&c);
    let f = t.failure.as_ref().expect("a failure");
    assert_eq!(f.kind, FailureKind::ProbableAlertAfterHandshake);
    assert_eq!(f.frame, 9);
    assert!(f.cause.contains("--keylog"), "{}", f.cause);
    assert!(f.confidence.is_some());
}

#[test]
fn a_working_session_without_its_mtls_shape_is_not_suspected() {
    // The same shape test must not fire on sessions that ended normally.
    for sample in [
        "wss-good.pcap",
        "wss-tls13-chacha-1008.pcap",
        "wss-drop.pcap",
    ] {
        let c = conn(sample, &Options::default());
        assert!(tls(&c).failure.is_none(), "{sample}: {:?}", tls(&c).failure);
        assert_eq!(c.story.outcome, Outcome::Encrypted, "{sample}");
    }
}

#[test]
fn secrets_embedded_in_the_pcapng_need_no_key_log() {
    let c = conn("wss-embedded.pcapng", &Options::default());
    assert_eq!(
        closes(&c),
        [
            (16, S2C, Some(1008), "rate limit exceeded".to_string()),
            (17, C2S, Some(1008), "rate limit exceeded".to_string()),
        ]
    );
    assert_eq!(
        tls(&c).decryption.as_ref().map(|d| d.status),
        Some(DecryptionStatus::Decrypted)
    );
}

#[test]
fn why_a_session_stays_encrypted() {
    let status = |sample: &str, opts: &Options| {
        let c = conn(sample, opts);
        assert!(c.closes.is_empty(), "{sample}");
        assert_eq!(c.story.outcome, Outcome::Encrypted, "{sample}");
        let d = tls(&c).decryption.clone().expect("a status");
        let r = rules(&c);
        (d.status, r)
    };
    let (s, r) = status("wss-tls12-gcm.pcap", &Options::default());
    assert_eq!(s, DecryptionStatus::NoKeyLog);
    assert!(r.contains(&Rule::NotDecrypted));
    // A key log for other sessions is no error: the session just has no line.
    let other = with_keys(&["wss-other-session.keys"]);
    for sample in ["wss-tls12-gcm.pcap", "wss-tls13-chacha-1008.pcap"] {
        assert_eq!(status(sample, &other).0, DecryptionStatus::NoMatchingSecret);
    }
}

#[test]
fn a_wrong_key_is_a_finding_not_a_panic() {
    // The right client random with another session's secrets: every record fails.
    let real =
        std::fs::read_to_string(crate::root().join("samples/wss-tls12-gcm.keys")).expect("key log");
    let other = std::fs::read_to_string(crate::root().join("samples/wss-tls12-chacha.keys"))
        .expect("key log");
    let random = real
        .lines()
        .find_map(|l| l.strip_prefix("CLIENT_RANDOM "))
        .and_then(|rest| rest.split(' ').next())
        .expect("a CLIENT_RANDOM line");
    let secret = other
        .lines()
        .find_map(|l| l.strip_prefix("CLIENT_RANDOM "))
        .and_then(|rest| rest.split(' ').nth(1))
        .expect("a CLIENT_RANDOM line");
    let mut keylog = KeyLog::new();
    keylog.add(format!("CLIENT_RANDOM {random} {secret}\n").as_bytes());
    let mut opts = Options::default();
    opts.conn.keylog = Some(Arc::new(keylog));
    let c = conn("wss-tls12-gcm.pcap", &opts);
    let d = tls(&c).decryption.clone().expect("a status");
    assert_eq!(d.status, DecryptionStatus::WrongKey, "{}", d.detail);
    assert!(rules(&c).contains(&Rule::DecryptionFailed));
    assert!(c.closes.is_empty());
}

#[test]
fn several_key_logs_at_once() {
    // Two key logs at once: both sessions decrypt in one run.
    let opts = with_keys(&["wss-tls12-gcm.keys", "wss-tls13-chacha-1008.keys"]);
    for sample in ["wss-tls12-gcm.pcap", "wss-tls13-chacha-1008.pcap"] {
        let c = conn(sample, &opts);
        assert_eq!(c.closes.len(), 2, "{sample}");
    }
}

/// `samples/<sample>`'s payloads replayed as one session cut at `cuts`.
fn resegmented(sample: &str, cuts: &[usize]) -> Vec<u8> {
    let payloads = replay::payloads(&crate::root().join("samples").join(sample));
    let mut c = replay::conv();
    replay::session(&mut c, (1000, 9000), &payloads, cuts);
    c.pcap()
}

/// What must not depend on segmentation: closes (sender, code, reason), messages,
/// alerts by name, decryption status.
fn essence(c: &ConnReport) -> String {
    let closes: Vec<_> = c
        .closes
        .iter()
        .map(|x| (x.direction, x.code, x.reason.clone()))
        .collect();
    let alerts: Vec<_> = tls(c)
        .alerts
        .iter()
        .map(|a| (a.direction, a.name))
        .collect();
    format!(
        "{closes:?} {:?} {alerts:?} {:?}",
        c.messages,
        tls(c).decryption.as_ref().map(|d| (d.status, d.bytes))
    )
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 24, ..Default::default() })]

    /// A record split across any TCP segmentation decrypts the same: TLS 1.2 and 1.3,
    /// AES-GCM, ChaCha20 and CBC, through the whole pipeline.
    #[test]
    fn any_segmentation_decrypts_the_same(
        cuts in proptest::collection::vec(1usize..700, 1..12),
        which in 0usize..4,
    ) {
        let (sample, keys) = [
            ("wss-tls12-gcm.pcap", "wss-tls12-gcm.keys"),
            ("wss-tls13-chacha-1008.pcap", "wss-tls13-chacha-1008.keys"),
            ("wss-tls12-cbc-mte.pcap", "wss-tls12-cbc-mte.keys"),
            ("wss-keyupdate.pcap", "wss-keyupdate.keys"),
        ][which];
        let opts = with_keys(&[keys]);
        let whole = crate::analysis::analyze_bytes(sample, &resegmented(sample, &[]), &opts);
        let split = crate::analysis::analyze_bytes(sample, &resegmented(sample, &cuts), &opts);
        proptest::prop_assert_eq!(whole.1.len(), 1);
        proptest::prop_assert_eq!(split.1.len(), 1);
        let want = essence(&whole.1[0]);
        proptest::prop_assert!(want.contains("Decrypted"), "{}", want);
        proptest::prop_assert_eq!(essence(&split.1[0]), want);
    }
}

/// `samples/<sample>` rewritten as pcapng with `secrets` in a Decryption Secrets Block
/// before the first packet or after the last.
fn pcapng_with_secrets(sample: &str, secrets: &[u8], first: bool) -> Vec<u8> {
    use wsclose_testgen::pcapng::{
        decryption_secrets, enhanced_packet, interface, section_header, TLS_KEY_LOG,
    };
    let path = crate::root().join("samples").join(sample);
    let file = std::fs::File::open(path).expect("sample");
    let mut info = wsclose::capture::CaptureInfo::default();
    let mut out = section_header();
    out.extend(interface(1, Some(9), None));
    let dsb = decryption_secrets(TLS_KEY_LOG, secrets);
    if first {
        out.extend_from_slice(&dsb);
    }
    let r = wsclose::capture::read_packets(sample, Box::new(file), &mut info, |r| {
        if let wsclose::capture::Record::Packet(p) = r {
            out.extend(enhanced_packet(0, p.ts.0 as u64, p.data, p.orig_len));
        }
    });
    assert!(r.is_ok());
    if !first {
        out.extend_from_slice(&dsb);
    }
    out
}

#[test]
fn embedded_secrets_apply_from_where_they_are() {
    let keys = std::fs::read(crate::root().join("samples/wss-tls12-gcm.keys")).unwrap();
    let status = |first: bool| {
        let bytes = pcapng_with_secrets("wss-tls12-gcm.pcap", &keys, first);
        let (_, conns, err) =
            crate::analysis::analyze_bytes("x.pcapng", &bytes, &Options::default());
        assert!(err.is_none());
        let d = tls(&conns[0]).decryption.clone().expect("a status");
        (d.status, d.detail, conns[0].closes.len())
    };
    let (s, _, closes) = status(true);
    assert_eq!((s, closes), (DecryptionStatus::Decrypted, 2));
    // After the packets, too late: the report says where the secrets are.
    let (s, detail, closes) = status(false);
    assert_eq!((s, closes), (DecryptionStatus::NoKeyLog, 0));
    assert!(
        detail.contains("Decryption Secrets Block after its handshake"),
        "{detail}"
    );
}
