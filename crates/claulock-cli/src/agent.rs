//! The agent: a per-user daemon that holds the unlocked vault, like
//! ssh-agent, and the protocol its clients speak.
//!
//! # Protocol (version 1)
//!
//! A Unix socket (mode 0600, in the 0700 `CLAULOCK_HOME`); one connection
//! carries one request line and one response line, both JSON. Every request
//! has `"v": 1` and an `"op"`; the response is `{"ok": true, "data": …}` or
//! `{"ok": false, "error": "…"}`. The agent checks each peer's uid with
//! `SO_PEERCRED` and refuses any other user, whatever the file modes say.
//!
//! | op | request fields | data |
//! |---|---|---|
//! | `status` | | `{"secrets": n, "pid": p, "idle_timeout_secs": s?}` |
//! | `list` | | metadata of every secret |
//! | `describe` | `name` | metadata of one secret |
//! | `add` | `name`, `value`, `meta` | |
//! | `rotate` | `name`, `value` | |
//! | `remove` | `name` | |
//! | `tag` | `name`, `add`, `remove` | |
//! | `passwd` | `old`, `new` | |
//! | `lock` | | |
//! | `resolve` | `command` | `plan`, `bindings`, `dictionary` (exec wrapper only) |
//! | `report` | `secrets`, `exit`, `caught` | |
//! | `decide` | `command`, `cwd` | `allowed`, `refusals` (the policy alone) |
//! | `scrub` | `text`, `caller` | `text` (null when nothing was caught), `caught` |
//! | `scrub_json` | `value`, `caller` | `value` (null when nothing was caught), `caught` |
//! | `scan` | `paths` | `findings`: files that hold a value, and whose |
//! | `sweep` | `paths`, `extra` | `changed`: per file, secret and form, a count |
//! | `entry_open` | `name`, `rotate`, `meta`, `ttl_secs?` | `id`, `url`, `expires_in_secs`: a one-time page where the human enters the value ([`crate::entry`]) |
//! | `entry_state` | `id` | `state`: `pending`, `stored` or `expired` |
//!
//! The last four serve the Claude Code hooks: the agent scrubs, scans and
//! sweeps with the values it holds, and answers with redacted text and
//! names, so the values never leave it. (That a full value comes back
//! redacted is no more than `claulock exec -c 'echo GUESS'` tells.)
//!
//! **No request returns a value to an arbitrary client.** The one op that
//! returns values, `resolve`, answers only the exec wrapper: the agent
//! checks that the peer runs this very executable with no foreign code
//! mapped and no debugger attached ([`crate::peer`]), re-runs the policy on
//! the command text itself (with the peer's working directory read from
//! `/proc`, not from the request), and audits the decision.
//!
//! Values in requests are JSON strings of hexadecimal bytes.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::home::Home;

/// The protocol version this binary speaks.
pub(crate) const PROTOCOL: u32 = 1;
/// The longest request or response line accepted.
pub(crate) const MAX_LINE: u64 = 1 << 20;

/// Metadata as the protocol carries it (never a value).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Meta {
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub allow_hosts: Vec<String>,
    #[serde(default)]
    pub allow_programs: Vec<String>,
    #[serde(default)]
    pub expires: Option<i64>,
    #[serde(default)]
    pub project: Option<String>,
    #[serde(default)]
    pub allow_output_files: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub(crate) enum Request {
    Status,
    List,
    Describe {
        name: String,
    },
    Add {
        name: String,
        value: String,
        meta: Meta,
    },
    Rotate {
        name: String,
        value: String,
    },
    Remove {
        name: String,
    },
    Tag {
        name: String,
        add: Vec<String>,
        remove: Vec<String>,
    },
    Passwd {
        old: String,
        new: String,
    },
    /// For the exec wrapper only (its executable is verified): decide on
    /// `command` and, if allowed, return the plan, the values it needs and
    /// the scrub dictionary.
    Resolve {
        command: String,
    },
    /// The exec wrapper's report after its command ended: which secrets
    /// were caught in its output, in which form, how often (never a value).
    Report {
        secrets: Vec<String>,
        exit: i32,
        caught: Vec<(String, String, u64)>,
    },
    Lock {
        #[serde(default)]
        reason: Option<String>,
    },
    Decide {
        command: String,
        cwd: String,
    },
    Scrub {
        text: String,
        caller: String,
    },
    #[serde(rename = "scrub_json")]
    ScrubJson {
        value: serde_json::Value,
        caller: String,
    },
    Scan {
        paths: Vec<String>,
    },
    Sweep {
        paths: Vec<String>,
        #[serde(default)]
        extra: Vec<String>,
    },
    #[serde(rename = "entry_open")]
    EntryOpen {
        name: String,
        rotate: bool,
        #[serde(default)]
        meta: Meta,
        /// How long the page lives (at most [`crate::entry::TTL`]).
        #[serde(default)]
        ttl_secs: Option<u64>,
    },
    #[serde(rename = "entry_state")]
    EntryState {
        id: String,
    },
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Envelope<T> {
    pub v: u32,
    #[serde(flatten)]
    pub body: T,
}

#[derive(Serialize, Deserialize, Default)]
pub(crate) struct Response {
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

/// Hex encoding of a value for the wire; the caller zeroizes.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Overwrites every string in a JSON value: values travel as hex strings,
/// and a message that held one is wiped once used.
pub(crate) fn wipe(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::String(s) => zeroize::Zeroize::zeroize(s),
        serde_json::Value::Array(a) => a.iter_mut().for_each(wipe),
        serde_json::Value::Object(o) => o.values_mut().for_each(wipe),
        _ => {}
    }
}

/// Whether an agent answers on the socket.
pub(crate) fn is_running(home: &Home) -> bool {
    matches!(request(home, Request::Status), Ok(r) if r.ok)
}

/// Sends one request; `Err` when no agent answers.
pub(crate) fn request(home: &Home, req: Request) -> anyhow::Result<Response> {
    request_at(&home.socket, req)
}

/// [`request`] to the agent on `socket`.
pub(crate) fn request_at(socket: &std::path::Path, req: Request) -> anyhow::Result<Response> {
    let mut stream = UnixStream::connect(socket)
        .with_context(|| "the vault is locked: run `claulock unlock` in a terminal".to_string())?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut line = serde_json::to_vec(&Envelope {
        v: PROTOCOL,
        body: req,
    })?;
    line.push(b'\n');
    let sent = stream.write_all(&line);
    // The request may hold a value: wipe our copy.
    zeroize::Zeroize::zeroize(&mut line);
    let mut reply = String::new();
    let read = sent.and_then(|()| BufReader::new(stream.take(MAX_LINE)).read_line(&mut reply));
    if read.is_err() || reply.is_empty() {
        // An agent of another user drops the connection unanswered.
        bail!("the agent closed the connection without answering (is it another user's?)");
    }
    let parsed = serde_json::from_str(&reply).context("the agent's answer is not valid");
    // A `resolve` answer holds values: wipe the raw text once parsed (the
    // caller wipes the parsed copy with [`wipe`]).
    zeroize::Zeroize::zeroize(&mut reply);
    parsed
}

/// Sends a request without waiting for the answer (for reports, whose
/// answer says nothing).
pub(crate) fn send(home: &Home, req: Request) -> anyhow::Result<()> {
    let mut stream = UnixStream::connect(&home.socket)?;
    let mut line = serde_json::to_vec(&Envelope {
        v: PROTOCOL,
        body: req,
    })?;
    line.push(b'\n');
    stream.write_all(&line)?;
    Ok(())
}

/// Sends a request and turns an error answer into an error.
pub(crate) fn call(home: &Home, req: Request) -> anyhow::Result<Option<serde_json::Value>> {
    call_at(&home.socket, req)
}

/// [`call`] to the agent on `socket`.
pub(crate) fn call_at(
    socket: &std::path::Path,
    req: Request,
) -> anyhow::Result<Option<serde_json::Value>> {
    let r = request_at(socket, req)?;
    if r.ok {
        Ok(r.data)
    } else {
        bail!("{}", r.error.unwrap_or_else(|| "the agent refused".into()))
    }
}
