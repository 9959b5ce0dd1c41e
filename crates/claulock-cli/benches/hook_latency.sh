#!/usr/bin/env bash
# Whole-process latency the Claude Code hooks add per tool call, in one run
# (release build, a vault of 10 secrets, a running agent):
#   1. `claulock hook pre-tool-use` on a recorded input: a Bash command with
#      a placeholder (policy decision in the agent), a plain Bash command
#      (no agent call), and a Read (a file scan in the agent); against the
#      baseline of starting a process that reads the same input (`cat`);
#   2. `claulock hook post-tool-use` on a recorded Bash result (scrubbed in
#      the agent);
#   3. the rewritten (wrapped) `true` that PreToolUse produces, against a
#      bare `true`, both run by `bash -c` as Claude Code runs commands.
#
#   bash crates/claulock-cli/benches/hook_latency.sh [N]   (default 200)
set -euo pipefail
cd "$(dirname "$0")/../../.."
n=${1:-200}
cargo build -q --release -p claulock-cli
bin=$PWD/target/release/claulock
inputs=$PWD/crates/claulock-cli/tests/hook_inputs
work=$(mktemp -d)
export CLAULOCK_HOME=$work/home
trap '"$bin" lock >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
printf 'bench-passphrase' | "$bin" init --passphrase-stdin >/dev/null
printf 'bench-passphrase' | "$bin" unlock --passphrase-stdin >/dev/null
for i in $(seq 1 10); do
  printf 'bench_secret_%02d_Zq8WcN2rVt5yHx3LmB7kPd4sFg6j' "$i" | "$bin" add "S$i" --allow-program curl >/dev/null
done
mkdir -p "$work/proj"
seq 1 2000 > "$work/proj/notes.txt"
fill() { # fixture, slots as sed expressions
  local f=$1; shift
  sed -e "s#@PROJ@#$work/proj#g" -e "s#@TRANSCRIPT@#$work/t.jsonl#g" -e "s#@FILE@#$work/proj/notes.txt#g" "$@" "$inputs/$f.json"
}
fill pre-bash -e 's#@COMMAND@#curl -s -H \\"X: {{S1}}\\" http://127.0.0.1:9/#' > "$work/pre-sub.json"
fill pre-bash -e 's#@COMMAND@#ls -la#' > "$work/pre-plain.json"
fill pre-read > "$work/pre-read.json"
fill post-bash -e 's#@OUTPUT@#total 8 drwxr-xr-x 2 root root 4096 Nov 28 README.md#' > "$work/post-bash.json"
grep -q '"allow"' <("$bin" hook pre-tool-use < "$work/pre-sub.json") || { echo "the placeholder input was not allowed"; exit 1; }

ms_per() { # milliseconds per run of "$@" with stdin from $input
  local s e
  s=$(date +%s%N)
  for _ in $(seq 1 "$n"); do "$@" < "$input" >/dev/null; done
  e=$(date +%s%N)
  echo "scale=3; ($e - $s) / 1000000 / $n" | bc
}
input=$work/pre-sub.json; base=$(ms_per cat)
pre_sub=$(ms_per "$bin" hook pre-tool-use)
input=$work/pre-plain.json; pre_plain=$(ms_per "$bin" hook pre-tool-use)
input=$work/pre-read.json; pre_read=$(ms_per "$bin" hook pre-tool-use)
input=$work/post-bash.json; post=$(ms_per "$bin" hook post-tool-use)
echo "hook answers ($n runs each; baseline: cat of the input ${base} ms):"
echo "  pre-tool-use, Bash with a placeholder: ${pre_sub} ms (+$(echo "$pre_sub - $base" | bc) ms)"
echo "  pre-tool-use, plain Bash:              ${pre_plain} ms (+$(echo "$pre_plain - $base" | bc) ms)"
echo "  pre-tool-use, Read (file scan):        ${pre_read} ms (+$(echo "$pre_read - $base" | bc) ms)"
echo "  post-tool-use, Bash result:            ${post} ms (+$(echo "$post - $base" | bc) ms)"

# The rewrite of an allowed command whose program does nothing (a stub
# named curl, the program the secrets are allowed to).
printf '#!/bin/sh\nexit 0\n' > "$work/curl"; chmod +x "$work/curl"
wrapped=$(fill pre-bash -e "s#@COMMAND@#$work/curl -H {{S1}} http://127.0.0.1:9/#" | "$bin" hook pre-tool-use | python3 -c 'import json,sys; print(json.load(sys.stdin)["hookSpecificOutput"]["updatedInput"]["command"])')
input=/dev/null
bare=$(ms_per bash -c "$work/curl x")
wrap=$(ms_per bash -c "cd $work/proj && $wrapped")
echo "a tool call's command: bare \`curl\` stub ${bare} ms, wrapped through claulock exec ${wrap} ms (+$(echo "$wrap - $bare" | bc) ms, x$(echo "scale=1; $wrap / $bare" | bc))"
