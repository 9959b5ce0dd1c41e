"""OpenAI chat-completions wire format for ClauLock's loopback stand-in
(the model API OpenCode calls through its `@ai-sdk/openai-compatible`
provider).

Script steps are agent-neutral (see /work/main/tests/e2e/standin.py for the
script concept): step N is played when the request carries N tool results.

    {"tool": "shell", "input": {"command": "..."}}            -> bash
    {"tool": "read",  "input": {"path": "..."}}               -> read {filePath}
    {"tool": "mcp",   "input": {"server": "claulock", "name": "secret_list",
                                "arguments": {}}}             -> claulock_secret_list
    {"tool": "raw",   "name": "<tool name>", "input": {...}}  -> as given

Interface: matches(path), results(body), reply(body, script).
"""
import json
import re

_NAME_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")


def matches(path):
    """True for the chat-completions endpoint (any base path, query ignored)."""
    return path.split("?", 1)[0].rstrip("/").endswith("/chat/completions")


def _text(content):
    """The text of a message's content: a string, or a list of parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out = []
        for part in content:
            if isinstance(part, dict):
                if isinstance(part.get("text"), str):
                    out.append(part["text"])
                else:
                    out.append(json.dumps(part))
            else:
                out.append(str(part))
        return "".join(out)
    return json.dumps(content)


def results(body):
    """Each tool result in the request: (tool_call_id, text the model sees)."""
    return [(m.get("tool_call_id", ""), _text(m.get("content")))
            for m in body.get("messages", []) if m.get("role") == "tool"]


def tool_call(step):
    """(name, arguments dict) of OpenCode's tool for an agent-neutral step."""
    kind, inp = step["tool"], step.get("input", {})
    if kind == "shell":
        args = {"command": inp["command"]}  # 1.18.33's bash has no description field
        for key in ("description", "timeout", "workdir"):
            if key in inp:
                args[key] = inp[key]
        return "bash", args
    if kind == "read":
        args = {"filePath": inp["path"]}
        for key in ("offset", "limit"):
            if key in inp:
                args[key] = inp[key]
        return "read", args
    if kind == "mcp":
        name = _NAME_UNSAFE.sub("_", inp["server"]) + "_" + _NAME_UNSAFE.sub("_", inp["name"])
        return name, inp.get("arguments", {})
    if kind == "raw":
        return step["name"], inp
    raise ValueError(f"unknown script step tool: {kind!r}")


def _plan(body, script):
    """(text or None, tool call (id, name, args) or None) for this request."""
    if not body.get("tools"):
        return "ClauLock test", None  # side request: title generation etc.
    step = len(results(body))
    if step < len(script):
        name, args = tool_call(script[step])
        return None, (f"call_standin_{step:03d}", name, args)
    return "All scripted steps are done.", None


def _chunk(model, delta, finish=None, usage=None):
    out = {"id": "chatcmpl-standin", "object": "chat.completion.chunk", "created": 0, "model": model,
           "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage is not None:
        out["choices"] = []
        out["usage"] = usage
    return b"data: " + json.dumps(out).encode() + b"\n\n"


def reply(body, script):
    """(content_type, payload) answering one chat-completions request."""
    model = body.get("model", "standin")
    text, call = _plan(body, script)
    usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    finish = "tool_calls" if call else "stop"
    if not body.get("stream"):
        message = {"role": "assistant", "content": text}
        if call:
            message["tool_calls"] = [{"id": call[0], "type": "function",
                                      "function": {"name": call[1], "arguments": json.dumps(call[2])}}]
        return "application/json", json.dumps({
            "id": "chatcmpl-standin", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage}).encode()
    out = [_chunk(model, {"role": "assistant", "content": ""})]
    if call:
        out.append(_chunk(model, {"tool_calls": [{"index": 0, "id": call[0], "type": "function",
                                                  "function": {"name": call[1], "arguments": json.dumps(call[2])}}]}))
    else:
        out.append(_chunk(model, {"content": text}))
    out.append(_chunk(model, {}, finish))
    out.append(_chunk(model, None, usage=usage))
    out.append(b"data: [DONE]\n\n")
    return "text/event-stream", b"".join(out)
