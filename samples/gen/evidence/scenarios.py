#!/usr/bin/env python3
"""The evidence samples: closes whose cause is in what the peers did just before them.

Each scenario is a real library on at least one side (python-websockets 17 here, Node `ws`
8.18 from `peers.js`); where a library refuses to send something illegal, a tiny raw client
in this file sends it and a real library server answers. Everything runs on 127.0.0.1; the
server listens on PORT (the deploy scenario also on PORT + 1). Each scenario prints what its
peers saw, one JSON line per event. Usage: scenarios.py NAME PORT
"""
import asyncio
import base64
import json
import os
import signal
import struct
import sys
import time
import zlib

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

HOST = "127.0.0.1"
PEERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers.js")


def log(**event):
    print(json.dumps({"t": round(time.time(), 6), **event}), flush=True)


def closed(who, ws, error=None):
    log(side=who, event="closed", code=ws.close_code, reason=ws.close_reason,
        error=f"{type(error).__name__}: {error}" if error else None)


# --- Node peers ---------------------------------------------------------------------------

async def pump(stream, prefix):
    while line := await stream.readline():
        print(f"{prefix} {line.decode().rstrip()}", flush=True)


async def node_server(role, port):
    """Starts `peers.js ROLE PORT` and returns once it listens; its output goes to ours."""
    proc = await asyncio.create_subprocess_exec("node", PEERS, role, str(port),
                                                stdout=asyncio.subprocess.PIPE)
    line = await asyncio.wait_for(proc.stdout.readline(), 10)
    assert line.strip() == b"listening", line
    proc.pump = asyncio.create_task(pump(proc.stdout, f"node {role}:"))
    return proc


async def stop(proc, grace=0):
    """Ends a Node server: after `grace` seconds for it to exit by itself, SIGTERM."""
    try:
        await asyncio.wait_for(proc.wait(), grace)
    except asyncio.TimeoutError:
        pass
    if proc.returncode is None:
        proc.terminate()
    await proc.wait()
    await proc.pump


async def node_client(role, port, timeout=15):
    """Runs `peers.js ROLE PORT` to its end (it exits when its connection closes)."""
    proc = await asyncio.create_subprocess_exec("node", PEERS, role, str(port),
                                                stdout=asyncio.subprocess.PIPE)
    await asyncio.wait_for(pump(proc.stdout, f"node {role}:"), timeout)
    await proc.wait()


# --- a raw client, for what no library sends ---------------------------------------------

async def raw_connect(port, extensions=None):
    r, w = await asyncio.open_connection(HOST, port)
    key = base64.b64encode(os.urandom(16))
    ext = b"Sec-WebSocket-Extensions: " + extensions.encode() + b"\r\n" if extensions else b""
    w.write(b"GET /raw HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n" + ext + b"\r\n")
    head = await r.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    log(side="raw client", event="open", response=head.decode().strip().split("\r\n"))
    return r, w


def masked_frame(opcode, payload, rsv1=False):
    """One FIN frame from a client: masked, RSV1 when `rsv1` (a compressed message)."""
    b0 = 0x80 | (0x40 if rsv1 else 0) | opcode
    n = len(payload)
    if n < 126:
        head = bytes([b0, 0x80 | n])
    elif n < 1 << 16:
        head = bytes([b0, 0x80 | 126]) + struct.pack("!H", n)
    else:
        head = bytes([b0, 0x80 | 127]) + struct.pack("!Q", n)
    mask = os.urandom(4)
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    body = (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big") if n else b""
    return head + mask + body


async def read_frame(r):
    """One frame from the server (unmasked): (opcode, payload)."""
    b0, b1 = await r.readexactly(2)
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", await r.readexactly(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", await r.readexactly(8))
    return b0 & 0x0F, await r.readexactly(n)


async def raw_until_close(r, w):
    """Reads until the server's Close, answers it with the same code (masked), hangs up."""
    try:
        while True:
            opcode, payload = await asyncio.wait_for(read_frame(r), 10)
            if opcode == 8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                log(side="raw client", event="close received", code=code,
                    reason=payload[2:].decode(errors="replace"))
                w.write(masked_frame(8, payload[:2]))
                await w.drain()
                await asyncio.wait_for(r.read(), 3)  # the server's FIN
                break
            log(side="raw client", event="frame", opcode=opcode, length=len(payload))
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.TimeoutError) as e:
        log(side="raw client", event="ended", error=type(e).__name__)
    w.close()


# --- scenarios ----------------------------------------------------------------------------

async def rate(port):
    """1008 after a burst. Server: Node ws `rate-server` (peers.js): at most 50 messages in
    any 1 s sliding window, the 51st gets Close 1008 "rate limit exceeded" at once; otherwise
    it acknowledges each message. Client: python-websockets, no compression: 5 chat messages
    200 ms apart (t = 0 .. 0.8 s), then from t = 1.2 s a burst of 50 text messages 10 ms
    apart (t = 1.2 .. 1.69 s: 0.49 s), on a fixed schedule. The window at the burst's last
    message holds it, the 49 before it and the last chat message: 51, so the server closes
    right after the 50th burst message. The client stops sending when the Close arrives and answers it (the
    library does)."""
    server = await node_server("rate-server", port)
    async with connect(f"ws://{HOST}:{port}/chat", compression=None) as ws:
        async def read():
            try:
                async for _ in ws:
                    pass
            except ConnectionClosed:
                pass
        reader = asyncio.create_task(read())
        loop = asyncio.get_running_loop()
        start = loop.time()
        # (time after the first message, text): 5 chat messages, a pause, the burst
        plan = [(0.2 * i, f"hello {i}") for i in range(5)]
        plan += [(1.2 + 0.01 * i, f"spam {i}") for i in range(50)]
        sent = 0
        try:
            for at, text in plan:
                await asyncio.sleep(max(0.0, start + at - loop.time()))
                await ws.send(json.dumps({"type": "chat", "text": text}))
                sent += 1
        except ConnectionClosed:
            pass
        log(side="python client", event="sent", messages=sent)
        await reader
        closed("python client", ws)
    await stop(server)


async def lifetime(port):
    """1008 at a fixed connection age. Server: python-websockets, no compression: 5 s after
    its handler starts (right after the 101), a timer closes with 1008 "token expired",
    whatever the client does; it acknowledges messages. Client: Node ws `lifetime-client`:
    one text message at the open, then one every 1300 ms (0, 1.3, 2.6, 3.9 s: the last one
    1.1 s before the close)."""
    LIFETIME = 5.0

    async def handler(ws):
        opened = time.monotonic()

        async def expire():
            await asyncio.sleep(LIFETIME)
            log(side="python server", event="expire", age=round(time.monotonic() - opened, 6))
            await ws.close(1008, "token expired")

        timer = asyncio.create_task(expire())
        try:
            async for msg in ws:
                await ws.send("ok")
        except ConnectionClosed:
            pass
        await timer
        closed("python server", ws)

    async with serve(handler, HOST, port, compression=None):
        await node_client("lifetime-client", port)


async def deflate_1009(port):
    """1009 on a compressed 2 MiB message. Server: python-websockets with its default
    permessage-deflate (server_max_window_bits=12, client_max_window_bits=12) and
    max_size=1 MiB (1048576 bytes, counted after inflation); it acknowledges messages.
    Client: Node ws `deflate-client`, perMessageDeflate with threshold 0 (every message
    compressed, context takeover on): two small JSON messages 300 ms apart, then a 2 MiB
    (2097152 bytes) JSON text message of similar records."""
    async def handler(ws):
        log(side="python server", event="open",
            extensions=ws.response.headers.get("Sec-WebSocket-Extensions"))
        try:
            async for msg in ws:
                log(side="python server", event="message", length=len(msg))
                await ws.send(f"got {len(msg)}")
        except ConnectionClosed as e:
            closed("python server", ws, e)

    async with serve(handler, HOST, port, max_size=1 << 20):
        await node_client("deflate-client", port)


async def utf8_1007(port):
    """1007 on invalid UTF-8. Server: python-websockets (echo), no compression. Client: raw
    (this file): handshake, a valid masked text message "hello", then a masked text frame
    whose payload is not UTF-8 (a lone 0xff byte after "caf"); it answers the Close."""
    async def handler(ws):
        try:
            async for msg in ws:
                await ws.send(msg)
        except ConnectionClosed as e:
            closed("python server", ws, e)

    async with serve(handler, HOST, port, compression=None):
        r, w = await raw_connect(port)
        w.write(masked_frame(1, b"hello"))
        await w.drain()
        opcode, echo = await read_frame(r)
        log(side="raw client", event="frame", opcode=opcode, length=len(echo))
        await asyncio.sleep(0.3)
        w.write(masked_frame(1, b"caf\xff price update"))
        await w.drain()
        await raw_until_close(r, w)


async def binary_1003(port):
    """1003 on a binary message. Server: Node ws `binary-server` (text only: echoes text,
    closes a binary message with 1003 "binary messages are not supported"). Client:
    python-websockets, no compression: two text messages 200 ms apart, then one 64-byte
    binary message; the library answers the Close."""
    server = await node_server("binary-server", port)
    async with connect(f"ws://{HOST}:{port}/feed", compression=None) as ws:
        for i in range(2):
            await ws.send(f"text message {i}")
            await ws.recv()
            await asyncio.sleep(0.2)
        await ws.send(bytes(range(64)))
        try:
            await asyncio.wait_for(ws.recv(), 5)
        except ConnectionClosed as e:
            closed("python client", ws, e)
    await stop(server)


async def keepalive_1011(port):
    """1011 keepalive timeout. Server: python-websockets, ping_interval=1, ping_timeout=1,
    no compression (its keepalive pings every second and fails the connection with 1011
    "keepalive ping timeout" when a pong does not come within 1 s). Client: Node ws
    `keepalive-client` with autoPong off: sends one message, answers the first 2 pings by
    hand, then no more (its third ping goes unanswered); it answers the Close."""
    async def handler(ws):
        try:
            async for msg in ws:
                await ws.send("subscribed")
        except ConnectionClosed as e:
            closed("python server", ws, e)

    async with serve(handler, HOST, port, compression=None, ping_interval=1, ping_timeout=1):
        await node_client("keepalive-client", port)


async def deploy_1001(port):
    """A deploy: 20 connections get 1001 at once. Server A on PORT: Node ws `deploy-server`,
    which on SIGTERM closes every client with 1001 "server restarting" in one loop. Server B
    on PORT + 1: python-websockets echo (another service). Clients: python-websockets, no
    compression: 20 to A and 2 to B, each sending 3 messages (one per 100 ms, staggered) and
    reading the echoes. Then, in the same instant, A gets SIGTERM and the 2 clients of B
    close normally (1000 "client done")."""
    async def echo(ws):
        try:
            async for msg in ws:
                await ws.send(msg)
        except ConnectionClosed:
            pass

    server_a = await node_server("deploy-server", port)
    async with serve(echo, HOST, port + 1, compression=None):
        clients = []
        for i in range(22):
            p = port if i < 20 else port + 1
            clients.append(await connect(f"ws://{HOST}:{p}/live", compression=None))

        async def chat(i, ws):
            await asyncio.sleep(i * 0.01)
            for k in range(3):
                await ws.send(f"client {i} message {k}")
                await ws.recv()
                await asyncio.sleep(0.1)

        await asyncio.gather(*(chat(i, ws) for i, ws in enumerate(clients)))
        await asyncio.sleep(0.5)
        log(side="driver", event="deploy")
        server_a.send_signal(signal.SIGTERM)
        await asyncio.gather(*(ws.close(1000, "client done") for ws in clients[20:]))

        async def wait(i, ws):
            try:
                await asyncio.wait_for(ws.recv(), 5)
            except ConnectionClosed:
                pass
            await ws.wait_closed()
            return ws.close_code, ws.close_reason

        results = await asyncio.gather(*(wait(i, ws) for i, ws in enumerate(clients)))
        log(side="python clients", event="closed", codes=[c for c, _ in results],
            reasons=sorted({r for _, r in results}))
    await stop(server_a, grace=5)  # it exits once its clients are gone


async def deflate_bomb(port):
    """A deflate bomb. Server: Node ws `bomb-server`: perMessageDeflate on, maxPayload
    1 MiB. Client: raw (this file), offers plain "permessage-deflate" (no window limits, so
    it may compress with a 32 KiB window); sends one masked text frame with RSV1 set whose
    payload is 200 MiB (209715200 bytes) of "A" compressed as RFC 7692 says (raw deflate,
    zlib wbits=-15, level 9, sync flush, the trailing 00 00 ff ff removed): about 200 KB on
    the wire. It then reads what the server does and answers a Close."""
    BOMB = 200 << 20
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = b"A" * (1 << 20)
    parts = [comp.compress(chunk) for _ in range(BOMB >> 20)]
    parts.append(comp.flush(zlib.Z_SYNC_FLUSH))
    payload = b"".join(parts)
    assert payload.endswith(b"\x00\x00\xff\xff")
    payload = payload[:-4]
    log(side="raw client", event="bomb", inflated=BOMB, compressed=len(payload))

    server = await node_server("bomb-server", port)
    r, w = await raw_connect(port, "permessage-deflate")
    w.write(masked_frame(1, payload, rsv1=True))
    await w.drain()
    await raw_until_close(r, w)
    await asyncio.sleep(0.5)
    await stop(server)


SCENARIOS = {
    "1008-rate": rate,
    "1008-lifetime": lifetime,
    "1009-deflate": deflate_1009,
    "1007-utf8": utf8_1007,
    "1003-binary": binary_1003,
    "1011-keepalive": keepalive_1011,
    "1001-deploy": deploy_1001,
    "deflate-bomb": deflate_bomb,
}

if __name__ == "__main__":
    asyncio.run(SCENARIOS[sys.argv[1]](int(sys.argv[2])))
