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

use claulock_mcp::backend::{
    AuditEvent, Backend, CheckResult, Entry, EntryKind, EntryState, NewSecret, SecretInfo, Status,
};
use serde_json::Value;

use crate::agent::{self, Meta, Request};
use crate::home::Home;

const LOCKED: &str =
    "the vault is locked: ask the user to run `claulock unlock` in a terminal, then try again";

struct AgentBackend {
    home: Home,
}

impl AgentBackend {
    /// One agent call; an unreachable agent is the locked-vault message.
    fn call(&self, req: Request) -> Result<Value, String> {
        match agent::request(&self.home, req) {
            Err(_) if !self.home.vault.exists() => Err(format!(
                "there is no vault yet: ask the user to run `claulock init` and `claulock unlock` in a terminal (CLAULOCK_HOME={})",
                self.home.dir.display()
            )),
            Err(_) => Err(LOCKED.into()),
            Ok(r) if r.ok => Ok(r.data.unwrap_or_default()),
            Ok(r) => Err(r.error.unwrap_or_else(|| "the agent refused".into())),
        }
    }

    fn info(v: Value) -> Result<SecretInfo, String> {
        serde_json::from_value(v).map_err(|e| format!("unexpected answer from the agent: {e}"))
    }
}

impl Backend for AgentBackend {
    fn status(&self) -> Status {
        let exists = self.home.vault.exists();
        match self.call(Request::Status) {
            Ok(d) => Status {
                vault_exists: exists,
                unlocked: true,
                secrets: d["secrets"].as_u64(),
                agent_pid: d["pid"].as_u64(),
                key_memory_locked: d["key_memory_locked"].as_bool(),
                idle_timeout_secs: d["idle_timeout_secs"].as_u64(),
                hint: None,
            },
            Err(e) => Status {
                vault_exists: exists,
                unlocked: false,
                secrets: None,
                agent_pid: None,
                key_memory_locked: None,
                idle_timeout_secs: None,
                hint: Some(e),
            },
        }
    }

    fn list(&self) -> Result<Vec<SecretInfo>, String> {
        let list = self.call(Request::List)?;
        list.as_array()
            .into_iter()
            .flatten()
            .cloned()
            .map(Self::info)
            .collect()
    }

    fn describe(&self, name: &str) -> Result<SecretInfo, String> {
        Self::info(self.call(Request::Describe {
            name: name.to_owned(),
        })?)
    }

    fn check(&self, command: &str, cwd: &str) -> Result<CheckResult, String> {
        let d = self.call(Request::Decide {
            command: command.to_owned(),
            cwd: cwd.to_owned(),
        })?;
        Ok(CheckResult {
            allowed: d["allowed"].as_bool().unwrap_or(false),
            refusals: d["refusals"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r.as_str().map(str::to_owned))
                .collect(),
        })
    }

    fn tag(&self, name: &str, add: &[String], remove: &[String]) -> Result<SecretInfo, String> {
        self.call(Request::Tag {
            name: name.to_owned(),
            add: add.to_vec(),
            remove: remove.to_vec(),
        })?;
        self.describe(name)
    }

    fn begin_entry(&self, name: &str, kind: EntryKind, meta: &NewSecret) -> Result<Entry, String> {
        let meta = Meta {
            tags: meta.tags.clone(),
            allow_hosts: meta.allow_hosts.clone(),
            allow_programs: meta.allow_programs.clone(),
            ..Meta::default()
        };
        let ttl_secs = std::env::var("CLAULOCK_ENTRY_TTL")
            .ok()
            .and_then(|t| t.parse().ok());
        let d = self.call(Request::EntryOpen {
            name: name.to_owned(),
            rotate: kind == EntryKind::Rotate,
            meta,
            ttl_secs,
        })?;
        Ok(Entry {
            id: d["id"].as_str().unwrap_or_default().to_owned(),
            url: d["url"].as_str().unwrap_or_default().to_owned(),
            terminal_command: d["terminal_command"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            expires_in_secs: d["expires_in_secs"].as_u64().unwrap_or(0),
        })
    }

    fn entry_state(&self, id: &str) -> Result<EntryState, String> {
        let d = self.call(Request::EntryState { id: id.to_owned() })?;
        Ok(match d["state"].as_str() {
            Some("stored") => EntryState::Stored,
            Some("expired") => EntryState::Expired,
            _ => EntryState::Pending,
        })
    }

    fn audit(
        &self,
        secret: Option<&str>,
        action: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, String> {
        let text = match std::fs::read_to_string(&self.home.audit) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(format!("cannot read the audit log: {e}")),
        };
        let mut events: Vec<AuditEvent> = text
            .lines()
            .filter_map(|l| {
                let mut w = l.splitn(4, ' ');
                let (time, act, name) = (w.next()?, w.next()?, w.next()?);
                let rest = w.next().unwrap_or_default();
                // The chain hash is the log's own business.
                let details = rest.rsplit_once(" h=").map_or(rest, |(d, _)| d);
                let details = if details.starts_with("h=") {
                    ""
                } else {
                    details
                };
                Some(AuditEvent {
                    time: time.to_owned(),
                    action: act.to_owned(),
                    secret: (name != "-").then(|| name.to_owned()),
                    details: details.to_owned(),
                })
            })
            .filter(|e| secret.is_none_or(|s| e.secret.as_deref() == Some(s)))
            .filter(|e| action.is_none_or(|a| e.action == a))
            .collect();
        let skip = events.len().saturating_sub(limit);
        events.drain(..skip);
        Ok(events)
    }
}

pub(crate) fn run() -> anyhow::Result<ExitCode> {
    let home = Home::from_env()?;
    let cwd = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_else(|_| "/".into());
    match claulock_mcp::serve_stdio(std::sync::Arc::new(AgentBackend { home }), cwd) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => anyhow::bail!(e),
    }
}
