#!/usr/bin/env python3
"""tshark's view of every WebSocket frame in a capture, as a TSV to check wsclose against.

Usage: tshark_tsv.py CAPTURE OUT.tsv

The columns are tshark's own fields (`tshark -Y websocket -T fields -E header=y
-E separator=/t`), one row per packet that ends at least one WebSocket frame (tshark
reassembles TCP, so the row is the packet that carries the frame's last byte). When a packet
ends several frames, each column lists its values for them in order, comma-separated, and
only for the frames that have the field (a Close code only for Close frames; the 16- and
64-bit extended lengths only where the 7-bit length says 126 or 127).

The last column, `decompressed_length`, is not a tshark field: tshark 4.0 inflates
permessage-deflate payloads (preference websocket.decompress, on by default; context
takeover and window bits as negotiated) into a "Decompressed payload" data source but has
no field for its length, so it is the byte length of the inflated text tshark prints as
websocket.payload.text, one value per compressed frame (websocket.pmc = 1) in order, like
the other columns ("?" where tshark shows no inflated text: a compressed binary frame, or
one it could not inflate; none in these samples). (Its PDML shows the size too, but takes
minutes on the deflate bomb's 200 MiB.)
"""
import subprocess
import sys

FIELDS = [
    "frame.number", "frame.time_epoch", "tcp.srcport", "tcp.dstport", "websocket.fin",
    "websocket.rsv", "websocket.opcode", "websocket.payload_length",
    "websocket.payload_length_ext_16", "websocket.payload_length_ext_64",
    "websocket.payload.close.status_code", "websocket.pmc",
]
PREFS = ["-o", "websocket.decompress:TRUE"]


def fields(capture):
    cmd = ["tshark", "-n", *PREFS, "-r", capture, "-Y", "websocket", "-T", "fields",
           "-E", "header=y", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def inflated_sizes(capture):
    """{frame number: [inflated size of each compressed frame the packet ends, in order]}.

    tshark prints the inflated text of a compressed text frame as websocket.payload.text,
    unescaped (its byte length is the inflated size); the text of every text frame of the
    packet is listed, so the opcodes and pmc flags say which entry is which frame's. A
    compressed frame of another type, or one tshark could not inflate, gets "?"."""
    sep = "\x1e"  # a separator no payload here holds (the texts hold commas)
    cmd = ["tshark", "-n", *PREFS, "-r", capture, "-Y", "websocket.pmc == 1", "-T", "fields",
           "-E", "separator=/t", "-E", "occurrence=a", "-E", f"aggregator={sep}",
           "-e", "frame.number", "-e", "websocket.opcode", "-e", "websocket.pmc",
           "-e", "websocket.payload.text"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    sizes = {}
    for line in proc.stdout:
        number, opcodes, pmcs, texts = line.rstrip(b"\n").split(b"\t", 3)
        opcodes, pmcs = opcodes.split(sep.encode()), pmcs.split(sep.encode())
        texts = texts.split(sep.encode()) if opcodes.count(b"1") else []
        if len(texts) != opcodes.count(b"1"):
            texts = [None] * opcodes.count(b"1")  # some text missing: not inflated
        frame_sizes = []
        for opcode, pmc in zip(opcodes, pmcs):
            text = texts.pop(0) if opcode == b"1" else None
            if pmc == b"1":
                frame_sizes.append(str(len(text)) if text is not None else "?")
        sizes[int(number)] = frame_sizes
    if proc.wait():
        raise SystemExit(f"tshark failed on {capture}")
    return sizes


def main(capture, out):
    rows = fields(capture)
    sizes = inflated_sizes(capture)
    with open(out, "w") as f:
        f.write("\t".join(rows[0] + ["decompressed_length"]) + "\n")
        for row in rows[1:]:
            f.write("\t".join(row + [",".join(sizes.get(int(row[0]), []))]) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
