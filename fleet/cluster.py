#!/usr/bin/env python3
"""Run `wsclose analyze --format jsonl` over captures in an object store with Dask.

The same map as fleet/run-local.sh, spread over a cluster: one task per capture, one JSONL
object per capture under the output prefix, named after the capture's path, so that a
second run skips what is done and redoes only what failed. The JSONL is then loaded with
fleet/load.sql (DuckDB reads s3:// and gs:// globs through its httpfs extension, or copy
the objects down first).

    pip install "dask[distributed]" fsspec s3fs        # gcsfs for gs://, adlfs for az://
    python3 fleet/cluster.py --scheduler tcp://HOST:8786 \\
        --out s3://bucket/wsclose-jsonl s3://bucket/captures/

Each worker needs the wsclose binary (on PATH, or --wsclose PATH) and read access to the
captures. A capture is streamed from the store into wsclose's standard input (`wsclose
analyze -`), so a worker needs no local disk for it; the records' `file` field, which
wsclose sets to "-" for standard input, is replaced by the capture's URL. Key logs are not
handled here: pass --wsclose-arg=--keylog --wsclose-arg=/shared/all.keys for one shared
log, or embed the secrets in pcapng files (wsclose reads Decryption Secrets Blocks).

Honest status: this is an example. It has NOT been run on a cluster or against an object
store. What is tested (by fleet/check.sh) is `--local`: the same per-capture function
(streaming into standard input, rewriting `file`, the skip and failure handling) run in a
process pool on one machine over local paths, without Dask or fsspec, and compared record
for record with fleet/run-local.sh's output. The Dask and fsspec calls below follow their
documented APIs (dask.bag.from_sequence / map / compute, distributed.Client,
fsspec.core.url_to_fs, fs.find, fs.open) but were not exercised.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading

CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".pcap.gz", ".pcapng.gz", ".cap.gz")


def out_name(path: str) -> str:
    """The output name for a capture path, as fleet/run-local.sh derives it."""
    p = path[2:] if path.startswith("./") else path
    p = p.replace("%", "%25").replace("/", "%2F")
    raw = os.fsencode(p)
    if len(raw) > 200:
        # In bytes, as the shell script cuts it (os.fsdecode keeps a cut character's bytes).
        h = hashlib.sha256(os.fsencode(path)).hexdigest()[:16]
        p = os.fsdecode(raw[-150:]) + "-" + h
    return p


def _is_url(path: str) -> bool:
    return "://" in path


def _fs(path: str):
    """(filesystem, path inside it) for a URL; fsspec is imported only when needed."""
    import fsspec  # noqa: PLC0415 (only the cluster path needs it)

    return fsspec.core.url_to_fs(path)


def _open(path: str, mode: str):
    if _is_url(path):
        fs, inner = _fs(path)
        return fs.open(inner, mode)
    return open(path, mode)


def _exists(path: str) -> bool:
    if _is_url(path):
        fs, inner = _fs(path)
        return fs.exists(inner)
    return os.path.exists(path)


def _join(prefix: str, name: str) -> str:
    return prefix.rstrip("/") + "/" + name


def list_captures(paths: list[str]) -> list[str]:
    """Captures under each path (a capture, a folder or a prefix), sorted, once each."""
    found: set[str] = set()
    for path in paths:
        if _is_url(path):
            fs, inner = _fs(path)
            proto = path.split("://", 1)[0]
            if fs.isdir(inner):
                for key in fs.find(inner):
                    if key.lower().endswith(CAPTURE_SUFFIXES):
                        found.add(f"{proto}://{key}")
            else:
                found.add(path)
        elif os.path.isdir(path):
            for root, _dirs, files in os.walk(path):
                for f in files:
                    if f.lower().endswith(CAPTURE_SUFFIXES):
                        found.add(os.path.join(root, f))
        else:
            found.add(path)
    return sorted(found)


def analyze_one(
    src: str,
    out_prefix: str,
    wsclose: str = "wsclose",
    extra_args: tuple[str, ...] = (),
    force: bool = False,
) -> dict:
    """Analyse one capture into OUT/NAME.jsonl; returns {path, status[, error]}.

    status is "done", "skipped" (the JSONL was already there) or "failed" (wsclose exited
    non-zero: unreadable, not a capture, cut short; its stderr goes to OUT/NAME.err, and
    what it reported before the damage to OUT/NAME.jsonl.partial).
    """
    base = _join(out_prefix, out_name(src))
    if not force and _exists(base + ".jsonl"):
        return {"path": src, "status": "skipped"}

    cmd = [wsclose, "analyze", "--format", "jsonl", *extra_args, "-"]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=out, stderr=err)
        feed_error: list[BaseException] = []

        def feed() -> None:
            try:
                with _open(src, "rb") as capture:
                    shutil.copyfileobj(capture, proc.stdin, 1 << 20)
            except BrokenPipeError:
                pass  # wsclose stopped reading (a fatal error); its exit code says why
            except BaseException as e:  # noqa: BLE001 (reported below)
                feed_error.append(e)
            finally:
                try:
                    proc.stdin.close()
                except BrokenPipeError:
                    pass

        feeder = threading.Thread(target=feed)
        feeder.start()
        rc = proc.wait()
        feeder.join()

        out.seek(0)
        records = []
        for line in out:
            record = json.loads(line)
            if record.get("file") == "-":
                record["file"] = src
            # A file record's summary names an example connection's file per cause.
            for cause in (record.get("incident") or {}).get("causes", []):
                if cause.get("example_file") == "-":
                    cause["example_file"] = src
            records.append(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
        body = "".join(r + "\n" for r in records).encode()
        err.seek(0)
        stderr = err.read().decode(errors="replace").replace("wsclose: -:", f"wsclose: {src}:")

    if feed_error:
        stderr += f"reading {src}: {feed_error[0]}\n"
        rc = rc or 2
    if rc == 0:
        # Written whole and then renamed (local), or uploaded in one put (object stores
        # show an object only once its upload is complete): no half-written JSONL.
        if _is_url(base):
            with _open(base + ".jsonl", "wb") as f:
                f.write(body)
        else:
            tmp = f"{base}.jsonl.tmp.{os.getpid()}"
            with open(tmp, "wb") as f:
                f.write(body)
            os.replace(tmp, base + ".jsonl")
        return {"path": src, "status": "done"}
    with _open(base + ".jsonl.partial", "wb") as f:
        f.write(body)
    with _open(base + ".err", "wb") as f:
        f.write(f"{stderr}exit code {rc}\n".encode())
    return {"path": src, "status": "failed", "error": stderr.strip().splitlines()[-1:]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="+", help="captures, folders or object-store prefixes")
    ap.add_argument("--out", required=True, help="output folder or prefix (s3://...)")
    ap.add_argument("--wsclose", default="wsclose", help="wsclose binary on the workers")
    ap.add_argument(
        "--wsclose-arg", action="append", default=[], help="argument for every wsclose run (repeatable)"
    )
    ap.add_argument("--force", action="store_true", help="redo captures already done")
    ap.add_argument("--scheduler", help="Dask scheduler address (default: a local cluster)")
    ap.add_argument(
        "--local",
        action="store_true",
        help="no Dask: a process pool on this machine (local paths need no fsspec either)",
    )
    ap.add_argument("--jobs", type=int, default=os.cpu_count(), help="processes for --local")
    args = ap.parse_args(argv)

    if not _is_url(args.out):
        os.makedirs(args.out, exist_ok=True)
    captures = list_captures(args.paths)
    if not captures:
        print("cluster.py: no capture found", file=sys.stderr)
        return 1
    job = dict(
        out_prefix=args.out,
        wsclose=args.wsclose,
        extra_args=tuple(args.wsclose_arg),
        force=args.force,
    )

    if args.local:
        with concurrent.futures.ProcessPoolExecutor(max_workers=args.jobs) as pool:
            futures = [pool.submit(analyze_one, c, **job) for c in captures]
            results = [f.result() for f in futures]
    else:
        import dask.bag as db  # noqa: PLC0415 (only the cluster path needs Dask)
        from dask.distributed import Client  # noqa: PLC0415

        client = Client(args.scheduler) if args.scheduler else Client()
        try:
            # One capture per partition: captures differ in size by orders of magnitude,
            # so let the scheduler hand them out one at a time.
            bag = db.from_sequence(captures, npartitions=len(captures))
            results = bag.map(analyze_one, **job).compute()
        finally:
            client.close()

    failed = [r for r in results if r["status"] == "failed"]
    counts = {s: sum(r["status"] == s for r in results) for s in ("done", "skipped", "failed")}
    print(
        f"cluster.py: {len(results)} capture(s): {counts['done']} analysed, "
        f"{counts['skipped']} already done, {counts['failed']} failed; JSONL in {args.out}",
        file=sys.stderr,
    )
    with _open(_join(args.out, "failed.txt"), "wb") as f:
        f.write("".join(r["path"] + "\n" for r in failed).encode())
    for r in failed:
        print(f"  {r['path']}: {' '.join(r['error'])}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
