//! claulock-hooks: the coding agents' hook protocols, as adapters of
//! `claulock-runtime`.
//!
//! Claude Code, Codex CLI and Gemini CLI run a command for each hook event
//! with one JSON object on stdin and read one JSON answer from stdout;
//! ClauLock's OpenCode plugin does the same for OpenCode. This crate is
//! the pure half of those adapters: a lenient model of the inputs
//! ([`HookInput`], one for all), which tool is each agent's shell and
//! which files its built-in tools would read ([`Agent`], [`paths`]), the
//! mapping of an input to an agent-neutral
//! [`Event`](claulock_runtime::Event), and of a
//! [`Verdict`](claulock_runtime::Verdict) back to each agent's answer
//! ([`claude`], [`codex`], [`gemini`], [`opencode`]).
//! The decisions themselves live in `claulock-runtime`, shared by every
//! agent's adapter.
//!
//! # This crate performs no IO
//!
//! It reads no file, environment or clock and starts no process: the
//! `claulock hook` command reads stdin, asks the guard (which asks the
//! agent) and writes the answer. Values never pass through this crate.
//!
//! # Example
//!
//! ```
//! use claulock_hooks::{HookInput, claude};
//! use claulock_runtime::{Confirm, Event, ToolCall, Verdict};
//!
//! let input = HookInput::parse(br#"{"hook_event_name":"PreToolUse","tool_name":"Bash",
//!     "tool_input":{"command":"gh api /user -H 'X: {{GH_TOKEN}}'","description":"who am I"}}"#).unwrap();
//! let event = claude::event(claude::Hook::PreToolUse, &input);
//! assert!(matches!(event, Event::ToolCall { call: ToolCall::Shell { .. }, .. }));
//! let verdict = Verdict::Rewrite { command: "claulock exec …".into(), confirm: Confirm::Allow, reason: String::new() };
//! // The answer keeps every other field of the tool input.
//! let answer = claude::answer(&input, verdict).to_json().unwrap();
//! assert_eq!(answer["hookSpecificOutput"]["updatedInput"]["description"], "who am I");
//! ```
#![forbid(unsafe_code)]

mod agent;
pub mod claude;
pub mod codex;
pub mod gemini;
mod input;
pub mod opencode;
mod output;
pub mod paths;
pub mod settings;

pub use agent::{Agent, Hook};
pub use input::{HookInput, InputError};
pub use output::{Answer, Permission};
