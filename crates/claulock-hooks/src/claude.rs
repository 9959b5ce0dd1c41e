//! Claude Code's hooks mapped to and from the agent-neutral events and
//! verdicts of `claulock-runtime`.

use claulock_runtime::{Confirm, Event, Verdict};

use crate::{Agent, Answer, HookInput, Permission};

pub use crate::Hook;

/// The event a hook input stands for.
pub fn event(hook: Hook, input: &HookInput) -> Event<'_> {
    Agent::ClaudeCode.event(hook, input)
}

/// The answer Claude Code reads for `verdict` on `input`.
pub fn answer(input: &HookInput, verdict: Verdict) -> Answer {
    match verdict {
        Verdict::Pass => Answer::None,
        Verdict::Rewrite {
            command,
            confirm,
            reason,
        } => Answer::PreToolUse {
            permission: match confirm {
                Confirm::Allow => Permission::Allow,
                Confirm::Ask => Permission::Ask,
                Confirm::Rules => Permission::Rules,
            },
            reason,
            updated_input: Some(input.with_command(&command)),
        },
        Verdict::Deny { reason } => Answer::PreToolUse {
            permission: Permission::Deny,
            reason,
            updated_input: None,
        },
        Verdict::ReplaceOutput { output } => Answer::PostToolUse {
            updated_output: output,
        },
        Verdict::BlockPrompt { reason } => Answer::BlockPrompt { reason },
        Verdict::Context { text } => Answer::Context {
            event: "SessionStart",
            text,
        },
    }
}
