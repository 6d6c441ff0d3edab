#!/usr/bin/env bash
# Makes the test PKI for the wss:// samples in $1: a trusted CA, a rogue CA, and server
# certificates for localhost (valid, expired, and issued by the rogue CA).
set -euo pipefail
dir=$1
mkdir -p "$dir"
cd "$dir"
cat > ca.cnf <<'CNF'
[ ca ]
default_ca = local
[ local ]
dir = .
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
default_md = sha256
policy = any
copy_extensions = copy
unique_subject = no
[ any ]
commonName = supplied
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = localhost
[ server_ext ]
subjectAltName = DNS:localhost,IP:127.0.0.1
basicConstraints = CA:false
keyUsage = digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
CNF
mkdir -p newcerts
: > index.txt
echo 1000 > serial
ca() { # ca NAME SUBJECT
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.crt" -days 3650 \
    -subj "/CN=$2" -addext "basicConstraints=critical,CA:true" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
leaf() { # leaf NAME CA START END
  openssl req -new -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
  openssl ca -batch -config ca.cnf -cert "$2.crt" -keyfile "$2.key" -in "$1.csr" -out "$1.crt" \
    -startdate "$3" -enddate "$4" -extensions server_ext -notext 2>/dev/null
}
ca ca "wsclose test CA"
ca rogue "wsclose rogue CA"
now=$(date -u +%Y%m%d%H%M%SZ)
next=$(date -u -d '+825 days' +%Y%m%d%H%M%SZ)
leaf server ca "$now" "$next"
leaf expired ca 20230101000000Z 20240101000000Z
leaf untrusted rogue "$now" "$next"
ls *.crt
