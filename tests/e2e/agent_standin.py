#!/usr/bin/env python3
"""A loopback stand-in for the model APIs of Codex CLI (Responses,
`/v1/responses`), Gemini CLI (`…:streamGenerateContent` and
`…:generateContent`) and OpenCode (chat completions,
`/v1/chat/completions`), for ClauLock's agents leak test
(tests/agents_test.sh). The wire formats live in wire_codex.py,
wire_gemini.py and wire_openai.py; this is the HTTP layer, as
tests/e2e/standin.py is for the Anthropic Messages API.

Step N of the script is played when a request carries N tool results;
every request body is appended to the log verbatim: that log is what the
model vendor would have seen.

Usage: agent_standin.py SCRIPT.json LOG.jsonl PORT_FILE
"""
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wire_codex  # noqa: E402
import wire_gemini  # noqa: E402
import wire_openai  # noqa: E402

SCRIPT_PATH, LOG_PATH, PORT_FILE = sys.argv[1], sys.argv[2], sys.argv[3]
SCRIPT = []
LOG_LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def log(self, raw):
        with LOG_LOCK, open(LOG_PATH, "ab") as log:
            log.write(json.dumps({"method": self.command, "path": self.path,
                                  "body": raw.decode("utf-8", "replace")}).encode() + b"\n")

    def send_body(self, content_type, payload, status=200):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self):
        self.log(b"")
        if self.path.split("?")[0].endswith("/models"):
            self.send_body("application/json", json.dumps({"object": "list", "data": [], "models": []}).encode())
        else:
            self.send_body("application/json", b"{}", status=404)

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding", "").lower() == "zstd":
            raw = wire_codex.decompress_zstd(raw)
        self.log(raw)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        if wire_codex.matches(self.path):
            content_type, payload = wire_codex.reply(body, SCRIPT)
        elif wire_gemini.matches(self.path):
            content_type, payload = wire_gemini.reply(body, SCRIPT, self.path)
        elif wire_openai.matches(self.path):
            content_type, payload = wire_openai.reply(body, SCRIPT)
        else:
            self.send_body("application/json", b"{}", status=404)
            return
        self.send_body(content_type, payload)


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = str(server.server_address[1])
    with open(SCRIPT_PATH, encoding="utf-8") as f:
        SCRIPT.extend(json.loads(f.read().replace("$PORT", port)))
    with open(PORT_FILE + ".tmp", "w") as f:
        f.write(port)
    os.replace(PORT_FILE + ".tmp", PORT_FILE)
    server.serve_forever()


if __name__ == "__main__":
    main()
