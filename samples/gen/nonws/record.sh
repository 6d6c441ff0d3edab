#!/usr/bin/env bash
# Records real conversations of protocols that are not WebSocket, on loopback, for the
# detection-precision tests: nonws-PROTO.pcap (from the SYN) and nonws-PROTO-mid.pcap (the
# same without its first packets, as a capture joined mid-stream, via pcaptools drop-head).
# Also cuts deflate.pcap (recorded before this runs) into mid-stream-deflate.pcap: real
# compressed (RSV1) WebSocket frames joined after the handshake, which must still be found.
# Ports are deliberately not the protocols' well-known ones, so that the signatures and the
# frame checks are what tell them from WebSocket, not the port.
# Needs root (tcpdump, sshd), openssh-server and openssh-client, nghttp2-server (nghttpd)
# and curl, redis-server (redis-cli), dnsmasq-base and dnsutils (dig), python3 with
# pymodbus 3.x (pip install 'pymodbus==3.*').
# Usage: gen/nonws/record.sh   (run from samples/, writes there)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOOLS=$HERE/../pcaptools.py
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
PORT=$((23000 + RANDOM % 2000))

# capture NAME DROP -- COMMAND...: records COMMAND's traffic on $PORT as nonws-NAME.pcap,
# then nonws-NAME-mid.pcap without its first DROP packets.
capture() {
  local name=$1 drop=$2; shift 3
  tcpdump -i lo -U -w "nonws-$name.pcap" "tcp port $PORT" 2>/dev/null &
  local dump=$!
  sleep 1
  timeout 60 "$@" >"$WORK/$name.out" 2>&1 || { echo "nonws $name failed:"; cat "$WORK/$name.out"; }
  sleep 1
  kill -INT "$dump"; wait "$dump" || true
  python3 "$TOOLS" drop-head "nonws-$name.pcap" "nonws-$name-mid.pcap" "$drop"
  echo "recorded nonws-$name.pcap (and -mid)"
}

start() { # start COMMAND...: a server in the background, stopped at exit
  "$@" >"$WORK/server.$PORT.log" 2>&1 &
  PIDS+=($!)
  sleep 1
}

# SSH: OpenSSH client to OpenSSH server, public-key login, one command.
PORT=$((PORT + 1))
ssh-keygen -q -t ed25519 -N '' -f "$WORK/host" && ssh-keygen -q -t ed25519 -N '' -f "$WORK/user"
install -d -m 700 "$WORK/ssh"; cp "$WORK/user.pub" "$WORK/ssh/authorized_keys"
mkdir -p /run/sshd
cat >"$WORK/sshd_config" <<CFG
Port $PORT
ListenAddress 127.0.0.1
HostKey $WORK/host
AuthorizedKeysFile $WORK/ssh/authorized_keys
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
PidFile $WORK/sshd.pid
CFG
start /usr/sbin/sshd -D -e -f "$WORK/sshd_config"
capture ssh 8 -- ssh -i "$WORK/user" -p "$PORT" -o StrictHostKeyChecking=no \
  -o UserKnownHostsFile=/dev/null -o BatchMode=yes root@127.0.0.1 'echo hello from ssh; seq 1 2000; uname -s'

# HTTP/2 cleartext with prior knowledge: curl to nghttpd, two connections of one request.
PORT=$((PORT + 1))
mkdir -p "$WORK/www"; head -c 3000 /dev/urandom | base64 >"$WORK/www/page.txt"
start nghttpd --no-tls -d "$WORK/www" "$PORT"
capture http2 6 -- bash -c "for i in 1 2; do curl -sS --http2-prior-knowledge -o /dev/null \
  -w '%{http_version} %{response_code}\n' http://127.0.0.1:$PORT/page.txt; done"

# Redis: redis-cli against redis-server (RESP), one command per connection (the
# interactive mode would first fetch the 170 KB COMMAND DOCS).
PORT=$((PORT + 1))
start redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no
capture redis 4 -- bash -c "redis-cli -p $PORT SET greeting 'hello redis'; redis-cli -p $PORT GET greeting; \
  redis-cli -p $PORT RPUSH l a b c; redis-cli -p $PORT LRANGE l 0 -1"

# DNS over TCP: dig +tcp to dnsmasq answering locally, three queries (three connections).
PORT=$((PORT + 1))
start dnsmasq --no-daemon --no-resolv --no-hosts --listen-address=127.0.0.1 --bind-interfaces \
  --port="$PORT" --address=/example.test/192.0.2.7 --txt-record=example.test,"dns over tcp"
capture dns 2 -- bash -c "dig +tcp +keepopen @127.0.0.1 -p $PORT example.test A example.test TXT www.example.test AAAA"

# Modbus/TCP: pymodbus client reading and writing holding registers of a pymodbus server.
PORT=$((PORT + 1))
capture modbus 6 -- python3 "$HERE/modbus_pair.py" "$PORT"

# WebSocket with permessage-deflate, joined after the handshake (the first 7 packets: the
# TCP handshake, the Upgrade and the 101 with their ACKs).
python3 "$TOOLS" drop-head deflate.pcap mid-stream-deflate.pcap 7
echo "cut mid-stream-deflate.pcap"
