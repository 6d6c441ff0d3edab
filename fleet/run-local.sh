#!/usr/bin/env bash
# Runs `wsclose analyze --format jsonl` over many captures on one host, one process per
# file, as many at a time as there are cores: GNU parallel when it is installed, else
# `xargs -P`. Each capture gives one JSONL file in the output folder, named after the
# capture's path, so that a second run skips what is done and redoes only what failed.
#
#   fleet/run-local.sh [-o OUTDIR] [-j JOBS] [-f] [-k] [-x] PATH... [-- WSCLOSE_ARGS...]
#
# PATH is a capture (any name) or a folder, searched recursively for *.pcap, *.pcapng and
# *.cap (also gzip-compressed: *.pcap.gz ...). Names with spaces are fine; names with a
# newline are analysed but listed in failed.txt on one line each, escaped as printf %q does.
#
#   -o OUTDIR  where the JSONL goes (default: wsclose-jsonl); created if missing
#   -j JOBS    files analysed at once (default: the number of cores, nproc)
#   -f         redo every file, even those whose JSONL is already there
#   -x         use xargs -P even when GNU parallel is installed (it starts faster: on small
#              files parallel's own start-up of about 40 ms a file dominates)
#   -k         pass FILE.keys (the capture's name with its last extension replaced by
#              .keys, e.g. a.pcap -> a.keys) as --keylog when that file exists
#   after --   arguments given to every `wsclose analyze` (e.g. --ws-port 9000 --threads 1)
#
# The wsclose binary is $WSCLOSE, else `wsclose` on PATH.
#
# Output, for a capture at path P: OUTDIR/N.jsonl where N is P without a leading ./, with
# % written %25 and / written %2F (so a/x.pcap and b/x.pcap do not collide; a name longer
# than 200 bytes keeps its last 150 and a hash of the whole). The JSONL appears only when
# wsclose exited 0 (written to a temporary name, then renamed). When it did not (exit 2:
# unreadable, not a capture, cut short), OUTDIR/N.err holds wsclose's stderr and the exit
# code, and whatever it reported before the damage is kept as OUTDIR/N.jsonl.partial, out
# of the *.jsonl set that load.sql reads. OUTDIR/failed.txt lists the captures of this run
# that failed, one a line. Exit code: 0 when every file was analysed, 1 when any failed,
# 2 on a usage error.
set -euo pipefail

# Sets the variable named $1 to the name of the JSONL for capture path $2 (see above),
# without a subshell for the usual short names.
out_name() {
    local LC_ALL=C # lengths and the cut below in bytes
    local p=${2#./}
    p=${p//%/%25}
    p=${p//\//%2F}
    if ((${#p} > 200)); then
        local h
        h=$(printf '%s' "$2" | sha256sum | cut -c1-16)
        p="${p: -150}-$h"
    fi
    printf -v "$1" '%s' "$p"
}

# Worker: analyse one capture. Arguments: OUTDIR KEYS WSCLOSE [WSCLOSE_ARGS...] FILE.
# Prints one line: "done" or "failed", a tab, the capture's path.
one() {
    local outdir=$1 keys=$2 bin=$3
    shift 3
    local file=${*: -1}
    local -a extra=("${@:1:$#-1}")
    local name
    out_name name "$file"
    local base="$outdir/$name"
    if [[ $keys == 1 ]]; then
        local keylog="${file%.gz}"
        keylog="${keylog%.*}.keys"
        [[ -f "$keylog" ]] && extra+=(--keylog "$keylog")
    fi
    local tmp="$base.jsonl.tmp.$$" rc=0
    rm -f "$base.err" "$base.jsonl.partial"
    "$bin" analyze --format jsonl "${extra[@]}" -- "$file" >"$tmp" 2>"$base.err.tmp.$$" || rc=$?
    if ((rc == 0)); then
        mv -f "$tmp" "$base.jsonl"
        rm -f "$base.err.tmp.$$"
        printf 'done\t%s\n' "$file"
    else
        mv -f "$tmp" "$base.jsonl.partial"
        { cat "$base.err.tmp.$$"; echo "exit code $rc"; } >"$base.err"
        rm -f "$base.err.tmp.$$" "$base.jsonl"
        printf 'failed\t%s\n' "$file"
    fi
    return 0
}

if [[ ${1:-} == __one ]]; then
    shift
    one "$@"
    exit
fi

usage() {
    sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//' >&2
    exit 2
}

outdir=wsclose-jsonl
jobs=$(nproc)
force=0
keys=0
use_xargs=0
while getopts ':o:j:fkxh' opt; do
    case $opt in
    o) outdir=$OPTARG ;;
    j) jobs=$OPTARG ;;
    f) force=1 ;;
    k) keys=1 ;;
    x) use_xargs=1 ;;
    *) usage ;;
    esac
done
shift $((OPTIND - 1))

paths=()
while (($#)) && [[ $1 != -- ]]; do
    paths+=("$1")
    shift
done
[[ ${1:-} == -- ]] && shift
wargs=("$@")
((${#paths[@]})) || usage
[[ $jobs =~ ^[1-9][0-9]*$ ]] || { echo "run-local.sh: -j needs a positive number" >&2; exit 2; }

bin=${WSCLOSE:-wsclose}
if ! command -v "$bin" >/dev/null; then
    echo "run-local.sh: wsclose not found (set WSCLOSE to its path)" >&2
    exit 2
fi
bin=$(command -v "$bin")
[[ $bin == /* ]] || bin="$PWD/$bin"
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
mkdir -p "$outdir"

for p in "${paths[@]}"; do
    [[ -e $p ]] || { echo "run-local.sh: $p: no such file or folder" >&2; exit 2; }
done

# Every input, NUL-separated, sorted, once.
list=$(mktemp)
log=$(mktemp)
todo=$(mktemp)
trap 'rm -f "$list" "$log" "$todo"' EXIT
for p in "${paths[@]}"; do
    if [[ -d $p ]]; then
        find "$p" -type f \( -iname '*.pcap' -o -iname '*.pcapng' -o -iname '*.cap' \
            -o -iname '*.pcap.gz' -o -iname '*.pcapng.gz' -o -iname '*.cap.gz' \) -print0
    else
        printf '%s\0' "$p"
    fi
done | sort -zu >"$list"

# What is left to do: every input with -f, else those without their JSONL yet.
total=0
n_skipped=0
while IFS= read -r -d '' f; do
    total=$((total + 1))
    out_name name "$f"
    if ((force == 0)) && [[ -e "$outdir/$name.jsonl" ]]; then
        n_skipped=$((n_skipped + 1))
    else
        printf '%s\0' "$f"
    fi
done <"$list" >"$todo"
if ((total == 0)); then
    echo "run-local.sh: no capture (*.pcap, *.pcapng, *.cap, also .gz) under ${paths[*]}" >&2
    exit 1
fi

start=$SECONDS
runner_rc=0
if ((use_xargs == 0)) && command -v parallel >/dev/null && parallel --version 2>/dev/null | grep -q 'GNU parallel'; then
    runner=parallel
    # -q: the command's words are passed as they are, not re-read by a shell.
    parallel --will-cite -0 -q -j "$jobs" "$self" __one "$outdir" "$keys" "$bin" \
        "${wargs[@]}" <"$todo" >"$log" || runner_rc=$?
else
    runner="xargs -P $jobs"
    xargs -0 -r -n 1 -P "$jobs" "$self" __one "$outdir" "$keys" "$bin" "${wargs[@]}" \
        <"$todo" >"$log" || runner_rc=$?
fi

n_done=$(grep -c '^done' "$log" || true)
: >"$outdir/failed.txt"
while IFS= read -r -d '' f; do
    out_name name "$f"
    if [[ -e "$outdir/$name.err" ]]; then
        if [[ $f == *$'\n'* ]]; then printf '%q\n' "$f"; else printf '%s\n' "$f"; fi
    fi
done <"$list" >>"$outdir/failed.txt"
n_failed=$(wc -l <"$outdir/failed.txt")
echo "run-local.sh: $total file(s) with $runner in $((SECONDS - start)) s:" \
    "$n_done analysed, $n_skipped already done, $n_failed failed; JSONL in $outdir" >&2
if ((n_failed)); then
    echo "run-local.sh: failed (stderr in $outdir/NAME.err; run again to redo only these):" >&2
    sed 's/^/  /' "$outdir/failed.txt" >&2
    exit 1
fi
if ((runner_rc != 0 || n_done + n_skipped != total)); then
    echo "run-local.sh: the runner exited $runner_rc after $((n_done + n_skipped)) of $total file(s)" >&2
    exit 1
fi
