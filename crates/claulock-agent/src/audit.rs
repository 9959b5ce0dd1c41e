//! The audit log: one line per event, append-only, hash-chained.
//!
//! `<RFC 3339 UTC> <action> <NAME or -> key=value… h=<32 hex>` where `h` is
//! BLAKE2s-256 (first 16 bytes) of the previous line's `h` and this line
//! without its `h=` field. Editing, inserting or deleting a line breaks the
//! chain from there on; `claulock audit --verify` recomputes it. Truncating
//! the log at its end cannot be detected from the log alone. Never a value.

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
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
///
/// # Errors
///
/// When the log cannot be opened, locked or written.
pub fn append(
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
    let prev = last_hash(&mut f).unwrap_or_else(|| GENESIS.to_owned());
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

/// The `h` of the log's last line, read from the file's tail only (the log
/// grows with every command; reading it whole made each event cost more).
fn last_hash(f: &mut std::fs::File) -> Option<String> {
    let len = f.seek(SeekFrom::End(0)).ok()?;
    let mut back = 4096u64;
    loop {
        let start = len.saturating_sub(back);
        f.seek(SeekFrom::Start(start)).ok()?;
        let mut tail = Vec::new();
        Read::by_ref(f)
            .take(len - start)
            .read_to_end(&mut tail)
            .ok()?;
        let text = String::from_utf8_lossy(&tail);
        let body = text.strip_suffix('\n').unwrap_or(&text);
        // A whole last line: one that starts after a newline in the tail,
        // or the file's first line.
        if let Some(line) = body
            .rsplit_once('\n')
            .map(|(_, l)| l)
            .or((start == 0).then_some(body))
        {
            return split_hash(line).map(|(_, h)| h.to_owned());
        }
        if start == 0 {
            return None;
        }
        back *= 4;
    }
}

/// A line's body and its chain hash.
fn split_hash(line: &str) -> Option<(&str, &str)> {
    line.rsplit_once(" h=")
}

/// Checks the chain: `Ok(lines)` or the first broken line's number.
pub fn verify(text: &str) -> Result<usize, usize> {
    let mut prev = GENESIS.to_owned();
    let mut n = 0;
    for (i, line) in text.lines().enumerate() {
        let Some((body, h)) = split_hash(line) else {
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

/// One line of the log, read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// When (RFC 3339, UTC).
    pub time: String,
    /// What happened (`resolve`, `denied`, `scrubbed`, …).
    pub action: String,
    /// The secret it concerns, if any.
    pub secret: Option<String>,
    /// Its `key=value` fields, in order, without the chain hash.
    pub fields: Vec<(String, String)>,
}

impl Event {
    /// Reads one line; `None` for one that is not an event.
    pub fn parse(line: &str) -> Option<Event> {
        let mut words = line.split(' ');
        let (time, action, secret) = (words.next()?, words.next()?, words.next()?);
        if time.is_empty() || action.is_empty() || secret.is_empty() {
            return None;
        }
        let body = split_hash(line).map_or(line, |(body, _)| body);
        let fields = body
            .split(' ')
            .skip(3)
            .filter_map(|w| w.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Some(Event {
            time: time.to_owned(),
            action: action.to_owned(),
            secret: (secret != "-").then(|| secret.to_owned()),
            fields,
        })
    }

    /// The fields as logged: `key=value key=value`.
    pub fn details(&self) -> String {
        self.fields
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// When, as a time (`None` for a malformed one).
    pub fn when(&self) -> Option<std::time::SystemTime> {
        humantime::parse_rfc3339(&self.time).ok()
    }
}

/// The log's text (empty when there is none yet).
///
/// # Errors
///
/// When it exists but cannot be read.
pub fn read(home: &Home) -> anyhow::Result<String> {
    match std::fs::read_to_string(&home.audit) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(e).context("cannot read the audit log"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_back_without_their_hash() {
        let e = Event::parse("2026-01-01T00:00:00Z resolve T caller=exec host=x h=00ff").unwrap();
        assert_eq!(e.action, "resolve");
        assert_eq!(e.secret.as_deref(), Some("T"));
        assert_eq!(e.details(), "caller=exec host=x");
        let e = Event::parse("2026-01-01T00:00:00Z unlock - h=00").unwrap();
        assert_eq!((e.secret.clone(), e.details()), (None, String::new()));
        assert!(Event::parse("garbage").is_none());
    }

    #[test]
    fn last_hash_reads_the_tail_whatever_the_line_lengths() {
        let dir = std::env::temp_dir().join(format!("cl-audit-tail-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("audit.log");
        let long = "x".repeat(10_000);
        for (text, want) in [
            (String::new(), None),
            ("t a - h=aa\n".to_owned(), Some("aa")),
            (format!("t a - h=aa\nt b - k={long} h=bb\n"), Some("bb")),
            (format!("t b - k={long} h=cc\n"), Some("cc")),
            (
                format!("{}t z - h=dd\n", "t a - h=00\n".repeat(2000)),
                Some("dd"),
            ),
        ] {
            std::fs::write(&path, &text).unwrap();
            let mut f = std::fs::File::open(&path).unwrap();
            assert_eq!(last_hash(&mut f).as_deref(), want);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
