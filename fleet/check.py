"""The assertions of fleet/check.sh (run by it, with a Python that has duckdb).

    check.py WSCLOSE OUTDIR FAILED_EXPECTED_OUT INPUT...

Analyses each INPUT again with `wsclose analyze --format json` (with FILE.keys beside it
as --keylog, as run-local.sh -k does), and checks that the DuckDB tables and views that
fleet/load.sql builds from OUTDIR/*.jsonl say the same as wsclose's own JSON: Close frames
by code per hour and server, connections by outcome, abnormal drops and TLS failures per
server, the diagnosed causes; that run-local.sh listed exactly the files wsclose cannot
read; and that load.sql rejects drifted records. Prints one line per check and a closing
"fleet: N passed, N failed" line; exits 1 when any check failed.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile

import duckdb

HERE = os.path.dirname(os.path.abspath(__file__))
LOAD_SQL = open(os.path.join(HERE, "load.sql"), encoding="utf-8").read()

# Checks already passed by check.sh before it ran this file.
passed = int(os.environ.get("FLEET_SHELL_PASSED", "0"))
failed = 0


def check(name: str, ok: bool, detail: str = "") -> None:
    global passed, failed
    if ok:
        passed += 1
        print(f"ok    {name}")
    else:
        failed += 1
        print(f"FAIL  {name}")
        if detail:
            print("      " + detail.replace("\n", "\n      "))


def same(name: str, got, want) -> None:
    """Checks two dicts (or values) are equal; on failure shows what differs."""
    if got == want:
        check(name, True)
        return
    if isinstance(got, dict) and isinstance(want, dict):
        lines = []
        for k in sorted(set(got) | set(want), key=repr):
            if got.get(k) != want.get(k):
                lines.append(f"{k!r}: DuckDB {got.get(k)!r}, wsclose JSON {want.get(k)!r}")
        check(name, False, "\n".join(lines[:20]) + (f"\n... {len(lines)} in all" if len(lines) > 20 else ""))
    else:
        check(name, False, f"DuckDB {got!r}, wsclose JSON {want!r}")


def keylog_beside(path: str) -> str | None:
    stem = path[:-3] if path.endswith(".gz") else path
    keys = os.path.splitext(stem)[0] + ".keys"
    return keys if os.path.isfile(keys) else None


def ts_hour(ts: str) -> dt.datetime:
    """The hour of an RFC 3339 UTC time (micro- or nanoseconds) as DuckDB's date_trunc gives it."""
    return dt.datetime.strptime(ts[:13], "%Y-%m-%dT%H")


def load(con: duckdb.DuckDBPyConnection, jsonl_dir: str) -> None:
    con.execute("SET VARIABLE jsonl_dir = ?", [jsonl_dir])
    con.execute(LOAD_SQL)


def main() -> int:
    wsclose, outdir, failed_list, *inputs = sys.argv[1:]

    # What wsclose itself says, file by file.
    docs = []
    want_failed = set()
    for path in inputs:
        cmd = [wsclose, "analyze", "--format", "json"]
        if keys := keylog_beside(path):
            cmd += ["--keylog", keys]
        run = subprocess.run(cmd + ["--", path], capture_output=True)
        if run.returncode != 0:
            want_failed.add(path)
        else:
            docs.append(json.loads(run.stdout))
    files = [f for d in docs for f in d["files"]]
    conns = [(f["path"], c) for f in files for c in f["connections"]]

    got_failed = set(open(failed_list, encoding="utf-8").read().splitlines())
    same("run-local.sh lists exactly the files wsclose cannot read", got_failed, want_failed)
    check("the samples include files that fail and files that do not", bool(want_failed) and bool(files))

    con = duckdb.connect()
    load(con, outdir)

    unknown = con.execute("SELECT key, records FROM wsclose_unknown_fields").fetchall()
    check(
        "load.sql reads every field wsclose writes",
        not unknown,
        "fields not in load.sql's columns (add them there and to wsclose_unknown_fields' list): "
        + ", ".join(f"{k} ({n} records)" for k, n in unknown),
    )

    # Close frames per file, against the summary.
    got = dict(con.execute("SELECT file, count(*) FROM wsclose WHERE type = 'close_frame' GROUP BY file").fetchall())
    want = {f["path"]: f["summary"]["close_frames"] for f in files if f["summary"]["close_frames"]}
    same("Close frames per file = summary.close_frames", got, want)

    # Query 1: Close frames by code per hour and server, and those that started a handshake.
    rows = con.execute("SELECT hour, server, code, close_frames, started FROM closes_by_code_per_hour").fetchall()
    got = {(h, s, c): n for h, s, c, n, _ in rows}
    got_started = {(h, s, c): n for h, s, c, _, n in rows if n}
    want = collections.Counter()
    want_started = collections.Counter()
    for _path, c in conns:
        closes = c["closes"]
        check_listed = c.get("closes_not_listed", 0) == 0
        if not check_listed:
            check(f"connection {c['id']} lists all its closes", False)
        for i, cl in enumerate(sorted(closes, key=lambda x: x["frame"])):
            key = (ts_hour(cl["ts"]), c["server"], cl["code"])
            want[key] += 1
            if i == 0:
                want_started[key] += 1
    same("closes_by_code_per_hour: Close frames per (hour, server, code)", got, dict(want))
    same("closes_by_code_per_hour: closing handshakes started", got_started, dict(want_started))
    by_code = collections.Counter()
    for (_h, _s, code), n in want.items():
        by_code[code] += n
    got_code = dict(con.execute("SELECT code, sum(close_frames)::BIGINT FROM closes_by_code_per_hour GROUP BY code").fetchall())
    same("Close frames per code", got_code, dict(by_code))

    # Connections by outcome, against the summaries.
    got = dict(con.execute("SELECT outcome, count(*) FROM wsclose_connections GROUP BY outcome").fetchall())
    want = collections.Counter()
    for f in files:
        want.update(f["summary"]["outcomes"])
    same("connections per outcome = summary.outcomes", got, dict(want))

    # Query 3: abnormal drops per server.
    got = dict(con.execute("SELECT server, abnormal FROM abnormal_by_server").fetchall())
    want = collections.Counter(c["server"] for _p, c in conns if c["story"]["outcome"] == "abnormal")
    same("abnormal_by_server", got, dict(want))
    check("the samples have abnormal drops", sum(want.values()) > 0)

    # Query 4: TLS failures per server and kind, and in all against the summaries.
    got = dict(
        con.execute("SELECT server || ' ' || kind, sum(failures)::BIGINT FROM tls_failures_by_server GROUP BY ALL").fetchall()
    )
    want = collections.Counter(
        f"{c['server']} {c['tls']['failure']['kind']}" for _p, c in conns if (c.get("tls") or {}).get("failure")
    )
    same("tls_failures_by_server", got, dict(want))
    total = con.execute("SELECT coalesce(sum(failures), 0)::BIGINT FROM tls_failures_by_server").fetchall()[0][0]
    same("TLS failures in all = summary.tls_failures", total, sum(f["summary"]["tls_failures"] for f in files))
    check("the samples have TLS failures", total > 0)

    # Query 2: the diagnosed causes, and every connection that has a cause is counted once.
    names = {cl["diagnosis"]["cause"] for _p, c in conns for cl in c["closes"] if cl.get("diagnosis")}
    got = {
        cause: n
        for cause, n in con.execute("SELECT cause, connections FROM top_causes").fetchall()
        if cause in names
    }
    want = collections.Counter()
    for _p, c in conns:
        diag = [cl["diagnosis"]["cause"] for cl in c["closes"] if cl.get("diagnosis")]
        if diag:
            want[diag[0]] += 1
    same("top_causes: connections per diagnosed cause", got, dict(want))
    got = con.execute("SELECT sum(connections)::BIGINT FROM top_causes").fetchall()[0][0]
    want_n = sum(1 for _p, c in conns if c["closes"] or c["story"].get("likely_cause"))
    same("top_causes covers every connection with a Close or a likely cause", got, want_n)

    # Drift: load.sql must refuse records it cannot read right.
    sample = con.execute(
        "SELECT file FROM wsclose WHERE type = 'close_frame' AND code IS NOT NULL LIMIT 1"
    ).fetchall()[0][0]
    src = [n for n in os.listdir(outdir) if n.endswith(".jsonl")]
    good_line = None
    for n in src:
        with open(os.path.join(outdir, n), encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                if r["file"] == sample and r["type"] == "close_frame":
                    good_line = r
                    break
        if good_line:
            break
    drifts = {
        "a code that is not a number": dict(good_line, code="normal"),
        "a record without server": {k: v for k, v in good_line.items() if k != "server"},
        "a record of an unknown type": dict(good_line, type="file_summary"),
        "a record with schema 3": dict(good_line, schema=3),
    }
    for what, record in drifts.items():
        d = tempfile.mkdtemp()
        try:
            with open(os.path.join(d, "x.jsonl"), "w", encoding="utf-8") as f:
                f.write(json.dumps(good_line) + "\n" + json.dumps(record) + "\n")
            try:
                load(duckdb.connect(), d)
                check(f"load.sql refuses {what}", False, "it loaded without an error")
            except duckdb.Error as e:
                check(f"load.sql refuses {what}", True)
                print(f"      ({str(e).splitlines()[0][:150]})")
        finally:
            shutil.rmtree(d)

    # The query results, as a reader of the README would see them.
    for view in ("top_causes", "abnormal_by_server", "tls_failures_by_server"):
        print(f"\n{view} (first rows):")
        con.sql(f"SELECT * FROM {view} LIMIT 5").show(max_width=160)

    print(f"\nfleet: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
