#!/usr/bin/env bash
# Whole-process throughput of `claulock scrub` against, in one run on the same
# input: LC_ALL=C grep -F -f (a search-only tool), a plain Aho-Corasick search
# in a process of its own (examples/ac_find.rs), and cat (the copy limit).
# Prints MB/s (best of 3) and peak memory, and the ratios.
#
#   bash crates/claulock-scrub/benches/whole_process.sh [MiB]   (default 256)
set -euo pipefail
cd "$(dirname "$0")/../../.."
mib=${1:-256}
work=${BENCH_DIR:-$(mktemp -d)}
cargo build -q --release -p claulock-cli -p claulock-scrub --examples --bins
bin=target/release
[ -f "$work/data.log" ] || "$bin/examples/bench_data" "$work" "$mib"
bytes=$(stat -c %s "$work/data.log")

best() { # best-of-3 wall time in seconds of "$@", stdin from data.log
  local best=999999 t
  for _ in 1 2 3; do
    local s=$(date +%s.%N)
    # Into a pipe: GNU grep stops at the first match when its output is
    # /dev/null (which would time nothing), and a file would time the disk.
    "$@" < "$work/data.log" | cat > /dev/null
    local e=$(date +%s.%N)
    t=$(echo "$e - $s" | bc -l)
    best=$(echo "if ($t < $best) $t else $best" | bc -l)
  done
  echo "$best"
}
peak_kib() { /usr/bin/time -o "$work/time" -f %M "$@" < "$work/data.log" > "$work/out" && cat "$work/time"; }

declare -A secs mem
run() { local name=$1; shift; secs[$name]=$(best "$@"); mem[$name]=$(peak_kib "$@" 2>/dev/null || echo "?"); }
run scrub "$bin/claulock" scrub --secrets-from "$work/secrets.env"
run grep env LC_ALL=C grep -c -F -f "$work/patterns.txt"
run aho-corasick "$bin/examples/ac_find" "$work/patterns.txt"
run cat cat

printf '%-14s %10s %12s\n' tool MB/s "peak RSS"
for k in scrub grep aho-corasick cat; do
  printf '%-14s %10.0f %9s KiB\n' "$k" "$(echo "$bytes / ${secs[$k]} / 1000000" | bc -l)" "${mem[$k]}"
done
echo "scrub / aho-corasick: $(echo "${secs[aho-corasick]} / ${secs[scrub]}" | bc -l | cut -c1-5)x"
echo "scrub / grep -F:      $(echo "${secs[grep]} / ${secs[scrub]}" | bc -l | cut -c1-5)x"
echo "scrub / cat:          $(echo "${secs[cat]} / ${secs[scrub]}" | bc -l | cut -c1-5)x"
# The scrubbed output must hold no planted pattern.
if "$bin/claulock" scrub --secrets-from "$work/secrets.env" < "$work/data.log" | LC_ALL=C grep -q -F -f "$work/patterns.txt"; then
  echo "LEAK: a planted pattern survived scrubbing" >&2; exit 1
fi
echo "no planted pattern survived"
