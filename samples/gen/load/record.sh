#!/usr/bin/env bash
# Records OUT_DIR/wss-load.pcap: many real wss:// sessions (Node `ws`, TLS 1.2 and 1.3) on
# loopback, with every TLS secret in OUT_DIR/wss-load.keys (NSS key log) and one line per
# session in OUT_DIR/wss-load.sessions.tsv. It is the large input for wsclose's performance
# work and is not committed; see README.md here.
#
# usage: sudo record.sh OUT_DIR [SESSIONS]          (default 3500 sessions, about 300 MB)
# env:   CONCURRENCY (50), PORT (9443), SEED (1), DURATION_MS (3000, mean session length)
# Needs root (tcpdump, and lo's MTU is set to 1500 while recording), node >= 18, npm, openssl,
# tcpdump; capinfos (from tshark/wireshark-common) is used for the summary when present.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[[ $# -ge 1 ]] || { echo "usage: $0 OUT_DIR [SESSIONS]" >&2; exit 2; }
mkdir -p "$1"
out=$(cd "$1" && pwd)
sessions=${2:-3500}
concurrency=${CONCURRENCY:-50}
port=${PORT:-9443}
seed=${SEED:-1}
duration=${DURATION_MS:-3000}
[[ $(id -u) -eq 0 ]] || { echo "$0: needs root (tcpdump, ip link set lo mtu)" >&2; exit 2; }
for tool in node npm openssl tcpdump ip; do
  command -v "$tool" >/dev/null || { echo "$0: $tool not found" >&2; exit 2; }
done

(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)

pki=$(mktemp -d)
old_mtu=$(cat /sys/class/net/lo/mtu)
tcpdump_pid=
cleanup() {
  [[ -n $tcpdump_pid ]] && kill -INT "$tcpdump_pid" 2>/dev/null && wait "$tcpdump_pid" || true
  ip link set lo mtu "$old_mtu"
  rm -rf "$pki"
}
trap cleanup EXIT
"$here/../pki.sh" "$pki" >/dev/null

pcap=$out/wss-load.pcap
rm -f "$pcap" "$out/wss-load.keys" "$out/wss-load.sessions.tsv"
# Loopback's usual 64 KiB MTU would let TCP send huge segments; 1500 makes it look like Ethernet.
ip link set lo mtu 1500
# -B: a 64 MiB kernel buffer (in KiB), so that nothing is dropped while the machine is busy.
# -Z root: keep writing as root, wherever OUT_DIR is.
tcpdump -i lo -s 0 -B 65536 -Z root -w "$pcap" "tcp port $port" 2>"$out/tcpdump.log" &
tcpdump_pid=$!
for _ in $(seq 50); do grep -q 'listening on' "$out/tcpdump.log" 2>/dev/null && break; sleep 0.1; done
sleep 0.5

node "$here/wss_load.js" --sessions "$sessions" --concurrency "$concurrency" --port "$port" \
  --seed "$seed" --duration-ms "$duration" --keylog "$out/wss-load.keys" \
  --cert "$pki/server.crt" --key "$pki/server.key" --ca "$pki/ca.crt" \
  --manifest "$out/wss-load.sessions.tsv"

sleep 1
kill -INT "$tcpdump_pid"
wait "$tcpdump_pid" || true
tcpdump_pid=
ip link set lo mtu "$old_mtu"
grep -E 'captured|dropped' "$out/tcpdump.log" | sed 's/^/tcpdump: /'
rm -f "$out/tcpdump.log"

echo "capture: $pcap ($(du -h "$pcap" | cut -f1), $(stat -c %s "$pcap") bytes)"
if command -v capinfos >/dev/null; then
  capinfos -M -c -d -u "$pcap" | sed -n '2,$p'
else
  echo "packets: $(tcpdump -r "$pcap" -nn 2>/dev/null | wc -l)"
fi
# A session is one connection: count the client's SYNs (SYN without ACK).
echo "sessions (SYN): $(tcpdump -r "$pcap" -nn 'tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn' 2>/dev/null | wc -l)"
echo "key log: $out/wss-load.keys ($(wc -l < "$out/wss-load.keys") lines)"
echo "sessions: $out/wss-load.sessions.tsv"
