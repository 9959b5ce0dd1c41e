//! Values read on demand from a team's OpenBao or Vault: [`Remote`], the
//! second [`SecretSource`] beside the local vault.
//!
//! A source authenticates with a token (renewed at half its life while
//! it is renewable) or with AppRole (the agent logs in with the role id
//! and the sealed secret id, again before a token ends, and once more
//! when the server refuses a token it gave: revoked or ended early).
//!
//! The vault holds where each such value lives (`SOURCE:PATH#FIELD`, a
//! TTL) and the source's sealed token; the agent hands this module a
//! snapshot of those definitions after every change ([`Remote::define`]).
//! A read goes to the server ([`crate::openbao`]) when no value is cached
//! or the cached one has outlived its TTL (or its lease, when shorter);
//! otherwise the cached value answers.
//!
//! # One read per path, and its lease
//!
//! A read is cached per source and path, with every field a secret takes
//! from it: a dynamic secret's username and password (two secrets,
//! `creds#username` and `creds#password`) come from one read, so from one
//! lease, and match. The read is fresh for the shortest TTL of the secrets
//! of its path (so all of them are fresh, or none), and a command's
//! secrets are read together ([`Remote::read_many`]): it never gets one
//! read's username with another's password.
//!
//! A lease the engine gave (`lease_id`) bounds the values' life; the agent
//! revokes every lease it holds when the vault is locked
//! ([`Pending::revoke`]), which deletes the credentials in their system:
//! the current ones, and those of reads a newer read replaced (a command
//! may still be using them, so they live until the lock). Each lease is
//! revoked at the server it came from, kept with it, even when the
//! source's definition changed since. A read under way when the vault is
//! locked keeps nothing and revokes its own lease.
//!
//! # Nothing read is ever written or forgotten too early
//!
//! Values live in memory only, in wiped buffers. Every value received for
//! a secret joins [`Remote::each_value`], the scrubber's dictionary, for
//! the agent's lifetime: a value rotated out in the source is still
//! scrubbed from output. Only [`Remote::clear`] (the vault locked) drops
//! them.
//!
//! # A source that cannot answer refuses the command
//!
//! A failed read is an error naming the source, the path and the cause,
//! never a stale value past its TTL, never an empty one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use claulock_proto::{Error, SecretBytes};
use claulock_vault::Vault;

use crate::openbao::{ApiPath, Server};
use crate::source::SecretSource;

/// The TTL of a value read from a source when `add --from` gives none.
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);

/// A source as the agent reads it: its server (built on first use) and
/// its credential: a token, or an AppRole secret id it logs in with.
struct Conn {
    url: String,
    namespace: Option<String>,
    ca_pem: Option<String>,
    token: SecretBytes,
    approle_role_id: Option<String>,
    server: OnceLock<Result<Arc<Server>, String>>,
    /// The token in use and until when (an AppRole login's, or the
    /// source's own token while it is renewed).
    session: Mutex<Option<Session>>,
}

/// A client token and its lifetime.
struct Session {
    token: SecretBytes,
    /// When it must be replaced (logged in again, or renewed).
    refresh: Option<Instant>,
}

/// Seconds before a token's end at which it is replaced.
const MARGIN: Duration = Duration::from_secs(2);

impl Conn {
    /// The token to read with now, and whether it is one never used
    /// before (a fresh login: the scrubber must learn it). With AppRole,
    /// logs in when there is no token or it is about to end; a source
    /// token is renewed at half its lifetime while it is renewable.
    fn client_token(&self, server: &Server) -> Result<(SecretBytes, bool), String> {
        let mut session = self
            .session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(s) = session.as_ref()
            && s.refresh.is_none_or(|r| Instant::now() < r)
        {
            return Ok((s.token.clone(), false));
        }
        match &self.approle_role_id {
            Some(role) => {
                let (token, lease, _) = server
                    .login_approle(role, self.token.expose())
                    .map_err(|e| format!("the AppRole login failed: {e}"))?;
                *session = Some(Session {
                    token: token.clone(),
                    refresh: (lease > 0).then(|| refresh_at(lease)),
                });
                Ok((token, true))
            }
            None => {
                // First use: how long the token lives; later, a renewal.
                // Neither failing stops the read (the read says why).
                let lease = match session.as_ref() {
                    None => server
                        .lookup_self(self.token.expose())
                        .ok()
                        .filter(|c| c.renewable)
                        .map(|c| c.ttl_secs),
                    Some(_) => server.renew_self(self.token.expose()).ok(),
                };
                let refresh = lease
                    .filter(|l| *l > 0)
                    .map(|l| Instant::now() + Duration::from_secs(l / 2));
                *session = Some(Session {
                    token: self.token.clone(),
                    refresh,
                });
                Ok((self.token.clone(), false))
            }
        }
    }

    /// Forgets an AppRole login's token (the server refused it: log in
    /// again).
    fn drop_session(&self) {
        if self.approle_role_id.is_some() {
            *self
                .session
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        }
    }

    /// Whether `other` is the same source: the same server, namespace,
    /// roots and credential.
    fn same_as(&self, other: &Conn) -> bool {
        self.url == other.url
            && self.namespace == other.namespace
            && self.ca_pem == other.ca_pem
            && self.token.expose() == other.token.expose()
            && self.approle_role_id == other.approle_role_id
    }

    fn server(&self) -> Result<Arc<Server>, String> {
        self.server
            .get_or_init(|| {
                Server::new(&self.url, self.namespace.as_deref(), self.ca_pem.as_deref())
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
            .clone()
    }
}

/// What the vault says of the source-backed secrets.
#[derive(Default)]
struct Definitions {
    /// By secret: (source, path, field, ttl).
    secrets: HashMap<String, claulock_vault::Remote>,
    /// By source name. A source whose definition did not change keeps its
    /// `Conn` across [`Remote::define`] (its login, its reads, its leases).
    sources: HashMap<String, Arc<Conn>>,
}

impl Definitions {
    /// The secrets read from `path` of `source`: (name, field, ttl).
    fn takers<'a>(
        &'a self,
        source: &'a str,
        path: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a str, Duration)> + 'a {
        self.secrets
            .iter()
            .filter(move |(_, r)| r.source == source && r.path == path)
            .map(|(n, r)| {
                let ttl = Duration::from_secs(r.ttl_secs.max(1));
                (n.as_str(), r.field.as_str(), ttl)
            })
    }
}

/// A read of one path: the fields the secrets defined on it take, and its
/// lease.
struct Fetched {
    fields: HashMap<String, SecretBytes>,
    read_at: Instant,
    lease: Option<Lease>,
    /// The source it came from: its lease is revoked there, whatever
    /// becomes of the source's definition meanwhile.
    conn: Arc<Conn>,
}

/// A lease the server gave with a read.
struct Lease {
    /// Its id (`database/creds/app/…`: names the lease, grants nothing
    /// without a token that may manage it).
    id: Option<String>,
    /// When its values end (`None`: the server gave no duration).
    until: Option<Instant>,
    /// The same, in Unix seconds (for `describe`).
    until_unix: Option<i64>,
}

impl Fetched {
    /// Whether its values are still good for the secrets of its path, the
    /// shortest of whose TTLs is `ttl`: every secret of a path is fresh, or
    /// none is, so two of them (a username and its password) never come
    /// from two reads. A lease about to end ([`MARGIN`]) is read again
    /// rather than handed to a command that would see its credentials
    /// vanish as it starts.
    fn fresh(&self, ttl: Duration) -> bool {
        let now = Instant::now();
        let alive = self
            .lease
            .as_ref()
            .and_then(|l| l.until)
            .is_none_or(|until| now + MARGIN < until);
        alive && now < self.read_at + ttl
    }

    /// Its lease, if it has one to revoke.
    fn held(self, source: String) -> Option<Held> {
        let lease = self.lease?;
        Some(Held {
            source,
            conn: self.conn,
            id: lease.id?,
            until: lease.until,
        })
    }
}

/// A lease the agent holds and revokes at lock.
struct Held {
    source: String,
    conn: Arc<Conn>,
    id: String,
    until: Option<Instant>,
}

impl Held {
    /// Whether it has ended by itself (nothing left to revoke).
    fn ended(&self, now: Instant) -> bool {
        self.until.is_some_and(|u| u <= now)
    }
}

/// What became of a lease at lock, for the audit log.
pub struct Revoked {
    /// The source's name when the lease was read.
    pub source: String,
    /// The lease's id.
    pub lease: String,
    /// `None` when revoked, else why not.
    pub failed: Option<String>,
}

/// Leases the agent must revoke (the vault was locked): see
/// [`Pending::revoke`].
#[derive(Default)]
pub struct Pending {
    leases: Vec<Held>,
}

impl Pending {
    /// Revokes each lease, one call each, until `deadline`: a lease left
    /// when it comes is reported, not revoked (it ends by itself at its
    /// lease's end), and a source that could not be reached, or did not
    /// answer in time, is not asked again.
    pub fn revoke(self, deadline: Instant) -> Vec<Revoked> {
        let mut unreachable: Vec<Arc<Conn>> = Vec::new();
        let mut done = Vec::new();
        for held in self.leases {
            let skipped = if unreachable.iter().any(|c| Arc::ptr_eq(c, &held.conn)) {
                Some("the source could not be reached".to_owned())
            } else if Instant::now() >= deadline {
                Some("no time was left before the agent exits; it ends at its lease's end".into())
            } else {
                None
            };
            let failed = skipped.or_else(|| {
                let failure = revoke_one(&held.conn, &held.id).err()?;
                if failure.1 {
                    unreachable.push(Arc::clone(&held.conn));
                }
                Some(failure.0)
            });
            done.push(Revoked {
                source: held.source,
                lease: held.id,
                failed,
            });
        }
        done
    }

    /// Whether there is nothing to revoke.
    pub fn is_empty(&self) -> bool {
        self.leases.is_empty()
    }
}

/// Revokes lease `id` at `conn`; else why not, and whether the server was
/// unreachable.
fn revoke_one(conn: &Conn, id: &str) -> Result<(), (String, bool)> {
    let server = conn.server().map_err(|e| (e, false))?;
    let (token, _) = conn.client_token(&server).map_err(|e| (e, false))?;
    server
        .revoke_lease(token.expose(), id)
        .map_err(|e| (e.to_string(), e.is_unreachable()))
}

#[derive(Default)]
struct Inner {
    defs: Arc<Definitions>,
    /// Counts the locks: a read that began before one must leave nothing
    /// in the cache after it.
    generation: u64,
    /// By (source, path).
    cached: HashMap<(String, String), Fetched>,
    /// Leases of reads that were replaced, to revoke at lock (those that
    /// ended by themselves are dropped as others come).
    superseded: Vec<Held>,
    /// Where each path of each source is read (found once per source).
    api_paths: HashMap<(String, String), ApiPath>,
    /// Every value received, by secret: the scrubber's dictionary.
    seen: Vec<(String, SecretBytes)>,
    /// When each secret was last read from its source (Unix seconds).
    last_read: HashMap<String, i64>,
}

impl Inner {
    /// Keeps `held` for the lock.
    fn supersede(&mut self, held: Option<Held>) {
        let now = Instant::now();
        self.superseded.retain(|h| !h.ended(now));
        self.superseded.extend(held);
    }

    /// Adds `value` to the dictionary under `secret`; whether it is new.
    fn learn(&mut self, secret: &str, value: &SecretBytes) -> bool {
        let known = self
            .seen
            .iter()
            .any(|(n, v)| n == secret && v.expose() == value.expose());
        if !known {
            self.seen.push((secret.to_owned(), value.clone()));
        }
        !known
    }
}

/// A path of a source: (source, path).
type PathKey = (String, String);
/// A secret read from a path: (name, field).
type Member = (String, String);

/// One read from a source, for the audit log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Read {
    /// The source's name.
    pub source: String,
    /// The path.
    pub path: String,
    /// Whether the value came from the server (rather than the cache).
    pub fetched: bool,
    /// Whether the read brought a value never received before, for any
    /// secret of its path (the scrubber must learn it).
    pub new_value: bool,
    /// How many AppRole logins it took (their tokens are new to the
    /// scrubber too).
    pub logins: usize,
    /// The lease the value came with (a dynamic secret's).
    pub lease: Option<String>,
}

/// The values of source-backed secrets, read on demand and cached.
#[derive(Default)]
pub struct Remote {
    inner: Mutex<Inner>,
}

impl Remote {
    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes the definitions of `vault` (after every change). A secret
    /// whose definition changed or went is read again; what was received
    /// stays in the dictionary.
    pub fn define(&self, vault: &Vault) {
        let mut inner = self.inner();
        let old = Arc::clone(&inner.defs);
        let mut defs = Definitions::default();
        for s in vault.sources() {
            let conn = Conn {
                url: s.url.clone(),
                namespace: s.namespace.clone(),
                ca_pem: s.ca_pem.clone(),
                token: SecretBytes::from(s.token.expose()),
                approle_role_id: s.approle_role_id.clone(),
                server: OnceLock::new(),
                session: Mutex::new(None),
            };
            let conn = match old.sources.get(&s.name) {
                Some(was) if was.same_as(&conn) => Arc::clone(was),
                _ => Arc::new(conn),
            };
            defs.sources.insert(s.name.clone(), conn);
        }
        for s in vault.secrets() {
            if let Some(r) = &s.meta.remote {
                defs.secrets.insert(s.name.clone(), r.clone());
            }
        }
        let kept_source = |source: &str| match (old.sources.get(source), defs.sources.get(source)) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        };
        inner.api_paths.retain(|(source, _), _| kept_source(source));
        // A read stays cached while some secret is still read from its
        // path of the same source; the lease of one that goes is revoked
        // at lock.
        let gone: Vec<(String, String)> = inner
            .cached
            .keys()
            .filter(|(source, path)| {
                !kept_source(source) || defs.takers(source, path).next().is_none()
            })
            .cloned()
            .collect();
        for key in gone {
            if let Some(f) = inner.cached.remove(&key) {
                let held = f.held(key.0);
                inner.supersede(held);
            }
        }
        // A source removed, or given a new token: its old token stays in
        // the dictionary for the agent's lifetime, like a rotated-out value.
        let dropped: Vec<(String, SecretBytes)> = old
            .sources
            .iter()
            .filter(|(name, conn)| {
                defs.sources
                    .get(*name)
                    .is_none_or(|c| c.token.expose() != conn.token.expose())
            })
            .map(|(name, conn)| (format!("SOURCE_{name}"), conn.token.clone()))
            .collect();
        inner.seen.extend(dropped);
        inner.defs = Arc::new(defs);
    }

    /// Learns a token the agent received for source `source` outside a
    /// read (`source test`'s login): it is scrubbed from then on.
    pub fn remember_token(&self, source: &str, token: &SecretBytes) {
        self.inner()
            .seen
            .push((format!("SOURCE_{source}"), token.clone()));
    }

    /// Drops every value (the vault was locked); the leases to revoke,
    /// which the caller does once it holds no lock of its own (each is a
    /// call to the server). A read under way when it comes leaves nothing
    /// behind (see [`Remote::read_many`]).
    pub fn clear(&self) -> Pending {
        let old = {
            let mut inner = self.inner();
            let generation = inner.generation.wrapping_add(1);
            let old = std::mem::take(&mut *inner);
            inner.generation = generation;
            old
        };
        let now = Instant::now();
        let current = old
            .cached
            .into_iter()
            .filter_map(|((source, _), f)| f.held(source));
        let leases = current
            .chain(old.superseded)
            .filter(|h| !h.ended(now))
            .collect();
        Pending { leases }
    }

    /// When the lease of `name`'s current value ends (Unix seconds).
    pub fn lease_end(&self, name: &str) -> Option<i64> {
        let inner = self.inner();
        let def = inner.defs.secrets.get(name)?;
        let f = inner.cached.get(&(def.source.clone(), def.path.clone()))?;
        f.lease.as_ref().and_then(|l| l.until_unix)
    }

    /// Whether `name` is read from a source.
    pub fn holds(&self, name: &str) -> bool {
        self.inner().defs.secrets.contains_key(name)
    }

    /// When `name` was last read from its source.
    pub fn last_read(&self, name: &str) -> Option<i64> {
        self.inner().last_read.get(name).copied()
    }

    /// The current value of `name` (`None`: not a source-backed secret):
    /// [`Remote::read_many`] of one.
    ///
    /// # Errors
    ///
    /// As [`Remote::read_many`].
    pub fn read(&self, name: &str, now: i64) -> Result<Option<(SecretBytes, Read)>, Error> {
        Ok(self
            .read_many(&[name], now)?
            .pop()
            .map(|(_, value, read)| (value, read)))
    }

    /// The current values of the source-backed secrets among `names`
    /// (the others are left out), from the cache while it is fresh, else
    /// from the server; `now` is the time in Unix seconds (for
    /// `last_read`). The secrets of one path come from one read: the
    /// values a command gets belong together.
    ///
    /// # Errors
    ///
    /// [`Error::Refused`] when a source cannot answer, naming the cause
    /// and `claulock source test`; [`Error::Locked`] when the vault was
    /// locked during the read (whose lease is then revoked at once).
    pub fn read_many(
        &self,
        names: &[&str],
        now: i64,
    ) -> Result<Vec<(String, SecretBytes, Read)>, Error> {
        // (source, path) → the asked secrets read there: (name, field).
        let mut groups: Vec<(PathKey, Vec<Member>)> = Vec::new();
        {
            let inner = self.inner();
            for name in names {
                let Some(def) = inner.defs.secrets.get(*name) else {
                    continue;
                };
                let key = (def.source.clone(), def.path.clone());
                let member = ((*name).to_owned(), def.field.clone());
                match groups.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, members)) if members.contains(&member) => {}
                    Some((_, members)) => members.push(member),
                    None => groups.push((key, vec![member])),
                }
            }
        }
        let mut out = Vec::new();
        for ((source, path), members) in groups {
            let (values, read) = self.read_path(&source, &path, &members, now)?;
            for ((name, _), value) in members.into_iter().zip(values) {
                out.push((name, value, read.clone()));
            }
        }
        Ok(out)
    }

    /// The values of `members` (secrets read from `path` of `source`), in
    /// their order, from one read.
    fn read_path(
        &self,
        source: &str,
        path: &str,
        members: &[(String, String)],
        now: i64,
    ) -> Result<(Vec<SecretBytes>, Read), Error> {
        let names: Vec<&str> = members.iter().map(|(n, _)| n.as_str()).collect();
        let refuse = |what: &str, why: &str| Error::Refused {
            reasons: vec![format!(
                "{}: its source {source} cannot give {what}: {why}; check it with `claulock source test {source}`",
                names.join(", ")
            )],
        };
        let key = (source.to_owned(), path.to_owned());
        let pick = |fields: &HashMap<String, SecretBytes>| -> Result<Vec<SecretBytes>, Error> {
            members
                .iter()
                .map(|(name, field)| {
                    fields.get(field).cloned().ok_or_else(|| Error::Refused {
                        reasons: vec![format!(
                            "{name}: its source {source} cannot give {path}#{field}: \
                             the answer has no such field (or it is empty); \
                             check it with `claulock source test {source}`"
                        )],
                    })
                })
                .collect()
        };
        let (generation, conn, api, fields) = {
            let inner = self.inner();
            let ttl = inner
                .defs
                .takers(source, path)
                .map(|(_, _, ttl)| ttl)
                .min()
                .unwrap_or(DEFAULT_TTL);
            if let Some(f) = inner.cached.get(&key)
                && f.fresh(ttl)
                && members
                    .iter()
                    .all(|(_, field)| f.fields.contains_key(field))
            {
                let read = Read {
                    source: source.to_owned(),
                    path: path.to_owned(),
                    fetched: false,
                    new_value: false,
                    logins: 0,
                    lease: f.lease.as_ref().and_then(|l| l.id.clone()),
                };
                return Ok((pick(&f.fields)?, read));
            }
            // The asked fields first, then those the other secrets of this
            // path take: one read serves them all.
            let mut fields: Vec<String> = members.iter().map(|(_, f)| f.clone()).collect();
            for (_, field, _) in inner.defs.takers(source, path) {
                if !fields.iter().any(|f| f == field) {
                    fields.push(field.to_owned());
                }
            }
            (
                inner.generation,
                inner.defs.sources.get(source).cloned(),
                inner.api_paths.get(&key).cloned(),
                fields,
            )
        };
        let what = format!("{path}#{}", fields[0]);
        let conn =
            conn.ok_or_else(|| refuse(&what, "there is no such source (`claulock source list`)"))?;
        let server = conn.server().map_err(|e| refuse(&what, &e))?;
        let mut logins = Vec::new();
        let mut attempt = || -> Result<(crate::openbao::Answer, ApiPath), String> {
            let (token, fresh) = conn.client_token(&server)?;
            if fresh {
                logins.push(token.clone());
            }
            let api = match &api {
                Some(a) => a.clone(),
                None => server
                    .api_path(token.expose(), path)
                    .map_err(|e| e.to_string())?,
            };
            let answer = server
                .read(token.expose(), &api, &fields[0], &fields[1..])
                .map_err(|e| e.to_string())?;
            Ok((answer, api))
        };
        // An AppRole token the server no longer takes (revoked, or ended
        // early): one new login, one more try.
        let result = match attempt() {
            Err(e) if e.contains("(403") && conn.approle_role_id.is_some() => {
                conn.drop_session();
                attempt()
            }
            other => other,
        };
        let mut inner = self.inner();
        if inner.generation != generation {
            // Locked while the server answered: nothing of the read may
            // stay, and its lease is revoked now (the lock's revocation
            // did not know it).
            drop(inner);
            if let Ok((answer, _)) = &result
                && let Some(id) = &answer.lease_id
            {
                let _ = revoke_one(&conn, id);
            }
            return Err(Error::Locked);
        }
        // Every token received is scrubbed, as long as the agent lives.
        for token in &logins {
            inner.seen.push((format!("SOURCE_{source}"), token.clone()));
        }
        let (answer, api) = result.map_err(|e| refuse(&what, &e))?;
        let read_at = Instant::now();
        let lease = (answer.lease_secs > 0 || answer.lease_id.is_some()).then(|| {
            let secs = (answer.lease_secs > 0).then_some(answer.lease_secs);
            Lease {
                id: answer.lease_id.clone(),
                until: secs.map(|s| read_at + Duration::from_secs(s)),
                until_unix: secs.map(|s| now.saturating_add(i64::try_from(s).unwrap_or(i64::MAX))),
            }
        });
        let fetched = Fetched {
            fields: answer.fields.into_iter().collect(),
            read_at,
            lease,
            conn: Arc::clone(&conn),
        };
        // Every value of the read joins the dictionary under each secret
        // that takes it: any of them may be printed, asked for or not.
        let mut takers: Vec<(String, String)> = inner
            .defs
            .takers(source, path)
            .map(|(n, f, _)| (n.to_owned(), f.to_owned()))
            .collect();
        for m in members {
            if !takers.contains(m) {
                takers.push(m.clone());
            }
        }
        let mut new_value = false;
        for (secret, field) in &takers {
            if let Some(v) = fetched.fields.get(field) {
                new_value |= inner.learn(secret, v);
            }
            inner.last_read.insert(secret.clone(), now);
        }
        let values = pick(&fetched.fields);
        let lease_id = fetched.lease.as_ref().and_then(|l| l.id.clone());
        // Cached only while the source is still the one it was read from
        // (a definition can change during the read); else its lease waits
        // for the lock with the superseded ones.
        let current = inner
            .defs
            .sources
            .get(source)
            .is_some_and(|c| Arc::ptr_eq(c, &conn));
        if current {
            inner.api_paths.insert(key.clone(), api);
            if let Some(old) = inner.cached.insert(key, fetched) {
                let held = old.held(source.to_owned());
                inner.supersede(held);
            }
        } else {
            let held = fetched.held(source.to_owned());
            inner.supersede(held);
        }
        let read = Read {
            source: source.to_owned(),
            path: path.to_owned(),
            fetched: true,
            new_value,
            logins: logins.len(),
            lease: lease_id,
        };
        Ok((values?, read))
    }
}

/// When a token of `lease` seconds is replaced: [`MARGIN`] before its end.
fn refresh_at(lease: u64) -> Instant {
    Instant::now()
        + Duration::from_secs(lease)
            .saturating_sub(MARGIN)
            .max(Duration::from_secs(1))
}

impl SecretSource for Remote {
    fn value(&self, name: &str) -> Result<Option<SecretBytes>, Error> {
        let now = crate::server::now();
        Ok(self.read(name, now)?.map(|(v, _)| v))
    }

    fn each_value(&self, each: &mut dyn FnMut(&str, &[u8])) {
        for (name, value) in &self.inner().seen {
            each(name, value.expose());
        }
    }
}

#[cfg(test)]
mod tests {
    //! The cache and the leases against a stand-in for a dynamic secrets
    //! engine (a boundary we do not own; the end-to-end tests in
    //! `claulock-cli/tests/openbao.rs` use the real OpenBao). Its values
    //! are test canaries, and still no assertion prints one.

    use std::io::{BufRead, BufReader, Read as _, Write as _};
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

    use claulock_vault::{KdfParams, Metadata, Secret, SecretValue, Source, SourceKind};

    use super::*;

    /// A stand-in for `db/creds/app` of a database engine: each read makes
    /// a new user (`user-TAG-N`, or one fixed user with `fixed_user`) and
    /// password (`pass-TAG-N`) under lease `TAG/db/creds/app/N`.
    struct Engine {
        url: String,
        reads: Arc<AtomicUsize>,
        revoked: Arc<Mutex<Vec<String>>>,
        delay_ms: Arc<AtomicU64>,
    }

    impl Engine {
        fn start(tag: &'static str, lease_secs: u64, fixed_user: bool) -> Engine {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let url = format!("http://{}", l.local_addr().unwrap());
            let reads = Arc::new(AtomicUsize::new(0));
            let revoked = Arc::new(Mutex::new(Vec::new()));
            let delay_ms = Arc::new(AtomicU64::new(0));
            let (r, v, d) = (
                Arc::clone(&reads),
                Arc::clone(&revoked),
                Arc::clone(&delay_ms),
            );
            std::thread::spawn(move || {
                for c in l.incoming().flatten() {
                    let (r, v, d) = (Arc::clone(&r), Arc::clone(&v), Arc::clone(&d));
                    std::thread::spawn(move || {
                        let _ = serve(c, tag, lease_secs, fixed_user, &r, &v, &d);
                    });
                }
            });
            Engine {
                url,
                reads,
                revoked,
                delay_ms,
            }
        }

        fn revoked(&self) -> Vec<String> {
            self.revoked.lock().unwrap().clone()
        }
    }

    fn serve(
        c: std::net::TcpStream,
        tag: &str,
        lease_secs: u64,
        fixed_user: bool,
        reads: &AtomicUsize,
        revoked: &Mutex<Vec<String>>,
        delay_ms: &AtomicU64,
    ) -> std::io::Result<()> {
        let mut r = BufReader::new(c.try_clone()?);
        let mut line = String::new();
        r.read_line(&mut line)?;
        let mut words = line.split_whitespace();
        let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        let mut length = 0;
        loop {
            let mut h = String::new();
            r.read_line(&mut h)?;
            if h.trim().is_empty() {
                break;
            }
            if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        r.read_exact(&mut body)?;
        let (status, answer) = match (method, path) {
            ("GET", "/v1/db/creds/app") => {
                std::thread::sleep(Duration::from_millis(delay_ms.load(Ordering::SeqCst)));
                let n = reads.fetch_add(1, Ordering::SeqCst) + 1;
                let user = if fixed_user {
                    "app-fixed-user".to_owned()
                } else {
                    format!("user-{tag}-{n}")
                };
                let json = serde_json::json!({
                    "lease_id": format!("{tag}/db/creds/app/{n}"),
                    "lease_duration": lease_secs,
                    "data": {"username": user, "password": format!("pass-{tag}-{n}")},
                });
                ("200 OK", json.to_string())
            }
            ("PUT", "/v1/sys/leases/revoke") => {
                let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                let id = json["lease_id"].as_str().unwrap_or_default().to_owned();
                revoked.lock().unwrap().push(id);
                ("204 No Content", String::new())
            }
            _ => ("404 Not Found", r#"{"errors":[]}"#.to_owned()),
        };
        let mut w = c;
        write!(
            w,
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
            answer.len()
        )
    }

    /// A vault with source `team` at `url` and `secrets` (name, field,
    /// TTL in seconds) read from `db/creds/app`.
    fn vault(url: &str, secrets: &[(&str, &str, u64)]) -> Vault {
        let rng = &mut crate::osrand::OsRandom;
        let mut v = Vault::create(b"pass", KdfParams::MIN, rng).unwrap();
        let source = Source {
            name: "team".into(),
            kind: SourceKind::OpenBao,
            url: url.into(),
            namespace: None,
            ca_pem: None,
            token: SecretValue::new(b"tok-test-0123456789abcdef".to_vec()),
            approle_role_id: None,
            created: 0,
        };
        v.insert_source(source, rng).unwrap();
        for (name, field, ttl) in secrets {
            let meta = Metadata {
                remote: Some(claulock_vault::Remote {
                    source: "team".into(),
                    path: "db/creds/app".into(),
                    field: (*field).into(),
                    ttl_secs: *ttl,
                }),
                ..Metadata::default()
            };
            let secret = Secret {
                name: (*name).into(),
                value: SecretValue::new(Vec::new()),
                meta,
                superseded: Vec::new(),
            };
            v.insert(secret, rng).unwrap();
        }
        v
    }

    /// The read number a canary value carries (`user-a-3` → 3).
    fn nth(v: &SecretBytes) -> String {
        let text = String::from_utf8_lossy(v.expose()).into_owned();
        text.rsplit('-').next().unwrap_or_default().to_owned()
    }

    fn value(remote: &Remote, name: &str) -> SecretBytes {
        remote.read(name, 0).unwrap().unwrap().0
    }

    #[test]
    fn the_secrets_of_a_path_are_fresh_together_whatever_their_ttls() {
        // A username kept 300 s, its password 1 s: read one at a time, as a
        // command's secrets once were, they must still come from one read.
        let engine = Engine::start("a", 60, false);
        let remote = Remote::default();
        remote.define(&vault(
            &engine.url,
            &[("U", "username", 300), ("P", "password", 1)],
        ));
        let got = remote.read_many(&["U", "P"], 0).unwrap();
        assert_eq!(got.len(), 2);
        assert!(nth(&got[0].1) == nth(&got[1].1), "one read gave both");
        assert_eq!(engine.reads.load(Ordering::SeqCst), 1);
        std::thread::sleep(Duration::from_millis(1_200));
        let (u, p) = (value(&remote, "U"), value(&remote, "P"));
        assert!(
            nth(&u) == "2" && nth(&p) == "2",
            "past the shorter TTL both secrets come from the second read"
        );
        assert_eq!(engine.reads.load(Ordering::SeqCst), 2, "one read for both");
        // The read that was replaced is revoked at lock, with the current.
        let mut revoked: Vec<String> = remote
            .clear()
            .revoke(Instant::now() + Duration::from_secs(10))
            .into_iter()
            .filter(|r| r.failed.is_none())
            .map(|r| r.lease)
            .collect();
        revoked.sort();
        assert_eq!(revoked, ["a/db/creds/app/1", "a/db/creds/app/2"]);
        assert_eq!(engine.revoked().len(), 2);
    }

    #[test]
    fn a_read_under_way_at_lock_keeps_nothing_and_revokes_its_lease() {
        let engine = Engine::start("b", 60, false);
        engine.delay_ms.store(700, Ordering::SeqCst);
        let remote = Arc::new(Remote::default());
        remote.define(&vault(&engine.url, &[("P", "password", 300)]));
        let reader = {
            let remote = Arc::clone(&remote);
            std::thread::spawn(move || remote.read("P", 0).map(|got| got.is_some()))
        };
        std::thread::sleep(Duration::from_millis(200));
        let pending = remote.clear();
        assert!(pending.is_empty(), "nothing was read yet");
        let outcome = reader.join().unwrap();
        assert!(
            matches!(outcome, Err(Error::Locked)),
            "a read that ends after the lock is refused as locked"
        );
        assert_eq!(
            engine.revoked(),
            ["b/db/creds/app/1"],
            "its lease was revoked"
        );
        let mut values = 0;
        remote.each_value(&mut |_, _| values += 1);
        assert_eq!(values, 0, "no value stayed in the dictionary");
        assert!(remote.clear().is_empty(), "no lease stayed in the cache");
    }

    #[test]
    fn a_lease_is_revoked_where_it_was_read_though_the_source_moved() {
        let (a, b) = (Engine::start("c", 60, false), Engine::start("d", 60, false));
        let remote = Remote::default();
        remote.define(&vault(&a.url, &[("P", "password", 300)]));
        let _ = value(&remote, "P");
        // The source re-pointed at another server (removed, added again).
        remote.define(&vault(&b.url, &[("P", "password", 300)]));
        let _ = value(&remote, "P");
        let outcome = remote
            .clear()
            .revoke(Instant::now() + Duration::from_secs(10));
        assert!(outcome.iter().all(|r| r.failed.is_none()));
        assert_eq!(
            a.revoked(),
            ["c/db/creds/app/1"],
            "the first server's lease"
        );
        assert_eq!(
            b.revoked(),
            ["d/db/creds/app/1"],
            "the second server's lease"
        );
    }

    #[test]
    fn a_sibling_fields_new_value_is_new_to_the_scrubber() {
        // The username stays, the password changes: a read for the
        // username brings a password the scrubber has not seen.
        let engine = Engine::start("e", 60, true);
        let remote = Remote::default();
        remote.define(&vault(
            &engine.url,
            &[("U", "username", 1), ("P", "password", 1)],
        ));
        let (_, first) = remote.read("U", 0).unwrap().unwrap();
        assert!(first.new_value);
        std::thread::sleep(Duration::from_millis(1_200));
        let (_, second) = remote.read("U", 0).unwrap().unwrap();
        assert!(second.fetched, "read again after the TTL");
        assert!(
            second.new_value,
            "the new password must reach the scrubber though the username is old"
        );
        let mut passwords = 0;
        remote.each_value(&mut |name, _| passwords += usize::from(name == "P"));
        assert_eq!(passwords, 2, "both passwords are in the dictionary");
        drop(remote.clear());
    }

    #[test]
    fn revoking_stops_at_its_deadline_and_at_a_server_that_cannot_be_reached() {
        let engine = Engine::start("f", 60, false);
        let remote = Remote::default();
        remote.define(&vault(&engine.url, &[("P", "password", 300)]));
        let _ = value(&remote, "P");
        let late = remote.clear().revoke(Instant::now());
        assert_eq!(late.len(), 1);
        assert!(
            late[0]
                .failed
                .as_deref()
                .is_some_and(|w| w.contains("no time was left")),
            "past its deadline a lease is reported, not revoked"
        );
        assert!(engine.revoked().is_empty());

        // Two leases at a server that is gone: the second is not tried.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let dead = format!("http://{}", l.local_addr().unwrap());
        drop(l);
        let remote = Remote::default();
        remote.define(&vault(&dead, &[]));
        let conn = Arc::clone(&remote.inner().defs.sources["team"]);
        let held = |id: &str| Held {
            source: "team".into(),
            conn: Arc::clone(&conn),
            id: id.into(),
            until: None,
        };
        let pending = Pending {
            leases: vec![held("x/1"), held("x/2")],
        };
        let out = pending.revoke(Instant::now() + Duration::from_secs(30));
        assert!(
            out[0]
                .failed
                .as_deref()
                .is_some_and(|w| w.contains("cannot reach"))
        );
        assert_eq!(
            out[1].failed.as_deref(),
            Some("the source could not be reached"),
            "an unreachable server is asked once"
        );
    }
}
