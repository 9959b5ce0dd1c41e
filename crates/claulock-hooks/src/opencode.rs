//! The answers ClauLock's OpenCode plugin reads
//! (`adapters/opencode/claulock.js`).
//!
//! OpenCode has no hook commands, only JavaScript plugins, so the protocol
//! is ClauLock's own: the plugin sends Claude Code's input fields
//! (`hook_event_name`, `tool_name`, `tool_input` = the call's `args`,
//! `tool_response` = the tool's result object, `prompt`, `cwd`) and applies
//! one of these answers (nothing printed: go on):
//!
//! | answer | the plugin |
//! |---|---|
//! | `{"command": C}` | sets `args.command` (`tool.execute.before`) |
//! | `{"deny": R}` | throws `R`: the model sees `R` as the tool's result |
//! | `{"output": V}` | writes `V` over the result in place (a string: over every text in it) |
//! | `{"block": R}` | throws in `chat.message`: the prompt is neither stored nor sent |
//!
//! The plugin fails closed: when `claulock hook` cannot be run or prints
//! something else, a tool call is refused and an output withheld.

use claulock_runtime::{Confirm, Verdict};
use serde_json::{Value, json};

use crate::gemini::ASK_UNSUPPORTED;

/// The JSON the plugin reads for `verdict`.
pub fn answer(verdict: Verdict) -> Option<Value> {
    Some(match verdict {
        Verdict::Pass | Verdict::Context { .. } => return None,
        Verdict::Rewrite {
            confirm: Confirm::Ask,
            ..
        } => json!({"deny": ASK_UNSUPPORTED}),
        Verdict::Rewrite { command, .. } => json!({"command": command}),
        Verdict::Deny { reason } => json!({"deny": reason}),
        Verdict::ReplaceOutput { output } => json!({"output": output}),
        Verdict::BlockPrompt { reason } => json!({"block": reason}),
    })
}
