#!/usr/bin/env bash
# Whole-process overhead of `claulock exec` against plain bash, in one run:
#   1. `claulock exec -c true` vs `bash -c true` (per command, N runs each),
#      with a placeholder (a full policy decision) and without, against a
#      vault of 10 secrets and one of 300 (the cost must not grow with the
#      vault: the agent keeps the scrubber, the wrapper gets no dictionary);
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
trap 'for h in "$work"/home*; do CLAULOCK_HOME=$h "$bin/claulock" lock >/dev/null 2>&1 || true; done; rm -rf "$work"' EXIT
vault() { # a home with $1 secrets and its agent
  export CLAULOCK_HOME=$work/home$1
  printf 'bench-passphrase' | "$bin/claulock" init --passphrase-stdin >/dev/null
  printf 'bench-passphrase' | "$bin/claulock" unlock --passphrase-stdin >/dev/null
  for i in $(seq 1 "$1"); do
    printf 'bench_secret_%03d_Zq8WcN2rVt5yHx3LmB7kPd4sFg6j' "$i" | "$bin/claulock" add "S$i" >/dev/null
  done
}
printf 'printf x >/dev/null\n' > "$work/use.sh"

ms_per() { # milliseconds per run of "$@"
  local s e
  s=$(date +%s%N)
  for _ in $(seq 1 "$n"); do "$@" >/dev/null; done
  e=$(date +%s%N)
  echo "scale=3; ($e - $s) / 1000000 / $n" | bc
}
vault 300
"$bin/claulock" exec -c true >/dev/null # the agent builds its scrubber once
vault 10
"$bin/claulock" exec -c true >/dev/null
bash_ms=$(ms_per bash -c true)
for size in 10 300; do
  export CLAULOCK_HOME=$work/home$size
  exec_ms=$(ms_per "$bin/claulock" exec -c true)
  sub_ms=$(ms_per "$bin/claulock" exec -c "sh $work/use.sh {{S1}}")
  eval "exec_$size=$exec_ms sub_$size=$sub_ms"
  echo "vault of $size secrets ($n runs each): bash -c true ${bash_ms} ms; claulock exec -c true ${exec_ms} ms (x$(echo "scale=2; $exec_ms / $bash_ms" | bc)); with a placeholder ${sub_ms} ms (x$(echo "scale=2; $sub_ms / $bash_ms" | bc))"
done
echo "300 secrets against 10: exec -c true x$(echo "scale=2; $exec_300 / $exec_10" | bc), with a placeholder x$(echo "scale=2; $sub_300 / $sub_10" | bc)"
export CLAULOCK_HOME=$work/home10

"$bin/examples/bench_data" "$work/data" 100 >/dev/null
secs() { local s e; s=$(date +%s%N); "$@" | cat > /dev/null; e=$(date +%s%N); echo "scale=3; ($e - $s) / 1000000000" | bc; }
plain=$(secs bash -c "cat $work/data/data.log")
scrubbed=$(secs "$bin/claulock" exec -c "cat $work/data/data.log")
mb=$(( $(stat -c %s "$work/data/data.log") / 1000000 ))
echo "100 MB of output: bash ${plain} s ($(echo "$mb / $plain" | bc) MB/s), claulock exec ${scrubbed} s ($(echo "$mb / $scrubbed" | bc) MB/s), ratio $(echo "scale=2; $scrubbed / $plain" | bc)"
