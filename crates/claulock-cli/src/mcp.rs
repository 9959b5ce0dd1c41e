//! `claulock mcp`: the MCP server (stdio), on the agent.
//!
//! The protocol and the tools live in `claulock-mcp`; this module is its
//! [`Backend`]: each tool becomes an agent request (metadata, decisions
//! and entry pages only: the agent has no request that returns a value to
//! anything but `claulock exec`), and the audit log is read from its file.
//!
//! `CLAULOCK_ENTRY_TTL` (seconds) shortens the life of the entry pages this
//! server opens (the agent caps it at 10 minutes).

use std::process::ExitCode;

use claulock_agent::{Home, audit};
use claulock_mcp::backend::{
    AuditEvent, Backend, CheckResult, Entry, EntryKind, EntryState, NewSecret, RunResult,
    SecretInfo, Status,
};
use claulock_proto::{Client, Error, NewSecret as Meta, Reply, Request};

struct AgentBackend {
    home: Home,
    client: Client,
}

/// The agent's error as a message for the model: what to ask the user.
fn for_model(e: Error) -> String {
    match e {
        Error::NoVault { .. } => format!(
            "there is no vault yet: ask the user to run `claulock init` and `claulock unlock` in a \
             terminal ({e})"
        ),
        Error::Locked => {
            "the vault is locked: ask the user to run `claulock unlock` in a terminal, then try again"
                .into()
        }
        other => other.to_string(),
    }
}

impl Backend for AgentBackend {
    fn status(&self) -> Status {
        let exists = self.home.vault.exists();
        match self.client.status() {
            Ok(d) => Status {
                vault_exists: exists,
                unlocked: true,
                secrets: Some(d.secrets),
                agent_pid: Some(u64::from(d.pid)),
                key_memory_locked: Some(d.key_memory_locked),
                idle_timeout_secs: d.idle_timeout_secs,
                sources: match self.client.request(&Request::SourceList) {
                    Ok(Reply::Sources(l)) => l,
                    _ => Vec::new(),
                },
                hint: None,
            },
            Err(e) => Status {
                vault_exists: exists,
                unlocked: false,
                secrets: None,
                agent_pid: None,
                key_memory_locked: None,
                idle_timeout_secs: None,
                sources: Vec::new(),
                hint: Some(for_model(e)),
            },
        }
    }

    fn list(&self) -> Result<Vec<SecretInfo>, String> {
        self.client.list().map_err(for_model)
    }

    fn describe(&self, name: &str) -> Result<SecretInfo, String> {
        self.client.describe(name).map_err(for_model)
    }

    fn check(&self, command: &str, cwd: &str) -> Result<CheckResult, String> {
        let v = self.client.decide(command, cwd).map_err(for_model)?;
        Ok(CheckResult {
            allowed: v.allowed,
            refusals: v.refusals,
        })
    }

    fn tag(&self, name: &str, add: &[String], remove: &[String]) -> Result<SecretInfo, String> {
        self.client
            .secret(&Request::Tag {
                name: name.to_owned(),
                add: add.to_vec(),
                remove: remove.to_vec(),
            })
            .map_err(for_model)
    }

    fn begin_entry(&self, name: &str, kind: EntryKind, meta: &NewSecret) -> Result<Entry, String> {
        let meta = Meta {
            allowances: meta.clone(),
            ..Meta::default()
        };
        let ttl_secs = std::env::var("CLAULOCK_ENTRY_TTL")
            .ok()
            .and_then(|t| t.parse().ok());
        match self.client.request(&Request::EntryOpen {
            name: name.to_owned(),
            rotate: kind == EntryKind::Rotate,
            meta,
            ttl_secs,
        }) {
            Ok(Reply::Entry(e)) => Ok(e),
            Ok(other) => Err(claulock_proto::unexpected(&other).to_string()),
            Err(e) => Err(for_model(e)),
        }
    }

    fn source_command(&self, name: &str, from: &str, meta: &NewSecret) -> Result<String, String> {
        use claulock_runtime::shell::quote;
        let parsed = claulock_proto::RemoteRef::parse(from)?;
        if self.client.describe(name).is_ok() {
            return Err(for_model(claulock_proto::Error::Exists {
                name: name.to_owned(),
            }));
        }
        let sources = match self.client.request(&Request::SourceList) {
            Ok(Reply::Sources(l)) => l,
            Ok(other) => return Err(claulock_proto::unexpected(&other).to_string()),
            Err(e) => return Err(for_model(e)),
        };
        if !sources.iter().any(|s| s.name == parsed.source) {
            return Err(format!(
                "there is no source named {}: ask the user to add it (`claulock source add {} --openbao URL`); `claulock source list` shows the sources",
                parsed.source, parsed.source
            ));
        }
        let mut command = format!("claulock add {name} --from {}", quote(from));
        for (flag, values) in [
            ("--allow-host", &meta.allow_hosts),
            ("--allow-program", &meta.allow_programs),
            ("--tag", &meta.tags),
        ] {
            for v in values {
                command.push_str(&format!(" {flag} {}", quote(v)));
            }
        }
        Ok(command)
    }

    fn entry_state(&self, id: &str) -> Result<EntryState, String> {
        match self
            .client
            .request(&Request::EntryState { id: id.to_owned() })
        {
            Ok(Reply::EntryState(s)) => Ok(s),
            Ok(other) => Err(claulock_proto::unexpected(&other).to_string()),
            Err(e) => Err(for_model(e)),
        }
    }

    fn audit(
        &self,
        secret: Option<&str>,
        action: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, String> {
        let text = audit::read(&self.home).map_err(|e| format!("{e:#}"))?;
        let mut events: Vec<AuditEvent> = text
            .lines()
            .filter_map(audit::Event::parse)
            .filter(|e| secret.is_none_or(|s| e.secret.as_deref() == Some(s)))
            .filter(|e| action.is_none_or(|a| e.action == a))
            .map(|e| AuditEvent {
                details: e.details(),
                time: e.time,
                action: e.action,
                secret: e.secret,
            })
            .collect();
        let skip = events.len().saturating_sub(limit);
        events.drain(..skip);
        Ok(events)
    }

    fn run(
        &self,
        command: &str,
        cwd: &str,
        timeout: std::time::Duration,
    ) -> Result<RunResult, String> {
        crate::secret_run::run(&self.home, command, cwd, timeout)
    }
}

pub(crate) fn run() -> anyhow::Result<ExitCode> {
    let home = Home::from_env()?;
    let client = home.client();
    let cwd = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_else(|_| "/".into());
    match claulock_mcp::serve_stdio(std::sync::Arc::new(AgentBackend { home, client }), cwd) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => anyhow::bail!(e),
    }
}
