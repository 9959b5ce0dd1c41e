//! Redacting every form of every vault value from files in place: the
//! agent's side of `claulock sweep` and of the hooks' transcript sweeps.
//!
//! Claude Code writes some things before any hook can stop them (a pasted
//! prompt goes to the transcript as a `queue-operation` record even when
//! UserPromptSubmit blocks it), and transcripts written before ClauLock was
//! installed hold whatever they held. The sweep runs in the agent, which
//! holds the values.
//!
//! Each file is rewritten atomically (a temporary file beside it, fsync,
//! rename), keeping its mode. JSON-lines files keep their structure: a line
//! is redacted as bytes (a value inside a JSON string is replaced by a
//! marker, which is JSON-safe); should a redaction ever break a line's
//! JSON, that line is instead parsed, every string in it scrubbed, and
//! written back. If Claude Code appends to the file while it is being
//! swept, the sweep starts that file again.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
use claulock_proto::{SweepReport, SweptFile};
use claulock_scrub::{Catch, Scrubber};
use zeroize::Zeroizing;

use crate::guard;

/// Files larger than this are left alone (and reported).
const MAX_FILE_BYTES: u64 = 256 << 20;
/// Under `~/.claude`, the files that hold text Claude Code wrote.
const TEXT_EXTENSIONS: &[&str] = &["jsonl", "json", "txt", "log", "md", "output"];

/// Sweeps every text file under `paths` (and every file named itself).
pub(crate) fn sweep(s: &Scrubber, paths: &[String]) -> SweepReport {
    let mut changed = Vec::new();
    let mut errors = Vec::new();
    let mut files = 0u64;
    let mut todo: Vec<(PathBuf, bool)> = paths.iter().map(|p| (PathBuf::from(p), true)).collect();
    while let Some((p, explicit)) = todo.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            let Ok(entries) = std::fs::read_dir(&p) else {
                continue;
            };
            todo.extend(entries.flatten().map(|e| (e.path(), false)));
            continue;
        }
        let texty = p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| TEXT_EXTENSIONS.contains(&e))
            || p.components().any(|c| c.as_os_str() == "debug");
        if !meta.is_file() || !(explicit || texty) {
            continue;
        }
        if meta.len() > MAX_FILE_BYTES {
            errors.push(format!("{}: larger than 256 MiB, not swept", p.display()));
            continue;
        }
        files += 1;
        match sweep_file(s, &p) {
            Ok(caught) => changed.extend(caught.into_iter().map(|c| SweptFile {
                file: p.display().to_string(),
                secret: c.secret,
                form: c.form.to_string(),
                count: c.count,
            })),
            Err(e) => errors.push(format!("{}: {e:#}", p.display())),
        }
    }
    SweepReport {
        changed,
        files,
        errors,
    }
}

/// Redacts one file in place; what it caught.
fn sweep_file(s: &Scrubber, path: &Path) -> anyhow::Result<Vec<Catch>> {
    for _attempt in 0..5 {
        let before = std::fs::metadata(path)?;
        let bytes = Zeroizing::new(std::fs::read(path)?);
        let (redacted, caught) = redact(s, &bytes);
        if caught.is_empty() {
            return Ok(caught);
        }
        let tmp = tmp_path(path);
        let written = write_tmp(&tmp, &redacted, before.permissions().mode());
        let now = std::fs::metadata(path)?;
        if written.is_err()
            || now.len() != before.len()
            || now.mtime_nsec() != before.mtime_nsec()
            || now.mtime() != before.mtime()
        {
            let _ = std::fs::remove_file(&tmp);
            written?;
            // Written to meanwhile (Claude Code appends): start again.
            continue;
        }
        std::fs::rename(&tmp, path)
            .with_context(|| format!("cannot replace {}", path.display()))?;
        if let Some(dir) = path.parent() {
            let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
        }
        return Ok(caught);
    }
    anyhow::bail!("the file kept changing while it was swept; run `claulock sweep` again")
}

fn tmp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.claulock-sweep.{}", std::process::id()))
}

fn write_tmp(tmp: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(tmp)
        .with_context(|| format!("cannot create {}", tmp.display()))?;
    f.set_permissions(std::fs::Permissions::from_mode(mode & 0o7777))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

/// Redacts a whole file's bytes, line by line, keeping each line that was
/// valid JSON valid.
pub(crate) fn redact(s: &Scrubber, bytes: &[u8]) -> (Vec<u8>, Vec<Catch>) {
    let (whole, caught) = guard::scrub(s, bytes);
    if caught.is_empty() {
        return (whole, caught);
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut total = Vec::new();
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        let (body, eol) = match line.strip_suffix(b"\n") {
            Some(b) => (b, &b"\n"[..]),
            None => (line, &b""[..]),
        };
        let (mut red, caught) = guard::scrub(s, body);
        let was_json = is_json(body);
        if !caught.is_empty() && was_json && !is_json(&red) {
            red = structural(s, body).unwrap_or(red);
        }
        guard::merge(&mut total, caught);
        out.extend_from_slice(&red);
        out.extend_from_slice(eol);
    }
    // A value split across lines (wrapped base64) is caught only whole.
    let (again, more) = guard::scrub(s, &out);
    guard::merge(&mut total, more);
    (again, total)
}

fn is_json(line: &[u8]) -> bool {
    !line.is_empty() && serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok()
}

/// A JSON line with every string in it scrubbed.
fn structural(s: &Scrubber, line: &[u8]) -> Option<Vec<u8>> {
    let value: serde_json::Value = serde_json::from_slice(line).ok()?;
    let mut redact_str = |text: &str| {
        let (out, caught) = guard::scrub(s, text.as_bytes());
        (!caught.is_empty()).then(|| String::from_utf8_lossy(&out).into_owned())
    };
    let scrubbed = claulock_scrub::json::scrub_strings(&value, &mut redact_str)?;
    serde_json::to_vec(&scrubbed).ok()
}
