//! The hook answers, as Claude Code 2.1 reads them.

use serde_json::{Value, json};

/// A PreToolUse permission decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    /// Run without asking the user (deny and ask rules still apply).
    Allow,
    /// Ask the user first.
    Ask,
    /// Do not run; the reason goes to the model.
    Deny,
    /// No decision: Claude Code's own permission rules decide (they see the
    /// updated input).
    Rules,
}

impl Permission {
    fn as_str(self) -> &'static str {
        match self {
            Permission::Allow => "allow",
            Permission::Ask => "ask",
            Permission::Deny => "deny",
            Permission::Rules => "",
        }
    }
}

/// One hook answer. [`Answer::to_json`] gives the object to print; an
/// answer of `None` is printed as nothing at all (Claude Code goes on).
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// Nothing to say.
    None,
    /// PreToolUse: a decision, its reason and maybe a replacement input.
    PreToolUse {
        /// The decision.
        permission: Permission,
        /// Shown to the model for `deny`, to the user for `ask`.
        reason: String,
        /// The whole replacement tool input.
        updated_input: Option<Value>,
    },
    /// PostToolUse: the tool's output replaced, in the tool's own shape.
    PostToolUse {
        /// The replacement output.
        updated_output: Value,
    },
    /// UserPromptSubmit: the prompt is blocked; the reason is shown to the
    /// user, and the prompt is not repeated in the block notice.
    BlockPrompt {
        /// Why, and what to do instead.
        reason: String,
    },
    /// SessionStart: context for the model.
    Context {
        /// The event the context answers.
        event: &'static str,
        /// The text.
        text: String,
    },
}

impl Answer {
    /// The JSON to print, or `None` for no output.
    pub fn to_json(&self) -> Option<Value> {
        Some(match self {
            Answer::None => return None,
            Answer::PreToolUse {
                permission,
                reason,
                updated_input,
            } => {
                let mut out = json!({ "hookEventName": "PreToolUse" });
                if *permission != Permission::Rules {
                    out["permissionDecision"] = permission.as_str().into();
                    out["permissionDecisionReason"] = reason.as_str().into();
                }
                if let Some(input) = updated_input {
                    out["updatedInput"] = input.clone();
                }
                json!({ "hookSpecificOutput": out })
            }
            Answer::PostToolUse { updated_output } => json!({
                "hookSpecificOutput": {
                    "hookEventName": "PostToolUse",
                    "updatedToolOutput": updated_output,
                }
            }),
            Answer::BlockPrompt { reason } => json!({
                "decision": "block",
                "reason": reason,
                "hookSpecificOutput": {
                    "hookEventName": "UserPromptSubmit",
                    "suppressOriginalPrompt": true,
                }
            }),
            Answer::Context { event, text } => json!({
                "hookSpecificOutput": {
                    "hookEventName": event,
                    "additionalContext": text,
                }
            }),
        })
    }
}
