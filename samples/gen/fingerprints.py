#!/usr/bin/env python3
"""Prints the lines of src/client/fingerprints.tsv from the recorded samples: for every
samples/NAME.pcap with a NAME.client.json (written by the generator from the real client),
the JA4 of its ClientHello as wsclose computes it, the client's family, and what it was
recorded from. A JA4 seen from two families is reported on stderr and left out.

Usage: samples/gen/fingerprints.py [WSCLOSE] > src/client/fingerprints.tsv
(WSCLOSE defaults to target/release/wsclose; build it first with `cargo build --release`.)
"""
import glob
import json
import os
import subprocess
import sys

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
wsclose = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "target/release/wsclose")
seen = {}
for truth_path in sorted(glob.glob(os.path.join(root, "samples/*.client.json"))):
    stem = truth_path[: -len(".client.json")]
    pcap = stem + ".pcap"
    if not os.path.exists(pcap):
        continue
    truth = json.load(open(truth_path))
    out = subprocess.run([wsclose, "analyze", "--format", "json", pcap],
                         capture_output=True, text=True).stdout
    conns = json.loads(out)["files"][0]["connections"]
    want = truth.get("connection")
    conn = next((c for c in conns if want is None or c["id"] == want), None)
    ja4 = conn and (conn.get("tls") or {}).get("ja4")
    if not ja4:
        continue
    source = f"{truth['client']}, samples/{os.path.basename(pcap)}"
    if ja4 in seen and seen[ja4][0] != truth["family"]:
        print(f"{ja4}: {seen[ja4][0]} and {truth['family']}: left out", file=sys.stderr)
        seen[ja4] = (None, "")
        continue
    seen.setdefault(ja4, (truth["family"], source))

print("# JA4 fingerprints of ClientHellos recorded from real installs, made by")
print("# samples/gen/fingerprints.py from the samples with a .client.json.")
print("# JA4<TAB>family<TAB>recorded from. How to add one: README, \"Client fingerprints\".")
for ja4, (family, source) in sorted(seen.items(), key=lambda kv: (kv[1][0] or "", kv[0])):
    if family:
        print(f"{ja4}\t{family}\t{source}")
