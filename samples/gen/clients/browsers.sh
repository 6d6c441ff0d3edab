#!/usr/bin/env bash
# Records samples/client-{chromium,firefox}-SCENARIO.pcap: headless Chromium and Firefox
# (distribution packages) as WebSocket clients against failing servers, each capture with the
# browser's key log (.keys, when it wrote secrets) and what the page was told (.client.json).
# Only the WebSocket port is recorded; the page comes from another port. See browsers.py.
# Needs root (tcpdump), chromium, firefox-esr, certutil (libnss3-tools), tshark, openssl and
# python3 with websockets. Run by generate.sh, or alone: sudo samples/gen/clients/browsers.sh
# Usage: browsers.sh [PKI_DIR [PORT]]   (the page is served from PORT + 2000)   (without PKI_DIR a throw-away PKI is made by pki.sh)
# BROWSERS="chromium" or SCENARIOS="rst fin" limit what is recorded.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
samples=$(cd "$here/../.." && pwd)
pki=${1:-}
if [[ -z $pki ]]; then
  pki=$(mktemp -d)
  trap 'rm -rf "$pki"' EXIT
  "$here/../pki.sh" "$pki" >/dev/null
fi
port=${2:-$((26000 + RANDOM % 500))}
in_use() { # in_use PORT...: any socket on these ports (other programs share loopback)
  local p
  for p in "$@"; do
    [[ -n $(ss -tanH "( sport = :$p or dport = :$p )") ]] && return 0
  done
  return 1
}
browsers=${BROWSERS:-chromium firefox}
scenarios=${SCENARIOS:-expired-tls12 expired-tls13 untrusted-tls12 untrusted-tls13 mtls-tls12 mtls-tls13 wire-1015 rst fin}

for family in $browsers; do
  for scenario in $scenarios; do
    port=$((port + 1))
    while in_use "$port" $((port + 2000)); do port=$((port + 1)); done
    out=$samples/client-$family-$scenario
    rm -f "$out.pcap" "$out.keys" "$out.client.json"
    tcpdump -i lo -U -w "$out.pcap" "tcp port $port" 2>/dev/null &
    pid=$!
    sleep 1
    timeout 120 python3 "$here/browsers.py" run "$family" "$scenario" "$port" "$pki" "$out" ||
      echo "client-$family-$scenario: the browser run failed" >&2
    sleep 1
    kill -INT "$pid"
    wait "$pid" || true
    if [[ -s $out.keys ]]; then chmod 644 "$out.keys"; else rm -f "$out.keys"; fi
    [[ -f $out.client.json ]] && python3 "$here/browsers.py" sent "$out" "$port"
    echo "recorded client-$family-$scenario.pcap"
  done
done
