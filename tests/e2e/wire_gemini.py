"""Gemini API (generativelanguage v1beta) wire format for ClauLock's loopback
model stand-in, as spoken by Gemini CLI 0.61.0.

Gemini CLI (with GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:PORT) sends
  POST /v1beta/models/<model>:streamGenerateContent?alt=sse   main agent turns (SSE)
  POST /v1beta/models/<model>:generateContent                 side requests (JSON
       mode: next-speaker check, model router, loop check, summaries ...)
  POST /v1beta/models/<model>:countTokens                     token counting
The request body is a GenerateContentRequest:
  {"contents": [{"role": "user"|"model", "parts": [...]}], "systemInstruction": ...,
   "tools": [{"functionDeclarations": [...]}], "generationConfig": {...}}
A function call is a model part {"functionCall": {"id", "name", "args"}}; its
result is a user part {"functionResponse": {"id", "name", "response": {"output": TEXT}}}
(or {"response": {"error": TEXT}} for a failed/denied call).

Script steps (agent-neutral, a JSON list):
  {"tool": "shell", "input": {"command": "..."}}            -> run_shell_command
  {"tool": "read",  "input": {"path": "..."}}               -> read_file {file_path}
  {"tool": "mcp",   "input": {"server": "S", "name": "T", "arguments": {}}}
                                                            -> mcp_S_T(arguments)
  {"tool": "raw",   "name": "<gemini tool name>", "input": {...}}
Step N is played when the request carries N function responses; after the
last step the model answers with a short closing text.
"""
import json
import re

MODEL_PATH = re.compile(r"^/(v1beta|v1|v1alpha)/models/([^/:?]+):([A-Za-z]+)")


def matches(path):
    """True for the Gemini API routes this module answers."""
    return bool(MODEL_PATH.match(path or ""))


def _method(path):
    m = MODEL_PATH.match(path or "")
    return m.group(3) if m else ""


def _parts(body):
    for content in body.get("contents") or []:
        if isinstance(content, dict):
            for part in content.get("parts") or []:
                if isinstance(part, dict):
                    yield content.get("role"), part


def _response_text(resp):
    """The text the model sees for a functionResponse.response object."""
    if not isinstance(resp, dict):
        return json.dumps(resp)
    if set(resp) == {"output"} and isinstance(resp["output"], str):
        return resp["output"]
    if set(resp) == {"error"} and isinstance(resp["error"], str):
        return resp["error"]
    return json.dumps(resp, sort_keys=True)


def results(body):
    """Each tool result in the request, in order: (call id, text the model sees).

    The call id is the functionResponse id (Gemini CLI echoes the functionCall id,
    prefixed "<tool name>__" if it does not already start so)."""
    out = []
    for _role, part in _parts(body):
        fr = part.get("functionResponse")
        if isinstance(fr, dict):
            out.append((str(fr.get("id") or fr.get("name") or ""), _response_text(fr.get("response"))))
    return out


def count_results(body):
    return sum(1 for _ in results(body))


def function_call(step, index):
    """The Gemini functionCall for one script step."""
    tool = step.get("tool")
    inp = dict(step.get("input") or {})
    if tool == "shell":
        name, args = "run_shell_command", {"command": inp["command"]}
        for k, v in inp.items():  # description, dir_path, is_background...
            if k != "command":
                args[k] = v
    elif tool == "read":
        name, args = "read_file", {"file_path": inp["path"]}
        for k in ("start_line", "end_line"):
            if k in inp:
                args[k] = inp[k]
    elif tool == "mcp":
        name, args = f"mcp_{inp['server']}_{inp['name']}", dict(inp.get("arguments") or {})
    elif tool == "raw":
        name, args = step["name"], inp
    else:
        raise ValueError(f"unknown script step tool: {tool!r}")
    return {"id": f"call_standin_{index:03d}", "name": name, "args": args}


def _usage():
    return {"promptTokenCount": 1, "candidatesTokenCount": 1, "totalTokenCount": 2}


def _response(parts):
    return {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": _usage(),
        "modelVersion": "gemini-standin",
    }


def _fill(schema, key=""):
    """A minimal value conforming to a JSON schema (for JSON-mode side requests)."""
    if not isinstance(schema, dict):
        return "standin"
    if "enum" in schema and schema["enum"]:
        enum = schema["enum"]
        for preferred in ("user", "flash", "STOP"):
            if preferred in enum:
                return preferred
        return enum[0]
    t = schema.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), "string")
    t = (t or ("object" if "properties" in schema else "string")).lower()
    if t == "object":
        props = schema.get("properties") or {}
        return {k: _fill(v, k) for k, v in props.items()}
    if t == "array":
        return []
    if t in ("number", "integer"):
        return schema.get("minimum", 1)
    if t == "boolean":
        return False
    return "ClauLock stand-in"


def _json_side_reply(body):
    gc = body.get("generationConfig") or body.get("config") or {}
    schema = gc.get("responseJsonSchema") or gc.get("responseSchema")
    if schema is None:
        return None
    return json.dumps(_fill(schema))


def _sse(chunks):
    return b"".join(b"data: " + json.dumps(c).encode() + b"\r\n\r\n" for c in chunks)


def reply_parts(body, script):
    """The model parts for a main-turn request."""
    if not body.get("tools"):
        return [{"text": "ClauLock stand-in"}]
    step = count_results(body)
    if step < len(script):
        return [{"functionCall": function_call(script[step], step)}]
    return [{"text": "All scripted steps are done."}]


def reply(body, script, path=""):
    """(content_type, payload) answering a request to PATH with BODY."""
    method = _method(path) or ("streamGenerateContent" if "alt=sse" in (path or "") else "generateContent")
    if method == "countTokens":
        return "application/json", json.dumps({"totalTokens": 1}).encode()
    if method in ("embedContent", "batchEmbedContents"):
        vec = {"values": [0.0] * 8}
        key = "embedding" if method == "embedContent" else "embeddings"
        return "application/json", json.dumps({key: vec if key == "embedding" else [vec]}).encode()
    side = _json_side_reply(body)
    if side is not None:
        parts = [{"text": side}]
    else:
        parts = reply_parts(body, script)
    resp = _response(parts)
    if method == "streamGenerateContent":
        return "text/event-stream", _sse([resp])
    return "application/json", json.dumps(resp).encode()
