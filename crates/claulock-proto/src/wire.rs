//! The framing: one JSON line per request and per answer, file
//! descriptors attached to a request line with `SCM_RIGHTS`.
//!
//! A request line is `{"v": PROTOCOL, "op": …, …}`; an answer line is
//! `{"ok": {"kind": …, "data": …}}` or `{"err": {"error": …, …}}`. Lines
//! that may hold a value are built and read in buffers that are wiped.

use std::io::{self, IoSlice, IoSliceMut, Read};
use std::mem::MaybeUninit;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;

use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::{Error, Reply, Request};

/// The protocol version this crate speaks.
pub const PROTOCOL: u32 = 2;
/// The longest line accepted either way: a hook's tool response can be
/// large (Claude Code sends up to tens of MiB), and is scrubbed whole.
pub const MAX_LINE: usize = 64 << 20;
/// The most file descriptors one request may carry.
pub const MAX_FDS: usize = 8;

#[derive(Serialize, Deserialize)]
struct Envelope<T> {
    v: u32,
    #[serde(flatten)]
    body: T,
}

/// An answer on the wire.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
// One answer lives for one line's parse and is unwrapped at once: boxing
// the reply would cost an allocation per request and save nothing.
#[allow(clippy::large_enum_variant)]
enum Answer {
    Ok(Reply),
    Err(Error),
}

/// A request as one line (newline included).
pub fn encode_request(req: &Request) -> Zeroizing<Vec<u8>> {
    let mut line = Zeroizing::new(
        serde_json::to_vec(&Envelope {
            v: PROTOCOL,
            body: req,
        })
        .unwrap_or_default(),
    );
    line.push(b'\n');
    line
}

/// Reads a request line.
///
/// # Errors
///
/// [`Error::Version`] for another protocol version, [`Error::Invalid`] for
/// anything that is not a request (the message quotes nothing of it).
pub fn decode_request(line: &[u8]) -> Result<Request, Error> {
    #[derive(Deserialize)]
    struct Version {
        v: u32,
    }
    match serde_json::from_slice::<Version>(line) {
        Ok(Version { v }) if v == PROTOCOL => {}
        Ok(Version { v }) => {
            return Err(Error::Version {
                agent: PROTOCOL,
                client: v,
            });
        }
        Err(_) => return Err(Error::invalid("malformed request")),
    }
    serde_json::from_slice::<Envelope<Request>>(line)
        .map(|e| e.body)
        .map_err(|e| {
            // serde's message may quote a field's text; keep only its
            // position and category.
            Error::invalid(format!(
                "malformed request ({:?} error at column {})",
                e.classify(),
                e.column()
            ))
        })
}

/// An answer as one line (newline included).
pub fn encode_answer(answer: &Result<Reply, Error>) -> Zeroizing<Vec<u8>> {
    let wire = match answer {
        Ok(r) => serde_json::to_vec(&AnswerRef::Ok(r)),
        Err(e) => serde_json::to_vec(&AnswerRef::Err(e)),
    };
    let mut line = Zeroizing::new(wire.unwrap_or_default());
    line.push(b'\n');
    line
}

#[derive(Serialize)]
#[serde(rename_all = "lowercase")]
enum AnswerRef<'a> {
    Ok(&'a Reply),
    Err(&'a Error),
}

/// Reads an answer line.
///
/// # Errors
///
/// The agent's error, or [`Error::Unanswered`] for a line that is not an
/// answer.
pub fn decode_answer(line: &[u8]) -> Result<Reply, Error> {
    match serde_json::from_slice::<Answer>(line) {
        Ok(Answer::Ok(r)) => Ok(r),
        Ok(Answer::Err(e)) => Err(e),
        Err(_) => Err(Error::Unanswered {
            why: "its answer is not valid (is it another version of claulock?)".into(),
        }),
    }
}

/// Writes `line` with `fds` attached to its first byte.
///
/// # Errors
///
/// The socket's.
pub fn send_with_fds(stream: &UnixStream, line: &[u8], fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty()
        && (fds.len() > MAX_FDS || !control.push(SendAncillaryMessage::ScmRights(fds)))
    {
        return Err(io::Error::other(
            "too many file descriptors for one request",
        ));
    }
    let mut sent = 0;
    while sent < line.len() {
        let n = rustix::net::sendmsg(
            stream,
            &[IoSlice::new(&line[sent..])],
            &mut control,
            SendFlags::NOSIGNAL,
        )?;
        // The descriptors went with the first bytes.
        control.clear();
        sent += n;
    }
    Ok(())
}

/// A request line and the file descriptors that came with it.
pub type Received = (Zeroizing<Vec<u8>>, Vec<OwnedFd>);

/// Reads one line of at most `max` bytes from `stream`, with the file
/// descriptors attached to it (at most [`MAX_FDS`]; more are closed), all
/// of it within `within` (a client that sends a byte at a time cannot hold
/// the connection longer). Returns `None` at end of stream before a whole
/// line.
///
/// # Errors
///
/// The socket's, `TimedOut` past `within`, or `InvalidData` past `max`.
pub fn recv_line(
    stream: &UnixStream,
    max: usize,
    within: std::time::Duration,
) -> io::Result<Option<Received>> {
    let deadline = std::time::Instant::now() + within;
    let mut line = Zeroizing::new(Vec::new());
    let mut fds = Vec::new();
    let mut buf = Zeroizing::new(vec![0u8; 64 * 1024]);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the request line did not arrive in time",
            ));
        }
        stream.set_read_timeout(Some(left))?;
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let got = rustix::net::recvmsg(
            stream,
            &mut [IoSliceMut::new(&mut buf)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        )?;
        for msg in control.drain() {
            if let RecvAncillaryMessage::ScmRights(received) = msg {
                for fd in received {
                    if fds.len() < MAX_FDS {
                        fds.push(fd);
                    }
                }
            }
        }
        if got.bytes == 0 {
            return Ok(None);
        }
        let chunk = &buf[..got.bytes];
        if let Some(end) = chunk.iter().position(|&b| b == b'\n') {
            line.extend_from_slice(&chunk[..end]);
            return Ok(Some((line, fds)));
        }
        line.extend_from_slice(chunk);
        if line.len() > max {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request line too long",
            ));
        }
    }
}

/// Reads one answer line (at most [`MAX_LINE`]) from `stream`.
///
/// # Errors
///
/// [`Error::Unanswered`] when the stream ends, times out or overflows.
pub fn read_answer(stream: &mut UnixStream) -> Result<Reply, Error> {
    let mut line = Zeroizing::new(Vec::new());
    let mut buf = Zeroizing::new(vec![0u8; 64 * 1024]);
    let closed = || Error::Unanswered {
        why: "it closed the connection (an agent of another user, or one that stopped)".into(),
    };
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => return Err(closed()),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
                ) =>
            {
                return Err(closed());
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(Error::Unanswered {
                    why: "it did not answer in time".into(),
                });
            }
            Err(e) => return Err(Error::Unanswered { why: e.to_string() }),
        };
        let chunk = &buf[..n];
        if let Some(end) = chunk.iter().position(|&b| b == b'\n') {
            line.extend_from_slice(&chunk[..end]);
            return decode_answer(&line);
        }
        line.extend_from_slice(chunk);
        if line.len() > MAX_LINE {
            return Err(Error::Unanswered {
                why: "its answer is too long".into(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NewSecret, SecretBytes};

    #[test]
    fn requests_and_answers_round_trip() {
        let req = Request::Add {
            name: "T".into(),
            value: SecretBytes::new(b"v".to_vec()),
            meta: NewSecret::default(),
        };
        let line = encode_request(&req);
        let back = decode_request(&line[..line.len() - 1]).unwrap();
        assert!(
            matches!(back, Request::Add { name, value, .. } if name == "T" && value.expose() == b"v")
        );
        let line = encode_answer(&Err(Error::Locked));
        assert_eq!(
            decode_answer(&line[..line.len() - 1]).unwrap_err(),
            Error::Locked
        );
        let line = encode_answer(&Ok(Reply::Done));
        assert!(matches!(decode_answer(&line), Ok(Reply::Done)));
    }

    #[test]
    fn another_version_is_its_own_error() {
        assert_eq!(
            decode_request(br#"{"v":1,"op":"status"}"#).unwrap_err(),
            Error::Version {
                agent: PROTOCOL,
                client: 1
            }
        );
        assert!(matches!(
            decode_request(b"nonsense"),
            Err(Error::Invalid { .. })
        ));
    }

    #[test]
    fn a_line_sent_a_byte_at_a_time_still_times_out() {
        use std::io::Write;
        let (mut a, b) = UnixStream::pair().unwrap();
        let writer = std::thread::spawn(move || {
            for _ in 0..20 {
                if a.write_all(b"x").is_err() {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        });
        let started = std::time::Instant::now();
        let err = recv_line(&b, MAX_LINE, std::time::Duration::from_millis(300)).unwrap_err();
        assert!(
            matches!(
                err.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ),
            "{err}"
        );
        // Each read alone was quick; the whole line was not.
        assert!(started.elapsed() < std::time::Duration::from_millis(900));
        drop(b);
        writer.join().unwrap();
    }

    #[test]
    fn descriptors_travel_with_the_line() {
        let (a, b) = UnixStream::pair().unwrap();
        let (mut r, w) = UnixStream::pair().unwrap();
        let line = encode_request(&Request::Status);
        use std::os::fd::AsFd;
        send_with_fds(&a, &line, &[w.as_fd()]).unwrap();
        drop(w);
        let (got, fds) = recv_line(&b, MAX_LINE, std::time::Duration::from_secs(5))
            .unwrap()
            .unwrap();
        assert!(matches!(decode_request(&got), Ok(Request::Status)));
        assert_eq!(fds.len(), 1);
        let mut w = std::fs::File::from(fds.into_iter().next().unwrap());
        std::io::Write::write_all(&mut w, b"hi").unwrap();
        drop(w);
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!(s, "hi");
    }
}
