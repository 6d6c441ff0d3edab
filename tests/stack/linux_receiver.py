"""What a Linux TCP stack delivers to its application in the edge cases of
tests/tcp_stories.rs: a client made of hand-built packets on a TUN device (10.9.0.2) talks
to sockets of the kernel (10.9.0.1), and each case prints what the application read and how
the kernel answered. Needs root and /dev/net/tun; run: python3 tests/stack/linux_receiver.py.
The output of one run is in linux-receiver.txt beside this file."""

import fcntl, os, random, socket, struct, subprocess, threading, time, select, sys

TUNSETIFF = 0x400454ca
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000
SRV, CLI = "10.9.0.1", "10.9.0.2"

def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b)//2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff

def pkt(sport, dport, seq, ack, flags, payload=b"", win=65535, opts=b""):
    off = (20 + len(opts)) // 4
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xffffffff, ack & 0xffffffff, off << 4, flags, win, 0, 0) + opts + payload
    src, dst = socket.inet_aton(CLI), socket.inet_aton(SRV)
    ph = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    c = csum(ph + tcp)
    tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return ip + tcp

FIN, SYN, RST, PSH, ACK = 1, 2, 4, 8, 16

class Tun:
    def __init__(self):
        self.fd = os.open("/dev/net/tun", os.O_RDWR)
        fcntl.ioctl(self.fd, TUNSETIFF, struct.pack("16sH", b"wst0", IFF_TUN | IFF_NO_PI))
        subprocess.run("ip addr add 10.9.0.1/24 dev wst0; ip link set wst0 up", shell=True, check=True)
    def send(self, p): os.write(self.fd, p)
    def recv_all(self, t=0.3):
        out = []
        end = time.time() + t
        while True:
            r, _, _ = select.select([self.fd], [], [], max(0, end - time.time()))
            if not r: return out
            d = os.read(self.fd, 65535)
            if len(d) >= 40 and d[9] == 6:
                sport, dport, seq, ack, off, fl, win = struct.unpack("!HHIIBBH", d[20:36])
                out.append((fl, seq, ack, d[20 + (off >> 4) * 4:]))

def server(port, results, key):
    ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((SRV, port)); ls.listen(4); ls.settimeout(5)
    def run():
        try:
            c, _ = ls.accept()
        except Exception as e:
            results[key] = ("no accept", repr(e)); return
        c.settimeout(3); got = b""; err = None
        while True:
            try:
                d = c.recv(65536)
            except Exception as e:
                err = repr(e); break
            if not d: err = "EOF"; break
            got += d
        results[key] = (got, err)
    th = threading.Thread(target=run); th.start(); return th

def connect(tun, sport, dport, isn):
    tun.send(pkt(sport, dport, isn, 0, SYN))
    for fl, seq, ack, _ in tun.recv_all():
        if fl & SYN and fl & ACK:
            tun.send(pkt(sport, dport, isn + 1, seq + 1, ACK)); return seq + 1
    raise SystemExit("no SYN-ACK")

def flags_s(fl):
    return "".join(n for b, n in [(SYN,"S"),(ACK,"A"),(FIN,"F"),(RST,"R"),(PSH,"P")] if fl & b)

# Fresh client ports on every run: a four-tuple just used lingers in the kernel.
BASE = random.randrange(20000, 60000, 10)
tun = Tun(); time.sleep(0.3); R = {}

# 1. Data after the sender's own RST.
th = server(8081, R, "rst"); time.sleep(0.1)
s = connect(tun, BASE + 1, 8081, 1000); c = 1001
tun.send(pkt(BASE + 1, 8081, c, s, PSH | ACK, b"before")); c += 6
tun.send(pkt(BASE + 1, 8081, c, s, RST | ACK)); time.sleep(0.05)
tun.send(pkt(BASE + 1, 8081, c, s, PSH | ACK, b"after-rst"))
replies = tun.recv_all(); th.join()
print("1 RST then data: app got", R["rst"], "; replies to the data after RST:", [(flags_s(f), a) for f, _, a, _ in replies])

# 2. A segment 10 MB beyond the window, then in-order data and FIN.
th = server(8082, R, "far"); time.sleep(0.1)
s = connect(tun, BASE + 2, 8082, 5000); c = 5001
tun.send(pkt(BASE + 2, 8082, c + 10_000_000, s, PSH | ACK, b"FAR"))
far_replies = tun.recv_all()
tun.send(pkt(BASE + 2, 8082, c, s, PSH | ACK, b"hello")); c += 5
tun.send(pkt(BASE + 2, 8082, c, s, FIN | ACK)); tun.recv_all(); th.join()
print("2 far segment: app got", R["far"], "; reply to the far segment:", [(flags_s(f), a - 5001) for f, _, a, _ in far_replies])

# 3. Two SYNs with different ISNs before the SYN-ACK.
th = server(8083, R, "dup"); time.sleep(0.1)
tun.send(pkt(BASE + 3, 8083, 100, 0, SYN)); r1 = tun.recv_all()
tun.send(pkt(BASE + 3, 8083, 7_000_000, 0, SYN)); r2 = tun.recv_all()
print("3 two SYNs: answer to SYN 1:", [(flags_s(f), a) for f, _, a, _ in r1], "answer to SYN 2:", [(flags_s(f), a) for f, _, a, _ in r2])
sa = [x for x in r1 if x[0] & SYN][0]; s = sa[1] + 1
tun.send(pkt(BASE + 3, 8083, 101, s, ACK)); tun.send(pkt(BASE + 3, 8083, 101, s, PSH | ACK, b"GET via ISN 100"))
tun.send(pkt(BASE + 3, 8083, 116, s, FIN | ACK)); tun.recv_all(); th.join()
print("3 app got", R["dup"])

# 4. Conflicting overlaps with out-of-order data: hole 0..5; [10,20) 'k'; [5,15) 'f'*5+'X'*5; [0,12) 'a'*5+'Y'*7.
th = server(8084, R, "ovl"); time.sleep(0.1)
s = connect(tun, BASE + 4, 8084, 9000); c = 9001
for off, data in [(10, b"k" * 10), (5, b"fffffXXXXX"), (0, b"aaaaaYYYYYYY"), (20, b"uu")]:
    tun.send(pkt(BASE + 4, 8084, c + off, s, PSH | ACK, data)); time.sleep(0.02)
tun.send(pkt(BASE + 4, 8084, c + 22, s, FIN | ACK)); tun.recv_all(); th.join()
print("4 overlaps: app got", R["ovl"])

# 5. Same, where the later out-of-order copy starts at the same byte and is longer.
th = server(8085, R, "ovl2"); time.sleep(0.1)
s = connect(tun, BASE + 5, 8085, 9000); c = 9001
for off, data in [(5, b"kkkkk"), (5, b"XXXXXXXXXX"), (0, b"aaaaa"), (15, b"uu")]:
    tun.send(pkt(BASE + 5, 8085, c + off, s, PSH | ACK, data)); time.sleep(0.02)
tun.send(pkt(BASE + 5, 8085, c + 17, s, FIN | ACK)); tun.recv_all(); th.join()
print("5 same-start longer copy: app got", R["ovl2"])

# 2b. 60,000 bytes ahead (inside the 64 KiB window): buffered, then delivered once the hole is filled.
th = server(8086, R, "near"); time.sleep(0.1)
s = connect(tun, BASE + 6, 8086, 5000); c = 5001
tun.send(pkt(BASE + 6, 8086, c + 60000, s, PSH | ACK, b"NEAR")); near = tun.recv_all()
for off in range(0, 60000, 1000):
    tun.send(pkt(BASE + 6, 8086, c + off, s, PSH | ACK, b"h" * 1000)); tun.recv_all(0.02)
tun.send(pkt(BASE + 6, 8086, c + 60004, s, FIN | ACK)); tun.recv_all(); th.join()
got, err = R["near"]
print("2b 60,000 ahead: app got", len(got), "bytes ending", got[-6:], err)

# 2c. The same, 70,000 bytes ahead (beyond the window): dropped.
th = server(8088, R, "far2"); time.sleep(0.1)
s = connect(tun, BASE + 8, 8088, 5000); c = 5001
tun.send(pkt(BASE + 8, 8088, c + 70000, s, PSH | ACK, b"FAR!")); tun.recv_all()
for off in range(0, 70000, 1000):
    tun.send(pkt(BASE + 8, 8088, c + off, s, PSH | ACK, b"h" * 1000)); tun.recv_all(0.02)
tun.send(pkt(BASE + 8, 8088, c + 70000, s, FIN | ACK)); tun.recv_all(); th.join()
got, err = R["far2"]
print("2c 70,000 ahead: app got", len(got), "bytes ending", got[-6:], err)

# 6. A RST 100 bytes beyond the next byte expected (in the window, not exact), then data.
th = server(8087, R, "rst2"); time.sleep(0.1)
s = connect(tun, BASE + 7, 8087, 1000); c = 1001
tun.send(pkt(BASE + 7, 8087, c, s, PSH | ACK, b"one")); c += 3; tun.recv_all()
tun.send(pkt(BASE + 7, 8087, c + 100, s, RST | ACK)); r = tun.recv_all()
tun.send(pkt(BASE + 7, 8087, c, s, PSH | ACK, b"two")); c += 3
tun.send(pkt(BASE + 7, 8087, c, s, FIN | ACK)); tun.recv_all(); th.join()
print("6 RST not at rcv_nxt: replies", [(flags_s(f), a - 1001) for f, _, a, _ in r], "app got", R["rst2"])
