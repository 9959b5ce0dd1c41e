//! Replacing a user's file whole: a new file beside it, written, given its
//! mode (and owner), synced, and renamed over the old one, so the file is
//! the old one or the new one, never a mix; no temporary file is left,
//! whatever fails. `import` uses it for the files it takes values out of,
//! `install` for Claude Code's settings.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::Context;

/// Replaces `path` with `bytes`, mode `mode`, and owner `owner` (uid, gid)
/// when given; the directory is synced after the rename.
///
/// # Errors
///
/// When any step fails; the old file is then still in place.
pub(crate) fn replace(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    owner: Option<(u32, u32)>,
) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().context("a file has a name")?;
    let tmp = dir.join(format!(".{}.claulock-tmp", name.to_string_lossy()));
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write beside {}", path.display()))?;
    let result = (|| -> anyhow::Result<()> {
        f.write_all(bytes)?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::fchown(&f, Some(uid), Some(gid))
                .context("cannot keep the file's owner")?;
        }
        f.set_permissions(std::fs::Permissions::from_mode(mode & 0o7777))?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot replace {}", path.display()))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
