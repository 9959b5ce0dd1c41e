//! What the server asks of the vault: the `Backend` trait and the shapes
//! of its answers (the metadata ones are the agent protocol's own). None
//! of them has a field for a value, a value's length, a part of it or a
//! hash of it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where a value entry stands.
pub use claulock_proto::EntryState;
/// A pending value entry: the human types the value on a loopback page,
/// or in a terminal; it never passes through the MCP client.
pub use claulock_proto::EntryTicket as Entry;
/// A secret's metadata, as the agent shows it (the protocol's one shape).
pub use claulock_proto::SecretInfo;

/// The vault and its agent.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Status {
    /// Whether a vault file exists.
    pub vault_exists: bool,
    /// Whether the agent holds it unlocked.
    pub unlocked: bool,
    /// How many secrets (when unlocked).
    pub secrets: Option<u64>,
    /// The agent's process id (when unlocked).
    pub agent_pid: Option<u64>,
    /// Whether the agent keeps its key out of swap.
    pub key_memory_locked: Option<bool>,
    /// Seconds of idleness after which the agent locks itself.
    pub idle_timeout_secs: Option<u64>,
    /// The team's OpenBao or Vault servers values are read from, and the
    /// secrets each gives (when unlocked; never a token).
    #[serde(default)]
    pub sources: Vec<claulock_proto::SourceInfo>,
    /// What to do next, when something is missing.
    pub hint: Option<String>,
}

/// A policy dry run.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct CheckResult {
    /// Whether the command would be allowed to receive its secrets.
    pub allowed: bool,
    /// Why not, one line per refusal, each naming the secret and the rule.
    pub refusals: Vec<String>,
}

/// One audit log event.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct AuditEvent {
    /// When (RFC 3339, UTC).
    pub time: String,
    /// `resolve`, `denied`, `add`, `rotate`, `remove`, `scrubbed`, ...
    pub action: String,
    /// The secret, if the event concerns one.
    pub secret: Option<String>,
    /// The event's other fields, `key=value` as logged.
    pub details: String,
}

/// What `secret_run` did with a command: its refusal, or its scrubbed
/// output and exit status. The output has already passed through the
/// scrubber (`claulock exec`, and the hooks' sweep after it): a value, or
/// any encoding of one the scrubber knows, reads as `[REDACTED:NAME]`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
pub struct RunResult {
    /// Why the command did not run (a policy refusal, a locked vault, a
    /// file that holds a value): nothing ran when this is set.
    pub refused: Option<String>,
    /// Its exit status (none when it was refused, or killed by a signal or
    /// the timeout).
    pub exit_code: Option<i32>,
    /// Its standard output, scrubbed.
    pub stdout: String,
    /// Its standard error, scrubbed (and `claulock exec`'s own notes).
    pub stderr: String,
    /// Whether it was killed at the timeout.
    pub timed_out: bool,
    /// Whether stdout or stderr was cut at the size limit.
    pub truncated: bool,
}

/// Whether a value entry adds a new secret or rotates one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A new secret.
    Add,
    /// A new value for an existing secret.
    Rotate,
}

/// The metadata of a secret to be added: where it may go, and its labels.
pub use claulock_proto::Allowances as NewSecret;

/// What the server needs from the vault. Every error is a message for the
/// model that says what to do next (for a locked vault: ask the user to
/// run `claulock unlock` in a terminal). No method takes or returns a value.
pub trait Backend: Send + Sync + 'static {
    /// The vault's and the agent's state (never an error: a locked or
    /// missing vault is a state).
    fn status(&self) -> Status;
    /// Every secret's metadata.
    fn list(&self) -> Result<Vec<SecretInfo>, String>;
    /// One secret's metadata.
    fn describe(&self, name: &str) -> Result<SecretInfo, String>;
    /// The policy's decision on a command, run from `cwd`.
    fn check(&self, command: &str, cwd: &str) -> Result<CheckResult, String>;
    /// Adds and removes tags; the secret's metadata after.
    fn tag(&self, name: &str, add: &[String], remove: &[String]) -> Result<SecretInfo, String>;
    /// Opens a value entry for `name`.
    fn begin_entry(&self, name: &str, kind: EntryKind, meta: &NewSecret) -> Result<Entry, String>;
    /// The terminal command that adds `name`, read from a source when a
    /// command needs it (`from`: `SOURCE:PATH#FIELD`), once `from` is
    /// checked (the source exists). Only the user can run it: it asks for
    /// the vault's passphrase, as such a secret reaches what the source's
    /// token can read.
    fn source_command(&self, name: &str, from: &str, meta: &NewSecret) -> Result<String, String> {
        let _ = (name, from, meta);
        Err("this server cannot ask for secrets read from a source".into())
    }
    /// Where an entry stands.
    fn entry_state(&self, id: &str) -> Result<EntryState, String>;
    /// The most recent audit events, newest last, filtered.
    fn audit(
        &self,
        secret: Option<&str>,
        action: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, String>;
    /// Runs a shell command with placeholders, from `cwd`, under the same
    /// policy, delivery and scrubbing as a hooked shell tool, killing it
    /// after `timeout`. A refusal is a result (`refused`), not an error;
    /// an error is a failure to start or check it at all.
    fn run(
        &self,
        command: &str,
        cwd: &str,
        timeout: std::time::Duration,
    ) -> Result<RunResult, String>;
}
