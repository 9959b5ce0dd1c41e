//! What the agent answers: [`Reply`] and the types it carries.

use serde::{Deserialize, Serialize};

use crate::{SecretBytes, SecretInfo, SourceInfo, TokenCheck};

/// A successful answer. Which kind answers which request is said on
/// [`Request`](crate::Request)'s variants.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reply {
    /// The request was carried out; nothing to say.
    Done,
    /// The agent's state.
    Status(AgentStatus),
    /// Every secret's metadata.
    Secrets(Vec<SecretInfo>),
    /// One secret's metadata.
    Secret(SecretInfo),
    /// What the exec wrapper runs (no value in it).
    Resolved(Resolution),
    /// The values a deliverer puts in place of its markers.
    Delivered {
        /// One per secret its invocation uses.
        values: Vec<Binding>,
        /// Variables the program gets after the unsafe inherited ones are
        /// dropped: its run's proxy and CA bundle, when the run also
        /// delivers by proxy.
        #[serde(default)]
        env: Vec<(String, String)>,
    },
    /// The policy's decision.
    Decision(Verdict),
    /// Scrubbed text: `None` when nothing was caught.
    Scrubbed {
        /// The redacted text, when it differs.
        text: Option<String>,
        /// What was caught.
        caught: Vec<Caught>,
    },
    /// A scrubbed JSON value: `None` when nothing was caught.
    ScrubbedJson {
        /// The redacted value, when it differs.
        value: Option<serde_json::Value>,
        /// What was caught.
        caught: Vec<Caught>,
    },
    /// The files that hold a value.
    Findings(Vec<Finding>),
    /// What a sweep changed.
    Swept(SweepReport),
    /// Every piped stream ended.
    Drained {
        /// What was caught in them.
        caught: Vec<Caught>,
    },
    /// A value entry was opened.
    Entry(EntryTicket),
    /// Where a value entry stands.
    EntryState(EntryState),
    /// Every source.
    Sources(Vec<SourceInfo>),
    /// What the server said of a source's token.
    TokenChecked(TokenCheck),
}

/// The agent's state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentStatus {
    /// How many secrets the vault holds.
    pub secrets: u64,
    /// The agent's process id.
    pub pid: u32,
    /// Seconds without a use after which it locks itself.
    pub idle_timeout_secs: Option<u64>,
    /// Whether the pages holding the key are kept out of swap.
    pub key_memory_locked: bool,
    /// Whether its memory is closed to other processes of the user.
    pub non_dumpable: bool,
    /// Where its egress proxy listens (`None`: it could not start, and
    /// proxy-delivered secrets are refused).
    #[serde(default)]
    pub proxy: Option<String>,
    /// The variables of the asking process's own environment that hold a
    /// value (the agent reads it through `/proc`): an agent runtime's hook
    /// learns so that its commands inherit a value, and runs every one
    /// through `claulock exec`, which withholds them.
    #[serde(default)]
    pub inherited: Vec<String>,
}

/// The plan of an allowed command, for the exec wrapper.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Resolution {
    /// The command text bash runs: markers in place of values, each
    /// program that receives one started through the deliverer.
    pub plan: String,
    /// The run its deliverers belong to (`None`: no placeholder).
    pub run: Option<String>,
    /// Variables to set in the command's environment: the proxy and its
    /// CA bundle, when a secret is delivered by the proxy. (No value: the
    /// proxy's credential names the run, and the bundle is public.)
    #[serde(default)]
    pub env: Vec<(String, String)>,
    /// Variables to remove from it (`NO_PROXY`: every host goes through
    /// the proxy).
    #[serde(default)]
    pub unset: Vec<String>,
    /// Variables of the wrapper's own environment that hold a value (the
    /// agent read it through `/proc`): removed from the command's
    /// environment too, and named to the model so that it writes a
    /// placeholder instead.
    #[serde(default)]
    pub withheld: Vec<String>,
    /// The proxy's Unix socket: where the wrapper forwards a loopback port
    /// of its own when the proxy's port cannot be reached (a sandbox with
    /// a network of its own).
    #[serde(default)]
    pub proxy_socket: Option<String>,
}

/// The value of one secret, for a deliverer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Binding {
    /// The secret.
    pub secret: String,
    /// The value.
    pub value: SecretBytes,
}

/// The policy's decision on a command.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// Whether the command may receive its secrets.
    pub allowed: bool,
    /// Why not: one line per refusal, naming the secret and the rule.
    pub refusals: Vec<String>,
    /// The secrets it uses that the proxy delivers (the command holds a
    /// surrogate); the others enter the program that needs them.
    #[serde(default)]
    pub proxied: Vec<String>,
}

/// A value caught by the scrubber: which secret, in which form, how often.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caught {
    /// The secret.
    pub secret: String,
    /// The form (`raw`, `base64`, …).
    pub form: String,
    /// How many times.
    pub count: u64,
}

/// A file that holds a value, or (when the scan was asked to report them)
/// a path that could not be scanned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Its path.
    pub path: String,
    /// The secrets whose values it holds.
    pub secrets: Vec<String>,
    /// Why it was not scanned to the end (`secrets` then names what was
    /// found before it stopped, usually nothing): larger than the scan's
    /// limit, unreadable, or the scan's budget ran out before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unscanned: Option<String>,
}

/// What a sweep did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepReport {
    /// Per file, secret and form: how many redactions.
    pub changed: Vec<SweptFile>,
    /// How many files were read.
    pub files: u64,
    /// Files that could not be swept, and why.
    pub errors: Vec<String>,
}

/// Redactions in one file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweptFile {
    /// The file.
    pub file: String,
    /// The secret.
    pub secret: String,
    /// The form.
    pub form: String,
    /// How many times.
    pub count: u64,
}

/// A pending value entry: the human types the value on a loopback page,
/// or in a terminal; it never passes through the client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct EntryTicket {
    /// Identifies the entry.
    pub id: String,
    /// The one-time loopback page (127.0.0.1, random port, random token).
    pub url: String,
    /// The same in a terminal, e.g. `claulock add NAME --allow-host ...`.
    pub terminal_command: String,
    /// Seconds until the page expires.
    pub expires_in_secs: u64,
}

/// Where a value entry stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum EntryState {
    /// Waiting for the human.
    Pending,
    /// The value is in the vault.
    Stored,
    /// The page expired unused.
    Expired,
}
