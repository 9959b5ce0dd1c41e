//! Claude Code's hooks mapped to and from the agent-neutral events and
//! verdicts of `claulock-runtime`.

use claulock_runtime::{Confirm, Event, ToolCall, Verdict};

use crate::paths::{self, Reads};
use crate::{Answer, HookInput, Permission};

/// The hook events ClauLock installs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hook {
    /// Before a tool runs.
    PreToolUse,
    /// After a tool ran.
    PostToolUse,
    /// A prompt was submitted.
    UserPromptSubmit,
    /// A session started.
    SessionStart,
    /// A turn ended.
    Stop,
    /// A session ended.
    SessionEnd,
}

impl Hook {
    /// Every hook, with the name `claulock hook NAME` takes.
    pub const ALL: [(&'static str, Hook); 6] = [
        ("pre-tool-use", Hook::PreToolUse),
        ("post-tool-use", Hook::PostToolUse),
        ("user-prompt-submit", Hook::UserPromptSubmit),
        ("session-start", Hook::SessionStart),
        ("stop", Hook::Stop),
        ("session-end", Hook::SessionEnd),
    ];

    /// The hook of that name.
    pub fn from_name(name: &str) -> Option<Hook> {
        Hook::ALL.iter().find(|(n, _)| *n == name).map(|(_, h)| *h)
    }
}

/// The event a hook input stands for.
pub fn event(hook: Hook, input: &HookInput) -> Event<'_> {
    let tool = input.tool_name.as_deref().unwrap_or("?");
    let cwd = input.cwd.as_deref();
    let transcript = input.transcript_path.as_deref();
    match hook {
        Hook::PreToolUse => {
            let call = match input.bash_command() {
                Some(command) => ToolCall::Shell { command },
                None => match paths::reads(tool, &input.tool_input, cwd) {
                    Reads::Nothing => ToolCall::Other,
                    Reads::File(path) | Reads::Tree(path) => ToolCall::Read { tool, path },
                },
            };
            Event::ToolCall { call, cwd }
        }
        Hook::PostToolUse => Event::ToolOutput {
            tool,
            output: &input.tool_response,
        },
        Hook::UserPromptSubmit => Event::Prompt {
            text: input.prompt.as_deref().unwrap_or_default(),
            transcript,
        },
        Hook::SessionStart => Event::SessionStart,
        Hook::Stop | Hook::SessionEnd => Event::SessionEnd { transcript },
    }
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
            updated_input: Some(input.with_bash_command(&command)),
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
