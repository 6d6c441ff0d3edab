#!/usr/bin/env bash
# The test of the fleet path (README, "A fleet of captures"): run-local.sh over every
# sample plus a copy whose name has spaces and a file that is not a capture, a second run
# that must redo only the failures, cluster.py's per-capture function (--local), then
# load.sql in DuckDB and its queries checked against wsclose's own JSON (fleet/check.py).
#
#   fleet/check.sh            (WSCLOSE=path/to/wsclose to skip `cargo build`)
#
# DuckDB is the Python package duckdb (pinned below) from PyPI, installed once into a venv
# under ${XDG_CACHE_HOME:-~/.cache}/wsclose/. If it cannot be installed, this fails: it
# does not pass without having run the queries. Exit code 0 only when every check passed.
set -euo pipefail
cd "$(dirname "$0")/.."
DUCKDB_VERSION=2.0.0
start=$SECONDS

fail() {
    echo "fleet/check.sh: FAIL: $*" >&2
    exit 1
}
shell_passed=0
ok() {
    echo "ok    $*"
    shell_passed=$((shell_passed + 1))
}

# DuckDB first: without it nothing below proves anything.
cache=${XDG_CACHE_HOME:-${HOME:+$HOME/.cache}}
venv="${cache:-/tmp}/wsclose/fleet-duckdb-$DUCKDB_VERSION"
if ! "$venv/bin/python" -c 'import duckdb' 2>/dev/null; then
    echo "fleet/check.sh: installing duckdb $DUCKDB_VERSION from PyPI into $venv" >&2
    rm -rf "$venv" "$venv.tmp.$$"
    mkdir -p "$(dirname "$venv")"
    if ! { python3 -m venv "$venv.tmp.$$" &&
        "$venv.tmp.$$/bin/python" -m pip install --quiet --disable-pip-version-check "duckdb==$DUCKDB_VERSION"; }; then
        rm -rf "$venv.tmp.$$"
        fail "cannot install the Python package duckdb==$DUCKDB_VERSION (no network, or PyPI unreachable); the fleet queries were NOT checked"
    fi
    # Built aside and moved in whole, so that an interrupted install is not reused (only
    # bin/python is run, which finds its packages from where it is, moved or not).
    mv "$venv.tmp.$$" "$venv"
    "$venv/bin/python" -c 'import duckdb' || fail "duckdb installed into $venv but does not import"
fi

if [[ -z ${WSCLOSE:-} ]]; then
    cargo build --quiet --bin wsclose
    target=$(cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
    WSCLOSE="$target/debug/wsclose"
fi
export WSCLOSE

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/in/with spaces"
cp samples/drop-idle.pcap "$tmp/in/with spaces/a copy of drop-idle.pcap"
printf 'not a capture\n' >"$tmp/in/with spaces/not a capture.pcap"

inputs=()
while IFS= read -r -d '' f; do inputs+=("$f"); done < <(
    find samples "$tmp/in" -type f \( -iname '*.pcap' -o -iname '*.pcapng' -o -iname '*.cap' \
        -o -iname '*.pcap.gz' -o -iname '*.pcapng.gz' -o -iname '*.cap.gz' \) -print0 | sort -z)

# 1. The whole set with xargs -P (failures expected: one file is not a capture).
rc=0
fleet/run-local.sh -x -k -o "$tmp/out" samples "$tmp/in" 2>"$tmp/run1.log" || rc=$?
cat "$tmp/run1.log" >&2
((rc == 1)) || fail "run-local.sh exited $rc, not 1, on a set with an unreadable file"
ok "run-local.sh exits 1 when a file fails"
grep -qxF "$tmp/in/with spaces/not a capture.pcap" "$tmp/out/failed.txt" ||
    fail "failed.txt does not list the file that is not a capture"
n_jsonl=$(find "$tmp/out" -name '*.jsonl' | wc -l)
n_failed=$(wc -l <"$tmp/out/failed.txt")
((n_jsonl + n_failed == ${#inputs[@]})) ||
    fail "${#inputs[@]} inputs but $n_jsonl JSONL files and $n_failed failures"
ok "one JSONL per readable input ($n_jsonl), the others in failed.txt ($n_failed)"

# 2. A second run redoes only the failures and leaves the JSONL alone.
sums() { (cd "$tmp/out" && find . -name '*.jsonl' -print0 | sort -z | xargs -0 sha256sum); }
before=$(sums)
rc=0
fleet/run-local.sh -x -k -o "$tmp/out" samples "$tmp/in" 2>"$tmp/run2.log" || rc=$?
((rc == 1)) || fail "second run exited $rc"
grep -q ": 0 analysed, $n_jsonl already done, $n_failed failed;" "$tmp/run2.log" ||
    fail "second run did not skip the done files: $(head -1 "$tmp/run2.log")"
[[ $(sums) == "$before" ]] || fail "second run changed JSONL files"
ok "a second run redoes only the $n_failed failure(s)"

# 3. GNU parallel, when installed, gives the same files.
few=("$tmp/in" samples/normal.pcap samples/evidence-1001-deploy.pcap samples/truncated.pcap)
if command -v parallel >/dev/null && parallel --version 2>/dev/null | grep -q 'GNU parallel'; then
    fleet/run-local.sh -k -o "$tmp/out-parallel" "${few[@]}" 2>"$tmp/run3.log" || true
    grep -q 'with parallel' "$tmp/run3.log" || fail "GNU parallel was not used: $(head -1 "$tmp/run3.log")"
    for f in "$tmp/out-parallel"/*.jsonl; do
        cmp -s "$f" "$tmp/out/${f##*/}" || fail "GNU parallel's ${f##*/} differs from xargs'"
    done
    cmp -s "$tmp/out-parallel/failed.txt" <(grep -e truncated.pcap -e 'not a capture' "$tmp/out/failed.txt") ||
        fail "GNU parallel's failed.txt differs"
    ok "GNU parallel gives the same JSONL and failures as xargs"
else
    echo "skip  GNU parallel is not installed (xargs -P was checked)"
fi

# 4. cluster.py's per-capture function (streamed through stdin) gives the same records.
rc=0
python3 fleet/cluster.py --local --jobs 2 --out "$tmp/out-cluster" --wsclose "$WSCLOSE" "${few[@]}" \
    2>"$tmp/run4.log" || rc=$?
((rc == 1)) || { cat "$tmp/run4.log" >&2; fail "cluster.py --local exited $rc, not 1"; }
n=0
for f in "$tmp/out-cluster"/*.jsonl; do
    cmp -s "$f" "$tmp/out/${f##*/}" || fail "cluster.py's ${f##*/} differs from run-local.sh's"
    n=$((n + 1))
done
((n >= 3)) || fail "cluster.py wrote only $n JSONL files"
cmp -s "$tmp/out-cluster/failed.txt" <(grep -e truncated.pcap -e 'not a capture' "$tmp/out/failed.txt") ||
    fail "cluster.py's failed.txt differs"
ok "cluster.py --local gives the same JSONL and failures as run-local.sh"

# 5. DuckDB: load.sql and the queries against wsclose's JSON.
rc=0
FLEET_SHELL_PASSED=$shell_passed "$venv/bin/python" fleet/check.py "$WSCLOSE" "$tmp/out" \
    "$tmp/out/failed.txt" "${inputs[@]}" || rc=$?
echo "fleet/check.sh: $((SECONDS - start)) s" >&2
exit "$rc"
