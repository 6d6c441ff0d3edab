//! The explanation catalog: one entry per registered close code and per range, kept as data.
//!
//! Sources: RFC 6455 §7.4, the IANA WebSocket Close Code Number Registry, and the library
//! behaviour collected in the project's reference notes (tungstenite-rs, wsproto,
//! python-websockets, browsers, Autobahn). `lookup` is total: every `u16` finds an entry.

use serde::Serialize;

/// Whether an endpoint may send the code in a Close frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Wire {
    /// May be sent.
    Legal,
    /// Must never be sent: a value APIs use to report a local condition.
    MustNotSend,
    /// Not defined for use: receivers fail the connection.
    Invalid,
}

/// One catalog entry: a single code (`lo == hi`) or a range.
#[derive(Debug, Serialize)]
pub struct Entry {
    pub lo: u16,
    pub hi: u16,
    pub name: &'static str,
    pub wire: Wire,
    /// Where the code is defined.
    pub source: &'static str,
    /// What the code means.
    pub meaning: &'static str,
    /// When you typically see it.
    pub when: &'static str,
    /// What to do about it.
    pub fix: &'static str,
    /// How real peers disagree with the registry, if they do.
    #[serde(skip_serializing_if = "str::is_empty")]
    pub peers: &'static str,
}

const RFC: &str = "RFC 6455 §7.4.1";
const IANA: &str = "IANA WebSocket Close Code Number Registry";

/// Single codes, checked before the ranges.
pub static CODES: &[Entry] = &[
    Entry {
        lo: 1000, hi: 1000, name: "Normal Closure", wire: Wire::Legal, source: RFC,
        meaning: "The purpose of the connection was fulfilled and both sides are done.",
        when: "An application called close() at the end of its work; a browser's close() with no argument.",
        fix: "Nothing to fix. If the close was unexpected, look for the code path that called close() on the side that sent it first.",
        peers: "",
    },
    Entry {
        lo: 1001, hi: 1001, name: "Going Away", wire: Wire::Legal, source: RFC,
        meaning: "The endpoint is leaving: a server shutting down or restarting, or a browser tab navigating away.",
        when: "Deploys and rolling restarts; proxies restarting (Cloudflare sends it when its proxy restarts); page unloads in browsers.",
        fix: "Reconnect with backoff on the client. On the server, drain connections before shutdown and spread restarts. A 1001 from a browser comes from navigation, not from application code.",
        peers: "",
    },
    Entry {
        lo: 1002, hi: 1002, name: "Protocol Error", wire: Wire::Legal, source: RFC,
        meaning: "The sender received something that breaks the WebSocket protocol and is failing the connection.",
        when: "A peer sent a malformed frame, an unmasked client frame, a reserved opcode, or a close code the receiver considers illegal (strict libraries answer 1002 to 1005/1006/1015 on the wire, and some to 1012-1014).",
        fix: "Look at the frame the other side sent just before this Close: it is the one that broke the rules. wsclose flags it in the same connection.",
        peers: "gorilla/websocket, tungstenite-rs and wsproto answer 1002 to codes they consider invalid.",
    },
    Entry {
        lo: 1003, hi: 1003, name: "Unsupported Data", wire: Wire::Legal, source: RFC,
        meaning: "The endpoint received a type of data it cannot accept.",
        when: "A binary message sent to an endpoint that only handles text, or the reverse.",
        fix: "Make both sides agree on the message type (text or binary) or negotiate a subprotocol that says which.",
        peers: "",
    },
    Entry {
        lo: 1004, hi: 1004, name: "Reserved", wire: Wire::Invalid, source: RFC,
        meaning: "Reserved by RFC 6455; a meaning might be defined in the future. It has none today.",
        when: "Only from buggy or home-made implementations.",
        fix: "Send a defined code instead (1000, 1008, 1011, or a 4000-4999 private code).",
        peers: "Autobahn expects 1004 to be rejected; tungstenite-rs, wsproto and python-websockets fail the connection on it.",
    },
    Entry {
        lo: 1005, hi: 1005, name: "No Status Received", wire: Wire::MustNotSend, source: RFC,
        meaning: "What an API reports when the peer's Close frame carried no status code. It is never sent in a frame.",
        when: "Seen by an application when the peer closed with an empty Close frame. On the wire it is a bug: nats-server, capnproto and reactor-netty have been seen forwarding it.",
        fix: "To close without a code, send an empty Close frame. To report a reason, use 1000 or a defined code. A server or proxy that forwards 1005 should send 1000 instead.",
        peers: "Strict libraries (gorilla, tungstenite-rs, wsproto, python-websockets) answer 1002 and drop the connection when 1005 arrives in a frame.",
    },
    Entry {
        lo: 1006, hi: 1006, name: "Abnormal Closure", wire: Wire::MustNotSend, source: RFC,
        meaning: "What an API reports when the connection ended without any Close frame: the TCP connection dropped or was reset. It is never sent in a frame.",
        when: "Proxy or load-balancer idle timeouts (nginx and AWS ALB default to 60 s, Cloudflare about 100 s), server crashes, network loss, a peer that closed the socket right after its Close frame. On the wire it is a bug: some servers and proxies forward the 1006 they observed.",
        fix: "Find who dropped TCP and why: the connection story in this report shows the FIN/RST, who sent it and the idle time before it. Send pings more often than the shortest idle timeout on the path. Never put 1006 in a Close frame; a proxy should send 1001 or 1011.",
        peers: "Strict libraries answer 1002 when 1006 arrives in a frame (gorilla/websocket#424).",
    },
    Entry {
        lo: 1007, hi: 1007, name: "Invalid Frame Payload Data", wire: Wire::Legal, source: RFC,
        meaning: "A message's data did not match its type, most often a text message that is not valid UTF-8.",
        when: "Text frames carrying binary or mis-encoded data; a Close reason that is not valid UTF-8; a permessage-deflate stream that inflates to garbage.",
        fix: "Send binary data in binary frames and make sure text is UTF-8. If compression is negotiated, check that both sides agree on its context-takeover parameters.",
        peers: "",
    },
    Entry {
        lo: 1008, hi: 1008, name: "Policy Violation", wire: Wire::Legal, source: RFC,
        meaning: "The generic \"your message broke our policy\" close, used when no more specific code fits or when the server prefers not to say more.",
        when: "Rate limits and quotas exceeded; authentication that expired or was revoked mid-session (token lifetime ended); a message with forbidden content; an Origin the server does not accept; a client that did not authenticate in time.",
        fix: "Read the reason text: servers usually name the policy there. Rate limit: slow down and honour any retry hint. Expired auth: refresh the token before it lapses and reconnect with the new one. Forbidden content: check the message just before the Close. Origin: add the page's origin to the server's allow list.",
        peers: "",
    },
    Entry {
        lo: 1009, hi: 1009, name: "Message Too Big", wire: Wire::Legal, source: RFC,
        meaning: "The endpoint received a message larger than it is willing to process.",
        when: "A message over the receiver's size limit (many libraries default to 1 MiB or less; python-websockets to 1 MiB).",
        fix: "Split large payloads into several messages or raise the receiver's maximum message size.",
        peers: "Some clients log a 1009 as 1006 when the server's Close arrives while they are still sending.",
    },
    Entry {
        lo: 1010, hi: 1010, name: "Mandatory Extension", wire: Wire::Legal, source: RFC,
        meaning: "The client expected the server to negotiate an extension and it did not. Only clients send this code.",
        when: "A client that requires permessage-deflate (or another extension) talking to a server that does not offer it.",
        fix: "Enable the extension on the server or stop requiring it in the client. A server sending 1010 is itself misbehaving.",
        peers: "",
    },
    Entry {
        lo: 1011, hi: 1011, name: "Internal Error", wire: Wire::Legal, source: "RFC 6455 §7.4.1 (erratum 3227: clients may send it too)",
        meaning: "The endpoint hit an unexpected condition that prevented it from fulfilling the request.",
        when: "An unhandled exception in a message handler; a backend the server depends on failing.",
        fix: "Look at the sender's logs at the close timestamp: this is a crash or error on that side, not something the peer did wrong.",
        peers: "",
    },
    Entry {
        lo: 1012, hi: 1012, name: "Service Restart", wire: Wire::Legal, source: IANA,
        meaning: "The server is restarting.",
        when: "Planned restarts and deploys.",
        fix: "Reconnect after a randomised delay (for example 5-30 s) so that clients do not all return at once.",
        peers: "Some clients do not reconnect on 1012; older strict libraries rejected 1012-1014 with 1002.",
    },
    Entry {
        lo: 1013, hi: 1013, name: "Try Again Later", wire: Wire::Legal, source: IANA,
        meaning: "The server is overloaded or in a temporary condition and refuses the connection for now.",
        when: "Load shedding, connection limits, maintenance windows.",
        fix: "Reconnect with exponential backoff and jitter; on the server side, add capacity or raise the connection limit.",
        peers: "Some clients do not reconnect on 1013.",
    },
    Entry {
        lo: 1014, hi: 1014, name: "Bad Gateway", wire: Wire::Legal, source: IANA,
        meaning: "A gateway or proxy received an invalid response from the upstream server, like HTTP 502.",
        when: "A WebSocket proxy whose backend failed or answered with something that is not WebSocket.",
        fix: "Check the upstream service behind the proxy and the proxy's logs.",
        peers: "tungstenite-rs 0.29 and wsproto do not know 1014: they answer 1002 (tungstenite-rs#502).",
    },
    Entry {
        lo: 1015, hi: 1015, name: "TLS Handshake Failure", wire: Wire::MustNotSend, source: RFC,
        meaning: "What a client API reports when the TLS handshake failed, so no WebSocket connection ever existed. It is never sent in a frame: there is no WebSocket connection to carry it.",
        when: "wss:// connections that fail TLS: a server certificate that expired or is not yet valid (clock skew), an issuer the client does not trust (private CA, self-signed), a chain missing its intermediate certificate, a name that does not match the certificate, no TLS version or cipher both sides support. On the wire it is a bug: some proxies forward the 1015 they observed.",
        fix: "Look at the TLS handshake of the connection, not at WebSocket frames: the TLS alert names the cause (certificate_expired, unknown_ca, protocol_version, handshake_failure). Renew the certificate, serve the full chain, install the CA on the client, or align the TLS versions. Never put 1015 in a Close frame.",
        peers: "Autobahn stopped testing 1015 in 2018, so some libraries accept it; strict ones (tungstenite-rs, wsproto, python-websockets) answer 1002.",
    },
    Entry {
        lo: 3000, hi: 3000, name: "Unauthorized", wire: Wire::Legal, source: IANA,
        meaning: "The request lacks valid authentication (the WebSocket counterpart of HTTP 401).",
        when: "A missing, invalid or expired credential detected after the upgrade.",
        fix: "Authenticate (or refresh the credential) and reconnect.",
        peers: "",
    },
    Entry {
        lo: 3003, hi: 3003, name: "Forbidden", wire: Wire::Legal, source: IANA,
        meaning: "The client is authenticated but not allowed to do what it asked (the counterpart of HTTP 403).",
        when: "Permission checks after the upgrade, such as subscribing to a channel the user may not read.",
        fix: "Grant the permission or stop making the request.",
        peers: "",
    },
    Entry {
        lo: 3008, hi: 3008, name: "Timeout", wire: Wire::Legal, source: IANA,
        meaning: "The endpoint gave up waiting (the counterpart of HTTP 408).",
        when: "A client that did not send an expected message (login, subscription, heartbeat) in time.",
        fix: "Send the expected message sooner, or raise the server's timeout.",
        peers: "",
    },
];

/// Ranges, checked after the single codes.
pub static RANGES: &[Entry] = &[
    Entry {
        lo: 0, hi: 999, name: "Not Used", wire: Wire::Invalid, source: "RFC 6455 §7.4.2",
        meaning: "Codes below 1000 are not used by WebSocket.",
        when: "A bug in the sender: an uninitialised value (0), an HTTP status or an application error number put where a close code belongs.",
        fix: "Map application errors to 4000-4999 and protocol conditions to registered codes.",
        peers: "Autobahn tests 0 and 999 as invalid; receivers answer 1002 or drop the connection.",
    },
    Entry {
        lo: 1000, hi: 2999, name: "Unassigned (protocol range)", wire: Wire::Invalid, source: "RFC 6455 §7.4.2",
        meaning: "Reserved for future versions of the protocol and for extensions; no code here beyond the registered ones is assigned.",
        when: "A sender that invented a code in the protocol range.",
        fix: "Use a registered code, or a 4000-4999 private code for application meanings.",
        peers: "Autobahn tests 1016, 1100, 2000 and 2999 as invalid; receivers answer 1002.",
    },
    Entry {
        lo: 3000, hi: 3999, name: "Registrable (libraries and frameworks)", wire: Wire::Legal, source: "RFC 6455 §7.4.2",
        meaning: "For libraries, frameworks and applications, registered first come, first served with IANA. This code has no registration.",
        when: "A framework-defined close (Socket.IO, SignalR, GraphQL transports and others use codes here).",
        fix: "Look the code up in the documentation of the library or framework the sender uses.",
        peers: "Browsers' close() accepts 3000-4999, so these can come from page scripts.",
    },
    Entry {
        lo: 4000, hi: 4999, name: "Private Use", wire: Wire::Legal, source: "RFC 6455 §7.4.2",
        meaning: "For private agreement between the two applications; cannot be registered.",
        when: "Application-defined closes: the meaning lives in the application's own code or API documentation (for example GraphQL over WebSocket uses 4400-4499).",
        fix: "Search the sender's source or documentation for this number; the reason text often names it.",
        peers: "Browsers' close() accepts 3000-4999, so these can come from page scripts.",
    },
    Entry {
        lo: 5000, hi: 65535, name: "Out of Range", wire: Wire::Invalid, source: "RFC 6455 §7.4",
        meaning: "Outside every range RFC 6455 defines.",
        when: "A bug in the sender: a byte-order mistake, or an application error number written as a close code.",
        fix: "Send a code in 1000-1014 or 3000-4999.",
        peers: "tungstenite-rs, wsproto and python-websockets reject it; Autobahn calls the behaviour undefined.",
    },
];

/// An empty Close frame: legal to send; the receiver reports 1005.
pub static EMPTY_CLOSE: Entry = Entry {
    lo: 1005, hi: 1005, name: "Empty Close (no status code)", wire: Wire::Legal, source: "RFC 6455 §5.5.1, §7.1.5",
    meaning: "A Close frame without a body is legal: it closes without saying why. The receiving application reports 1005 (No Status Received).",
    when: "Libraries and browsers closing without an explicit code, some servers on shutdown, and proxies that drop the status.",
    fix: "Nothing is broken. To tell the other side why, close with a code (1000 for a normal end, or one of 4000-4999 for application reasons).",
    peers: "python-websockets treats 1005 like a normal close; some applications log it as an error.",
};

/// The entry that explains `code`. Total: every value has one.
pub fn lookup(code: u16) -> &'static Entry {
    CODES
        .iter()
        .find(|e| e.lo == code)
        .or_else(|| RANGES.iter().find(|e| e.lo <= code && code <= e.hi))
        .unwrap_or(&FALLBACK)
}

static FALLBACK: Entry = Entry {
    lo: 0,
    hi: 65535,
    name: "Unknown",
    wire: Wire::Invalid,
    source: "RFC 6455 §7.4",
    meaning: "",
    when: "",
    fix: "",
    peers: "",
};

/// One TLS alert description (IANA TLS Alerts registry; RFC 5246 §7.2, RFC 8446 §6).
#[derive(Debug, Serialize)]
pub struct AlertEntry {
    pub code: u8,
    pub name: &'static str,
    pub source: &'static str,
    /// What the alert says.
    pub meaning: &'static str,
    /// What usually causes it, in a WebSocket-over-TLS setting.
    pub when: &'static str,
    /// What to do.
    pub fix: &'static str,
}

macro_rules! alert {
    ($code:expr, $name:expr, $source:expr, $meaning:expr, $when:expr, $fix:expr) => {
        AlertEntry {
            code: $code,
            name: $name,
            source: $source,
            meaning: $meaning,
            when: $when,
            fix: $fix,
        }
    };
}

/// Every description in the IANA TLS Alerts registry.
pub static ALERTS: &[AlertEntry] = &[
    alert!(0, "close_notify", "RFC 8446 §6.1", "The sender will send no more data on this connection: an orderly end, not an error.",
        "The normal end of every TLS session; encrypted, so it shows as a short encrypted record at the end.",
        "Nothing to fix."),
    alert!(10, "unexpected_message", "RFC 8446 §6.2", "A message arrived that is not allowed in the current state.",
        "Broken implementations, a middlebox injecting data, or plaintext sent after the handshake.",
        "Capture both sides and compare the message sequence; update the peer that sent the wrong message."),
    alert!(20, "bad_record_mac", "RFC 8446 §6.2", "A record could not be deprotected.",
        "Corruption on the path, a middlebox rewriting bytes, or mismatched keys after a bad resumption.",
        "Look for proxies or TLS offloaders on the path that modify traffic; check for packet corruption."),
    alert!(21, "decryption_failed_RESERVED", "RFC 5246 §7.2 (reserved)", "Legacy: must not be sent by TLS 1.2 or later.",
        "Very old implementations.", "Upgrade the peer."),
    alert!(22, "record_overflow", "RFC 8446 §6.2", "A record was longer than the protocol allows.",
        "A peer writing records over 2^14 bytes of plaintext, or a broken record-size negotiation.",
        "Update the sending implementation or disable its record-size extension."),
    alert!(30, "decompression_failure_RESERVED", "RFC 5246 §7.2 (reserved)", "Legacy: TLS compression, removed.",
        "Very old implementations.", "Disable TLS compression."),
    alert!(40, "handshake_failure", "RFC 8446 §6.2", "The sender could not agree on a set of security parameters.",
        "No cipher suite, key-exchange group or signature algorithm both sides support; a server requiring a client certificate it did not get (older stacks).",
        "Compare the ClientHello's cipher suites and groups with the server's configuration and enable a common one."),
    alert!(41, "no_certificate_RESERVED", "SSL 3.0 (reserved)", "Legacy SSL 3.0 alert.", "SSL 3.0 peers.", "Disable SSL 3.0."),
    alert!(42, "bad_certificate", "RFC 8446 §6.2", "A certificate was corrupt or its signature did not verify.",
        "Often a client rejecting the server's certificate (some stacks use it for any verification failure), or a server rejecting a client certificate.",
        "Check the certificate chain the server sends (order, intermediates, signature) with `openssl s_client -showcerts`."),
    alert!(43, "unsupported_certificate", "RFC 8446 §6.2", "The certificate is of a type the peer does not support.",
        "An unusual key type or signature algorithm (for example an EdDSA certificate to an old client).",
        "Serve an RSA or ECDSA certificate the clients support."),
    alert!(44, "certificate_revoked", "RFC 8446 §6.2", "The certificate was revoked by its issuer.",
        "CRL or OCSP says the certificate is revoked.", "Get a new certificate and deploy it."),
    alert!(45, "certificate_expired", "RFC 8446 §6.2", "A certificate has expired or is not yet valid.",
        "An expired server certificate (renewal failed), or a client or server clock that is wrong.",
        "Renew and deploy the certificate (check automated renewal); check the clocks of both machines."),
    alert!(46, "certificate_unknown", "RFC 8446 §6.2", "Some other problem with the certificate made it unacceptable.",
        "Untrusted issuers in some stacks, name mismatches, key-usage problems.",
        "Check the certificate's names, key usage and chain against the client's trust store."),
    alert!(47, "illegal_parameter", "RFC 8446 §6.2", "A handshake field was out of range or inconsistent.",
        "Buggy implementations or middleboxes altering the handshake.", "Update the peer that sent the bad field; look for middleboxes."),
    alert!(48, "unknown_ca", "RFC 8446 §6.2", "The certificate chain does not lead to a CA the sender trusts.",
        "A private or self-signed CA the client does not have, or a server that omits its intermediate certificate.",
        "Serve the full chain (leaf and intermediates), or install the private CA in the client's trust store."),
    alert!(49, "access_denied", "RFC 8446 §6.2", "The certificate was valid but access control refused the connection.",
        "Client-certificate authorisation rules.", "Grant the client's identity access, or use another certificate."),
    alert!(50, "decode_error", "RFC 8446 §6.2", "A message could not be decoded.", "Malformed messages, truncation by middleboxes.",
        "Update the sending implementation; check middleboxes."),
    alert!(51, "decrypt_error", "RFC 8446 §6.2", "A handshake cryptographic operation failed.",
        "A signature that does not verify, a Finished mismatch, a wrong pre-shared key.",
        "Check that the server's key matches its certificate and that both ends use the same PSK."),
    alert!(52, "too_many_cids_requested", "RFC 9147 §11", "DTLS 1.3 only: too many connection IDs requested.", "DTLS peers.", "Not expected over TCP."),
    alert!(60, "export_restriction_RESERVED", "RFC 5246 (reserved)", "Legacy export-cipher alert.", "Ancient peers.", "Upgrade the peer."),
    alert!(70, "protocol_version", "RFC 8446 §6.2", "The peer's protocol version is recognised but not supported.",
        "No TLS version both sides accept, e.g. a client limited to TLS 1.2 or older against a server that requires TLS 1.3, or a TLS 1.0 client against a TLS 1.2+ server.",
        "Enable a common version: update the client's TLS library or allow the version on the server."),
    alert!(71, "insufficient_security", "RFC 8446 §6.2", "The parameters offered are too weak for the sender's policy.",
        "A client offering only weak ciphers to a hardened server.", "Enable stronger cipher suites on the client."),
    alert!(80, "internal_error", "RFC 8446 §6.2", "The sender failed for a reason unrelated to the peer.",
        "Memory exhaustion, a broken key store, a backend the TLS terminator depends on.", "Look at the logs of the side that sent it."),
    alert!(86, "inappropriate_fallback", "RFC 7507", "A downgraded retry was detected (TLS_FALLBACK_SCSV).",
        "A client that retried with a lower version after a first failure.", "Find why the first, higher-version attempt failed."),
    alert!(90, "user_canceled", "RFC 8446 §6.1", "The handshake was cancelled for a reason unrelated to the protocol.",
        "The application gave up; a closure alert in TLS 1.3.", "Look at the application that cancelled."),
    alert!(100, "no_renegotiation_RESERVED", "RFC 5246 (reserved in TLS 1.3)", "Renegotiation was refused.",
        "A peer asking to renegotiate a TLS 1.2 session.", "Avoid renegotiation."),
    alert!(109, "missing_extension", "RFC 8446 §6.2", "A required extension was not sent.",
        "A TLS 1.3 peer missing supported_versions, key_share or signature_algorithms.", "Update the peer that omitted it."),
    alert!(110, "unsupported_extension", "RFC 8446 §6.2", "An extension appeared where it is not allowed.",
        "Buggy implementations.", "Update the peer that sent it."),
    alert!(111, "certificate_unobtainable_RESERVED", "RFC 6066 (reserved)", "Legacy client-certificate-URL alert.", "Old peers.", "Upgrade the peer."),
    alert!(112, "unrecognized_name", "RFC 6066 §3, RFC 8446 §6.2", "The server has no configuration for the name in SNI.",
        "A wrong host name, a missing virtual host, or a client that sends an IP address or no SNI where the server needs one.",
        "Connect with the host name the server serves, or add the name (virtual host, certificate) on the server."),
    alert!(113, "bad_certificate_status_response", "RFC 6066, RFC 8446 §6.2", "The stapled OCSP response was invalid or unacceptable.",
        "A stale or broken OCSP staple.", "Fix OCSP stapling on the server or refresh the staple."),
    alert!(114, "bad_certificate_hash_value_RESERVED", "RFC 6066 (reserved)", "Legacy alert.", "Old peers.", "Upgrade the peer."),
    alert!(115, "unknown_psk_identity", "RFC 4279, RFC 8446 §6.2", "The PSK identity is not known.",
        "A client using a pre-shared key the server does not have.", "Provision the same PSK on both ends."),
    alert!(116, "certificate_required", "RFC 8446 §6.2", "The server requires a client certificate and none was sent.",
        "Mutual TLS on the server, a client without its certificate configured.", "Configure the client certificate and key, or turn off mTLS for this endpoint."),
    alert!(120, "no_application_protocol", "RFC 7301 §3.2, RFC 8446 §6.2", "No ALPN protocol both sides support.",
        "The client offers only h2 and the server only http/1.1 (or the reverse); WebSocket over TLS needs http/1.1 unless RFC 8441 is supported.",
        "Offer http/1.1 in the client's ALPN list, or enable it on the server."),
    alert!(121, "ech_required", "RFC 9849", "The server requires Encrypted Client Hello.",
        "A client without ECH connecting to a server that demands it.", "Enable ECH in the client or relax the server's requirement."),
];

/// The catalog entry of a TLS alert description, if registered.
pub fn lookup_alert(code: u8) -> Option<&'static AlertEntry> {
    ALERTS.iter().find(|a| a.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::close::code::{CloseCode, CodeClass};

    #[test]
    fn catalog_agrees_with_classification() {
        for c in 0..=u16::MAX {
            let e = lookup(c);
            assert!(!std::ptr::eq(e, &FALLBACK), "{c} has no entry");
            assert!(
                !e.meaning.is_empty() && !e.when.is_empty() && !e.fix.is_empty(),
                "{c}"
            );
            let legal = CloseCode(c).is_legal_on_wire();
            assert_eq!(legal, e.wire == Wire::Legal, "{c}: {}", e.name);
        }
    }

    #[test]
    fn tls_alerts_from_the_registry() {
        for (code, name) in [
            (0, "close_notify"),
            (40, "handshake_failure"),
            (45, "certificate_expired"),
            (48, "unknown_ca"),
            (70, "protocol_version"),
            (112, "unrecognized_name"),
            (116, "certificate_required"),
            (120, "no_application_protocol"),
        ] {
            assert_eq!(lookup_alert(code).map(|a| a.name), Some(name));
        }
        assert!(lookup_alert(1).is_none(), "an old draft value, not in IANA");
        for a in ALERTS {
            assert!(
                !a.meaning.is_empty() && !a.when.is_empty() && !a.fix.is_empty(),
                "{}",
                a.name
            );
        }
        assert_eq!(ALERTS.len(), 36);
    }

    #[test]
    fn every_registered_code_has_its_own_entry() {
        for c in (1000..=1015).chain(crate::close::code::IANA_3XXX) {
            let e = lookup(c);
            assert_eq!((e.lo, e.hi), (c, c), "{c}");
        }
        assert_eq!(CloseCode(1015).class(), CodeClass::LocalOnly);
        assert!(lookup(1008).when.contains("Rate limits"));
        assert!(lookup(1015).when.contains("expired"));
        assert_eq!(lookup(4001).name, "Private Use");
        assert_eq!(lookup(2500).wire, Wire::Invalid);
    }
}
