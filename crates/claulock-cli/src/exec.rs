//! `claulock exec`: run a command with its secrets in the child's
//! environment alone, every output byte scrubbed.
//!
//! 1. The agent decides on the command (policy, expiry, allowlists) and, if
//!    it allows it, returns the substitution plan, the values the plan
//!    needs and the whole vault as the scrub dictionary (see
//!    [`crate::agent`] for why only this binary gets an answer).
//! 2. The wrapper makes itself non-dumpable, then runs `bash -c PLAN` with
//!    `CLAULOCK_SECRET_<NAME>=value` in the child's environment only: the
//!    values are never in this process's argv or environment, nor in the
//!    child's argv (the plan holds references).
//! 3. The child's stdout and stderr are piped through the scrubber,
//!    separately, as they stream; stdin passes through. When stdout is a
//!    terminal, the child gets a pseudo-terminal of its own instead (so it
//!    keeps its colours and progress bars) whose output is scrubbed alike.
//! 4. SIGINT, SIGTERM and SIGHUP are forwarded to the child's process
//!    group; the wrapper exits with the child's status (128+N for a
//!    signal) and reports what was caught to the agent for the audit log.
//!
//! A refusal runs nothing and exits with [`REFUSED`].

use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{ExitCode, Stdio};

use anyhow::{Context, bail};
use claulock_scrub::{Catch, Scrubber};
use zeroize::Zeroizing;

use crate::agent::{self, Request, from_hex};
use crate::home::Home;

/// The exit status of a refused command (nothing ran).
pub(crate) const REFUSED: u8 = 125;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The shell command to run, with {{NAME}} placeholders.
    #[arg(short = 'c', value_name = "COMMAND", conflicts_with = "argv")]
    command: Option<String>,
    /// Or a program and its arguments, after `--`.
    #[arg(last = true, value_name = "PROGRAM ARGS")]
    argv: Vec<String>,
    /// Write the command's final working directory to this file when it
    /// exits (the Claude Code hook carries a `cd` back to its shell so).
    #[arg(long, value_name = "FILE")]
    cwd_out: Option<std::path::PathBuf>,
}

/// After the command exits, how long its output may still take to drain:
/// a background process it started can hold the pipes open for good.
const DRAIN_AFTER_EXIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Quotes argv words for bash; placeholders inside stay substitutable.
fn shell_join(argv: &[String]) -> String {
    argv.iter()
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ")
}

fn refuse(lines: &str) -> ExitCode {
    let mut err = std::io::stderr().lock();
    for line in lines.lines() {
        let _ = writeln!(err, "claulock: refused: {line}");
    }
    ExitCode::from(REFUSED)
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    if let Some(file) = &args.cwd_out {
        forget_directories(file);
    }
    let command = match (&args.command, args.argv.is_empty()) {
        (Some(c), true) => c.clone(),
        (None, false) => shell_join(&args.argv),
        _ => {
            bail!("give a command: `claulock exec -c 'COMMAND'` or `claulock exec -- PROGRAM ARGS`")
        }
    };
    let placeholders = match claulock_core::grammar::placeholders(&command) {
        Ok(p) => p,
        Err(e) => return Ok(refuse(&e.to_string())),
    };
    let home = Home::from_env()?;
    let data = match agent::request(
        &home,
        Request::Resolve {
            command: command.clone(),
        },
    ) {
        Ok(r) if r.ok => r.data,
        Ok(r) => {
            return Ok(refuse(
                &r.error.unwrap_or_else(|| "the agent refused".into()),
            ));
        }
        // Locked: nothing to substitute and nothing to scrub with.
        Err(_) if placeholders.is_empty() => None,
        Err(_) => {
            return Ok(refuse(
                "the vault is locked: ask the user to run `claulock unlock` in a terminal",
            ));
        }
    };
    // From here this process holds values: keep other processes of the
    // same user out of its memory.
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
        .context("cannot make the wrapper non-dumpable")?;
    let mut data = data.unwrap_or_default();
    let mut plan = data["plan"]
        .as_str()
        .map_or_else(|| command.clone(), str::to_owned);
    if let Some(file) = &args.cwd_out {
        // An EXIT trap runs however the command ends (`exit N` included);
        // the path is quoted into a variable so the trap text stays fixed.
        let quoted = format!("'{}'", file.display().to_string().replace('\'', r"'\''"));
        plan = format!(
            "__claulock_cwd_out={quoted}; trap 'builtin pwd -P > \"$__claulock_cwd_out\" 2>/dev/null' EXIT\n{plan}"
        );
    }
    let mut bindings: Vec<(String, Zeroizing<Vec<u8>>)> = Vec::new();
    for b in data["bindings"].as_array().into_iter().flatten() {
        let env = b["env"]
            .as_str()
            .context("malformed answer from the agent")?;
        let value = from_hex(b["value"].as_str().unwrap_or_default())
            .context("malformed answer from the agent")?;
        bindings.push((env.to_owned(), Zeroizing::new(value)));
    }
    let scrubbing = data["dictionary"].as_array().is_some_and(|d| !d.is_empty());
    // Built on the other core while bash starts (each takes milliseconds);
    // the command's first output waits in the pipe until it is ready.
    let dictionary = data["dictionary"].take();
    let builder = std::thread::spawn(move || {
        let mut dictionary = serde_json::json!({ "dictionary": dictionary });
        let scrubber = if scrubbing {
            build_scrubber(&dictionary)
        } else {
            Ok(None)
        };
        crate::agent::wipe(&mut dictionary);
        scrubber
    });

    let mut cmd = std::process::Command::new("bash");
    cmd.arg("-c").arg(&plan);
    for (k, _) in std::env::vars_os() {
        if k.as_bytes()
            .starts_with(claulock_core::substitute::ENV_PREFIX.as_bytes())
        {
            cmd.env_remove(k);
        }
    }
    for (env, value) in &bindings {
        cmd.env(env, std::ffi::OsStr::from_bytes(value));
    }
    let interactive = std::io::IsTerminal::is_terminal(&std::io::stdin());
    if !interactive {
        // Its own group, so that signals reach the whole command.
        cmd.process_group(0);
    }
    // On a terminal the command gets a pseudo-terminal of its own, so that
    // it still sees a terminal (colours, progress bars) while every byte it
    // prints passes through the scrubber.
    let pty = if scrubbing && std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        open_pty().ok()
    } else {
        None
    };
    if let Some((_, slave)) = &pty {
        cmd.stdout(slave.try_clone()?).stderr(slave.try_clone()?);
    } else if scrubbing {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    let mut child = cmd.spawn().context("cannot start bash")?;
    drop(cmd);
    drop(bindings);
    let forward = (!interactive).then(|| forward_signals(child.id()));
    // Started from a thread: starting a process takes milliseconds, and the
    // command need not wait for it.
    let child_id = child.id();
    let watcher = (!interactive).then(|| std::thread::spawn(move || watch_for_orphans(child_id)));

    crate::agent::wipe(&mut data);
    let scrubber = builder
        .join()
        .unwrap_or_else(|_| Err(anyhow::anyhow!("the scrubber build failed")));
    let scrubber = match scrubber {
        Ok(s) => s,
        Err(e) => {
            // Never let unscrubbed output through: stop the command.
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
    };
    // The pumps report on a channel, so that a background process holding
    // the pipes open cannot keep this wrapper (and the tool call) waiting.
    let (done_tx, done_rx) = std::sync::mpsc::channel::<Vec<Catch>>();
    let mut pumps = 0;
    if let (Some(s), Some((master, slave))) = (&scrubber, pty) {
        // Only the child may hold the slave open: its exit then ends the
        // master's reads (EIO).
        drop(slave);
        let (s, tx) = (s.clone(), done_tx.clone());
        std::thread::spawn(move || tx.send(pump(master, std::io::stdout(), &s)));
        pumps = 1;
    } else if let Some(s) = &scrubber {
        let out = child.stdout.take().context("no stdout pipe")?;
        let err = child.stderr.take().context("no stderr pipe")?;
        let (s1, s2, tx1, tx2) = (s.clone(), s.clone(), done_tx.clone(), done_tx.clone());
        std::thread::spawn(move || tx1.send(pump(out, std::io::stdout(), &s1)));
        std::thread::spawn(move || tx2.send(pump(err, std::io::stderr(), &s2)));
        pumps = 2;
    }
    drop(done_tx);
    let status = child.wait().context("cannot wait for the command")?;
    let drain_until = std::time::Instant::now() + DRAIN_AFTER_EXIT;
    let mut caught: Vec<Catch> = Vec::new();
    for _ in 0..pumps {
        let left = drain_until.saturating_duration_since(std::time::Instant::now());
        match done_rx.recv_timeout(left) {
            Ok(c) => caught.extend(c),
            Err(_) => {
                // What a background process prints from now on is not shown
                // (and the unfinished tail, which may hold part of a value,
                // is dropped rather than passed unscrubbed).
                let _ = writeln!(
                    std::io::stderr(),
                    "claulock: a background process still holds the output; what it prints next is not shown"
                );
                break;
            }
        }
    }
    drop(forward);
    if let Some(Ok(Some(mut w))) = watcher.map(std::thread::JoinHandle::join) {
        let _ = w.kill();
        let _ = w.wait();
    }
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    if scrubbing {
        let secrets = placeholders
            .iter()
            .map(|p| p.name.clone())
            .collect::<std::collections::BTreeSet<_>>();
        let report = Request::Report {
            secrets: secrets.into_iter().collect(),
            exit: code,
            caught: caught
                .iter()
                .map(|c| (c.secret.clone(), c.form.to_string(), c.count))
                .collect(),
        };
        // Not waited for: the agent writes (and syncs) the audit events
        // after the command's caller has its exit status.
        let _ = agent::send(&home, report);
    }
    Ok(ExitCode::from(u8::try_from(code & 0xff).unwrap_or(1)))
}

/// Removes `file` (so that a command that writes none, refused or
/// `exec`ed away, leaves no stale directory for the calling shell) and
/// its siblings older than a day (one per shell that ever ran a command).
fn forget_directories(file: &std::path::Path) {
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

/// The scrubber for the whole vault, or `None` when there is nothing to
/// scrub with (a locked or empty vault).
pub(crate) fn build_scrubber(data: &serde_json::Value) -> anyhow::Result<Option<Scrubber>> {
    let mut b = Scrubber::builder();
    let mut any = false;
    for e in data["dictionary"].as_array().into_iter().flatten() {
        let name = e["name"]
            .as_str()
            .context("malformed answer from the agent")?;
        let value = Zeroizing::new(
            from_hex(e["value"].as_str().unwrap_or_default())
                .context("malformed answer from the agent")?,
        );
        b.secret(name, &*value);
        any = true;
    }
    if !any {
        return Ok(None);
    }
    Ok(Some(
        b.build()
            .context("cannot build the scrubber from the vault")?,
    ))
}

/// A pseudo-terminal pair (master, slave) sized like our own terminal.
fn open_pty() -> anyhow::Result<(std::fs::File, std::fs::File)> {
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

/// Copies `src` to `dst` through a scrubber stream, as it arrives.
fn pump(mut src: impl Read, dst: impl Write, scrubber: &Scrubber) -> Vec<Catch> {
    let mut dst = Some(dst);
    let mut stream = scrubber.stream();
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = Vec::with_capacity(buf.len() + 1024);
    let emit = |out: &[u8], dst: &mut Option<_>| {
        if let Some(d) = dst.as_mut() {
            let d: &mut dyn Write = d;
            // A reader that went away (`| head`): keep draining the child so
            // it does not block, but write no more.
            if d.write_all(out).and_then(|()| d.flush()).is_err() {
                *dst = None;
            }
        }
    };
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        out.clear();
        stream.feed(&buf[..n], &mut out);
        emit(&out, &mut dst);
    }
    out.clear();
    stream.finish(&mut out);
    emit(&out, &mut dst);
    stream.stats()
}

/// (dash's `kill` takes no `--`: the group is `-PGID` directly.)
///
/// If this wrapper dies, even by SIGKILL, nothing may keep running with a
/// secret: a watcher process (holding no secret) kills the command's whole
/// process group once the wrapper is gone. Without `unsafe` there is no
/// `PR_SET_PDEATHSIG` between fork and exec, and that would cover bash
/// alone, not the programs it starts.
fn watch_for_orphans(child: u32) -> Option<std::process::Child> {
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
fn forward_signals(child: u32) -> Option<signal_hook::iterator::Handle> {
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
