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

/// The scrubber for every value of `sources` (the vault's, superseded ones
/// included, its sources' tokens, and every value read from a source),
/// and for `extra` strings (credential-shaped text from a blocked prompt,
/// named `UNSTORED_CREDENTIAL`); `None` when there is nothing to catch.
pub(crate) fn scrubber(
    sources: &[&dyn SecretSource],
    extra: &[claulock_proto::SecretBytes],
) -> Result<Option<Scrubber>, String> {
    let mut b = Scrubber::builder();
    let mut any = false;
    for source in sources {
        source.each_value(&mut |name, value| {
            b.secret(name, value);
            any = true;
        });
    }
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

/// What a scan found: the files that hold a value, and the paths it could
/// not read to the end.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// Each file that holds a value, with the secrets it holds.
    pub found: BTreeMap<PathBuf, BTreeSet<String>>,
    /// Each path not scanned to the end, and why.
    pub unscanned: Vec<(PathBuf, String)>,
}

/// The files under `paths` that hold a value, with the secrets they hold,
/// and the paths it skipped: a file larger than [`SCAN_MAX_FILE_BYTES`], one
/// that cannot be read, and everything left when the limits ran out. A
/// path that does not exist, a directory with `files_only`, and special
/// files (a FIFO would block) are neither.
pub(crate) fn scan(s: &Scrubber, paths: &[String], files_only: bool) -> Scan {
    let started = Instant::now();
    let mut scan = Scan::default();
    let mut files = 0usize;
    let mut todo: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
    while let Some(p) = todo.pop() {
        if files >= SCAN_MAX_FILES || started.elapsed() > SCAN_BUDGET {
            let why = format!(
                "the scan stopped at its limits ({SCAN_MAX_FILES} files, {} s)",
                SCAN_BUDGET.as_secs_f32()
            );
            scan.unscanned.push((p, why.clone()));
            scan.unscanned.extend(
                std::mem::take(&mut todo)
                    .into_iter()
                    .map(|p| (p, why.clone())),
            );
            break;
        }
        let meta = match std::fs::metadata(&p) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                scan.unscanned
                    .push((p, format!("cannot be read ({})", e.kind())));
                continue;
            }
        };
        if meta.is_dir() && !files_only {
            let entries = match std::fs::read_dir(&p) {
                Ok(e) => e,
                Err(e) => {
                    scan.unscanned
                        .push((p, format!("cannot be listed ({})", e.kind())));
                    continue;
                }
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
        } else if meta.is_file() {
            if meta.len() > SCAN_MAX_FILE_BYTES {
                let why = format!("it is larger than {} MiB", SCAN_MAX_FILE_BYTES >> 20);
                scan.unscanned.push((p, why));
                continue;
            }
            files += 1;
            let (secrets, error) = scan_file(s, &p);
            if let Some(e) = error {
                scan.unscanned
                    .push((p.clone(), format!("cannot be read ({e})")));
            }
            if !secrets.is_empty() {
                scan.found.insert(p, secrets);
            }
        }
    }
    scan
}

/// The secrets `path` holds, and the error that stopped its reading.
fn scan_file(s: &Scrubber, path: &Path) -> (BTreeSet<String>, Option<std::io::ErrorKind>) {
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => return (BTreeSet::new(), Some(e.kind())),
    };
    let mut stream = s.stream();
    let mut buf = Zeroizing::new(vec![0u8; 64 * 1024]);
    let mut out = Zeroizing::new(Vec::new());
    let mut error = None;
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                error = Some(e.kind());
                break;
            }
            Ok(n) => {
                out.clear();
                stream.feed(&buf[..n], &mut out);
            }
        }
    }
    out.clear();
    stream.finish(&mut out);
    (
        stream.stats().into_iter().map(|c| c.secret).collect(),
        error,
    )
}
