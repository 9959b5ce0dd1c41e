"""Codex CLI (0.171.0) wire format for ClauLock's loopback model stand-in: the OpenAI
Responses API (POST {base_url}/responses, SSE reply).

Script steps (agent-neutral), step N played when the request carries N tool results:
  {"tool": "shell", "input": {"command": "..."}}      -> exec_command {"cmd": ...}
  {"tool": "read",  "input": {"path": "..."}}         -> exec_command {"cmd": "cat -- '<path>'"}
       (Codex has no file-read tool; reads go through the shell tool, so Bash hooks see them)
  {"tool": "mcp",   "input": {"server": S, "name": T, "arguments": {...}}}
       -> MCP tools are deferred behind `tool_search`; see mcp_item() for how the call is made
  {"tool": "raw",   "name": "<codex tool name>", "input": {...}}  -> that tool, input as given
       (custom/freeform tools such as apply_patch take {"input": "<text>"} or a plain string)
"""
import json

CALL_PREFIX = "call_standin_"
# Input item types that carry the result of a tool call the model made.
RESULT_TYPES = ("function_call_output", "custom_tool_call_output")


def matches(path):
    """True for the Responses endpoint (base_url + /responses)."""
    return path.split("?")[0].rstrip("/").endswith("/responses")


def decompress_zstd(raw):
    """Codex may zstd-compress request bodies (feature enable_request_compression; only for
    the OpenAI/ChatGPT backends, not seen for a custom provider). Decode if the module exists."""
    import zstandard  # noqa: PLC0415  (optional dependency)
    return zstandard.ZstdDecompressor().decompressobj().decompress(raw)


def _output_text(output):
    """Text of a function_call_output `output`: a string, or a list of content items."""
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        return "".join(c.get("text", "") for c in output if isinstance(c, dict))
    if isinstance(output, dict):  # defensive: {"content": ...} / {"body": ...}
        return _output_text(output.get("content") or output.get("body") or "")
    return json.dumps(output)


def results(body):
    """Each tool result in the request, as (call_id, text the model sees), in order.
    tool_search outputs (tool discovery) are not counted."""
    out = []
    for item in body.get("input") or []:
        if isinstance(item, dict) and item.get("type") in RESULT_TYPES:
            out.append((item.get("call_id", ""), _output_text(item.get("output"))))
    return out


def _sse(data):
    return f"event: {data['type']}\ndata: {json.dumps(data)}\n\n".encode()


def _stream(items, resp_id="resp_standin"):
    usage = {"input_tokens": 1, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 1,
             "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 2}
    out = [_sse({"type": "response.created", "response": {"id": resp_id, "status": "in_progress"}})]
    for i, item in enumerate(items):
        out.append(_sse({"type": "response.output_item.added", "output_index": i, "item": item}))
        out.append(_sse({"type": "response.output_item.done", "output_index": i, "item": item}))
    out.append(_sse({"type": "response.completed",
                     "response": {"id": resp_id, "status": "completed", "output": items, "usage": usage}}))
    return "text/event-stream", b"".join(out)


def _text(text):
    return {"type": "message", "role": "assistant", "id": "msg_standin", "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}]}


def _function_call(call_id, name, arguments, namespace=None):
    item = {"type": "function_call", "id": "fc_" + call_id, "call_id": call_id, "name": name,
            "arguments": json.dumps(arguments), "status": "completed"}
    if namespace:
        item["namespace"] = namespace
    return item


def _tool_types(body):
    return {t.get("name"): t.get("type") for t in body.get("tools") or [] if isinstance(t, dict)}


def _sh_quote(s):
    return "'" + s.replace("'", "'\\''") + "'"


def mcp_item(body, call_id, server, name, arguments):
    """MCP tools are deferred: requests list only `tool_search` (type "tool_search",
    execution "client"). A tool becomes callable once a tool_search_output in the history
    holds it, as {"type":"namespace","name":"mcp__<server>","tools":[{"name":"<tool>"...}]};
    the call is then a function_call with "namespace": "mcp__<server>", "name": "<tool>".
    So: search first (its output is not a tool result, the step does not advance), then call."""
    namespace = f"mcp__{server}"
    search_id = "search_" + call_id
    searched = False
    for item in body.get("input") or []:
        if isinstance(item, dict) and item.get("type") == "tool_search_output":
            searched = searched or item.get("call_id") == search_id
            for t in item.get("tools") or []:
                if t.get("name") == namespace and any(x.get("name") == name for x in t.get("tools") or []):
                    return _function_call(call_id, name, arguments, namespace=namespace)
    if searched:  # searched and not found: do not loop
        return _text(f"tool {namespace}/{name} not found by tool_search")
    return {"type": "tool_search_call", "id": "ts_" + call_id, "call_id": search_id,
            "execution": "client", "status": "completed", "arguments": {"query": f"{server} {name}", "limit": 8}}


def step_item(body, step, s):
    call_id = f"{CALL_PREFIX}{step:03d}"
    tool, inp = s.get("tool"), s.get("input") or {}
    if tool == "shell":
        return _function_call(call_id, "exec_command", {"cmd": inp["command"]})
    if tool == "read":
        return _function_call(call_id, "exec_command", {"cmd": "cat -- " + _sh_quote(inp["path"])})
    if tool == "mcp":
        return mcp_item(body, call_id, inp["server"], inp["name"], inp.get("arguments") or {})
    if tool == "raw":
        name = s["name"]
        if _tool_types(body).get(name) == "custom":
            text = inp if isinstance(inp, str) else inp.get("input", "")
            return {"type": "custom_tool_call", "id": "ctc_" + call_id, "call_id": call_id, "name": name,
                    "input": text, "status": "completed"}
        if name == "tool_search":
            return {"type": "tool_search_call", "id": "ts_" + call_id, "call_id": call_id,
                    "execution": "client", "status": "completed", "arguments": inp}
        return _function_call(call_id, name, inp, namespace=s.get("namespace"))
    raise ValueError(f"unknown script step {s!r}")


def is_side_request(body):
    """Requests that are not the agent's turn (titles, summaries, compaction...): no tools."""
    return not body.get("tools")


def reply(body, script):
    if is_side_request(body):
        return _stream([_text("ClauLock leak test")])
    step = len(results(body))
    if step < len(script):
        return _stream([step_item(body, step, script[step])])
    return _stream([_text("All scripted steps are done.")])
