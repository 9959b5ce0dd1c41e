//! Where ClauLock keeps its files: `CLAULOCK_HOME` (default `~/.claulock`),
//! a directory only its owner can enter.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// The paths of one ClauLock home.
#[derive(Clone, Debug)]
pub struct Home {
    /// The directory (`CLAULOCK_HOME`).
    pub dir: PathBuf,
    /// The vault file.
    pub vault: PathBuf,
    /// The vault before its last change.
    pub backup: PathBuf,
    /// The lock file that serializes vault writes.
    pub lock: PathBuf,
    /// The audit log.
    pub audit: PathBuf,
    /// The agent's socket (`CLAULOCK_SOCKET`, or `agent.sock` inside).
    pub socket: PathBuf,
}

impl Home {
    /// Resolves the home from the environment (the only place ClauLock
    /// reads configuration from it: paths, never secrets).
    ///
    /// # Errors
    ///
    /// When neither `CLAULOCK_HOME` nor `HOME` is set.
    pub fn from_env() -> anyhow::Result<Home> {
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
            socket,
            ..Home::at(dir)
        })
    }

    /// The home in directory `dir`, its socket inside it.
    pub fn at(dir: impl Into<PathBuf>) -> Home {
        let dir = dir.into();
        Home {
            vault: dir.join("vault.clv"),
            backup: dir.join("vault.clv.bak"),
            lock: dir.join("vault.lock"),
            audit: dir.join("audit.log"),
            socket: dir.join("agent.sock"),
            dir,
        }
    }

    /// A client of the agent serving this home.
    pub fn client(&self) -> claulock_proto::Client {
        claulock_proto::Client::new(&self.socket, &self.vault)
    }

    /// Creates the directory (mode 0700) or checks that an existing one is
    /// closed to other users.
    ///
    /// # Errors
    ///
    /// When it cannot be created, or is open to other users.
    pub fn ensure_dir(&self) -> anyhow::Result<()> {
        if !self.dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&self.dir)
                .with_context(|| format!("cannot create {}", self.dir.display()))?;
        }
        let meta = std::fs::metadata(&self.dir)
            .with_context(|| format!("cannot read {}", self.dir.display()))?;
        if !meta.is_dir() {
            bail!(
                "{} is not a directory: CLAULOCK_HOME must name a directory (or a path to create one at)",
                self.dir.display()
            );
        }
        let mode = meta.permissions().mode() & 0o777;
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
