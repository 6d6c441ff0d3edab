#!/usr/bin/env python3
"""A WebSocket session through a real reverse proxy (nginx or HAProxy), both legs recorded.

A python-websockets backend (its own process, so that it can be killed) sits behind the
proxy; a python-websockets client talks to it through the proxy. The proxy runs in the
foreground from a configuration written into a temporary directory, with a 5 s idle
timeout (nginx `proxy_read_timeout 5s`, HAProxy `timeout tunnel 5s`). tcpdump records the
proxy's port and the backend's port on loopback, so the capture holds the client -> proxy
leg and the proxy -> backend leg.

Scenarios:
  idle  client and backend exchange two messages, then stay silent until the proxy ends it;
  kill  the backend process is killed (SIGKILL) half a second after answering a message.

The client itself writes NAME.client.json: the close code, reason and exception that
python-websockets handed to it, and what it sent at the end.

Usage: proxy_scenarios.py nginx|haproxy idle|kill OUT_PREFIX   (needs root for tcpdump)
        proxy_scenarios.py backend PORT                         (internal: the backend)
"""
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from scenarios import python_truth  # noqa: E402

HOST = "127.0.0.1"
IDLE_TIMEOUT_S = 5


# --- backend ---------------------------------------------------------------------------

async def backend(port):
    """Echoes every message; never pings, so that only the proxy's timer ends a session."""
    async def echo(ws):
        try:
            async for msg in ws:
                await ws.send(f"echo: {msg}")
        except ConnectionClosed:
            pass
    async with serve(echo, HOST, port, compression=None, ping_interval=None):
        print("ready", flush=True)
        await asyncio.Future()


# --- proxies ---------------------------------------------------------------------------

def nginx_config(tmp, port, backend_port):
    return f"""worker_processes 1;
daemon off;
error_log {tmp}/error.log info;
pid {tmp}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen {HOST}:{port};
        location / {{
            proxy_pass http://{HOST}:{backend_port};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_read_timeout {IDLE_TIMEOUT_S}s;
        }}
    }}
}}
"""


def haproxy_config(tmp, port, backend_port):
    return f"""global
    maxconn 64
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    timeout tunnel {IDLE_TIMEOUT_S}s
frontend websocket
    bind {HOST}:{port}
    default_backend app
backend app
    server app1 {HOST}:{backend_port}
"""


def start_proxy(kind, tmp, port, backend_port):
    """The proxy in the foreground, and the product and version it reports."""
    if kind == "nginx":
        conf = os.path.join(tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write(nginx_config(tmp, port, backend_port))
        proc = subprocess.Popen(["nginx", "-p", tmp, "-c", conf],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        version = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    else:
        conf = os.path.join(tmp, "haproxy.cfg")
        with open(conf, "w") as f:
            f.write(haproxy_config(tmp, port, backend_port))
        proc = subprocess.Popen(["haproxy", "-db", "-f", conf],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        version = subprocess.run(["haproxy", "-v"], capture_output=True,
                                 text=True).stdout.splitlines()[0]
    wait_listening(port)
    return proc, version


def wait_listening(port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((HOST, port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def free_port_pair():
    base = 19200 + random.randrange(0, 700) * 2
    return base, base + 1


# --- client ----------------------------------------------------------------------------

async def client(port, scenario, backend_proc):
    """The session as the client lives it; returns what python-websockets reported."""
    ws = await connect(f"ws://{HOST}:{port}/session", compression=None, ping_interval=None,
                       close_timeout=2)
    error = None
    try:
        await ws.send("subscribe")
        await ws.recv()
        await ws.send("still here")
        await ws.recv()
        if scenario == "kill":
            await asyncio.sleep(0.5)
            backend_proc.send_signal(signal.SIGKILL)
        while True:  # silent now: wait for whatever ends it
            await ws.recv()
    except ConnectionClosed as e:
        error = e
    sent = error.sent if error is not None else None
    truth = python_truth(ws, error)
    return {
        **truth,
        "sent": (f"Close {sent.code}" if sent is not None else "no Close frame")
                + ", then FIN",
    }


def main():
    if sys.argv[1] == "backend":
        asyncio.run(backend(int(sys.argv[2])))
        return
    kind, scenario, out = sys.argv[1], sys.argv[2], sys.argv[3]
    assert kind in ("nginx", "haproxy") and scenario in ("idle", "kill")
    port, backend_port = free_port_pair()
    tmp = tempfile.mkdtemp(prefix=f"wsclose-{kind}-")
    procs = []
    dump = None
    try:
        be = subprocess.Popen([sys.executable, __file__, "backend", str(backend_port)],
                              stdout=subprocess.PIPE, text=True)
        procs.append(be)
        be.stdout.readline()
        proxy, proxy_version = start_proxy(kind, tmp, port, backend_port)
        procs.append(proxy)
        # Recording starts once the proxy listens, so its readiness probe stays out.
        dump = subprocess.Popen(
            ["tcpdump", "-i", "lo", "-U", "-w", f"{out}.pcap",
             f"tcp port {port} or tcp port {backend_port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(dump)
        time.sleep(1)
        truth = asyncio.run(client(port, scenario, be))
        truth["proxy"] = proxy_version
        time.sleep(1)
        with open(f"{out}.client.json", "w") as f:
            json.dump(truth, f, indent=2)
            f.write("\n")
        print(f"recorded {out}.pcap: client reported {truth['reported']}")
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGINT if p is dump else signal.SIGTERM)
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
