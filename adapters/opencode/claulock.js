// ClauLock for OpenCode (1.18): every tool call, tool result and prompt
// goes through `claulock hook EVENT --agent opencode` before OpenCode acts
// on it. Installed by `claulock install --agent opencode`, which writes the
// line below; as it is in the repository, it runs `claulock` from PATH.
//
// The protocol is ClauLock's own (crates/claulock-hooks/src/opencode.rs):
// this plugin sends Claude Code's hook fields and applies one answer:
//   {"command": C}  run C instead (it runs the model's command through `claulock exec`)
//   {"deny": R}     do not run the tool; the model sees R as its result
//   {"output": V}   the tool's result, scrubbed, written over it in place
//   {"block": R}    do not store or send the prompt
// It fails closed: when the hook cannot run, takes over 10 s, or answers
// something else, the tool call is refused, the output withheld, the
// prompt blocked.
const INVOCATION = {"exe": "claulock", "env": {}} // claulock install: invocation
import { spawn } from "node:child_process"

const TIMEOUT_MS = 10000

function hook(event, payload) {
  return new Promise((resolve, reject) => {
    const fail = (why) => reject(new Error(`ClauLock could not check this (${why}); ask the user to run \`claulock doctor\` in a terminal.`))
    const child = spawn(INVOCATION.exe, ["hook", event, "--agent", "opencode"], {
      stdio: ["pipe", "pipe", "inherit"],
      env: { ...process.env, ...INVOCATION.env },
    })
    const timer = setTimeout(() => { child.kill("SIGKILL"); fail("no answer within 10 s") }, TIMEOUT_MS)
    let out = ""
    child.stdout.on("data", (d) => (out += d))
    child.on("error", (e) => { clearTimeout(timer); fail(`cannot run ${INVOCATION.exe}: ${e.code || e.message}`) })
    child.on("close", (code) => {
      clearTimeout(timer)
      if (code !== 0) return fail(`claulock hook exited with ${code}`)
      if (!out.trim()) return resolve({})
      try { resolve(JSON.parse(out)) } catch { fail("an answer that is not JSON") }
    })
    child.stdin.on("error", () => {})
    child.stdin.end(JSON.stringify(payload))
  })
}

// OpenCode keeps references into the objects it hands a hook (output.args,
// a result's metadata), so answers are written into them, never swapped.
function writeOver(target, source) {
  if (typeof source === "string") {
    // A notice for an output that could not be scrubbed: over every text.
    for (const [k, v] of Object.entries(target)) {
      if (typeof v === "string") target[k] = source
      else if (v && typeof v === "object") writeOver(v, "")
    }
    return
  }
  for (const [k, v] of Object.entries(source)) {
    if (v && typeof v === "object" && target[k] && typeof target[k] === "object") writeOver(target[k], v)
    else target[k] = v
  }
}

export const ClauLock = async ({ directory }) => ({
  "chat.message": async (input, output) => {
    const prompt = (output.parts || []).filter((p) => p.type === "text").map((p) => p.text).join("\n")
    let answer
    try {
      answer = await hook("user-prompt-submit", { hook_event_name: "UserPromptSubmit", prompt, cwd: directory, session_id: input.sessionID })
    } catch (e) {
      answer = { block: e.message }
    }
    if (answer.block) {
      // `opencode run` shows a thrown error only as "Unexpected server error".
      process.stderr.write(`${answer.block}\n`)
      throw new Error(answer.block)
    }
  },
  "tool.execute.before": async (input, output) => {
    const answer = await hook("pre-tool-use", {
      hook_event_name: "PreToolUse", tool_name: input.tool, tool_input: output.args, cwd: directory, session_id: input.sessionID,
    })
    if (answer.deny) throw new Error(answer.deny)
    if (typeof answer.command === "string") output.args.command = answer.command
  },
  "tool.execute.after": async (input, output) => {
    let answer
    try {
      answer = await hook("post-tool-use", {
        hook_event_name: "PostToolUse", tool_name: input.tool, tool_input: input.args, tool_response: output, cwd: directory, session_id: input.sessionID,
      })
    } catch (e) {
      answer = { output: `[${e.message} Its output is withheld.]` }
    }
    if (answer.output !== undefined) writeOver(output, answer.output)
  },
})
