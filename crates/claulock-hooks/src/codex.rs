//! Codex CLI's hook answers (verified against 0.171.0, offline).
//!
//! Codex took Claude Code's hook protocol as its model: its shell tool
//! (`exec_command`) reaches hooks as `Bash` with `tool_input.command`, and
//! MCP tools as `mcp__SERVER__TOOL`.
//!
//! | verdict | answer | what the model sees |
//! |---|---|---|
//! | rewrite | PreToolUse `hookSpecificOutput` with `permissionDecision: "allow"` and `updatedInput: {command}` | the rewritten command's output (its other arguments, such as `workdir`, are kept) |
//! | deny | the same with `"deny"` and a reason | `Command blocked by PreToolUse hook: R. Command: …` |
//! | replace output | PostToolUse `{"decision":"block","reason":TEXT}` | `TEXT` exactly |
//! | block prompt | UserPromptSubmit `{"decision":"block","reason":R}` | nothing: no request is made, nothing is stored |
//!
//! A deny or block without a reason is ignored by Codex, and a hook that
//! fails (times out, exits 1, prints no JSON) fails open: `claulock hook`
//! always answers, with a reason. PostToolUse can only change what the
//! model sees: Codex has stored the raw output already (its rollout, its
//! thread database, the `--json` stream), which is why every command is
//! wrapped for Codex ([`Agent::wraps_every_command`](crate::Agent)).

use claulock_runtime::{Confirm, Verdict};
use serde_json::{Value, json};

use crate::gemini::ASK_UNSUPPORTED;
use crate::{Answer, Hook, HookInput, Permission, agent::output_text};

/// The JSON Codex reads for `verdict`.
pub fn answer(hook: Hook, input: &HookInput, verdict: Verdict) -> Option<Value> {
    let pre = |permission, reason: String, command: Option<String>| Answer::PreToolUse {
        permission,
        reason,
        updated_input: command.map(|c| input.with_command(&c)),
    };
    let answer = match verdict {
        Verdict::Pass => return None,
        Verdict::Rewrite {
            confirm: Confirm::Ask,
            ..
        } => pre(Permission::Deny, ASK_UNSUPPORTED.into(), None),
        // Always `allow`: that is the rewrite verified to run on 0.171
        // (Codex's approvals are a separate step, PermissionRequest).
        Verdict::Rewrite {
            command, reason, ..
        } => pre(Permission::Allow, reason, Some(command)),
        Verdict::Deny { reason } => pre(Permission::Deny, reason, None),
        Verdict::ReplaceOutput { output } => {
            let text = output_text(&output);
            return Some(json!({"decision": "block", "reason": non_empty(text)}));
        }
        Verdict::BlockPrompt { reason } => {
            // `reason` goes to the model's side of the turn, which a block
            // ends; `systemMessage` is what Codex shows the user, who
            // would otherwise see the prompt vanish without a word.
            let reason = non_empty(reason);
            return Some(json!({"decision": "block", "reason": reason, "systemMessage": reason}));
        }
        Verdict::Context { text } if hook == Hook::SessionStart => Answer::Context {
            event: "SessionStart",
            text,
        },
        Verdict::Context { .. } => return None,
    };
    answer.to_json()
}

/// Codex ignores a block with an empty reason.
fn non_empty(text: String) -> String {
    if text.is_empty() {
        "(no output)".into()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_replaced_output_still_blocks() {
        let input = HookInput::default();
        let v = Verdict::ReplaceOutput { output: json!("") };
        let a = answer(Hook::PostToolUse, &input, v).unwrap();
        assert_eq!(a["decision"], "block");
        assert_eq!(a["reason"], "(no output)");
    }

    #[test]
    fn a_rewrite_is_claude_codes_shape() {
        let input =
            HookInput::parse(br#"{"tool_name":"Bash","tool_input":{"command":"x"}}"#).unwrap();
        let v = Verdict::Rewrite {
            command: "y".into(),
            confirm: Confirm::Allow,
            reason: "r".into(),
        };
        let a = answer(Hook::PreToolUse, &input, v).unwrap();
        let out = &a["hookSpecificOutput"];
        assert_eq!(out["permissionDecision"], "allow");
        assert_eq!(out["updatedInput"]["command"], "y");
    }
}
