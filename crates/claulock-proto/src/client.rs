//! A blocking client: [`Client`].

use std::io::{self, Write};
use std::os::fd::BorrowedFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::wire::{encode_request, read_answer, send_with_fds};
use crate::{
    AgentStatus, Caught, Error, Finding, Reply, Request, Resolution, SecretInfo, SweepReport,
    Verdict,
};

/// How long a request may wait for its answer unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A client of the agent on one socket. Each request is one connection,
/// so a client is cheap and can be shared between threads.
#[derive(Clone, Debug)]
pub struct Client {
    socket: PathBuf,
    vault: PathBuf,
    timeout: Duration,
}

impl Client {
    /// A client of the agent on `socket`; `vault` is the vault file the
    /// agent serves, which tells a locked vault from a missing one when no
    /// agent answers.
    pub fn new(socket: impl Into<PathBuf>, vault: impl Into<PathBuf>) -> Self {
        Client {
            socket: socket.into(),
            vault: vault.into(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The same client, waiting at most `timeout` for each answer.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The socket it connects to.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    fn connect(&self) -> Result<UnixStream, Error> {
        let stream = UnixStream::connect(&self.socket).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => {
                if self.vault.exists() {
                    Error::Locked
                } else {
                    Error::NoVault {
                        path: self.vault.display().to_string(),
                    }
                }
            }
            _ => Error::Unanswered {
                why: format!("cannot connect to {}: {e}", self.socket.display()),
            },
        })?;
        let _ = stream.set_read_timeout(Some(self.timeout));
        let _ = stream.set_write_timeout(Some(self.timeout));
        Ok(stream)
    }

    fn unanswered(e: &io::Error) -> Error {
        let why = if matches!(
            e.kind(),
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
        ) {
            // The agent hung up before reading: it refused the peer.
            "it closed the connection (an agent of another user, or one that stopped)".into()
        } else {
            format!("the request could not be sent: {e}")
        };
        Error::Unanswered { why }
    }

    /// Sends one request and reads its answer.
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] or [`Error::NoVault`] when no agent listens, the
    /// agent's own error, or [`Error::Unanswered`].
    pub fn request(&self, req: &Request) -> Result<Reply, Error> {
        let mut stream = self.connect()?;
        let line = encode_request(req);
        stream.write_all(&line).map_err(|e| Self::unanswered(&e))?;
        drop(line);
        read_answer(&mut stream)
    }

    /// Sends a request without waiting for its answer (a report, whose
    /// answer says nothing).
    ///
    /// # Errors
    ///
    /// As [`Client::request`], for the connection and the write.
    pub fn send(&self, req: &Request) -> Result<(), Error> {
        let mut stream = self.connect()?;
        stream
            .write_all(&encode_request(req))
            .map_err(|e| Self::unanswered(&e))
    }

    /// Hands streams to the agent to scrub: `fds` are pairs of (source,
    /// destination), see [`Request::Pipe`]. The session lasts until
    /// [`PipeSession::wait`] returns or the session is dropped (which
    /// stops the agent's copying).
    ///
    /// # Errors
    ///
    /// As [`Client::request`], for the connection and the write.
    pub fn pipe(&self, req: &Request, fds: &[BorrowedFd<'_>]) -> Result<PipeSession, Error> {
        let mut stream = self.connect()?;
        send_with_fds(&stream, &encode_request(req), fds).map_err(|e| Self::unanswered(&e))?;
        // Attached: from here the agent copies the streams.
        match read_answer(&mut stream)? {
            Reply::Done => Ok(PipeSession { stream }),
            other => Err(unexpected(&other)),
        }
    }

    /// The agent's state.
    ///
    /// # Errors
    ///
    /// As [`Client::request`].
    pub fn status(&self) -> Result<AgentStatus, Error> {
        match self.request(&Request::Status)? {
            Reply::Status(s) => Ok(s),
            other => Err(unexpected(&other)),
        }
    }

    /// Every secret's metadata.
    ///
    /// # Errors
    ///
    /// As [`Client::request`].
    pub fn list(&self) -> Result<Vec<SecretInfo>, Error> {
        match self.request(&Request::List)? {
            Reply::Secrets(s) => Ok(s),
            other => Err(unexpected(&other)),
        }
    }

    /// One secret's metadata.
    ///
    /// # Errors
    ///
    /// As [`Client::request`]; [`Error::NotFound`].
    pub fn describe(&self, name: &str) -> Result<SecretInfo, Error> {
        self.secret(&Request::Describe { name: name.into() })
    }

    /// A request answered with one secret's metadata (`describe`, `tag`).
    ///
    /// # Errors
    ///
    /// As [`Client::request`].
    pub fn secret(&self, req: &Request) -> Result<SecretInfo, Error> {
        match self.request(req)? {
            Reply::Secret(s) => Ok(s),
            other => Err(unexpected(&other)),
        }
    }

    /// A request answered with `Done`.
    ///
    /// # Errors
    ///
    /// As [`Client::request`].
    pub fn done(&self, req: &Request) -> Result<(), Error> {
        match self.request(req)? {
            Reply::Done => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    /// The policy's decision on `command` run from `cwd`.
    ///
    /// # Errors
    ///
    /// As [`Client::request`].
    pub fn decide(&self, command: &str, cwd: &str) -> Result<Verdict, Error> {
        match self.request(&Request::Decide {
            command: command.into(),
            cwd: cwd.into(),
        })? {
            Reply::Decision(v) => Ok(v),
            other => Err(unexpected(&other)),
        }
    }

    /// The plan and values for the exec wrapper.
    ///
    /// # Errors
    ///
    /// As [`Client::request`]; [`Error::Refused`], [`Error::UntrustedPeer`].
    pub fn resolve(&self, command: &str) -> Result<Resolution, Error> {
        match self.request(&Request::Resolve {
            command: command.into(),
        })? {
            Reply::Resolved(r) => Ok(r),
            other => Err(unexpected(&other)),
        }
    }

    /// Which files under `paths` hold a value (`files_only`: of the paths
    /// themselves, directories left out).
    ///
    /// # Errors
    ///
    /// As [`Client::request`].
    pub fn scan(&self, paths: Vec<String>, files_only: bool) -> Result<Vec<Finding>, Error> {
        match self.request(&Request::Scan {
            paths,
            files_only,
            report_unscanned: false,
        })? {
            Reply::Findings(f) => Ok(f),
            other => Err(unexpected(&other)),
        }
    }

    /// As [`Client::scan`], and the paths that could not be scanned to the
    /// end, as findings with [`Finding::unscanned`] set.
    ///
    /// # Errors
    ///
    /// As [`Client::request`].
    pub fn scan_reporting(
        &self,
        paths: Vec<String>,
        files_only: bool,
    ) -> Result<Vec<Finding>, Error> {
        match self.request(&Request::Scan {
            paths,
            files_only,
            report_unscanned: true,
        })? {
            Reply::Findings(f) => Ok(f),
            other => Err(unexpected(&other)),
        }
    }

    /// Redacts every value from the files under `paths`.
    ///
    /// # Errors
    ///
    /// As [`Client::request`].
    pub fn sweep(&self, req: &Request) -> Result<SweepReport, Error> {
        match self.request(req)? {
            Reply::Swept(r) => Ok(r),
            other => Err(unexpected(&other)),
        }
    }
}

/// The error for an answer of the wrong kind.
pub fn unexpected(reply: &Reply) -> Error {
    let kind = serde_json::to_value(reply)
        .ok()
        .and_then(|v| v["kind"].as_str().map(str::to_owned))
        .unwrap_or_default();
    Error::Unanswered {
        why: format!("it answered with {kind:?}, which does not fit the request"),
    }
}

/// Streams being scrubbed by the agent ([`Client::pipe`]).
#[derive(Debug)]
pub struct PipeSession {
    stream: UnixStream,
}

impl PipeSession {
    /// Waits at most `timeout` for every stream to end; then what was
    /// caught.
    ///
    /// # Errors
    ///
    /// [`Error::Unanswered`] on a timeout (the streams are still open: a
    /// background process holds them).
    pub fn wait(mut self, timeout: Duration) -> Result<Vec<Caught>, Error> {
        let _ = self
            .stream
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))));
        match read_answer(&mut self.stream)? {
            Reply::Drained { caught } => Ok(caught),
            other => Err(unexpected(&other)),
        }
    }
}
