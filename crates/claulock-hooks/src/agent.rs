//! The coding agents ClauLock adapts to, and what differs between them.
//!
//! Every agent runs `claulock hook EVENT --agent NAME` with one JSON object
//! on stdin. The inputs are close to Claude Code's (Codex and Gemini CLI
//! took its hook protocol as their model; ClauLock's OpenCode plugin sends
//! the same fields), so one lenient [`HookInput`] reads them all. What
//! differs is which tool is the shell and which tools read files (their
//! names and fields), and the shape of each answer: each agent's module
//! maps a [`Verdict`] to the JSON that agent reads.

use claulock_runtime::{Event, ToolCall, Verdict};
use serde_json::Value;

use crate::paths::{self, Reads};
use crate::{HookInput, claude, codex, gemini, opencode};

/// The hook events ClauLock installs, by what they mean (each agent names
/// them its own way: Gemini CLI's `BeforeTool` is `pre-tool-use`).
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

    /// Its name for `claulock hook NAME`.
    pub fn name(self) -> &'static str {
        Hook::ALL
            .iter()
            .find(|(_, h)| *h == self)
            .map_or("?", |(n, _)| n)
    }
}

/// A coding agent ClauLock has an adapter for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Agent {
    /// Anthropic's Claude Code.
    ClaudeCode,
    /// OpenAI's Codex CLI.
    Codex,
    /// Google's Gemini CLI.
    Gemini,
    /// OpenCode.
    OpenCode,
}

impl Agent {
    /// Every agent, with the name `--agent NAME` takes.
    pub const ALL: [(&'static str, Agent); 4] = [
        ("claude-code", Agent::ClaudeCode),
        ("codex", Agent::Codex),
        ("gemini", Agent::Gemini),
        ("opencode", Agent::OpenCode),
    ];

    /// The agent of that name.
    pub fn from_name(name: &str) -> Option<Agent> {
        Agent::ALL.iter().find(|(n, _)| *n == name).map(|(_, a)| *a)
    }

    /// Its name for `--agent NAME`.
    pub fn name(self) -> &'static str {
        Agent::ALL
            .iter()
            .find(|(_, a)| *a == self)
            .map_or("?", |(n, _)| n)
    }

    /// Whether every shell command must run through `claulock exec`, with
    /// or without placeholders. For Codex, Gemini CLI and OpenCode it
    /// must: they store a command's raw output (Codex's rollouts and
    /// thread database, OpenCode's event log as the output streams) before
    /// a hook after the tool could change it, so output is safe only when
    /// it was scrubbed before the agent saw it. Claude Code's PostToolUse
    /// replaces the output before it is stored, and its permission rules
    /// stop matching a rewritten command, so there it is a setting.
    pub fn wraps_every_command(self) -> bool {
        self != Agent::ClaudeCode
    }

    /// The shell command of a tool call, if it is this agent's shell tool,
    /// and the directory it runs in when the call names one.
    pub fn shell_command(self, input: &HookInput) -> Option<(&str, Option<&str>)> {
        let (tool, dir): (&str, Option<&str>) = match self {
            Agent::ClaudeCode => ("Bash", None),
            Agent::Codex => ("Bash", None),
            Agent::Gemini => ("run_shell_command", Some("dir_path")),
            Agent::OpenCode => ("bash", Some("workdir")),
        };
        if input.tool_name.as_deref() != Some(tool) {
            return None;
        }
        let command = input.tool_input.get("command")?.as_str()?;
        let dir = dir.and_then(|d| input.tool_input.get(d)?.as_str());
        Some((command, dir.filter(|d| !d.is_empty())))
    }

    /// The event a hook input stands for.
    pub fn event<'a>(self, hook: Hook, input: &'a HookInput) -> Event<'a> {
        let tool = input.tool_name.as_deref().unwrap_or("?");
        let cwd = input.cwd.as_deref();
        let transcript = input.transcript_path.as_deref();
        match hook {
            Hook::PreToolUse => match self.shell_command(input) {
                // A directory of the call's own is where the command runs,
                // and where its policy is decided (a relative one is
                // resolved by the guard against the session's).
                Some((command, dir)) => Event::ToolCall {
                    call: ToolCall::Shell { command },
                    cwd: dir.or(cwd),
                },
                None => {
                    let call = match paths::reads(self, tool, &input.tool_input, cwd) {
                        Reads::Nothing => ToolCall::Other,
                        Reads::File(path) | Reads::Tree(path) => ToolCall::Read { tool, path },
                    };
                    Event::ToolCall { call, cwd }
                }
            },
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

    /// The JSON this agent reads for `verdict` on `input` (none: print
    /// nothing, the agent goes on).
    pub fn answer(self, hook: Hook, input: &HookInput, verdict: Verdict) -> Option<Value> {
        match self {
            Agent::ClaudeCode => claude::answer(input, verdict).to_json(),
            Agent::Codex => codex::answer(hook, input, verdict),
            Agent::Gemini => gemini::answer(hook, input, verdict),
            Agent::OpenCode => opencode::answer(verdict),
        }
    }
}

/// The text of a tool's output, however it is shaped: a string, an
/// object's text fields or a list of content parts, joined by line
/// breaks (for agents whose only way to replace an output is a reason
/// string).
pub(crate) fn output_text(output: &Value) -> String {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) if !s.is_empty() => out.push(s.clone()),
            Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            Value::Object(o) => o.values().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    let mut parts = Vec::new();
    walk(output, &mut parts);
    parts.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(v: Value) -> HookInput {
        HookInput::parse(v.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn names_round_trip() {
        for (name, agent) in Agent::ALL {
            assert_eq!(Agent::from_name(name), Some(agent));
            assert_eq!(agent.name(), name);
        }
        for (name, hook) in Hook::ALL {
            assert_eq!(hook.name(), name);
        }
        assert_eq!(Agent::from_name("cursor"), None);
    }

    #[test]
    fn each_agent_has_its_own_shell_tool() {
        let cases = [
            (Agent::ClaudeCode, "Bash", json!({"command": "ls"}), None),
            (
                Agent::Gemini,
                "run_shell_command",
                json!({"command": "ls", "dir_path": "sub"}),
                Some("sub"),
            ),
            (
                Agent::OpenCode,
                "bash",
                json!({"command": "ls", "workdir": "/w"}),
                Some("/w"),
            ),
        ];
        for (agent, tool, args, dir) in cases {
            let i = input(json!({"tool_name": tool, "tool_input": args, "cwd": "/p"}));
            assert_eq!(agent.shell_command(&i), Some(("ls", dir)), "{agent:?}");
            let Event::ToolCall {
                call: ToolCall::Shell { command },
                cwd,
            } = agent.event(Hook::PreToolUse, &i)
            else {
                panic!("{agent:?}: not a shell call")
            };
            assert_eq!((command, cwd), ("ls", Some(dir.unwrap_or("/p"))));
            // Another agent's shell tool is not this one's.
            let other = if agent == Agent::Gemini {
                Agent::OpenCode
            } else {
                Agent::Gemini
            };
            assert_eq!(other.shell_command(&i), None);
        }
    }

    #[test]
    fn output_text_joins_every_shape() {
        assert_eq!(output_text(&json!("a")), "a");
        assert_eq!(
            output_text(&json!({"llmContent": [{"text": "a"}, {"text": "b"}]})),
            "a\nb"
        );
    }
}
