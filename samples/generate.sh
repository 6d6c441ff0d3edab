#!/usr/bin/env bash
# Regenerates samples/: real python-websockets conversations (and raw peers) on loopback,
# recorded with tcpdump, then rewritten into the other capture shapes wsclose reads.
# Needs root (tcpdump), python3 with `websockets` (pip install websockets==17.*), gzip.
# The wss:// samples also need openssl and a JDK (java, keytool): see gen/tls_scenarios.py;
# the decryption samples add node + npm (the `ws` library, installed here by `npm ci` in
# gen/node from its package-lock.json), chromium, firefox-esr with certutil (libnss3-tools),
# and editcap (tshark / wireshark-common) for the pcapng with an embedded key log.
# Takes about 3 minutes (one scenario waits out a 60 s idle period).
# ONLY=tls regenerates just the wss:// samples; ONLY=decrypt just the decryption ones
# (wss-tls12-gcm ... wss-other-session.keys), leaving the older wss:// samples as they are.
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
  CLIENT_TRUTH=${TRUTH:-} timeout 120 python3 "$GEN" "$scenario" "$host" "$PORT"
  sleep 1
  kill -INT "$pid"; wait "$pid" || true
  echo "recorded $name"
}

record_tls() { # record_tls NAME [RUNNER...]: a wss:// scenario, with its TLS key log beside it
  local name=$1; shift
  local runner=("$@")
  [[ ${#runner[@]} -gt 0 ]] || runner=(python3 gen/tls_scenarios.py)
  PORT=$((PORT + 1))
  tcpdump -i lo -U -w "$name.pcap" "tcp port $PORT" 2>/dev/null &
  local pid=$!
  sleep 1
  rm -f "$name.keys"
  timeout 120 "${runner[@]}" "$name" "$PORT" "$PKI" "$PWD/$name.keys" 2>/dev/null || true
  sleep 1
  kill -INT "$pid"; wait "$pid" || true
  if [[ -s $name.keys ]]; then chmod 644 "$name.keys"; else rm -f "$name.keys"; fi
  echo "recorded $name.pcap"
}

PKI=$(mktemp -d)
trap 'rm -rf "$PKI"' EXIT
gen/pki.sh "$PKI" >/dev/null
keytool -importcert -noprompt -alias wsclose-ca -file "$PKI/ca.crt" -keystore "$PKI/trust.p12" \
  -storetype PKCS12 -storepass changeit >/dev/null 2>&1
[[ -n ${ONLY:-} && ${ONLY:-} != clients ]] || gen/clients/browsers.sh "$PKI" # client-{chromium,firefox}-*
if [[ ${ONLY:-} != decrypt ]]; then
  for s in wss-good wss-expired-tls12 wss-expired-tls12-noalert wss-untrusted-ca wss-version-mismatch \
           wss-expired-tls13 wss-expired-tls13-openssl wss-to-ws-port ws-to-wss-port wss-no-answer; do
    record_tls "$s"
  done
fi

# Decryption samples: real libraries (Node ws, python-websockets, OpenSSL s_client, browsers)
# with the client's key log beside each capture.
[[ -d gen/node/node_modules ]] || (cd gen/node && npm ci --no-audit --no-fund >/dev/null)
for s in wss-tls12-gcm wss-tls13-chacha-1008 wss-tls12-chacha wss-tls12-cbc wss-tls12-cbc-sha384 \
         wss-tls12-cbc-mte wss-hrr; do
  record_tls "$s" node gen/wss_node.js
done
for s in wss-wire-1015 wss-drop wss-mtls-rejected wss-keyupdate wss-browser wss-firefox; do
  record_tls "$s"
done
# The same 1008 session with its key log inside the file (pcapng Decryption Secrets Block).
editcap --inject-secrets tls,wss-tls13-chacha-1008.keys wss-tls13-chacha-1008.pcap wss-embedded.pcapng
# A key log whose sessions are in no sample: one TLS 1.3 and one TLS 1.2 session, not recorded.
rm -f wss-other-session.keys
python3 gen/tls_scenarios.py wss-other-session $((PORT + 1)) "$PKI" "$PWD/wss-other-session.keys" 2>/dev/null
node gen/wss_node.js wss-tls12-gcm $((PORT + 2)) "$PKI" "$PWD/wss-other-session.keys" 2>/dev/null
PORT=$((PORT + 2))
[[ ${ONLY:-} == tls || ${ONLY:-} == decrypt ]] && exit 0
gen/clients/libs.sh "$PKI"  # client libraries (Node, JDK, rustls, python, Go, curl); see its header

for s in normal private policy going-away empty-close drop-rst fragmented-large deflate refused \
         one-byte-close bad-utf8-reason oversized-close unmasked-client; do
  record "$s.pcap" lo -- "$s" 127.0.0.1
done
# What the client reported, beside the captures of illegal codes on the wire.
for s in wire-1015 wire-1006 wire-1005; do
  TRUTH=$s.client.json record "$s.pcap" lo -- "$s" 127.0.0.1
done
record drop-idle.pcap lo -- drop-idle 127.0.0.1
record ipv6.pcap lo -- private ::1
record nanosecond.pcap lo --time-stamp-precision=nano -- normal 127.0.0.1
record linux-sll.pcap any -y LINUX_SLL -- going-away 127.0.0.1
record linux-sll2.pcap any -y LINUX_SLL2 -- policy 127.0.0.1
for p in nginx haproxy; do for s in idle kill; do timeout 60 python3 gen/proxy/proxy_scenarios.py "$p" "$s" "proxy-$p-$s"; done; done # needs nginx, haproxy

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
gen/nonws/record.sh  # not WebSocket (ssh, h2c, redis, dns, modbus) + mid-stream-deflate.pcap
gen/evidence/record.sh  # evidence-*.pcap: the run-up to 1008/1009/1007/1003/1011/1001 (+ tshark/*.tsv)
gen/incident/record.sh  # incident.pcap: ~290 connections to 4 servers over ~75 s (+ .keys, .truth.jsonl)
ls -l *.pcap *.pcapng *.gz
