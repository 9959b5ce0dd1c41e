//! Who is on the other end of the agent's socket.
//!
//! The agent hands values only to the exec wrapper, never to an arbitrary
//! client. A process qualifies when:
//!
//! 1. its executable is this very file (same device and inode as the
//!    agent's own `/proc/self/exe`);
//! 2. every executable mapping in it is that file or a root-owned library
//!    in a system directory (so `LD_PRELOAD=evil.so claulock exec …` is
//!    refused);
//! 3. no debugger is attached to it (`TracerPid: 0`).
//!
//! The wrapper becomes non-dumpable as soon as it holds values. Between the
//! agent's check and that call a same-user process could still attach a
//! debugger; on systems with Yama `ptrace_scope` >= 1 (the default on most
//! distributions) it cannot attach to a non-descendant at all.

use std::os::unix::fs::MetadataExt;

/// Directories whose root-owned files may be mapped executable in the
/// wrapper (the C library, the dynamic loader, libgcc).
const SYSTEM_LIB_DIRS: &[&str] = &[
    "/lib/",
    "/lib64/",
    "/usr/lib/",
    "/usr/lib64/",
    "/usr/libexec/",
];

/// Checks that process `pid` is the exec wrapper of this binary, running
/// only trusted code. The error says why not (for the audit log).
pub fn verify_exec_peer(pid: i32) -> Result<(), String> {
    let own = std::fs::metadata("/proc/self/exe")
        .map_err(|e| format!("cannot inspect the agent itself: {e}"))?;
    let exe = std::fs::metadata(format!("/proc/{pid}/exe"))
        .map_err(|_| "cannot inspect the peer's executable".to_string())?;
    if (exe.dev(), exe.ino()) != (own.dev(), own.ino()) {
        return Err(
            "the peer is not the claulock executable the agent runs (after upgrading claulock, restart the agent: `claulock lock`, then `claulock unlock`)"
                .into(),
        );
    }
    untraced(pid)?;
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .map_err(|_| "cannot read the peer's memory map".to_string())?;
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let perms = fields.nth(1).unwrap_or("");
        let path = fields.nth(3).unwrap_or("");
        if !perms.contains('x') || !path.starts_with('/') {
            continue;
        }
        let Ok(m) = std::fs::metadata(path) else {
            return Err(format!("the peer runs code from {path}, which is gone"));
        };
        let ours = (m.dev(), m.ino()) == (own.dev(), own.ino());
        let system = SYSTEM_LIB_DIRS.iter().any(|d| path.starts_with(d))
            && m.uid() == 0
            && m.mode() & 0o022 == 0;
        if !ours && !system {
            return Err(format!("the peer runs foreign code from {path}"));
        }
    }
    Ok(())
}

/// `Ok` when no debugger is attached to process `pid` (`TracerPid: 0`).
///
/// # Errors
///
/// Why not, for the audit log.
pub fn untraced(pid: i32) -> Result<(), String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|_| "cannot read the peer's status".to_string())?;
    let tracer = status
        .lines()
        .find_map(|l| l.strip_prefix("TracerPid:"))
        .map(str::trim)
        .unwrap_or("?");
    if tracer == "0" {
        Ok(())
    } else {
        Err(format!("a debugger (pid {tracer}) is attached to the peer"))
    }
}

/// Who sent a request: what the agent knows of the process on the other
/// end of the socket.
#[derive(Clone, Debug)]
pub struct Peer {
    pid: Option<i32>,
    exec: Result<(), String>,
    cwd: Option<std::path::PathBuf>,
}

impl Peer {
    /// The process `pid`, inspected through `/proc`: whether it is the
    /// exec wrapper of this binary running trusted code, and its working
    /// directory.
    pub fn inspect(pid: i32) -> Peer {
        Peer {
            pid: Some(pid),
            exec: verify_exec_peer(pid),
            cwd: crate::agent::peer_cwd(pid),
        }
    }

    /// A client that is not the exec wrapper (it may ask anything but
    /// values).
    pub fn client() -> Peer {
        Peer {
            pid: None,
            exec: Err("the peer was not inspected".into()),
            cwd: None,
        }
    }

    /// Process `pid`, not inspected: a client that may ask anything but
    /// values (its environment can still be read, see `Request::Status`).
    pub fn process(pid: i32) -> Peer {
        Peer {
            pid: Some(pid),
            ..Peer::client()
        }
    }

    /// A trusted exec wrapper running in `cwd`: for an embedder that runs
    /// the agent in its own process, and for tests.
    pub fn exec_wrapper_in(cwd: impl Into<std::path::PathBuf>) -> Peer {
        Peer {
            pid: None,
            exec: Ok(()),
            cwd: Some(cwd.into()),
        }
    }

    /// `Ok` when the peer may receive values, else why not.
    pub fn exec_wrapper(&self) -> Result<(), String> {
        self.exec.clone()
    }

    /// Its process id, when it is another process.
    pub fn pid(&self) -> Option<i32> {
        self.pid
    }

    /// Its working directory, read from `/proc` (never from the request).
    pub fn cwd(&self) -> Option<&std::path::Path> {
        self.cwd.as_deref()
    }
}

/// The environment process `pid` started with (`NAME=value` entries), or
/// `None` when it cannot be read (another user's process, or one that made
/// itself non-dumpable). It may hold values: it is zeroized when dropped.
pub(crate) fn environ(pid: i32) -> Option<zeroize::Zeroizing<Vec<u8>>> {
    std::fs::read(format!("/proc/{pid}/environ"))
        .ok()
        .map(zeroize::Zeroizing::new)
}

/// Whether process `pid` exists.
pub(crate) fn is_alive(pid: i32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// The parent of process `pid`, from `/proc/PID/stat` (the name field may
/// hold spaces and parentheses: the fields after its last `)` are read).
fn parent(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(1)?.parse().ok()
}

/// Whether `ancestor` started `pid`, directly or through other processes.
pub(crate) fn descends_from(pid: i32, ancestor: i32) -> bool {
    let mut p = pid;
    for _ in 0..64 {
        match parent(p) {
            Some(q) if q == ancestor => return true,
            Some(q) if q > 1 => p = q,
            _ => return false,
        }
    }
    false
}

/// Where a process's standard output or error goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Output {
    /// Closed.
    Closed,
    /// `/dev/null`.
    Null,
    /// A pipe (device, inode).
    Pipe((u64, u64)),
    /// A terminal or another character device.
    Terminal,
    /// A regular file.
    File,
    /// A socket or anything else.
    Other,
}

/// Where the standard output and error of process `pid` go.
pub(crate) fn outputs(pid: i32) -> Vec<(u8, Output)> {
    use std::os::unix::fs::FileTypeExt;
    [1u8, 2]
        .into_iter()
        .map(|fd| {
            let out = match std::fs::metadata(format!("/proc/{pid}/fd/{fd}")) {
                Err(_) => Output::Closed,
                Ok(m) if m.is_file() => Output::File,
                Ok(m) if m.file_type().is_fifo() => Output::Pipe((m.dev(), m.ino())),
                // 1:3 is /dev/null on Linux.
                Ok(m) if m.file_type().is_char_device() && m.rdev() == 0x103 => Output::Null,
                Ok(m) if m.file_type().is_char_device() => Output::Terminal,
                Ok(_) => Output::Other,
            };
            (fd, out)
        })
        .collect()
}
