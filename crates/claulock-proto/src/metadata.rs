//! A secret's metadata as the protocol carries it: [`SecretInfo`] (what
//! the agent shows), [`NewSecret`] (what `add` asks for) and the
//! [`Allowances`] they share. None has a field for a value, its length, a
//! part of it or a hash of it.

use serde::{Deserialize, Serialize};

/// Where a secret may go, and its labels: what a human sets when adding
/// it, and what every interface shows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Allowances {
    /// Hosts the value may be sent to (exact, or `*.suffix`); empty: any.
    #[serde(default)]
    pub allow_hosts: Vec<String>,
    /// Programs the value may be passed to; empty: any.
    #[serde(default)]
    pub allow_programs: Vec<String>,
    /// Labels.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// How a secret's value reaches the command that uses it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Delivery {
    /// The command holds a worthless surrogate; the agent's egress proxy
    /// puts the value on the TLS connection to an allowed host, and
    /// scrubs it out of that host's responses.
    Proxy,
    /// The value enters the environment or arguments of the one program
    /// it flows into, for that program's lifetime.
    #[default]
    Env,
}

impl Delivery {
    /// The delivery in effect: the one set, else `proxy` for a secret with
    /// allowed hosts (the proxy can only deliver to hosts it knows) and
    /// `env` for one without.
    pub fn effective(set: Option<Delivery>, hosts: &[String]) -> Delivery {
        set.unwrap_or(if hosts.is_empty() {
            Delivery::Env
        } else {
            Delivery::Proxy
        })
    }

    /// `proxy` or `env`.
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Proxy => "proxy",
            Delivery::Env => "env",
        }
    }
}

/// One secret's metadata: the one shape every interface shows (the CLI's
/// `list`/`describe`, the MCP tools, the hooks' session context).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SecretInfo {
    /// The name, used as `{{NAME}}` in commands.
    pub name: String,
    /// Where it may go, and its labels.
    #[serde(flatten)]
    pub allowances: Allowances,
    /// Programs lifted out of the built-in lists of programs that reveal
    /// what they get.
    #[serde(default)]
    pub allow_revealing: Vec<String>,
    /// Whether a command holding it may write its output to files.
    #[serde(default)]
    pub allow_output_files: bool,
    /// How its value reaches a command.
    #[serde(default)]
    pub delivery: Delivery,
    /// Whether the proxy may put it in a request's line and body, not
    /// only its headers.
    #[serde(default)]
    pub allow_in_body: bool,
    /// When it was added (RFC 3339, UTC).
    #[serde(default)]
    pub created: Option<String>,
    /// When its value last changed.
    #[serde(default)]
    pub rotated: Option<String>,
    /// When it stops being usable.
    #[serde(default)]
    pub expires: Option<String>,
    /// The project it is limited to, if any.
    #[serde(default)]
    pub project: Option<String>,
    /// How many earlier values are still scrubbed from output.
    #[serde(default)]
    pub superseded_values: u64,
    /// Where its value is read from, when it lives in a team's OpenBao or
    /// Vault (`None`: in the local vault).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Box<RemoteInfo>>,
}

/// Where a source-backed secret's value is read from, and when it was
/// last read: never the value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RemoteInfo {
    /// The source's name (`claulock source list`).
    pub source: String,
    /// The secret's path in it.
    pub path: String,
    /// The field.
    pub field: String,
    /// How long the agent keeps a value it read, in seconds.
    pub ttl_secs: u64,
    /// When the agent last read it from the source (RFC 3339, UTC;
    /// `None`: not since it was unlocked).
    #[serde(default)]
    pub last_read: Option<String>,
    /// When the lease of the value in use ends (RFC 3339, UTC): a dynamic
    /// secret's credentials, or a value the server gave a lifetime.
    #[serde(default)]
    pub lease_ends: Option<String>,
}

/// What a new secret may do, as `add` (or a value entry) asks for it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSecret {
    /// Where it may go, and its labels.
    #[serde(flatten)]
    pub allowances: Allowances,
    /// When it stops being usable (Unix seconds).
    #[serde(default)]
    pub expires: Option<i64>,
    /// The project it is limited to.
    #[serde(default)]
    pub project: Option<String>,
    /// Whether a command holding it may write its output to files.
    #[serde(default)]
    pub allow_output_files: bool,
    /// How its value reaches a command (`None`: `proxy` when it has
    /// allowed hosts, else `env`).
    #[serde(default)]
    pub deliver: Option<Delivery>,
    /// Whether the proxy may put it in a request's line and body.
    #[serde(default)]
    pub allow_in_body: bool,
}

/// A change to a secret's rules (`claulock set`). Empty fields change
/// nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaChange {
    /// Hosts to allow.
    #[serde(default)]
    pub add_hosts: Vec<String>,
    /// Hosts to stop allowing.
    #[serde(default)]
    pub remove_hosts: Vec<String>,
    /// Programs to allow.
    #[serde(default)]
    pub add_programs: Vec<String>,
    /// Programs to stop allowing.
    #[serde(default)]
    pub remove_programs: Vec<String>,
    /// A new expiry: `Some(None)` for none.
    #[serde(default)]
    pub expires: Option<Option<i64>>,
    /// A new delivery.
    #[serde(default)]
    pub deliver: Option<Delivery>,
    /// Whether the proxy may put the value in a request's line and body.
    #[serde(default)]
    pub allow_in_body: Option<bool>,
    /// Whether a command holding it may write its output to files.
    #[serde(default)]
    pub allow_output_files: Option<bool>,
}
