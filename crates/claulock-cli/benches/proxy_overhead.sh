#!/usr/bin/env bash
# Whole-process cost of proxy delivery against a direct request, in one
# run, with the same curl against the same loopback HTTPS server
# (tests/upstream/server.py, a test CA):
#   1. latency of a small request (`/small`), as curl itself times it: N
#      requests on one keep-alive connection, direct (curl trusts the test
#      CA) and through `claulock exec` with `{{T}}` in a header (the proxy
#      intercepts, swaps the header, forwards over its own TLS connection
#      and scrubs the response); the median of requests 2..N (warm), and
#      the first (connection set-up: CONNECT, two TLS handshakes);
#   2. throughput of a 100 MB download (`/big`), direct and through the
#      proxy (decoded and scrubbed as it streams).
# The server (Python, one thread per connection) bounds both paths alike.
#
#   bash crates/claulock-cli/benches/proxy_overhead.sh [N]   (default 200)
set -euo pipefail
cd "$(dirname "$0")/../../.."
n=${1:-200}
cargo build -q --release -p claulock-cli --bins
bin=$PWD/target/release/claulock
work=$(mktemp -d)
server_pid=
trap 'CLAULOCK_HOME=$work/home "$bin" lock >/dev/null 2>&1 || true; [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"' EXIT
unset GIT_SSL_CAINFO CURL_CA_BUNDLE SSL_CERT_FILE REQUESTS_CA_BUNDLE NODE_EXTRA_CA_CERTS \
  HTTPS_PROXY https_proxy HTTP_PROXY http_proxy ALL_PROXY all_proxy
bash tests/upstream/make_certs.sh "$work/certs"
python3 tests/upstream/server.py --cert "$work/certs/server.pem" --key "$work/certs/server.key" \
  --port-file "$work/port" >/dev/null 2>&1 &
server_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
port=$(cat "$work/port")
export CLAULOCK_HOME=$work/home
printf 'bench-passphrase' | "$bin" init --passphrase-stdin >/dev/null
printf 'bench-passphrase' | CLAULOCK_EXTRA_CA_FILE=$work/certs/ca.pem "$bin" unlock --passphrase-stdin >/dev/null
printf 'ghp_BENCHtoken0123456789abcdefghijklmnopqrstu' | "$bin" add T --allow-host localhost >/dev/null

# The direct curl trusts the same bundle the proxied one gets (the system's
# roots, the test CA, the proxy's CA): loading ~150 roots costs curl tens
# of milliseconds per process, which is not the proxy's.
bundle=$CLAULOCK_HOME/proxy-ca-bundle.pem
urls() { for _ in $(seq 1 "$n"); do printf ' -o /dev/null https://localhost:%s/small' "$port"; done; }
# One line per request: time_total in seconds.
fmt="-w %{time_total}\\n"
direct=$(curl -sS --cacert "$bundle" -H 'Authorization: Bearer direct' $fmt $(urls))
proxied=$("$bin" exec -c "curl -sS -H 'Authorization: Bearer {{T}}' -w '%{time_total}\n' $(urls)")
median_ms() { tail -n +2 | sort -n | awk '{a[NR]=$1} END {printf "%.3f", a[int((NR+1)/2)] * 1000}'; }
first_ms() { head -1 | awk '{printf "%.3f", $1 * 1000}'; }
d_warm=$(echo "$direct" | median_ms); p_warm=$(echo "$proxied" | median_ms)
d_cold=$(echo "$direct" | first_ms); p_cold=$(echo "$proxied" | first_ms)
echo "small request, warm (median of $((n - 1))): direct ${d_warm} ms, through the proxy ${p_warm} ms," \
  "added $(echo "$p_warm - $d_warm" | bc) ms, x$(echo "scale=2; $p_warm / $d_warm" | bc)"
echo "small request, first (connection set-up): direct ${d_cold} ms, through the proxy ${p_cold} ms," \
  "x$(echo "scale=2; $p_cold / $d_cold" | bc)"

big=100000000
agent=$("$bin" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["agent_pid"])')
rss() { awk '/^VmHWM/ {print $2}' "/proc/$agent/status"; }
before=$(rss)
d_speed=$(curl -sS --cacert "$bundle" -o /dev/null -w '%{speed_download}' "https://localhost:$port/big?bytes=$big")
p_speed=$("$bin" exec -c "curl -sS -H 'Authorization: Bearer {{T}}' -o /dev/null -w '%{speed_download}' 'https://localhost:$port/big?bytes=$big'")
mb() { echo "scale=1; $1 / 1000000" | bc; }
echo "100 MB download: direct $(mb "$d_speed") MB/s, through the proxy $(mb "$p_speed") MB/s," \
  "x$(echo "scale=2; $p_speed / $d_speed" | bc) of direct"
echo "agent peak resident memory: ${before} kB before the downloads, $(rss) kB after (the peak is the unlock's Argon2id; the bodies stream)"
grep -c 'resolve T caller=proxy' "$CLAULOCK_HOME/audit.log" | sed 's/^/proxy resolves audited: /'
