//! Why a request failed: [`Error`].

use std::fmt;

use serde::{Deserialize, Serialize};

/// A failed request. Every message says what to do next, and none holds a
/// value (the agent builds them from names and rules only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "error", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Error {
    /// There is no vault (no agent answers, and no vault file exists).
    NoVault {
        /// Where the vault was looked for.
        path: String,
    },
    /// A vault exists but no agent holds it unlocked.
    Locked,
    /// No secret of that name.
    NotFound {
        /// The name asked for.
        name: String,
    },
    /// A secret of that name exists already.
    Exists {
        /// The name.
        name: String,
    },
    /// The policy refused the command; nothing ran.
    Refused {
        /// One line per refusal, naming the secret and the rule.
        reasons: Vec<String>,
    },
    /// The request needs the exec wrapper, and the peer is not it.
    UntrustedPeer {
        /// Why not.
        why: String,
    },
    /// The client and the agent speak different protocol versions.
    Version {
        /// The agent's.
        agent: u32,
        /// The client's.
        client: u32,
    },
    /// The request is malformed or names something invalid.
    Invalid {
        /// What is wrong.
        message: String,
    },
    /// The agent could not do it (a disk error, a source that failed).
    Failed {
        /// What went wrong.
        message: String,
    },
    /// The change widens what a secret may do, which needs the vault's
    /// passphrase (and none, or a wrong one, came with it).
    NeedsPassphrase {
        /// What the change widens.
        why: String,
        /// Whether a passphrase came and was wrong.
        wrong: bool,
    },
    /// The agent did not answer: it closed the connection, timed out, or
    /// the answer was not readable.
    Unanswered {
        /// What happened.
        why: String,
    },
}

impl Error {
    /// A malformed or invalid request.
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::Invalid {
            message: message.into(),
        }
    }

    /// A failure inside the agent.
    pub fn failed(message: impl Into<String>) -> Self {
        Error::Failed {
            message: message.into(),
        }
    }

    /// Whether the error means that no agent could be asked at all (so a
    /// caller that must fail closed knows it could not check).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Error::Locked
                | Error::NoVault { .. }
                | Error::Unanswered { .. }
                | Error::Version { .. }
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NoVault { path } => {
                write!(f, "there is no vault at {path}: run `claulock init` first")
            }
            Error::Locked => {
                f.write_str("the vault is locked: run `claulock unlock` in a terminal")
            }
            Error::NotFound { name } => write!(
                f,
                "no secret named {name}: `claulock list` shows the names, `claulock add {name}` adds it"
            ),
            Error::Exists { name } => write!(
                f,
                "{name} already exists: rotate it to give it a new value (`claulock rotate {name}`)"
            ),
            Error::Refused { reasons } => f.write_str(&reasons.join("\n")),
            Error::UntrustedPeer { why } => {
                write!(f, "only `claulock exec` may resolve secrets: {why}")
            }
            Error::Version { agent, client } => write!(
                f,
                "the agent speaks protocol {agent}, this claulock {client}: restart the agent with \
                 this claulock (`claulock lock`, then `claulock unlock`)"
            ),
            Error::Invalid { message } | Error::Failed { message } => f.write_str(message),
            Error::Unanswered { why } => write!(f, "the agent did not answer: {why}"),
            Error::NeedsPassphrase { why, wrong: false } => write!(
                f,
                "this change widens what the secret may do ({why}): it needs the vault's passphrase"
            ),
            Error::NeedsPassphrase {
                why: _,
                wrong: true,
            } => f.write_str("the passphrase is wrong; nothing was changed"),
        }
    }
}

impl std::error::Error for Error {}
