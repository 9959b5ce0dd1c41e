//! Gemini CLI's hook answers (verified against 0.61.0, offline).
//!
//! | verdict | answer | what the model sees |
//! |---|---|---|
//! | rewrite | `{"decision":"allow","hookSpecificOutput":{"hookEventName":"BeforeTool","tool_input":{…}}}` | the rewritten command's output; `tool_input` replaces the arguments whole, so every other field is kept |
//! | deny | `{"decision":"deny","reason":R}` | `{"error":"Tool execution blocked: R"}` |
//! | replace output | AfterTool `{"decision":"deny","reason":TEXT}` | `{"error":TEXT}`: the only way to replace an output |
//! | block prompt | BeforeAgent `{"decision":"block","reason":R}` | nothing: no model request is made |
//! | context | SessionStart `hookSpecificOutput.additionalContext` | the text |
//!
//! Gemini CLI fails open when a hook times out, exits 1 or prints no JSON,
//! so `claulock hook` always prints its answer and exits 0 (its own
//! deadline is well inside the timeout `install` sets).

use claulock_runtime::{Confirm, Verdict};
use serde_json::{Value, json};

use crate::{Hook, HookInput, agent::output_text};

/// The JSON Gemini CLI reads for `verdict`.
pub fn answer(hook: Hook, input: &HookInput, verdict: Verdict) -> Option<Value> {
    Some(match verdict {
        Verdict::Pass => return None,
        Verdict::Rewrite {
            confirm: Confirm::Ask,
            ..
        } => deny(ASK_UNSUPPORTED),
        Verdict::Rewrite {
            command, confirm, ..
        } => {
            let mut out = json!({"hookSpecificOutput": {
                "hookEventName": "BeforeTool",
                "tool_input": input.with_command(&command),
            }});
            // `Rules`: no decision, Gemini CLI's own approval applies.
            if confirm == Confirm::Allow {
                out["decision"] = "allow".into();
            }
            out
        }
        Verdict::Deny { reason } => deny(&reason),
        Verdict::ReplaceOutput { output } => {
            // What the model would have seen is `llmContent`; the display
            // copy (`returnDisplay`) is dropped with the original.
            let text = match output.get("llmContent") {
                Some(content) => output_text(content),
                None => output_text(&output),
            };
            json!({"decision": "deny", "reason": text})
        }
        Verdict::BlockPrompt { reason } => json!({"decision": "block", "reason": reason}),
        Verdict::Context { text } if hook == Hook::SessionStart => json!({
            "hookSpecificOutput": {"hookEventName": "SessionStart", "additionalContext": text}
        }),
        Verdict::Context { .. } => return None,
    })
}

fn deny(reason: &str) -> Value {
    json!({"decision": "deny", "reason": reason})
}

/// Why a command is refused when the user asked to confirm each command
/// with secrets, in an agent whose hooks cannot ask.
pub(crate) const ASK_UNSUPPORTED: &str = "ClauLock: `placeholder_permission = \"ask\"` in \
    hooks.toml asks the user before each command with secrets, and this agent's hooks cannot \
    ask. Ask the user to run the command in a terminal (`claulock exec -c '…'`), or to set \
    `placeholder_permission = \"allow\"`.";

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> HookInput {
        HookInput::parse(
            br#"{"hook_event_name":"BeforeTool","tool_name":"run_shell_command",
            "tool_input":{"command":"curl {{T}}","description":"call","dir_path":"sub"}}"#,
        )
        .unwrap()
    }

    #[test]
    fn a_rewrite_keeps_every_other_argument() {
        let v = Verdict::Rewrite {
            command: "claulock exec …".into(),
            confirm: Confirm::Allow,
            reason: String::new(),
        };
        let a = answer(Hook::PreToolUse, &input(), v).unwrap();
        assert_eq!(a["decision"], "allow");
        let args = &a["hookSpecificOutput"]["tool_input"];
        assert_eq!(args["command"], "claulock exec …");
        assert_eq!(args["description"], "call");
        assert_eq!(args["dir_path"], "sub");
    }

    #[test]
    fn ask_is_a_denial_and_a_replaced_output_is_the_reason() {
        let v = Verdict::Rewrite {
            command: "x".into(),
            confirm: Confirm::Ask,
            reason: String::new(),
        };
        assert_eq!(
            answer(Hook::PreToolUse, &input(), v).unwrap()["decision"],
            "deny"
        );
        let v = Verdict::ReplaceOutput {
            output: json!({"llmContent": "A=[REDACTED:A]", "returnDisplay": "A=[REDACTED:A]"}),
        };
        let a = answer(Hook::PostToolUse, &input(), v).unwrap();
        assert_eq!(a, json!({"decision": "deny", "reason": "A=[REDACTED:A]"}));
    }
}
