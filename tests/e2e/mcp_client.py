#!/usr/bin/env python3
"""ClauLock's MCP server driven by the official MCP Python SDK, with the
value-entry page driven by a real headless Chromium (Selenium).

Usage: mcp_client.py CLAULOCK WORKDIR
The vault in WORKDIR/home must be unlocked and hold API_TOKEN (see
tests/mcp_test.sh). Every response, elicitation message and the server's
stderr are written under WORKDIR/transcript for the canary scan that
follows. Prints one line per check; exits 1 if any failed.
"""
import http.cookiejar
import http.server
import json
import os
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import anyio
import mcp.types as types
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

CLAULOCK, WORK = sys.argv[1], sys.argv[2]
HOME = os.path.join(WORK, "home")
OUT = os.path.join(WORK, "transcript")
os.makedirs(OUT, exist_ok=True)
CANARIES = dict(line.strip().split("=", 1) for line in open(os.path.join(WORK, "canaries")) if "=" in line)
FAILED = []


def check(ok, what):
    print(("  ok   " if ok else "  FAIL ") + what, flush=True)
    if not ok:
        FAILED.append(what)


def record(name, obj):
    with open(os.path.join(OUT, "responses.jsonl"), "a") as f:
        f.write(json.dumps({"step": name, "data": obj}, default=str) + "\n")


# A loopback HTTPS destination that records what reaches it (never
# printed). Its certificate is the test CA's (tests/upstream/make_certs.sh),
# which the agent trusts through CLAULOCK_EXTRA_CA_FILE: the secrets have
# allowed hosts, so the proxy delivers them, over TLS only.
RECEIVED = []


class Dest(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        RECEIVED.append(self.headers.get("Authorization", ""))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *a):
        pass


dest = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Dest)
_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
_certs = os.path.join(WORK, "certs")
_tls.load_cert_chain(os.path.join(_certs, "server.pem"), os.path.join(_certs, "server.key"))
dest.socket = _tls.wrap_socket(dest.socket, server_side=True)
threading.Thread(target=dest.serve_forever, daemon=True).start()
DEST_PORT = dest.server_address[1]


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              f"--user-data-dir={WORK}/chromium-profile"]:
        opts.add_argument(a)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)


def fill_in_browser(url, value):
    """Opens the entry page in Chromium, types the value, submits; returns
    the result page's heading and the page's CSP header as seen by a fetch."""
    from selenium.webdriver.common.by import By
    d = browser()
    try:
        d.get(url)
        field = d.find_element(By.ID, "value")
        field.send_keys(value)
        d.find_element(By.ID, "store").click()
        for _ in range(50):
            heading = d.find_element(By.TAG_NAME, "h1").text
            if heading != "ClauLock: enter a secret":
                return heading
            time.sleep(0.1)
        return heading
    finally:
        d.quit()


def http_get(url, opener=None):
    opener = opener or urllib.request.build_opener()
    try:
        with opener.open(url, timeout=10) as r:
            return r.status, r.read().decode(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), dict(e.headers)


def http_post(url, fields, opener=None, origin=None):
    opener = opener or urllib.request.build_opener()
    req = urllib.request.Request(url, data=urllib.parse.urlencode(fields).encode(), method="POST",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    if origin:
        req.add_header("Origin", origin)
    try:
        with opener.open(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def exec_curl(name):
    cmd = f'curl -s -o /dev/null -H "Authorization: Bearer {{{{{name}}}}}" https://127.0.0.1:{DEST_PORT}/'
    return subprocess.run([CLAULOCK, "exec", "-c", cmd], env=dict(os.environ, CLAULOCK_HOME=HOME),
                          capture_output=True, timeout=60)


class FormOnlySession(ClientSession):
    """A client that declares form elicitation only (as Claude Code 2.1 does)."""

    def _build_capabilities(self, version):
        caps = super()._build_capabilities(version)
        caps.elicitation = types.ElicitationCapability(form=types.FormElicitationCapability())
        return caps


ELICITATIONS = []


async def url_elicitation(ctx, params):
    """A URL-mode client whose user enters NEW_TOKEN's value in Chromium."""
    ELICITATIONS.append(params)
    record("elicitation", params.model_dump())
    if isinstance(params, types.ElicitRequestURLParams):
        heading = await anyio.to_thread.run_sync(fill_in_browser, params.url, CANARIES["NEW_TOKEN"])
        record("browser", heading)
        return types.ElicitResult(action="accept")
    return types.ElicitResult(action="decline")


async def form_elicitation(ctx, params):
    ELICITATIONS.append(params)
    record("elicitation", params.model_dump())
    return types.ElicitResult(action="decline")


def server(env=None):
    return StdioServerParameters(command=CLAULOCK, args=["mcp"], cwd=WORK,
                                 env=dict(os.environ, CLAULOCK_HOME=HOME, **(env or {})))


async def call(s, tool, args):
    r = await s.call_tool(tool, args)
    record(tool, r.model_dump())
    return r


async def secret_run_checks(s):
    """secret_run: the hooked shell's policy, delivery and scrubbing."""
    proj = os.path.join(WORK, "runproj")
    os.makedirs(proj, exist_ok=True)
    with open(os.path.join(proj, "secret.env"), "w") as f:
        f.write(f"API_TOKEN={CANARIES['API_TOKEN']}\nDEBUG=1\n")
    url = f"https://127.0.0.1:{DEST_PORT}/"

    async def run(command, **extra):
        r = await call(s, "secret_run", dict({"command": command, "cwd": proj}, **extra))
        return r, (r.structured_content or {})

    before = len(RECEIVED)
    r, sc = await run(f"curl -s -o /dev/null -w 'status=%{{http_code}}' -H \"Authorization: Bearer {{{{API_TOKEN}}}}\" {url}")
    check(not r.is_error and sc.get("refused") is None and sc.get("exit_code") == 0 and "status=204" in sc.get("stdout", ""),
          f"secret_run: a placeholder call runs and reports its output and exit status ({sc.get('exit_code')})")
    check(RECEIVED[before:] == ["Bearer " + CANARIES["API_TOKEN"]],
          "secret_run: the destination got the real value (by the agent's proxy)")
    r, sc = await run("echo {{API_TOKEN}}")
    check(not r.is_error and sc.get("refused") and "nothing ran" in sc["refused"] and not sc.get("stdout"),
          "secret_run: printing a placeholder is refused, nothing runs")
    before = len(RECEIVED)
    r, sc = await run(f"wget -q -O /dev/null --header \"X: {{{{API_TOKEN}}}}\" {url}")
    check(sc.get("refused") and "program-allowlist" in sc["refused"] and RECEIVED[before:] == [],
          "secret_run: a program outside the allowlist is refused with the rule")
    r, sc = await run(f"curl -sk -H \"X: {{{{API_TOKEN}}}}\" https://localhost:{DEST_PORT}/")
    check(sc.get("refused") and "host" in sc["refused"] and RECEIVED[before:] == [],
          "secret_run: a host outside the allowlist is refused")
    r, sc = await run("cat secret.env")
    check(sc.get("exit_code") == 0 and "[REDACTED:API_TOKEN" in sc.get("stdout", "") and "DEBUG=1" in sc["stdout"],
          "secret_run: a plain command's output comes back scrubbed")
    r, sc = await run("base64 secret.env")
    check(sc.get("refused") and "re-encodes" in sc["refused"], "secret_run: re-encoding a file that holds a value is refused")
    r, sc = await run("echo oops >&2; exit 7")
    check(sc.get("exit_code") == 7 and "oops" in sc.get("stderr", ""), "secret_run: exit status and stderr come through")
    r, sc = await run("pwd", cwd="/tmp")
    check(sc.get("stdout", "").strip() == "/tmp", "secret_run: runs in the given directory")
    started = time.monotonic()
    r, sc = await run("sleep 30; echo late", timeout_secs=1)
    took = time.monotonic() - started
    check(sc.get("timed_out") is True and "late" not in sc.get("stdout", "") and took < 10,
          f"secret_run: killed at its timeout ({took:.1f} s)")
    r, sc = await run("echo x", cwd="/nonexistent-dir")
    check(r.is_error and "not a directory" in r.content[0].text, "secret_run: a missing directory is an error")


async def main():
    errlog = open(os.path.join(OUT, "server-stderr.txt"), "w")
    # 1. The 2025-11-25 handshake, a URL-mode client, every tool.
    async with stdio_client(server(), errlog=errlog) as (r, w):
        async with ClientSession(r, w, elicitation_callback=url_elicitation) as s:
            init = await s.initialize()
            check(init.protocol_version in ("2025-11-25", "2025-06-18"), f"initialize: protocol {init.protocol_version}")
            tools = {t.name: t for t in (await s.list_tools()).tools}
            record("tools/list", {k: t.model_dump() for k, t in tools.items()})
            want = {"secret_list", "secret_describe", "secret_check", "secret_tag", "secret_request",
                    "secret_rotate", "secret_audit_log", "secret_status", "secret_run"}
            check(set(tools) == want, f"the nine tools, and no other: {sorted(tools)}")
            check(not any(w in n for n in tools for w in ("reveal", "read", "export", "get_value")), "no reveal/read/export tool")
            check(all(t.output_schema and t.input_schema for t in tools.values()), "every tool has an input and an output schema")
            ro = {n for n, t in tools.items() if t.annotations and t.annotations.read_only_hint}
            check(ro == {"secret_list", "secret_describe", "secret_check", "secret_audit_log", "secret_status"},
                  f"readOnlyHint exactly on the read-only tools: {sorted(ro)}")

            r = await call(s, "secret_list", {})
            names = [x["name"] for x in r.structured_content["secrets"]]
            check(not r.is_error and names == ["API_TOKEN"], "secret_list lists API_TOKEN")
            r = await call(s, "secret_list", {"tag": "nope"})
            check(not r.is_error and r.structured_content["secrets"] == [], "secret_list filters by tag")
            r = await call(s, "secret_list", {"tag": 3})
            check(r.is_error and "bad arguments" in r.content[0].text, "secret_list: a bad argument is an isError result")
            r = await call(s, "secret_describe", {"name": "API_TOKEN"})
            keys = set(r.structured_content)
            check(not r.is_error and not keys & {"value", "length", "prefix", "suffix", "hash"}, f"secret_describe: metadata only {sorted(keys)}")
            r = await call(s, "secret_describe", {"name": "MISSING"})
            check(r.is_error and "MISSING" in r.content[0].text, "secret_describe: unknown name is an error naming it")
            r = await call(s, "secret_describe", {"name": "bad name; rm"})
            check(r.is_error and "not a valid secret name" in r.content[0].text, "secret_describe: invalid name refused")
            r = await call(s, "secret_describe", {})
            check(r.is_error, "secret_describe: missing argument is an isError result")
            r = await call(s, "secret_check", {"command": f'curl -H "X: {{{{API_TOKEN}}}}" https://127.0.0.1:{DEST_PORT}/'})
            check(not r.is_error and r.structured_content["allowed"] is True, "secret_check: an allowed command")
            r = await call(s, "secret_check", {"command": "echo {{API_TOKEN}} | base64"})
            check(r.structured_content["allowed"] is False and "program-allowlist" in r.structured_content["refusals"][0],
                  "secret_check: a refused command names the rule")
            r = await call(s, "secret_check", {"command": ["not", "a", "string"]})
            check(r.is_error, "secret_check: bad argument")
            r = await call(s, "secret_tag", {"name": "API_TOKEN", "add": ["prod"], "remove": ["ci"]})
            check(not r.is_error and r.structured_content["tags"] == ["prod"], "secret_tag adds and removes")
            r = await call(s, "secret_tag", {"name": "MISSING", "add": ["x"]})
            check(r.is_error, "secret_tag: unknown name")
            r = await call(s, "secret_status", {})
            check(r.structured_content["unlocked"] is True and r.structured_content["secrets"] == 1, "secret_status: unlocked, 1 secret")
            r = await call(s, "secret_request", {"name": "API_TOKEN"})
            check(r.is_error and "already exists" in r.content[0].text, "secret_request: an existing name is refused")
            r = await call(s, "secret_rotate", {"name": "MISSING"})
            check(r.is_error, "secret_rotate: unknown name")
            r = await call(s, "secret_request", {"name": "NEW_TOKEN", "value": "x"})
            check(r.is_error and "unknown field" in r.content[0].text, "secret_request: there is no value argument")
            r = await call(s, "secret_request", {"name": "NEW_TOKEN", "from": "team:secret/app#password"})
            check(r.is_error and "no source named team" in r.content[0].text,
                  "secret_request from a source that is not there: refused, naming it")

            # The elicitation flow: URL mode, the value typed in Chromium.
            r = await call(s, "secret_request", {"name": "NEW_TOKEN", "allow_hosts": ["127.0.0.1"], "allow_programs": ["curl"]})
            sc = r.structured_content
            check(not r.is_error and sc["state"] == "stored", f"secret_request with URL elicitation: {sc['state']}")
            url_params = [p for p in ELICITATIONS if isinstance(p, types.ElicitRequestURLParams)]
            check(len(url_params) == 1 and url_params[0].url.startswith("http://127.0.0.1:"), "one URL elicitation, to a loopback page")
            page_url = url_params[0].url if url_params else sc["url"]
            out = exec_curl("NEW_TOKEN")
            check(out.returncode == 0 and RECEIVED[-1:] == ["Bearer " + CANARIES["NEW_TOKEN"]],
                  "claulock exec delivers the value entered in the browser to a loopback server")
            status, body, _ = http_get(page_url)
            check(status == 410, f"the used page is refused on reuse (GET {status})")
            status, _ = http_post(page_url, {"csrf": "x", "value": "y"})
            check(status == 410, f"the used page is refused on reuse (POST {status})")

            r = await call(s, "secret_audit_log", {"secret": "NEW_TOKEN"})
            ev = r.structured_content["events"]
            check(not r.is_error and any(e["action"] == "add" for e in ev) and all(e["secret"] == "NEW_TOKEN" for e in ev),
                  "secret_audit_log filters by secret and shows the add")
            r = await call(s, "secret_audit_log", {"action": "resolve", "limit": 1})
            check(len(r.structured_content["events"]) == 1 and r.structured_content["events"][0]["action"] == "resolve",
                  "secret_audit_log filters by action, with a limit")
            r = await call(s, "secret_audit_log", {"limit": "ten"})
            check(r.is_error, "secret_audit_log: bad argument")
            await secret_run_checks(s)

    # 2. A form-only client (Claude Code 2.1): consent only, never the value.
    ELICITATIONS.clear()
    async with stdio_client(server({"CLAULOCK_ENTRY_TTL": "3"}), errlog=errlog) as (r, w):
        async with FormOnlySession(r, w, elicitation_callback=form_elicitation) as s:
            await s.initialize()
            r = await call(s, "secret_rotate", {"name": "API_TOKEN"})
            forms = [p for p in ELICITATIONS if isinstance(p, types.ElicitRequestFormParams)]
            props = forms[0].requested_schema.get("properties", {}) if forms else {}
            check(len(forms) == 1 and set(props) == {"entered"} and props["entered"].get("type") == "boolean",
                  f"form-only client: a consent form, no value field ({sorted(props)})")
            check(forms and "http://127.0.0.1:" in forms[0].message and "claulock rotate API_TOKEN" in forms[0].message,
                  "the form shows the loopback page and the terminal command")
            check(r.structured_content["state"] == "declined", "declined consent is reported")
            page = r.structured_content["url"]

            # The page's defences.
            jar = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
            status, body, headers = http_get(page, jar)
            csp = headers.get("Content-Security-Policy", "")
            check(status == 200 and "default-src 'none'" in csp and "form-action 'self'" in csp, "the page has a strict CSP")
            check("<script" not in body and "http" not in body.replace(page.split("/enter")[0], ""), "no script, no third-party resource")
            csrf = body.split('name="csrf" value="')[1].split('"')[0]
            status, _, _ = http_get(page)
            check(status == 409, f"a second browser is refused (GET {status})")
            status, _ = http_post(page, {"csrf": csrf, "value": "planted"})
            check(status == 409, f"a POST without the first browser's cookie is refused ({status})")
            status, _ = http_post(page, {"csrf": "0" * 64, "value": "planted"}, jar)
            check(status == 403, f"a POST with a wrong CSRF field is refused ({status})")
            status, _ = http_post(page, {"csrf": csrf, "value": "planted"}, jar, origin="http://evil.example")
            check(status == 403, f"a POST from another origin is refused ({status})")
            time.sleep(3.5)
            status, _ = http_post(page, {"csrf": csrf, "value": "planted"}, jar)
            check(status == 410, f"an expired page is refused ({status})")
            r = await call(s, "secret_rotate", {"name": "API_TOKEN"})
            page2 = r.structured_content["url"]
            jar2 = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
            status, body, _ = http_get(page2, jar2)
            csrf2 = body.split('name="csrf" value="')[1].split('"')[0]
            status, body = http_post(page2, {"csrf": csrf2, "value": CANARIES["ROTATED"] + "\n"}, jar2)
            check(status == 200 and "is stored" in body, "the same page stores a rotated value")
            out = exec_curl("API_TOKEN")
            check(RECEIVED[-1:] == ["Bearer " + CANARIES["ROTATED"]], "exec delivers the rotated value")

    # 3. A client that probes with the 2026 `server/discover` first.
    async with stdio_client(server(), errlog=errlog) as (r, w):
        async with ClientSession(r, w) as s:
            try:
                d = await s.discover()
                how = "discover " + ",".join(d.supported_versions)
            except Exception as e:  # noqa: BLE001 - falling back is the point
                how = f"discover refused ({type(e).__name__}), then initialize"
                await s.initialize()
            r = await call(s, "secret_list", {})
            check(not r.is_error and len(r.structured_content["secrets"]) == 2, f"server/discover first, then a working session ({how})")
            r = await call(s, "secret_request", {"name": "LATER_TOKEN"})
            check(not r.is_error and r.structured_content["state"] == "pending" and "claulock add LATER_TOKEN" in r.structured_content["message"],
                  "without elicitation, secret_request says how to finish")

    # 4. Raw JSON-RPC: the 2025-06-18 handshake, and a `server/discover`
    #    probe followed by a 2025-11-25 initialize on the same connection.
    def raw_session(messages):
        p = subprocess.Popen([CLAULOCK, "mcp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errlog,
                             env=dict(os.environ, CLAULOCK_HOME=HOME), text=True)
        answers = []
        for m in messages:
            p.stdin.write(json.dumps(m) + "\n")
            p.stdin.flush()
            if "id" in m:
                answers.append(json.loads(p.stdout.readline()))
        p.stdin.close()
        p.wait(timeout=10)
        record("raw", answers)
        return answers

    def init(version, i):
        return {"jsonrpc": "2.0", "id": i, "method": "initialize", "params": {
            "protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}}
    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    tools_list = {"jsonrpc": "2.0", "id": 9, "method": "tools/list", "params": {}}
    a = raw_session([init("2025-06-18", 1), initialized, tools_list])
    check(a[0].get("result", {}).get("protocolVersion") == "2025-06-18" and len(a[1]["result"]["tools"]) == 9,
          "a 2025-06-18 client: the version is accepted and tools/list works")
    discover = {"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {}}
    a = raw_session([discover, init("2025-11-25", 2), initialized, tools_list])
    check(("result" in a[0] or "error" in a[0]) and a[1].get("result", {}).get("protocolVersion") == "2025-11-25"
          and len(a[2]["result"]["tools"]) == 9,
          "a server/discover probe, then initialize: a working 2025-11-25 session")

    # 5. A locked vault.
    subprocess.run([CLAULOCK, "lock"], env=dict(os.environ, CLAULOCK_HOME=HOME), check=True, capture_output=True)
    async with stdio_client(server(), errlog=errlog) as (r, w):
        async with ClientSession(r, w) as s:
            await s.initialize()
            r = await call(s, "secret_list", {})
            check(r.is_error and "claulock unlock" in r.content[0].text, "locked: tools say to run `claulock unlock` in a terminal")
            r = await call(s, "secret_status", {})
            check(r.structured_content["unlocked"] is False and "claulock unlock" in r.structured_content["hint"], "locked: secret_status says so")
            r = await call(s, "secret_run", {"command": "cat runproj/secret.env"})
            sc = r.structured_content or {}
            check(sc.get("refused") and "claulock unlock" in sc["refused"] and not sc.get("stdout"),
                  "locked: secret_run refuses even a plain command (its output could not be scrubbed)")
    errlog.close()
    print(f"  tally: {len(FAILED)} failed")
    sys.exit(1 if FAILED else 0)


anyio.run(main)
