//! The ClauLock vault file: secrets and their metadata, encrypted at rest.
//!
//! # claulock-vault performs no IO
//!
//! Bytes in, bytes out: [`Vault::open`] takes the file's bytes,
//! [`Vault::to_bytes`] returns new ones. Randomness is an argument
//! ([`Random`]) and so is time. Reading, locking and atomically replacing
//! the file is the caller's job (the `claulock` CLI does it).
//!
//! # The file shows nothing but its size and KDF parameters
//!
//! A passphrase derives a key-encryption key with Argon2id; that key unwraps
//! a random data key; the data key seals the record list (whose associated
//! data is the header exactly as read) and, inside it, each record again,
//! bound to the vault id and its own record id so that no record can be
//! moved under another name. Names, tags and allowlists are inside.
//! Changing the passphrase rewraps one key.
//!
//! # Hostile files
//!
//! KDF parameters read from a file are checked against [`KdfParams::MAX`]
//! before Argon2 runs. A wrong passphrase and a modified file give the same
//! error, with no detail. An unknown format version is its own error.
//!
//! # Values are never printed
//!
//! [`SecretValue`] zeroizes on drop and its `Debug` shows nothing; no type
//! here implements `Serialize`.
//!
//! # Example
//!
//! ```
//! use claulock_vault::{KdfParams, Metadata, Random, Secret, SecretValue, Vault};
//!
//! struct Os; // in real use: the OS generator
//! impl Random for Os {
//!     fn fill(&mut self, buf: &mut [u8]) {
//!         for (i, b) in buf.iter_mut().enumerate() { *b = i as u8 ^ 0x5a; } // demo only
//!     }
//! }
//!
//! let mut v = Vault::create(b"correct horse", KdfParams::MIN, &mut Os).unwrap();
//! v.insert(Secret {
//!     name: "GITHUB_TOKEN".into(),
//!     value: SecretValue::new(b"ghp_example".to_vec()),
//!     meta: Metadata { created: 1_764_000_000, ..Metadata::default() },
//!     superseded: vec![],
//! }, &mut Os).unwrap();
//! let bytes = v.to_bytes(&mut Os);
//! assert!(!bytes.windows(12).any(|w| w == b"GITHUB_TOKEN"));
//!
//! let v = Vault::open(&bytes, b"correct horse").unwrap();
//! assert_eq!(v.get("GITHUB_TOKEN").unwrap().value.expose(), b"ghp_example");
//! assert!(Vault::open(&bytes, b"wrong").is_err());
//! ```

#![forbid(unsafe_code)]

mod record;
mod vault;

pub use record::{Delivery, Metadata, Remote, Secret, SecretValue, Source, SourceKind, Superseded};
pub use vault::{KdfParams, MAGIC, OpenError, Random, Stage, Vault, VaultError};

#[doc(hidden)]
pub mod fuzzing {
    //! The fuzz target's logic. Not a public API.

    /// Opening any bytes never panics. Argon2 runs only for the cheapest
    /// parameters, so that each input costs milliseconds.
    pub fn open(data: &[u8]) {
        match crate::Vault::peek_kdf(data) {
            Ok(k) if k == crate::KdfParams::MIN => {
                let _ = crate::Vault::open(data, b"fuzz");
            }
            _ => {}
        }
    }
}
