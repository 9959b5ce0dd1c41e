//! The vault file: layout, keys, sealing.
//!
//! ```text
//! "CLAULOCK-VAULT 1\n"                       magic line and format version
//! header, 125 bytes:
//!   kdf        u8   (1 = Argon2id v1.3)
//!   m_kib      u32 LE, t u32 LE, p u32 LE
//!   salt       [16]
//!   vault_id   [16]
//!   kek_nonce  [24]
//!   wrapped    [48]  data key sealed under the passphrase key;
//!                    associated data: magic line .. vault_id
//!   body_nonce [24]
//! body: the record list sealed under the data key; associated data: the
//!   magic line and header exactly as read
//! ```
//!
//! The record list (inside the body): `count: u32`, then per record
//! `record_id [16], nonce [24], len u32, sealed record`, each record sealed
//! again under the data key with `vault_id || record_id` as associated data,
//! then zero padding to a multiple of 512 bytes. Names and metadata are
//! inside; the file shows only its size (to 512 bytes) and KDF parameters.
//!
//! The passphrase derives a key-encryption key (Argon2id); it unwraps a
//! random data key. Changing the passphrase rewraps only the data key.

use std::fmt;

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use claulock_core::grammar::is_valid_name;
use zeroize::Zeroizing;

use crate::record::{Secret, SecretValue, Source, Superseded};

/// The magic line, version included.
pub const MAGIC: &[u8] = b"CLAULOCK-VAULT 1\n";
const MAGIC_PREFIX: &[u8] = b"CLAULOCK-VAULT ";
const HEADER_LEN: usize = 1 + 12 + 16 + 16 + 24 + 48 + 24;
const PAD: usize = 512;
const MAX_RECORDS: usize = 100_000;

/// A source of cryptographically secure random bytes. The crate performs no
/// IO, so the caller supplies it (the OS generator in the CLI, a seeded one
/// to make test vectors).
pub trait Random {
    /// Fills `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

/// Argon2id cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory, in KiB.
    pub m_kib: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl KdfParams {
    /// The default cost: 192 MiB, 3 passes, 1 lane, which takes about 0.5
    /// to 0.8 s per unlock on the project's 2-core machines (measured with
    /// `cargo run --release -p claulock-vault --example kdf_cost 192 3`).
    pub const DEFAULT: KdfParams = KdfParams {
        m_kib: 192 * 1024,
        t: 3,
        p: 1,
    };
    /// The least cost a vault file may ask for.
    pub const MIN: KdfParams = KdfParams {
        m_kib: 8 * 1024,
        t: 1,
        p: 1,
    };
    /// The most a vault file may ask for: a file is hostile input, and the
    /// argon2 crate sets no limits of its own.
    pub const MAX: KdfParams = KdfParams {
        m_kib: 2 * 1024 * 1024,
        t: 64,
        p: 16,
    };

    fn in_bounds(&self) -> bool {
        (Self::MIN.m_kib..=Self::MAX.m_kib).contains(&self.m_kib)
            && (Self::MIN.t..=Self::MAX.t).contains(&self.t)
            && (Self::MIN.p..=Self::MAX.p).contains(&self.p)
            && self.m_kib >= 8 * self.p
    }
}

/// Why a vault could not be opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenError {
    kind: OpenErrorKind,
}

/// The stage at which opening failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stage {
    /// The magic line or the header (before any cryptography).
    Header,
    /// The KDF parameters are outside our bounds.
    KdfBounds,
    /// Decryption: the passphrase is wrong or the file was modified.
    Decryption,
    /// A record decrypted and authenticated (so the passphrase is right
    /// and the file is as a claulock wrote it) but holds what this one
    /// cannot read: a newer claulock wrote it.
    Records,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum OpenErrorKind {
    NotAVault,
    UnknownVersion(String),
    Truncated,
    UnknownKdf(u8),
    KdfBounds(KdfParams),
    Decryption,
    Unreadable(&'static str),
}

impl OpenError {
    /// Which stage failed.
    pub fn stage(&self) -> Stage {
        match self.kind {
            OpenErrorKind::NotAVault
            | OpenErrorKind::UnknownVersion(_)
            | OpenErrorKind::Truncated
            | OpenErrorKind::UnknownKdf(_) => Stage::Header,
            OpenErrorKind::KdfBounds(_) => Stage::KdfBounds,
            OpenErrorKind::Decryption => Stage::Decryption,
            OpenErrorKind::Unreadable(_) => Stage::Records,
        }
    }

    fn new(kind: OpenErrorKind) -> Self {
        OpenError { kind }
    }
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            OpenErrorKind::NotAVault => f.write_str("this file is not a claulock vault"),
            OpenErrorKind::UnknownVersion(v) => write!(
                f,
                "this vault has format version {v}, which this claulock does not know; upgrade claulock"
            ),
            OpenErrorKind::Truncated => f.write_str("the vault file is truncated"),
            OpenErrorKind::UnknownKdf(k) => {
                write!(f, "the vault names an unknown key derivation ({k})")
            }
            OpenErrorKind::KdfBounds(p) => write!(
                f,
                "the vault asks for key derivation costs outside the accepted bounds (m={} KiB, t={}, p={}); refusing to run them, as the file may be hostile",
                p.m_kib, p.t, p.p
            ),
            // One message for both: telling them apart would help an attacker.
            OpenErrorKind::Decryption => {
                f.write_str("cannot open the vault: wrong passphrase, or the file was modified")
            }
            // Only said once a record's seal verified: no help to someone
            // without the passphrase.
            OpenErrorKind::Unreadable(what) => write!(
                f,
                "the vault opened, but a record in it holds what this claulock cannot read ({what}): a newer claulock wrote it; upgrade claulock (the file is left as it is)"
            ),
        }
    }
}

impl std::error::Error for OpenError {}

/// A change the vault refuses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VaultError {
    /// A secret of that name exists already.
    Exists(String),
    /// No secret of that name.
    NotFound(String),
    /// The name is not a valid environment variable name.
    BadName(String),
    /// The secret changed while a change to it was being checked.
    Changed(String),
}

impl fmt::Display for VaultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VaultError::Exists(n) => write!(
                f,
                "a secret named {n} exists already; use `claulock rotate {n}` to change its value"
            ),
            VaultError::NotFound(n) => {
                write!(
                    f,
                    "there is no secret named {n}; `claulock list` shows the names"
                )
            }
            VaultError::Changed(n) => write!(
                f,
                "{n} changed while this change was being checked; nothing was changed, try again"
            ),
            VaultError::BadName(n) => write!(
                f,
                "{n:?} is not a valid secret name: start with a letter or `_`, then letters, digits and `_`, at most 128 bytes"
            ),
        }
    }
}

impl std::error::Error for VaultError {}

/// An unlocked vault. A clone is a second copy of its key and values in
/// memory (the agent keeps one only while a change is being written, to
/// put it back if the write fails).
#[derive(Clone)]
pub struct Vault {
    kdf: KdfParams,
    salt: [u8; 16],
    vault_id: [u8; 16],
    kek_nonce: [u8; 24],
    wrapped: [u8; 48],
    dek: Zeroizing<[u8; 32]>,
    secrets: Vec<(Secret, [u8; 16])>,
    /// Kept apart from the secrets, so that nothing that looks a secret up
    /// by name (a placeholder) can reach a source's token.
    sources: Vec<(Source, [u8; 16])>,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault")
            .field("kdf", &self.kdf)
            .field("secrets", &self.secrets.len())
            .field("sources", &self.sources.len())
            .finish_non_exhaustive()
    }
}

fn derive_kek(
    passphrase: &[u8],
    salt: &[u8; 16],
    kdf: KdfParams,
) -> Result<Zeroizing<[u8; 32]>, OpenError> {
    let params = Params::new(kdf.m_kib, kdf.t, kdf.p, Some(32))
        .map_err(|_| OpenError::new(OpenErrorKind::KdfBounds(kdf)))?;
    let mut kek = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase, salt, kek.as_mut())
        .map_err(|_| OpenError::new(OpenErrorKind::Decryption))?;
    Ok(kek)
}

fn seal(key: &[u8; 32], nonce: &[u8; 24], aad: &[u8], msg: &[u8]) -> Vec<u8> {
    let cipher = XChaCha20Poly1305::new(Key::from_slice(key));
    // Encryption with a valid key and nonce cannot fail for in-memory sizes.
    cipher
        .encrypt(XNonce::from_slice(nonce), Payload { msg, aad })
        .unwrap_or_default()
}

fn open(
    key: &[u8; 32],
    nonce: &[u8],
    aad: &[u8],
    ct: &[u8],
) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    let cipher = XChaCha20Poly1305::new(Key::from_slice(key));
    cipher
        .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad })
        .map(Zeroizing::new)
        .map_err(|_| OpenError::new(OpenErrorKind::Decryption))
}

impl Vault {
    /// A new, empty vault protected by `passphrase`.
    ///
    /// # Errors
    ///
    /// KDF parameters outside [`KdfParams::MIN`]..[`KdfParams::MAX`].
    pub fn create(
        passphrase: &[u8],
        kdf: KdfParams,
        rng: &mut dyn Random,
    ) -> Result<Vault, OpenError> {
        if !kdf.in_bounds() {
            return Err(OpenError::new(OpenErrorKind::KdfBounds(kdf)));
        }
        let mut v = Vault {
            kdf,
            salt: [0; 16],
            vault_id: [0; 16],
            kek_nonce: [0; 24],
            wrapped: [0; 48],
            dek: Zeroizing::new([0; 32]),
            secrets: Vec::new(),
            sources: Vec::new(),
        };
        rng.fill(&mut v.vault_id);
        rng.fill(v.dek.as_mut());
        v.wrap(passphrase, kdf, rng)?;
        Ok(v)
    }

    /// Seals the data key under a key derived from `passphrase`.
    fn wrap(
        &mut self,
        passphrase: &[u8],
        kdf: KdfParams,
        rng: &mut dyn Random,
    ) -> Result<(), OpenError> {
        rng.fill(&mut self.salt);
        rng.fill(&mut self.kek_nonce);
        self.kdf = kdf;
        let kek = derive_kek(passphrase, &self.salt, kdf)?;
        let aad = self.wrap_aad();
        let wrapped = seal(&kek, &self.kek_nonce, &aad, self.dek.as_ref());
        self.wrapped.copy_from_slice(&wrapped);
        Ok(())
    }

    /// The associated data of the wrapped key: everything before it.
    fn wrap_aad(&self) -> Vec<u8> {
        let mut h = MAGIC.to_vec();
        h.push(1);
        for n in [self.kdf.m_kib, self.kdf.t, self.kdf.p] {
            h.extend_from_slice(&n.to_le_bytes());
        }
        h.extend_from_slice(&self.salt);
        h.extend_from_slice(&self.vault_id);
        h
    }

    /// Changes the passphrase (and optionally the KDF cost): only the data
    /// key is rewrapped.
    ///
    /// # Errors
    ///
    /// KDF parameters out of bounds.
    pub fn change_passphrase(
        &mut self,
        new: &[u8],
        kdf: KdfParams,
        rng: &mut dyn Random,
    ) -> Result<(), OpenError> {
        if !kdf.in_bounds() {
            return Err(OpenError::new(OpenErrorKind::KdfBounds(kdf)));
        }
        self.wrap(new, kdf, rng)
    }

    /// Reads the KDF parameters of a vault file without the passphrase (to
    /// tell the user how long an unlock will take).
    ///
    /// # Errors
    ///
    /// As [`Vault::open`], header and bounds stages.
    pub fn peek_kdf(bytes: &[u8]) -> Result<KdfParams, OpenError> {
        Header::parse(bytes).map(|h| h.kdf)
    }

    /// Opens a vault file.
    ///
    /// # Errors
    ///
    /// A header error (not a vault, an unknown version, truncated), KDF
    /// parameters out of bounds (checked before Argon2 runs), or a
    /// decryption error that is the same for a wrong passphrase and a
    /// modified file.
    pub fn open(bytes: &[u8], passphrase: &[u8]) -> Result<Vault, OpenError> {
        let h = Header::parse(bytes)?;
        let kek = derive_kek(passphrase, &h.salt, h.kdf)?;
        let wrap_aad_len = MAGIC.len() + 1 + 12 + 16 + 16;
        let dek_bytes = open(&kek, &h.kek_nonce, &bytes[..wrap_aad_len], &h.wrapped)?;
        let mut dek = Zeroizing::new([0u8; 32]);
        if dek_bytes.len() != 32 {
            return Err(OpenError::new(OpenErrorKind::Decryption));
        }
        dek.copy_from_slice(&dek_bytes);
        let header_end = MAGIC.len() + HEADER_LEN;
        let body = open(
            &dek,
            &h.body_nonce,
            &bytes[..header_end],
            &bytes[header_end..],
        )?;
        let (secrets, sources) = Self::parse_records(&dek, &h.vault_id, &body).map_err(|e| {
            OpenError::new(match e {
                None => OpenErrorKind::Decryption,
                Some(what) => OpenErrorKind::Unreadable(what),
            })
        })?;
        Ok(Vault {
            kdf: h.kdf,
            salt: h.salt,
            vault_id: h.vault_id,
            kek_nonce: h.kek_nonce,
            wrapped: h.wrapped,
            dek,
            secrets,
            sources,
        })
    }

    /// The records of `body`. The error: `None` when the body is not as a
    /// claulock writes it (a seal that does not verify, a bad length);
    /// `Some(why)` when a record verified but cannot be decoded.
    fn parse_records(
        dek: &[u8; 32],
        vault_id: &[u8; 16],
        body: &[u8],
    ) -> Result<Records, Option<&'static str>> {
        let (count, mut rest) = body.split_first_chunk::<4>().ok_or(None)?;
        let count = u32::from_le_bytes(*count) as usize;
        if count > MAX_RECORDS {
            return Err(None);
        }
        let mut out = Vec::with_capacity(count);
        let mut sources = Vec::new();
        for _ in 0..count {
            let (id, r) = rest.split_first_chunk::<16>().ok_or(None)?;
            let (nonce, r) = r.split_first_chunk::<24>().ok_or(None)?;
            let (len, r) = r.split_first_chunk::<4>().ok_or(None)?;
            let len = u32::from_le_bytes(*len) as usize;
            if len > r.len() {
                return Err(None);
            }
            let (sealed, r) = r.split_at(len);
            rest = r;
            let mut aad = vault_id.to_vec();
            aad.extend_from_slice(id);
            let plain = open(dek, nonce, &aad, sealed).map_err(|_| None)?;
            let unreadable = |e: crate::record::DecodeError| Some(e.0);
            if crate::record::is_source(&plain).map_err(unreadable)? {
                sources.push((Source::decode(&plain).map_err(unreadable)?, *id));
            } else {
                out.push((Secret::decode(&plain).map_err(unreadable)?, *id));
            }
        }
        Ok((out, sources))
    }

    /// Serialises the vault with fresh nonces.
    pub fn to_bytes(&self, rng: &mut dyn Random) -> Vec<u8> {
        let mut list = Zeroizing::new(Vec::new());
        list.extend_from_slice(
            &u32::try_from(self.secrets.len() + self.sources.len())
                .unwrap_or(u32::MAX)
                .to_le_bytes(),
        );
        let records = self
            .secrets
            .iter()
            .map(|(s, id)| (Record::Secret(s), id))
            .chain(self.sources.iter().map(|(s, id)| (Record::Source(s), id)));
        for (record, id) in records {
            let mut plain = Zeroizing::new(Vec::new());
            match record {
                Record::Secret(s) => s.encode(&mut plain),
                Record::Source(s) => s.encode(&mut plain),
            }
            let mut nonce = [0u8; 24];
            rng.fill(&mut nonce);
            let mut aad = self.vault_id.to_vec();
            aad.extend_from_slice(id);
            let sealed = seal(&self.dek, &nonce, &aad, &plain);
            list.extend_from_slice(id);
            list.extend_from_slice(&nonce);
            list.extend_from_slice(
                &u32::try_from(sealed.len())
                    .unwrap_or(u32::MAX)
                    .to_le_bytes(),
            );
            list.extend_from_slice(&sealed);
        }
        let padded = list.len().div_ceil(PAD).max(1) * PAD;
        list.resize(padded, 0);

        let mut out = self.wrap_aad();
        out.extend_from_slice(&self.kek_nonce);
        out.extend_from_slice(&self.wrapped);
        let mut body_nonce = [0u8; 24];
        rng.fill(&mut body_nonce);
        out.extend_from_slice(&body_nonce);
        let body = seal(&self.dek, &body_nonce, &out, &list);
        out.extend_from_slice(&body);
        out
    }

    /// The KDF parameters in use.
    pub fn kdf(&self) -> KdfParams {
        self.kdf
    }

    /// The secrets, in the order they were added.
    pub fn secrets(&self) -> impl Iterator<Item = &Secret> {
        self.secrets.iter().map(|(s, _)| s)
    }

    /// One secret by name.
    pub fn get(&self, name: &str) -> Option<&Secret> {
        self.secrets().find(|s| s.name == name)
    }

    /// One secret by name, to change its metadata.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Secret> {
        self.secrets
            .iter_mut()
            .map(|(s, _)| s)
            .find(|s| s.name == name)
    }

    /// Adds a secret under a fresh random record id.
    ///
    /// # Errors
    ///
    /// An invalid or taken name.
    pub fn insert(&mut self, secret: Secret, rng: &mut dyn Random) -> Result<(), VaultError> {
        if !is_valid_name(&secret.name) {
            return Err(VaultError::BadName(secret.name));
        }
        if self.get(&secret.name).is_some() {
            return Err(VaultError::Exists(secret.name));
        }
        let mut id = [0u8; 16];
        rng.fill(&mut id);
        self.secrets.push((secret, id));
        Ok(())
    }

    /// Replaces a secret's value; the old one is kept as superseded (still
    /// scrubbed from output).
    ///
    /// # Errors
    ///
    /// No secret of that name.
    pub fn rotate(&mut self, name: &str, value: SecretValue, now: i64) -> Result<(), VaultError> {
        let s = self
            .get_mut(name)
            .ok_or_else(|| VaultError::NotFound(name.to_owned()))?;
        let old = std::mem::replace(&mut s.value, value);
        s.superseded.insert(
            0,
            Superseded {
                value: old,
                superseded_at: now,
            },
        );
        s.meta.rotated = Some(now);
        Ok(())
    }

    /// The sources, in the order they were added.
    pub fn sources(&self) -> impl Iterator<Item = &Source> {
        self.sources.iter().map(|(s, _)| s)
    }

    /// One source by name (sources and secrets have names of their own:
    /// [`Vault::get`] never finds a source).
    pub fn source(&self, name: &str) -> Option<&Source> {
        self.sources().find(|s| s.name == name)
    }

    /// Adds a source under a fresh random record id.
    ///
    /// # Errors
    ///
    /// An invalid or taken name.
    pub fn insert_source(
        &mut self,
        source: Source,
        rng: &mut dyn Random,
    ) -> Result<(), VaultError> {
        if !is_valid_name(&source.name) {
            return Err(VaultError::BadName(source.name));
        }
        if self.source(&source.name).is_some() {
            return Err(VaultError::Exists(source.name));
        }
        let mut id = [0u8; 16];
        rng.fill(&mut id);
        self.sources.push((source, id));
        Ok(())
    }

    /// Removes a source and its token.
    ///
    /// # Errors
    ///
    /// No source of that name.
    pub fn remove_source(&mut self, name: &str) -> Result<Source, VaultError> {
        let i = self
            .sources
            .iter()
            .position(|(s, _)| s.name == name)
            .ok_or_else(|| VaultError::NotFound(name.to_owned()))?;
        Ok(self.sources.remove(i).0)
    }

    /// Removes a secret and everything about it, superseded values included.
    ///
    /// # Errors
    ///
    /// No secret of that name.
    pub fn remove(&mut self, name: &str) -> Result<Secret, VaultError> {
        let i = self
            .secrets
            .iter()
            .position(|(s, _)| s.name == name)
            .ok_or_else(|| VaultError::NotFound(name.to_owned()))?;
        Ok(self.secrets.remove(i).0)
    }
}

/// The records of a vault body: secrets, and sources.
type Records = (Vec<(Secret, [u8; 16])>, Vec<(Source, [u8; 16])>);

/// A record to seal.
enum Record<'a> {
    Secret(&'a Secret),
    Source(&'a Source),
}

struct Header {
    kdf: KdfParams,
    salt: [u8; 16],
    vault_id: [u8; 16],
    kek_nonce: [u8; 24],
    wrapped: [u8; 48],
    body_nonce: [u8; 24],
}

impl Header {
    fn parse(bytes: &[u8]) -> Result<Header, OpenError> {
        let err = |k| OpenError::new(k);
        if !bytes.starts_with(MAGIC_PREFIX) {
            return Err(err(OpenErrorKind::NotAVault));
        }
        if !bytes.starts_with(MAGIC) {
            let line = bytes[MAGIC_PREFIX.len()..]
                .split(|&b| b == b'\n')
                .next()
                .unwrap_or_default();
            let v: String = String::from_utf8_lossy(line).chars().take(16).collect();
            return Err(err(OpenErrorKind::UnknownVersion(v)));
        }
        let h = bytes
            .get(MAGIC.len()..MAGIC.len() + HEADER_LEN)
            .ok_or(err(OpenErrorKind::Truncated))?;
        if h[0] != 1 {
            return Err(err(OpenErrorKind::UnknownKdf(h[0])));
        }
        let u32_at = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        let kdf = KdfParams {
            m_kib: u32_at(1),
            t: u32_at(5),
            p: u32_at(9),
        };
        if !kdf.in_bounds() {
            return Err(err(OpenErrorKind::KdfBounds(kdf)));
        }
        let mut r = Header {
            kdf,
            salt: [0; 16],
            vault_id: [0; 16],
            kek_nonce: [0; 24],
            wrapped: [0; 48],
            body_nonce: [0; 24],
        };
        let mut at = 13;
        for field in [
            &mut r.salt[..],
            &mut r.vault_id[..],
            &mut r.kek_nonce[..],
            &mut r.wrapped[..],
            &mut r.body_nonce[..],
        ] {
            field.copy_from_slice(&h[at..at + field.len()]);
            at += field.len();
        }
        // The body must hold at least a tag and one padded block.
        if bytes.len() < MAGIC.len() + HEADER_LEN + 16 {
            return Err(err(OpenErrorKind::Truncated));
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Metadata;

    /// Deterministic bytes (a 64-bit LCG, full period): tests only.
    struct Counter(u64);
    impl Random for Counter {
        fn fill(&mut self, buf: &mut [u8]) {
            for b in buf {
                self.0 = self
                    .0
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                *b = (self.0 >> 33) as u8;
            }
        }
    }

    #[test]
    fn a_record_cannot_move_under_another_id() {
        let mut rng = Counter(1);
        let mut v = Vault::create(b"pw", KdfParams::MIN, &mut rng).unwrap();
        for (name, value) in [("A", b"value-a-0123"), ("B", b"value-b-0123")] {
            let s = Secret {
                name: name.into(),
                value: SecretValue::new(value.to_vec()),
                meta: Metadata::default(),
                superseded: vec![],
            };
            v.insert(s, &mut rng).unwrap();
        }
        let ib = v.secrets[1].1;
        assert_ne!(v.secrets[0].1, ib);
        let good = v.to_bytes(&mut rng);
        assert!(Vault::open(&good, b"pw").is_ok());
        // Move record A's sealed bytes under B's id inside a validly sealed body.
        let header_end = MAGIC.len() + HEADER_LEN;
        let h = Header::parse(&good).unwrap();
        let body = open(
            &v.dek,
            &h.body_nonce,
            &good[..header_end],
            &good[header_end..],
        )
        .unwrap();
        let mut list = body.to_vec();
        // Record entries start at 4: id (16) follows; overwrite A's id with B's.
        list[4..20].copy_from_slice(&ib);
        let resealed = seal(&v.dek, &h.body_nonce, &good[..header_end], &list);
        let mut swapped = good[..header_end].to_vec();
        swapped.extend_from_slice(&resealed);
        let e = Vault::open(&swapped, b"pw").unwrap_err();
        assert_eq!(e.stage(), Stage::Decryption);
    }

    /// A record that a newer claulock wrote (a field this one does not
    /// know), sealed as it seals them: with the right passphrase it is
    /// reported as such, not as a wrong passphrase; with a wrong one,
    /// nothing more is said than for any other file.
    #[test]
    fn a_record_from_a_newer_claulock_says_so() {
        let mut rng = Counter(2);
        let mut v = Vault::create(b"pw", KdfParams::MIN, &mut rng).unwrap();
        let s = Secret {
            name: "A".into(),
            value: SecretValue::new(b"value-a-0123".to_vec()),
            meta: Metadata::default(),
            superseded: vec![],
        };
        v.insert(s, &mut rng).unwrap();
        let id = v.secrets[0].1;
        let good = v.to_bytes(&mut rng);
        let header_end = MAGIC.len() + HEADER_LEN;
        let h = Header::parse(&good).unwrap();
        // The body: count, then the one record (id, nonce, length, sealed).
        let mut plain = Zeroizing::new(Vec::new());
        v.secrets[0].0.encode(&mut plain);
        plain.extend_from_slice(&[250, 1, 0, 0, 0, b'x']);
        let nonce = [7u8; 24];
        let mut aad = v.vault_id.to_vec();
        aad.extend_from_slice(&id);
        let sealed = seal(&v.dek, &nonce, &aad, &plain);
        let mut list = 1u32.to_le_bytes().to_vec();
        list.extend_from_slice(&id);
        list.extend_from_slice(&nonce);
        list.extend_from_slice(&u32::try_from(sealed.len()).unwrap().to_le_bytes());
        list.extend_from_slice(&sealed);
        list.resize(list.len().div_ceil(PAD) * PAD, 0);
        let body = seal(&v.dek, &h.body_nonce, &good[..header_end], &list);
        let mut newer = good[..header_end].to_vec();
        newer.extend_from_slice(&body);
        let e = Vault::open(&newer, b"pw").unwrap_err();
        assert_eq!(e.stage(), Stage::Records);
        assert!(e.to_string().contains("upgrade claulock"), "{e}");
        let e = Vault::open(&newer, b"not it").unwrap_err();
        assert_eq!(e.stage(), Stage::Decryption);
    }
}
