//! The hook logic of ClauLock, for any coding agent: what to do when the
//! model calls a tool, when a tool returns, when the user sends a prompt,
//! when a session starts or ends.
//!
//! Each agent runtime speaks its own hook protocol (Claude Code's JSON
//! hooks, Codex's, Gemini CLI's, an OpenCode plugin). An adapter maps its
//! input to an [`Event`] and a [`Verdict`] back to its answer; the
//! [`Guard`] decides the verdict, asking the agent (through [`AgentApi`])
//! whatever needs the values. A new runtime is one adapter.
//!
//! # This crate performs no IO of its own
//!
//! It reads no file, environment or clock and starts no process: the
//! agent's questions go through the [`AgentApi`] the caller gives it
//! (`claulock_proto::Client` implements it), and values never pass through
//! it; the file guard's questions about the file system (a directory's
//! names, a link's target, what git would print) through the
//! [`Workspace`] it gives; settings are parsed by the caller ([`Settings`]
//! is their shape).
//!
//! # Fail closed
//!
//! See [`guard`]: when a vault exists and the agent cannot answer, a tool
//! call that could reveal a value is denied and a tool's output withheld.
//!
//! # Example
//!
//! ```
//! use claulock_runtime::{Event, ToolCall, Verdict, fallback, with_reason};
//! // The agent is locked: a shell command is denied, with what to do.
//! let event = Event::ToolCall { call: ToolCall::Shell { command: "cat .env" }, cwd: None };
//! let Verdict::Deny { reason } = with_reason(fallback(&event, true), "the vault is locked") else {
//!     panic!("denied")
//! };
//! assert!(reason.contains("claulock unlock"));
//! ```

pub mod context;
mod event;
pub mod files;
pub mod guard;
pub mod prompt;
pub mod shell;

pub use event::{Confirm, Event, ToolCall, Verdict};
pub use files::Workspace;
pub use guard::{
    AgentApi, Guard, PlaceholderPermission, Settings, fallback, read_refusal, with_reason,
};
