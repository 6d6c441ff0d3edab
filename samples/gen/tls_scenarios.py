#!/usr/bin/env python3
"""wss:// conversations on loopback for wsclose's TLS samples: python-websockets over the
standard ssl module, with the test PKI made by pki.sh. The client's TLS secrets are written
to KEYLOG (SSLKEYLOGFILE format).

The threaded (sync) API is used where the sample needs the TLS alert on the wire: blocking
sockets let OpenSSL send its alert before the connection closes, while asyncio's TLS layer
closes without flushing it (the "-noalert" sample shows that real-world pattern).

The decryption samples add a raw TLS peer that sends an illegal close code, a connection
dropped without close_notify, a rejected client certificate, an OpenSSL `s_client` that
updates its keys mid-session, and headless browsers (Chromium, Firefox) writing their own
key logs.

Usage: tls_scenarios.py NAME PORT PKI_DIR KEYLOG
"""
import asyncio
import base64
import hashlib
import os
import shutil
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time

from websockets.asyncio.client import connect as aconnect
from websockets.asyncio.server import serve as aserve
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.sync.server import serve

V12, V13 = ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3


def echo(ws):
    try:
        for msg in ws:
            ws.send(msg)
    except ConnectionClosed:
        pass


async def aecho(ws):
    try:
        async for msg in ws:
            await ws.send(msg)
    except ConnectionClosed:
        pass


def server_ctx(pki, cert, min_v=None, max_v=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(f"{pki}/{cert}.crt", f"{pki}/{cert}.key")
    if min_v:
        ctx.minimum_version = min_v
    if max_v:
        ctx.maximum_version = max_v
    return ctx


def client_ctx(pki, keylog, min_v=None, max_v=None):
    ctx = ssl.create_default_context(cafile=f"{pki}/ca.crt")
    ctx.keylog_filename = keylog
    if min_v:
        ctx.minimum_version = min_v
    if max_v:
        ctx.maximum_version = max_v
    return ctx


def session(port, sctx, cctx, scheme="wss"):
    """Threaded server and client: TLS alerts reach the wire."""
    server = serve(echo, "127.0.0.1", port, ssl=sctx)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with connect(f"{scheme}://localhost:{port}/live", ssl=cctx, open_timeout=3) as ws:
            ws.send("hello over TLS")
            ws.recv()
            ws.close(1000, "done")
    except Exception as e:  # the failures are the point of most scenarios
        print(f"client: {type(e).__name__}: {e}", file=sys.stderr)
    time.sleep(0.3)
    server.shutdown()


def java_session(port, sctx, pki):
    """Threaded Python server, JDK client (java.net.http.WebSocket)."""
    import os
    import subprocess
    server = serve(echo, "127.0.0.1", port, ssl=sctx)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    here = os.path.dirname(os.path.abspath(__file__))
    subprocess.run(
        ["java", f"-Djavax.net.ssl.trustStore={pki}/trust.p12", "-Djavax.net.ssl.trustStorePassword=changeit",
         f"{here}/WssClient.java", f"wss://localhost:{port}/live"],
        timeout=60,
    )
    time.sleep(0.3)
    server.shutdown()


async def asession(port, sctx, cctx):
    """asyncio server and client."""
    async with aserve(aecho, "127.0.0.1", port, ssl=sctx):
        try:
            async with aconnect(f"wss://localhost:{port}/live", ssl=cctx, open_timeout=3) as ws:
                await ws.send("hello over TLS")
                await ws.recv()
                await ws.close(1000, "done")
        except Exception as e:
            print(f"client: {type(e).__name__}: {e}", file=sys.stderr)
        await asyncio.sleep(0.2)


# --- decryption samples ---------------------------------------------------------------

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_for(key):
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


def answer_upgrade(conn):
    """Raw peers on a blocking socket: reads the Upgrade request and answers 101. False
    when the client went away first."""
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = conn.recv(4096)
        if not chunk:
            return False
        head += chunk
    key = [line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")
           if line.lower().startswith(b"sec-websocket-key:")][0]
    conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept_for(key) + b"\r\n\r\n")
    return True


def masked(opcode, payload):
    """One client frame (FIN set, masked), payload under 126 bytes."""
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + body


async def aclient_wait_closed(ws):
    try:
        while True:
            await ws.recv()
    except ConnectionClosed:
        pass


async def raw_tls_close(port, sctx, cctx, close_payload):
    """A raw TLS server completes the Upgrade by hand and sends one Close frame with
    `close_payload`; the python-websockets client answers it."""
    done = asyncio.Event()

    async def handle(reader, writer):
        head = await reader.readuntil(b"\r\n\r\n")
        key = [l.split(b":", 1)[1].strip() for l in head.split(b"\r\n")
               if l.lower().startswith(b"sec-websocket-key")][0]
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Accept: " + accept_for(key) + b"\r\n\r\n")
        await reader.read(1024)  # the client's message
        writer.write(bytes([0x88, len(close_payload)]) + close_payload)
        await writer.drain()
        try:
            await asyncio.wait_for(reader.read(1024), 2)  # the client's answer
        except Exception:
            pass
        writer.close()
        done.set()

    server = await asyncio.start_server(handle, "127.0.0.1", port, ssl=sctx)
    try:
        async with aconnect(f"wss://localhost:{port}/live", ssl=cctx, open_timeout=3,
                            compression=None) as ws:
            await ws.send("hi")
            await aclient_wait_closed(ws)
            print(f"client: {ws.close_code} {ws.close_reason}", file=sys.stderr)
    except Exception as e:
        print(f"client: {type(e).__name__}: {e}", file=sys.stderr)
    await asyncio.wait_for(done.wait(), 5)
    server.close()


async def drop(port, sctx, cctx):
    """The server sends a message, then its process dies: the socket closes (FIN) with no
    TLS close_notify and no WebSocket Close."""
    async def handler(ws):
        await ws.recv()
        await ws.send("maintenance starts now")
        await asyncio.sleep(0.1)
        ws.transport.abort()

    async with aserve(handler, "127.0.0.1", port, ssl=sctx, compression=None):
        async with aconnect(f"wss://localhost:{port}/live", ssl=cctx, compression=None) as ws:
            await ws.send("subscribe")
            await aclient_wait_closed(ws)
            print(f"client: {ws.close_code}", file=sys.stderr)
        await asyncio.sleep(0.2)


def keyupdate(port, sctx, pki, keylog):
    """OpenSSL `s_client` as a hand-driven WebSocket client against a python-websockets
    server, TLS 1.3: two messages, a KeyUpdate (`K`: the server must update too), two more
    messages, then a Close. s_client writes the key log."""
    ready = threading.Event()
    loop = asyncio.new_event_loop()

    async def serve_until_closed():
        async with aserve(aecho, "127.0.0.1", port, ssl=sctx, compression=None):
            ready.set()
            await asyncio.sleep(10)

    thread = threading.Thread(target=loop.run_until_complete, args=(serve_until_closed(),), daemon=True)
    thread.start()
    ready.wait(5)
    client = subprocess.Popen(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
         "-tls1_3", "-CAfile", f"{pki}/ca.crt", "-verify_return_error", "-keylogfile", keylog],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    key = base64.b64encode(os.urandom(16))
    # Each write is read by s_client on its own; a chunk starting with K, k, R or Q would
    # be a command, and no frame starts with those bytes (0x81, 0x88).
    chunks = [
        b"GET /live HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n",
        masked(0x1, b"before key update 1"),
        masked(0x1, b"before key update 2"),
        b"K\n",
        masked(0x1, b"after key update 1"),
        masked(0x1, b"after key update 2"),
        masked(0x8, struct.pack("!H", 1000) + b"done"),
    ]
    time.sleep(0.5)
    for chunk in chunks:
        client.stdin.write(chunk)
        client.stdin.flush()
        time.sleep(0.3)
    try:
        client.wait(5)
    except subprocess.TimeoutExpired:
        client.terminate()
    client.stdin.close()


PAGE = """<!doctype html><title>wsclose sample</title><script>
const ws = new WebSocket("wss://localhost:%d/live?token=abc123");
ws.onopen = () => { ws.send("hello from the browser"); ws.send("second message"); };
ws.onclose = (e) => { document.title = "closed " + e.code; };
</script>"""


def page_server(port, sctx, ws_port):
    """Serves the page that opens the WebSocket, over https on its own port."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Page(BaseHTTPRequestHandler):
        def do_GET(self):
            body = (PAGE % ws_port).encode() if self.path == "/" else b""
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", port), Page)
    httpd.socket = sctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def browser_session(port, pki, keylog, command, page_port):
    """A headless browser loads a page over https (from `page_port`, not recorded) whose
    script opens wss://localhost:PORT/; the python-websockets server takes two messages and
    closes with 1008 "token expired". The browser writes the key log (SSLKEYLOGFILE)."""
    httpd = page_server(page_port, server_ctx(pki, "server"), port)

    async def run():
        closed = asyncio.Event()

        async def handler(ws):
            try:
                await ws.recv()
                await ws.recv()
                await ws.close(1008, "token expired")
            finally:
                closed.set()

        async with aserve(handler, "127.0.0.1", port, ssl=server_ctx(pki, "server"), compression=None):
            env = dict(os.environ, SSLKEYLOGFILE=keylog)
            proc = subprocess.Popen(command + [f"https://localhost:{page_port}/"], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    start_new_session=True)
            try:
                await asyncio.wait_for(closed.wait(), 60)
                await asyncio.sleep(1.0)
            finally:
                os.killpg(proc.pid, 15)
                proc.wait(10)

    try:
        asyncio.run(run())
    finally:
        httpd.shutdown()


def chromium(port, pki, keylog):
    profile = tempfile.mkdtemp()
    try:
        browser_session(port, pki, keylog, [
            "chromium", "--headless=new", "--no-sandbox", "--ignore-certificate-errors",
            f"--user-data-dir={profile}", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync",
            # localhost would be tried on ::1 first; keep the sample on one IPv4 connection
            "--host-resolver-rules=MAP localhost 127.0.0.1"], port + 2000)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def firefox(port, pki, keylog):
    """Firefox trusts the test CA through its profile's NSS database (certutil)."""
    profile = tempfile.mkdtemp()
    try:
        subprocess.run(["certutil", "-N", "-d", f"sql:{profile}", "--empty-password"], check=True)
        subprocess.run(["certutil", "-A", "-n", "wsclose test CA", "-t", "C,,", "-i", f"{pki}/ca.crt",
                        "-d", f"sql:{profile}"], check=True)
        with open(f"{profile}/user.js", "w") as f:
            for pref in ("browser.shell.checkDefaultBrowser", "app.update.enabled",
                         "datareporting.policy.dataSubmissionEnabled", "toolkit.telemetry.enabled",
                         "network.captive-portal-service.enabled", "network.connectivity-service.enabled",
                         "browser.safebrowsing.malware.enabled", "browser.safebrowsing.phishing.enabled"):
                f.write(f'user_pref("{pref}", false);\n')
        browser_session(port, pki, keylog, [
            "firefox-esr", "--headless", "--no-remote", "--profile", profile], port + 2000)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def mtls_ctx(pki):
    """TLS 1.3 server that requires a client certificate from the test CA."""
    ctx = server_ctx(pki, "server", min_v=V13)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(f"{pki}/ca.crt")
    return ctx


def main(name, port, pki, keylog):
    if name == "wss-good":
        asyncio.run(asession(port, server_ctx(pki, "server"), client_ctx(pki, keylog)))
    elif name == "wss-expired-tls12":
        session(port, server_ctx(pki, "expired", max_v=V12), client_ctx(pki, keylog))
    elif name == "wss-expired-tls12-noalert":
        asyncio.run(asession(port, server_ctx(pki, "expired", max_v=V12), client_ctx(pki, keylog)))
    elif name == "wss-untrusted-ca":
        session(port, server_ctx(pki, "untrusted", max_v=V12), client_ctx(pki, keylog))
    elif name == "wss-version-mismatch":
        session(port, server_ctx(pki, "server", min_v=V13), client_ctx(pki, keylog, max_v=V12))
    elif name == "wss-expired-tls13":
        # The JDK's WebSocket client: JSSE encrypts its alert after a TLS 1.3 ServerHello.
        # The key log comes from the (Python) server side.
        sctx = server_ctx(pki, "expired", min_v=V13)
        sctx.keylog_filename = keylog
        java_session(port, sctx, pki)
    elif name == "wss-expired-tls13-openssl":
        # OpenSSL's client sends the same rejection as a plaintext alert.
        session(port, server_ctx(pki, "expired", min_v=V13), client_ctx(pki, keylog))
    elif name == "wss-to-ws-port":
        session(port, None, client_ctx(pki, keylog))
    elif name == "wss-no-answer":
        # A server that accepts TCP and never says a word: the client gives up after 2 s.
        import socket
        listener = socket.create_server(("127.0.0.1", port))
        try:
            with connect(f"wss://localhost:{port}/live", ssl=client_ctx(pki, keylog), open_timeout=2):
                pass
        except Exception as e:
            print(f"client: {type(e).__name__}: {e}", file=sys.stderr)
        time.sleep(0.3)
        listener.close()
    elif name == "ws-to-wss-port":
        session(port, server_ctx(pki, "server"), None, scheme="ws")
    elif name == "wss-wire-1015":
        # The illegal 1015 on the wire, inside TLS 1.3; the client answers 1002.
        asyncio.run(raw_tls_close(port, server_ctx(pki, "server"), client_ctx(pki, keylog),
                                  struct.pack("!H", 1015) + b"TLS handshake failed upstream"))
    elif name == "wss-drop":
        asyncio.run(drop(port, server_ctx(pki, "server"), client_ctx(pki, keylog)))
    elif name == "wss-mtls-rejected":
        # TLS 1.3: the client finishes its handshake and sends the Upgrade before the
        # server checks the (empty) certificate and answers certificate_required (116).
        session(port, mtls_ctx(pki), client_ctx(pki, keylog))
    elif name == "wss-keyupdate":
        keyupdate(port, server_ctx(pki, "server", min_v=V13), pki, keylog)
    elif name == "wss-browser":
        chromium(port, pki, keylog)
    elif name == "wss-firefox":
        firefox(port, pki, keylog)
    elif name == "wss-other-session":
        # Only the key log is kept: secrets of a session that no sample contains.
        asyncio.run(asession(port, server_ctx(pki, "server"), client_ctx(pki, keylog)))
    else:
        sys.exit(f"unknown scenario {name}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4])
