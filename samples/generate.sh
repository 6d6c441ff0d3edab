#!/usr/bin/env bash
# Regenerates samples/: real python-websockets conversations (and raw peers) on loopback,
# recorded with tcpdump, then rewritten into the other capture shapes wsclose reads.
# Needs root (tcpdump), python3 with `websockets` (pip install websockets==17.*), gzip.
# The wss:// samples also need openssl and a JDK (java, keytool): see gen/tls_scenarios.py.
# Takes about 2 minutes (one scenario waits out a 60 s idle period).
# ONLY=tls regenerates just the wss:// samples.
set -euo pipefail
cd "$(dirname "$0")"
GEN=gen/scenarios.py
TOOLS=gen/pcaptools.py
PORT=$((18700 + RANDOM % 500))

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

record_tls() { # record_tls NAME: a wss:// scenario, with its TLS key log beside it
  local name=$1
  PORT=$((PORT + 1))
  tcpdump -i lo -U -w "$name.pcap" "tcp port $PORT" 2>/dev/null &
  local pid=$!
  sleep 1
  rm -f "$name.keys"
  timeout 120 python3 gen/tls_scenarios.py "$name" "$PORT" "$PKI" "$PWD/$name.keys" 2>/dev/null || true
  sleep 1
  kill -INT "$pid"; wait "$pid" || true
  [[ -s $name.keys ]] || rm -f "$name.keys"
  echo "recorded $name.pcap"
}

PKI=$(mktemp -d)
trap 'rm -rf "$PKI"' EXIT
gen/pki.sh "$PKI" >/dev/null
keytool -importcert -noprompt -alias wsclose-ca -file "$PKI/ca.crt" -keystore "$PKI/trust.p12" \
  -storetype PKCS12 -storepass changeit >/dev/null 2>&1
for s in wss-good wss-expired-tls12 wss-expired-tls12-noalert wss-untrusted-ca wss-version-mismatch \
         wss-expired-tls13 wss-expired-tls13-openssl wss-to-ws-port ws-to-wss-port wss-no-answer; do
  record_tls "$s"
done
[[ ${ONLY:-} == tls ]] && exit 0

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
