//! The agent's work for the hooks: scrub text, scan files, with the whole
//! vault as the dictionary. It runs inside the agent, so the values never
//! leave it; the answers hold redacted text and names.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::source::SecretSource;
use claulock_scrub::{Catch, Scrubber};
use zeroize::Zeroizing;

/// Scan limits: a hook must answer in milliseconds, and a tree search over
/// a huge repository is left to the PostToolUse scrub.
const SCAN_MAX_FILES: usize = 5_000;
const SCAN_MAX_FILE_BYTES: u64 = 16 << 20;
const SCAN_BUDGET: Duration = Duration::from_millis(1_500);
/// Directories a code search never needs to look into.
const SKIP_DIRS: &[&str] = &[".git", "node_modules", "target", ".venv", "__pycache__"];

/// The scrubber for every value in the vault, superseded ones included,
/// and for `extra` strings (credential-shaped text from a blocked prompt,
/// named `UNSTORED_CREDENTIAL`); `None` when there is nothing to catch.
pub(crate) fn scrubber(
    source: &dyn SecretSource,
    extra: &[claulock_proto::SecretBytes],
) -> Result<Option<Scrubber>, String> {
    let mut b = Scrubber::builder();
    let mut any = false;
    source.each_value(&mut |name, value| {
        b.secret(name, value);
        any = true;
    });
    for e in extra {
        b.secret("UNSTORED_CREDENTIAL", e.expose());
        any = true;
    }
    if !any {
        return Ok(None);
    }
    b.build()
        .map(Some)
        .map_err(|e| format!("cannot build the scrubber: {e}"))
}

/// Scrubs `input`; returns the redacted bytes and what was caught.
pub(crate) fn scrub(s: &Scrubber, input: &[u8]) -> (Vec<u8>, Vec<Catch>) {
    let mut out = Vec::with_capacity(input.len());
    let mut stream = s.stream();
    stream.feed(input, &mut out);
    stream.finish(&mut out);
    (out, stream.stats())
}

/// Adds `more` into `total`, summing counts by (secret, form).
pub(crate) fn merge(total: &mut Vec<Catch>, more: Vec<Catch>) {
    for c in more {
        match total
            .iter_mut()
            .find(|t| t.secret == c.secret && t.form == c.form)
        {
            Some(t) => t.count += c.count,
            None => total.push(c),
        }
    }
}

/// Catches as the protocol carries them.
pub(crate) fn wire(caught: Vec<Catch>) -> Vec<claulock_proto::Caught> {
    caught
        .into_iter()
        .map(|c| claulock_proto::Caught {
            secret: c.secret,
            form: c.form.to_string(),
            count: c.count,
        })
        .collect()
}

/// The files under `paths` that hold a value, with the secrets they hold.
/// Stops early (returning what it found) past the scan limits.
pub(crate) fn scan(
    s: &Scrubber,
    paths: &[String],
    files_only: bool,
) -> BTreeMap<PathBuf, BTreeSet<String>> {
    let started = Instant::now();
    let mut found = BTreeMap::new();
    let mut files = 0usize;
    let mut todo: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
    while let Some(p) = todo.pop() {
        if files >= SCAN_MAX_FILES || started.elapsed() > SCAN_BUDGET {
            break;
        }
        let Ok(meta) = std::fs::metadata(&p) else {
            continue;
        };
        if meta.is_dir() && !files_only {
            let Ok(entries) = std::fs::read_dir(&p) else {
                continue;
            };
            for e in entries.flatten() {
                let skip = e
                    .file_name()
                    .to_str()
                    .is_some_and(|n| SKIP_DIRS.contains(&n));
                // Symbolic links are not followed into directories.
                let is_link = e.file_type().is_ok_and(|t| t.is_symlink());
                if !(skip || (is_link && e.path().is_dir())) {
                    todo.push(e.path());
                }
            }
        } else if meta.is_file() && meta.len() <= SCAN_MAX_FILE_BYTES {
            files += 1;
            let secrets = scan_file(s, &p);
            if !secrets.is_empty() {
                found.insert(p, secrets);
            }
        }
    }
    found
}

fn scan_file(s: &Scrubber, path: &Path) -> BTreeSet<String> {
    let Ok(mut f) = std::fs::File::open(path) else {
        return BTreeSet::new();
    };
    let mut stream = s.stream();
    let mut buf = Zeroizing::new(vec![0u8; 64 * 1024]);
    let mut out = Zeroizing::new(Vec::new());
    loop {
        match f.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                out.clear();
                stream.feed(&buf[..n], &mut out);
            }
        }
    }
    out.clear();
    stream.finish(&mut out);
    stream.stats().into_iter().map(|c| c.secret).collect()
}
