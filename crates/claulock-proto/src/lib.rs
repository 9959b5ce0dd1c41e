//! The protocol between ClauLock's agent and its clients, as types.
//!
//! The agent is a per-user daemon that holds the unlocked vault (like
//! `ssh-agent`). Its clients are the `claulock` commands, the exec wrapper,
//! the hooks of every coding agent and the MCP server, and any runtime
//! that embeds ClauLock. This crate is what they share: one [`Request`]
//! enum, a typed [`Reply`] per request, a typed [`Error`], the framing
//! ([`wire`]) and a blocking [`Client`].
//!
//! # No reply carries a value to an arbitrary client
//!
//! Values travel in [`SecretBytes`], which wipes itself and whose `Debug`
//! prints nothing. They go *to* the agent (`add`, `rotate`, `passwd`), and
//! *from* it in one reply only, [`Reply::Delivered`], which the agent gives
//! to a deliverer alone: this very executable, started under an exec
//! wrapper's run, about to become the one program that needs the values,
//! after the agent checked that concrete invocation against the policy.
//! The exec wrapper and the shell that runs the model's text hold none. Scrubbing,
//! scanning and sweeping happen inside the agent ([`Request::Pipe`] hands
//! it the streams themselves), so no client needs the dictionary.
//!
//! # Why a crate of its own
//!
//! The agent, the CLI, the MCP adapter and embedders must agree on every
//! byte of this protocol; a crate with the types alone (no agent code, no
//! vault, no policy) lets each of them depend on exactly that.
//!
//! # Example
//!
//! ```
//! use claulock_proto::{Client, Error};
//! let dir = std::env::temp_dir().join("claulock-proto-doc-no-agent");
//! let client = Client::new(dir.join("agent.sock"), dir.join("vault.clv"));
//! // No agent and no vault: the error says what to do.
//! let e = client.list().unwrap_err();
//! assert!(matches!(e, Error::NoVault { .. }));
//! assert!(e.to_string().contains("claulock init"));
//! ```

mod client;
mod error;
mod metadata;
mod reply;
mod request;
mod secret;
mod source;
pub mod wire;

pub use client::{Client, DEFAULT_TIMEOUT, PipeSession, unexpected};
pub use error::Error;
pub use metadata::{Allowances, Delivery, MetaChange, NewSecret, RemoteInfo, SecretInfo};
pub use reply::{
    AgentStatus, Binding, Caught, EntryState, EntryTicket, Finding, Reply, Resolution, SweepReport,
    SweptFile, Verdict,
};
pub use request::Request;
pub use secret::{MAX_VALUE_LEN, SecretBytes};
pub use source::{RemoteRef, SourceInfo, SourceSpec, TokenCheck};
pub use wire::{MAX_LINE, PROTOCOL};
