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

/// A value read, and until when it may be used.
struct Cached {
    value: SecretBytes,
    until: Instant,
}

#[derive(Default)]
struct Inner {
    defs: Arc<Definitions>,
    cached: HashMap<String, Cached>,
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
        let names: Vec<String> = inner.cached.keys().cloned().collect();
        for n in names {
            if !same(&n) {
                inner.cached.remove(&n);
                inner.api_paths.remove(&n);
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

    /// Drops every value (the vault was locked).
    pub fn clear(&self) {
        *self.inner() = Inner::default();
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
        let (def, conn, api) = {
            let inner = self.inner();
            let Some(def) = inner.defs.secrets.get(name).cloned() else {
                return Ok(None);
            };
            if let Some(c) = inner.cached.get(name)
                && Instant::now() < c.until
            {
                let read = Read {
                    source: def.source.clone(),
                    path: def.path.clone(),
                    fetched: false,
                    new_value: false,
                    logins: 0,
                };
                return Ok(Some((c.value.clone(), read)));
            }
            let conn = inner.defs.sources.get(&def.source).cloned();
            (def, conn, inner.api_paths.get(name).cloned())
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
        let mut attempt = || -> Result<(SecretBytes, u64, ApiPath), String> {
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
            let (value, lease) = server
                .read(token.expose(), &api, &def.field)
                .map_err(|e| e.to_string())?;
            Ok((value, lease, api))
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
        let (value, lease, api) = result.map_err(|e| refuse(&e))?;
        let mut ttl = Duration::from_secs(def.ttl_secs.max(1));
        if lease > 0 {
            ttl = ttl.min(Duration::from_secs(lease));
        }
        let mut inner = self.inner();
        let new_value = !inner
            .seen
            .iter()
            .any(|(n, v)| n == name && v.expose() == value.expose());
        if new_value {
            inner.seen.push((name.to_owned(), value.clone()));
        }
        inner.api_paths.insert(name.to_owned(), api);
        inner.cached.insert(
            name.to_owned(),
            Cached {
                value: value.clone(),
                until: Instant::now() + ttl,
            },
        );
        inner.last_read.insert(name.to_owned(), now);
        let read = Read {
            source: def.source,
            path: def.path,
            fetched: true,
            new_value,
            logins: logins.len(),
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
