#!/usr/bin/env bash
# Records the evidence samples (evidence-*.pcap): closes whose cause shows in what the peers
# did just before them (a burst, a connection's age, a compressed message's size, invalid
# UTF-8, a binary message, unanswered pings, a deploy, a deflate bomb). The scenarios and
# their numbers are in scenarios.py (python-websockets peers and raw clients) and peers.js
# (Node ws peers); each scenario's docstring gives its parameters.
# Beside each capture, tshark/evidence-NAME.tsv is tshark's view of every WebSocket frame
# (tshark_tsv.py), to check wsclose's numbers against.
# Needs root (tcpdump), python3 with websockets 17, node 20 with `ws` (npm ci in gen/node),
# tshark.
# Usage: gen/evidence/record.sh [NAME...]   (run from samples/, writes there; NAME as
# 1008-rate, all eight by default)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
[[ -d $HERE/../node/node_modules ]] || (cd "$HERE/../node" && npm ci --no-audit --no-fund >/dev/null)
mkdir -p tshark
PORT=$((26000 + RANDOM % 2000))

# capture NAME: runs scenario NAME on $PORT (and $PORT + 1) and records it as
# evidence-NAME.pcap, then writes tshark/evidence-NAME.tsv.
capture() {
  local name=$1
  PORT=$((PORT + 2))
  tcpdump -i lo -U -w "evidence-$name.pcap" "tcp port $PORT or tcp port $((PORT + 1))" 2>/dev/null &
  local dump=$!
  sleep 1
  timeout 30 python3 "$HERE/scenarios.py" "$name" "$PORT" || echo "evidence $name failed"
  sleep 1
  kill -INT "$dump"; wait "$dump" || true
  python3 "$HERE/tshark_tsv.py" "evidence-$name.pcap" "tshark/evidence-$name.tsv"
  echo "recorded evidence-$name.pcap"
}

ALL="1008-rate 1008-lifetime 1009-deflate 1007-utf8 1003-binary 1011-keepalive 1001-deploy deflate-bomb"
for s in ${*:-$ALL}; do
  capture "$s"
done
