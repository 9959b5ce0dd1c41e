#!/usr/bin/env bash
# Whole-process overhead of `claulock exec` against plain bash, in one run:
#   1. `claulock exec -c true` vs `bash -c true` (per command, N runs each),
#      with a placeholder (a full policy decision) and without;
#   2. a command printing 100 MB of log-like text, through the scrubber vs
#      plain bash (throughput).
#
#   bash crates/claulock-cli/benches/exec_overhead.sh [N]   (default 200)
set -euo pipefail
cd "$(dirname "$0")/../../.."
n=${1:-200}
cargo build -q --release -p claulock-cli -p claulock-scrub --examples --bins
bin=$PWD/target/release
work=$(mktemp -d)
export CLAULOCK_HOME=$work/home
trap '"$bin/claulock" lock >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
printf 'bench-passphrase' | "$bin/claulock" init --passphrase-stdin >/dev/null
printf 'bench-passphrase' | "$bin/claulock" unlock --passphrase-stdin >/dev/null
for i in $(seq 1 10); do
  printf 'bench_secret_%02d_Zq8WcN2rVt5yHx3LmB7kPd4sFg6j' "$i" | "$bin/claulock" add "S$i" >/dev/null
done
printf 'printf x >/dev/null\n' > "$work/use.sh"

ms_per() { # milliseconds per run of "$@"
  local s e
  s=$(date +%s%N)
  for _ in $(seq 1 "$n"); do "$@" >/dev/null; done
  e=$(date +%s%N)
  echo "scale=3; ($e - $s) / 1000000 / $n" | bc
}
bash_ms=$(ms_per bash -c true)
exec_ms=$(ms_per "$bin/claulock" exec -c true)
sub_ms=$(ms_per "$bin/claulock" exec -c "sh $work/use.sh {{S1}}")
echo "per command ($n runs each): bash -c true ${bash_ms} ms; claulock exec -c true ${exec_ms} ms; with a placeholder ${sub_ms} ms"
echo "overhead: $(echo "$exec_ms - $bash_ms" | bc) ms without, $(echo "$sub_ms - $bash_ms" | bc) ms with a placeholder"

"$bin/examples/bench_data" "$work/data" 100 >/dev/null
secs() { local s e; s=$(date +%s%N); "$@" | cat > /dev/null; e=$(date +%s%N); echo "scale=3; ($e - $s) / 1000000000" | bc; }
plain=$(secs bash -c "cat $work/data/data.log")
scrubbed=$(secs "$bin/claulock" exec -c "cat $work/data/data.log")
mb=$(( $(stat -c %s "$work/data/data.log") / 1000000 ))
echo "100 MB of output: bash ${plain} s ($(echo "$mb / $plain" | bc) MB/s), claulock exec ${scrubbed} s ($(echo "$mb / $scrubbed" | bc) MB/s), ratio $(echo "scale=2; $scrubbed / $plain" | bc)"
