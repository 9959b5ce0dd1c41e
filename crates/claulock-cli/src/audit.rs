//! The audit log: one line per event, append-only, hash-chained.
//!
//! `<RFC 3339 UTC> <action> <NAME or -> key=value… h=<32 hex>` where `h` is
//! BLAKE2s-256 (first 16 bytes) of the previous line's `h` and this line
//! without its `h=` field. Editing, inserting or deleting a line breaks the
//! chain from there on; `claulock audit --verify` recomputes it. Truncating
//! the log at its end cannot be detected from the log alone. Never a value.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use anyhow::Context;
use blake2::{Blake2s256, Digest};
use rustix::fs::{FlockOperation, flock};

use crate::home::Home;

const GENESIS: &str = "00000000000000000000000000000000";

fn chain(prev: &str, body: &str) -> String {
    let mut h = Blake2s256::new();
    h.update(prev.as_bytes());
    h.update(b"\n");
    h.update(body.as_bytes());
    h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Values of `key=value` fields must be single words.
fn clean(v: &str) -> String {
    v.chars()
        .map(|c| {
            if c.is_whitespace() || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// Appends one event. `fields` are names and metadata, never values.
pub(crate) fn append(
    home: &Home,
    action: &str,
    name: &str,
    fields: &[(&str, String)],
) -> anyhow::Result<()> {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .mode(0o600)
        .open(&home.audit)
        .with_context(|| format!("cannot open the audit log {}", home.audit.display()))?;
    flock(&f, FlockOperation::LockExclusive).context("cannot lock the audit log")?;
    let text = std::fs::read_to_string(&home.audit).unwrap_or_default();
    let prev = text
        .lines()
        .last()
        .and_then(|l| l.rsplit_once(" h="))
        .map_or(GENESIS.to_owned(), |(_, h)| h.to_owned());
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
    let mut body = format!(
        "{now} {action} {}",
        if name.is_empty() { "-" } else { name }
    );
    for (k, v) in fields {
        body.push_str(&format!(" {k}={}", clean(v)));
    }
    let line = format!("{body} h={}\n", chain(&prev, &body));
    f.write_all(line.as_bytes())?;
    f.sync_data()?;
    Ok(())
}

/// Checks the chain: `Ok(lines)` or the first broken line's number.
pub(crate) fn verify(text: &str) -> Result<usize, usize> {
    let mut prev = GENESIS.to_owned();
    let mut n = 0;
    for (i, line) in text.lines().enumerate() {
        let Some((body, h)) = line.rsplit_once(" h=") else {
            return Err(i + 1);
        };
        if chain(&prev, body) != h {
            return Err(i + 1);
        }
        prev = h.to_owned();
        n += 1;
    }
    Ok(n)
}
