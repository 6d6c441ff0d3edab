#!/usr/bin/env python3
"""The incident sample: about 75 s of traffic to four servers, with a burst of problems in
the middle, for wsclose's incident summary (totals, causes, top servers and clients, a
timeline).

Real libraries on both sides: python-websockets 17 (asyncio servers and clients, its threaded
client for TLS) and Node `ws` 8.18 (`peers.js`); a tiny raw client only to send the close
codes no library sends (1005, 1006). Everything runs on loopback; clients connect from
several source addresses (127.0.0.10 and up), given per group below.

Servers (PORT from the command line):
- A, 127.0.0.1:PORT, python-websockets echo; answers "logout" with Close 1000 "logged out".
- B, 127.0.0.2:PORT+1, Node ws (`peers.js deploy-server`): echo; at t = 36 s it gets
  SIGTERM and closes every client with 1001 "server restarting" in one loop, then exits.
- C, 127.0.0.3:PORT+2, python-websockets with keepalive pings (ping_interval 3 s,
  ping_timeout 3 s: 1011 "keepalive ping timeout" to a client that does not answer) and a
  rate limit: the 21st message within any 1 s gets Close 1008 "rate limit exceeded".
- TLS, 127.0.0.1:PORT+3, python-websockets over TLS with a certificate issued by a CA the
  clients do not trust (the rogue CA of `gen/pki.sh`).

Groups (t in seconds from the start; "every" spacing has a fixed pseudo-random jitter):
- clean (150, A, python-websockets from 127.0.0.10-17): one every ~0.48 s over t = 0-72;
  3 messages 150 ms apart, each echoed; the client closes 1000 "done". Five of them
  (server-1000) send "logout" instead and the server closes 1000 "logged out".
- deploy-1001 (40, B, python-websockets from 127.0.0.20-23): open at t = 2-14, send a
  message every 4 s (first one 0-4 s after the open) until the deploy.
- rate-1008 (30, C, python-websockets from 127.0.0.30-32): one every 0.6 s over t = 30-48;
  2 messages 300 ms apart, then a burst of 25 messages 5 ms apart, not waiting for acks.
- drop-killed (20, C, Node ws from 127.0.0.40-41, a message every 1 s): four processes of
  5 connections, opened at t = 26, 28, 30, 32, killed with SIGKILL at t = 33, 39, 45, 51
  (the kernel ends their TCP connections; no Close).
- drop-terminate (10, C, Node ws from 127.0.0.42): opened at t = 30-34.5, each calls
  terminate() (TCP FIN, no Close) at t = 34-52, ~2 s apart.
- drop-rst (10, C, python-websockets from 127.0.0.43): open at t = 31-40, a message every
  0.5 s; at t = 40-54 each sets SO_LINGER 0 and aborts its transport (RST, no Close).
- keepalive-1011 (4, C, Node ws from 127.0.0.44 with autoPong off, so no ping is
  answered): opened at t = 38-41, 1 s apart; no messages.
- tls-untrusted (18, TLS, python-websockets threaded client from 127.0.0.50, TLS 1.3,
  trusting only the test CA): one every ~1.1 s over t = 32-52; the client rejects the
  certificate (alert unknown_ca) and never sends the Upgrade. Its key log (SSLKEYLOGFILE
  format) is written to KEYLOG.
- illegal-1005 / illegal-1006 (2 each, A, raw client from 127.0.0.66) at t = 18, 42, 47,
  62: the Upgrade, one message, then a masked Close whose code is 1005 or 1006; it reads
  the server's answer.

TRUTH gets one JSON line per connection attempt, ordered by start time: the group, the
client library, the client and server address, what the client itself reported (close code
and reason, or the exception; for a killed process, that it was killed) and what the
server reported for the connection where it reports one. Usage:
    scenario.py PORT PKI_DIR KEYLOG TRUTH
"""
import asyncio
import base64
import json
import os
import random
import signal
import socket
import ssl
import struct
import sys
import time

import websockets
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as sync_connect

PEERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers.js")
PYLIB = f"python-websockets {websockets.__version__} (Python {sys.version.split()[0]})"
RATE_LIMIT, RATE_WINDOW = 20, 1.0
DEPLOY_AT = 36.0
rng = random.Random(11)
records = []  # one dict per connection attempt
server_saw = {}  # "ip:port" of the client -> what the server reported


def log(**event):
    print(json.dumps({"t": round(time.time(), 6), **event}), flush=True)


def one_line(e):
    """The exception and its cause, as the application sees them."""
    text = f"{type(e).__name__}: {e}"
    if e.__cause__ is not None:
        text += f" (cause: {type(e.__cause__).__name__}: {e.__cause__})"
    return text.replace("\n", " ")[:200]


def record(group, library, server, **fields):
    rec = {"t": round(time.time(), 6), "group": group, "library": library, "client": None,
           "server": server, "client_saw": None, **fields}
    records.append(rec)
    return rec


def addr(sockname):
    return f"{sockname[0]}:{sockname[1]}"


def saw(ws, error=None):
    """What python-websockets handed the application when the connection ended."""
    return {"code": ws.close_code, "reason": ws.close_reason,
            "error": one_line(error) if error else None}


class Clock:
    def __init__(self):
        self.loop = asyncio.get_running_loop()
        self.start = self.loop.time()

    async def at(self, t):
        await asyncio.sleep(max(0.0, self.start + t - self.loop.time()))

    def now(self):
        return self.loop.time() - self.start


def spread(n, first, last):
    """n start times from first to last, evenly spaced with a small fixed jitter."""
    step = (last - first) / max(1, n - 1)
    return [round(first + i * step + rng.uniform(-0.2, 0.2) * step, 3) for i in range(n)]


# --- servers -------------------------------------------------------------------------------

async def server_a(ws):
    peer = addr(ws.remote_address)
    error = None
    try:
        async for msg in ws:
            if msg == "logout":
                await ws.close(1000, "logged out")
            else:
                await ws.send(msg)
    except ConnectionClosed as e:
        error = e
    await ws.wait_closed()
    server_saw[peer] = {"library": PYLIB, **saw(ws, error)}


async def server_c(ws):
    peer = addr(ws.remote_address)
    error = None
    seen = []
    try:
        async for msg in ws:
            now = time.monotonic()
            seen.append(now)
            seen[:] = [t for t in seen if t > now - RATE_WINDOW]
            if len(seen) > RATE_LIMIT:
                await ws.close(1008, "rate limit exceeded")
                break
            await ws.send("ack")
    except ConnectionClosed as e:
        error = e
    await ws.wait_closed()
    server_saw[peer] = {"library": PYLIB, **saw(ws, error)}


async def server_tls(ws):
    async for msg in ws:
        await ws.send(msg)


# --- Node peers ----------------------------------------------------------------------------

class Node:
    """A `peers.js` process; on_event gets each JSON line it prints."""

    def __init__(self, args, on_event):
        self.args, self.on_event = args, on_event

    async def start(self, wait_listening=False):
        self.proc = await asyncio.create_subprocess_exec("node", PEERS, *self.args,
                                                         stdout=asyncio.subprocess.PIPE)
        if wait_listening:
            line = await asyncio.wait_for(self.proc.stdout.readline(), 10)
            assert line.strip() == b"listening", line
        self.pump = asyncio.create_task(self._pump())
        return self

    async def _pump(self):
        while line := await self.proc.stdout.readline():
            event = json.loads(line)
            self.on_event(event)

    async def wait(self, timeout):
        try:
            await asyncio.wait_for(self.proc.wait(), timeout)
        except asyncio.TimeoutError:
            self.proc.terminate()
            await self.proc.wait()
        await self.pump


def node_clients(group, url, server, clients, auto_pong=True, tick_ms=1000):
    """A Node process holding `clients` ([(src, open_s, terminate_s or None)]) and the
    records of their connections, filled from its output."""
    recs = {}
    version = {}

    def on_event(ev):
        if ev["event"] == "ready":
            version["lib"] = f"ws {ev['ws']} (Node {ev['node']})"
        elif ev["event"] == "open":
            rec = record(group, version.get("lib"), server, client=ev["local"])
            rec["t"] = ev["t"]
            recs[ev["id"]] = rec
        elif ev["event"] == "close":
            recs[ev["id"]]["client_saw"] = {"code": ev["code"], "reason": ev["reason"],
                                            "error": recs[ev["id"]].pop("error", None)}
        elif ev["event"] == "error" and ev["id"] in recs:
            recs[ev["id"]]["error"] = ev["error"]
        elif ev["event"] == "terminate":
            recs[ev["id"]]["client_did"] = "terminate()"
        log(side=f"node {group}", **{k: v for k, v in ev.items() if k != "t"})

    spec = {"autoPong": auto_pong, "tickMs": tick_ms, "clients": [
        {"id": i, "src": src, "openMs": int(o * 1000),
         "terminateMs": None if term is None else int(term * 1000)}
        for i, (src, o, term) in enumerate(clients)]}
    node = Node(["clients", url, json.dumps(spec)], on_event)
    node.recs = recs
    return node


# --- the groups ----------------------------------------------------------------------------

async def clean(clock, i, t, url, server, logout):
    await clock.at(t)
    group = "server-1000" if logout else "clean"
    rec = record(group, PYLIB, server)
    try:
        async with connect(url, local_addr=(f"127.0.0.{10 + i % 8}", 0)) as ws:
            rec["client"] = addr(ws.local_address)
            for k in range(3):
                await ws.send(f"message {k} from client {i}")
                await ws.recv()
                await asyncio.sleep(0.15)
            if logout:
                await ws.send("logout")
                await ws.recv()
            else:
                await ws.close(1000, "done")
        rec["client_saw"] = saw(ws)
    except ConnectionClosed as e:
        rec["client_saw"] = saw(ws, e)


async def deployed(clock, i, t, phase, url, server):
    await clock.at(t)
    rec = record("deploy-1001", PYLIB, server)
    async with connect(url, local_addr=(f"127.0.0.{20 + i % 4}", 0)) as ws:
        rec["client"] = addr(ws.local_address)
        try:
            await asyncio.sleep(phase)
            for k in range(100):
                await ws.send(f"update {k}")
                await ws.recv()
                await asyncio.sleep(4.0)
        except ConnectionClosed as e:
            rec["client_saw"] = saw(ws, e)


async def rate(clock, i, t, url, server):
    await clock.at(t)
    rec = record("rate-1008", PYLIB, server)
    async with connect(url, local_addr=(f"127.0.0.{30 + i % 3}", 0)) as ws:
        rec["client"] = addr(ws.local_address)

        async def drain():
            try:
                async for _ in ws:
                    pass
            except ConnectionClosed:
                pass

        reader = asyncio.create_task(drain())
        error = None
        try:
            for k in range(2):
                await ws.send(f"chat {k}")
                await asyncio.sleep(0.3)
            for k in range(25):
                await ws.send(f"spam {k}")
                await asyncio.sleep(0.005)
        except ConnectionClosed as e:
            error = e
        await reader
        await ws.wait_closed()
        rec["client_saw"] = saw(ws, error)


async def rst(clock, i, t, abort_at, url, server):
    await clock.at(t)
    rec = record("drop-rst", PYLIB, server)
    async with connect(url, local_addr=("127.0.0.43", 0)) as ws:
        rec["client"] = addr(ws.local_address)
        try:
            while clock.now() < abort_at:
                await ws.send("status?")
                await ws.recv()
                await asyncio.sleep(min(0.5, max(0.0, abort_at - clock.now())))
            sock = ws.transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            rec["client_did"] = "SO_LINGER 0, transport.abort()"
            ws.transport.abort()
            await ws.recv()
        except ConnectionClosed as e:
            rec["client_saw"] = saw(ws, e)


def tls_attempt(port, ctx, rec):
    """python-websockets' threaded client: its failed handshakes send their alert."""
    sock = socket.socket()
    sock.bind(("127.0.0.50", 0))
    sock.connect(("127.0.0.1", port))
    rec["client"] = addr(sock.getsockname())
    try:
        with sync_connect(f"wss://localhost:{port}/live", sock=sock, ssl=ctx,
                          server_hostname="localhost", open_timeout=3) as ws:
            ws.close(1000, "unexpected success")
        rec["client_saw"] = {"code": ws.close_code, "reason": ws.close_reason, "error": None}
    except Exception as e:  # the failure is the point
        rec["client_saw"] = {"code": None, "reason": None, "error": one_line(e)}


async def tls(clock, t, port, ctx, server):
    await clock.at(t)
    rec = record("tls-untrusted", f"{PYLIB}, threaded client, {ssl.OPENSSL_VERSION}", server)
    await asyncio.to_thread(tls_attempt, port, ctx, rec)


def masked_frame(opcode, payload):
    mask = os.urandom(4)
    body = bytes(b ^ mask[k % 4] for k, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + body


async def read_frame(r):
    b0, b1 = await r.readexactly(2)
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", await r.readexactly(2))
    return b0 & 0x0F, await r.readexactly(n)


async def illegal(clock, t, code, port, server):
    """Raw client: sends Close `code` (never legal on the wire) and reads the answer."""
    await clock.at(t)
    rec = record(f"illegal-{code}", "raw client (scenario.py)", server,
                 client_did=f"sent Close {code}")
    r, w = await asyncio.open_connection("127.0.0.1", port, local_addr=("127.0.0.66", 0))
    rec["client"] = addr(w.get_extra_info("sockname"))
    key = base64.b64encode(os.urandom(16))
    w.write(b"GET /app HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: " + key + b"\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n")
    head = await r.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    w.write(masked_frame(1, b"hello"))
    await read_frame(r)  # the echo
    await asyncio.sleep(0.2)
    w.write(masked_frame(8, struct.pack("!H", code) + b"going"))
    try:
        while True:
            opcode, payload = await asyncio.wait_for(read_frame(r), 5)
            if opcode == 8:
                rec["client_saw"] = {
                    "code": struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None,
                    "reason": payload[2:].decode(errors="replace"), "error": None}
                break
        await asyncio.wait_for(r.read(), 5)  # the server's FIN
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.TimeoutError) as e:
        rec["client_saw"] = {"code": None, "reason": None, "error": type(e).__name__}
    w.close()


# --- the whole run -------------------------------------------------------------------------

async def main(port, pki, keylog, truth):
    pa, pb, pc, pt = port, port + 1, port + 2, port + 3
    sa, sb, sc, st = (f"127.0.0.1:{pa}", f"127.0.0.2:{pb}", f"127.0.0.3:{pc}",
                      f"127.0.0.1:{pt}")
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(f"{pki}/untrusted.crt", f"{pki}/untrusted.key")
    cctx = ssl.create_default_context(cafile=f"{pki}/ca.crt")
    cctx.keylog_filename = keylog

    version_b = {}

    def on_b(ev):
        if ev["event"] == "ready":
            version_b["lib"] = f"ws {ev['ws']} (Node {ev['node']})"
        elif ev["event"] == "close":
            server_saw[ev["peer"]] = {"library": version_b.get("lib"), "code": ev["code"],
                                      "reason": ev["reason"], "error": None}
        log(side="node server B", **{k: v for k, v in ev.items() if k != "t"})

    node_b = await Node(["deploy-server", "127.0.0.2", str(pb)], on_b).start(True)
    async with serve(server_a, "127.0.0.1", pa), \
            serve(server_c, "127.0.0.3", pc, ping_interval=3, ping_timeout=3), \
            serve(server_tls, "127.0.0.1", pt, ssl=sctx):
        clock = Clock()
        tasks = []
        logouts = {20, 50, 80, 110, 140}
        for i, t in enumerate(spread(150, 0.0, 72.0)):
            tasks.append(clean(clock, i, t, f"ws://127.0.0.1:{pa}/app", sa, i in logouts))
        for i, t in enumerate(spread(40, 2.0, 14.0)):
            phase = round(rng.uniform(0, 4), 3)
            tasks.append(deployed(clock, i, t, phase, f"ws://127.0.0.2:{pb}/live", sb))
        for i, t in enumerate(spread(30, 30.0, 48.0)):
            tasks.append(rate(clock, i, t, f"ws://127.0.0.3:{pc}/chat", sc))
        opens = spread(10, 31.0, 40.0)
        aborts = sorted(spread(10, 40.0, 54.0))
        for i, (t, a) in enumerate(zip(opens, aborts)):
            tasks.append(rst(clock, i, t, a, f"ws://127.0.0.3:{pc}/chat", sc))
        for t in spread(18, 32.0, 52.0):
            tasks.append(tls(clock, t, pt, cctx, st))
        for t, code in [(18.0, 1005), (42.0, 1006), (47.0, 1005), (62.0, 1006)]:
            tasks.append(illegal(clock, t, code, pa, sa))

        url_c = f"ws://127.0.0.3:{pc}/chat"

        async def killed(open_at, kill_at):
            await clock.at(open_at)
            node = node_clients("drop-killed", url_c, sc,
                                [(f"127.0.0.{40 + k % 2}", 0.1 * k, None) for k in range(5)])
            await node.start()
            await clock.at(kill_at)
            node.proc.send_signal(signal.SIGKILL)
            await node.wait(5)
            for rec in node.recs.values():
                if rec["client_saw"] is None:
                    rec["client_did"] = "process killed (SIGKILL)"

        for o, k in [(26, 33), (28, 39), (30, 45), (32, 51)]:
            tasks.append(killed(o, k))

        async def terminated():
            await clock.at(30.0)
            # (open, terminate) in seconds after the process starts (t = 30)
            plan = [(0.5 * k, 4.0 + 2.0 * k - 0.5 * k) for k in range(10)]
            node = node_clients("drop-terminate", url_c, sc,
                                [("127.0.0.42", o, term) for o, term in plan])
            await node.start()
            await node.wait(40)

        async def keepalive():
            await clock.at(38.0)
            node = node_clients("keepalive-1011", url_c, sc,
                                [("127.0.0.44", 1.0 * k, None) for k in range(4)],
                                auto_pong=False, tick_ms=0)
            await node.start()
            await node.wait(30)

        async def deploy():
            await clock.at(DEPLOY_AT)
            log(side="driver", event="deploy", at=round(clock.now(), 3))
            node_b.proc.send_signal(signal.SIGTERM)
            await node_b.wait(10)

        tasks += [terminated(), keepalive(), deploy()]
        await asyncio.gather(*tasks)
        await asyncio.sleep(1.0)
        log(side="driver", event="done", at=round(clock.now(), 3))

    with open(truth, "w") as f:
        for rec in sorted(records, key=lambda r: r["t"]):
            rec["server_saw"] = server_saw.get(rec["client"])
            f.write(json.dumps(rec) + "\n")
    log(side="driver", event="truth", connections=len(records))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]))
