//! [`run`]: a model's command under ClauLock, every output byte scrubbed
//! by the agent, no value in this process or the shell.
//!
//! 1. The agent inspects the wrapper through `/proc` (it must be this
//!    binary, running only trusted code), then the wrapper makes itself
//!    non-dumpable, so no process of the same user can read its memory or
//!    descriptors from then on (it never holds a value).
//! 2. The agent decides on the command (policy, expiry, allowlists) and, if
//!    it allows it, returns the plan: the command with a marker in place of
//!    each placeholder, each program that receives one started through
//!    `claulock deliver` (see `claulock_agent::peer` for why only this
//!    binary gets an answer). Neither this process nor the shell ever
//!    holds a value: each deliverer asks the agent for the values of its
//!    own invocation, which the agent checks again, and becomes the
//!    program (`crate::deliver`).
//! 3. The wrapper runs `bash -c PLAN`, for a command that holds a
//!    placeholder without the variables that would run other code or send
//!    traffic elsewhere (`claulock_core::substitute::UNSAFE_INHERITED_ENV`).
//! 4. The child's stdout and stderr are pipes whose read ends, with this
//!    process's own stdout and stderr, are handed to the agent
//!    (`SCM_RIGHTS`), which scrubs them with the whole-vault scrubber it
//!    keeps: the wrapper never holds the dictionary, and its cost does not
//!    grow with the vault. When stdout is a terminal, the child gets a
//!    pseudo-terminal of its own instead (colours, progress bars), whose
//!    master the agent reads alike.
//! 5. SIGINT, SIGTERM and SIGHUP are forwarded to the child's process
//!    group; the wrapper exits with the child's status (128+N for a
//!    signal) and reports it to the agent for the audit log.
//!
//! A refusal runs nothing and exits with [`REFUSED`].

use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;

use claulock_proto::{Client, Error, Request, Resolution};

use crate::Outcome;

/// After the command exits, how long its output may still take to drain:
/// a background process it started can hold the pipes open for good.
const DRAIN_AFTER_EXIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Quotes argv words for bash; placeholders inside stay substitutable.
pub fn shell_join(argv: &[String]) -> String {
    argv.iter()
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ")
}

fn refuse(lines: &str) -> Outcome {
    Outcome::Refused(lines.to_owned())
}

fn other(what: &str) -> impl Fn(io::Error) -> io::Error + '_ {
    move |e| io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// Runs `command` (as the model wrote it, placeholders and all) with the
/// agent behind `client`, passing stdin through and this process's stdout
/// and stderr, scrubbed, to the command's output. `cwd_out`: a file that
/// gets the command's final working directory when it exits.
///
/// # Errors
///
/// When a process or a pipe cannot be made; a refusal is an
/// [`Outcome::Refused`].
pub fn run(client: &Client, command: &str, cwd_out: Option<&Path>) -> io::Result<Outcome> {
    run_with(client, command, cwd_out, &[])
}

/// [`run`], with `extra_env` added to the command's environment: the literal
/// (placeholder-free) entries of an env file. A variable the wrapper
/// removes from a command with placeholders (it could run other code or
/// send traffic elsewhere) is removed from `extra_env` alike.
///
/// # Errors
///
/// As [`run`].
pub fn run_with(
    client: &Client,
    command: &str,
    cwd_out: Option<&Path>,
    extra_env: &[(String, std::ffi::OsString)],
) -> io::Result<Outcome> {
    if let Some(file) = cwd_out {
        crate::process::forget_directories(file);
    }
    let placeholders = match claulock_core::grammar::placeholders(command) {
        Ok(p) => p,
        Err(e) => return Ok(refuse(&e.to_string())),
    };
    let resolution = match client.resolve(command) {
        Ok(r) => Some(r),
        Err(Error::Refused { reasons }) => return Ok(refuse(&reasons.join("\n"))),
        // No vault: nothing to substitute and nothing to protect.
        Err(Error::NoVault { .. }) if placeholders.is_empty() => None,
        Err(Error::Locked) => {
            return Ok(refuse(
                "the vault is locked: ask the user to run `claulock unlock` in a terminal",
            ));
        }
        Err(e) => return Ok(refuse(&e.to_string())),
    };
    // From here on, keep other processes of the same user out of this
    // process's memory and descriptors. Not before: the agent reads this
    // process's executable, memory map and working directory through
    // `/proc` to decide whether to answer, which a non-dumpable process of
    // another (non-root) agent's user does not allow. (The wrapper holds no
    // value at any point; this guards its pipes and run.)
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
        .map_err(|e| other("cannot make the wrapper non-dumpable")(e.into()))?;
    let scrubbing = resolution.is_some();
    let Resolution {
        mut plan,
        run,
        mut env,
        unset,
        withheld,
        proxy_socket,
    } = resolution.unwrap_or_else(|| Resolution {
        plan: command.to_owned(),
        ..Resolution::default()
    });
    if let Some(file) = cwd_out {
        // An EXIT trap runs however the command ends (`exit N` included);
        // the path is quoted into a variable so the trap text stays fixed.
        let quoted = format!("'{}'", file.display().to_string().replace('\'', r"'\''"));
        plan = format!(
            "__claulock_cwd_out={quoted}; trap 'builtin pwd -P > \"$__claulock_cwd_out\" 2>/dev/null' EXIT\n{plan}"
        );
    }

    let mut cmd = std::process::Command::new("bash");
    cmd.arg("-c").arg(&plan);
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    if run.is_some() {
        let inherited = std::env::vars_os().map(|(k, _)| k);
        for k in extra_env.iter().map(|(k, _)| k.into()).chain(inherited) {
            if claulock_core::substitute::is_unsafe_inherited(&k.to_string_lossy()) {
                cmd.env_remove(k);
            }
        }
    }
    // Proxy delivery: the proxy (with this run's credential) and the CA
    // bundle that trusts it; through a forwarder of this process when its
    // port cannot be reached from here (a sandbox).
    if let Err(e) = crate::forward::reach(&mut env, proxy_socket.as_deref()) {
        return Ok(refuse(&e.to_string()));
    }
    for k in unset.iter().chain(&withheld) {
        cmd.env_remove(k);
    }
    // Names only, and only those the command names: the model learns why
    // the variable is empty and what to write instead, and other commands
    // print nothing more.
    let named: Vec<&str> = withheld
        .iter()
        .map(String::as_str)
        .filter(|k| command.contains(k))
        .collect();
    if !named.is_empty() {
        let _ = writeln!(
            std::io::stderr(),
            "claulock: not passed to the command, as each holds a secret's value (write {{{{NAME}}}} to use a secret): {}",
            named.join(", ")
        );
    }
    for (k, v) in &env {
        cmd.env(k, v);
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
        crate::process::open_pty().ok()
    } else {
        None
    };
    // The agent scrubs: it gets the sources and where they go, and knows
    // them before the command starts (a deliverer's output must be one of
    // them).
    let session = if scrubbing {
        let (stdout, stderr) = (std::io::stdout(), std::io::stderr());
        let (sources, sinks): (Vec<OwnedFd>, Vec<OwnedFd>) = match &pty {
            Some((master, slave)) => (
                vec![OwnedFd::from(master.try_clone()?)],
                vec![OwnedFd::from(slave.try_clone()?)],
            ),
            // stdout and stderr are one file (a pipe the agent runtime
            // reads both from, `2>&1`): one pipe for both, so that the
            // scrubber's hold-back on one stream cannot reorder the bytes
            // of the other around it.
            None if same_file(&stdout, &stderr) => {
                let flags = rustix::pipe::PipeFlags::CLOEXEC;
                let (out_r, out_w) = rustix::pipe::pipe_with(flags)?;
                (vec![out_r], vec![out_w])
            }
            None => {
                let flags = rustix::pipe::PipeFlags::CLOEXEC;
                let (out_r, out_w) = rustix::pipe::pipe_with(flags)?;
                let (err_r, err_w) = rustix::pipe::pipe_with(flags)?;
                (vec![out_r, err_r], vec![out_w, err_w])
            }
        };
        let mut fds = vec![sources[0].as_fd(), stdout.as_fd()];
        if let Some(err) = sources.get(1) {
            fds.extend([err.as_fd(), stderr.as_fd()]);
        }
        let secrets = placeholders
            .iter()
            .map(|p| p.name.clone())
            .collect::<std::collections::BTreeSet<_>>();
        let session = client.pipe(
            &Request::Pipe {
                caller: "exec".into(),
                secrets: secrets.into_iter().collect(),
                run: run.clone(),
            },
            &fds,
        );
        let session = match session {
            Ok(s) => s,
            Err(e) => return Ok(refuse(&format!("the agent cannot scrub the output: {e}"))),
        };
        let mut sinks = sinks.into_iter();
        let out = sinks
            .next()
            .ok_or_else(|| io::Error::other("no output pipe"))?;
        let err = match sinks.next() {
            Some(e) => e,
            None => out.try_clone()?,
        };
        cmd.stdout(out).stderr(err);
        Some(session)
    } else {
        None
    };
    // Only the child may hold the write ends (and the slave) open: its exit
    // then ends the agent's reads.
    let mut child = cmd.spawn().map_err(other("cannot start bash"))?;
    drop(cmd);
    drop(pty);
    let forward = (!interactive).then(|| crate::process::forward_signals(child.id()));
    // Started from a thread: starting a process takes milliseconds, and the
    // command need not wait for it.
    let child_id = child.id();
    let watcher = (!interactive)
        .then(|| std::thread::spawn(move || crate::process::watch_for_orphans(child_id)));
    let status = child.wait().map_err(other("cannot wait for the command"))?;
    if let Some(session) = session
        && session.wait(DRAIN_AFTER_EXIT).is_err()
    {
        // What a background process prints from now on is not shown (the
        // agent drops the unfinished tail, which may hold part of a value,
        // rather than pass it on unscrubbed).
        let _ = writeln!(
            std::io::stderr(),
            "claulock: a background process still holds the output; what it prints next is not shown"
        );
    }
    drop(forward);
    if let Some(Ok(Some(mut w))) = watcher.map(std::thread::JoinHandle::join) {
        let _ = w.kill();
        let _ = w.wait();
    }
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    if scrubbing && !placeholders.is_empty() {
        let secrets = placeholders
            .iter()
            .map(|p| p.name.clone())
            .collect::<std::collections::BTreeSet<_>>();
        // Not waited for: the agent writes (and syncs) the audit events
        // after the command's caller has its exit status.
        let _ = client.send(&Request::Report {
            secrets: secrets.into_iter().collect(),
            exit: code,
            run,
        });
    }
    Ok(Outcome::Exited(code))
}

/// Whether two descriptors are the same open file (device and inode).
fn same_file(a: &impl AsFd, b: &impl AsFd) -> bool {
    match (rustix::fs::fstat(a), rustix::fs::fstat(b)) {
        (Ok(x), Ok(y)) => x.st_dev == y.st_dev && x.st_ino == y.st_ino,
        _ => false,
    }
}
