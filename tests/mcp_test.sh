#!/usr/bin/env bash
# ClauLock's MCP server against real peers: the official MCP Python SDK
# (pinned) as the client, and Debian's Chromium (driven by Selenium with
# chromedriver) as the human's browser on the value-entry page.
#
# The checks are in tests/e2e/mcp_client.py: every tool with good and bad
# arguments, the URL elicitation flow end to end (value typed in the
# browser, then delivered by `claulock exec` to a loopback server), a
# form-only client (consent only), the page's defences (reuse, expiry, a
# second browser, CSRF, origin, CSP), a `server/discover` probe and a
# locked vault. Then every response, elicitation and the server's stderr
# (and the audit log) are scanned for every form of every canary.
#
# Needs python3 with pip, /usr/bin/chromium and /usr/bin/chromedriver
# (Debian's chromium and chromium-driver; .ci/run installs them).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo build -q -p claulock-cli --bin claulock
cargo build -q -p claulock-scrub --example find_leak
claulock="$root/target/debug/claulock"
find_leak="$root/target/debug/examples/find_leak"
for tool in /usr/bin/chromium /usr/bin/chromedriver; do
  [ -x "$tool" ] || { echo "mcp test: $tool is missing: apt-get install chromium chromium-driver"; exit 1; }
done
python3 -c 'import mcp, selenium' 2>/dev/null \
  || python3 -m pip install -q --disable-pip-version-check mcp==2.3.0 selenium==4.51.0

work=$(mktemp -d)
cleanup() {
  CLAULOCK_HOME="$work/home" "$claulock" lock >/dev/null 2>&1 || true
  if [ "${KEEP:-}" = 1 ]; then echo "mcp test: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
export CLAULOCK_HOME="$work/home"
unset CLAULOCK_SOCKET

rand() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }
api="cl_canary_$(rand 16)"
old="cl_old_$(rand 16)"
new="cl_new_$(rand 16)"
rotated="cl_rot_$(rand 16)"
printf 'API_TOKEN=%s\nOLD_API_TOKEN=%s\nNEW_TOKEN=%s\nROTATED=%s\n' "$api" "$old" "$new" "$rotated" > "$work/canaries"

# The client's HTTPS destination uses the test CA; the agent's proxy trusts
# it (read once, at unlock).
bash "$root/tests/upstream/make_certs.sh" "$work/certs"
printf 'mcp-test-passphrase\n' | "$claulock" init --passphrase-stdin >/dev/null
printf 'mcp-test-passphrase\n' | CLAULOCK_EXTRA_CA_FILE="$work/certs/ca.pem" "$claulock" unlock --passphrase-stdin >/dev/null
printf '%s' "$old" | "$claulock" add API_TOKEN --allow-host 127.0.0.1 --allow-program curl --tag ci >/dev/null
printf '%s' "$api" | "$claulock" rotate API_TOKEN >/dev/null
# An audit event of each kind the filters are tested on.
"$claulock" exec -c 'curl -s -m 2 -o /dev/null -H "X: {{API_TOKEN}}" http://127.0.0.1:9/' >/dev/null 2>&1 || true

# The detector must see a planted leak, or a clean scan proves nothing.
mkdir -p "$work/control"
printf 'x %s y\n' "$(printf %s "$new" | base64)" > "$work/control/planted.txt"
if "$find_leak" "$work/canaries" "$work/control" >/dev/null 2>&1; then
  echo "mcp test: FAIL: the canary scan does not see a planted base64 leak"; exit 1
fi

status=0
python3 "$root/tests/e2e/mcp_client.py" "$claulock" "$work" || status=1

echo "mcp test: scanning $(wc -l < "$work/transcript/responses.jsonl") recorded responses, the server's stderr and the audit log"
if ! "$find_leak" "$work/canaries" "$work/transcript" "$work/home/audit.log"; then
  echo "mcp test: FAIL: a canary leaked"
  status=1
fi
if [ "$status" -ne 0 ]; then KEEP=1; echo "mcp test: failed"; exit 1; fi
echo "mcp test: passed"
