#![no_main]
//! The record layer with keys: arbitrary records opened with keys derived from arbitrary
//! secrets, for every suite family wsclose decrypts (TLS 1.2 GCM, ChaCha20, CBC with and
//! without encrypt-then-MAC; TLS 1.3), and what they decrypt to handed to the session.
use libfuzzer_sys::fuzz_target;
use wsclose::capture::Ts;
use wsclose::tcp::reassembly::StreamEvent;
use wsclose::tls::decrypt::{session_keys, Hellos};
use wsclose::tls::keylog::KeyLog;
use wsclose::tls::record::TlsReader;
use wsclose::tls::session::Session;
use wsclose::tls::{CipherSuite, TlsCipherSuiteID, TlsVersion, Version};

/// Suites of each family: (id, TLS 1.3).
const SUITES: [(u16, bool); 7] = [
    (0xc02f, false), // ECDHE-RSA-AES128-GCM-SHA256
    (0xc030, false), // ECDHE-RSA-AES256-GCM-SHA384
    (0xcca8, false), // ECDHE-RSA-CHACHA20-POLY1305
    (0xc013, false), // ECDHE-RSA-AES128-SHA
    (0xc028, false), // ECDHE-RSA-AES256-SHA384
    (0x1301, true),  // TLS_AES_128_GCM_SHA256
    (0x1303, true),  // TLS_CHACHA20_POLY1305_SHA256
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Some((secret, records)) = rest.split_at_checked(48) else {
        return;
    };
    let (id, tls13) = SUITES[usize::from(pick) % SUITES.len()];
    let random = [7u8; 32];
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let cr = "07".repeat(32);
    let text = if tls13 {
        format!(
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET {cr} {hex}\nSERVER_HANDSHAKE_TRAFFIC_SECRET {cr} {hex}\nCLIENT_TRAFFIC_SECRET_0 {cr} {hex}\nSERVER_TRAFFIC_SECRET_0 {cr} {hex}\n"
        )
    } else {
        format!("CLIENT_RANDOM {cr} {hex}\n")
    };
    let mut keylog = KeyLog::new();
    keylog.add(text.as_bytes());
    let hellos = Hellos {
        client_random: &random,
        server_random: &[9u8; 32],
        cipher: CipherSuite(TlsCipherSuiteID(id)),
        version: Version(if tls13 {
            TlsVersion::Tls13
        } else {
            TlsVersion::Tls12
        }),
        encrypt_then_mac: pick & 0x80 != 0,
    };
    let Ok((client, _server)) = session_keys(Some(&keylog), &hellos) else {
        return;
    };
    let mut reader = TlsReader::new();
    reader.encrypted = true;
    reader.tls13 = tls13;
    reader.set_keys(Box::new(client));
    let mut session = Session::default();
    // Segments end at every 0xfe byte, as TCP might cut them.
    let mut offset = 0u64;
    for (i, chunk) in records.split(|b| *b == 0xfe).enumerate() {
        let ev = StreamEvent::Data {
            offset,
            bytes: chunk,
            frame_no: i as u64 + 1,
            ts: Ts(i as i64),
        };
        offset += chunk.len() as u64;
        reader.feed(&ev, &mut |e, f, ts| {
            session.on_event(wsclose::tcp::Side::A, e, f, ts);
            None
        });
    }
    let _ = wsclose::story::tls::report(&session, wsclose::tcp::Side::A, None, false);
});
