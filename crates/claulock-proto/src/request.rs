//! What a client asks: [`Request`].

use serde::{Deserialize, Serialize};

use crate::{NewSecret, RemoteRef, SecretBytes, SourceSpec};

/// One request. Each has one kind of [`Reply`](crate::Reply) (named on
/// the variant) or an [`Error`](crate::Error).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Request {
    /// The agent's state. Reply: `Status`. Not a use (does not reset the
    /// idle timer).
    Status,
    /// Every secret's metadata. Reply: `Secrets`.
    List,
    /// One secret's metadata. Reply: `Secret`.
    Describe {
        /// The secret.
        name: String,
    },
    /// Adds a secret. Reply: `Done`.
    Add {
        /// Its name.
        name: String,
        /// Its value.
        value: SecretBytes,
        /// What it may do.
        meta: NewSecret,
    },
    /// Adds a secret whose value the agent reads from a source when a
    /// command needs it. It widens what the source's token can reach, so
    /// it needs the vault's passphrase (checked against the vault file).
    /// Reply: `Done`.
    AddFrom {
        /// Its name.
        name: String,
        /// Where its value lives.
        from: RemoteRef,
        /// What it may do.
        meta: NewSecret,
        /// The vault's passphrase.
        passphrase: SecretBytes,
    },
    /// Adds a source; the agent checks the token with the server before
    /// it seals it. Reply: `Done`.
    SourceAdd {
        /// Its name.
        name: String,
        /// The server.
        spec: SourceSpec,
        /// The token the agent reads with.
        token: SecretBytes,
    },
    /// Every source. Reply: `Sources`.
    SourceList,
    /// Removes a source and its token (refused while a secret reads from
    /// it). Reply: `Done`.
    SourceRemove {
        /// The source.
        name: String,
    },
    /// Asks the server about the source's token. Reply: `TokenChecked`.
    SourceTest {
        /// The source.
        name: String,
    },
    /// Gives a secret a new value (the old one stays scrubbed). Reply:
    /// `Done`.
    Rotate {
        /// The secret.
        name: String,
        /// The new value.
        value: SecretBytes,
        /// A new expiry for the new value (`Some(None)`: none); without
        /// it the old one stays.
        #[serde(default)]
        expires: Option<Option<i64>>,
    },
    /// Removes a secret and its old values. Reply: `Done`.
    Remove {
        /// The secret.
        name: String,
    },
    /// Adds and removes tags. Reply: `Secret` (after the change).
    Tag {
        /// The secret.
        name: String,
        /// Tags to add.
        #[serde(default)]
        add: Vec<String>,
        /// Tags to remove.
        #[serde(default)]
        remove: Vec<String>,
    },
    /// Changes a secret's rules. A change that widens what it may do
    /// (a host or program added, an allowlist emptied, a later or no
    /// expiry, env delivery, body or output files allowed) needs
    /// `passphrase`, else [`crate::Error::NeedsPassphrase`]; narrowing does
    /// not. Reply: `Secret` (after the change).
    Set {
        /// The secret.
        name: String,
        /// What changes.
        change: crate::MetaChange,
        /// The vault's passphrase, for a change that widens.
        #[serde(default)]
        passphrase: Option<SecretBytes>,
    },
    /// Checks a passphrase against the vault file (before `passwd` asks
    /// for a new one). Reply: `Done`, or [`crate::Error::NeedsPassphrase`]
    /// with `wrong`.
    CheckPassphrase {
        /// The passphrase.
        passphrase: SecretBytes,
    },
    /// Changes the vault's passphrase. Reply: `Done`.
    Passwd {
        /// The current passphrase.
        old: SecretBytes,
        /// The new one.
        new: SecretBytes,
    },
    /// Locks the vault: the agent drops its keys and exits. Open to any
    /// client of this user (locking reveals nothing). Reply: `Done`.
    Lock {
        /// Why, for the audit log (`idle`, `request`).
        #[serde(default)]
        reason: Option<String>,
    },
    /// For the exec wrapper only (its executable is verified): decide on
    /// `command` and, if allowed, the plan to run, which holds markers in
    /// place of the values, and opens a run for the deliverers it starts.
    /// Reply: `Resolved`.
    Resolve {
        /// The command as the model wrote it.
        command: String,
    },
    /// For a deliverer only (this executable, started under a run's exec
    /// wrapper): the values for the markers in the invocation it is about
    /// to become, after the agent checked that concrete invocation against
    /// the policy again. Reply: `Delivered`.
    Deliver {
        /// The run the markers belong to.
        run: String,
        /// The program and its arguments, markers in place of values.
        argv: Vec<String>,
        /// The environment entries that hold markers.
        #[serde(default)]
        env: Vec<(String, String)>,
        /// The secrets whose markers its standard input holds.
        #[serde(default)]
        stdin: Vec<String>,
    },
    /// The exec wrapper's report after its command ended, for the audit
    /// log; it closes the run. Reply: `Done`.
    Report {
        /// The secrets the command used.
        secrets: Vec<String>,
        /// Its exit status.
        exit: i32,
        /// The run it closes.
        #[serde(default)]
        run: Option<String>,
    },
    /// The policy's decision alone (for hooks and the MCP dry run). Reply:
    /// `Decision`.
    Decide {
        /// The command.
        command: String,
        /// The directory it would run in (finds `.claulock.toml`).
        cwd: String,
    },
    /// Scrubs text against the whole vault. Reply: `Scrubbed`.
    Scrub {
        /// The text.
        text: String,
        /// Who asks, for the audit log (`hook:prompt`).
        caller: String,
    },
    /// Scrubs every string of a JSON value, keys included. Reply:
    /// `ScrubbedJson`.
    ScrubJson {
        /// The value (a tool's response).
        value: serde_json::Value,
        /// Who asks, for the audit log (`hook:Bash`).
        caller: String,
    },
    /// Which of these files (directories: the files under them) hold a
    /// value. Reply: `Findings`.
    Scan {
        /// Absolute paths.
        paths: Vec<String>,
        /// Only the paths that are files: directories are not searched
        /// (the words of a command, rather than a search's root).
        #[serde(default)]
        files_only: bool,
        /// Also answer, as findings with [`Finding::unscanned`] set, the
        /// paths that could not be read to the end (too large, unreadable,
        /// past the scan's limits), so a caller can fail closed. Off for
        /// older clients, which would take such a finding for a file that
        /// holds a value.
        ///
        /// [`Finding::unscanned`]: crate::Finding::unscanned
        #[serde(default)]
        report_unscanned: bool,
    },
    /// Redacts every value from the files under `paths`, in place. Reply:
    /// `Swept`.
    Sweep {
        /// Absolute paths.
        paths: Vec<String>,
        /// Credential-shaped text from a blocked prompt, redacted too (as
        /// `UNSTORED_CREDENTIAL`).
        #[serde(default)]
        extra: Vec<SecretBytes>,
    },
    /// Scrubs streams passed with the request as file descriptors
    /// (`SCM_RIGHTS`): pairs of (source, destination), read until every
    /// source ends or the client hangs up. Two replies: `Done` once the
    /// streams are attached, then `Drained` once all sources ended.
    Pipe {
        /// Who asks, for the audit log (`exec`, `scrub`).
        caller: String,
        /// The secrets the command uses (named in the audit log).
        #[serde(default)]
        secrets: Vec<String>,
        /// The run whose output these streams are: its deliverers must
        /// write to them.
        #[serde(default)]
        run: Option<String>,
    },
    /// Opens a one-time loopback page where the human enters a value.
    /// Reply: `Entry`.
    EntryOpen {
        /// The secret to add or rotate.
        name: String,
        /// Rotate an existing secret rather than add a new one.
        rotate: bool,
        /// What a new secret may do.
        #[serde(default)]
        meta: NewSecret,
        /// How long the page lives (the agent caps it at 10 minutes).
        #[serde(default)]
        ttl_secs: Option<u64>,
    },
    /// Where an entry stands. Reply: `EntryState`.
    EntryState {
        /// The entry's id.
        id: String,
    },
}

impl Request {
    /// Whether this request is a use of the vault (resets the idle timer).
    pub fn is_use(&self) -> bool {
        !matches!(self, Request::Status | Request::Lock { .. })
    }

    /// A short name of the operation (for errors and the audit log).
    pub fn op(&self) -> &'static str {
        match self {
            Request::Status => "status",
            Request::List => "list",
            Request::Describe { .. } => "describe",
            Request::Add { .. } => "add",
            Request::AddFrom { .. } => "add_from",
            Request::SourceAdd { .. } => "source_add",
            Request::SourceList => "source_list",
            Request::SourceRemove { .. } => "source_remove",
            Request::SourceTest { .. } => "source_test",
            Request::Rotate { .. } => "rotate",
            Request::Remove { .. } => "remove",
            Request::Tag { .. } => "tag",
            Request::Set { .. } => "set",
            Request::CheckPassphrase { .. } => "check_passphrase",
            Request::Passwd { .. } => "passwd",
            Request::Lock { .. } => "lock",
            Request::Resolve { .. } => "resolve",
            Request::Deliver { .. } => "deliver",
            Request::Report { .. } => "report",
            Request::Decide { .. } => "decide",
            Request::Scrub { .. } => "scrub",
            Request::ScrubJson { .. } => "scrub_json",
            Request::Scan { .. } => "scan",
            Request::Sweep { .. } => "sweep",
            Request::Pipe { .. } => "pipe",
            Request::EntryOpen { .. } => "entry_open",
            Request::EntryState { .. } => "entry_state",
        }
    }
}
