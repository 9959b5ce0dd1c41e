//! A secret and its metadata, and their binary encoding inside a sealed
//! record.
//!
//! The encoding is a flat list of fields, each `tag: u8, len: u32 LE,
//! bytes`. It is hand-written rather than derived so that no serializer
//! can ever be pointed at a value by mistake.

use std::fmt;

use secrecy::{ExposeSecret, SecretSlice};

/// A secret value: zeroized on drop, never printed.
pub struct SecretValue(SecretSlice<u8>);

impl SecretValue {
    /// Wraps `bytes`.
    pub fn new(bytes: Vec<u8>) -> Self {
        SecretValue(SecretSlice::from(bytes))
    }

    /// The value's bytes. Call this only where the value is needed (the
    /// exec wrapper's child environment, the scrubber's dictionary).
    pub fn expose(&self) -> &[u8] {
        self.0.expose_secret()
    }
}

impl Clone for SecretValue {
    fn clone(&self) -> Self {
        SecretValue::new(self.expose().to_vec())
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(<redacted>)")
    }
}

impl PartialEq for SecretValue {
    fn eq(&self, other: &Self) -> bool {
        // Not constant-time: used in tests and for "value unchanged" checks,
        // never against attacker-chosen input.
        self.expose() == other.expose()
    }
}

impl Eq for SecretValue {}

/// Everything about a secret except its value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metadata {
    /// When it was added (Unix seconds).
    pub created: i64,
    /// When its value last changed, if it was rotated.
    pub rotated: Option<i64>,
    /// Free-form labels.
    pub tags: Vec<String>,
    /// Hosts the value may be sent to (empty: any).
    pub allow_hosts: Vec<String>,
    /// Programs the value may be passed to (empty: any that does not
    /// reveal it).
    pub allow_programs: Vec<String>,
    /// Programs lifted out of the built-in reveal lists.
    pub allow_revealing: Vec<String>,
    /// Whether a command holding the value may write its output to files.
    pub allow_output_files: bool,
    /// When it stops being usable.
    pub expires: Option<i64>,
    /// The project root it is bound to.
    pub project: Option<String>,
    /// How the value reaches a command (`None`: the default for its hosts,
    /// [`Metadata::delivery`]).
    pub deliver: Option<Delivery>,
    /// Whether the proxy may put the value in a request's line and body,
    /// not only its headers.
    pub allow_in_body: bool,
    /// Where the value lives when it is not in this vault: a field of a
    /// team's OpenBao or Vault secret, read on demand by the agent (the
    /// record's own value is then empty, and is never used).
    pub remote: Option<Remote>,
}

/// A value read on demand from a [`Source`]: `SOURCE:PATH#FIELD`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Remote {
    /// The source's name.
    pub source: String,
    /// The secret's path as `bao kv get` takes it (`secret/app`), or the
    /// API path of a KV v2 read (`secret/data/app`).
    pub path: String,
    /// The field of that secret.
    pub field: String,
    /// How long the agent may keep a value it read, in seconds.
    pub ttl_secs: u64,
}

/// Which server a source speaks to (both speak the same API).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// OpenBao.
    OpenBao,
    /// HashiCorp Vault.
    Vault,
}

impl SourceKind {
    /// `openbao` or `vault`.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::OpenBao => "openbao",
            SourceKind::Vault => "vault",
        }
    }

    /// Parses `openbao` or `vault`.
    pub fn parse(text: &str) -> Option<SourceKind> {
        match text {
            "openbao" => Some(SourceKind::OpenBao),
            "vault" => Some(SourceKind::Vault),
            _ => None,
        }
    }
}

/// A team's OpenBao or Vault server and the credential the agent reads
/// with. Its token is sealed like a value, is scrubbed like one, and no
/// placeholder can name it: sources live beside the secrets, not among
/// them ([`Vault::get`](crate::Vault::get) never returns one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// Its name (`SOURCE` in `--from SOURCE:PATH#FIELD`).
    pub name: String,
    /// OpenBao or Vault.
    pub kind: SourceKind,
    /// The server's address (`https://bao.example.com:8200`).
    pub url: String,
    /// The Vault Enterprise / OpenBao namespace, if any.
    pub namespace: Option<String>,
    /// Extra root certificates (PEM) trusted for this server only, read
    /// when the source was added (a path could be rewritten later).
    pub ca_pem: Option<String>,
    /// The token the agent reads with; with AppRole, the secret id it
    /// logs in with.
    pub token: SecretValue,
    /// The AppRole role id, when the agent logs in with AppRole (then
    /// `token` is the secret id).
    pub approle_role_id: Option<String>,
    /// When it was added (Unix seconds).
    pub created: i64,
}

/// How a secret's value reaches the command that uses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// The command holds a worthless surrogate; the agent's egress proxy
    /// puts the value on the TLS connection to an allowed host.
    Proxy,
    /// The value enters the environment or arguments of the one program
    /// it flows into.
    Env,
}

impl Delivery {
    /// `proxy` or `env`.
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Proxy => "proxy",
            Delivery::Env => "env",
        }
    }

    /// Parses `proxy` or `env`.
    pub fn parse(text: &str) -> Option<Delivery> {
        match text {
            "proxy" => Some(Delivery::Proxy),
            "env" => Some(Delivery::Env),
            _ => None,
        }
    }
}

impl Metadata {
    /// The delivery in effect: the one set, else `proxy` for a secret
    /// with allowed hosts (the proxy can only deliver to hosts it knows)
    /// and `env` for one without.
    pub fn delivery(&self) -> Delivery {
        self.deliver.unwrap_or(if self.allow_hosts.is_empty() {
            Delivery::Env
        } else {
            Delivery::Proxy
        })
    }
}

/// A value replaced by a rotation, kept so that it is still scrubbed from
/// output (an old token lingers in logs and caches).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Superseded {
    /// The old value.
    pub value: SecretValue,
    /// When it was replaced (Unix seconds).
    pub superseded_at: i64,
}

/// One secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Secret {
    /// Its name (a valid environment variable name).
    pub name: String,
    /// The current value.
    pub value: SecretValue,
    /// Its metadata.
    pub meta: Metadata,
    /// Values it had before, newest first.
    pub superseded: Vec<Superseded>,
}

/// Field tags of the record encoding.
mod tag {
    pub(super) const NAME: u8 = 1;
    pub(super) const VALUE: u8 = 2;
    pub(super) const CREATED: u8 = 3;
    pub(super) const ROTATED: u8 = 4;
    pub(super) const TAG: u8 = 5;
    pub(super) const ALLOW_HOST: u8 = 6;
    pub(super) const ALLOW_PROGRAM: u8 = 7;
    pub(super) const ALLOW_REVEALING: u8 = 8;
    pub(super) const EXPIRES: u8 = 9;
    pub(super) const PROJECT: u8 = 10;
    pub(super) const SUPERSEDED: u8 = 11;
    pub(super) const SUPERSEDED_AT: u8 = 12;
    pub(super) const ALLOW_OUTPUT_FILES: u8 = 13;
    pub(super) const DELIVER: u8 = 14;
    pub(super) const ALLOW_IN_BODY: u8 = 15;
    /// A secret's [`Remote`](super::Remote): nested fields `REMOTE_*`.
    pub(super) const REMOTE: u8 = 16;
    /// Marks a record as a [`Source`](super::Source), not a secret; the
    /// token is its `VALUE`, the rest nested fields `SOURCE_*`.
    pub(super) const SOURCE: u8 = 17;

    pub(super) const REMOTE_SOURCE: u8 = 1;
    pub(super) const REMOTE_PATH: u8 = 2;
    pub(super) const REMOTE_FIELD: u8 = 3;
    pub(super) const REMOTE_TTL: u8 = 4;

    pub(super) const SOURCE_KIND: u8 = 1;
    pub(super) const SOURCE_URL: u8 = 2;
    pub(super) const SOURCE_NAMESPACE: u8 = 3;
    pub(super) const SOURCE_CA: u8 = 4;
    pub(super) const SOURCE_APPROLE: u8 = 5;
}

/// The encoding of a record is malformed (only possible if the sealed data
/// was produced by a buggy or hostile writer that had the key).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct DecodeError(pub(crate) &'static str);

fn put(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    out.push(tag);
    out.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(bytes);
}

impl Secret {
    /// Encodes the record; the result holds the value, so callers keep it
    /// in a zeroizing buffer.
    pub(crate) fn encode(&self, out: &mut zeroize::Zeroizing<Vec<u8>>) {
        put(out, tag::NAME, self.name.as_bytes());
        put(out, tag::VALUE, self.value.expose());
        let m = &self.meta;
        put(out, tag::CREATED, &m.created.to_le_bytes());
        if let Some(r) = m.rotated {
            put(out, tag::ROTATED, &r.to_le_bytes());
        }
        for (t, list) in [
            (tag::TAG, &m.tags),
            (tag::ALLOW_HOST, &m.allow_hosts),
            (tag::ALLOW_PROGRAM, &m.allow_programs),
            (tag::ALLOW_REVEALING, &m.allow_revealing),
        ] {
            for item in list {
                put(out, t, item.as_bytes());
            }
        }
        if let Some(e) = m.expires {
            put(out, tag::EXPIRES, &e.to_le_bytes());
        }
        if let Some(p) = &m.project {
            put(out, tag::PROJECT, p.as_bytes());
        }
        if m.allow_output_files {
            put(out, tag::ALLOW_OUTPUT_FILES, &[]);
        }
        if let Some(d) = m.deliver {
            put(out, tag::DELIVER, d.as_str().as_bytes());
        }
        if m.allow_in_body {
            put(out, tag::ALLOW_IN_BODY, &[]);
        }
        if let Some(r) = &m.remote {
            let mut inner = Vec::new();
            put(&mut inner, tag::REMOTE_SOURCE, r.source.as_bytes());
            put(&mut inner, tag::REMOTE_PATH, r.path.as_bytes());
            put(&mut inner, tag::REMOTE_FIELD, r.field.as_bytes());
            put(&mut inner, tag::REMOTE_TTL, &r.ttl_secs.to_le_bytes());
            put(out, tag::REMOTE, &inner);
        }
        for s in &self.superseded {
            let mut inner = zeroize::Zeroizing::new(Vec::new());
            put(&mut inner, tag::VALUE, s.value.expose());
            put(
                &mut inner,
                tag::SUPERSEDED_AT,
                &s.superseded_at.to_le_bytes(),
            );
            put(out, tag::SUPERSEDED, &inner);
        }
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Secret, DecodeError> {
        let mut name = None;
        let mut value = None;
        let mut meta = Metadata::default();
        let mut created = None;
        let mut superseded = Vec::new();
        for field in Fields(bytes) {
            let (t, b) = field?;
            match t {
                tag::NAME => name = Some(text(b)?),
                tag::VALUE => value = Some(SecretValue::new(b.to_vec())),
                tag::CREATED => created = Some(int(b)?),
                tag::ROTATED => meta.rotated = Some(int(b)?),
                tag::TAG => meta.tags.push(text(b)?),
                tag::ALLOW_HOST => meta.allow_hosts.push(text(b)?),
                tag::ALLOW_PROGRAM => meta.allow_programs.push(text(b)?),
                tag::ALLOW_REVEALING => meta.allow_revealing.push(text(b)?),
                tag::EXPIRES => meta.expires = Some(int(b)?),
                tag::PROJECT => meta.project = Some(text(b)?),
                tag::ALLOW_OUTPUT_FILES => meta.allow_output_files = true,
                tag::DELIVER => {
                    meta.deliver =
                        Some(Delivery::parse(&text(b)?).ok_or(DecodeError("unknown delivery"))?);
                }
                tag::ALLOW_IN_BODY => meta.allow_in_body = true,
                tag::REMOTE => meta.remote = Some(remote(b)?),
                tag::SUPERSEDED => {
                    let mut v = None;
                    let mut at = None;
                    for f in Fields(b) {
                        match f? {
                            (tag::VALUE, vb) => v = Some(SecretValue::new(vb.to_vec())),
                            (tag::SUPERSEDED_AT, ab) => at = Some(int(ab)?),
                            _ => return Err(DecodeError("unknown field in a superseded value")),
                        }
                    }
                    superseded.push(Superseded {
                        value: v.ok_or(DecodeError("superseded value without bytes"))?,
                        superseded_at: at.ok_or(DecodeError("superseded value without a date"))?,
                    });
                }
                _ => return Err(DecodeError("unknown record field")),
            }
        }
        meta.created = created.ok_or(DecodeError("record without a creation time"))?;
        Ok(Secret {
            name: name.ok_or(DecodeError("record without a name"))?,
            value: value.ok_or(DecodeError("record without a value"))?,
            meta,
            superseded,
        })
    }
}

fn remote(bytes: &[u8]) -> Result<Remote, DecodeError> {
    let mut r = Remote::default();
    let mut ttl = None;
    for f in Fields(bytes) {
        match f? {
            (tag::REMOTE_SOURCE, b) => r.source = text(b)?,
            (tag::REMOTE_PATH, b) => r.path = text(b)?,
            (tag::REMOTE_FIELD, b) => r.field = text(b)?,
            (tag::REMOTE_TTL, b) => ttl = Some(u64::from_le_bytes(int(b)?.to_le_bytes())),
            _ => return Err(DecodeError("unknown field in a remote value")),
        }
    }
    r.ttl_secs = ttl.ok_or(DecodeError("remote value without a ttl"))?;
    if r.source.is_empty() || r.path.is_empty() || r.field.is_empty() {
        return Err(DecodeError("remote value without a source, path or field"));
    }
    Ok(r)
}

/// Whether a sealed record is a [`Source`] rather than a secret.
pub(crate) fn is_source(bytes: &[u8]) -> Result<bool, DecodeError> {
    for f in Fields(bytes) {
        if f?.0 == tag::SOURCE {
            return Ok(true);
        }
    }
    Ok(false)
}

impl Source {
    /// Encodes the record; it holds the token, so callers keep it in a
    /// zeroizing buffer.
    pub(crate) fn encode(&self, out: &mut zeroize::Zeroizing<Vec<u8>>) {
        let mut inner = Vec::new();
        put(&mut inner, tag::SOURCE_KIND, self.kind.as_str().as_bytes());
        put(&mut inner, tag::SOURCE_URL, self.url.as_bytes());
        if let Some(n) = &self.namespace {
            put(&mut inner, tag::SOURCE_NAMESPACE, n.as_bytes());
        }
        if let Some(c) = &self.ca_pem {
            put(&mut inner, tag::SOURCE_CA, c.as_bytes());
        }
        if let Some(r) = &self.approle_role_id {
            put(&mut inner, tag::SOURCE_APPROLE, r.as_bytes());
        }
        put(out, tag::SOURCE, &inner);
        put(out, tag::NAME, self.name.as_bytes());
        put(out, tag::VALUE, self.token.expose());
        put(out, tag::CREATED, &self.created.to_le_bytes());
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Source, DecodeError> {
        let (mut name, mut token, mut created) = (None, None, None);
        let (mut kind, mut url, mut namespace, mut ca_pem) = (None, None, None, None);
        let mut approle_role_id = None;
        for field in Fields(bytes) {
            match field? {
                (tag::SOURCE, inner) => {
                    for f in Fields(inner) {
                        match f? {
                            (tag::SOURCE_KIND, b) => {
                                kind = Some(
                                    SourceKind::parse(&text(b)?)
                                        .ok_or(DecodeError("unknown source kind"))?,
                                );
                            }
                            (tag::SOURCE_URL, b) => url = Some(text(b)?),
                            (tag::SOURCE_NAMESPACE, b) => namespace = Some(text(b)?),
                            (tag::SOURCE_CA, b) => ca_pem = Some(text(b)?),
                            (tag::SOURCE_APPROLE, b) => approle_role_id = Some(text(b)?),
                            _ => return Err(DecodeError("unknown field in a source")),
                        }
                    }
                }
                (tag::NAME, b) => name = Some(text(b)?),
                (tag::VALUE, b) => token = Some(SecretValue::new(b.to_vec())),
                (tag::CREATED, b) => created = Some(int(b)?),
                _ => return Err(DecodeError("unknown source record field")),
            }
        }
        Ok(Source {
            name: name.ok_or(DecodeError("source without a name"))?,
            kind: kind.ok_or(DecodeError("source without a kind"))?,
            url: url.ok_or(DecodeError("source without a url"))?,
            namespace,
            ca_pem,
            token: token.ok_or(DecodeError("source without a token"))?,
            approle_role_id,
            created: created.ok_or(DecodeError("source without a creation time"))?,
        })
    }
}

fn text(b: &[u8]) -> Result<String, DecodeError> {
    String::from_utf8(b.to_vec()).map_err(|_| DecodeError("a text field is not UTF-8"))
}

fn int(b: &[u8]) -> Result<i64, DecodeError> {
    let a: [u8; 8] = b
        .try_into()
        .map_err(|_| DecodeError("a time field is not 8 bytes"))?;
    Ok(i64::from_le_bytes(a))
}

struct Fields<'a>(&'a [u8]);

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u8, &'a [u8]), DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (&t, rest) = self.0.split_first()?;
        let Some((len, rest)) = rest.split_first_chunk::<4>() else {
            self.0 = &[];
            return Some(Err(DecodeError("truncated field header")));
        };
        let len = u32::from_le_bytes(*len) as usize;
        if len > rest.len() {
            self.0 = &[];
            return Some(Err(DecodeError("field longer than its record")));
        }
        let (b, rest) = rest.split_at(len);
        self.0 = rest;
        Some(Ok((t, b)))
    }
}
