//! The socket server: many clients at once, each on a thread of its own.
//!
//! A Unix socket (mode 0600, in the 0700 `CLAULOCK_HOME`); one connection
//! carries one request line and one answer line ([`claulock_proto::wire`]).
//! Every peer's uid is checked with `SO_PEERCRED` and any other user is
//! refused, whatever the file modes say. Only a `resolve` request (the one
//! that returns values) has its peer inspected further ([`Peer::inspect`]).
//!
//! # Nobody can starve it
//!
//! A model that runs code as the user can open connections and hold them.
//! Each connection gets its own thread, and a whole request line must
//! arrive within [`REQUEST_TIMEOUT`] (however slowly its bytes come); at most [`MAX_CLIENTS`] connections are
//! served at once (the file descriptor limit is raised to fit them), and
//! one past that is answered at once with an error rather than queued. A
//! hook's request therefore never waits behind an idle client. Should the
//! agent still be unreachable, the hooks fail closed: starving the agent
//! stops the coding agent's work, never its protection.

use std::io::Write;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use claulock_proto::wire::{self, MAX_LINE};
use claulock_proto::{Error, Request};

use crate::agent::Agent;
use crate::peer::Peer;

/// How long a client may take to send its request line.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the agent waits for a client to take its answer.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a locked server waits for the answers still being written.
const LINGER: Duration = Duration::from_secs(2);
/// How many connections are served at once.
pub const MAX_CLIENTS: usize = 512;

/// The time in Unix seconds.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Serves `listener` until the agent is locked.
pub fn serve(agent: &Arc<Agent>, listener: &UnixListener) {
    raise_fd_limit();
    // The socket file bound for `listener`: the one to remove at the end,
    // and no other (a new agent may have bound the path since).
    let ours = file_id(&agent.home().socket);
    let active = Arc::new(AtomicUsize::new(0));
    loop {
        if agent.is_locked() {
            break;
        }
        // Polled with a timeout, so a lock is seen even when nothing can
        // connect any more (the socket file was removed or moved).
        let mut ready = [rustix::event::PollFd::new(
            listener,
            rustix::event::PollFlags::IN,
        )];
        let tick = rustix::event::Timespec {
            tv_sec: 1,
            tv_nsec: 0,
        };
        if !matches!(rustix::event::poll(&mut ready, Some(&tick)), Ok(n) if n > 0) {
            continue;
        }
        let Ok((stream, _)) = listener.accept() else {
            continue;
        };
        if agent.is_locked() {
            break;
        }
        if active.load(Ordering::SeqCst) >= MAX_CLIENTS {
            answer(
                &stream,
                &Err(Error::Unanswered {
                    why: "the agent serves too many connections; try again".into(),
                }),
            );
            continue;
        }
        active.fetch_add(1, Ordering::SeqCst);
        let (agent, count) = (Arc::clone(agent), Arc::clone(&active));
        let spawned = std::thread::Builder::new()
            .name("client".into())
            .spawn(move || {
                serve_one(&agent, &stream);
                count.fetch_sub(1, Ordering::SeqCst);
                if agent.is_locked() {
                    wake(&agent);
                }
            });
        if spawned.is_err() {
            active.fetch_sub(1, Ordering::SeqCst);
        }
    }
    // Locked: no new connection from now on (a client finds no agent,
    // which it reports as locked), while the connections being answered
    // (the `lock` request's own among them) finish, for a moment at most.
    // A client that connected before is told the vault is locked: one left
    // in the queue would see its connection closed without an answer.
    remove_if_ours(&agent.home().socket, ours);
    let deadline = std::time::Instant::now() + LINGER;
    let _ = listener.set_nonblocking(true);
    loop {
        while let Ok((late, _)) = listener.accept() {
            let _ = late.set_nonblocking(false);
            answer(&late, &Err(Error::Locked));
        }
        if active.load(Ordering::SeqCst) == 0 || std::time::Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A file's (device, inode).
fn file_id(path: &std::path::Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

/// Removes the socket file at `path` if it is still the one this server
/// bound (`ours`): an agent unlocked while this one lingers has bound the
/// path anew, and removing its socket would hide it from every client.
fn remove_if_ours(path: &std::path::Path, ours: Option<(u64, u64)>) {
    if ours.is_some() && file_id(path) == ours {
        let _ = std::fs::remove_file(path);
    }
}

/// Makes the accept loop look at the lock state now rather than at its
/// next tick.
pub fn wake(agent: &Agent) {
    let _ = UnixStream::connect(&agent.home().socket);
}

fn answer(stream: &UnixStream, answer: &Result<claulock_proto::Reply, Error>) {
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let line = wire::encode_answer(answer);
    let mut w = stream;
    let _ = w.write_all(&line);
}

fn serve_one(agent: &Agent, stream: &UnixStream) {
    let me = rustix::process::getuid();
    let pid = match rustix::net::sockopt::socket_peercred(stream) {
        Ok(cred) if cred.uid == me => cred.pid.as_raw_nonzero().get(),
        Ok(cred) => {
            let f = [
                ("reason", "foreign-uid".into()),
                ("uid", cred.uid.as_raw().to_string()),
            ];
            let _ = crate::audit::append(agent.home(), "denied", "", &f);
            return;
        }
        Err(_) => return,
    };
    let Ok(Some((line, fds))) = wire::recv_line(stream, MAX_LINE, REQUEST_TIMEOUT) else {
        return;
    };
    let request = wire::decode_request(&line);
    drop(line);
    let reply = match request {
        Ok(Request::Pipe { caller, run, .. }) => {
            let _ = stream.set_read_timeout(None);
            match crate::pipe::run(agent, &caller, run.as_deref(), fds, stream) {
                Ok(Some(reply)) => Ok(reply),
                // The client hung up: nobody to answer.
                Ok(None) => return,
                Err(e) => Err(e),
            }
        }
        Ok(req) => {
            drop(fds);
            let peer = if matches!(req, Request::Resolve { .. } | Request::Deliver { .. }) {
                Peer::inspect(pid)
            } else {
                Peer::process(pid)
            };
            agent.handle(req, &peer, now())
        }
        Err(e) => Err(e),
    };
    answer(stream, &reply);
    // After the answer, on this connection's thread: a request that changed
    // the vault left the scrubber to be built again, and a large value
    // makes that take seconds (a 64 KiB key: 3 s in a debug build). Built
    // now, not in the next hook, which has a deadline to meet.
    agent.warm_scrubber();
}

/// Room for [`MAX_CLIENTS`] connections and the streams of their pipe
/// sessions, where the hard limit allows it.
fn raise_fd_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    let want = (MAX_CLIENTS as u64) * 6 + 64;
    if limit.current.is_some_and(|c| c < want) {
        limit.current = Some(limit.maximum.map_or(want, |m| m.min(want)));
        let _ = setrlimit(Resource::Nofile, limit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_socket_this_server_bound_is_removed() {
        let dir = std::env::temp_dir().join(format!("cl-server-sock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("agent.sock");
        let first = UnixListener::bind(&path).unwrap();
        let ours = file_id(&path);
        // A new agent removes the path and binds it again.
        std::fs::remove_file(&path).unwrap();
        let second = UnixListener::bind(&path).unwrap();
        remove_if_ours(&path, ours);
        assert!(path.exists(), "the new agent's socket was removed");
        // Its own is removed.
        remove_if_ours(&path, file_id(&path));
        assert!(!path.exists(), "a server's own socket stays");
        drop((first, second));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
