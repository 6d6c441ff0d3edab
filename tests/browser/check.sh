#!/usr/bin/env bash
# Browser test of `wsclose analyze --format html`: builds the reports of a few samples, loads
# each from a file:// URL in headless Chromium and Firefox (the distribution's packages) and
# checks it against the `--format json` document of the same capture (driver.py says what).
#
#   tests/browser/check.sh            # both browsers
#   BROWSERS=chromium tests/browser/check.sh
#   WSCLOSE=path/to/wsclose tests/browser/check.sh   # skip the build
#
# Exit 0 when every check holds in every browser; 1 when one fails; 2 when a browser or the
# driver's python module is missing or cannot be started. A browser asked for is never
# skipped.
set -euo pipefail
cd "$(dirname "$0")/../.."
start=$SECONDS

fail() {
    echo "browser test: FAIL: $*" >&2
    exit 2
}

browsers=${BROWSERS:-chromium firefox}
for b in $browsers; do
    command -v "$b" >/dev/null || fail "$b is not installed (apt-get install $b), or set BROWSERS"
done
python3 -c 'import websockets.sync.client' 2>/dev/null ||
    fail "python3 module websockets (>= 13) is missing: pip install websockets"

if [ -z "${WSCLOSE:-}" ]; then
    cargo build --quiet --bin wsclose
    WSCLOSE="${CARGO_TARGET_DIR:-$PWD/target}/debug/wsclose"
fi
[ -x "$WSCLOSE" ] || fail "no wsclose binary at $WSCLOSE"

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# name | --lang | analyze arguments
cases=(
    "incident|en|samples/incident.pcap"
    "tls-ar|ar|--keylog samples/wss-firefox.keys samples/wss-firefox.pcap samples/wss-untrusted-ca.pcap samples/drop-rst.pcap"
    "reasons|en|samples/bad-utf8-reason.pcap samples/oversized-close.pcap samples/going-away.pcap"
)

triples=()
for case in "${cases[@]}"; do
    IFS='|' read -r name lang args <<<"$case"
    # shellcheck disable=SC2086 # the arguments are words
    "$WSCLOSE" analyze --format json $args >"$out/$name.json" ||
        fail "wsclose analyze --format json $args failed"
    # shellcheck disable=SC2086
    "$WSCLOSE" analyze --format html --lang "$lang" $args >"$out/$name.html" ||
        fail "wsclose analyze --format html $args failed"
    triples+=("$lang" "$out/$name.html" "$out/$name.json")
done

failed=0
for b in $browsers; do
    rc=0
    python3 tests/browser/driver.py --browser "$b" "${triples[@]}" || rc=$?
    case $rc in
        0) ;;
        1) failed=$((failed + 1)) ;;
        *) fail "$b could not be driven (see above)" ;;
    esac
done

if [ "$failed" -gt 0 ]; then
    echo "browser test: FAIL: reports failed their checks in $failed browser(s) ($((SECONDS - start)) s)" >&2
    exit 1
fi
echo "browser test: ok: ${#cases[@]} reports in $browsers ($((SECONDS - start)) s)"
