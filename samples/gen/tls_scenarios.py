#!/usr/bin/env python3
"""wss:// conversations on loopback for wsclose's TLS samples: python-websockets over the
standard ssl module, with the test PKI made by pki.sh. The client's TLS secrets are written
to KEYLOG (SSLKEYLOGFILE format).

The threaded (sync) API is used where the sample needs the TLS alert on the wire: blocking
sockets let OpenSSL send its alert before the connection closes, while asyncio's TLS layer
closes without flushing it (the "-noalert" sample shows that real-world pattern).

Usage: tls_scenarios.py NAME PORT PKI_DIR KEYLOG
"""
import asyncio
import ssl
import sys
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
    else:
        sys.exit(f"unknown scenario {name}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4])
