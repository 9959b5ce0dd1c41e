//! The process plumbing of a run: the pseudo-terminal, signal forwarding,
//! the orphan watch, and the carried working directory's files.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::process::Stdio;

/// Removes `file` (so that a command that writes none, refused or
/// `exec`ed away, leaves no stale directory for the calling shell) and
/// its siblings older than a day (one per shell that ever ran a command).
pub(crate) fn forget_directories(file: &std::path::Path) {
    let _ = std::fs::remove_file(file);
    let Some(dir) = file.parent() else { return };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let day = std::time::Duration::from_secs(24 * 3600);
    for e in entries.flatten() {
        let stale = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > day);
        if stale && e.file_name().to_string_lossy().starts_with("cwd.") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// A pseudo-terminal pair (master, slave) sized like our own terminal.
pub(crate) fn open_pty() -> std::io::Result<(std::fs::File, std::fs::File)> {
    use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)?;
    grantpt(&master)?;
    unlockpt(&master)?;
    let name = ptsname(&master, Vec::new())?;
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(std::ffi::OsStr::from_bytes(name.as_bytes()))?;
    if let Ok(size) = rustix::termios::tcgetwinsize(std::io::stdout()) {
        let _ = rustix::termios::tcsetwinsize(&slave, size);
    }
    // Our own terminal turns `\n` into `\r\n`; doing it here too would
    // double the carriage returns.
    if let Ok(mut t) = rustix::termios::tcgetattr(&slave) {
        t.output_modes.remove(rustix::termios::OutputModes::ONLCR);
        let _ = rustix::termios::tcsetattr(&slave, rustix::termios::OptionalActions::Now, &t);
    }
    Ok((std::fs::File::from(master), slave))
}

/// (dash's `kill` takes no `--`: the group is `-PGID` directly.)
///
/// If this wrapper dies, even by SIGKILL, nothing may keep running with a
/// secret: a watcher process (holding no secret) kills the command's whole
/// process group once the wrapper is gone. Without `unsafe` there is no
/// `PR_SET_PDEATHSIG` between fork and exec, and that would cover bash
/// alone, not the programs it starts.
pub(crate) fn watch_for_orphans(child: u32) -> Option<std::process::Child> {
    std::process::Command::new("sh")
        .args([
            "-c",
            r#"while kill -0 "$1" 2>/dev/null; do sleep 0.2; done; kill -KILL -"$2" 2>/dev/null"#,
            "claulock-watch",
            &std::process::id().to_string(),
            &child.to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .ok()
}

/// Forwards SIGINT, SIGTERM and SIGHUP to the child's process group until
/// the returned handle is dropped.
pub(crate) fn forward_signals(child: u32) -> Option<signal_hook::iterator::Handle> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]).ok()?;
    let handle = signals.handle();
    let pgid = rustix::process::Pid::from_raw(i32::try_from(child).ok()?)?;
    std::thread::spawn(move || {
        for sig in signals.forever() {
            let sig = match sig {
                SIGINT => rustix::process::Signal::INT,
                SIGHUP => rustix::process::Signal::HUP,
                _ => rustix::process::Signal::TERM,
            };
            let _ = rustix::process::kill_process_group(pgid, sig);
        }
    });
    Some(handle)
}
