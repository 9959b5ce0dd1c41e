#!/usr/bin/env python3
"""A loopback stand-in for the Anthropic Messages API, for ClauLock's
end-to-end leak test.

It answers POST /v1/messages with server-sent events. The reply to each
request is chosen from a script (a JSON list of steps): step N is played
when the request carries N tool results, so each turn of the real Claude
Code session gets the next scripted tool call, and a request with no step
left gets a short closing text. Requests that carry no tools (title or
summary side requests) get a short text.

Every request body is appended to the log file verbatim (one JSON document
per line): that log is exactly what the model vendor would have seen.

It is not the destination of the session's calls: those go over HTTPS to
tests/upstream/server.py, through ClauLock's proxy (the leak test starts
both).

Usage: standin.py SCRIPT.json LOG.jsonl PORT_FILE
It binds 127.0.0.1 on a free port, replaces $PORT in the script with it,
and writes the port to PORT_FILE.
"""
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SCRIPT_PATH, LOG_PATH, PORT_FILE = sys.argv[1], sys.argv[2], sys.argv[3]
SCRIPT = []
LOG_LOCK = threading.Lock()


def count_tool_results(messages):
    n = 0
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            n += sum(1 for block in content if isinstance(block, dict) and block.get("type") == "tool_result")
    return n


def sse(event, data):
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def reply_blocks(body):
    """The content blocks of the reply and its stop reason."""
    if not body.get("tools"):
        return [{"type": "text", "text": "ClauLock leak test"}], "end_turn"
    step = count_tool_results(body.get("messages", []))
    if step < len(SCRIPT):
        s = SCRIPT[step]
        return [{"type": "tool_use", "id": f"toolu_standin_{step:03d}", "name": s["tool"], "input": s["input"]}], "tool_use"
    return [{"type": "text", "text": "All scripted steps are done."}], "end_turn"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # keep stderr quiet
        pass

    def send_body(self, content_type, payload):
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_HEAD(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        with LOG_LOCK, open(LOG_PATH, "ab") as log:
            log.write(json.dumps({"path": self.path, "body": raw.decode("utf-8", "replace")}).encode() + b"\n")
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        if not self.path.startswith("/v1/messages") or self.path.startswith("/v1/messages/count_tokens"):
            self.send_body("application/json", json.dumps({"input_tokens": 1}).encode())
            return
        blocks, stop = reply_blocks(body)
        model = body.get("model", "claude-standin")
        usage = {"input_tokens": 1, "output_tokens": 1, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
        if not body.get("stream"):
            self.send_body("application/json", json.dumps({
                "id": "msg_standin", "type": "message", "role": "assistant", "model": model,
                "content": blocks, "stop_reason": stop, "stop_sequence": None, "usage": usage}).encode())
            return
        out = [sse("message_start", {"type": "message_start", "message": {
            "id": "msg_standin", "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": usage}})]
        for i, block in enumerate(blocks):
            if block["type"] == "tool_use":
                start = dict(block, input={})
                delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
            else:
                start = {"type": "text", "text": ""}
                delta = {"type": "text_delta", "text": block["text"]}
            out.append(sse("content_block_start", {"type": "content_block_start", "index": i, "content_block": start}))
            out.append(sse("content_block_delta", {"type": "content_block_delta", "index": i, "delta": delta}))
            out.append(sse("content_block_stop", {"type": "content_block_stop", "index": i}))
        out.append(sse("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                                         "usage": {"output_tokens": 1}}))
        out.append(sse("message_stop", {"type": "message_stop"}))
        self.send_body("text/event-stream", b"".join(out))


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = str(server.server_address[1])
    with open(SCRIPT_PATH, encoding="utf-8") as f:
        SCRIPT.extend(json.loads(f.read().replace("$PORT", port)))
    with open(PORT_FILE + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(PORT_FILE + ".tmp", PORT_FILE)
    server.serve_forever()


if __name__ == "__main__":
    main()
