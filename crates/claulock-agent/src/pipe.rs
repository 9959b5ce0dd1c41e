//! Scrubbing streams handed over as file descriptors ([`Request::Pipe`]).
//!
//! The exec wrapper passes the read ends of its command's output pipes
//! (or the master of its pseudo-terminal) and its own stdout and stderr,
//! so the agent scrubs the command's output with the scrubber it already
//! holds. The wrapper never needs the whole vault as a dictionary (which
//! would put every value in a process the model can start and stop), and
//! an exec costs the same whatever the vault's size.
//!
//! One thread serves a session: it polls every source and the client's
//! connection, feeds what arrives through a scrubber stream per source and
//! writes the result to that source's destination. When every source has
//! ended it answers `Drained` with what was caught (and audits it). When
//! the client hangs up first (the wrapper gave up on a background process
//! that holds the pipes), it stops at once and drops the unfinished tails
//! rather than pass them on unscrubbed.
//!
//! [`Request::Pipe`]: claulock_proto::Request::Pipe

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;

use claulock_proto::{Caught, Error, Reply};
use claulock_scrub::{Catch, Scrubber, Stream};
use rustix::event::{PollFd, PollFlags, poll};

use crate::agent::Agent;
use crate::guard;

struct Flow {
    src: File,
    dst: Option<File>,
    stream: Option<Stream>,
    done: bool,
}

impl Flow {
    fn emit(&mut self, bytes: &[u8]) {
        if let Some(d) = self.dst.as_mut() {
            // A reader that went away (`| head`): keep draining the source
            // so the command does not block, but write no more.
            if d.write_all(bytes).is_err() {
                self.dst = None;
            }
        }
    }

    /// Moves what the source has now; `false` once it ended.
    fn pump(&mut self, buf: &mut [u8], out: &mut Vec<u8>) -> bool {
        let n = match self.src.read(buf) {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        out.clear();
        match self.stream.as_mut() {
            Some(s) => s.feed(&buf[..n], out),
            None => out.extend_from_slice(&buf[..n]),
        }
        let bytes = std::mem::take(out);
        self.emit(&bytes);
        *out = bytes;
        true
    }

    /// Writes the held-back tail and returns what this stream caught.
    fn finish(&mut self, out: &mut Vec<u8>) -> Vec<Catch> {
        self.done = true;
        let Some(mut s) = self.stream.take() else {
            return Vec::new();
        };
        out.clear();
        s.finish(out);
        let bytes = std::mem::take(out);
        self.emit(&bytes);
        self.dst = None;
        s.stats()
    }
}

/// Serves one pipe session on `conn` with `fds` in (source, destination)
/// pairs. Returns the answer to send (`Drained`), or `None` when the
/// client hung up first.
///
/// # Errors
///
/// [`Error::Invalid`] for an odd number of descriptors; the scrubber's.
pub fn run(
    agent: &Agent,
    caller: &str,
    run: Option<&str>,
    fds: Vec<OwnedFd>,
    conn: &UnixStream,
) -> Result<Option<Reply>, Error> {
    if fds.is_empty() || fds.len() % 2 != 0 {
        return Err(Error::invalid(
            "a pipe request carries (source, destination) pairs of descriptors",
        ));
    }
    let scrubber: Option<std::sync::Arc<Scrubber>> = agent.scrubber()?;
    if let Some(run) = run {
        let mut ids = Vec::new();
        let mut pty = false;
        for src in fds.iter().step_by(2) {
            let st = rustix::fs::fstat(src)
                .map_err(|e| Error::failed(format!("cannot inspect a stream: {e}")))?;
            let kind = rustix::fs::FileType::from_raw_mode(st.st_mode);
            pty |= kind == rustix::fs::FileType::CharacterDevice;
            ids.push((st.st_dev, st.st_ino));
        }
        agent.attach_outputs(run, ids, pty);
    }
    // Attached: the client may start its command now.
    let mut w = conn;
    w.write_all(&claulock_proto::wire::encode_answer(&Ok(Reply::Done)))
        .map_err(|e| Error::failed(format!("cannot answer: {e}")))?;
    let mut fds = fds.into_iter();
    let mut flows = Vec::new();
    while let (Some(src), Some(dst)) = (fds.next(), fds.next()) {
        flows.push(Flow {
            src: File::from(src),
            dst: Some(File::from(dst)),
            stream: scrubber.as_ref().map(|s| s.stream()),
            done: false,
        });
    }
    let mut buf = zeroize::Zeroizing::new(vec![0u8; 64 * 1024]);
    let mut out = zeroize::Zeroizing::new(Vec::with_capacity(buf.len() + 1024));
    let mut caught: Vec<Catch> = Vec::new();
    loop {
        let live: Vec<usize> = (0..flows.len()).filter(|&i| !flows[i].done).collect();
        if live.is_empty() {
            break;
        }
        let (ready, hangup) = {
            let mut polled: Vec<PollFd<'_>> = live
                .iter()
                .map(|&i| PollFd::from_borrowed_fd(flows[i].src.as_fd(), PollFlags::IN))
                .collect();
            polled.push(PollFd::from_borrowed_fd(conn.as_fd(), PollFlags::IN));
            match poll(&mut polled, None) {
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(Error::failed(format!("cannot poll the streams: {e}"))),
            }
            let ready: Vec<(usize, bool)> = live
                .iter()
                .zip(&polled)
                .map(|(&i, p)| (i, !p.revents().is_empty()))
                .collect();
            let client = polled.last().map_or(PollFlags::empty(), PollFd::revents);
            (ready, !client.is_empty())
        };
        if hangup {
            // Whatever the client sent or did, a session ends with it.
            return Ok(None);
        }
        for (i, is_ready) in ready {
            if is_ready && !flows[i].pump(&mut buf, &mut out) {
                let c = flows[i].finish(&mut out);
                guard::merge(&mut caught, c);
            }
        }
    }
    let caught: Vec<Caught> = guard::wire(caught);
    agent.audit_caught(&caught, caller);
    Ok(Some(Reply::Drained { caught }))
}
