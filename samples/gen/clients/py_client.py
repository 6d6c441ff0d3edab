#!/usr/bin/env python3
"""python-websockets' threaded (sync) client over the standard ssl module (OpenSSL), for
wsclose's client samples. It trusts only the test CA and writes its TLS secrets to KEYLOG.

On open it sends one text message, then waits (at most 5 s) for the connection to end and
prints one JSON line with what the library handed the application.

Usage: py_client.py URL CA_PEM KEYLOG
"""
import json
import ssl
import sys

import websockets
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect


def one_line(e):
    """The exception and its cause, as the application sees them."""
    text = f"{type(e).__name__}: {e}"
    if e.__cause__ is not None:
        text += f" (cause: {type(e.__cause__).__name__}: {e.__cause__})"
    return text.replace("\n", " ")[:200]


def main(url, ca, keylog):
    report = {"code": None, "reason": None, "was_clean": None, "error_event": None, "error": None}
    ctx = None
    if url.startswith("wss:"):
        ctx = ssl.create_default_context(cafile=ca)
        ctx.keylog_filename = keylog
    try:
        with connect(url, ssl=ctx, open_timeout=5, close_timeout=2) as ws:
            ws.send("hello")
            while True:
                ws.recv(timeout=5)
    except ConnectionClosed as e:
        if e.rcvd is not None:
            report["code"], report["reason"] = e.rcvd.code, e.rcvd.reason
        report["error"] = one_line(e)
    except Exception as e:  # the failures are the point of these samples
        report["error"] = one_line(e)
    client = f"python-websockets {websockets.__version__} (Python {sys.version.split()[0]}, {ssl.OPENSSL_VERSION})"
    print(json.dumps({"client": client, "reported": report}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
