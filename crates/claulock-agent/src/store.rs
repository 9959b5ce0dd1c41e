//! The vault file on disk: read, and replace atomically under a lock.
//!
//! A write goes to a temporary file (0600) that is fsynced and renamed over
//! the vault; the previous version stays as `vault.clv.bak` (a hard link
//! made before the rename), and the directory is fsynced. A crash at any
//! point leaves the old or the new vault, never a broken one.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use anyhow::Context;
use rustix::fs::{FlockOperation, flock};

use crate::home::Home;

/// An exclusive lock on the vault, held while it lives.
pub struct Lock(#[allow(dead_code)] File); // held for its drop, never read

/// Takes the vault's lock (waits for it).
///
/// # Errors
///
/// When the lock file cannot be opened or locked.
pub fn lock(home: &Home) -> anyhow::Result<Lock> {
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&home.lock)
        .with_context(|| format!("cannot open {}", home.lock.display()))?;
    flock(&f, FlockOperation::LockExclusive).context("cannot lock the vault")?;
    Ok(Lock(f))
}

/// The vault file's bytes.
///
/// # Errors
///
/// When there is no vault (saying to run `claulock init`), or it cannot be read.
pub fn read(home: &Home) -> anyhow::Result<Vec<u8>> {
    match std::fs::read(&home.vault) {
        Ok(b) => Ok(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => anyhow::bail!(
            "there is no vault at {}: run `claulock init` first",
            home.vault.display()
        ),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", home.vault.display())),
    }
}

/// Replaces the vault with `bytes`. The caller holds the lock.
///
/// # Errors
///
/// When any step fails; the old vault is then still in place.
pub fn write(home: &Home, bytes: &[u8], _lock: &Lock) -> anyhow::Result<()> {
    let tmp = home.dir.join("vault.clv.tmp");
    let written = (|| -> anyhow::Result<()> {
        let mut f = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        f.write_all(bytes)
            .and_then(|()| f.sync_all())
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        Ok(())
    })();
    if let Err(e) = written {
        // A full disk: leave nothing behind.
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    if home.vault.exists() {
        let _ = std::fs::remove_file(&home.backup);
        if let Err(e) = std::fs::hard_link(&home.vault, &home.backup) {
            let _ = std::fs::remove_file(&tmp);
            return Err(e).context("cannot keep the previous vault as a backup");
        }
    }
    if let Err(e) = std::fs::rename(&tmp, &home.vault) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).context("cannot replace the vault");
    }
    File::open(&home.dir)?.sync_all()?;
    Ok(())
}
