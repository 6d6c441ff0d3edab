//! The catalog of client error texts: what a WebSocket client (a browser, Node, Java, rustls,
//! Python, Go) raises when a connection fails, what that means, what to look for in a capture
//! of it, what `wsclose analyze` shows there, and the fix. Arabic text in `errors_ar`.
//!
//! Each entry names the clients that raise the text and what their API hands the application
//! (a close code, or none when the library only raises an exception), as measured on real
//! clients (Chromium 148, Firefox 140 ESR, Node 20 with `ws` 8.18 and its built-in
//! WebSocket, JDK 17, Python 3.11 with websockets 17 and OpenSSL 3.0) or read in the library's
//! source (rustls 0.23, tungstenite 0.30, gorilla/websocket).
//!
//! Matching (`find`) is case-insensitive and tolerant of the text around the error: a
//! pattern is a set of phrases that must all occur. A specific entry beats a general
//! (`fallback`) one; among those, the entry whose matching pattern covers the most characters
//! wins, and on a tie the earlier entry. Never panics.

use serde::Serialize;

/// A client that raises an error text, and what its API gives the application.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct Raiser {
    /// The client and the API, as a reader knows them.
    pub client: &'static str,
    /// Family name, as in the analysis report (`chromium`, `firefox`, `node`, `java`,
    /// `rustls`, `python`, `go`).
    pub family: &'static str,
    /// Where the text appears: the exception type, the event, the console line.
    pub surface: &'static str,
    /// The close code the application gets, or `None` when it gets an exception only.
    pub code: Option<u16>,
}

/// A number the error text carries and the card explains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Number {
    /// An HTTP status that answered the Upgrade request.
    HttpStatus,
    /// A close code found in a Close frame.
    CloseCode,
}

/// One error text.
#[derive(Debug, PartialEq, Eq)]
pub struct ErrorEntry {
    /// Stable identifier (JSON, Arabic table key).
    pub id: &'static str,
    /// The text as the client writes it (its most common form).
    pub text: &'static str,
    /// Lowercase phrases; an entry matches when every phrase of one of its patterns occurs.
    pub patterns: &'static [&'static [&'static str]],
    /// Where the number in the text comes from, and the phrase it follows.
    pub number: Option<(Number, &'static str)>,
    /// A general entry, chosen only when no specific entry matches (the specific ones read
    /// the words that follow it, such as the reason after "certificate verify failed:").
    pub fallback: bool,
    /// Who raises it.
    pub raised_by: &'static [Raiser],
    /// The TLS alert that names this failure on the wire, when there is one.
    pub alert: Option<u8>,
    /// The close code to look for in a Close frame, when there is one.
    pub close: Option<u16>,
    /// Short statement of what went wrong.
    pub title: &'static str,
    pub meaning: &'static str,
    /// What to look for in a capture.
    pub look_for: &'static str,
    /// What `wsclose analyze` shows for it.
    pub analyze: &'static str,
    pub fix: &'static str,
    /// Where the wording comes from.
    pub source: &'static str,
}

// What the analysis report shows, shared by several entries.
const AN_EXPIRED: &str = "Outcome tls_failed: the tls section says \"handshake FAILED\", the certificate line ends with \"EXPIRED at capture time\" and a CertificateProblem warning gives the expiry date; the alert line names the client's alert when it sent a readable one. Under TLS 1.3 the certificate is encrypted: pass the key log (--keylog) to see it.";
const AN_UNTRUSTED: &str = "Outcome tls_failed: the tls section says \"handshake FAILED\", each certificate line names its issuer (and says \"self-signed\" for a root), a CertificateHint notes a chain with no intermediate, and the alert line shows unknown_ca (48) when the client sent a readable alert. Under TLS 1.3 pass the key log (--keylog) to see the certificates.";
const AN_NAME: &str = "Outcome tls_failed: the tls section says \"handshake FAILED\"; compare the SNI on its first line (the name the client asked for) with the names on the certificate line. The alert line shows the client's alert when it sent a readable one.";
const AN_MTLS: &str = "Outcome tls_failed: with the CertificateRequest and the client's answer visible (TLS 1.2, or TLS 1.3 with --keylog) the cause says that the server requires a client certificate and the client sent none, and the alert line shows the server's certificate_required (116), handshake_failure (40) or bad_certificate (42).";
const AN_DROP: &str = "Outcome abnormal: the story says \"abnormal drop, no Close frame\" and which side sent the FIN or RST, a NoCloseHandshake warning marks it, and the cause gives the idle time before the drop, compared with known proxy timeouts.";
const AN_HTTP: &str = "Outcome refused: the handshake line shows the status instead of 101 and an UpgradeRefused warning names it (\"this is an HTTP status, not a close code\"). When the server closed without answering, the handshake line says \"no response\".";

const CHROMIUM_CONSOLE: &str =
    "console: WebSocket connection to '...' failed: Error in connection establishment";
const FIREFOX_PAGE: &str =
    "certificate error page and the network panel; the page's WebSocket gets an error event";

/// Every error text, the specific ones first.
pub static ERRORS: &[ErrorEntry] = &[
    // --- Expired or not yet valid certificate -------------------------------------------
    ErrorEntry {
        id: "java-pkix-expired",
        text: "PKIX path validation failed: java.security.cert.CertPathValidatorException: validity check failed",
        patterns: &[
            &["pkix path validation failed", "validity check failed"],
            &["validity check failed"],
            &["certificateexpiredexception"],
            &["certificatenotyetvalidexception"],
        ],
        number: None,
        fallback: false,
        raised_by: &[JAVA_SSL],
        alert: Some(45),
        close: None,
        title: "Java rejected the server's certificate: it has expired (or is not valid yet)",
        meaning: "JSSE checked the validity dates of the server's certificate chain and one certificate is outside them: expired, or not valid yet because a clock is wrong. No WebSocket connection was made.",
        look_for: "The server's Certificate message and its validity dates (plaintext under TLS 1.2). The JDK client usually sends no readable alert: under TLS 1.2 it just closes (FIN) in the middle of the handshake, under TLS 1.3 its alert is encrypted; an OpenSSL server then answers with its own decode_error (50), a consequence and not the cause. The alert that names the failure is certificate_expired (45).",
        analyze: AN_EXPIRED,
        fix: "Renew the server's certificate and deploy it (check the automated renewal); check the clocks of the client and the server.",
        source: "JDK 17 JSSE (sun.security.validator), measured with java.net.http",
    },
    ErrorEntry {
        id: "java-pkix-validation",
        text: "PKIX path validation failed",
        patterns: &[&["pkix path validation failed"], &["certpathvalidatorexception"]],
        number: None,
        fallback: true,
        raised_by: &[JAVA_SSL],
        alert: None,
        close: None,
        title: "Java rejected a certificate of the server's chain",
        meaning: "JSSE built a chain to a trusted root but a certificate in it failed a check. The text after CertPathValidatorException says which: \"validity check failed\" is an expired or not yet valid certificate (the most common), \"Certificate has been revoked\" a revoked one, \"Algorithm constraints check failed\" a signature algorithm or key size the JDK refuses (SHA-1, RSA under 2048 bits).",
        look_for: "The server's Certificate message (plaintext under TLS 1.2): its validity dates, signature algorithm and key size. The JDK client usually sends no readable alert (a FIN under TLS 1.2, an encrypted alert under TLS 1.3); an OpenSSL server then answers with decode_error (50), a consequence.",
        analyze: "Outcome tls_failed: the tls section says \"handshake FAILED\" and lists the server's certificates with their dates (\"EXPIRED at capture time\" and a CertificateProblem warning for an expired one). Under TLS 1.3 pass the key log (--keylog) to see them.",
        fix: "Read the reason after CertPathValidatorException. Expired: renew the certificate. Revoked: issue a new one. Algorithm constraints: reissue it with SHA-256 and a 2048-bit (or larger) RSA or an ECDSA key.",
        source: "JDK 17 JSSE (sun.security.validator)",
    },
    ErrorEntry {
        id: "openssl-cert-expired",
        text: "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired",
        patterns: &[
            &["certificate_verify_failed", "certificate has expired"],
            &["certificate has expired"],
            &["cert_has_expired"],
            &["certificate is not yet valid"],
            &["cert_not_yet_valid"],
        ],
        number: None,
        fallback: false,
        raised_by: &[PY_SSL, NODE_TLS, GO_TLS],
        alert: Some(45),
        close: None,
        title: "The server's certificate has expired (or is not valid yet)",
        meaning: "The client's TLS library (OpenSSL for Python and Node, crypto/x509 for Go) checked the server's certificate and the current time is after its notAfter date (or before its notBefore). No WebSocket connection was made.",
        look_for: "The server's Certificate message and its dates (plaintext under TLS 1.2). Python's threaded clients send certificate_expired (45) in plaintext, even under TLS 1.3; Python's asyncio clients and Node send no alert, just a FIN, and an OpenSSL server then answers with decode_error (50), a consequence.",
        analyze: AN_EXPIRED,
        fix: "Renew the server's certificate and deploy it (check the automated renewal); check the clocks of the client and the server.",
        source: "OpenSSL X509_V_ERR_CERT_HAS_EXPIRED; Python 3.11 ssl, Node 20 and Go crypto/x509",
    },
    ErrorEntry {
        id: "chromium-date-invalid",
        text: "net::ERR_CERT_DATE_INVALID",
        patterns: &[&["err_cert_date_invalid"]],
        number: None,
        fallback: false,
        raised_by: &[CHROMIUM],
        alert: Some(46),
        close: None,
        title: "Chromium rejected the server's certificate: it has expired (or is not valid yet)",
        meaning: "Chromium's certificate verifier found the current time outside the validity dates of the server's certificate. The page's script never sees this name: it gets an error event and a close event with 1006, wasClean false; the name is in the developer-tools console.",
        look_for: "The server's Certificate message and its dates. Chromium sends certificate_unknown (46), not certificate_expired, for this and for an untrusted issuer alike: in plaintext under TLS 1.2, encrypted under TLS 1.3.",
        analyze: AN_EXPIRED,
        fix: "Renew the server's certificate and deploy it (check the automated renewal); check the clock of the client's machine.",
        source: "Chromium net_error_list (CERT_DATE_INVALID), measured with Chromium 148",
    },
    ErrorEntry {
        id: "firefox-expired",
        text: "SEC_ERROR_EXPIRED_CERTIFICATE",
        patterns: &[
            &["sec_error_expired_certificate"],
            &["sec_error_expired_issuer_certificate"],
            &["mozilla_pkix_error_not_yet_valid_certificate"],
            &["mozilla_pkix_error_not_yet_valid_issuer_certificate"],
        ],
        number: None,
        fallback: false,
        raised_by: &[FIREFOX],
        alert: Some(45),
        close: None,
        title: "Firefox rejected the server's certificate: it has expired (or is not valid yet)",
        meaning: "NSS, Firefox's TLS library, found the server's certificate (or, for SEC_ERROR_EXPIRED_ISSUER_CERTIFICATE, its issuer) outside its validity dates. The page's WebSocket gets an error event and a close event with 1015.",
        look_for: "The server's Certificate message and its dates. Firefox sends certificate_expired (45) encrypted: under TLS 1.3, and under TLS 1.2 too, because there it sends its Finished before its verdict, so the handshake looks complete on the wire and the alert follows it.",
        analyze: AN_EXPIRED,
        fix: "Renew the server's certificate and deploy it (check the automated renewal); check the clock of the client's machine.",
        source: "NSS error names (Firefox 140 ESR)",
    },
    ErrorEntry {
        id: "rustls-expired",
        text: "InvalidCertificate(Expired)",
        patterns: &[
            &["invalidcertificate(expired"],
            &["invalidcertificate(notvalidyet"],
            &["invalid peer certificate: expired"],
            &["invalid peer certificate: notvalidyet"],
            &["invalid peer certificate: certificate expired"],
            &["invalid peer certificate: certificate not valid yet"],
        ],
        number: None,
        fallback: false,
        raised_by: &[RUSTLS],
        alert: Some(45),
        close: None,
        title: "rustls rejected the server's certificate: it has expired (or is not valid yet)",
        meaning: "rustls (through webpki) found the current time outside the validity dates of the server's certificate. Newer rustls versions write it as ExpiredContext with the verification time and the notAfter date, both in UNIX seconds.",
        look_for: "The server's Certificate message and its dates. rustls sends certificate_expired (45): in plaintext under TLS 1.2, encrypted under TLS 1.3.",
        analyze: AN_EXPIRED,
        fix: "Renew the server's certificate and deploy it (check the automated renewal); check the clocks of the client and the server.",
        source: "rustls 0.23 CertificateError (Debug and Display forms)",
    },
    // --- Untrusted issuer ---------------------------------------------------------------
    ErrorEntry {
        id: "java-pkix-building",
        text: "PKIX path building failed: sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path to requested target",
        patterns: &[
            &["pkix path building failed"],
            &["unable to find valid certification path"],
            &["suncertpathbuilderexception"],
        ],
        number: None,
        fallback: false,
        raised_by: &[JAVA_SSL],
        alert: Some(48),
        close: None,
        title: "Java does not trust the issuer of the server's certificate",
        meaning: "JSSE could not build a chain from the server's certificate to a root in the JDK's trust store (cacerts, or the one set with javax.net.ssl.trustStore): a private or self-signed CA, or a server that does not send its intermediate certificate.",
        look_for: "The server's Certificate message: which certificates it sends and who issued each (plaintext under TLS 1.2). The JDK client usually sends no readable alert (a FIN under TLS 1.2, an encrypted alert under TLS 1.3); an OpenSSL server then answers with decode_error (50), a consequence. The alert that names the failure is unknown_ca (48).",
        analyze: AN_UNTRUSTED,
        fix: "Serve the full chain (leaf and intermediates). For a private CA, import it into the trust store the client uses (keytool -importcert) or point javax.net.ssl.trustStore at one that has it.",
        source: "JDK 17 JSSE (sun.security.provider.certpath), measured with java.net.http",
    },
    ErrorEntry {
        id: "openssl-untrusted",
        text: "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate",
        patterns: &[
            &["certificate_verify_failed", "unable to get local issuer certificate"],
            &["unable to get local issuer certificate"],
            &["unable_to_get_issuer_cert_locally"],
            &["unable to verify the first certificate"],
            &["unable_to_verify_leaf_signature"],
            &["unable to get issuer certificate"],
            &["certificate signed by unknown authority"],
        ],
        number: None,
        fallback: false,
        raised_by: &[PY_SSL, NODE_TLS, GO_TLS],
        alert: Some(48),
        close: None,
        title: "The client does not trust the issuer of the server's certificate",
        meaning: "The client's TLS library could not find the issuer of the server's certificate among its trusted roots: a private CA the client lacks, or a server that leaves out its intermediate certificate. Node says \"unable to verify the first certificate\" when the server sent only its own certificate; Go says \"certificate signed by unknown authority\".",
        look_for: "The server's Certificate message: which certificates it sends and who issued each (plaintext under TLS 1.2). Python's threaded clients send unknown_ca (48) in plaintext, even under TLS 1.3; Python's asyncio clients and Node send no alert, just a FIN, and an OpenSSL server then answers with decode_error (50), a consequence.",
        analyze: AN_UNTRUSTED,
        fix: "Serve the full chain (leaf and intermediates). For a private CA, give the client its certificate: cafile= or SSL_CERT_FILE for Python, the ca option or NODE_EXTRA_CA_CERTS for Node, the system trust store for Go.",
        source: "OpenSSL X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY; Python 3.11 ssl, Node 20, Go crypto/x509",
    },
    ErrorEntry {
        id: "openssl-self-signed",
        text: "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate",
        patterns: &[
            &["self-signed certificate"],
            &["self signed certificate"],
            &["depth_zero_self_signed_cert"],
            &["self_signed_cert_in_chain"],
        ],
        number: None,
        fallback: false,
        raised_by: &[PY_SSL, NODE_TLS],
        alert: Some(48),
        close: None,
        title: "The server's certificate is self-signed and the client does not trust it",
        meaning: "The server presented a certificate signed by itself (or, \"in certificate chain\", a chain ending in a root the client does not trust, often a corporate proxy that intercepts TLS). OpenSSL before 3.0 writes \"self signed\" without the hyphen.",
        look_for: "The server's Certificate message: a certificate whose issuer is its own subject. Python's threaded clients send unknown_ca (48) in plaintext; Python's asyncio clients and Node send no alert, just a FIN, and an OpenSSL server then answers with decode_error (50).",
        analyze: AN_UNTRUSTED,
        fix: "Use a certificate from a CA the clients trust, or give the client the self-signed certificate as its CA (cafile= for Python, the ca option or NODE_EXTRA_CA_CERTS for Node). Behind an intercepting proxy, install the proxy's root.",
        source: "OpenSSL X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT; Python 3.11 ssl, Node 20",
    },
    ErrorEntry {
        id: "chromium-authority-invalid",
        text: "net::ERR_CERT_AUTHORITY_INVALID",
        patterns: &[&["err_cert_authority_invalid"]],
        number: None,
        fallback: false,
        raised_by: &[CHROMIUM],
        alert: Some(46),
        close: None,
        title: "Chromium does not trust the issuer of the server's certificate",
        meaning: "Chromium could not chain the server's certificate to a root it trusts: a private CA, a self-signed certificate, or a missing intermediate. The page's script gets an error event and a close event with 1006, wasClean false; the name is in the developer-tools console.",
        look_for: "The server's Certificate message and the issuer of each certificate. Chromium sends certificate_unknown (46), not unknown_ca: in plaintext under TLS 1.2, encrypted under TLS 1.3.",
        analyze: AN_UNTRUSTED,
        fix: "Serve the full chain (leaf and intermediates). For a private CA, install it in the client's trust store (on Linux, the NSS database in ~/.pki/nssdb, with certutil).",
        source: "Chromium net_error_list (CERT_AUTHORITY_INVALID), measured with Chromium 148",
    },
    ErrorEntry {
        id: "firefox-unknown-issuer",
        text: "SEC_ERROR_UNKNOWN_ISSUER",
        patterns: &[
            &["sec_error_unknown_issuer"],
            &["sec_error_untrusted_issuer"],
            &["mozilla_pkix_error_self_signed_cert"],
        ],
        number: None,
        fallback: false,
        raised_by: &[FIREFOX],
        alert: Some(48),
        close: None,
        title: "Firefox does not trust the issuer of the server's certificate",
        meaning: "NSS could not chain the server's certificate to a root Firefox trusts: a private CA, a self-signed certificate (MOZILLA_PKIX_ERROR_SELF_SIGNED_CERT), or a missing intermediate. The page's WebSocket gets an error event and a close event with 1015.",
        look_for: "The server's Certificate message and the issuer of each certificate. Firefox sends unknown_ca (48) encrypted: under TLS 1.3, and under TLS 1.2 too, after its own Finished, so the handshake looks complete on the wire.",
        analyze: AN_UNTRUSTED,
        fix: "Serve the full chain (leaf and intermediates). For a private CA, import it into Firefox (its certificate manager, or certutil on the profile) or let Firefox use the system's roots (security.enterprise_roots.enabled).",
        source: "NSS error names (Firefox 140 ESR)",
    },
    ErrorEntry {
        id: "rustls-unknown-issuer",
        text: "InvalidCertificate(UnknownIssuer)",
        patterns: &[
            &["invalidcertificate(unknownissuer"],
            &["invalid peer certificate: unknownissuer"],
            &["unknownissuer"],
        ],
        number: None,
        fallback: false,
        raised_by: &[RUSTLS],
        alert: Some(48),
        close: None,
        title: "rustls does not trust the issuer of the server's certificate",
        meaning: "rustls could not chain the server's certificate to a root of its store (webpki-roots, or the platform's roots with rustls-native-certs or rustls-platform-verifier): a private CA, a self-signed certificate, or a missing intermediate.",
        look_for: "The server's Certificate message and the issuer of each certificate. rustls sends unknown_ca (48): in plaintext under TLS 1.2, encrypted under TLS 1.3.",
        analyze: AN_UNTRUSTED,
        fix: "Serve the full chain (leaf and intermediates). For a private CA, add it to the client's RootCertStore (or the platform store when the client uses it).",
        source: "rustls 0.23 CertificateError",
    },
    // --- Name mismatch ------------------------------------------------------------------
    ErrorEntry {
        id: "hostname-mismatch",
        text: "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: Hostname mismatch, certificate is not valid for 'HOST'",
        patterns: &[
            &["hostname mismatch"],
            &["does not match certificate's altnames"],
            &["err_tls_cert_altname_invalid"],
            &["hostname", "doesn't match"],
            &["no subject alternative", "matching"],
            &["x509: certificate is valid for"],
        ],
        number: None,
        fallback: false,
        raised_by: &[PY_SSL, NODE_TLS, JAVA_SSL, GO_TLS],
        alert: Some(42),
        close: None,
        title: "The server's certificate is not valid for the host name the client connected to",
        meaning: "The name in the wss:// URL is not among the certificate's subjectAltName entries (or is an IP address the certificate does not list). Node says \"Hostname/IP does not match certificate's altnames\", Java \"No subject alternative DNS name matching ... found\", Go \"x509: certificate is valid for A, not B\".",
        look_for: "The ClientHello's SNI (the name the client asked for) against the names of the server's certificate (plaintext under TLS 1.2). Python's threaded clients send bad_certificate (42) in plaintext; Node and Python's asyncio clients close with a FIN.",
        analyze: AN_NAME,
        fix: "Connect with a name the certificate lists, or reissue the certificate with that name in subjectAltName. When the server hosts several names, check that it picks the certificate by SNI.",
        source: "OpenSSL X509_V_ERR_HOSTNAME_MISMATCH (Python 3.11 ssl), Node 20 ERR_TLS_CERT_ALTNAME_INVALID, JSSE, Go crypto/x509",
    },
    ErrorEntry {
        id: "chromium-common-name-invalid",
        text: "net::ERR_CERT_COMMON_NAME_INVALID",
        patterns: &[&["err_cert_common_name_invalid"]],
        number: None,
        fallback: false,
        raised_by: &[CHROMIUM],
        alert: Some(46),
        close: None,
        title: "Chromium: the server's certificate is not valid for the host name",
        meaning: "The host of the wss:// URL is not among the certificate's subjectAltName entries. Chromium ignores the subject's common name, so a certificate with the name only in CN fails too.",
        look_for: "The ClientHello's SNI against the names of the server's certificate. Chromium sends a certificate alert, certificate_unknown (46) as for its other certificate errors: in plaintext under TLS 1.2, encrypted under TLS 1.3.",
        analyze: AN_NAME,
        fix: "Connect with a name the certificate lists, or reissue the certificate with that name in subjectAltName (not only in CN).",
        source: "Chromium net_error_list (CERT_COMMON_NAME_INVALID), measured with Chromium 148",
    },
    ErrorEntry {
        id: "firefox-bad-cert-domain",
        text: "SSL_ERROR_BAD_CERT_DOMAIN",
        patterns: &[&["ssl_error_bad_cert_domain"]],
        number: None,
        fallback: false,
        raised_by: &[FIREFOX],
        alert: None,
        close: None,
        title: "Firefox: the server's certificate is not valid for the host name",
        meaning: "The host of the wss:// URL is not among the certificate's subjectAltName entries. The page's WebSocket gets an error event and a close event with 1015.",
        look_for: "The ClientHello's SNI against the names of the server's certificate. Firefox's alert is encrypted, after its own Finished under TLS 1.2, so the handshake looks complete on the wire.",
        analyze: AN_NAME,
        fix: "Connect with a name the certificate lists, or reissue the certificate with that name in subjectAltName.",
        source: "NSS error names (Firefox 140 ESR)",
    },
    ErrorEntry {
        id: "rustls-not-valid-for-name",
        text: "InvalidCertificate(NotValidForName)",
        patterns: &[
            &["notvalidforname"],
            &["certificate not valid for name"],
        ],
        number: None,
        fallback: false,
        raised_by: &[RUSTLS],
        alert: Some(42),
        close: None,
        title: "rustls: the server's certificate is not valid for the host name",
        meaning: "The server name the client gave rustls (the URL's host) is not among the certificate's subjectAltName entries. Newer rustls versions write NotValidForNameContext with the expected and the presented names.",
        look_for: "The ClientHello's SNI against the names of the server's certificate. rustls sends bad_certificate (42): in plaintext under TLS 1.2, encrypted under TLS 1.3.",
        analyze: AN_NAME,
        fix: "Connect with a name the certificate lists, or reissue the certificate with that name in subjectAltName.",
        source: "rustls 0.23 CertificateError",
    },
    ErrorEntry {
        id: "openssl-verify-failed",
        text: "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed",
        patterns: &[&["certificate_verify_failed"], &["certificate verify failed"]],
        number: None,
        fallback: true,
        raised_by: &[PY_SSL],
        alert: None,
        close: None,
        title: "The client rejected the server's certificate",
        meaning: "OpenSSL's verification of the server's certificate failed. The words after \"certificate verify failed:\" say why: \"certificate has expired\", \"unable to get local issuer certificate\" (untrusted issuer or missing intermediate), \"self-signed certificate\", \"Hostname mismatch\".",
        look_for: "The server's Certificate message (plaintext under TLS 1.2): dates, issuers, names. Python's threaded clients send the matching alert in plaintext (45 expired, 48 untrusted, 42 name); asyncio clients just close with a FIN.",
        analyze: "Outcome tls_failed: the tls section says \"handshake FAILED\" and lists the server's certificates with their dates and issuers; the cause names the certificate problem it sees.",
        fix: "Explain the full message (with the words after \"certificate verify failed:\") to get the specific fix.",
        source: "Python ssl.SSLCertVerificationError (OpenSSL)",
    },
    // --- Client certificates ------------------------------------------------------------
    ErrorEntry {
        id: "certificate-required",
        text: "tlsv13 alert certificate required",
        patterns: &[
            &["alertreceived(certificaterequired"],
            &["received fatal alert: certificaterequired"],
            &["ssl_error_rx_certificate_required_alert"],
            &["certificate required"],
            &["certificate_required"],
        ],
        number: None,
        fallback: false,
        raised_by: &[
            Raiser { client: "rustls (tokio-tungstenite)", family: "rustls", surface: "AlertReceived(CertificateRequired)", code: None },
            Raiser { client: "OpenSSL clients (Python ssl, Node)", family: "python", surface: "tlsv13 alert certificate required", code: None },
            Raiser { client: "Java (JSSE)", family: "java", surface: "Received fatal alert: certificate_required", code: None },
            Raiser { client: "Go crypto/tls", family: "go", surface: "remote error: tls: certificate required", code: None },
            Raiser { client: "Firefox", family: "firefox", surface: "SSL_ERROR_RX_CERTIFICATE_REQUIRED_ALERT; error event", code: Some(1015) },
        ],
        alert: Some(116),
        close: None,
        title: "The server requires a client certificate and the client sent none",
        meaning: "The server asked for a client certificate (mutual TLS) and the client answered with an empty Certificate message; the server then ended the handshake with the TLS 1.3 alert certificate_required (116). Under TLS 1.3 the client has already sent its Finished (Firefox even its HTTP Upgrade request), so many clients learn it only on their first read and report something vaguer: measured, Python websockets says \"did not receive a valid HTTP response\", Java \"HTTP/1.1 header parser received no bytes\", Node ws \"socket hang up\" (ECONNRESET).",
        look_for: "A CertificateRequest from the server, then the client's empty Certificate, then alert 116 from the server (encrypted under TLS 1.3: the records look like a completed handshake followed by a short encrypted record and a RST). Under TLS 1.2 the server answers handshake_failure (40) instead.",
        analyze: AN_MTLS,
        fix: "Configure the client certificate and its key in the client (for browsers, install it and let the page's origin select it), or stop requiring client certificates on this endpoint.",
        source: "RFC 8446 §6.2 (certificate_required); the clients' own alert texts",
    },
    ErrorEntry {
        id: "chromium-bad-client-auth-cert",
        text: "net::ERR_BAD_SSL_CLIENT_AUTH_CERT",
        patterns: &[&["err_bad_ssl_client_auth_cert"]],
        number: None,
        fallback: false,
        raised_by: &[CHROMIUM],
        alert: None,
        close: None,
        title: "Chromium: the server rejected the client certificate it was given",
        meaning: "Chromium sent a client certificate and the server refused it: issued by a CA the server does not trust, expired, or missing the clientAuth extended key usage. The page gets an error event and close 1006.",
        look_for: "The client's Certificate message (not empty) after the server's CertificateRequest, then a fatal alert from the server: bad_certificate (42), unknown_ca (48), certificate_expired (45), certificate_required (116) or handshake_failure (40). Under TLS 1.3 both are encrypted: pass the key log.",
        analyze: "Outcome tls_failed: the alert line shows the server's alert (decrypted under TLS 1.3 with --keylog) and the cause names it.",
        fix: "Give the client a certificate issued by a CA the server trusts, valid now, with clientAuth in its extended key usage; or add its CA to the server's client CA list.",
        source: "Chromium net_error_list (BAD_SSL_CLIENT_AUTH_CERT)",
    },
    ErrorEntry {
        id: "chromium-client-auth-cert-needed",
        text: "net::ERR_SSL_CLIENT_AUTH_CERT_NEEDED",
        patterns: &[&["err_ssl_client_auth_cert_needed"]],
        number: None,
        fallback: false,
        raised_by: &[CHROMIUM],
        alert: None,
        close: None,
        title: "Chromium: the server asked for a client certificate and none was chosen",
        meaning: "The server requested a client certificate and Chromium had none to send (or the user dismissed the selection). The page gets an error event and close 1006.",
        look_for: "The server's CertificateRequest, then nothing from Chromium but a FIN (no Certificate, no alert); an OpenSSL server then sends decode_error (50), a consequence.",
        analyze: AN_MTLS,
        fix: "Install a client certificate the server accepts and allow the page's origin to use it (policy AutoSelectCertificateForUrls for unattended browsers), or stop requiring client certificates.",
        source: "Chromium net_error_list (SSL_CLIENT_AUTH_CERT_NEEDED)",
    },
    ErrorEntry {
        id: "chromium-handshake-canceled",
        text: "WebSocket opening handshake was canceled",
        patterns: &[&["websocket opening handshake was canceled"], &["opening handshake was cancelled"]],
        number: None,
        fallback: false,
        raised_by: &[CHROMIUM],
        alert: None,
        close: None,
        title: "Chromium gave up the opening handshake",
        meaning: "Chromium stopped the connection before it was open. Measured with headless Chromium 148, this is what the console says when a server requests a client certificate and the browser has none to send; it also appears when the page goes away or the network request is cancelled during the handshake.",
        look_for: "Where the client stops: after a CertificateRequest from the server, the client's FIN without a Certificate or an alert (then the server's decode_error, 50); otherwise the client's FIN before the 101 response.",
        analyze: "Outcome tls_failed when the TLS handshake stopped (with the missing client certificate as the cause when the CertificateRequest is visible); otherwise the handshake line shows the Upgrade request with no response.",
        fix: "If the server requires client certificates, install one in the browser and allow the origin to use it. Otherwise look at what cancelled the page's connection (navigation, a closing tab).",
        source: "Chromium console text, measured with Chromium 148",
    },
    // --- TLS spoken to something else -----------------------------------------------------
    ErrorEntry {
        id: "chromium-ssl-protocol-error",
        text: "net::ERR_SSL_PROTOCOL_ERROR",
        patterns: &[&["err_ssl_protocol_error"]],
        number: None,
        fallback: false,
        raised_by: &[CHROMIUM],
        alert: None,
        close: None,
        title: "Chromium: the TLS handshake broke the protocol",
        meaning: "What came back was not a valid TLS handshake. Measured: a wss:// URL pointed at a port that answers in plaintext (a ws:// or HTTP server) gives this error. A server that ends the handshake with a protocol alert, or a middlebox that rewrites it, gives it too.",
        look_for: "The first bytes the server sends after the ClientHello: readable text (\"HTTP/1.1 400\", an HTML page) instead of a TLS record, or a fatal alert such as handshake_failure (40), protocol_version (70) or decode_error (50).",
        analyze: "Outcome tls_failed: the tls section says \"no ServerHello\" and the cause describes the server's answer (a plaintext reply, a close without an alert, or its alert).",
        fix: "Use ws:// for a plaintext port or put TLS in front of the server (for instance a proxy that terminates TLS). Otherwise read the server's TLS logs for the alert it sent.",
        source: "Chromium net_error_list (SSL_PROTOCOL_ERROR), measured with Chromium 148",
    },
    ErrorEntry {
        id: "openssl-wrong-version-number",
        text: "[SSL: WRONG_VERSION_NUMBER] wrong version number",
        patterns: &[&["wrong_version_number"], &["wrong version number"]],
        number: None,
        fallback: false,
        raised_by: &[
            Raiser { client: "Python ssl (websockets)", family: "python", surface: "ssl.SSLError", code: None },
            Raiser { client: "Node (ws)", family: "node", surface: "Error EPROTO; ws close event", code: Some(1006) },
        ],
        alert: None,
        close: None,
        title: "The server answered TLS with something that is not TLS",
        meaning: "OpenSSL read the server's first bytes as a TLS record header and the version field was nonsense: the server answered in plaintext, most often a wss:// URL pointed at a ws:// or HTTP port.",
        look_for: "The server's first bytes after the ClientHello: readable text (\"HTTP/1.1 400 Bad Request\") instead of a TLS record.",
        analyze: "Outcome tls_failed: the tls section says \"no ServerHello\" and the cause describes the server's plaintext answer.",
        fix: "Use ws:// for a plaintext port, or the port where the server speaks TLS.",
        source: "OpenSSL SSL_R_WRONG_VERSION_NUMBER, measured with Python 3.11 and Node 20",
    },
    // --- The opening handshake ----------------------------------------------------------
    ErrorEntry {
        id: "undici-network-error",
        text: "Received network error or non-101 status code.",
        patterns: &[&["received network error or non-101 status code"]],
        number: None,
        fallback: false,
        raised_by: &[Raiser { client: "Node built-in WebSocket (undici)", family: "node", surface: "error event, then close event", code: Some(1006) }],
        alert: None,
        close: None,
        title: "The WebSocket never opened: TCP, TLS or the HTTP Upgrade failed",
        meaning: "Node's WHATWG WebSocket (undici) says only that the opening handshake failed: the TCP connection was refused or reset, the TLS handshake failed (an expired or untrusted certificate, a client certificate required), or the server answered the Upgrade with a status other than 101. The close event carries 1006. The API hides which; the capture shows it.",
        look_for: "Everything before a 101: a RST answering the SYN (nothing listening); a TLS handshake that stops (undici sends no alert when it rejects a certificate, just a FIN, and an OpenSSL server then answers decode_error, 50); or the HTTP status of the server's answer to the Upgrade.",
        analyze: "Outcome tls_failed (with the certificate problem as the cause) or refused (the HTTP status on the handshake line); with no answer at all, the story shows the RST or FIN that ended it.",
        fix: "Find which step failed in the capture and fix that one; for certificates, NODE_EXTRA_CA_CERTS adds a private CA to Node.",
        source: "undici (Node 20.20), measured",
    },
    ErrorEntry {
        id: "closed-before-established",
        text: "WebSocket is closed before the connection is established.",
        patterns: &[
            &["closed before the connection", "established"],
        ],
        number: None,
        fallback: false,
        raised_by: &[
            Raiser { client: "Chromium", family: "chromium", surface: "console warning; error event", code: Some(1006) },
            Raiser { client: "Node ws", family: "node", surface: "Error: WebSocket was closed before the connection was established", code: Some(1006) },
        ],
        alert: None,
        close: None,
        title: "The application closed the WebSocket while it was still connecting",
        meaning: "The client's own code called close() (ws: close() or terminate()) before the handshake finished. Nothing failed on the network: common causes are a component unmounted right after mounting (React StrictMode runs effects twice in development), a connect timeout in the application, or a page navigating away.",
        look_for: "The client's FIN or RST before the server's 101, sometimes before the Upgrade request has been sent at all; a 101 that arrives after the client's FIN.",
        analyze: "Outcome abnormal or an unanswered handshake (\"no response\" on the handshake line); the story shows that the client sent the FIN or RST, and when.",
        fix: "Do not close a socket that is still CONNECTING: wait for open (or check readyState) before closing, and in React close it in the effect's cleanup only once it opened. If the close comes from your own connect timeout, raise it.",
        source: "Chromium console text and ws 8.18 (lib/websocket.js), measured",
    },
    ErrorEntry {
        id: "unexpected-server-response",
        text: "Unexpected server response: NNN",
        patterns: &[
            &["unexpected server response"],
            &["unexpected response code"],
            &["server rejected websocket connection: http"],
        ],
        number: Some((Number::HttpStatus, "")),
        fallback: false,
        raised_by: &[
            Raiser { client: "Node ws", family: "node", surface: "error event: Unexpected server response: NNN", code: Some(1006) },
            Raiser { client: "Chromium", family: "chromium", surface: "console: Error during WebSocket handshake: Unexpected response code: NNN; error event", code: Some(1006) },
            Raiser { client: "Python websockets", family: "python", surface: "InvalidStatus: server rejected WebSocket connection: HTTP NNN", code: None },
        ],
        alert: None,
        close: None,
        title: "The server answered the Upgrade request with an HTTP status instead of 101",
        meaning: "The TCP and TLS parts worked; the server (or a proxy in front of it) refused to switch to WebSocket and answered with an ordinary HTTP response. The status says why, not a close code.",
        look_for: "The HTTP response to the Upgrade request: its status line and headers (Server, Via, WWW-Authenticate, Location), and its body, which often says why.",
        analyze: AN_HTTP,
        fix: "Act on the status: 400 a malformed Upgrade (often a proxy that strips the Upgrade and Connection headers), 401/403 authentication or an Origin the server refuses, 404 a wrong path, 426 a version the server wants, 429 too many connections, 502/503/504 a proxy whose backend is down, 200 or 30x an endpoint that is not WebSocket at all.",
        source: "ws 8.18 (lib/websocket.js), Chromium, websockets 17, measured",
    },
    ErrorEntry {
        id: "no-upgrade-response",
        text: "socket hang up",
        patterns: &[
            &["socket hang up"],
            &["header parser received no bytes"],
            &["did not receive a valid http response"],
        ],
        number: None,
        fallback: false,
        raised_by: &[
            Raiser { client: "Node ws", family: "node", surface: "Error: socket hang up (ECONNRESET)", code: Some(1006) },
            Raiser { client: "Java java.net.http", family: "java", surface: "IOException: HTTP/1.1 header parser received no bytes", code: None },
            Raiser { client: "Python websockets", family: "python", surface: "InvalidMessage: did not receive a valid HTTP response", code: None },
        ],
        alert: None,
        close: None,
        title: "The server closed the connection without answering the Upgrade request",
        meaning: "The client sent its HTTP Upgrade request and the connection ended before any response. Measured: this is what Node ws, Java and Python websockets report when a TLS 1.3 server rejects a missing client certificate after the handshake (alert 116). It is also a plain-HTTP request sent to a TLS port, a server that crashed on the request, or a proxy that refused it.",
        look_for: "The Upgrade request and what follows: an encrypted alert and a RST from the server right after the client's Finished (TLS 1.3 client-certificate rejection), or a FIN or RST with no response.",
        analyze: "The handshake line says \"no response\" and the story shows the FIN or RST; for the TLS 1.3 client-certificate case, outcome tls_failed with certificate_required once the key log (--keylog) decrypts the alert.",
        fix: "If the server requires client certificates, configure one in the client. Otherwise check that the URL's scheme matches the port (wss:// for TLS) and read the server's or the proxy's logs for the time of the request.",
        source: "Node 20 ws 8.18, JDK 17 java.net.http, websockets 17, measured",
    },
    // --- Frames and closes --------------------------------------------------------------
    ErrorEntry {
        id: "invalid-close-code",
        text: "Invalid WebSocket frame: invalid status code NNNN",
        patterns: &[
            &["invalid websocket frame: invalid status code"],
            &["invalid status code"],
            &["invalid close code"],
        ],
        number: Some((Number::CloseCode, "code")),
        fallback: false,
        raised_by: &[
            Raiser { client: "Node ws", family: "node", surface: "error event (WS_ERR_INVALID_CLOSE_CODE), then close event", code: Some(1006) },
            Raiser { client: "Node built-in WebSocket (undici)", family: "node", surface: "error event: Invalid status code, then close event", code: Some(1006) },
            Raiser { client: "Python websockets", family: "python", surface: "ConnectionClosedError: sent 1002 (protocol error) invalid status code", code: Some(1006) },
        ],
        alert: None,
        close: Some(1002),
        title: "The peer's Close frame carried a code that must not be sent",
        meaning: "The other side sent a Close frame whose code is illegal on the wire (1004, 1005, 1006, 1015, under 1000, 1016-2999 or 5000 and above). ws, undici and websockets fail the connection: they answer with Close 1002 and report 1006 to the application.",
        look_for: "The peer's Close frame with the illegal code, then this client's Close 1002 (Protocol Error).",
        analyze: "The peer's Close is marked [ILLEGAL] with an IllegalCloseCode error, and \"peer reaction\" shows the 1002 this client answered.",
        fix: "Fix the sender: send a legal code (1000, 1001, 1008, 1011, or 4000-4999 for the application's own reasons). A proxy that forwards the 1005/1006 it observed should send 1000 or 1001 instead.",
        source: "ws 8.18 (lib/receiver.js, isValidStatusCode), measured with Node 20",
    },
    ErrorEntry {
        id: "py-no-close-frame",
        text: "no close frame received or sent",
        patterns: &[&["no close frame received or sent"]],
        number: None,
        fallback: false,
        raised_by: &[Raiser { client: "Python websockets", family: "python", surface: "ConnectionClosedError", code: Some(1006) }],
        alert: None,
        close: None,
        title: "The TCP connection ended with no Close frame in either direction",
        meaning: "websockets saw the TCP connection end (FIN or RST) while neither side had sent a Close frame: the other side crashed or was killed, a proxy or load balancer dropped an idle connection, or the network went away. Its close_code is 1006.",
        look_for: "The FIN or RST that ends the connection, who sent it, and how long the connection had been idle before it.",
        analyze: AN_DROP,
        fix: "Find who dropped TCP: a proxy's idle timeout (nginx and AWS ALB default to 60 s) is cured by pings more often than the timeout (websockets' ping_interval); a crash or restart, by the other side's logs at that time. Reconnect with backoff.",
        source: "websockets 17 (exceptions.py), measured",
    },
    ErrorEntry {
        id: "py-keepalive-sent",
        text: "sent 1011 (internal error) keepalive ping timeout; no close frame received",
        patterns: &[&["sent 1011 (internal error) keepalive ping timeout"]],
        number: None,
        fallback: false,
        raised_by: &[Raiser { client: "Python websockets", family: "python", surface: "ConnectionClosedError", code: Some(1006) }],
        alert: None,
        close: Some(1011),
        title: "This side's keepalive Pings went unanswered, so it closed the connection",
        meaning: "websockets sends a Ping every ping_interval (20 s by default) and waits ping_timeout (20 s) for the Pong. None came, so it sent Close 1011 with the reason \"keepalive ping timeout\" and dropped the connection. The other side was unreachable (network gone, a proxy that silently dropped the connection) or too busy to answer (an event loop blocked by synchronous work).",
        look_for: "Pings from this side with no Pong after them, then this side's Close 1011 \"keepalive ping timeout\" about ping_timeout after the last Ping, usually with no Close in reply.",
        analyze: "A Close frame 1011 Internal Error with the reason \"keepalive ping timeout\", sent by this side; the story shows whether the other side answered it.",
        fix: "Find why the other side stopped answering: its logs, a blocked event loop (move blocking work to a thread), or a proxy that dropped the connection. If the peer is just slow, raise ping_timeout.",
        source: "websockets 17 (asyncio/connection.py, keepalive)",
    },
    ErrorEntry {
        id: "py-keepalive-received",
        text: "received 1011 (internal error) keepalive ping timeout",
        patterns: &[&["received 1011 (internal error) keepalive ping timeout"]],
        number: None,
        fallback: false,
        raised_by: &[Raiser { client: "Python websockets", family: "python", surface: "ConnectionClosedError", code: Some(1011) }],
        alert: None,
        close: Some(1011),
        title: "The other side's keepalive Pings went unanswered, so it closed the connection",
        meaning: "The peer (often a websockets server) pinged this side and got no Pong within its timeout, so it sent Close 1011 \"keepalive ping timeout\". This side's event loop was blocked, or the network between the two stalled.",
        look_for: "Pings from the peer that this side did not answer with a Pong, then the peer's Close 1011 \"keepalive ping timeout\".",
        analyze: "A Close frame 1011 Internal Error with the reason \"keepalive ping timeout\", sent by the peer.",
        fix: "Keep this side's event loop free to answer Pings (run blocking or CPU-heavy work in a thread or process); if it is slow by design, ask for a longer ping_timeout on the peer.",
        source: "websockets 17 (asyncio/connection.py, keepalive)",
    },
    ErrorEntry {
        id: "keepalive-ping-timeout",
        text: "keepalive ping timeout",
        patterns: &[&["keepalive ping timeout"]],
        number: None,
        fallback: true,
        raised_by: &[Raiser { client: "Python websockets", family: "python", surface: "ConnectionClosedError; Close reason", code: Some(1011) }],
        alert: None,
        close: Some(1011),
        title: "A keepalive Ping went unanswered and the connection was closed",
        meaning: "websockets pings every ping_interval (20 s) and closes with 1011 \"keepalive ping timeout\" when no Pong arrives within ping_timeout (20 s). \"sent 1011\" means this side gave up on the other; \"received 1011\" means the other side gave up on this one.",
        look_for: "The Ping with no Pong after it, and the Close 1011 \"keepalive ping timeout\": who sent it says whose Pings went unanswered.",
        analyze: "A Close frame 1011 Internal Error with the reason \"keepalive ping timeout\" and its direction.",
        fix: "Keep the side that must answer free to do so (no blocking work on its event loop) and check the network between them; raise ping_timeout only when the delay is expected.",
        source: "websockets 17 (asyncio/connection.py, keepalive)",
    },
    ErrorEntry {
        id: "gorilla-abnormal-eof",
        text: "websocket: close 1006 (abnormal closure): unexpected EOF",
        patterns: &[
            &["websocket: close 1006", "unexpected eof"],
            &["close 1006 (abnormal closure)"],
        ],
        number: None,
        fallback: false,
        raised_by: &[Raiser { client: "Go gorilla/websocket", family: "go", surface: "*websocket.CloseError from ReadMessage", code: Some(1006) }],
        alert: None,
        close: None,
        title: "The TCP connection ended without a Close frame (Go, gorilla/websocket)",
        meaning: "gorilla/websocket was reading a frame when the TCP connection ended (EOF) with no Close frame: it reports it as a CloseError with 1006. The other side crashed or was killed, a proxy dropped the connection (often an idle timeout), or the network went away.",
        look_for: "The FIN or RST that ends the connection, who sent it, and how long the connection had been idle.",
        analyze: AN_DROP,
        fix: "Find who dropped TCP: for a proxy's idle timeout send Pings more often than it (nginx and AWS ALB default to 60 s) and answer them; for a crash, read the other side's logs at that time. Treat 1006 as a reason to reconnect with backoff.",
        source: "gorilla/websocket conn.go (CloseError, errUnexpectedEOF)",
    },
    ErrorEntry {
        id: "tungstenite-reset",
        text: "Connection reset without closing handshake",
        patterns: &[&["connection reset without closing handshake"], &["resetwithoutclosinghandshake"]],
        number: None,
        fallback: false,
        raised_by: &[Raiser { client: "tungstenite / tokio-tungstenite", family: "rustls", surface: "Error::Protocol(ResetWithoutClosingHandshake)", code: None }],
        alert: None,
        close: None,
        title: "The TCP connection ended without a Close frame (Rust, tungstenite)",
        meaning: "tungstenite read the end of the TCP connection (FIN or RST) before any Close frame. Despite the word \"reset\", a plain FIN gives it too. The other side crashed or was killed, a proxy dropped the connection, or the network went away.",
        look_for: "The FIN or RST that ends the connection, who sent it, and the idle time before it.",
        analyze: AN_DROP,
        fix: "Find who dropped TCP: for a proxy's idle timeout send Pings more often than it; for a crash, read the other side's logs at that time. Reconnect with backoff.",
        source: "tungstenite 0.30 ProtocolError",
    },
    ErrorEntry {
        id: "econnreset",
        text: "read ECONNRESET",
        patterns: &[
            &["econnreset"],
            &["connection reset by peer"],
            &["wsaeconnreset"],
            &["os error 104"],
        ],
        number: None,
        fallback: false,
        raised_by: &[
            Raiser { client: "Node (ws, net)", family: "node", surface: "Error: read ECONNRESET", code: Some(1006) },
            Raiser { client: "Python", family: "python", surface: "ConnectionResetError: [Errno 104] Connection reset by peer", code: None },
            Raiser { client: "Go", family: "go", surface: "read: connection reset by peer", code: None },
            Raiser { client: "Rust (std::io)", family: "rustls", surface: "Connection reset by peer (os error 104)", code: None },
        ],
        alert: None,
        close: None,
        title: "The other side (or something between) reset the TCP connection",
        meaning: "A TCP RST arrived: the other side's process crashed or was killed, a server closed a socket that still had unread data, a proxy or load balancer gave up on the connection, or a firewall cut it. No Close frame came first.",
        look_for: "The RST: who sent it (the server's address, or a middlebox's with a different TTL), what was sent just before it, and how long the connection had been idle.",
        analyze: "Outcome abnormal: the story names the RST and who sent it; the cause says whether it came right after a message (a rejection or a crash on that message) or after an idle time that matches a proxy timeout.",
        fix: "Read the logs of whoever sent the RST at that time; for idle drops send Pings more often than the shortest idle timeout on the path; reconnect with backoff.",
        source: "POSIX ECONNRESET as reported by Node, Python, Go and Rust",
    },
];

const JAVA_SSL: Raiser = Raiser {
    client: "Java (JSSE: java.net.http.WebSocket, OkHttp, Jetty, Tyrus)",
    family: "java",
    surface: "javax.net.ssl.SSLHandshakeException",
    code: None,
};
const PY_SSL: Raiser = Raiser {
    client: "Python (websockets, websocket-client, aiohttp)",
    family: "python",
    surface: "ssl.SSLCertVerificationError",
    code: None,
};
const NODE_TLS: Raiser = Raiser {
    client: "Node (ws, https)",
    family: "node",
    surface: "Error with the OpenSSL code; ws close event",
    code: Some(1006),
};
const GO_TLS: Raiser = Raiser {
    client: "Go (crypto/tls: gorilla/websocket, nhooyr/websocket)",
    family: "go",
    surface: "tls: failed to verify certificate: x509: ...",
    code: None,
};
const CHROMIUM: Raiser = Raiser {
    client: "Chromium, Chrome, Edge",
    family: "chromium",
    surface: CHROMIUM_CONSOLE,
    code: Some(1006),
};
const FIREFOX: Raiser = Raiser {
    client: "Firefox",
    family: "firefox",
    surface: FIREFOX_PAGE,
    code: Some(1015),
};
const RUSTLS: Raiser = Raiser {
    client: "rustls (tokio-tungstenite, reqwest, hyper-rustls)",
    family: "rustls",
    surface: "rustls::Error (inside the WebSocket library's Io or Tls error)",
    code: None,
};

/// The result of matching a text against the catalog.
#[derive(Debug)]
pub struct Match {
    pub entry: &'static ErrorEntry,
    /// The phrases of the winning pattern, as written in the catalog.
    pub phrases: &'static [&'static str],
    /// The number the text carries (HTTP status or close code), when the entry reads one.
    pub number: Option<u32>,
}

/// Lowercases and folds runs of whitespace into one space, so that pasted log lines
/// (wrapped, tab-separated) match.
fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// The entry for an error text, the most specific one when several match.
pub fn find(text: &str) -> Option<Match> {
    let folded = fold(text);
    let mut best: Option<((bool, usize), &'static ErrorEntry, &'static [&'static str])> = None;
    for e in ERRORS {
        for p in e.patterns {
            if p.iter().all(|phrase| folded.contains(phrase)) {
                let score = (
                    !e.fallback,
                    p.iter().map(|phrase| phrase.len()).sum::<usize>(),
                );
                if best.is_none_or(|(s, _, _)| score > s) {
                    best = Some((score, e, p));
                }
            }
        }
    }
    best.map(|(_, entry, phrases)| Match {
        entry,
        phrases,
        number: entry
            .number
            .and_then(|(_, after)| number_after(&folded, phrases, after)),
    })
}

/// The first run of digits after the first phrase (and after `after` when it is not empty).
fn number_after(folded: &str, phrases: &[&str], after: &str) -> Option<u32> {
    let first = phrases.first()?;
    let start = folded.find(first)? + first.len();
    let rest = folded.get(start..)?;
    let rest = if after.is_empty() {
        rest
    } else {
        match rest.find(after) {
            Some(i) => rest.get(i + after.len()..)?,
            None => rest,
        }
    };
    let digits: String = rest
        .trim_start_matches(|c: char| !c.is_ascii_digit())
        .chars()
        .take_while(char::is_ascii_digit)
        .take(6)
        .collect();
    // Only a number that follows closely belongs to the message.
    let gap = rest.find(|c: char| c.is_ascii_digit())?;
    if gap > 12 {
        return None;
    }
    digits.parse().ok()
}

/// The entry with this identifier.
pub fn by_id(id: &str) -> Option<&'static ErrorEntry> {
    ERRORS.iter().find(|e| e.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_patterns_lowercase() {
        for (i, e) in ERRORS.iter().enumerate() {
            assert!(
                ERRORS.iter().skip(i + 1).all(|o| o.id != e.id),
                "duplicate {}",
                e.id
            );
            assert!(
                !e.patterns.is_empty() && !e.raised_by.is_empty(),
                "{}",
                e.id
            );
            for p in e.patterns {
                for phrase in *p {
                    assert_eq!(*phrase, fold(phrase), "{}: pattern not folded", e.id);
                }
            }
            // Every entry finds itself from its own text.
            let m = find(e.text).unwrap_or_else(|| panic!("{} does not match its text", e.id));
            assert_eq!(m.entry.id, e.id, "{} text resolves elsewhere", e.id);
        }
    }

    #[test]
    fn the_most_specific_entry_wins() {
        let line = "Error: javax.net.ssl.SSLHandshakeException: PKIX path validation failed: java.security.cert.CertPathValidatorException: validity check failed";
        assert_eq!(find(line).map(|m| m.entry.id), Some("java-pkix-expired"));
        assert_eq!(
            find("PKIX path validation failed: Algorithm constraints check failed")
                .map(|m| m.entry.id),
            Some("java-pkix-validation")
        );
        assert_eq!(
            find("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate in certificate chain (_ssl.c:1006)").map(|m| m.entry.id),
            Some("openssl-self-signed")
        );
        assert_eq!(
            find("ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed").map(|m| m.entry.id),
            Some("openssl-verify-failed")
        );
    }

    #[test]
    fn numbers_are_read_after_the_phrase() {
        let m = find("Error: Unexpected server response: 403").unwrap();
        assert_eq!(m.number, Some(403));
        let m = find("Invalid WebSocket frame: invalid status code 1005").unwrap();
        assert_eq!(m.number, Some(1005));
        let m = find("Unexpected server response").unwrap();
        assert_eq!(m.number, None);
    }

    #[test]
    fn odd_text_never_panics() {
        // Characters whose lowercase form is longer, numbers at the very end, huge numbers.
        for t in [
            "İİİ unexpected server response: İ403",
            "Unexpected server response:",
            "unexpected server response: 99999999999999999999",
            "invalid status code ٣٤",
            "\u{0}\u{ffff} econnreset \u{10ffff}",
        ] {
            let _ = find(t);
        }
        assert_eq!(
            find("unexpected server response: 99999999999999999999").and_then(|m| m.number),
            Some(999_999)
        );
    }

    #[test]
    fn whitespace_and_case_are_folded() {
        assert_eq!(fold("  A\tB\n\n c "), "a b c");
        assert!(find("NO CLOSE FRAME\nRECEIVED OR SENT").is_some());
        assert!(find("banana").is_none());
        assert!(find("").is_none());
    }
}
