//! Facts about the project a command runs in: its root (where
//! `.claulock.toml` narrows the vault's rules) and its git remotes (so
//! that `git push origin` can be checked against a host allowlist).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The project policy file, looked for from the working directory up.
pub const POLICY_FILE: &str = ".claulock.toml";

/// The nearest ancestor of `cwd` holding a `.claulock.toml` or a `.git`.
pub fn root(cwd: &Path) -> Option<PathBuf> {
    cwd.ancestors()
        .find(|d| d.join(POLICY_FILE).is_file() || d.join(".git").exists())
        .map(Path::to_path_buf)
}

/// The URLs of `cwd`'s git remotes, by name. No git, no remotes.
pub fn git_remotes(cwd: &Path) -> BTreeMap<String, String> {
    let output = std::process::Command::new("git")
        .args(["config", "--get-regexp", r"^remote\..*\.url$"])
        .current_dir(cwd)
        .stderr(std::process::Stdio::null())
        .output();
    let Ok(output) = output else {
        return BTreeMap::new();
    };
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let (key, url) = line.split_once(' ')?;
            let name = key.strip_prefix("remote.")?.strip_suffix(".url")?;
            Some((name.to_owned(), url.to_owned()))
        })
        .collect()
}
