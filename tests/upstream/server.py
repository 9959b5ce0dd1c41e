#!/usr/bin/env python3
"""Test upstream server for ClauLock's egress MITM proxy end-to-end tests.

Real clients (curl, git, Python, Node) talk to this server *through* the
proxy, and the tests then check what actually arrived here (the request log)
and what the client got back (the responses).

Standard library only (Python 3.11).

Usage:
    server.py --cert C --key K --port-file F [--log L] [--plain-port-file F2]
              [--git-root DIR] [--git-require-auth TOKEN_FILE]

The HTTPS listener (and, with --plain-port-file, a plain-HTTP listener serving
the same handlers) bind to 127.0.0.1 on random ports. The port numbers are
written atomically (tmp file + rename) once the sockets are listening; F2 is
written before F, so once F exists everything is up. SIGTERM/SIGINT stop it.

Endpoints (any method unless stated; path matching ignores the query string):
    /echo, /echo/...   200 text/plain: request line, every header as received
                       ("Name: value" lines), blank line, request body.
                       (A suffix such as /echo/legit-1 names the call in
                       the log.)
                       The Authorization header(s) are echoed back in
                       X-Echo-Authorization response header(s).
    /gzip-echo         same body as /echo, always gzip-compressed with
                       Content-Encoding: gzip (ignores Accept-Encoding).
    /redirect?to=URL   307 with Location: URL.
    /record            200 "ok\\n" (the request is logged, like every request).
    /big?bytes=N       N bytes of pseudo-random printable data, streamed with
                       Content-Length (or chunked with &chunked=1).
    /small             200 "ok\\n".
    /slow?ms=N         200 "ok\\n" after N milliseconds (at most 30 s).
    /sink              reads and discards the request body without buffering
                       it; 200 with the byte count (upload benchmarks).
    /git/...           git smart HTTP via `git http-backend` (CGI) serving
                       --git-root; pushes are enabled. With --git-require-auth
                       Basic auth is required whose password equals the
                       contents of TOKEN_FILE (re-read on every request,
                       trailing CR/LF ignored), else 401 + WWW-Authenticate.
    anything else      404.

Every request (including to /record and /git) is appended to the log file
--log as one JSON line, once its body has been read and before the response:
    {"path": raw request target, "method": ..., "headers": {lowercased name:
     value, duplicates joined with ", "}, "body": body as latin-1 string,
     "raw_headers": [[Name, value], ...] in order received, "body_len": N,
     "scheme": "https"|"http", "query": raw query string, "time": epoch secs}

Request headers, bodies and URLs are never written to stdout/stderr: they
carry test canaries. Only the log file sees them.
"""

import argparse
import base64
import gzip
import hmac
import http.server
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse

# Seconds a client gets to finish the TLS handshake.
HANDSHAKE_TIMEOUT = 10
# Seconds of socket inactivity after which a connection is dropped.
IDLE_TIMEOUT = 120
# Streaming block size for /big, /sink and git output.
BLOCK = 64 * 1024
# Hop-by-hop headers that must not be copied from CGI output.
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "upgrade",
              "proxy-connection", "te", "trailer"}
# Request headers never passed to the git CGI as HTTP_* variables.
CGI_SKIP_HEADERS = {"authorization", "proxy-authorization", "content-type",
                    "content-length", "transfer-encoding", "connection"}


class BadRequest(Exception):
    """The request framing (Content-Length / chunked) is malformed."""


class Config:
    """Settings shared by all listeners and handler threads."""

    def __init__(self, args):
        self.log_path = args.log
        self.git_root = os.path.abspath(args.git_root) if args.git_root else None
        self.git_token_file = args.git_require_auth
        self.git_bin = shutil.which("git")
        self._log_lock = threading.Lock()
        self._log_file = open(args.log, "a", encoding="ascii") if args.log else None

    def log(self, record):
        """Append one JSON record as a line to the log file (thread-safe)."""
        if self._log_file is None:
            return
        line = json.dumps(record, ensure_ascii=True) + "\n"
        with self._log_lock:
            self._log_file.write(line)
            self._log_file.flush()


class UpstreamServer(http.server.ThreadingHTTPServer):
    """Threaded HTTP server; with an SSL context, each connection is wrapped
    (and its handshake run) in its own worker thread, so a slow or broken
    client never blocks the accept loop."""

    daemon_threads = True
    allow_reuse_address = True
    # Benchmarks may open many connections at once; the default backlog of 5
    # would drop SYNs and add 1 s retransmit stalls.
    request_queue_size = 256

    def __init__(self, cfg, ssl_ctx):
        self.cfg = cfg
        self.ssl_ctx = ssl_ctx
        self.scheme = "https" if ssl_ctx else "http"
        super().__init__(("127.0.0.1", 0), Handler)

    def finish_request(self, request, client_address):
        if self.ssl_ctx is None:
            super().finish_request(request, client_address)
            return
        try:
            request.settimeout(HANDSHAKE_TIMEOUT)
            # wrap_socket detaches `request`; the SSL socket owns the fd now.
            tls = self.ssl_ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # failed handshake (plain client, bad CA, reset ...)
        try:
            super().finish_request(tls, client_address)
        finally:
            try:
                tls.settimeout(1)
                tls.unwrap()  # send close_notify
            except (ssl.SSLError, OSError, ValueError):
                pass
            tls.close()

    def handle_error(self, request, client_address):
        # Never dump tracebacks: exception messages may quote request data.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, ssl.SSLError)):
            return
        print(f"upstream: handler error: {type(exc).__name__}", file=sys.stderr)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ClauLockTestUpstream/1"
    timeout = IDLE_TIMEOUT
    # Headers and body are separate writes; without TCP_NODELAY, Nagle plus
    # the client's delayed ACK adds ~40 ms to every keep-alive response.
    disable_nagle_algorithm = True

    # -- plumbing -------------------------------------------------------------

    def version_string(self):
        return self.server_version

    def log_message(self, format, *args):  # noqa: A002 (stdlib signature)
        """Silence the default stderr access log (it would print URLs)."""

    def _dispatch(self):
        cfg = self.server.cfg
        url = urllib.parse.urlsplit(self.path)
        path, query = url.path, url.query
        try:
            if path == "/sink":
                body, body_len = b"", self._discard_body()
            else:
                body = self._read_body()
                body_len = len(body)
        except BadRequest:
            self.close_connection = True
            self._simple(400, b"bad request framing\n")
            return
        cfg.log({
            "path": self.path,
            "method": self.command,
            "headers": self._header_dict(),
            "body": body.decode("latin-1"),
            "raw_headers": [[k, v] for k, v in self.headers.items()],
            "body_len": body_len,
            "scheme": self.server.scheme,
            "query": query,
            "time": time.time(),
        })
        try:
            self._route(path, query, body, body_len)
        except (ConnectionError, TimeoutError, ssl.SSLError):
            self.close_connection = True
        except Exception as exc:  # noqa: BLE001 - report type only, no data
            self.close_connection = True
            print(f"upstream: {self.command} handler failed: {type(exc).__name__}",
                  file=sys.stderr)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _dispatch

    def _route(self, path, query, body, body_len):
        params = urllib.parse.parse_qs(query)
        if path == "/echo" or path.startswith("/echo/"):
            self._echo(body, compress=False)
        elif path == "/gzip-echo":
            self._echo(body, compress=True)
        elif path == "/redirect":
            target = params.get("to", ["/"])[0]
            self._simple(307, b"redirecting\n", [("Location", target)])
        elif path in ("/record", "/small"):
            self._simple(200, b"ok\n")
        elif path == "/slow":
            # Keeps the client waiting (a process alive for a /proc reader).
            time.sleep(min(float(params.get("ms", ["1000"])[0]), 30000) / 1000)
            self._simple(200, b"ok\n")
        elif path == "/big":
            self._big(params)
        elif path == "/sink":
            self._simple(200, f"{body_len}\n".encode())
        elif path == "/git" or path.startswith("/git/"):
            self._git(path[len("/git"):], query, body)
        else:
            self._simple(404, b"not found\n")

    def _header_dict(self):
        """Lowercased header names -> values; repeated headers joined."""
        out = {}
        for name, value in self.headers.items():
            key = name.lower()
            out[key] = f"{out[key]}, {value}" if key in out else value
        return out

    def _is_chunked(self):
        te = ",".join(self.headers.get_all("Transfer-Encoding") or [])
        return "chunked" in [t.strip().lower() for t in te.split(",")]

    def _content_length(self):
        value = self.headers.get("Content-Length")
        if value is None:
            return 0
        try:
            n = int(value.strip())
        except ValueError:
            raise BadRequest() from None
        if n < 0:
            raise BadRequest()
        return n

    def _iter_body(self):
        """Yield the request body in pieces (chunked or Content-Length)."""
        rfile = self.rfile
        if self._is_chunked():
            while True:
                line = rfile.readline(65537)
                if not line.endswith(b"\n"):
                    raise BadRequest()
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise BadRequest() from None
                if size == 0:
                    break
                while size:
                    piece = rfile.read(min(size, BLOCK))
                    if not piece:
                        raise BadRequest()
                    size -= len(piece)
                    yield piece
                if rfile.readline(3) not in (b"\r\n", b"\n"):
                    raise BadRequest()
            while True:  # trailer section, ends with an empty line
                line = rfile.readline(65537)
                if line in (b"\r\n", b"\n"):
                    return
                if not line:
                    raise BadRequest()
        remaining = self._content_length()
        while remaining:
            piece = rfile.read(min(remaining, BLOCK))
            if not piece:
                raise BadRequest()
            remaining -= len(piece)
            yield piece

    def _read_body(self):
        return b"".join(self._iter_body())

    def _discard_body(self):
        return sum(len(piece) for piece in self._iter_body())

    def _simple(self, code, body, headers=(), content_type="text/plain"):
        """Send a complete response with Content-Length."""
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    # -- endpoints ------------------------------------------------------------

    def _echo(self, body, compress):
        lines = [self.requestline]
        lines += [f"{name}: {value}" for name, value in self.headers.items()]
        text = ("\n".join(lines) + "\n\n").encode("latin-1") + body
        extra = [("X-Echo-Authorization", v)
                 for v in self.headers.get_all("Authorization") or []]
        if compress:
            text = gzip.compress(text)
            extra.append(("Content-Encoding", "gzip"))
        self._simple(200, text, extra)

    def _big(self, params):
        try:
            total = int(params.get("bytes", ["0"])[0])
        except ValueError:
            total = -1
        if total < 0:
            self._simple(400, b"bad bytes\n")
            return
        chunked = params.get("chunked", ["0"])[0] not in ("0", "")
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(total))
        self.end_headers()
        if self.command == "HEAD":
            return
        remaining = total
        while remaining:
            # base64 of random bytes: printable, fast (C-level), never all
            # in memory at once. 48 KiB random -> 64 KiB of text.
            block = base64.b64encode(os.urandom(BLOCK * 3 // 4))[:remaining]
            remaining -= len(block)
            if chunked:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(block), block))
            else:
                self.wfile.write(block)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    def _basic_credentials(self):
        """(user, password) from a Basic Authorization header, else (None, None)."""
        value = self.headers.get("Authorization") or ""
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() != "basic":
            return None, None
        try:
            raw = base64.b64decode(token.strip(), validate=True)
        except ValueError:
            return None, None
        user, sep, password = raw.decode("utf-8", "replace").partition(":")
        return (user, password) if sep else (user, None)

    def _git_authorized(self, password):
        token_file = self.server.cfg.git_token_file
        if token_file is None:
            return True
        try:
            with open(token_file, "rb") as f:
                expected = f.read().rstrip(b"\r\n")
        except OSError:
            return False
        if password is None or not expected:
            return False
        return hmac.compare_digest(password.encode("utf-8"), expected)

    def _git(self, path_info, query, body):
        cfg = self.server.cfg
        if cfg.git_root is None or cfg.git_bin is None:
            self._simple(404, b"git not configured\n")
            return
        user, password = self._basic_credentials()
        if not self._git_authorized(password):
            self._simple(401, b"authentication required\n",
                         [("WWW-Authenticate", 'Basic realm="git"')])
            return

        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", cfg.git_root),
            "GIT_PROJECT_ROOT": cfg.git_root,
            "GIT_HTTP_EXPORT_ALL": "1",
            # Allow pushes even without REMOTE_USER.
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.receivepack",
            "GIT_CONFIG_VALUE_0": "true",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "SERVER_SOFTWARE": self.server_version,
            "REQUEST_METHOD": self.command,
            "PATH_INFO": urllib.parse.unquote(path_info),
            "QUERY_STRING": query,
            "REMOTE_ADDR": self.client_address[0],
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
        }
        if body or self.command == "POST":
            # Chunked request bodies were already de-chunked; a gzip body is
            # passed through as is (HTTP_CONTENT_ENCODING tells git).
            env["CONTENT_LENGTH"] = str(len(body))
        if user:
            env["REMOTE_USER"] = user
            env["AUTH_TYPE"] = "Basic"
        for name, value in self.headers.items():
            if name.lower() in CGI_SKIP_HEADERS:
                continue
            key = "HTTP_" + name.upper().replace("-", "_")
            env[key] = f"{env[key]}, {value}" if key in env else value

        proc = subprocess.Popen([cfg.git_bin, "http-backend"], env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)

        # Feed stdin and drain stderr in threads so no pipe can deadlock.
        def feed():
            try:
                proc.stdin.write(body)
            except OSError:
                pass
            finally:
                try:
                    proc.stdin.close()
                except OSError:
                    pass

        errors = []
        threads = [threading.Thread(target=feed, daemon=True),
                   threading.Thread(target=lambda: errors.append(proc.stderr.read()),
                                    daemon=True)]
        for t in threads:
            t.start()
        try:
            self._relay_cgi(proc.stdout)
        finally:
            proc.stdout.close()
            for t in threads:
                t.join(timeout=30)
            proc.wait()
            if proc.returncode != 0 or (errors and errors[0]):
                # git's own diagnostics (no request headers in them).
                msg = (errors[0] if errors else b"").decode("utf-8", "replace")
                print(f"upstream: git http-backend exit={proc.returncode}: "
                      f"{msg.strip()[:500]}", file=sys.stderr)

    def _relay_cgi(self, out):
        """Parse CGI output (headers, blank line, body) and relay it."""
        status, reason, headers, length = 200, None, [], None
        saw_header = False
        while True:
            line = out.readline(65537)
            if not line:
                break
            if line in (b"\r\n", b"\n"):
                saw_header = True
                break
            saw_header = True
            name, _, value = line.decode("latin-1").rstrip("\r\n").partition(":")
            name, value = name.strip(), value.strip()
            if name.lower() == "status":
                code, _, reason = value.partition(" ")
                status = int(code)
            elif name.lower() == "content-length":
                length = int(value)
            elif name.lower() not in HOP_BY_HOP:
                headers.append((name, value))
        if not saw_header:
            self.close_connection = True
            self._simple(502, b"git http-backend produced no output\n")
            return

        self.send_response(status, reason or None)
        for name, value in headers:
            self.send_header(name, value)
        if length is not None:
            self.send_header("Content-Length", str(length))
        else:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if self.command == "HEAD":
            return
        while True:
            piece = out.read1(BLOCK)
            if not piece:
                break
            if length is not None:
                self.wfile.write(piece)
            else:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        if length is None:
            self.wfile.write(b"0\r\n\r\n")


def write_port_file(path, port):
    """Write `port` to `path` atomically (tmp file + rename)."""
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="ascii") as f:
        f.write(f"{port}\n")
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cert", required=True, help="server certificate (PEM)")
    ap.add_argument("--key", required=True, help="server private key (PEM)")
    ap.add_argument("--port-file", required=True, help="HTTPS port is written here")
    ap.add_argument("--log", help="append one JSON line per request here")
    ap.add_argument("--plain-port-file", help="also listen on plain HTTP; port written here")
    ap.add_argument("--git-root", help="GIT_PROJECT_ROOT for /git/... (git http-backend)")
    ap.add_argument("--git-require-auth", metavar="TOKEN_FILE",
                    help="/git/ requires Basic auth with this file's contents as password")
    args = ap.parse_args()

    cfg = Config(args)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    ctx.set_alpn_protocols(["http/1.1"])

    tls_server = UpstreamServer(cfg, ctx)
    servers = [tls_server]
    plain_server = None
    if args.plain_port_file:
        plain_server = UpstreamServer(cfg, None)
        servers.append(plain_server)
    for srv in servers:
        threading.Thread(target=srv.serve_forever, daemon=True).start()

    # Sockets are listening since construction; publish ports (F last).
    if plain_server is not None:
        write_port_file(args.plain_port_file, plain_server.server_address[1])
    write_port_file(args.port_file, tls_server.server_address[1])

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
    for srv in servers:
        srv.shutdown()
        srv.server_close()


if __name__ == "__main__":
    main()
