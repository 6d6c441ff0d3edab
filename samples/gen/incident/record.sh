#!/usr/bin/env bash
# Records the incident sample, incident.pcap: about 75 s and about 290 WebSocket connections
# to four servers on loopback (ws:// A, B, C and a wss:// server), clean traffic throughout
# and a burst of problems in the middle: a deploy (1001), rate limits (1008), clients that
# vanish without a Close (FIN or RST), keepalive timeouts (1011), rejected certificates
# (TLS alert unknown_ca) and illegal close codes (1005, 1006). The scenario and its numbers
# are in scenario.py (python-websockets peers and a raw client) and peers.js (Node ws peers).
# Beside the capture: incident.keys, the TLS clients' key log, and incident.truth.jsonl, one
# line per connection attempt with what its client (and its server) reported, written by
# scenario.py from the peers' own reports.
# Needs root (tcpdump), python3 with websockets 17, node 20 with `ws` (npm ci in gen/node),
# openssl (gen/pki.sh). Takes about 80 s.
# Usage: gen/incident/record.sh   (run from samples/, writes there)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
[[ -d $HERE/../node/node_modules ]] || (cd "$HERE/../node" && npm ci --no-audit --no-fund >/dev/null)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$HERE/../pki.sh" "$WORK/pki" >/dev/null
PORT=$((30000 + RANDOM % 2000))
# A = PORT, B = PORT + 1, C = PORT + 2, the TLS server = PORT + 3
tcpdump -i lo -U -w incident.pcap \
  "tcp port $PORT or tcp port $((PORT + 1)) or tcp port $((PORT + 2)) or tcp port $((PORT + 3))" 2>/dev/null &
dump=$!
sleep 1
rm -f incident.keys
if ! timeout 150 python3 "$HERE/scenario.py" "$PORT" "$WORK/pki" "$PWD/incident.keys" \
    incident.truth.jsonl > "$WORK/log"; then
  tail -20 "$WORK/log"
  echo "incident scenario failed"
fi
sleep 1
kill -INT "$dump"; wait "$dump" || true
chmod 644 incident.keys
tail -1 "$WORK/log"
echo "recorded incident.pcap"
