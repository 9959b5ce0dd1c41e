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
