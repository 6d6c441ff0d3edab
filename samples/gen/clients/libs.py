#!/usr/bin/env python3
"""Records one client-library sample for wsclose: tcpdump on loopback, a Python test
server (the TLS contexts of ../tls_scenarios.py, or a raw ws:// peer), and a real client
program (node_client.js, JavaClient.java, rustls-client, py_client.py, the Go program in
go/, or curl). Writes SAMPLE.pcap, SAMPLE.keys (from the client when it can write a key
log, else from the server; none when it holds no secret) and SAMPLE.client.json: the JSON
line the client program printed, plus "sent", a one-line summary of what the client sent,
read from the capture by tshark.

Usage: libs.py SAMPLE PORT PKI_DIR OUT_DIR
  SAMPLE: client-FAMILY-SCENARIO (FAMILY: node, java, rustls, python; SCENARIO:
  expired-tls13, untrusted-tls12, mtls-tls13, wire-1015), hello-go or hello-curl.
"""
import base64
import json
import os
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from tls_scenarios import V12, V13, answer_upgrade, echo, mtls_ctx, server_ctx  # noqa: E402
from websockets.sync.server import serve  # noqa: E402

RUSTLS_CLIENT = os.environ.get("RUSTLS_CLIENT", "/work/target-rustls-client/release/rustls-client")
GO_CLIENT = os.environ.get("GO_CLIENT", os.path.join(HERE, "go", "hello-go"))


# --- servers ----------------------------------------------------------------------------

def tls_server(scenario, pki):
    if scenario == "expired-tls13":
        return server_ctx(pki, "expired", min_v=V13)
    if scenario == "untrusted-tls12":
        return server_ctx(pki, "untrusted", max_v=V12)
    if scenario == "mtls-tls13":
        return mtls_ctx(pki)
    if scenario == "hello":
        return server_ctx(pki, "server")
    sys.exit(f"unknown scenario {scenario}")


class WsServer:
    """python-websockets' threaded echo server over TLS."""

    def __init__(self, port, sctx):
        self.server = serve(echo, "127.0.0.1", port, ssl=sctx)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


class Close1015Server:
    """A raw ws:// server: answers the Upgrade, waits for the client's first message, sends
    Close 1015 "test" (a code no endpoint may send), reads the client's answer for 2 s and
    closes the connection."""

    def __init__(self, port):
        self.listener = socket.create_server(("127.0.0.1", port))
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(3)
            if not answer_upgrade(conn):
                return
            try:
                conn.recv(1024)  # the client's message
                conn.sendall(bytes([0x88, 6]) + struct.pack("!H", 1015) + b"test")
                conn.settimeout(2)
                conn.recv(1024)  # the client's answer
            except OSError:
                pass

    def stop(self):
        self.listener.close()


# --- clients ----------------------------------------------------------------------------

def cargo_lock_version(name):
    lock = open(os.path.join(HERE, "rustls-client", "Cargo.lock")).read().split("[[package]]")
    for block in lock:
        if f'name = "{name}"\n' in block:
            return block.split('version = "', 1)[1].split('"', 1)[0]
    return "?"


def run_client(family, url, pki, keys):
    """Runs the client program and returns the JSON line it printed, as a dict."""
    env = dict(os.environ)
    if family == "node":
        cmd = ["node", "--experimental-websocket", "--no-warnings", f"--tls-keylog={keys}",
               os.path.join(HERE, "node_client.js"), url]
        env["NODE_EXTRA_CA_CERTS"] = f"{pki}/ca.crt"
    elif family == "java":
        cmd = ["java", f"-Djavax.net.ssl.trustStore={pki}/trust.p12",
               "-Djavax.net.ssl.trustStorePassword=changeit", os.path.join(HERE, "JavaClient.java"), url]
    elif family == "rustls":
        cmd = [RUSTLS_CLIENT, url, f"{pki}/ca.crt"]
        env["SSLKEYLOGFILE"] = keys
    elif family == "python":
        cmd = [sys.executable, os.path.join(HERE, "py_client.py"), url, f"{pki}/ca.crt", keys]
    elif family == "go":
        cmd = [GO_CLIENT, url, f"{pki}/ca.crt"]
        env["SSLKEYLOGFILE"] = keys
    elif family == "curl":
        return run_curl(url, pki, keys, env)
    else:
        sys.exit(f"unknown family {family}")
    out = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, timeout=60, text=True).stdout
    line = [l for l in out.splitlines() if l.startswith("{")][-1]
    result = json.loads(line)
    if family == "rustls":
        result = {"client": f"tokio-tungstenite {cargo_lock_version('tokio-tungstenite')} + rustls "
                            f"{cargo_lock_version('rustls')} (ring)", "reported": result}
    return result


def run_curl(url, pki, keys, env):
    """curl has no WebSocket support in this build: an HTTP/1.1 Upgrade over https. After the
    101 it waits for bytes until its 2 s limit."""
    version = subprocess.run(["curl", "--version"], stdout=subprocess.PIPE, text=True).stdout.split("\n")[0]
    env["SSLKEYLOGFILE"] = keys
    proc = subprocess.run(
        ["curl", "-sS", "-i", "-N", "--http1.1", "--max-time", "2", "--cacert", f"{pki}/ca.crt",
         "-H", "Connection: Upgrade", "-H", "Upgrade: websocket", "-H", "Sec-WebSocket-Version: 13",
         "-H", "Sec-WebSocket-Key: " + base64.b64encode(os.urandom(16)).decode(),
         url.replace("wss://", "https://", 1)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    printed = [(proc.stdout.splitlines() or [""])[0], proc.stderr.strip().replace("\n", " ")]
    return {"client": " ".join(version.split()[:3]),
            "reported": {"code": None, "reason": None, "was_clean": None, "error_event": None,
                         "error": "; ".join(p for p in printed if p)[:200] or None}}


# --- what the client sent, from the capture ---------------------------------------------

ALERTS = {0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 40: "handshake_failure",
          42: "bad_certificate", 45: "certificate_expired", 46: "certificate_unknown", 48: "unknown_ca",
          50: "decode_error", 51: "decrypt_error", 70: "protocol_version", 80: "internal_error",
          90: "user_canceled", 109: "missing_extension", 116: "certificate_required"}
HANDSHAKES = {11: "Certificate", 15: "CertificateVerify", 16: "ClientKeyExchange", 20: "Finished"}
FIELDS = ["frame.number", "tcp.stream", "tcp.dstport", "tcp.flags.fin", "tcp.flags.reset",
          "tcp.analysis.retransmission", "tls.record.opaque_type", "tls.record.content_type",
          "tls.alert_message.desc", "tls.handshake.type", "tls.handshake.certificates_length",
          "http.request.method", "websocket.opcode", "websocket.payload.close.status_code"]


def tshark_rows(pcap, keys, port, tls):
    cmd = ["tshark", "-r", pcap, "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,",
           "-o", f"tls.keylog_file:{keys or ''}", "-d", f"tcp.port=={port},{'tls' if tls else 'http'}"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    rows = {}
    for line in out.splitlines():
        cols = dict(zip(FIELDS, line.split("\t")))
        rows[cols["frame.number"]] = {k: [v for v in cols.get(k, "").split(",") if v] for k in FIELDS}
    return rows


def packet_items(row, plain):
    """What one client packet carried. `plain` is the same packet read without a key log."""
    items = []
    for t, clen in zip(row["tls.handshake.type"], row["tls.handshake.certificates_length"] + ["?"] * 9):
        if int(t) in HANDSHAKES:
            name = HANDSHAKES[int(t)]
            items.append("empty Certificate" if name == "Certificate" and clen == "0" else name)
    if row["http.request.method"]:
        items.append("Upgrade request")
    for op, code in zip(row["websocket.opcode"], row["websocket.payload.close.status_code"] + [""] * 9):
        items.append({"1": "text message", "2": "binary message", "8": f"Close {code}".strip()}.get(op, f"opcode {op}"))
    clear = list(plain["tls.alert_message.desc"])
    for d in row["tls.alert_message.desc"]:
        how = "plaintext" if d in clear else "encrypted"
        if d in clear:
            clear.remove(d)
        items.append(f"alert {d} {ALERTS.get(int(d), '')} ({how})".replace("  ", " "))
    # TLS 1.3 records that the key log could not open (read without keys, each one is an
    # opaque record with no inner type).
    decrypted = len(row["tls.record.content_type"]) - len(plain["tls.record.content_type"])
    unread = len(plain["tls.record.opaque_type"]) - decrypted
    if unread > 0:
        items.append(f"{unread} encrypted record{'s' if unread > 1 else ''} (no key)")
    if row["tcp.flags.fin"] == ["1"]:
        items.append("FIN")
    if row["tcp.flags.reset"] == ["1"]:
        items.append("RST")
    return items


def sent_summary(pcap, keys, port, tls):
    """What the client sent after its ClientHello, in order: handshake messages, the Upgrade
    request, WebSocket frames, TLS alerts (plaintext or encrypted), FIN, RST; one part per
    TCP connection when the client opened more than one."""
    plain = tshark_rows(pcap, None, port, tls)
    full = tshark_rows(pcap, keys, port, tls)
    streams = {}
    for num, row in full.items():
        if row["tcp.dstport"] != [str(port)] or row["tcp.analysis.retransmission"]:
            continue
        items = streams.setdefault(row["tcp.stream"][0], [])
        items += packet_items(row, plain[num])
    parts = [", ".join(items) or "nothing after the ClientHello" for items in streams.values()]
    if len(parts) == 1:
        return parts[0]
    return "; ".join(f"connection {i}: {p}" for i, p in enumerate(parts, 1))


# --- one sample -------------------------------------------------------------------------

def main(sample, port, pki, out_dir):
    if sample.startswith("hello-"):
        family, scenario = sample.split("-", 1)[1], "hello"
    else:
        _, family, scenario = sample.split("-", 2)
    base = os.path.join(out_dir, sample)
    pcap, keys = base + ".pcap", base + ".keys"
    if os.path.exists(keys):
        os.remove(keys)
    dump = subprocess.Popen(["tcpdump", "-i", "lo", "-U", "-w", pcap, f"tcp port {port}"],
                            stderr=subprocess.DEVNULL)
    time.sleep(1)
    if scenario == "wire-1015":
        server = Close1015Server(port)
        url = f"ws://localhost:{port}/live"
    else:
        sctx = tls_server(scenario, pki)
        if family == "java":  # the JDK writes no key log: the server does
            sctx.keylog_filename = keys
        server = WsServer(port, sctx)
        url = f"wss://localhost:{port}/live"
    try:
        result = run_client(family, url, pki, keys)
    finally:
        time.sleep(1)
        server.stop()
        time.sleep(0.5)
        dump.send_signal(signal.SIGINT)
        dump.wait()
    # A key log with no secret in it (only OpenSSL's header line: the handshake failed
    # before any secret existed) is not kept.
    has_keys = os.path.exists(keys) and any(
        line.strip() and not line.startswith("#") for line in open(keys))
    if os.path.exists(keys):
        if has_keys:
            os.chmod(keys, 0o644)
        else:
            os.remove(keys)
    truth = {"client": result["client"], "family": family, "reported": result["reported"],
             "sent": sent_summary(pcap, keys if has_keys else None, port, scenario != "wire-1015")}
    with open(base + ".client.json", "w") as f:
        json.dump(truth, f, indent=2)
        f.write("\n")
    print(f"recorded {sample}.pcap: {json.dumps(truth)}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4])
