#!/usr/bin/env python3
"""Rewrites real loopback captures into the other shapes wsclose must read: other link
types, byte order, pcapng with several interfaces, reordered or missing packets, snap
length cuts, a cut-off file. The packets' contents stay those the real libraries sent.

Usage: pcaptools.py OP IN OUT [ARGS]
"""
import struct
import sys


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        e = "<"
    else:
        e = ">"
    nano = struct.unpack(e + "I", data[:4])[0] == 0xA1B23C4D
    _, vmaj, vmin, zone, sig, snap, link = struct.unpack(e + "IHHiIII", data[:24])
    pkts, off = [], 24
    while off + 16 <= len(data):
        sec, frac, cap, orig = struct.unpack(e + "IIII", data[off:off + 16])
        pkts.append([sec, frac, orig, data[off + 16:off + 16 + cap]])
        off += 16 + cap
    return {"link": link, "snap": snap, "nano": nano}, pkts


def write_pcap(path, hdr, pkts, endian="<"):
    magic = 0xA1B23C4D if hdr["nano"] else 0xA1B2C3D4
    with open(path, "wb") as f:
        f.write(struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, hdr["snap"], hdr["link"]))
        for sec, frac, orig, data in pkts:
            f.write(struct.pack(endian + "IIII", sec, frac, len(data), orig))
            f.write(data)


def pad4(b):
    return b + b"\0" * (-len(b) % 4)


def write_pcapng(path, ifaces, pkts):
    """ifaces: [(linktype, tsresol)], pkts: [(iface, ts_units, orig, data)]"""
    def block(btype, body):
        n = 12 + len(body)
        return struct.pack("<II", btype, n) + body + struct.pack("<I", n)
    out = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    for link, resol in ifaces:
        opt = struct.pack("<HH", 9, 1) + pad4(bytes([resol])) + struct.pack("<HH", 0, 0)
        out += block(1, struct.pack("<HHI", link, 0, 262144) + opt)
    for iface, ts, orig, data in pkts:
        body = struct.pack("<IIIII", iface, ts >> 32, ts & 0xFFFFFFFF, len(data), orig) + pad4(data)
        out += block(6, body)
    with open(path, "wb") as f:
        f.write(out)


def units(hdr, sec, frac):
    return sec * 1_000_000_000 + (frac if hdr["nano"] else frac * 1000)


def main():
    op, src, dst = sys.argv[1], sys.argv[2], sys.argv[3]
    hdr, pkts = read_pcap(src)
    if op == "big-endian":
        write_pcap(dst, hdr, pkts, ">")
    elif op in ("raw-ip", "null"):
        assert hdr["link"] == 1
        out = []
        for sec, frac, orig, data in pkts:
            ethertype = struct.unpack("!H", data[12:14])[0]
            ip = data[14:]
            if op == "null":
                fam = 2 if ethertype == 0x0800 else 30
                out.append([sec, frac, orig - 10, struct.pack("<I", fam) + ip])
            else:
                out.append([sec, frac, orig - 14, ip])
        write_pcap(dst, dict(hdr, link=101 if op == "raw-ip" else 0), out)
    elif op == "qinq":
        out = [[s, f, o + 8, d[:12] + b"\x88\xa8\x00\x64\x81\x00\x00\xc8" + d[12:]] for s, f, o, d in pkts]
        write_pcap(dst, hdr, out)
    elif op == "reorder":
        # Swap each pair of consecutive data-carrying packets after the handshake and
        # send every third one twice, as a lossy path with retransmissions would.
        out, i = [], 0
        while i < len(pkts):
            if i >= 6 and i + 1 < len(pkts) and len(pkts[i][3]) > 70 and len(pkts[i + 1][3]) > 70:
                out += [pkts[i + 1], pkts[i]]
                if i % 3 == 0:
                    out.append(pkts[i])
                i += 2
            else:
                out.append(pkts[i])
                i += 1
        write_pcap(dst, hdr, out)
    elif op == "drop-head":
        n = int(sys.argv[4])
        write_pcap(dst, hdr, pkts[n:])
    elif op == "snaplen":
        n = int(sys.argv[4])
        write_pcap(dst, dict(hdr, snap=n), [[s, f, o, d[:n]] for s, f, o, d in pkts])
    elif op == "truncate":
        with open(src, "rb") as f:
            data = f.read()
        with open(dst, "wb") as f:
            f.write(data[:len(data) - int(sys.argv[4])])
    elif op == "merge-ng":
        # Two captures, two interfaces with different link types, one pcapng file
        # (nanosecond resolution on the second interface).
        hdr2, pkts2 = read_pcap(sys.argv[4])
        merged = [(units(hdr, s, f), 0, o, d) for s, f, o, d in pkts]
        merged += [(units(hdr2, s, f), 1, o, d) for s, f, o, d in pkts2]
        merged.sort(key=lambda p: p[0])
        out = [(i, ts // 1000 if i == 0 else ts, o, d) for ts, i, o, d in merged]
        write_pcapng(dst, [(hdr["link"], 6), (hdr2["link"], 9)], out)
    else:
        sys.exit(f"unknown op {op}")


if __name__ == "__main__":
    main()
