//! [`Agent`]: the unlocked vault and the answer to every request.
//!
//! `Agent::handle(request, peer, now)` is the whole protocol, in process:
//! the socket server ([`crate::server`]) only frames lines and finds out
//! who the peer is, so the protocol is tested without sockets, and an
//! embedder can run an agent inside its own process.
//!
//! The agent serves many clients at once. Its state sits behind one
//! mutex, held only while a request reads or changes the vault: the slow
//! work (scanning files, sweeping, scrubbing streams) runs on a shared
//! handle to the cached scrubber, outside the lock. Mutations are
//! serialized by that mutex and the vault file's lock, so concurrent
//! `claulock add` calls cannot lose each other's secrets.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, UNIX_EPOCH};

use claulock_core::policy::{CheckContext, Decision, Policy};
use claulock_proto::{
    AgentStatus, Allowances, Binding, EntryState, EntryTicket, Error, Finding, NewSecret, Reply,
    Request, Resolution, SecretBytes, SecretInfo, Verdict,
};
use claulock_scrub::Scrubber;
use claulock_vault::{KdfParams, Metadata, Secret, SecretValue, Vault, VaultError};
use zeroize::Zeroizing;

use crate::audit;
use crate::guard;
use crate::home::Home;
use crate::osrand::OsRandom;
use crate::peer::Peer;
use crate::source::SecretSource;
use crate::{entry, project, rules, store};

/// How the agent was started.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Lock after this long without a use.
    pub idle_timeout: Option<Duration>,
}

/// The unlocked vault, serving requests.
pub struct Agent {
    home: Home,
    options: Options,
    state: Mutex<State>,
    /// When the vault was last used, in Unix seconds (a status check is
    /// not a use).
    last_use: AtomicI64,
    memory_locked: bool,
    /// Open value entries and their loopback page ([`crate::entry`]).
    entries: entry::Shared,
    /// The runs of allowed commands, by nonce, whose deliverers may ask
    /// for values.
    runs: Mutex<HashMap<String, Run>>,
    /// Where commands find the proxy, once it runs ([`crate::proxied`]).
    proxy: std::sync::OnceLock<crate::proxied::Link>,
    /// The values read from sources, and where each lives
    /// ([`crate::remote`]).
    remote: crate::remote::Remote,
    /// Held for each passphrase check: a key derivation takes the vault's
    /// Argon2 memory, so checks run one at a time, and many clients asking
    /// at once queue instead of exhausting the machine's memory.
    kdf: Mutex<()>,
    /// How many locks are revoking leases now: the process must not exit
    /// under them ([`Agent::wait_revoked`]).
    revoking: (Mutex<usize>, std::sync::Condvar),
}

/// How long a lock spends revoking the leases of dynamic secrets: a lease
/// left then is audited and ends by itself. With one call's own bound
/// after it, this stays inside a client's wait for its `lock` answer.
pub(crate) const REVOKE_WITHIN: Duration = Duration::from_secs(15);

/// One allowed command being run by an exec wrapper.
struct Run {
    /// The wrapper's pid (`None` in process: an embedder's own run).
    wrapper: Option<i32>,
    /// The secrets the policy let the command use.
    secrets: Vec<String>,
    /// Whether the command pipes a program that receives a value into
    /// another (then a deliverer's output may be any pipe).
    consumers: bool,
    /// The streams the agent scrubs for it (device, inode), once attached.
    outputs: Vec<(u64, u64)>,
    /// Its output is a pseudo-terminal.
    pty: bool,
    /// Its proxy-delivered secrets (none: `None`).
    proxy: Option<crate::proxied::RunProxy>,
    /// The values read from sources for it before it ran: the ones its
    /// output's scrubber knows. A deliverer gets one of these or nothing.
    remote: Vec<(String, SecretBytes)>,
}

struct State {
    /// `None` once locked: the keys and values are gone.
    vault: Option<Box<Vault>>,
    /// The whole vault as a scrubber (`Some(None)`: nothing to scrub
    /// with), built on first use and dropped on every change.
    scrubber: Option<Option<Arc<Scrubber>>>,
    /// The vault's rules as the core's policy, likewise cached.
    policy: Option<Arc<Policy>>,
    /// Keeps the pages holding the data key out of swap while it lives.
    _memory: Option<region::LockGuard>,
}

impl State {
    fn vault(&self) -> Result<&Vault, Error> {
        self.vault.as_deref().ok_or(Error::Locked)
    }

    fn vault_mut(&mut self) -> Result<&mut Vault, Error> {
        self.vault.as_deref_mut().ok_or(Error::Locked)
    }

    /// Forgets what was derived from the vault (after a change).
    fn changed(&mut self) {
        self.scrubber = None;
        self.policy = None;
    }
}

fn vault_error(e: VaultError) -> Error {
    match e {
        VaultError::NotFound(name) => Error::NotFound { name },
        VaultError::Exists(name) => Error::Exists { name },
        other => Error::invalid(other.to_string()),
    }
}

/// RFC 3339 of Unix seconds.
fn rfc3339(t: i64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(t.max(0).unsigned_abs()))
        .to_string()
}

/// A secret's metadata as the protocol shows it: never the value, its
/// length, or any part of it.
pub fn info(s: &Secret) -> SecretInfo {
    SecretInfo {
        name: s.name.clone(),
        allowances: Allowances {
            allow_hosts: s.meta.allow_hosts.clone(),
            allow_programs: s.meta.allow_programs.clone(),
            tags: s.meta.tags.clone(),
        },
        allow_revealing: s.meta.allow_revealing.clone(),
        allow_output_files: s.meta.allow_output_files,
        delivery: wire_delivery(s.meta.delivery()),
        allow_in_body: s.meta.allow_in_body,
        created: Some(rfc3339(s.meta.created)),
        rotated: s.meta.rotated.map(rfc3339),
        expires: s.meta.expires.map(rfc3339),
        project: s.meta.project.clone(),
        superseded_values: s.superseded.len() as u64,
        from: s.meta.remote.as_ref().map(|r| {
            Box::new(claulock_proto::RemoteInfo {
                source: r.source.clone(),
                path: r.path.clone(),
                field: r.field.clone(),
                ttl_secs: r.ttl_secs,
                last_read: None,
                lease_ends: None,
            })
        }),
    }
}

/// A delivery as the protocol carries it.
pub(crate) fn wire_delivery(d: claulock_vault::Delivery) -> claulock_proto::Delivery {
    match d {
        claulock_vault::Delivery::Proxy => claulock_proto::Delivery::Proxy,
        claulock_vault::Delivery::Env => claulock_proto::Delivery::Env,
    }
}

impl Agent {
    /// An agent serving `vault`, whose files live in `home`.
    pub fn new(home: Home, vault: Vault, options: Options, now: i64) -> Agent {
        let remote = crate::remote::Remote::default();
        remote.define(&vault);
        let vault = Box::new(vault);
        // The pages of the key schedule, where the OS allows it
        // (RLIMIT_MEMLOCK); the values are heap allocations that zeroize
        // on drop.
        let memory = region::lock(
            std::ptr::from_ref::<Vault>(&vault),
            std::mem::size_of::<Vault>(),
        )
        .ok();
        Agent {
            home,
            options,
            memory_locked: memory.is_some(),
            state: Mutex::new(State {
                vault: Some(vault),
                scrubber: None,
                policy: None,
                _memory: memory,
            }),
            last_use: AtomicI64::new(now),
            entries: entry::Shared::default(),
            runs: Mutex::new(HashMap::new()),
            proxy: std::sync::OnceLock::new(),
            remote,
            kdf: Mutex::new(()),
            revoking: (Mutex::new(0), std::sync::Condvar::new()),
        }
    }

    /// Records where commands find the proxy (once).
    pub(crate) fn set_proxy(&self, link: crate::proxied::Link) {
        let _ = self.proxy.set(link);
    }

    /// The proxy secrets of the open run whose proxy credential is
    /// `credential`.
    pub(crate) fn run_proxy(&self, credential: &str) -> Option<crate::proxied::RunProxy> {
        let mut runs = self.runs();
        runs.retain(|_, r| r.wrapper.is_none_or(crate::peer::is_alive));
        runs.values()
            .filter_map(|r| r.proxy.as_ref())
            .find(|p| constant_time_eq(p.credential.as_bytes(), credential.as_bytes()))
            .cloned()
    }

    /// The value of proxy-delivered secret `name` and whether it may go in
    /// a request's line and body; `None` when locked, gone, or no longer
    /// delivered by proxy.
    pub(crate) fn proxy_values(&self, names: &[&str]) -> Vec<(String, Zeroizing<Vec<u8>>, bool)> {
        let in_body: Vec<(&str, bool)> = {
            let state = self.state();
            let Ok(vault) = state.vault() else {
                return Vec::new();
            };
            names
                .iter()
                .filter_map(|name| {
                    let s = vault.get(name)?;
                    (s.meta.delivery() == claulock_vault::Delivery::Proxy)
                        .then_some((*name, s.meta.allow_in_body))
                })
                .collect()
        };
        let wanted: Vec<&str> = in_body.iter().map(|(n, _)| *n).collect();
        // Read together: a username and its password come from one read.
        let Ok(values) = self.values_of(&wanted, crate::server::now()) else {
            return Vec::new();
        };
        values
            .into_iter()
            .zip(in_body)
            .map(|((value, _), (name, body))| {
                (
                    name.to_owned(),
                    Zeroizing::new(value.expose().to_vec()),
                    body,
                )
            })
            .collect()
    }

    /// The current value of secret `name`: the vault's, or read from its
    /// source (cached for its TTL). A read from a server is audited as
    /// `fetch`, and a value never seen before joins the scrubber.
    ///
    /// # Errors
    ///
    /// [`Error::Locked`], [`Error::NotFound`], and [`Error::Refused`] when
    /// its source cannot answer.
    fn value_of(
        &self,
        name: &str,
        now: i64,
    ) -> Result<(SecretBytes, Option<crate::remote::Read>), Error> {
        let mut got = self.values_of(&[name], now)?;
        got.pop().ok_or_else(|| Error::failed("no value was read"))
    }

    /// The current values of `names`, in their order, as
    /// [`Agent::value_of`] gives one; the source-backed ones are read
    /// together, so the secrets of one path come from one read (a
    /// username and its password match).
    ///
    /// # Errors
    ///
    /// As [`Agent::value_of`], for the first that fails.
    fn values_of(
        &self,
        names: &[&str],
        now: i64,
    ) -> Result<Vec<(SecretBytes, Option<crate::remote::Read>)>, Error> {
        let mut out: Vec<Option<(SecretBytes, Option<crate::remote::Read>)>> =
            Vec::with_capacity(names.len());
        {
            let state = self.state();
            let vault = state.vault()?;
            for name in names {
                if vault.get(name).is_none() {
                    return Err(Error::NotFound {
                        name: (*name).into(),
                    });
                }
                out.push(SecretSource::value(vault, name)?.map(|v| (v, None)));
            }
        }
        let from_sources: Vec<&str> = names
            .iter()
            .zip(&out)
            .filter(|(_, got)| got.is_none())
            .map(|(n, _)| *n)
            .collect();
        if from_sources.is_empty() {
            return Ok(out.into_iter().flatten().collect());
        }
        let read = match self.remote.read_many(&from_sources, now) {
            Ok(read) => read,
            Err(e) => {
                let f = [("caller", "source".to_owned()), ("why", e.to_string())];
                for name in &from_sources {
                    self.audit("denied", name, &f);
                }
                return Err(e);
            }
        };
        if read.iter().any(|(_, _, r)| r.new_value || r.logins > 0) {
            // The scrubber learns the new values (or tokens) before
            // anything can print them.
            self.state().scrubber = None;
        }
        for (name, _, r) in read.iter().filter(|(_, _, r)| r.fetched) {
            let mut f = vec![
                ("source", r.source.clone()),
                ("path", r.path.clone()),
                ("new", if r.new_value { "yes" } else { "no" }.to_owned()),
                ("logins", r.logins.to_string()),
            ];
            if let Some(lease) = &r.lease {
                f.push(("lease", lease.clone()));
            }
            self.audit("fetch", name, &f);
        }
        out.into_iter()
            .zip(names)
            .map(|(got, name)| match got {
                Some(got) => Ok(got),
                None => match read.iter().find(|(n, _, _)| n == name) {
                    Some((_, value, r)) => Ok((value.clone(), Some(r.clone()))),
                    None => Err(Error::failed(format!(
                        "{name} has no value in the vault and no source to read it from"
                    ))),
                },
            })
            .collect()
    }

    /// Its files.
    pub fn home(&self) -> &Home {
        &self.home
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A request that panicked left the state as it was before its
        // change (changes are applied whole): go on with it.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether it has been locked (it answers [`Error::Locked`] from then
    /// on).
    pub fn is_locked(&self) -> bool {
        self.state().vault.is_none()
    }

    /// Drops the keys and every value now, then revokes the leases of the
    /// dynamic secrets it read (for 15 s at most): their
    /// credentials end with the agent's use of them.
    pub fn lock(&self, reason: &str) {
        let mut state = self.state();
        if state.vault.take().is_none() {
            return;
        }
        // Counted while the state is held: whoever sees the agent locked
        // sees the revocation under way too.
        *lock_ignoring_poison(&self.revoking.0) += 1;
        state.changed();
        let leases = self.remote.clear();
        self.audit("lock", "", &[("reason", reason.to_owned())]);
        // Revoked with no lock held: each is a call to the server.
        drop(state);
        let deadline = std::time::Instant::now() + REVOKE_WITHIN;
        for r in leases.revoke(deadline) {
            let mut f = vec![("source", r.source), ("lease", r.lease)];
            match r.failed {
                None => self.audit("revoke", "", &f),
                Some(why) => {
                    f.push(("why", why));
                    self.audit("revoke-failed", "", &f);
                }
            }
        }
        let (count, done) = &self.revoking;
        *lock_ignoring_poison(count) -= 1;
        done.notify_all();
    }

    /// Waits, at most `within`, for every lock's revocations to end
    /// (the process exits next, and would cut them short). Whether they
    /// did.
    pub fn wait_revoked(&self, within: Duration) -> bool {
        let (count, done) = &self.revoking;
        let guard = lock_ignoring_poison(count);
        let (guard, _) = done
            .wait_timeout_while(guard, within, |n| *n > 0)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *guard == 0
    }

    /// Seconds since the last use.
    pub fn idle_secs(&self, now: i64) -> i64 {
        now.saturating_sub(self.last_use.load(Ordering::Relaxed))
    }

    /// The idle timeout it was started with.
    pub fn idle_timeout(&self) -> Option<Duration> {
        self.options.idle_timeout
    }

    pub(crate) fn audit(&self, action: &str, name: &str, fields: &[(&str, String)]) {
        let _ = audit::append(&self.home, action, name, fields);
    }

    /// Audits what a scrubber caught, as `scrubbed` by `caller`.
    pub fn audit_caught(&self, caught: &[claulock_proto::Caught], caller: &str) {
        for c in caught {
            let f = [
                ("caller", caller.to_owned()),
                ("form", c.form.clone()),
                ("count", c.count.to_string()),
            ];
            self.audit("scrubbed", &c.secret, &f);
        }
    }

    /// The whole-vault scrubber (`None`: an empty vault, nothing to catch).
    ///
    /// # Errors
    ///
    /// [`Error::Locked`]; [`Error::Failed`] when it cannot be built.
    pub fn scrubber(&self) -> Result<Option<Arc<Scrubber>>, Error> {
        let mut state = self.state();
        if let Some(s) = &state.scrubber {
            return Ok(s.clone());
        }
        let built = guard::scrubber(&[state.vault()?, &self.remote], &[])
            .map_err(Error::failed)?
            .map(Arc::new);
        state.scrubber = Some(built.clone());
        Ok(built)
    }

    /// Builds the whole-vault scrubber now if a change left it to be built
    /// (nothing when it is built, or the vault is locked).
    pub fn warm_scrubber(&self) {
        let cold = {
            let state = self.state();
            state.vault.is_some() && state.scrubber.is_none()
        };
        if cold {
            let _ = self.scrubber();
        }
    }

    /// Answers one request. `peer` says who asks (only the exec wrapper
    /// may resolve values); `now` is the time, in Unix seconds.
    ///
    /// [`Request::Pipe`] needs the streams themselves: the server passes
    /// them to [`crate::pipe::run`]; here it is an error.
    ///
    /// # Errors
    ///
    /// The request's error; [`Error::Locked`] once locked.
    pub fn handle(&self, req: Request, peer: &Peer, now: i64) -> Result<Reply, Error> {
        if req.is_use() {
            self.last_use.store(now, Ordering::Relaxed);
        }
        match req {
            Request::Status => {
                // Before the state's lock: the scrubber takes it too.
                let inherited = self.withheld_env(peer, false);
                let state = self.state();
                Ok(Reply::Status(AgentStatus {
                    secrets: state.vault()?.secrets().count() as u64,
                    pid: std::process::id(),
                    idle_timeout_secs: self.options.idle_timeout.map(|d| d.as_secs()),
                    key_memory_locked: self.memory_locked,
                    non_dumpable: crate::daemon::is_non_dumpable(),
                    proxy: self.proxy.get().map(|l| l.addr.to_string()),
                    inherited,
                }))
            }
            Request::List => {
                let list: Vec<SecretInfo> = self.state().vault()?.secrets().map(info).collect();
                Ok(Reply::Secrets(
                    list.into_iter().map(|i| self.with_last_read(i)).collect(),
                ))
            }
            Request::Describe { name } => self.describe(&name).map(Reply::Secret),
            Request::Lock { reason } => {
                self.lock(reason.as_deref().unwrap_or("request"));
                Ok(Reply::Done)
            }
            Request::Add { name, value, meta } => self.add(name, &value, meta, now),
            Request::AddFrom {
                name,
                from,
                meta,
                passphrase,
            } => self.add_from(name, from, meta, &passphrase, now),
            Request::SourceAdd { name, spec, token } => self.source_add(name, spec, &token, now),
            Request::SourceList => self.source_list(),
            Request::SourceRemove { name } => self.source_remove(&name),
            Request::SourceTest { name } => self.source_test(&name),
            Request::Rotate { name, .. } if self.remote.holds(&name) => {
                Err(Error::invalid(format!(
                    "{name} is read from a source: rotate it there (`bao kv put …`); the agent reads the new value once its TTL has passed"
                )))
            }
            Request::Rotate {
                name,
                value,
                expires,
            } => {
                check_size(&value)?;
                let value = SecretValue::new(value.expose().to_vec());
                // A new value may come with a new expiry (it is the
                // human's new credential, not a widening of the old one).
                self.mutate("rotate", &name, &[], |v| {
                    v.rotate(&name, value, now)?;
                    if let (Some(e), Some(s)) = (expires, v.get_mut(&name)) {
                        s.meta.expires = e;
                    }
                    Ok(())
                })
            }
            Request::Remove { name } => {
                self.mutate("remove", &name, &[], |v| v.remove(&name).map(|_| ()))
            }
            Request::Tag { name, add, remove } => {
                let fields = [("added", add.join(",")), ("removed", remove.join(","))];
                self.mutate("tag", &name, &fields, |v| {
                    let s = v
                        .get_mut(&name)
                        .ok_or_else(|| VaultError::NotFound(name.clone()))?;
                    s.meta.tags.retain(|t| !remove.contains(t));
                    for t in &add {
                        if !s.meta.tags.contains(t) {
                            s.meta.tags.push(t.clone());
                        }
                    }
                    Ok(())
                })?;
                self.describe(&name).map(Reply::Secret)
            }
            Request::Set {
                name,
                change,
                passphrase,
            } => self.set(&name, &change, passphrase.as_ref()),
            Request::CheckPassphrase { passphrase } => {
                self.check_passphrase(&passphrase, "")?;
                Ok(Reply::Done)
            }
            Request::Passwd { old, new } => self.passwd(&old, &new),
            Request::Resolve { command } => self.resolve(&command, peer, now),
            Request::Deliver {
                run,
                argv,
                env,
                stdin,
            } => self.deliver(&run, &argv, &env, &stdin, peer, now),
            Request::Decide { command, cwd } => {
                let decision = self.decide(&command, Path::new(&cwd), now)?;
                Ok(Reply::Decision(self.verdict(&decision, "hook")))
            }
            Request::Report { secrets, exit, run } => {
                if let Some(run) = run {
                    self.runs().remove(&run);
                }
                for secret in secrets {
                    let f = [("caller", "exec".to_owned()), ("exit", exit.to_string())];
                    self.audit("exit", &secret, &f);
                }
                Ok(Reply::Done)
            }
            Request::Scrub { text, caller } => {
                let Some(s) = self.scrubber()? else {
                    return Ok(Reply::Scrubbed {
                        text: None,
                        caught: Vec::new(),
                    });
                };
                let (out, caught) = guard::scrub(&s, text.as_bytes());
                let caught = guard::wire(caught);
                self.audit_caught(&caught, &caller);
                let text = (!caught.is_empty()).then(|| String::from_utf8_lossy(&out).into_owned());
                Ok(Reply::Scrubbed { text, caught })
            }
            Request::ScrubJson { value, caller } => {
                let Some(s) = self.scrubber()? else {
                    return Ok(Reply::ScrubbedJson {
                        value: None,
                        caught: Vec::new(),
                    });
                };
                let mut caught = Vec::new();
                let value = claulock_scrub::json::scrub_strings(&value, &mut |text: &str| {
                    let (out, c) = guard::scrub(&s, text.as_bytes());
                    let hit = !c.is_empty();
                    guard::merge(&mut caught, c);
                    hit.then(|| String::from_utf8_lossy(&out).into_owned())
                });
                let caught = guard::wire(caught);
                self.audit_caught(&caught, &caller);
                Ok(Reply::ScrubbedJson { value, caught })
            }
            Request::Scan {
                paths,
                files_only,
                report_unscanned,
            } => {
                let Some(s) = self.scrubber()? else {
                    return Ok(Reply::Findings(Vec::new()));
                };
                let scan = guard::scan(&s, &paths, files_only);
                let mut found: Vec<Finding> = scan
                    .found
                    .into_iter()
                    .map(|(path, secrets)| Finding {
                        path: path.display().to_string(),
                        secrets: secrets.into_iter().collect(),
                        unscanned: None,
                    })
                    .collect();
                if report_unscanned {
                    found.extend(scan.unscanned.into_iter().map(|(path, why)| Finding {
                        path: path.display().to_string(),
                        secrets: Vec::new(),
                        unscanned: Some(why),
                    }));
                }
                Ok(Reply::Findings(found))
            }
            Request::Sweep { paths, extra } => self.sweep(&paths, &extra),
            Request::Pipe { .. } => Err(Error::invalid(
                "a pipe request carries its streams as file descriptors over the agent's socket",
            )),
            Request::EntryOpen {
                name,
                rotate,
                meta,
                ttl_secs,
            } => self.entry_open(&name, rotate, meta, ttl_secs),
            Request::EntryState { id } => self.entry_state(&id),
            // A request of a newer client this agent does not know.
            #[allow(unreachable_patterns)] // `Request` is non_exhaustive for other crates
            _ => Err(Error::invalid("this agent does not know that request")),
        }
    }

    fn describe(&self, name: &str) -> Result<SecretInfo, Error> {
        let info = self
            .state()
            .vault()?
            .get(name)
            .map(info)
            .ok_or_else(|| Error::NotFound { name: name.into() })?;
        Ok(self.with_last_read(info))
    }

    /// `info` with when its value was last read from its source.
    fn with_last_read(&self, mut info: SecretInfo) -> SecretInfo {
        if let Some(from) = &mut info.from {
            from.last_read = self.remote.last_read(&info.name).map(rfc3339);
            from.lease_ends = self.remote.lease_end(&info.name).map(rfc3339);
        }
        info
    }

    /// The policy's decision on `command` run in `cwd`: the vault's rules
    /// narrowed by the project's `.claulock.toml`.
    fn decide(&self, command: &str, cwd: &Path, now: i64) -> Result<Decision, Error> {
        let mut policy = self.policy()?;
        let root = project::root(cwd);
        if let Some(narrower) = project_narrowing(root.as_deref())? {
            Arc::make_mut(&mut policy).narrow(&narrower);
        }
        let ctx = CheckContext {
            now: claulock_core::time::Timestamp::from_unix(now),
            project: root.map(|r| r.display().to_string()),
            // Remotes matter only to git, and asking git costs a process.
            environment: claulock_core::analysis::Environment {
                git_remotes: if command.contains("git") {
                    project::git_remotes(cwd)
                } else {
                    Default::default()
                },
            },
        };
        Ok(claulock_core::policy::decide(command, &policy, &ctx))
    }

    /// The vault's rules as a policy (cached until the vault changes).
    pub(crate) fn policy(&self) -> Result<Arc<Policy>, Error> {
        let mut state = self.state();
        if let Some(p) = &state.policy {
            return Ok(Arc::clone(p));
        }
        let mut policy = Policy::new();
        for s in state.vault()?.secrets() {
            let m = &s.meta;
            let r = rules::secret_rules(
                &s.name,
                rules::Fields {
                    hosts: &m.allow_hosts,
                    programs: &m.allow_programs,
                    revealing: &m.allow_revealing,
                    output_files: m.allow_output_files,
                    expires: m.expires.map(claulock_core::time::Timestamp::from_unix),
                    project: m.project.as_deref(),
                    proxied: m.delivery() == claulock_vault::Delivery::Proxy,
                },
            )
            .map_err(|e| Error::failed(format!("{e:#}")))?;
            policy.insert(s.name.clone(), r);
        }
        let policy = Arc::new(policy);
        state.policy = Some(Arc::clone(&policy));
        Ok(policy)
    }

    /// The decision as the protocol shows it; refusals are audited.
    fn verdict(&self, decision: &Decision, caller: &str) -> Verdict {
        for r in &decision.refusals {
            let secret = r.secret.clone().unwrap_or_default();
            let f = [("caller", caller.to_owned()), ("rule", r.rule.to_string())];
            self.audit("denied", &secret, &f);
        }
        let mut proxied: Vec<String> = Vec::new();
        if let (Some(a), Ok(vault)) = (&decision.analysis, self.state().vault()) {
            for u in &a.uses {
                let by_proxy = vault
                    .get(&u.secret)
                    .is_some_and(|s| s.meta.delivery() == claulock_vault::Delivery::Proxy);
                if by_proxy && !proxied.contains(&u.secret) {
                    proxied.push(u.secret.clone());
                }
            }
        }
        Verdict {
            allowed: decision.allowed,
            refusals: decision.refusals.iter().map(ToString::to_string).collect(),
            proxied,
        }
    }

    /// Records the streams scrubbed for run `run` (a deliverer's output
    /// must be one of them).
    pub(crate) fn attach_outputs(&self, run: &str, outputs: Vec<(u64, u64)>, pty: bool) {
        if let Some(r) = self.runs().get_mut(run) {
            r.outputs = outputs;
            r.pty = pty;
        }
    }

    fn runs(&self) -> MutexGuard<'_, HashMap<String, Run>> {
        self.runs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Decides on a command for the exec wrapper and hands it the plan: the
    /// command with markers in place of values, each program that receives
    /// one started through the deliverer. No value: the deliverers ask for
    /// theirs ([`Agent::deliver`]).
    fn resolve(&self, command: &str, peer: &Peer, now: i64) -> Result<Reply, Error> {
        let names = claulock_core::grammar::placeholders(command)
            .map_err(|e| Error::invalid(e.to_string()))?;
        let withheld = self.withheld_env(peer, true);
        if names.is_empty() {
            // Nothing to deliver: run the command as written (escapes
            // undone when the command can be read).
            let plan = claulock_core::substitute::substitution_plan(command)
                .map_or_else(|_| command.to_owned(), |p| p.command);
            return Ok(Reply::Resolved(Resolution {
                plan,
                withheld,
                ..Resolution::default()
            }));
        }
        if let Err(why) = peer.exec_wrapper() {
            let f = [("reason", "untrusted-peer".into()), ("why", why.clone())];
            self.audit("denied", "", &f);
            return Err(Error::UntrustedPeer { why });
        }
        let analysis = self.allowed_analysis(command, peer, now, "exec")?;
        // Values from sources are read now, before anything runs: a source
        // that cannot answer refuses the whole command, and the scrubber of
        // its output (built after this) knows every value it may get.
        // All of them at once: the secrets of one path come from one read.
        let mut from_sources: Vec<&str> = Vec::new();
        for u in &analysis.uses {
            if self.remote.holds(&u.secret) && !from_sources.contains(&u.secret.as_str()) {
                from_sources.push(&u.secret);
            }
        }
        let remote: Vec<(String, SecretBytes)> = from_sources
            .iter()
            .zip(self.values_of(&from_sources, now)?)
            .map(|(name, (value, _))| ((*name).to_owned(), value))
            .collect();
        let exe = std::env::current_exe()
            .map_err(|e| Error::failed(format!("cannot find the claulock executable: {e}")))?;
        let nonce = random_hex();
        let exe = exe.display().to_string();
        let surrogates = self.surrogates(&analysis, &remote, now)?;
        let plan = claulock_core::substitute::delivery_plan(
            command,
            &analysis,
            &claulock_core::substitute::Deliverer {
                program: &exe,
                nonce: &nonce,
                surrogates: &surrogates,
            },
        )
        .map_err(|e| Error::invalid(e.to_string()))?;
        let (proxy, env, unset) = if surrogates.is_empty() {
            (None, Vec::new(), Vec::new())
        } else {
            let link = self.proxy.get().ok_or_else(|| {
                Error::failed(
                    "proxy delivery is not available in this agent (it could not start its proxy): \
                     lock and unlock again, or give the secret `--deliver env`",
                )
            })?;
            let credential = format!("{}{}", random_hex(), random_hex());
            let env = link.env(&credential);
            let root = peer.cwd().and_then(project::root);
            // The project's narrowing as it was when the command was
            // allowed: the proxy applies it to every request of the run
            // (a command cannot widen its secrets by editing the file).
            let narrowing = project_narrowing(root.as_deref())?;
            let run = crate::proxied::RunProxy {
                credential,
                surrogates,
                project: root.map(|r| r.display().to_string()),
                narrowing,
            };
            let unset = claulock_proxy::CLEARED_ENV
                .iter()
                .map(|v| (*v).to_owned())
                .collect();
            (Some(run), env, unset)
        };
        let proxy_socket = proxy
            .is_some()
            .then(|| self.proxy.get().map(|l| l.socket.display().to_string()))
            .flatten();
        let mut runs = self.runs();
        // Runs whose wrapper is gone (killed before its report) end here.
        runs.retain(|_, r| r.wrapper.is_none_or(crate::peer::is_alive));
        runs.insert(
            nonce.clone(),
            Run {
                wrapper: peer.pid(),
                // A deliverer may ask only for what is delivered into the
                // program: a proxied secret has no marker, and a marker for
                // one that a deliverer forged gets nothing.
                secrets: plan
                    .secrets
                    .into_iter()
                    .filter(|s| !plan.proxied.contains(s))
                    .collect(),
                consumers: analysis.uses.iter().any(|u| !u.consumers.is_empty()),
                outputs: Vec::new(),
                pty: false,
                proxy,
                remote,
            },
        );
        Ok(Reply::Resolved(Resolution {
            plan: plan.command,
            run: Some(nonce),
            env,
            unset,
            withheld,
            proxy_socket,
        }))
    }

    /// The variables of the exec wrapper's environment that hold a value
    /// (whole or in a form the scrubber knows): the command does not
    /// inherit them. An agent runtime passes its own environment to every
    /// command, and it may hold a value ClauLock keeps: a token exported in
    /// the user's shell profile, or a project `.env` the runtime loaded
    /// (Gemini CLI does, in a trusted folder). The output scrubber cannot
    /// help there: `printenv TOKEN | cut -c1-8` prints a fragment too short
    /// to match. Read from `/proc` (the wrapper is dumpable until the
    /// agent answers), so no value crosses the socket; with `audit`, each
    /// withheld variable is audited by name.
    fn withheld_env(&self, peer: &Peer, audit: bool) -> Vec<String> {
        let (Some(pid), Ok(Some(scrubber))) = (peer.pid(), self.scrubber()) else {
            return Vec::new();
        };
        let Some(environ) = crate::peer::environ(pid) else {
            return Vec::new();
        };
        let mut withheld = Vec::new();
        for entry in environ.split(|b| *b == 0) {
            let Some(eq) = entry.iter().position(|b| *b == b'=') else {
                continue;
            };
            let (name, value) = (&entry[..eq], &entry[eq + 1..]);
            let mut stream = scrubber.stream();
            let mut out = zeroize::Zeroizing::new(Vec::with_capacity(value.len() + 64));
            stream.feed(value, &mut out);
            stream.finish(&mut out);
            let caught = stream.stats();
            if caught.is_empty() {
                continue;
            }
            let name = String::from_utf8_lossy(name).into_owned();
            for c in caught.iter().filter(|_| audit) {
                self.audit("withheld", &c.secret, &[("variable", name.clone())]);
            }
            withheld.push(name);
        }
        withheld
    }

    /// A fresh surrogate for each proxy-delivered secret `analysis` uses;
    /// `read` holds the values already read from sources for the run.
    fn surrogates(
        &self,
        analysis: &claulock_core::analysis::Analysis,
        read: &[(String, SecretBytes)],
        now: i64,
    ) -> Result<Vec<(String, String)>, Error> {
        let mut proxied: Vec<String> = Vec::new();
        {
            let state = self.state();
            let vault = state.vault()?;
            for u in &analysis.uses {
                let by_proxy = vault
                    .get(&u.secret)
                    .is_some_and(|s| s.meta.delivery() == claulock_vault::Delivery::Proxy);
                if by_proxy && !proxied.contains(&u.secret) {
                    proxied.push(u.secret.clone());
                }
            }
        }
        let mut out: Vec<(String, String)> = Vec::new();
        for name in proxied {
            let value = match read.iter().find(|(n, _)| *n == name) {
                Some((_, v)) => v.clone(),
                None => self.value_of(&name, now)?.0,
            };
            let surrogate = claulock_proxy::surrogate::make(value.expose(), &mut |b| {
                claulock_vault::Random::fill(&mut OsRandom, b);
            });
            out.push((name, surrogate));
        }
        Ok(out)
    }

    /// The analysis of `command`, run in the peer's working directory, when
    /// the policy allows it; else the refusal (audited as `caller`).
    fn allowed_analysis(
        &self,
        command: &str,
        peer: &Peer,
        now: i64,
        caller: &str,
    ) -> Result<claulock_core::analysis::Analysis, Error> {
        let cwd = peer
            .cwd()
            .ok_or_else(|| Error::failed("cannot read the caller's working directory"))?;
        let decision = self.decide(command, cwd, now)?;
        if !decision.allowed {
            let verdict = self.verdict(&decision, caller);
            return Err(Error::Refused {
                reasons: verdict.refusals,
            });
        }
        decision
            .analysis
            .ok_or_else(|| Error::failed("no analysis for an allowed command"))
    }

    /// The values for a deliverer of run `run`: this executable, under the
    /// run's wrapper, about to become the program `argv` with the marked
    /// `env` entries and standard input. The concrete invocation (every
    /// word known now) is checked against the policy again, so a
    /// deliverer started by other text of the command, with the markers it
    /// read from the shell, gets no more than the policy allows; and its
    /// output must not go to a file.
    fn deliver(
        &self,
        run: &str,
        argv: &[String],
        env: &[(String, String)],
        stdin: &[String],
        peer: &Peer,
        now: i64,
    ) -> Result<Reply, Error> {
        let refuse = |why: &str| {
            self.audit(
                "denied",
                "",
                &[("caller", "deliver".into()), ("why", why.to_owned())],
            );
            Error::Refused {
                reasons: vec![why.to_owned()],
            }
        };
        let (wrapper, outputs, consumers, pty, allowed, credential, known) =
            match self.runs().get(run) {
                Some(r) => (
                    r.wrapper,
                    r.outputs.clone(),
                    r.consumers,
                    r.pty,
                    r.secrets.clone(),
                    r.proxy.as_ref().map(|p| p.credential.clone()),
                    r.remote.clone(),
                ),
                None => return Err(refuse("no open run holds these markers")),
            };
        if let Err(why) = peer.exec_wrapper() {
            return Err(Error::UntrustedPeer { why });
        }
        if let (Some(pid), Some(w)) = (peer.pid(), wrapper)
            && !crate::peer::descends_from(pid, w)
        {
            return Err(refuse("the deliverer was not started by the run's command"));
        }
        if let Some(pid) = peer.pid()
            && wrapper.is_some()
        {
            use crate::peer::Output;
            for (fd, out) in crate::peer::outputs(pid) {
                let ok = match out {
                    Output::Closed | Output::Null => true,
                    Output::Pipe(id) => outputs.contains(&id) || consumers,
                    Output::Terminal => pty,
                    Output::File | Output::Other => false,
                };
                if !ok {
                    return Err(refuse(&format!(
                        "the program's fd {fd} does not go to the output ClauLock scrubs ({out:?}); \
                         a value's echo could be read there"
                    )));
                }
            }
        }
        let quote = |w: &str| {
            let w = claulock_core::substitute::markers_to_placeholders(w, run);
            format!("'{}'", w.replace('\'', r"'\''"))
        };
        let mut concrete = String::new();
        for (k, v) in env {
            if !claulock_core::grammar::is_valid_name(k) {
                return Err(refuse("a marked environment entry has an invalid name"));
            }
            concrete.push_str(&format!("{k}={} ", quote(v)));
        }
        let words: Vec<String> = argv.iter().map(|w| quote(w)).collect();
        concrete.push_str(&words.join(" "));
        if !stdin.is_empty() {
            let marks: Vec<String> = stdin.iter().map(|n| format!("{{{{{n}}}}}")).collect();
            concrete.push_str(&format!(" <<< '{}'", marks.join(" ")));
        }
        let analysis = self.allowed_analysis(&concrete, peer, now, "deliver")?;
        let host = analysis.destinations.iter().find_map(|d| match &d.target {
            claulock_core::destination::Target::Host { host } => Some(host.clone()),
            _ => None,
        });
        let mut asked: Vec<&claulock_core::analysis::Use> = Vec::new();
        for u in &analysis.uses {
            if asked.iter().any(|a| a.secret == u.secret) {
                continue;
            }
            if !allowed.contains(&u.secret) {
                return Err(refuse("the run's command did not use this secret"));
            }
            asked.push(u);
        }
        let names: Vec<&str> = asked.iter().map(|u| u.secret.as_str()).collect();
        let mut values = Vec::new();
        for (u, (value, read)) in asked.into_iter().zip(self.values_of(&names, now)?) {
            // Past its TTL a source's value is read again; a value the
            // source changed meanwhile is one this run's output scrubber
            // does not know, so it is refused rather than delivered.
            if read.is_some()
                && !known
                    .iter()
                    .any(|(n, v)| *n == u.secret && v.expose() == value.expose())
            {
                return Err(refuse(&format!(
                    "{}: its source gave a new value while the command ran; run the command again",
                    u.secret
                )));
            }
            let mut f = vec![
                ("caller", "exec".to_owned()),
                ("program", u.program.clone().unwrap_or_else(|| "?".into())),
                ("host", host.clone().unwrap_or_else(|| "-".into())),
            ];
            if let Some(r) = &read {
                f.push(("source", r.source.clone()));
                f.push(("path", r.path.clone()));
                if let Some(lease) = &r.lease {
                    f.push(("lease", lease.clone()));
                }
            }
            self.audit("resolve", &u.secret, &f);
            values.push(Binding {
                secret: u.secret.clone(),
                value,
            });
        }
        let env = match (credential, self.proxy.get()) {
            (Some(c), Some(link)) => link.env(&c),
            _ => Vec::new(),
        };
        // Checked again just before the values go: the deliverer is still
        // dumpable while the agent decides (it must be, to be inspected),
        // and a debugger attached meanwhile would read them as they arrive.
        if let Some(pid) = peer.pid()
            && let Err(why) = crate::peer::untraced(pid)
        {
            return Err(refuse(&why));
        }
        Ok(Reply::Delivered { values, env })
    }

    /// Sweeps files; `extra` strings (credential-shaped text from a
    /// blocked prompt) are redacted too, as `UNSTORED_CREDENTIAL`.
    fn sweep(&self, paths: &[String], extra: &[SecretBytes]) -> Result<Reply, Error> {
        let scrubber = if extra.is_empty() {
            self.scrubber()?
        } else {
            let state = self.state();
            guard::scrubber(&[state.vault()?, &self.remote], extra)
                .map_err(Error::failed)?
                .map(Arc::new)
        };
        let Some(s) = scrubber else {
            return Ok(Reply::Swept(Default::default()));
        };
        let report = crate::sweep::sweep(&s, paths);
        for c in &report.changed {
            let f = [
                ("caller", "sweep".to_owned()),
                ("file", c.file.clone()),
                ("form", c.form.clone()),
                ("count", c.count.to_string()),
            ];
            self.audit("swept", &c.secret, &f);
        }
        Ok(Reply::Swept(report))
    }

    /// Opens a one-time page for the human to enter `name`'s value.
    fn entry_open(
        &self,
        name: &str,
        rotate: bool,
        meta: NewSecret,
        ttl_secs: Option<u64>,
    ) -> Result<Reply, Error> {
        let ttl = ttl_secs.map_or(entry::TTL, |s| {
            Duration::from_secs(s.max(1)).min(entry::TTL)
        });
        if !claulock_core::grammar::is_valid_name(name) {
            return Err(Error::invalid(format!(
                "{name:?} is not a valid secret name: a letter or `_`, then letters, digits and `_`"
            )));
        }
        if !rotate {
            check_delivery(
                &meta.allowances.allow_hosts,
                &meta.deliver,
                meta.allow_in_body,
            )?;
        }
        if rotate && self.remote.holds(name) {
            return Err(Error::invalid(format!(
                "{name} is read from a source: rotate it there; the agent reads the new value once its TTL has passed"
            )));
        }
        let before = self.state().vault()?.get(name).map(|s| s.superseded.len());
        let exists = before.is_some();
        match (rotate, exists) {
            (false, true) => return Err(Error::Exists { name: name.into() }),
            (true, false) => return Err(Error::NotFound { name: name.into() }),
            _ => {}
        }
        let mut command = format!("claulock {} {name}", if rotate { "rotate" } else { "add" });
        for (flag, values) in [
            ("--allow-host", &meta.allowances.allow_hosts),
            ("--allow-program", &meta.allowances.allow_programs),
            ("--tag", &meta.allowances.tags),
        ] {
            for v in values {
                command.push_str(&format!(" {flag} {}", shell_quote(v)));
            }
        }
        if let Some(d) = meta.deliver {
            command.push_str(&format!(" --deliver {}", d.as_str()));
        }
        if meta.allow_in_body {
            command.push_str(" --allow-in-body");
        }
        let (id, url) = entry::open(
            &self.entries,
            &self.home,
            name,
            rotate,
            meta,
            before.unwrap_or(0),
            ttl,
        )
        .map_err(Error::failed)?;
        let kind = if rotate { "rotate" } else { "add" };
        self.audit(
            "entry-open",
            name,
            &[("caller", "mcp".into()), ("kind", kind.into())],
        );
        Ok(Reply::Entry(EntryTicket {
            id,
            url,
            terminal_command: command,
            expires_in_secs: ttl.as_secs(),
        }))
    }

    /// Whether an entry is done, read from the vault (so `claulock add` in
    /// a terminal finishes it as well as the page).
    fn entry_state(&self, id: &str) -> Result<Reply, Error> {
        let Some((name, rotate, before, expired)) = entry::find(&self.entries, id) else {
            return Err(Error::invalid(
                "no such entry (it was finished or expired): check the secret with secret_describe",
            ));
        };
        let stored = self
            .state()
            .vault()?
            .get(&name)
            .is_some_and(|s| !rotate || s.superseded.len() > before);
        let state = if stored {
            entry::close(&self.entries, id);
            EntryState::Stored
        } else if expired {
            entry::close(&self.entries, id);
            EntryState::Expired
        } else {
            EntryState::Pending
        };
        Ok(Reply::EntryState(state))
    }

    fn add(
        &self,
        name: String,
        value: &SecretBytes,
        meta: NewSecret,
        now: i64,
    ) -> Result<Reply, Error> {
        if value.is_empty() {
            return Err(Error::invalid(format!(
                "the value of {name} is empty; nothing was added"
            )));
        }
        check_size(value)?;
        let secret = Secret {
            name: name.clone(),
            value: SecretValue::new(value.expose().to_vec()),
            meta: new_metadata(meta, now)?,
            superseded: vec![],
        };
        let fields = [
            ("tags", secret.meta.tags.join(",")),
            ("hosts", secret.meta.allow_hosts.join(",")),
        ];
        self.mutate("add", &name, &fields, |v| v.insert(secret, &mut OsRandom))?;
        Ok(Reply::Done)
    }

    /// Changes a secret's rules; a change that widens them needs the
    /// vault's passphrase, checked against the vault file (one key
    /// derivation, outside the state lock).
    fn set(
        &self,
        name: &str,
        change: &claulock_proto::MetaChange,
        passphrase: Option<&SecretBytes>,
    ) -> Result<Reply, Error> {
        for h in &change.add_hosts {
            claulock_core::destination::HostPattern::parse(h)
                .map_err(|e| Error::invalid(e.to_string()))?;
        }
        for p in &change.add_programs {
            if p.is_empty() || p.contains('/') || p.chars().any(char::is_whitespace) {
                return Err(Error::invalid(format!(
                    "{p:?} is not a program name: give a basename such as curl"
                )));
            }
        }
        let before = self
            .state()
            .vault()?
            .get(name)
            .map(|s| s.meta.clone())
            .ok_or_else(|| Error::NotFound { name: name.into() })?;
        let after = crate::widen::apply(&before, change);
        let deliver = after.deliver.map(wire_delivery);
        check_delivery(&after.allow_hosts, &deliver, after.allow_in_body)?;
        let wider = crate::widen::widenings(&before, &after);
        if !wider.is_empty() {
            let why = wider.join("; ");
            let Some(pass) = passphrase else {
                return Err(Error::NeedsPassphrase { why, wrong: false });
            };
            self.check_passphrase(pass, &why)?;
        }
        let fields = [("widened", wider.join(";"))];
        let fields: &[(&str, String)] = if wider.is_empty() { &[] } else { &fields };
        self.mutate("set", name, fields, |v| {
            let s = v
                .get_mut(name)
                .ok_or_else(|| VaultError::NotFound(name.to_owned()))?;
            if s.meta != before {
                return Err(VaultError::Changed(name.to_owned()));
            }
            s.meta = after;
            Ok(())
        })?;
        self.describe(name).map(Reply::Secret)
    }

    /// Adds a secret read from a source, once the passphrase is checked
    /// against the vault file and the value was read once (so a typo in
    /// the path or field is found now, not by the first command).
    fn add_from(
        &self,
        name: String,
        from: claulock_proto::RemoteRef,
        meta: NewSecret,
        passphrase: &SecretBytes,
        now: i64,
    ) -> Result<Reply, Error> {
        let mut meta = new_metadata(meta, now)?;
        if self.state().vault()?.get(&name).is_some() {
            return Err(Error::Exists { name });
        }
        let conn = self.source_conn(&from.source)?;
        let bytes = store::read(&self.home).map_err(|e| Error::failed(format!("{e:#}")))?;
        self.open_file(&bytes, passphrase).map_err(|_| {
            Error::invalid(
                "the vault's passphrase is wrong; nothing was added (a secret read from a source needs it: \
                 it lets commands reach what the source's token can read)",
            )
        })?;
        let ttl = from
            .ttl_secs
            .unwrap_or(crate::remote::DEFAULT_TTL.as_secs())
            .clamp(1, MAX_TTL_SECS);
        // A dynamic secret's trial read made credentials for nothing: its
        // lease is revoked at once (a refusal is audited, and the
        // credentials live to the lease's end).
        let read = |server: &crate::openbao::Server| {
            let api = server.api_path(conn.1.expose(), &from.path)?;
            let answer = server.read(conn.1.expose(), &api, &from.field, &[])?;
            if let Some(id) = &answer.lease_id {
                let mut f = vec![("source", from.source.clone()), ("lease", id.clone())];
                match server.revoke_lease(conn.1.expose(), id) {
                    Ok(()) => self.audit("revoke", &name, &f),
                    Err(why) => {
                        f.push(("why", why.to_string()));
                        self.audit("revoke-failed", &name, &f);
                    }
                }
            }
            Ok::<(), crate::openbao::Failure>(())
        };
        read(&conn.0).map_err(|e| {
            Error::invalid(format!(
                "cannot read {}#{} from {}: {e}; nothing was added",
                from.path, from.field, from.source
            ))
        })?;
        meta.remote = Some(claulock_vault::Remote {
            source: from.source.clone(),
            path: from.path.clone(),
            field: from.field.clone(),
            ttl_secs: ttl,
        });
        let secret = Secret {
            name: name.clone(),
            value: SecretValue::new(Vec::new()),
            meta,
            superseded: vec![],
        };
        let fields = [
            ("source", from.source),
            ("path", from.path),
            ("field", from.field),
            ("ttl", ttl.to_string()),
            ("hosts", secret.meta.allow_hosts.join(",")),
        ];
        self.mutate("add", &name, &fields, |v| v.insert(secret, &mut OsRandom))?;
        Ok(Reply::Done)
    }

    /// Source `name`'s server and a token to ask it with (an AppRole
    /// source logs in for it: the token is learnt by the scrubber), copied
    /// out of the vault (so that no lock is held while the server is
    /// asked).
    fn source_conn(&self, name: &str) -> Result<(crate::openbao::Server, SecretBytes), Error> {
        let (url, namespace, ca, token, role) = {
            let state = self.state();
            let s = state.vault()?.source(name).ok_or_else(|| {
                Error::invalid(format!(
                    "there is no source named {name}: `claulock source list` shows them, `claulock source add` adds one"
                ))
            })?;
            (
                s.url.clone(),
                s.namespace.clone(),
                s.ca_pem.clone(),
                SecretBytes::from(s.token.expose()),
                s.approle_role_id.clone(),
            )
        };
        let server = crate::openbao::Server::new(&url, namespace.as_deref(), ca.as_deref())
            .map_err(|e| Error::invalid(format!("source {name}: {e}")))?;
        let Some(role) = role else {
            return Ok((server, token));
        };
        let (client, _, _) = server
            .login_approle(&role, token.expose())
            .map_err(|e| Error::failed(format!("source {name}: the AppRole login failed: {e}")))?;
        self.remote.remember_token(name, &client);
        self.state().scrubber = None;
        Ok((server, client))
    }

    /// Adds a source once its server accepted the token.
    fn source_add(
        &self,
        name: String,
        spec: claulock_proto::SourceSpec,
        token: &SecretBytes,
        now: i64,
    ) -> Result<Reply, Error> {
        if !claulock_core::grammar::is_valid_name(&name) {
            return Err(Error::invalid(format!(
                "{name:?} is not a valid source name: a letter or `_`, then letters, digits and `_`"
            )));
        }
        let kind = claulock_vault::SourceKind::parse(&spec.kind)
            .ok_or_else(|| Error::invalid("a source is `openbao` or `vault`"))?;
        if token.is_empty() {
            return Err(Error::invalid("the token is empty; nothing was added"));
        }
        if self.state().vault()?.source(&name).is_some() {
            return Err(Error::invalid(format!(
                "a source named {name} exists already; `claulock source rm {name}` first"
            )));
        }
        let server = crate::openbao::Server::new(
            &spec.url,
            spec.namespace.as_deref(),
            spec.ca_pem.as_deref(),
        )
        .map_err(|e| Error::invalid(format!("{e}; nothing was added")))?;
        let role = spec.approle_role_id.clone().filter(|r| !r.is_empty());
        let client = match &role {
            Some(role) => {
                let (client, _, _) = server.login_approle(role, token.expose()).map_err(|e| {
                    Error::invalid(format!(
                        "the server did not accept the AppRole login: {e}; nothing was added"
                    ))
                })?;
                self.remote.remember_token(&name, &client);
                self.state().scrubber = None;
                client
            }
            None => token.clone(),
        };
        server.lookup_self(client.expose()).map_err(|e| {
            Error::invalid(format!(
                "the server did not accept the token: {e}; nothing was added"
            ))
        })?;
        let source = claulock_vault::Source {
            name: name.clone(),
            kind,
            url: server.address(),
            namespace: spec.namespace.filter(|n| !n.is_empty()),
            ca_pem: spec.ca_pem,
            token: SecretValue::new(token.expose().to_vec()),
            approle_role_id: role,
            created: now,
        };
        let fields = [("kind", spec.kind), ("url", source.url.clone())];
        self.mutate("source-add", &name, &fields, |v| {
            v.insert_source(source, &mut OsRandom)
        })?;
        Ok(Reply::Done)
    }

    fn source_list(&self) -> Result<Reply, Error> {
        let state = self.state();
        let vault = state.vault()?;
        let list = vault
            .sources()
            .map(|s| claulock_proto::SourceInfo {
                name: s.name.clone(),
                kind: s.kind.as_str().to_owned(),
                url: s.url.clone(),
                namespace: s.namespace.clone(),
                custom_ca: s.ca_pem.is_some(),
                auth: if s.approle_role_id.is_some() {
                    "approle"
                } else {
                    "token"
                }
                .into(),
                created: Some(rfc3339(s.created)),
                secrets: vault
                    .secrets()
                    .filter(|x| x.meta.remote.as_ref().is_some_and(|r| r.source == s.name))
                    .map(|x| x.name.clone())
                    .collect(),
            })
            .collect();
        Ok(Reply::Sources(list))
    }

    fn source_remove(&self, name: &str) -> Result<Reply, Error> {
        let users: Vec<String> = {
            let state = self.state();
            let vault = state.vault()?;
            if vault.source(name).is_none() {
                return Err(Error::invalid(format!(
                    "there is no source named {name}; `claulock source list` shows them"
                )));
            }
            vault
                .secrets()
                .filter(|x| x.meta.remote.as_ref().is_some_and(|r| r.source == name))
                .map(|x| x.name.clone())
                .collect()
        };
        if !users.is_empty() {
            return Err(Error::invalid(format!(
                "{} read from source {name}: remove them first (`claulock rm NAME`)",
                users.join(", ")
            )));
        }
        self.mutate("source-remove", name, &[], |v| {
            v.remove_source(name).map(|_| ())
        })
    }

    fn source_test(&self, name: &str) -> Result<Reply, Error> {
        let (server, token) = self.source_conn(name)?;
        let check = server
            .lookup_self(token.expose())
            .map_err(|e| Error::failed(format!("source {name}: {e}")))?;
        self.audit("source-test", name, &[("url", server.address())]);
        Ok(Reply::TokenChecked(check))
    }

    /// The vault file's bytes opened with `pass`: one key derivation, one
    /// at a time ([`Agent::kdf`]).
    fn open_file(
        &self,
        bytes: &[u8],
        pass: &SecretBytes,
    ) -> Result<Vault, claulock_vault::OpenError> {
        let _one_at_a_time = self.kdf.lock().unwrap_or_else(|p| p.into_inner());
        Vault::open(bytes, pass.expose())
    }

    /// Whether `pass` opens the vault file (one key derivation, outside
    /// the state lock); `why` is what it is for.
    fn check_passphrase(&self, pass: &SecretBytes, why: &str) -> Result<(), Error> {
        let bytes = store::read(&self.home).map_err(|e| Error::failed(format!("{e:#}")))?;
        self.open_file(&bytes, pass)
            .map(|_| ())
            .map_err(|_| Error::NeedsPassphrase {
                why: why.to_owned(),
                wrong: true,
            })
    }

    fn passwd(&self, old: &SecretBytes, new: &SecretBytes) -> Result<Reply, Error> {
        let mut state = self.state();
        state.vault()?;
        let lock = store::lock(&self.home).map_err(|e| Error::failed(format!("{e:#}")))?;
        let bytes = store::read(&self.home).map_err(|e| Error::failed(format!("{e:#}")))?;
        self.open_file(&bytes, old)
            .map_err(|_| Error::invalid("the current passphrase is wrong; nothing was changed"))?;
        let before = state.vault_mut()?.clone();
        state
            .vault_mut()?
            .change_passphrase(new.expose(), KdfParams::DEFAULT, &mut OsRandom)
            .map_err(|e| Error::invalid(e.to_string()))?;
        self.save(&mut state, &lock, "passwd", "", &[], before)?;
        Ok(Reply::Done)
    }

    /// Applies a change, writes the vault and audits; on a write failure
    /// the agent locks rather than keep a state the disk does not have.
    fn mutate(
        &self,
        action: &str,
        name: &str,
        fields: &[(&str, String)],
        change: impl FnOnce(&mut Vault) -> Result<(), VaultError>,
    ) -> Result<Reply, Error> {
        let mut state = self.state();
        state.vault()?;
        let lock = store::lock(&self.home).map_err(|e| Error::failed(format!("{e:#}")))?;
        let before = state.vault_mut()?.clone();
        change(state.vault_mut()?).map_err(vault_error)?;
        self.save(&mut state, &lock, action, name, fields, before)?;
        Ok(Reply::Done)
    }

    /// Writes the changed vault; when the write fails (a full disk), puts
    /// `before` back in memory, so that the agent holds what the disk
    /// holds, and says so: nothing was changed.
    fn save(
        &self,
        state: &mut State,
        lock: &store::Lock,
        action: &str,
        name: &str,
        fields: &[(&str, String)],
        before: Vault,
    ) -> Result<(), Error> {
        state.changed();
        let Some(vault) = state.vault.as_deref() else {
            return Ok(());
        };
        let bytes = Zeroizing::new(vault.to_bytes(&mut OsRandom));
        if let Err(e) = store::write(&self.home, &bytes, lock) {
            if let Some(v) = state.vault.as_deref_mut() {
                *v = before;
            }
            state.changed();
            return Err(Error::failed(format!(
                "cannot write the vault ({e:#}): nothing was changed; free some space in {} and try again",
                self.home.dir.display()
            )));
        }
        self.remote.define(vault);
        let mut f = vec![("caller", "cli".to_owned())];
        f.extend(fields.iter().map(|(k, v)| (*k, v.clone())));
        self.audit(action, name, &f);
        Ok(())
    }
}

/// Refuses a value over [`claulock_proto::MAX_VALUE_LEN`] (whatever the
/// client: one huge value would slow every scrub past the hooks' deadline).
fn check_size(value: &SecretBytes) -> Result<(), Error> {
    if value.expose().len() > claulock_proto::MAX_VALUE_LEN {
        return Err(Error::invalid(format!(
            "the value is {} KiB; a secret holds at most {} KiB (a PEM key or a JSON key file fits)",
            value.expose().len() >> 10,
            claulock_proto::MAX_VALUE_LEN >> 10
        )));
    }
    Ok(())
}

/// The longest TTL a source's value may be cached for: a day.
const MAX_TTL_SECS: u64 = 86_400;

/// A new secret's metadata, checked (hosts, delivery).
fn new_metadata(meta: NewSecret, now: i64) -> Result<Metadata, Error> {
    let Allowances {
        allow_hosts,
        allow_programs,
        tags,
    } = meta.allowances;
    for h in &allow_hosts {
        claulock_core::destination::HostPattern::parse(h)
            .map_err(|e| Error::invalid(e.to_string()))?;
    }
    check_delivery(&allow_hosts, &meta.deliver, meta.allow_in_body)?;
    Ok(Metadata {
        created: now,
        tags,
        allow_hosts,
        allow_programs,
        expires: meta.expires,
        project: meta.project,
        allow_output_files: meta.allow_output_files,
        deliver: meta.deliver.map(|d| match d {
            claulock_proto::Delivery::Proxy => claulock_vault::Delivery::Proxy,
            claulock_proto::Delivery::Env => claulock_vault::Delivery::Env,
        }),
        allow_in_body: meta.allow_in_body,
        ..Metadata::default()
    })
}

/// Refuses a delivery that would widen a secret: proxy delivery with no
/// allowed host (the proxy would swap it in for any host the command
/// names), body and request line for a secret the proxy does not deliver.
fn check_delivery(
    hosts: &[String],
    deliver: &Option<claulock_proto::Delivery>,
    in_body: bool,
) -> Result<(), Error> {
    let proxied =
        claulock_proto::Delivery::effective(*deliver, hosts) == claulock_proto::Delivery::Proxy;
    if proxied && hosts.is_empty() {
        return Err(Error::invalid(
            "proxy delivery needs at least one allowed host: the proxy puts the value only on connections to the hosts it allows",
        ));
    }
    if in_body && !proxied {
        return Err(Error::invalid(
            "allow_in_body is for proxy delivery (the proxy decides where in a request the value goes)",
        ));
    }
    Ok(())
}

/// The project's `.claulock.toml` under `root`, if it has one: rules that
/// narrow the vault's.
pub(crate) fn project_narrowing(root: Option<&Path>) -> Result<Option<Policy>, Error> {
    let Some(file) = root.map(|r| r.join(project::POLICY_FILE)) else {
        return Ok(None);
    };
    let Ok(text) = std::fs::read_to_string(&file) else {
        return Ok(None);
    };
    claulock_core::policy_file::parse(&text)
        .map(Some)
        .map_err(|e| Error::invalid(format!("in {}: {e}", file.display())))
}

/// 16 random hexadecimal digits.
fn random_hex() -> String {
    let mut bytes = [0u8; 8];
    claulock_vault::Random::fill(&mut OsRandom, &mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares without an early exit (a credential from the network).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Quotes a word for bash (single quotes).
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Where a peer's working directory is, when it can be read.
pub(crate) fn peer_cwd(pid: i32) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/cwd")).ok()
}

/// `mutex`'s guard, also after a thread panicked holding it (the counts it
/// guards stay right: a panic cannot leave one half-changed).
fn lock_ignoring_poison<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
