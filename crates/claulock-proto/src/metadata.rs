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
}
