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
//! lease, and match. A lease the engine gave (`lease_id`) bounds the
//! values' life; the agent revokes every lease it holds when the vault is
//! locked ([`Pending::revoke`]), which deletes the credentials in their
//! system. A lease superseded by a new read is left to end by itself: a
//! command may still be using its credentials.
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
    /// By source name.
    sources: HashMap<String, Arc<Conn>>,
}

/// A read of one path: the fields the secrets defined on it take, and its
/// lease.
struct Fetched {
    fields: HashMap<String, SecretBytes>,
    read_at: Instant,
    lease: Option<Lease>,
}

/// A lease the server gave with a read.
struct Lease {
    /// Its id (`database/creds/app/…`: names the lease, grants nothing
    /// without a token that may manage it).
    id: Option<String>,
    /// When its values end.
    until: Instant,
    /// The same, in Unix seconds (for `describe`).
    until_unix: i64,
}

impl Fetched {
    /// The value of `field`, if it is still good for a secret of `ttl`: a
    /// lease about to end ([`MARGIN`]) is read again rather than handed to
    /// a command that would see its credentials vanish as it starts.
    fn fresh(&self, field: &str, ttl: Duration) -> Option<&SecretBytes> {
        let now = Instant::now();
        let alive = self.lease.as_ref().is_none_or(|l| now + MARGIN < l.until);
        (alive && now < self.read_at + ttl)
            .then(|| self.fields.get(field))
            .flatten()
    }
}

/// Leases the agent must revoke (the vault was locked): see
/// [`Pending::revoke`].
#[derive(Default)]
pub struct Pending {
    leases: Vec<(String, Arc<Conn>, String)>,
}

impl Pending {
    /// Revokes each lease, one call each (a source that cannot be reached
    /// is not asked again); what became of each, for the audit log:
    /// (source, lease id, `None` when revoked or why not).
    pub fn revoke(self) -> Vec<(String, String, Option<String>)> {
        let mut unreachable: Vec<String> = Vec::new();
        let mut done = Vec::new();
        for (source, conn, id) in self.leases {
            if unreachable.contains(&source) {
                done.push((source, id, Some("the source could not be reached".into())));
                continue;
            }
            let outcome = conn.server().and_then(|server| {
                let (token, _) = conn.client_token(&server)?;
                server
                    .revoke_lease(token.expose(), &id)
                    .map_err(|e| e.to_string())
            });
            if let Err(why) = &outcome
                && why.contains("cannot reach")
            {
                unreachable.push(source.clone());
            }
            done.push((source, id, outcome.err()));
        }
        done
    }

    /// Whether there is nothing to revoke.
    pub fn is_empty(&self) -> bool {
        self.leases.is_empty()
    }
}

#[derive(Default)]
struct Inner {
    defs: Arc<Definitions>,
    /// By (source, path).
    cached: HashMap<(String, String), Fetched>,
    /// Leases of reads that were replaced, to revoke at lock.
    superseded: Vec<(String, String)>,
    /// Where each secret is read (found once per agent).
    api_paths: HashMap<String, ApiPath>,
    /// Every value received, by secret: the scrubber's dictionary.
    seen: Vec<(String, SecretBytes)>,
    /// When each secret was last read from its source (Unix seconds).
    last_read: HashMap<String, i64>,
}

/// One read from a source, for the audit log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Read {
    /// The source's name.
    pub source: String,
    /// The path.
    pub path: String,
    /// Whether the value came from the server (rather than the cache).
    pub fetched: bool,
    /// Whether it was a value never received before (the scrubber must
    /// learn it).
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
        let mut defs = Definitions::default();
        for s in vault.sources() {
            defs.sources.insert(
                s.name.clone(),
                Arc::new(Conn {
                    url: s.url.clone(),
                    namespace: s.namespace.clone(),
                    ca_pem: s.ca_pem.clone(),
                    token: SecretBytes::from(s.token.expose()),
                    approle_role_id: s.approle_role_id.clone(),
                    server: OnceLock::new(),
                    session: Mutex::new(None),
                }),
            );
        }
        for s in vault.secrets() {
            if let Some(r) = &s.meta.remote {
                defs.secrets.insert(s.name.clone(), r.clone());
            }
        }
        let mut inner = self.inner();
        let old = std::mem::replace(&mut inner.defs, Arc::new(defs));
        let defs = Arc::clone(&inner.defs);
        let same = |name: &str| {
            old.secrets.get(name) == defs.secrets.get(name)
                && old
                    .secrets
                    .get(name)
                    .is_some_and(|r| same_conn(&old, &defs, &r.source))
        };
        let names: Vec<String> = inner.api_paths.keys().cloned().collect();
        for n in names {
            if !same(&n) {
                inner.api_paths.remove(&n);
            }
        }
        // A read stays cached while some secret is still read from its
        // path of the same source; the lease of one that goes is revoked
        // at lock.
        let kept = |(source, path): &(String, String)| {
            same_conn(&old, &defs, source)
                && defs
                    .secrets
                    .values()
                    .any(|r| r.source == *source && r.path == *path)
        };
        let gone: Vec<(String, String)> =
            inner.cached.keys().filter(|k| !kept(k)).cloned().collect();
        for key in gone {
            if let Some(id) = inner
                .cached
                .remove(&key)
                .and_then(|f| f.lease)
                .and_then(|l| l.id)
            {
                inner.superseded.push((key.0, id));
            }
        }
        // A source removed, or given a new token: its old token stays in
        // the dictionary for the agent's lifetime, like a rotated-out value.
        for (name, conn) in &old.sources {
            let kept = defs
                .sources
                .get(name)
                .is_some_and(|c| c.token.expose() == conn.token.expose());
            if !kept {
                inner.seen.push((
                    format!("SOURCE_{name}"),
                    SecretBytes::from(conn.token.expose()),
                ));
            }
        }
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
    /// call to the server).
    pub fn clear(&self) -> Pending {
        let inner = std::mem::take(&mut *self.inner());
        let mut leases = Vec::new();
        let current = inner
            .cached
            .into_iter()
            .filter_map(|((source, _), f)| Some((source, f.lease?.id?)));
        for (source, id) in current.chain(inner.superseded) {
            if let Some(conn) = inner.defs.sources.get(&source) {
                leases.push((source, Arc::clone(conn), id));
            }
        }
        Pending { leases }
    }

    /// When the lease of `name`'s current value ends (Unix seconds).
    pub fn lease_end(&self, name: &str) -> Option<i64> {
        let inner = self.inner();
        let def = inner.defs.secrets.get(name)?;
        let f = inner.cached.get(&(def.source.clone(), def.path.clone()))?;
        f.lease.as_ref().map(|l| l.until_unix)
    }

    /// Whether `name` is read from a source.
    pub fn holds(&self, name: &str) -> bool {
        self.inner().defs.secrets.contains_key(name)
    }

    /// When `name` was last read from its source.
    pub fn last_read(&self, name: &str) -> Option<i64> {
        self.inner().last_read.get(name).copied()
    }

    /// The current value of `name` (`None`: not a source-backed secret),
    /// from the cache while its TTL lasts, else from the server; `now` is
    /// the time in Unix seconds (for `last_read`).
    ///
    /// # Errors
    ///
    /// [`Error::Refused`] when the source cannot answer, naming the cause
    /// and `claulock source test`.
    pub fn read(&self, name: &str, now: i64) -> Result<Option<(SecretBytes, Read)>, Error> {
        let (def, conn, api, also) = {
            let inner = self.inner();
            let Some(def) = inner.defs.secrets.get(name).cloned() else {
                return Ok(None);
            };
            let key = (def.source.clone(), def.path.clone());
            let ttl = Duration::from_secs(def.ttl_secs.max(1));
            if let Some(f) = inner.cached.get(&key)
                && let Some(value) = f.fresh(&def.field, ttl)
            {
                let read = Read {
                    source: def.source.clone(),
                    path: def.path.clone(),
                    fetched: false,
                    new_value: false,
                    logins: 0,
                    lease: f.lease.as_ref().and_then(|l| l.id.clone()),
                };
                return Ok(Some((value.clone(), read)));
            }
            let conn = inner.defs.sources.get(&def.source).cloned();
            // The fields the other secrets of this path take.
            let also: Vec<String> = inner
                .defs
                .secrets
                .values()
                .filter(|r| r.source == def.source && r.path == def.path)
                .map(|r| r.field.clone())
                .collect();
            (def, conn, inner.api_paths.get(name).cloned(), also)
        };
        let refuse = |why: &str| Error::Refused {
            reasons: vec![format!(
                "{name}: its source {} cannot give {}#{}: {why}; check it with `claulock source test {}`",
                def.source, def.path, def.field, def.source
            )],
        };
        let conn =
            conn.ok_or_else(|| refuse("there is no such source (`claulock source list`)"))?;
        let server = conn.server().map_err(|e| refuse(&e))?;
        let mut logins = Vec::new();
        let mut attempt = || -> Result<(crate::openbao::Answer, ApiPath), String> {
            let (token, fresh) = conn.client_token(&server)?;
            if fresh {
                logins.push(token.clone());
            }
            let api = match &api {
                Some(a) => a.clone(),
                None => server
                    .api_path(token.expose(), &def.path)
                    .map_err(|e| e.to_string())?,
            };
            let answer = server
                .read(token.expose(), &api, &def.field, &also)
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
        {
            // Every token received is scrubbed, as long as the agent lives.
            let mut inner = self.inner();
            for token in &logins {
                inner
                    .seen
                    .push((format!("SOURCE_{}", def.source), token.clone()));
            }
        }
        let (answer, api) = result.map_err(|e| refuse(&e))?;
        let read_at = Instant::now();
        let lease = (answer.lease_secs > 0 || answer.lease_id.is_some()).then(|| Lease {
            id: answer.lease_id.clone(),
            until: read_at + Duration::from_secs(answer.lease_secs),
            until_unix: now.saturating_add(i64::try_from(answer.lease_secs).unwrap_or(i64::MAX)),
        });
        let fields: HashMap<String, SecretBytes> = answer.fields.into_iter().collect();
        let Some(value) = fields.get(&def.field).cloned() else {
            return Err(refuse("the answer lost the field"));
        };
        let mut inner = self.inner();
        let new_value = !inner
            .seen
            .iter()
            .any(|(n, v)| n == name && v.expose() == value.expose());
        // Every value of the read joins the dictionary under each secret
        // that takes it (the others are new to the scrubber too).
        let takers: Vec<(String, String)> = inner
            .defs
            .secrets
            .iter()
            .filter(|(_, r)| r.source == def.source && r.path == def.path)
            .map(|(n, r)| (n.clone(), r.field.clone()))
            .collect();
        for (secret, field) in takers {
            if let Some(v) = fields.get(&field)
                && !inner
                    .seen
                    .iter()
                    .any(|(n, s)| *n == secret && s.expose() == v.expose())
            {
                inner.seen.push((secret.clone(), v.clone()));
            }
            inner.last_read.insert(secret, now);
        }
        inner.api_paths.insert(name.to_owned(), api);
        let key = (def.source.clone(), def.path.clone());
        let lease_id = lease.as_ref().and_then(|l| l.id.clone());
        let old = inner.cached.insert(
            key,
            Fetched {
                fields,
                read_at,
                lease,
            },
        );
        if let Some(id) = old.and_then(|f| f.lease).and_then(|l| l.id) {
            inner.superseded.push((def.source.clone(), id));
        }
        let read = Read {
            source: def.source,
            path: def.path,
            fetched: true,
            new_value,
            logins: logins.len(),
            lease: lease_id,
        };
        Ok(Some((value, read)))
    }
}

/// When a token of `lease` seconds is replaced: [`MARGIN`] before its end.
fn refresh_at(lease: u64) -> Instant {
    Instant::now()
        + Duration::from_secs(lease)
            .saturating_sub(MARGIN)
            .max(Duration::from_secs(1))
}

fn same_conn(a: &Definitions, b: &Definitions, source: &str) -> bool {
    match (a.sources.get(source), b.sources.get(source)) {
        (Some(x), Some(y)) => {
            x.url == y.url
                && x.namespace == y.namespace
                && x.ca_pem == y.ca_pem
                && x.token.expose() == y.token.expose()
                && x.approle_role_id == y.approle_role_id
        }
        _ => false,
    }
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
