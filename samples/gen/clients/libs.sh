#!/usr/bin/env bash
# Records the client-library samples (samples/client-*.pcap, hello-go.pcap, hello-curl.pcap)
# with gen/clients/libs.py: Node 20's WebSocket (undici), the JDK 17 WebSocket, a
# tokio-tungstenite + rustls client (rustls-client/), python-websockets, a gorilla/websocket
# client (go/) and curl, each against Python test servers on loopback.
# Needs root (tcpdump), tshark, node 20, a JDK 17 (java, keytool), cargo, go with Debian's
# golang-github-gorilla-websocket-dev, curl, python3 with websockets 17.
# Usage: libs.sh [PKI_DIR]   (without it, a throw-away PKI is made by gen/pki.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
samples=$(cd "$here/../.." && pwd)
build=${CLIENTS_BUILD_DIR:-/tmp/wsclose-clients}
mkdir -p "$build"

pki=${1:-}
if [[ -z $pki ]]; then
  pki=$(mktemp -d)
  trap 'rm -rf "$pki"' EXIT
  "$here/../pki.sh" "$pki" >/dev/null
fi
if [[ ! -f $pki/trust.p12 ]]; then
  keytool -importcert -noprompt -alias wsclose-ca -file "$pki/ca.crt" -keystore "$pki/trust.p12" \
    -storetype PKCS12 -storepass changeit >/dev/null 2>&1
fi

# The compiled clients live outside the repository.
rustls_target=${RUSTLS_TARGET_DIR:-$build/rustls-client}
(cd "$here/rustls-client" && CARGO_TARGET_DIR="$rustls_target" cargo build --release --locked -q)
(cd "$here/go" && GOFLAGS=-mod=mod GOPROXY=off go build -o "$build/hello-go" .)
export RUSTLS_CLIENT=$rustls_target/release/rustls-client GO_CLIENT=$build/hello-go

port=$((19200 + RANDOM % 500))
samples_list=()
for family in node java rustls python; do
  for scenario in expired-tls13 untrusted-tls12 mtls-tls13; do
    samples_list+=("client-$family-$scenario")
  done
done
samples_list+=(client-node-wire-1015 client-java-wire-1015 client-rustls-wire-1015 hello-go hello-curl)
for sample in "${samples_list[@]}"; do
  port=$((port + 1))
  timeout 120 python3 "$here/libs.py" "$sample" "$port" "$pki" "$samples" 2>/dev/null
done
