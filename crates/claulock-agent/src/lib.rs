//! The ClauLock agent as a library: the per-user daemon that holds the
//! unlocked vault, like `ssh-agent`, and everything that needs its values.
//!
//! - [`Agent`] answers every [`Request`](claulock_proto::Request) in
//!   process: `Agent::handle(request, peer, now)`. Its protocol is tested
//!   without sockets, and a runtime can embed it.
//! - [`server`] serves it on a Unix socket, many clients at once, checking
//!   each peer's uid and, for the one request that returns values, that
//!   the peer is the exec wrapper running trusted code ([`peer`]).
//! - [`daemon`] is the process around it: non-dumpable, detached, started
//!   by `claulock unlock` with the passphrase on a pipe.
//! - Values are read through one seam, [`SecretSource`]: the local vault,
//!   and a team's OpenBao or Vault cluster, read on demand and cached for
//!   a TTL ([`remote`], over the HTTP API client of [`openbao`]).
//! - The work that needs the values stays here: scrubbing piped streams
//!   ([`pipe`]), scanning files for values, sweeping them out of files,
//!   the audit log ([`audit`]), the vault file ([`store`]).
//!
//! - The egress proxy of proxy delivery runs here too ([`proxied`], over
//!   `claulock-proxy`): it needs the values, the runs and the policy, all of
//!   which live in this process.
//!
//! # No value leaves the agent unless a command needs it
//!
//! A proxy-delivered value never leaves it but on the TLS connection to an
//! allowed host: the command holds a surrogate. The only reply that holds
//! values is a deliverer's `deliver` (env delivery), and it holds only the
//! values of the placeholders its invocation uses, after the policy was
//! checked again here. Output is scrubbed here too: the
//! wrapper hands over its command's output pipes ([`pipe`]), so no client
//! ever receives the whole vault as a dictionary.
//!
//! # Why the engine is its own crate
//!
//! The agent depends on the pure crates (policy, scrubber, vault format)
//! and the protocol, never on an adapter for a coding agent: the Claude
//! Code hooks, the MCP server and any other runtime are clients of it.
//!
//! # Example
//!
//! ```
//! use claulock_agent::{Agent, Home, Options, Peer};
//! use claulock_proto::{NewSecret, Reply, Request, SecretBytes};
//! use claulock_vault::{KdfParams, Vault};
//!
//! let dir = std::env::temp_dir().join(format!("claulock-agent-doc-{}", std::process::id()));
//! let home = Home::at(&dir);
//! home.ensure_dir().unwrap();
//! let vault = Vault::create(b"pass", KdfParams::MIN, &mut claulock_agent::osrand::OsRandom).unwrap();
//! let agent = Agent::new(home, vault, Options::default(), 1_800_000_000);
//! let add = Request::Add {
//!     name: "TOKEN".into(),
//!     value: SecretBytes::new(b"tok_9f8e7d6c5b4a39281706".to_vec()),
//!     meta: NewSecret::default(),
//! };
//! agent.handle(add, &Peer::client(), 1_800_000_000).unwrap();
//! let Ok(Reply::Secrets(list)) = agent.handle(Request::List, &Peer::client(), 1_800_000_000) else {
//!     panic!("a list")
//! };
//! assert_eq!(list[0].name, "TOKEN");
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

mod agent;
pub mod audit;
pub mod daemon;
mod entry;
mod guard;
mod home;
pub mod openbao;
pub mod osrand;
pub mod peer;
pub mod pipe;
pub mod project;
pub mod proxied;
pub mod remote;
pub mod rules;
pub mod server;
pub mod source;
pub mod store;
mod sweep;
mod widen;

pub use agent::{Agent, Options, info};
pub use home::Home;
pub use peer::Peer;
pub use source::SecretSource;
