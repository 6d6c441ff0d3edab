#!/usr/bin/env python3
"""Headless Chromium and Firefox as WebSocket clients, for the client-FAMILY-SCENARIO samples.

A page served over http from its own port (not recorded) opens a WebSocket to the recorded
port, logs every event the browser gives it (open, message, error, close with code, reason
and wasClean) and posts that log back to the page server. From the log the harness writes
NAME.client.json: what the browser's API handed the page, never typed by hand. The browser
writes its own TLS key log (SSLKEYLOGFILE) to NAME.keys. After the capture is closed,
`sent` fills in the sidecar's "sent" line from the capture itself (tshark, with the key log),
so it also states what the browser put on the wire.

The browsers trust the test CA of pki.sh through a throw-away NSS database: Chromium reads
$HOME/.pki/nssdb (HOME is a temporary directory), Firefox its temporary profile. Nothing
overrides certificate errors.

Scenarios (SCENARIO of the sample name):
  expired-tls12, expired-tls13      server certificate expired, TLS version pinned on the server
  untrusted-tls12, untrusted-tls13  certificate issued by the rogue CA
  mtls-tls12, mtls-tls13            the server requires a client certificate; the browser has none
  wire-1015                         raw TLS server: 101, then Close 1015 "test"
  rst, fin                          plain ws://: after one message the server drops TCP with a
                                    RST (SO_LINGER 0) or a FIN, with no Close

Usage: browsers.py run FAMILY SCENARIO PORT PKI_DIR OUT   (OUT: path without extension)
       browsers.py sent OUT PORT                          (after the capture OUT.pcap is closed)
"""
import asyncio
import json
import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tls_scenarios import V12, V13, answer_upgrade, server_ctx  # noqa: E402

from websockets.asyncio.server import serve as aserve  # noqa: E402
from websockets.sync.server import serve  # noqa: E402

# How long a browser gets to load the page and report the WebSocket's end.
REPORT_TIMEOUT = 45

PAGE = """<!doctype html><title>wsclose client sample</title><script>
const log = {events: [], error_event: false, code: null, reason: null, was_clean: null,
             exception: null, user_agent: navigator.userAgent};
const t0 = performance.now();
const note = (what) => log.events.push(what + " at " + Math.round(performance.now() - t0) + " ms");
const report = () => fetch("/report", {method: "POST", body: JSON.stringify(log)});
try {
  const ws = new WebSocket("%s");
  ws.onopen = () => { note("open"); ws.send("hello from the page"); };
  ws.onmessage = (e) => note("message " + JSON.stringify(e.data));
  ws.onerror = () => { note("error"); log.error_event = true; };
  ws.onclose = (e) => {
    note("close " + e.code + " " + JSON.stringify(e.reason) + " wasClean=" + e.wasClean);
    log.code = e.code; log.reason = e.reason; log.was_clean = e.wasClean;
    setTimeout(report, 500);  // an event after close would still be logged
  };
} catch (e) {
  log.exception = String(e);
  report();
}
</script>"""


class PageServer:
    """Serves the page on its own port and takes the page's report."""

    def __init__(self, port, ws_url):
        self.report = None
        self.got = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = (PAGE % ws_url).encode() if self.path == "/" else b""
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path == "/report" and outer.report is None:
                    outer.report = json.loads(body)
                    outer.got.set()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# --- browsers -----------------------------------------------------------------------------

def nss_db(directory, pki):
    """A fresh NSS database in `directory` that trusts the test CA (and only that)."""
    os.makedirs(directory, exist_ok=True)
    subprocess.run(["certutil", "-N", "-d", f"sql:{directory}", "--empty-password"], check=True)
    subprocess.run(["certutil", "-A", "-n", "wsclose test CA", "-t", "C,,", "-i", f"{pki}/ca.crt",
                    "-d", f"sql:{directory}"], check=True)


def version_of(command):
    out = subprocess.run([command, "--version"], capture_output=True, text=True).stdout.strip()
    return out.splitlines()[-1] if out else command


class Chromium:
    family = "chromium"

    def __init__(self, pki):
        self.home = tempfile.mkdtemp()
        nss_db(f"{self.home}/.pki/nssdb", pki)
        # "Chromium 148.0.7778.167 built on Debian ..." -> "Chromium 148.0.7778.167"
        self.name = " ".join(version_of("chromium").split()[:2]) + " headless"

    def command(self, url):
        return ["chromium", "--headless=new", "--no-sandbox", f"--user-data-dir={self.home}/profile",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-features=DnsOverHttps",
                # localhost would be tried on ::1 first; keep the sample on one IPv4 connection
                "--host-resolver-rules=MAP localhost 127.0.0.1", url]

    def env(self):
        return {"HOME": self.home}

    def cleanup(self):
        shutil.rmtree(self.home, ignore_errors=True)


class Firefox:
    family = "firefox"
    PREFS = {
        "browser.shell.checkDefaultBrowser": False, "app.update.enabled": False,
        "datareporting.policy.dataSubmissionEnabled": False, "toolkit.telemetry.enabled": False,
        "network.captive-portal-service.enabled": False, "network.connectivity-service.enabled": False,
        "browser.safebrowsing.malware.enabled": False, "browser.safebrowsing.phishing.enabled": False,
        "network.dns.disableIPv6": True,  # one IPv4 connection, as with Chromium
        "network.proxy.type": 0,
    }

    def __init__(self, pki):
        self.profile = tempfile.mkdtemp()
        nss_db(self.profile, pki)
        with open(f"{self.profile}/user.js", "w") as f:
            for pref, value in self.PREFS.items():
                f.write(f"user_pref({json.dumps(pref)}, {json.dumps(value)});\n")
        # "Mozilla Firefox 140.10.2esr" -> "Firefox 140.10.2esr"
        self.name = " ".join(version_of("firefox-esr").split()[1:3]) + " headless"

    def command(self, url):
        return ["firefox-esr", "--headless", "--no-remote", "--profile", self.profile, url]

    def env(self):
        return {"HOME": self.profile}

    def cleanup(self):
        shutil.rmtree(self.profile, ignore_errors=True)


BROWSERS = {"chromium": Chromium, "firefox": Firefox}


def run_browser(browser, page_url, page, keylog):
    """Starts the browser on the page and waits for the page's report."""
    env = dict(os.environ, SSLKEYLOGFILE=keylog, **browser.env())
    proc = subprocess.Popen(browser.command(page_url), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        if not page.got.wait(REPORT_TIMEOUT):
            print("browsers.py: no report from the page", file=sys.stderr)
        time.sleep(1.0)  # let the last packets reach the wire before the browser goes
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return page.report


# --- servers on the recorded port -------------------------------------------------------

def echo(ws):
    try:
        for msg in ws:
            ws.send(msg)
    except Exception:
        pass


class TlsServer:
    """python-websockets threaded server: blocking sockets let OpenSSL put its own alerts on
    the wire when the handshake fails."""

    def __init__(self, port, ctx):
        self.server = serve(echo, "127.0.0.1", port, ssl=ctx, compression=None)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def pinned(pki, cert, version):
    return server_ctx(pki, cert, min_v=version, max_v=version)


def mtls(pki, version):
    ctx = pinned(pki, "server", version)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(f"{pki}/ca.crt")
    return ctx


class Wire1015Server:
    """Raw TLS server: answers the Upgrade by hand, waits for the page's message, sends an
    (illegal) Close 1015 "test", then reads whatever the browser answers for 3 s and closes."""

    def __init__(self, port, ctx):
        self.listener = socket.create_server(("127.0.0.1", port))
        self.ctx = ctx
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        try:
            raw, _ = self.listener.accept()
        except OSError:
            return
        with self.ctx.wrap_socket(raw, server_side=True) as conn:
            conn.settimeout(3)
            if not answer_upgrade(conn):
                return
            try:
                conn.recv(4096)  # the page's message
            except OSError:
                pass
            payload = struct.pack("!H", 1015) + b"test"
            conn.sendall(bytes([0x88, len(payload)]) + payload)
            try:
                while conn.recv(4096):
                    pass
            except OSError:
                pass

    def close(self):
        self.listener.close()


class DropServer:
    """python-websockets (asyncio) plain ws:// server: takes the page's message, answers with
    one message, then drops TCP without a Close: a RST (SO_LINGER 0) or a FIN."""

    def __init__(self, port, rst):
        self.port, self.rst = port, rst
        self.ready = threading.Event()
        self.stop = None
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_until_complete, args=(self.main(),), daemon=True).start()
        self.ready.wait(5)

    async def main(self):
        self.stop = asyncio.Event()

        async def handler(ws):
            await ws.recv()
            await ws.send("one message, then the server goes away")
            await asyncio.sleep(0.2)
            if self.rst:
                sock = ws.transport.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            ws.transport.abort()

        async with aserve(handler, "127.0.0.1", self.port, compression=None):
            self.ready.set()
            await self.stop.wait()

    def close(self):
        self.loop.call_soon_threadsafe(self.stop.set)


def start_server(scenario, port, pki):
    """The server for SCENARIO on PORT, and the URL the page opens."""
    wss = f"wss://localhost:{port}/live"
    version = {"tls12": V12, "tls13": V13}.get(scenario.rsplit("-", 1)[-1])
    if scenario.startswith("expired-"):
        return TlsServer(port, pinned(pki, "expired", version)), wss
    if scenario.startswith("untrusted-"):
        return TlsServer(port, pinned(pki, "untrusted", version)), wss
    if scenario.startswith("mtls-"):
        return TlsServer(port, mtls(pki, version)), wss
    if scenario == "wire-1015":
        return Wire1015Server(port, server_ctx(pki, "server")), wss
    if scenario in ("rst", "fin"):
        return DropServer(port, scenario == "rst"), f"ws://localhost:{port}/live"
    sys.exit(f"browsers.py: unknown scenario {scenario}")


def run(family, scenario, port, pki, out):
    browser = BROWSERS[family](pki)
    server, ws_url = start_server(scenario, port, pki)
    page_port = port + 2000
    page = PageServer(page_port, ws_url)
    try:
        report = run_browser(browser, f"http://localhost:{page_port}/", page, f"{out}.keys")
    finally:
        page.close()
        server.close()
        browser.cleanup()
    if report is None:
        sys.exit(f"browsers.py: {family} {scenario}: the page reported nothing")
    truth = {
        "client": browser.name,
        "family": family,
        "reported": {
            "code": report["code"],
            "reason": report["reason"],
            "was_clean": report["was_clean"],
            "error_event": report["error_event"],
            "error": report["exception"],  # the WebSocket API hands the page no error text
        },
        "sent": None,  # filled in from the capture by `sent`
        "events": report["events"],
        "user_agent": report["user_agent"],
    }
    write_truth(out, truth)
    print(f"{family} {scenario}: " + "; ".join(report["events"]), file=sys.stderr)


def write_truth(out, truth):
    with open(f"{out}.client.json", "w") as f:
        json.dump(truth, f, indent=2, ensure_ascii=False)
        f.write("\n")


# --- what the browser sent, read back from the capture ------------------------------------

ALERTS = {0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 40: "handshake_failure",
          42: "bad_certificate", 43: "unsupported_certificate", 44: "certificate_revoked",
          45: "certificate_expired", 46: "certificate_unknown", 47: "illegal_parameter",
          48: "unknown_ca", 49: "access_denied", 50: "decode_error", 51: "decrypt_error",
          70: "protocol_version", 71: "insufficient_security", 80: "internal_error",
          86: "inappropriate_fallback", 90: "user_canceled", 109: "missing_extension",
          112: "unrecognized_name", 116: "certificate_required", 120: "no_application_protocol"}
HANDSHAKES = {1: "ClientHello", 2: "ServerHello", 4: "NewSessionTicket", 8: "EncryptedExtensions",
              11: "Certificate", 13: "CertificateRequest", 14: "ServerHelloDone",
              15: "CertificateVerify", 16: "ClientKeyExchange", 20: "Finished", 24: "KeyUpdate"}
OPCODES = {0: "Continuation", 1: "Text", 2: "Binary", 8: "Close", 9: "Ping", 10: "Pong"}


def listed(value):
    """tshark's JSON (--no-duplicate-keys) gives one item as an object, several as a list."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def find(tree, key):
    """First value of `key` anywhere in a tshark JSON tree."""
    if isinstance(tree, dict):
        if key in tree:
            return tree[key]
        tree = list(tree.values())
    if isinstance(tree, list):
        for item in tree:
            found = find(item, key)
            if found is not None:
                return found
    return None


def tls_tokens(layer, state):
    """The TLS records of one segment, in order. `state` remembers whether this side has
    sent ChangeCipherSpec under TLS 1.2 (everything after it is encrypted)."""
    tokens = []
    for tls in listed(layer):
        for record in listed(tls.get("tls.record") if isinstance(tls, dict) else None):
            ctype = int(record.get("tls.record.content_type", "0"))
            # TLS 1.3 records decrypted by tshark keep their outer type (opaque_type); under
            # TLS 1.2 a side encrypts everything after its own ChangeCipherSpec.
            encrypted = "tls.record.opaque_type" in record or state.get("ccs", False)
            suffix = " (encrypted)" if encrypted else ""
            if ctype == 20:
                if state.get("version") != "TLS 1.3":
                    state["ccs"] = True
                tokens.append("ChangeCipherSpec")
            elif ctype == 21:
                alert = record.get("tls.alert_message")
                if isinstance(alert, dict) and "tls.alert_message.desc" in alert:
                    desc = int(alert["tls.alert_message.desc"])
                    level = "fatal" if alert.get("tls.alert_message.level") == "2" else "warning"
                    shown = "encrypted" if encrypted else "plaintext"
                    tokens.append(f"alert {desc} {ALERTS.get(desc, 'unknown')} ({level}, {shown})")
                else:
                    tokens.append("alert (encrypted, not decrypted)")
            elif ctype == 22:
                for hs in listed(record.get("tls.handshake")):
                    if not isinstance(hs, dict) or "tls.handshake.type" not in hs:
                        tokens.append("handshake message (encrypted, not decrypted)")
                        continue
                    kind = int(hs["tls.handshake.type"])
                    name = HANDSHAKES.get(kind, f"handshake {kind}")
                    if kind == 11 and find(hs, "tls.handshake.certificates_length") == "0":
                        name = "empty Certificate"
                    tokens.append(name + suffix)
            elif ctype == 23 and "tls.app_data" in record:
                tokens.append("application data")
    return tokens


def ws_tokens(layer):
    tokens = []
    for frame in listed(layer):
        if not isinstance(frame, dict) or "websocket.opcode" not in frame:
            continue
        op = int(frame["websocket.opcode"])
        name = OPCODES.get(op, f"opcode {op}")
        if op == 8:
            code = find(frame, "websocket.payload.close.status_code")
            reason = find(frame, "websocket.payload.close.reason")
            name = "Close " + (code if code is not None else "(empty)")
            if reason:
                name += " " + json.dumps(reason)
        tokens.append(name)
    return tokens


def condense(tokens):
    out = []
    for t in tokens:
        if out and (out[-1] == t or out[-1].startswith(t + " x")):
            n = int(out[-1].rsplit(" x", 1)[1]) + 1 if " x" in out[-1] else 2
            out[-1] = f"{t} x{n}"
        else:
            out.append(t)
    return out


def sent(out, port):
    """Rewrites the "sent" line of OUT.client.json from OUT.pcap (and OUT.keys): what the
    browser sent on each TCP connection to PORT, in order, pure ACKs and retransmissions left
    out, application data shown as the HTTP request and WebSocket frames it carried."""
    cmd = ["tshark", "-r", f"{out}.pcap", "-T", "json", "--no-duplicate-keys",
           "-J", "tcp tls http websocket"]
    if os.path.exists(f"{out}.keys"):
        cmd[3:3] = ["-o", f"tls.keylog_file:{out}.keys"]
    packets = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    streams = {}
    for packet in packets:
        layers = packet["_source"]["layers"]
        tcp = layers["tcp"]
        stream = streams.setdefault(tcp["tcp.stream"], {"tokens": [], "client": {}, "version": None})
        from_client = int(tcp["tcp.srcport"]) != port
        if find(tcp, "tcp.analysis.retransmission") is not None:
            continue
        if not from_client and find(layers.get("tls"), "tls.handshake.type") in ("2", ["2"]):
            chosen = find(layers.get("tls"), "tls.handshake.version")
            picked = find(layers.get("tls"), "tls.handshake.extensions.supported_version")
            stream["version"] = "TLS 1.3" if picked == "0x0304" else \
                {"0x0303": "TLS 1.2", "0x0302": "TLS 1.1"}.get(chosen, chosen)
        if not from_client:
            continue
        stream["client"]["version"] = stream["version"]
        tokens = tls_tokens(layers.get("tls"), stream["client"])
        if layers.get("http") is not None and find(layers["http"], "http.request.method"):
            tokens = [t for t in tokens if t != "application data"]
            tokens.append(find(layers["http"], "http.request.method") + " (Upgrade request)")
        if layers.get("websocket") is not None:
            tokens = [t for t in tokens if t != "application data"]
            tokens += ws_tokens(layers["websocket"])
        flags = tcp.get("tcp.flags_tree", {})
        if flags.get("tcp.flags.fin") == "1":
            tokens.append("FIN")
        if flags.get("tcp.flags.reset") == "1":
            tokens.append("RST")
        stream["tokens"] += tokens
    lines = []
    for _, stream in sorted(streams.items(), key=lambda s: int(s[0])):
        line = ", ".join(condense(stream["tokens"]))
        if stream["version"]:
            line = f"{stream['version']}: {line}"
        lines.append(line)
    if len(lines) > 1:
        lines = [f"connection {i + 1}: {line}" for i, line in enumerate(lines)]
    with open(f"{out}.client.json") as f:
        truth = json.load(f)
    truth["sent"] = "; ".join(lines) if lines else "nothing"
    write_truth(out, truth)
    print(f"{os.path.basename(out)} sent: {truth['sent']}", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "run":
        run(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6])
    elif len(sys.argv) == 4 and sys.argv[1] == "sent":
        sent(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit(__doc__)
