//! What happens in an agent runtime ([`Event`]) and what ClauLock says
//! about it ([`Verdict`]), in no runtime's own shape.

use serde_json::Value;

/// Something a coding agent is about to do, or did.
#[derive(Clone, Debug)]
pub enum Event<'a> {
    /// The model asks to run a tool.
    ToolCall {
        /// What the tool does, as far as ClauLock cares.
        call: ToolCall<'a>,
        /// The session's working directory.
        cwd: Option<&'a str>,
    },
    /// A tool ran; `output` is its result in the runtime's own shape.
    ToolOutput {
        /// The tool's name (for the audit log).
        tool: &'a str,
        /// Its result.
        output: &'a Value,
    },
    /// The user submitted a prompt.
    Prompt {
        /// Its text.
        text: &'a str,
        /// Where the runtime stored it already (swept when it is blocked).
        transcript: Option<&'a str>,
    },
    /// A session started.
    SessionStart,
    /// A turn or the session ended: the runtime's stored files may be
    /// swept.
    SessionEnd {
        /// The session's transcript.
        transcript: Option<&'a str>,
    },
}

/// A tool call, by what it would do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToolCall<'a> {
    /// Run a shell command.
    Shell {
        /// The command as the model wrote it.
        command: &'a str,
    },
    /// Read a file or search a tree, known before it runs.
    Read {
        /// The tool's name (shown in the refusal).
        tool: &'a str,
        /// The path, as the model gave it.
        path: String,
    },
    /// Anything else (its output is still scrubbed).
    Other,
}

/// Whether a rewritten command runs at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Confirm {
    /// Run without asking the user (the runtime's deny rules still apply).
    Allow,
    /// Ask the user first.
    Ask,
    /// No decision: the runtime's own permission rules decide.
    Rules,
}

/// What ClauLock says about an event.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Nothing: the runtime goes on as it would.
    Pass,
    /// Run this command instead (it runs the model's command through
    /// `claulock exec`).
    Rewrite {
        /// The replacement command.
        command: String,
        /// Whether it runs at once.
        confirm: Confirm,
        /// Why, for the user or the log.
        reason: String,
    },
    /// Do not run the tool; the reason goes to the model.
    Deny {
        /// Why, and what to do instead.
        reason: String,
    },
    /// Show the model this output instead of the tool's (same shape).
    ReplaceOutput {
        /// The replacement.
        output: Value,
    },
    /// Do not send the prompt to the model.
    BlockPrompt {
        /// Why, for the user.
        reason: String,
    },
    /// Context for the model at session start.
    Context {
        /// The text.
        text: String,
    },
}
