#!/usr/bin/env bash
# Regenerates samples/: real python-websockets conversations (and raw peers) on loopback,
# recorded with tcpdump, then rewritten into the other capture shapes wsclose reads.
# Needs root (tcpdump), python3 with `websockets` (pip install websockets==17.*), gzip.
# Takes about 90 s (one scenario waits out a 60 s idle period).
set -euo pipefail
cd "$(dirname "$0")"
GEN=gen/scenarios.py
TOOLS=gen/pcaptools.py
PORT=18700

record() { # record NAME IFACE TCPDUMP_ARGS... -- SCENARIO HOST
  local name=$1 iface=$2; shift 2
  local args=()
  while [[ $1 != -- ]]; do args+=("$1"); shift; done
  shift
  local scenario=$1 host=$2
  PORT=$((PORT + 1))
  tcpdump -i "$iface" -U -w "$name" "${args[@]}" "tcp port $PORT" 2>/dev/null &
  local pid=$!
  sleep 1
  timeout 120 python3 "$GEN" "$scenario" "$host" "$PORT"
  sleep 1
  kill -INT "$pid"; wait "$pid" || true
  echo "recorded $name"
}

for s in normal private policy going-away empty-close drop-rst fragmented-large deflate refused \
         wire-1015 wire-1006 wire-1005 one-byte-close bad-utf8-reason oversized-close unmasked-client; do
  record "$s.pcap" lo -- "$s" 127.0.0.1
done
record drop-idle.pcap lo -- drop-idle 127.0.0.1
record ipv6.pcap lo -- private ::1
record nanosecond.pcap lo --time-stamp-precision=nano -- normal 127.0.0.1
record linux-sll.pcap any -y LINUX_SLL -- going-away 127.0.0.1
record linux-sll2.pcap any -y LINUX_SLL2 -- policy 127.0.0.1

python3 $TOOLS big-endian normal.pcap big-endian.pcap
python3 $TOOLS raw-ip empty-close.pcap raw-ip.pcap
python3 $TOOLS null policy.pcap bsd-null.pcap
python3 $TOOLS qinq going-away.pcap vlan-qinq.pcap
python3 $TOOLS reorder fragmented-large.pcap reordered.pcap
python3 $TOOLS drop-head policy.pcap mid-stream.pcap 6
python3 $TOOLS snaplen fragmented-large.pcap snaplen-200.pcap 200
python3 $TOOLS truncate normal.pcap truncated.pcap 7
python3 $TOOLS merge-ng normal.pcap multi-interface.pcapng linux-sll2.pcap
gzip -9 -n -c deflate.pcap > deflate.pcap.gz
ls -l *.pcap *.pcapng *.gz
