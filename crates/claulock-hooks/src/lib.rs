//! claulock-hooks: Claude Code's hook protocol, mapped to ClauLock decisions.
//!
//! Claude Code runs a command for each hook event with one JSON object on
//! stdin and reads one JSON answer from stdout. This crate is the pure half
//! of that adapter: lenient models of the inputs ([`HookInput`]), the
//! answers ([`Answer`]), and the decisions that need no IO — how a Bash
//! command is rewritten to run through `claulock exec` ([`bash`]), which
//! files a tool would read ([`paths`]), how a tool's response is scrubbed
//! in its own shape (in the agent), which prompt text looks like a
//! credential ([`prompt`]) and what the model is told at session start
//! ([`context`]).
//!
//! # This crate performs no IO
//!
//! It reads no file, environment or clock and starts no process: the
//! `claulock hook` command reads stdin, asks the agent (which holds the
//! values) and writes the answer. Values never pass through this crate;
//! scrubbing is a function the caller passes in.
//!
//! # Example
//!
//! ```
//! use claulock_hooks::{HookInput, bash};
//!
//! let input = HookInput::parse(br#"{"hook_event_name":"PreToolUse","tool_name":"Bash",
//!     "tool_input":{"command":"gh api /user -H 'X: {{GH_TOKEN}}'","description":"who am I"}}"#).unwrap();
//! let command = input.bash_command().unwrap();
//! assert!(bash::has_placeholders(command));
//! let wrapped = bash::wrap("/usr/bin/claulock", command, "/home/me/.claulock/run");
//! assert!(wrapped.starts_with("'/usr/bin/claulock' exec --cwd-out "));
//! // The answer keeps every other field of the tool input.
//! let updated = input.with_bash_command(&wrapped);
//! assert_eq!(updated["description"], "who am I");
//! ```
#![forbid(unsafe_code)]

pub mod bash;
pub mod context;
mod input;
mod output;
pub mod paths;
pub mod prompt;

pub use input::{HookInput, InputError};
pub use output::{Answer, Permission};
