#!/usr/bin/env bash
# Self-check for the test upstream server (tests/upstream/server.py) and its
# certificates (tests/upstream/make_certs.sh), *without* the ClauLock proxy:
# real clients (curl, Python urllib/requests, Node fetch, git) talk to it
# directly. Exits 0 only when every check passes.
#
# Usage: bash tests/upstream/selfcheck.sh      (KEEP=1 keeps the work dir)
set -Eeuo pipefail
here=$(cd "$(dirname "$0")" && pwd)

work=$(mktemp -d)
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [ "${KEEP:-}" = 1 ]; then
        echo "work dir kept: $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
# An unchecked command failing (set -e) names its line before exiting.
trap 'echo "FAIL line $LINENO: command failed (exit $?)" >&2' ERR

fails=0
pass() { echo "ok   $1"; }
fail() { echo "FAIL $1"; fails=$((fails + 1)); }
check() { # check NAME CMD...: run CMD quietly, report pass/fail
    local name=$1; shift
    if "$@" >"$work/last.out" 2>&1; then pass "$name"; else fail "$name"; sed 's/^/     /' "$work/last.out" | head -20; fi
}

# The sandbox may point clients at other CA bundles through the environment;
# GIT_SSL_CAINFO in particular overrides `git -c http.sslCAInfo`. Be hermetic.
unset GIT_SSL_CAINFO GIT_SSL_CAPATH CURL_CA_BUNDLE SSL_CERT_FILE SSL_CERT_DIR \
      REQUESTS_CA_BUNDLE NODE_EXTRA_CA_CERTS https_proxy HTTPS_PROXY http_proxy \
      HTTP_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
export GIT_TERMINAL_PROMPT=0 GIT_CONFIG_NOSYSTEM=1 HOME="$work/home"
mkdir -p "$HOME"

# Random values, never printed: a header canary and the git token.
canary="canary-$(openssl rand -hex 12)"
token="tok-$(openssl rand -hex 12)"

certs="$work/certs"
"$here/make_certs.sh" "$certs"
ca="$certs/ca.pem"
check "make_certs: leaf verifies (sslserver)" openssl verify -CAfile "$ca" -purpose sslserver "$certs/server.pem"
check "make_certs: leaf is not a CA" sh -c "openssl x509 -in '$certs/server.pem' -noout -ext basicConstraints | grep -q 'CA:FALSE'"
check "make_certs: SAN" sh -c "openssl x509 -in '$certs/server.pem' -noout -ext subjectAltName | grep -q 'DNS:localhost, DNS:upstream.localhost, IP Address:127.0.0.1'"

# start_server NAME EXTRA_ARGS...: starts server.py, waits for its port file.
start_server() {
    local name=$1; shift
    python3 "$here/server.py" --cert "$certs/server.pem" --key "$certs/server.key" \
        --port-file "$work/$name.port" --log "$work/$name.log" "$@" \
        >"$work/$name.stdout" 2>"$work/$name.stderr" &
    pids+=("$!")
    local i
    for i in $(seq 100); do
        [ -s "$work/$name.port" ] && return 0
        sleep 0.05
    done
    echo "server $name did not start" >&2
    cat "$work/$name.stderr" >&2
    exit 1
}

mkdir -p "$work/gitroot"
git init -q --bare -b main "$work/gitroot/repo.git"
printf '%s\n' "$token" >"$work/token"

start_server open --plain-port-file "$work/open.plainport" --git-root "$work/gitroot"
start_server auth --git-root "$work/gitroot" --git-require-auth "$work/token"
port=$(cat "$work/open.port")
plain=$(cat "$work/open.plainport")
aport=$(cat "$work/auth.port")
base="https://localhost:$port"
c() { curl -sS --fail --cacert "$ca" "$@"; }

# --- curl ---------------------------------------------------------------------
c -H "X-Canary: $canary" -H "Authorization: Bearer $canary" -D "$work/echo.hdr" \
    -o "$work/echo.body" --data-binary "body-$canary" "$base/echo"
check "echo: header echoed in body" grep -qx "X-Canary: $canary" "$work/echo.body"
check "echo: request line" grep -qx "POST /echo HTTP/1.1" "$work/echo.body"
check "echo: body echoed" sh -c "tail -c ${#canary} '$work/echo.body' | grep -qx -- '$canary'"
check "echo: X-Echo-Authorization" grep -qi "^X-Echo-Authorization: Bearer $canary" "$work/echo.hdr"

c -o "$work/echo-sub.body" "$base/echo/named-call"
check "echo: a named call (/echo/...)" grep -qx "GET /echo/named-call HTTP/1.1" "$work/echo-sub.body"

c --compressed -H "X-Canary: $canary" -D "$work/gz.hdr" -o "$work/gz.body" "$base/gzip-echo"
check "gzip-echo: Content-Encoding gzip" grep -qi '^Content-Encoding: gzip' "$work/gz.hdr"
check "gzip-echo: decodes to echo" grep -qx "X-Canary: $canary" "$work/gz.body"
# Adversarial: gzip even when the client did not ask for it.
c -o "$work/gz.raw" -H 'Accept-Encoding: identity' "$base/gzip-echo"
check "gzip-echo: gzip despite identity" sh -c "gzip -dc '$work/gz.raw' | grep -q '^GET /gzip-echo'"

code=$(c -o /dev/null -D "$work/redir.hdr" -w '%{http_code}' "$base/redirect?to=https%3A%2F%2Fupstream.localhost%2Fecho")
check "redirect: 307" test "$code" = 307
check "redirect: Location" grep -qi '^Location: https://upstream.localhost/echo' "$work/redir.hdr"

n=$(c "$base/big?bytes=10000000" | wc -c)
check "big: exactly 10000000 bytes" test "$n" -eq 10000000
n=$(c "$base/big?bytes=1234567&chunked=1" | wc -c)
check "big: chunked exactly 1234567 bytes" test "$n" -eq 1234567

c --http1.1 -v -o "$work/ka1" -o "$work/ka2" "$base/small" "$base/record" 2>"$work/ka.err"
check "keep-alive: connection re-used" grep -q 'Re-using existing connection' "$work/ka.err"
check "keep-alive: both bodies ok" test "$(cat "$work/ka1" "$work/ka2")" = "$(printf 'ok\nok')"
check "ALPN: http/1.1" grep -q 'ALPN: server accepted http/1.1' "$work/ka.err"

check "upstream.localhost SAN" c -o /dev/null --resolve "upstream.localhost:$port:127.0.0.1" "https://upstream.localhost:$port/small"
check "127.0.0.1 SAN" c -o /dev/null "https://127.0.0.1:$port/small"
check "plain listener" sh -c "curl -sS --fail http://127.0.0.1:$plain/small | grep -qx ok"

# Chunked request body is de-chunked (echo and the log see the plain body).
printf 'chunky-%s' "$canary" >"$work/chunk.in"
c -H 'Transfer-Encoding: chunked' --data-binary "@$work/chunk.in" -o "$work/chunk.out" "$base/echo"
check "chunked request body" sh -c "tail -c $((${#canary} + 7)) '$work/chunk.out' | grep -qx -- 'chunky-$canary'"
check "sink counts bytes" sh -c "head -c 3000000 /dev/zero | curl -sS --fail --cacert '$ca' --data-binary @- '$base/sink' | grep -qx 3000000"
code=$(c -o /dev/null -w "%{http_code}" "$base/nope" 2>/dev/null || true)
check "unknown path 404" test "$code" = 404

# --- Python ---------------------------------------------------------------------
check "python urllib" python3 - "$base" "$ca" "$canary" <<'EOF'
import ssl, sys, urllib.request
base, ca, canary = sys.argv[1:]
ctx = ssl.create_default_context(cafile=ca)
req = urllib.request.Request(base + "/echo", headers={"X-Canary": canary})
with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
    assert r.status == 200
    assert f"X-Canary: {canary}" in r.read().decode()
EOF
if python3 -c 'import requests' 2>/dev/null; then
check "python requests" python3 - "$base" "$ca" "$canary" <<'EOF'
import sys, requests
base, ca, canary = sys.argv[1:]
s = requests.Session()
r = s.get(base + "/gzip-echo", headers={"X-Canary": canary}, verify=ca, timeout=10)
assert r.status_code == 200 and f"X-Canary: {canary}" in r.text, r.status_code
r = s.post(base + "/echo", data=b"x" * 100, verify=ca, timeout=10,
           auth=("user", canary))
assert r.text.endswith("x" * 100) and r.headers["X-Echo-Authorization"].startswith("Basic ")
EOF
fi

# --- Node ---------------------------------------------------------------------------
check "node fetch" env NODE_EXTRA_CA_CERTS="$ca" node -e '
const [base, canary] = process.argv.slice(1);
(async () => {
  const r = await fetch(base + "/echo", { headers: { "X-Canary": canary } });
  const t = await r.text();
  if (r.status !== 200 || !t.includes("X-Canary: " + canary)) process.exit(1);
  const g = await fetch(base + "/gzip-echo", { headers: { "X-Canary": canary } });
  if (!(await g.text()).includes("X-Canary: " + canary)) process.exit(2);
  const b = await fetch(base + "/big?bytes=1000000");
  if ((await b.arrayBuffer()).byteLength !== 1000000) process.exit(3);
})().catch(() => process.exit(4));
' "$base" "$canary"

# --- git ----------------------------------------------------------------------------
g() { git -c http.sslCAInfo="$ca" -c credential.helper= -c user.name=t \
          -c user.email=t@example.invalid -c init.defaultBranch=main "$@"; }
url="https://x:$token@localhost:$port/git/repo.git"
check "git clone (empty)" g clone -q "$url" "$work/c1"
echo "hello from git" >"$work/c1/hello.txt"
# > http.postBuffer (1 MiB), so the push body is sent chunked.
head -c 2000000 /dev/urandom >"$work/c1/big.bin"
commit_all() { g -C "$1" add . && g -C "$1" commit -qm "$2"; }
check "git commit" commit_all "$work/c1" first
check "git push (chunked)" g -C "$work/c1" push -q origin HEAD:main
check "git clone again" g clone -q "$url" "$work/c2"
check "git: file present" grep -qx "hello from git" "$work/c2/hello.txt"

aurl="localhost:$aport/git/repo.git"
if g clone -q "https://x:wrong-$token@$aurl" "$work/c3" >"$work/c3.err" 2>&1; then
    fail "git auth: wrong password rejected"
else
    pass "git auth: wrong password rejected"
fi
if g clone -q "https://localhost:$aport/git/repo.git" "$work/c3b" >"$work/c3b.err" 2>&1; then
    fail "git auth: no credentials rejected"
else
    pass "git auth: no credentials rejected"
fi
check "git auth: right password clones" g clone -q "https://x:$token@$aurl" "$work/c4"
check "git auth: file present" grep -qx "hello from git" "$work/c4/hello.txt"
echo more >>"$work/c4/hello.txt"
check "git auth: commit" commit_all "$work/c4" second
check "git auth: push" g -C "$work/c4" push -q

# --- request log ----------------------------------------------------------------------
check "log: JSON lines as expected" python3 - "$work/open.log" "$work/auth.log" "$canary" "$token" <<'EOF'
import base64, json, sys
open_log, auth_log, canary, token = sys.argv[1:]
recs = [json.loads(l) for l in open(open_log)]
need = {"path", "method", "headers", "body"}
assert all(need <= r.keys() for r in recs)
assert all(k == k.lower() for r in recs for k in r["headers"])
echo = [r for r in recs if r["path"] == "/echo" and r["headers"].get("x-canary") == canary]
assert echo and echo[0]["method"] == "POST" and echo[0]["body"] == "body-" + canary
assert echo[0]["headers"]["authorization"] == "Bearer " + canary
assert any(r["path"] == "/record" for r in recs)
assert any(r["body"] == "chunky-" + canary for r in recs)  # de-chunked
pushes = [r for r in recs if r["path"].endswith("/git-receive-pack")]
assert any(r["headers"].get("transfer-encoding") == "chunked" for r in pushes)
auth = [json.loads(l) for l in open(auth_log)]
basic = "Basic " + base64.b64encode(f"x:{token}".encode()).decode()
assert any(r["headers"].get("authorization") == basic for r in auth)
# git sends no credentials before the first 401.
assert "authorization" not in auth[0]["headers"]
EOF

# Nothing request-derived may reach the server's stdout/stderr.
for s in open auth; do
    if grep -qF -e "$canary" -e "$token" "$work/$s.stdout" "$work/$s.stderr"; then
        fail "server $s: canary/token on stdout/stderr"
    else
        pass "server $s: no canary/token on stdout/stderr"
    fi
done

if [ "$fails" -ne 0 ]; then
    echo "$fails check(s) failed"
    exit 1
fi
echo "all upstream self-checks passed"
