//! [`deliver`]: `claulock deliver [--stdin] -- PROGRAM ARGS…` becomes
//! PROGRAM with the values in place of its markers (the exec plan starts
//! it).
//!
//! The exec wrapper runs the model's command in a shell that holds no
//! value: each placeholder is a marker, and each program that receives
//! one is started through this command
//! (`claulock_core::substitute::delivery_plan`). Here the markers in
//! argv, in the environment and (with `--stdin`) in standard input are
//! sent to the agent, which inspects this process (executable, memory map,
//! descriptors), checks the concrete invocation against the policy again
//! and answers with the values; the process is made non-dumpable as they
//! arrive (not before: the agent could not inspect it), and they are put in place, the variables that
//! would run other code in the program are dropped, and this process
//! becomes the program (`execve`). The value then lives in that one
//! program's process, for its lifetime: the residual risk of env
//! delivery that SECURITY.md states.

use std::ffi::{OsStr, OsString};
use std::io::{self, Read, Seek, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;

use claulock_core::substitute::{fill_markers, is_unsafe_inherited, marker_names, marker_nonce};
use claulock_proto::{Client, Reply, Request};
use zeroize::Zeroizing;

use crate::Outcome;

/// Standard input larger than this is not read for markers.
const MAX_STDIN: u64 = 16 << 20;

/// Becomes `argv` with the values the agent behind `client` delivers for
/// its markers (`stdin`: standard input holds markers too). Returns only
/// when it cannot: a refusal, or a program that does not start.
///
/// # Errors
///
/// When standard input or the program's stdin file cannot be handled, or
/// the program cannot be started.
pub fn deliver(client: &Client, stdin: bool, argv: Vec<OsString>) -> io::Result<Outcome> {
    let mut argv = argv;
    // `exec curl …` or `command curl …`: the deliverer becomes the program
    // anyway.
    while argv
        .first()
        .is_some_and(|a| a == "exec" || a == "command" || a == "builtin")
        && argv.len() > 1
    {
        argv.remove(0);
    }
    let env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    let mut stdin_text = Zeroizing::new(Vec::new());
    if stdin {
        std::io::stdin()
            .take(MAX_STDIN + 1)
            .read_to_end(&mut stdin_text)?;
        if stdin_text.len() as u64 > MAX_STDIN {
            return Ok(Outcome::Refused(
                "standard input holding a placeholder is larger than 16 MiB".into(),
            ));
        }
    }
    let run = argv
        .iter()
        .map(|a| a.as_bytes())
        .chain(env.iter().map(|(_, v)| v.as_bytes()))
        .chain(std::iter::once(&stdin_text[..]))
        .find_map(marker_nonce);
    let Some(run) = run else {
        return Ok(Outcome::Refused(
            "nothing to deliver: no marker in the arguments, the environment or stdin".into(),
        ));
    };
    let marked_env: Vec<(String, String)> = env
        .iter()
        .filter(|(_, v)| !marker_names(v.as_bytes(), &run).is_empty())
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.to_string_lossy().into_owned(),
            )
        })
        .collect();
    let reply = client.request(&Request::Deliver {
        run: run.clone(),
        argv: argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        env: marked_env,
        stdin: marker_names(&stdin_text, &run),
    });
    // Non-dumpable as the values arrive (the agent has read this process's
    // executable, map and descriptors through `/proc` to decide, which a
    // non-dumpable process does not allow a non-root agent); the program
    // it becomes is dumpable again, the residual risk of env delivery.
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
        .map_err(io::Error::from)?;
    let (values, run_env) = match reply {
        Ok(Reply::Delivered { values, env }) => (values, env),
        Ok(other) => {
            return Ok(Outcome::Refused(
                claulock_proto::unexpected(&other).to_string(),
            ));
        }
        Err(e) => return Ok(Outcome::Refused(e.to_string())),
    };
    let value = |name: &str| -> Option<Vec<u8>> {
        values
            .iter()
            .find(|b| b.secret == name)
            .map(|b| b.value.expose().to_vec())
    };
    let filled = |text: &[u8]| -> io::Result<Zeroizing<Vec<u8>>> {
        fill_markers(text, &run, &value)
            .map(Zeroizing::new)
            .ok_or_else(|| io::Error::other("the agent did not deliver every value"))
    };
    let Some((program, rest)) = argv.split_first() else {
        return Ok(Outcome::Refused("give a program to deliver to".into()));
    };
    let mut cmd = std::process::Command::new(OsStr::from_bytes(&filled(program.as_bytes())?));
    for a in rest {
        cmd.arg(OsStr::from_bytes(&filled(a.as_bytes())?));
    }
    for (k, v) in &env {
        if is_unsafe_inherited(&k.to_string_lossy()) {
            cmd.env_remove(k);
        } else if !marker_names(v.as_bytes(), &run).is_empty() {
            cmd.env(k, OsStr::from_bytes(&filled(v.as_bytes())?));
        }
    }
    // The run's own proxy and CA bundle (for its proxy-delivered secrets),
    // which the line above dropped as inherited; the wrapper's forwarder
    // in place of the proxy's port if it started one (same credential).
    for (k, v) in &run_env {
        let forwarded = env.iter().find_map(|(ik, iv)| {
            let iv = iv.to_str()?;
            let same_run = v
                .split_once('@')
                .is_some_and(|(cred, _)| iv.split_once('@').is_some_and(|(c, _)| c == cred));
            (ik == k.as_str() && same_run).then(|| iv.to_owned())
        });
        cmd.env(k, forwarded.as_deref().unwrap_or(v));
    }
    if stdin {
        // The filled input, from a file only this process holds (memfd):
        // no other process of the shell sees it.
        let fd = rustix::fs::memfd_create("claulock-stdin", rustix::fs::MemfdFlags::CLOEXEC)?;
        let mut file = std::fs::File::from(fd);
        file.write_all(&filled(&stdin_text)?)?;
        file.rewind()?;
        cmd.stdin(file);
    }
    drop(stdin_text);
    let err = cmd.exec();
    Err(io::Error::new(
        err.kind(),
        format!("cannot run {}: {err}", program.to_string_lossy()),
    ))
}
