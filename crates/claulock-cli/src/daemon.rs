//! The agent process: unlocks the vault once, then serves requests until
//! locked or idle.
//!
//! It is started by `claulock unlock` as `claulock agent` with the
//! passphrase on its standard input (never argv or the environment). It
//! detaches into its own session, makes itself non-dumpable (so processes
//! of the same user cannot read its memory through `/proc/<pid>/mem` or
//! ptrace, and no core dump holds a key), opens the vault, binds the socket
//! and prints `ready <pid>` (or `error: …`) for `unlock` to relay.
//!
//! Requests are served one at a time: mutations are serialized, so
//! concurrent `claulock add` calls cannot lose each other's secrets.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use claulock_vault::{KdfParams, Metadata, Secret, SecretValue, Vault};
use serde_json::json;
use zeroize::Zeroizing;

use crate::agent::{Envelope, MAX_LINE, Meta, PROTOCOL, Request, Response, from_hex};
use crate::audit;
use crate::home::Home;
use crate::osrand::OsRandom;
use crate::store;

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Runs the agent. Returns when it is locked.
pub(crate) fn run(home: &Home, idle: Option<Duration>) -> anyhow::Result<()> {
    // Detach from the terminal's session so closing it does not stop us.
    let _ = rustix::process::setsid();
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
        .context("cannot make the agent non-dumpable")?;
    let mut out = std::io::stdout().lock();
    let result = start(home);
    let (listener, vault) = match result {
        Ok(v) => v,
        Err(e) => {
            writeln!(out, "error: {e:#}")?;
            return Ok(());
        }
    };
    let _ = audit::append(
        home,
        "unlock",
        "",
        &[("secrets", vault.secrets().count().to_string())],
    );
    writeln!(out, "ready {}", std::process::id())?;
    out.flush()?;
    drop(out);

    let last = Arc::new(AtomicU64::new(now_secs().unsigned_abs()));
    if let Some(idle) = idle {
        spawn_idle_watch(home, idle, Arc::clone(&last));
    }
    // Keep the pages holding the data key out of swap, where the OS allows
    // it (RLIMIT_MEMLOCK); the values themselves are heap allocations that
    // zeroize on drop.
    let vault = Box::new(vault);
    let memory_lock = region::lock(
        std::ptr::from_ref::<Vault>(&vault),
        std::mem::size_of::<Vault>(),
    )
    .ok();
    let mut agent = Agent {
        home,
        vault,
        idle,
        last,
        memory_locked: memory_lock.is_some(),
        scrubber: None,
        entries: crate::entry::Shared::default(),
    };
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        if agent.serve(stream) == Flow::Lock {
            break;
        }
    }
    let _ = std::fs::remove_file(&home.socket);
    // Dropping the vault zeroizes its keys and values (before the pages
    // are unlocked).
    drop(agent);
    drop(memory_lock);
    Ok(())
}

fn start(home: &Home) -> anyhow::Result<(UnixListener, Vault)> {
    let mut pass = Zeroizing::new(Vec::new());
    std::io::stdin().read_to_end(&mut pass)?;
    let bytes = store::read(home)?;
    let vault = Vault::open(&bytes, &pass)?;
    if crate::agent::is_running(home) {
        anyhow::bail!("an agent already serves {}", home.socket.display());
    }
    let _ = std::fs::remove_file(&home.socket);
    // Created private from the start: no window in which another user
    // could connect.
    let old = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let listener = UnixListener::bind(&home.socket);
    rustix::process::umask(old);
    let listener =
        listener.with_context(|| format!("cannot listen on {}", home.socket.display()))?;
    std::fs::set_permissions(&home.socket, std::fs::Permissions::from_mode(0o600))?;
    Ok((listener, vault))
}

/// Locks the agent after `idle` without a request, by asking it to lock
/// like any client would (so the vault is dropped and zeroized properly).
fn spawn_idle_watch(home: &Home, idle: Duration, last: Arc<AtomicU64>) {
    let socket = home.socket.clone();
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_secs(1).min(idle));
            let since = now_secs()
                .unsigned_abs()
                .saturating_sub(last.load(Ordering::Relaxed));
            if since >= idle.as_secs() {
                if let Ok(mut s) = UnixStream::connect(&socket) {
                    let _ = s.write_all(b"{\"v\":1,\"op\":\"lock\",\"reason\":\"idle\"}\n");
                    let _ = s.read(&mut [0u8; 64]);
                }
                return;
            }
        }
    });
}

#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    Lock,
}

struct Agent<'a> {
    home: &'a Home,
    vault: Box<Vault>,
    memory_locked: bool,
    idle: Option<Duration>,
    /// When the vault was last used (a status check is not a use).
    last: Arc<AtomicU64>,
    /// The whole vault as a scrubber for the hooks' requests: built on
    /// first use, dropped on every change (`None` until then).
    scrubber: Option<Option<claulock_scrub::Scrubber>>,
    /// Open value entries and their loopback page ([`crate::entry`]).
    entries: crate::entry::Shared,
}

impl Agent<'_> {
    fn serve(&mut self, stream: UnixStream) -> Flow {
        let me = rustix::process::getuid();
        let peer_pid = match rustix::net::sockopt::socket_peercred(&stream) {
            Ok(cred) if cred.uid == me => cred.pid.as_raw_nonzero().get(),
            Ok(cred) => {
                let _ = audit::append(
                    self.home,
                    "denied",
                    "",
                    &[
                        ("reason", "foreign-uid".into()),
                        ("uid", cred.uid.as_raw().to_string()),
                    ],
                );
                return Flow::Continue;
            }
            Err(_) => return Flow::Continue,
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let mut line = Zeroizing::new(String::new());
        let Ok(reader) = stream.try_clone() else {
            return Flow::Continue;
        };
        if BufReader::new(reader.take(MAX_LINE))
            .read_line(&mut line)
            .is_err()
        {
            return Flow::Continue;
        }
        let (response, flow) = match serde_json::from_str::<Envelope<Request>>(&line) {
            Ok(env) if env.v == PROTOCOL => self.handle(env.body, peer_pid),
            Ok(env) => (
                err(format!(
                    "this agent speaks protocol {PROTOCOL}, not {}; restart it with the same claulock",
                    env.v
                )),
                Flow::Continue,
            ),
            Err(_) => (err("malformed request".into()), Flow::Continue),
        };
        let mut w = &stream;
        let mut bytes = Zeroizing::new(serde_json::to_vec(&response).unwrap_or_default());
        bytes.push(b'\n');
        let _ = w.write_all(&bytes);
        // A `resolve` answer holds values: wipe them from the response too.
        if let Some(mut data) = response.data {
            crate::agent::wipe(&mut data);
        }
        flow
    }

    fn handle(&mut self, req: Request, peer_pid: i32) -> (Response, Flow) {
        if !matches!(req, Request::Status) {
            self.last
                .store(now_secs().unsigned_abs(), Ordering::Relaxed);
        }
        let result = match req {
            Request::Status => Ok(Some(json!({
                "secrets": self.vault.secrets().count(),
                "pid": std::process::id(),
                "idle_timeout_secs": self.idle.map(|d| d.as_secs()),
                "key_memory_locked": self.memory_locked,
                "non_dumpable": true,
            }))),
            Request::List => Ok(Some(serde_json::Value::Array(
                self.vault.secrets().map(describe).collect(),
            ))),
            Request::Describe { name } => self
                .vault
                .get(&name)
                .map(|s| Some(describe(s)))
                .ok_or_else(|| claulock_vault::VaultError::NotFound(name).to_string()),
            Request::Lock { reason } => {
                let reason = reason.unwrap_or_else(|| "request".into());
                let _ = audit::append(self.home, "lock", "", &[("reason", reason)]);
                return (ok(None), Flow::Lock);
            }
            Request::Add { name, value, meta } => self.add(name, &value, meta),
            Request::Rotate { name, value } => self.rotate(&name, &value),
            Request::Remove { name } => {
                self.mutate("remove", &name, &[], |v, _| v.remove(&name).map(|_| ()))
            }
            Request::Tag { name, add, remove } => {
                let fields = [("added", add.join(",")), ("removed", remove.join(","))];
                self.mutate("tag", &name, &fields, |v, _| {
                    let s = v
                        .get_mut(&name)
                        .ok_or_else(|| claulock_vault::VaultError::NotFound(name.clone()))?;
                    s.meta.tags.retain(|t| !remove.contains(t));
                    for t in &add {
                        if !s.meta.tags.contains(t) {
                            s.meta.tags.push(t.clone());
                        }
                    }
                    Ok(())
                })
            }
            Request::Passwd { old, new } => self.passwd(&old, &new),
            Request::Resolve { command } => self.resolve(&command, peer_pid),
            Request::Decide { command, cwd } => self.decide_for_hook(&command, &cwd),
            Request::Scrub { text, caller } => self.with_scrubber(
                |s| {
                    let (out, caught) = crate::guard::scrub(s, text.as_bytes());
                    let text =
                        (!caught.is_empty()).then(|| String::from_utf8_lossy(&out).into_owned());
                    (json!({ "text": text }), caught)
                },
                &caller,
            ),
            Request::ScrubJson { value, caller } => self.with_scrubber(
                |s| {
                    let mut caught = Vec::new();
                    let value =
                        claulock_hooks::response::scrub_strings(&value, &mut |text: &str| {
                            let (out, c) = crate::guard::scrub(s, text.as_bytes());
                            let hit = !c.is_empty();
                            crate::guard::merge(&mut caught, c);
                            hit.then(|| String::from_utf8_lossy(&out).into_owned())
                        });
                    (json!({ "value": value }), caught)
                },
                &caller,
            ),
            Request::Scan { paths } => self.with_scrubber(
                |s| {
                    let findings: Vec<_> = crate::guard::scan(s, &paths)
                        .into_iter()
                        .map(|(path, secrets)| json!({"path": path, "secrets": secrets}))
                        .collect();
                    (json!({ "findings": findings }), Vec::new())
                },
                "scan",
            ),
            Request::Sweep { paths, extra } => self.sweep(&paths, &extra),
            Request::EntryOpen {
                name,
                rotate,
                meta,
                ttl_secs,
            } => self.entry_open(&name, rotate, meta, ttl_secs),
            Request::EntryState { id } => self.entry_state(&id),
            Request::Report {
                secrets,
                exit,
                caught,
            } => {
                for (secret, form, count) in caught {
                    let f = [
                        ("caller", "exec".to_string()),
                        ("form", form),
                        ("count", count.to_string()),
                    ];
                    let _ = audit::append(self.home, "scrubbed", &secret, &f);
                }
                for secret in secrets {
                    let _ = audit::append(
                        self.home,
                        "exit",
                        &secret,
                        &[("caller", "exec".into()), ("exit", exit.to_string())],
                    );
                }
                Ok(None)
            }
        };
        match result {
            Ok(data) => (ok(data), Flow::Continue),
            Err(e) => (err(e), Flow::Continue),
        }
    }

    /// Decides on a command for the exec wrapper and hands it what it needs.
    fn resolve(
        &mut self,
        command: &str,
        peer_pid: i32,
    ) -> Result<Option<serde_json::Value>, String> {
        if let Err(why) = crate::peer::verify_exec_peer(peer_pid) {
            let _ = audit::append(
                self.home,
                "denied",
                "",
                &[("reason", "untrusted-peer".into()), ("why", why.clone())],
            );
            return Err(format!("only `claulock exec` may resolve secrets: {why}"));
        }
        let cwd = std::fs::read_link(format!("/proc/{peer_pid}/cwd"))
            .map_err(|_| "cannot read the caller's working directory".to_string())?;
        let names = claulock_core::grammar::placeholders(command).map_err(|e| e.to_string())?;
        let (plan, bindings) = if names.is_empty() {
            // Nothing to substitute: run the command as written (escapes
            // undone when the command can be read).
            let plan = claulock_core::substitute::substitution_plan(command)
                .map_or_else(|_| command.to_owned(), |p| p.command);
            (plan, Vec::new())
        } else {
            let decision = self.decide(command, &cwd)?;
            if !decision.allowed {
                let mut lines = Vec::new();
                for r in &decision.refusals {
                    let secret = r.secret.clone().unwrap_or_default();
                    let f = [("caller", "exec".to_string()), ("rule", r.rule.to_string())];
                    let _ = audit::append(self.home, "denied", &secret, &f);
                    lines.push(r.to_string());
                }
                return Err(lines.join("\n"));
            }
            let plan = decision.plan.ok_or("no plan for an allowed command")?;
            let analysis = decision
                .analysis
                .ok_or("no analysis for an allowed command")?;
            let host = analysis.destinations.iter().find_map(|d| match &d.target {
                claulock_core::destination::Target::Host { host } => Some(host.clone()),
                _ => None,
            });
            let mut bindings = Vec::new();
            for b in &plan.bindings {
                let secret = self.vault.get(&b.secret).ok_or("the secret vanished")?;
                let program = analysis
                    .uses
                    .iter()
                    .find(|u| u.secret == b.secret)
                    .and_then(|u| u.program.clone());
                let f = [
                    ("caller", "exec".to_string()),
                    ("program", program.unwrap_or_else(|| "?".into())),
                    ("host", host.clone().unwrap_or_else(|| "-".into())),
                ];
                let _ = audit::append(self.home, "resolve", &b.secret, &f);
                bindings.push(
                    json!({"env": b.env_var, "value": crate::agent::to_hex(secret.value.expose())}),
                );
            }
            (plan.command, bindings)
        };
        let mut dictionary = Vec::new();
        for s in self.vault.secrets() {
            dictionary
                .push(json!({"name": s.name, "value": crate::agent::to_hex(s.value.expose())}));
            for old in &s.superseded {
                dictionary.push(
                    json!({"name": s.name, "value": crate::agent::to_hex(old.value.expose())}),
                );
            }
        }
        Ok(Some(
            json!({"plan": plan, "bindings": bindings, "dictionary": dictionary}),
        ))
    }

    /// The policy's decision alone, for the PreToolUse hook (which then
    /// routes the command through `claulock exec`, where the agent decides
    /// again). No value in the answer.
    fn decide_for_hook(
        &self,
        command: &str,
        cwd: &str,
    ) -> Result<Option<serde_json::Value>, String> {
        let decision = self.decide(command, std::path::Path::new(cwd))?;
        let refusals: Vec<String> = decision.refusals.iter().map(ToString::to_string).collect();
        for r in &decision.refusals {
            let secret = r.secret.clone().unwrap_or_default();
            let f = [("caller", "hook".to_string()), ("rule", r.rule.to_string())];
            let _ = audit::append(self.home, "denied", &secret, &f);
        }
        Ok(Some(
            json!({"allowed": decision.allowed, "refusals": refusals}),
        ))
    }

    /// Runs `work` with the whole-vault scrubber and audits what it caught
    /// as `scrubbed` by `caller`. An empty vault catches nothing.
    fn with_scrubber(
        &mut self,
        work: impl FnOnce(&claulock_scrub::Scrubber) -> (serde_json::Value, Vec<claulock_scrub::Catch>),
        caller: &str,
    ) -> Result<Option<serde_json::Value>, String> {
        if self.scrubber.is_none() {
            self.scrubber = Some(crate::guard::scrubber(&self.vault, &[])?);
        }
        let Some(Some(s)) = &self.scrubber else {
            return Ok(Some(
                json!({"caught": [], "findings": [], "text": null, "value": null}),
            ));
        };
        let (mut data, caught) = work(s);
        self.audit_caught(&caught, caller);
        data["caught"] = caught_json(&caught);
        Ok(Some(data))
    }

    fn audit_caught(&self, caught: &[claulock_scrub::Catch], caller: &str) {
        for c in caught {
            let f = [
                ("caller", caller.to_string()),
                ("form", c.form.to_string()),
                ("count", c.count.to_string()),
            ];
            let _ = audit::append(self.home, "scrubbed", &c.secret, &f);
        }
    }

    /// Sweeps files; `extra` strings (credential-shaped text from a
    /// blocked prompt) are redacted too, as `UNSTORED_CREDENTIAL`.
    fn sweep(
        &mut self,
        paths: &[String],
        extra: &[String],
    ) -> Result<Option<serde_json::Value>, String> {
        let Some(s) = crate::guard::scrubber(&self.vault, extra)? else {
            return Ok(Some(json!({"changed": [], "files": 0, "errors": []})));
        };
        let report = crate::sweep::sweep(&s, paths);
        for c in report["changed"].as_array().into_iter().flatten() {
            let f = [
                ("caller", "sweep".to_string()),
                ("file", c["file"].as_str().unwrap_or_default().to_string()),
                ("form", c["form"].as_str().unwrap_or_default().to_string()),
                ("count", c["count"].to_string()),
            ];
            let _ = audit::append(
                self.home,
                "swept",
                c["secret"].as_str().unwrap_or_default(),
                &f,
            );
        }
        Ok(Some(report))
    }

    /// Opens a one-time page for the human to enter `name`'s value.
    fn entry_open(
        &mut self,
        name: &str,
        rotate: bool,
        meta: Meta,
        ttl_secs: Option<u64>,
    ) -> Result<Option<serde_json::Value>, String> {
        let ttl = ttl_secs.map_or(crate::entry::TTL, |s| {
            std::time::Duration::from_secs(s.max(1)).min(crate::entry::TTL)
        });
        if claulock_core::grammar::placeholders(&format!("{{{{{name}}}}}"))
            .map_or(true, |p| p.len() != 1)
        {
            return Err(format!(
                "{name:?} is not a valid secret name: a letter or `_`, then letters, digits and `_`"
            ));
        }
        match (rotate, self.vault.get(name).is_some()) {
            (false, true) => {
                return Err(format!(
                    "{name} already exists: rotate it to give it a new value"
                ));
            }
            (true, false) => {
                return Err(claulock_vault::VaultError::NotFound(name.to_owned()).to_string());
            }
            _ => {}
        }
        let mut command = format!("claulock {} {name}", if rotate { "rotate" } else { "add" });
        for (flag, values) in [
            ("--allow-host", &meta.allow_hosts),
            ("--allow-program", &meta.allow_programs),
            ("--tag", &meta.tags),
        ] {
            for v in values {
                command.push_str(&format!(" {flag} {}", claulock_hooks::bash::quote(v)));
            }
        }
        let (id, url) = crate::entry::open(
            &self.entries,
            self.home,
            name,
            rotate,
            meta,
            now_secs(),
            ttl,
        )?;
        let _ = audit::append(
            self.home,
            "entry-open",
            name,
            &[
                ("caller", "mcp".into()),
                ("kind", if rotate { "rotate" } else { "add" }.into()),
            ],
        );
        Ok(Some(json!({
            "id": id, "url": url, "terminal_command": command,
            "expires_in_secs": ttl.as_secs(),
        })))
    }

    /// Whether an entry is done, read from the vault (so `claulock add` in
    /// a terminal finishes it as well as the page).
    fn entry_state(&mut self, id: &str) -> Result<Option<serde_json::Value>, String> {
        let Some((name, rotate, opened, expired)) = crate::entry::find(&self.entries, id) else {
            return Err(
                "no such entry (it was finished or expired): check the secret with secret_describe"
                    .into(),
            );
        };
        let stored = self
            .vault
            .get(&name)
            .is_some_and(|s| !rotate || s.meta.rotated.is_some_and(|r| r >= opened));
        let state = if stored {
            crate::entry::close(&self.entries, id);
            "stored"
        } else if expired {
            crate::entry::close(&self.entries, id);
            "expired"
        } else {
            "pending"
        };
        Ok(Some(json!({ "state": state })))
    }

    /// The core's decision, against the vault's rules narrowed by the
    /// project's `.claulock.toml`.
    fn decide(
        &self,
        command: &str,
        cwd: &std::path::Path,
    ) -> Result<claulock_core::policy::Decision, String> {
        let mut policy = claulock_core::policy::Policy::new();
        for s in self.vault.secrets() {
            let m = &s.meta;
            let rules = crate::rules::secret_rules(
                &s.name,
                &m.allow_hosts,
                &m.allow_programs,
                &m.allow_revealing,
                m.allow_output_files,
                m.expires.map(claulock_core::time::Timestamp::from_unix),
                m.project.clone(),
            )
            .map_err(|e| format!("{e:#}"))?;
            policy.insert(s.name.clone(), rules);
        }
        let root = crate::check::project_root(cwd);
        if let Some(file) = root.as_ref().map(|r| r.join(".claulock.toml"))
            && let Ok(text) = std::fs::read_to_string(&file)
        {
            let project = claulock_core::policy_file::parse(&text)
                .map_err(|e| format!("in {}: {e}", file.display()))?;
            policy.narrow(&project);
        }
        let ctx = claulock_core::policy::CheckContext {
            now: claulock_core::time::Timestamp::from_unix(now_secs()),
            project: root.map(|r| r.display().to_string()),
            // Remotes matter only to git, and asking git costs a process.
            environment: claulock_core::analysis::Environment {
                git_remotes: if command.contains("git") {
                    crate::check::git_remotes(cwd)
                } else {
                    Default::default()
                },
            },
        };
        Ok(claulock_core::policy::decide(command, &policy, &ctx))
    }

    fn add(
        &mut self,
        name: String,
        value: &str,
        meta: Meta,
    ) -> Result<Option<serde_json::Value>, String> {
        let value = Zeroizing::new(from_hex(value).ok_or("malformed value")?);
        let secret = Secret {
            name: name.clone(),
            value: SecretValue::new(value.to_vec()),
            meta: Metadata {
                created: now_secs(),
                tags: meta.tags,
                allow_hosts: meta.allow_hosts,
                allow_programs: meta.allow_programs,
                expires: meta.expires,
                project: meta.project,
                allow_output_files: meta.allow_output_files,
                ..Metadata::default()
            },
            superseded: vec![],
        };
        let fields = [
            ("tags", secret.meta.tags.join(",")),
            ("hosts", secret.meta.allow_hosts.join(",")),
        ];
        self.mutate("add", &name, &fields, |v, rng| v.insert(secret, rng))
    }

    fn rotate(&mut self, name: &str, value: &str) -> Result<Option<serde_json::Value>, String> {
        let value = Zeroizing::new(from_hex(value).ok_or("malformed value")?);
        self.mutate("rotate", name, &[], |v, _| {
            v.rotate(name, SecretValue::new(value.to_vec()), now_secs())
        })
    }

    fn passwd(&mut self, old: &str, new: &str) -> Result<Option<serde_json::Value>, String> {
        let old = Zeroizing::new(from_hex(old).ok_or("malformed passphrase")?);
        let new = Zeroizing::new(from_hex(new).ok_or("malformed passphrase")?);
        let bytes = store::read(self.home).map_err(|e| format!("{e:#}"))?;
        Vault::open(&bytes, &old)
            .map_err(|_| "the current passphrase is wrong; nothing was changed".to_string())?;
        self.vault
            .change_passphrase(&new, KdfParams::DEFAULT, &mut OsRandom)
            .map_err(|e| e.to_string())?;
        self.save("passwd", "", &[])
    }

    /// Applies a change, writes the vault and audits; on a write failure
    /// the agent locks rather than keep a state the disk does not have.
    fn mutate(
        &mut self,
        action: &str,
        name: &str,
        fields: &[(&str, String)],
        change: impl FnOnce(&mut Vault, &mut OsRandom) -> Result<(), claulock_vault::VaultError>,
    ) -> Result<Option<serde_json::Value>, String> {
        let lock = store::lock(self.home).map_err(|e| format!("{e:#}"))?;
        change(&mut self.vault, &mut OsRandom).map_err(|e| e.to_string())?;
        drop(lock);
        self.save(action, name, fields)
    }

    fn save(
        &mut self,
        action: &str,
        name: &str,
        fields: &[(&str, String)],
    ) -> Result<Option<serde_json::Value>, String> {
        self.scrubber = None;
        let lock = store::lock(self.home).map_err(|e| format!("{e:#}"))?;
        let bytes = self.vault.to_bytes(&mut OsRandom);
        if let Err(e) = store::write(self.home, &bytes, &lock) {
            let _ = std::fs::remove_file(&self.home.socket);
            let _ = writeln!(std::io::stderr(), "claulock agent: {e:#}; locking");
            std::process::exit(1);
        }
        let mut f = vec![("caller", "cli".to_string())];
        f.extend(fields.iter().map(|(k, v)| (*k, v.clone())));
        let _ = audit::append(self.home, action, name, &f);
        Ok(None)
    }
}

/// A secret's metadata as the protocol shows it: never the value, its
/// length, or any part of it.
pub(crate) fn describe(s: &Secret) -> serde_json::Value {
    let time = |t: i64| {
        humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(t.max(0).unsigned_abs()))
            .to_string()
    };
    json!({
        "name": s.name,
        "tags": s.meta.tags,
        "allow_hosts": s.meta.allow_hosts,
        "allow_programs": s.meta.allow_programs,
        "allow_revealing": s.meta.allow_revealing,
        "allow_output_files": s.meta.allow_output_files,
        "created": time(s.meta.created),
        "rotated": s.meta.rotated.map(time),
        "expires": s.meta.expires.map(time),
        "project": s.meta.project,
        "superseded_values": s.superseded.len(),
    })
}

fn caught_json(caught: &[claulock_scrub::Catch]) -> serde_json::Value {
    caught
        .iter()
        .map(|c| json!([c.secret, c.form.to_string(), c.count]))
        .collect()
}

fn ok(data: Option<serde_json::Value>) -> Response {
    Response {
        ok: true,
        error: None,
        data,
    }
}

fn err(message: String) -> Response {
    Response {
        ok: false,
        error: Some(message),
        data: None,
    }
}
