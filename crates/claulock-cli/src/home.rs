//! Where ClauLock keeps its files: `CLAULOCK_HOME` (default `~/.claulock`),
//! a directory only its owner can enter.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// The paths of one ClauLock home.
pub(crate) struct Home {
    pub dir: PathBuf,
    pub vault: PathBuf,
    pub backup: PathBuf,
    pub lock: PathBuf,
    pub audit: PathBuf,
    pub socket: PathBuf,
}

impl Home {
    /// Resolves the home from the environment (the only place the CLI reads
    /// configuration from it: paths, never secrets).
    pub(crate) fn from_env() -> anyhow::Result<Home> {
        let dir = match std::env::var_os("CLAULOCK_HOME") {
            Some(d) if !d.is_empty() => PathBuf::from(d),
            _ => {
                let home =
                    std::env::var_os("HOME").context("neither CLAULOCK_HOME nor HOME is set")?;
                Path::new(&home).join(".claulock")
            }
        };
        let socket = match std::env::var_os("CLAULOCK_SOCKET") {
            Some(s) if !s.is_empty() => PathBuf::from(s),
            _ => dir.join("agent.sock"),
        };
        Ok(Home {
            vault: dir.join("vault.clv"),
            backup: dir.join("vault.clv.bak"),
            lock: dir.join("vault.lock"),
            audit: dir.join("audit.log"),
            socket,
            dir,
        })
    }

    /// Creates the directory (mode 0700) or checks that an existing one is
    /// closed to other users.
    pub(crate) fn ensure_dir(&self) -> anyhow::Result<()> {
        if !self.dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&self.dir)
                .with_context(|| format!("cannot create {}", self.dir.display()))?;
        }
        let mode = std::fs::metadata(&self.dir)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            bail!(
                "{} is open to other users (mode {mode:o}); run `chmod 700 {}`",
                self.dir.display(),
                self.dir.display()
            );
        }
        Ok(())
    }
}
