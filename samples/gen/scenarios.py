#!/usr/bin/env python3
"""WebSocket conversations on loopback for wsclose's samples.

Each scenario runs a real library (python-websockets) on both ends, or a tiny raw peer
where the library refuses to send something illegal; the other end is always the real
library, so the capture shows how it reacts. Usage: scenarios.py NAME HOST PORT
"""
import asyncio
import base64
import hashlib
import http
import os
import socket
import struct
import sys

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def uri(host, port, path="/"):
    h = f"[{host}]" if ":" in host else host
    return f"ws://{h}:{port}{path}"


async def echo(ws):
    try:
        async for msg in ws:
            await ws.send(msg if isinstance(msg, str) and len(msg) < 200 else "ok")
    except ConnectionClosed:
        pass


async def client_wait_closed(ws):
    try:
        while True:
            await ws.recv()
    except ConnectionClosed as e:
        write_truth(ws, e)


def python_truth(ws, error):
    """What the python-websockets client `ws` reported, ending with `error` (or None), in
    the shape of a sample's .client.json."""
    import websockets
    return {
        "client": f"python-websockets {websockets.version.version} (Python {sys.version.split()[0]})",
        "family": "python",
        "reported": {
            "code": ws.close_code,
            "reason": ws.close_reason,
            "was_clean": None,
            "error_event": None,
            "error": f"{type(error).__name__}: {error}"[:200] if error else None,
        },
    }


def write_truth(ws, error):
    """What the python-websockets client reported, to $CLIENT_TRUTH (the sample's
    .client.json) when the generator asks for it."""
    path = os.environ.get("CLIENT_TRUTH")
    if not path:
        return
    import json
    truth = python_truth(ws, error)
    with open(path, "w") as f:
        json.dump(truth, f, indent=2)
        f.write("\n")


# --- library on both ends -------------------------------------------------------------

async def normal(host, port, **kw):
    """Client says hello, then closes with 1000."""
    async with serve(echo, host, port, compression=None):
        async with connect(uri(host, port, "/chat"), compression=None) as ws:
            await ws.send("hello")
            await ws.recv()
            await ws.close(1000, "done")


async def private(host, port):
    """Server ends the session with a private-use code 4001."""
    async def handler(ws):
        await ws.recv()
        await ws.close(4001, "session replaced by a newer login")
    async with serve(handler, host, port, compression=None):
        async with connect(uri(host, port, "/session"), compression=None) as ws:
            await ws.send("login")
            await client_wait_closed(ws)


async def policy(host, port):
    """Server enforces a rate limit with 1008 and a reason."""
    async def handler(ws):
        count = 0
        async for _ in ws:
            count += 1
            if count > 2:
                await ws.close(1008, "rate limit exceeded: max 2 messages per second")
                return
    async with serve(handler, host, port, compression=None):
        async with connect(uri(host, port, "/feed"), compression=None) as ws:
            for i in range(3):
                await ws.send(f"update {i}")
            await client_wait_closed(ws)


async def going_away(host, port):
    """Server shuts down: websockets closes its connections with 1001."""
    async def handler(ws):
        await ws.wait_closed()
    server = await serve(handler, host, port, compression=None)
    async with connect(uri(host, port, "/live"), compression=None) as ws:
        await ws.send("subscribe")
        await asyncio.sleep(0.05)
        server.close()
        await client_wait_closed(ws)
    await server.wait_closed()


async def empty_close(host, port):
    """Client closes with an empty Close frame: the server application sees 1005."""
    async with serve(echo, host, port, compression=None):
        async with connect(uri(host, port), compression=None) as ws:
            await ws.send("bye soon")
            await ws.recv()
            await ws.close(code=None)


def rst_now(ws):
    sock = ws.transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    ws.transport.abort()


async def drop_rst(host, port):
    """Server resets the connection right after a client message (a crash)."""
    async def handler(ws):
        await ws.recv()
        rst_now(ws)
    async with serve(handler, host, port, compression=None):
        async with connect(uri(host, port, "/orders"), compression=None) as ws:
            await ws.send('{"order": "x" * 10}')
            await client_wait_closed(ws)


async def drop_idle(host, port):
    """No traffic for 60 s, then a reset: what an nginx or ALB idle timeout looks like."""
    async def handler(ws):
        await ws.recv()
        await asyncio.sleep(60.0)
        rst_now(ws)
    async with serve(handler, host, port, compression=None, ping_interval=None):
        async with connect(uri(host, port, "/quiet"), compression=None, ping_interval=None) as ws:
            await ws.send("anyone there?")
            await client_wait_closed(ws)


async def fragmented_large(host, port):
    """A fragmented text message and a 70000-byte binary message (64-bit length)."""
    async with serve(echo, host, port, compression=None, max_size=None):
        async with connect(uri(host, port), compression=None, max_size=None) as ws:
            await ws.send(["frag-one ", "frag-two ", "frag-three"])
            await ws.recv()
            await ws.send(os.urandom(70000))
            await ws.recv()
            await ws.close(1000)


async def deflate(host, port):
    """permessage-deflate negotiated: compressed frames carry RSV1."""
    async with serve(echo, host, port, compression="deflate"):
        async with connect(uri(host, port), compression="deflate") as ws:
            for i in range(3):
                await ws.send("compress me please " * 20 + str(i))
                await ws.recv()
            await ws.close(1000, "compressed and done")


async def refused(host, port):
    """The server refuses the upgrade with HTTP 403."""
    def check(connection, request):
        return connection.respond(http.HTTPStatus.FORBIDDEN, "origin not allowed\n")
    async with serve(echo, host, port, process_request=check):
        try:
            async with connect(uri(host, port, "/admin"), origin="https://evil.example"):
                pass
        except Exception:
            pass


# --- raw peers for what the library refuses to send -----------------------------------

def accept_for(key):
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


async def raw_server(host, port, close_payload, close_len=None):
    """Completes the handshake, sends one Close frame with `close_payload`, reads the answer."""
    done = asyncio.Event()

    async def handle(reader, writer):
        head = await reader.readuntil(b"\r\n\r\n")
        key = [l.split(b":", 1)[1].strip() for l in head.split(b"\r\n") if l.lower().startswith(b"sec-websocket-key")][0]
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Accept: " + accept_for(key) + b"\r\n\r\n")
        await reader.read(1024)  # the client's message
        n = len(close_payload) if close_len is None else close_len
        hdr = bytes([0x88, n]) if n < 126 else bytes([0x88, 126]) + struct.pack("!H", n)
        writer.write(hdr + close_payload)
        await writer.drain()
        try:
            await asyncio.wait_for(reader.read(1024), 2)
        except Exception:
            pass
        writer.close()
        done.set()

    server = await asyncio.start_server(handle, host, port)
    async with connect(uri(host, port), compression=None) as ws:
        await ws.send("hi")
        await client_wait_closed(ws)
    await asyncio.wait_for(done.wait(), 5)
    server.close()


async def wire_code(host, port, code, reason):
    await raw_server(host, port, struct.pack("!H", code) + reason)


async def unmasked_client(host, port):
    """A raw client sends an unmasked frame to a real server, which answers 1002."""
    async with serve(echo, host, port, compression=None):
        r, w = await asyncio.open_connection(host, port)
        key = base64.b64encode(os.urandom(16))
        w.write(b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
        await r.readuntil(b"\r\n\r\n")
        w.write(bytes([0x81, 5]) + b"plain")
        await w.drain()
        try:
            await asyncio.wait_for(r.read(1024), 2)
        except Exception:
            pass
        w.close()


SCENARIOS = {
    "normal": normal,
    "private": private,
    "policy": policy,
    "going-away": going_away,
    "empty-close": empty_close,
    "drop-rst": drop_rst,
    "drop-idle": drop_idle,
    "fragmented-large": fragmented_large,
    "deflate": deflate,
    "refused": refused,
    "wire-1015": lambda h, p: wire_code(h, p, 1015, b"TLS handshake failed upstream"),
    "wire-1006": lambda h, p: wire_code(h, p, 1006, b""),
    "wire-1005": lambda h, p: wire_code(h, p, 1005, b""),
    "one-byte-close": lambda h, p: raw_server(h, p, b"\x03"),
    "bad-utf8-reason": lambda h, p: wire_code(h, p, 1000, b"\xff\xfe not utf-8"),
    "oversized-close": lambda h, p: wire_code(h, p, 1000, b"x" * 130),
    "unmasked-client": unmasked_client,
}

if __name__ == "__main__":
    name, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    asyncio.run(SCENARIOS[name](host, port))
