//! `claulock deliver [--stdin] -- PROGRAM ARGS…`: becomes PROGRAM with
//! the values in place of its markers (hidden; the exec plan starts it).
//!
//! The exec wrapper runs the model's command in a shell that holds no
//! value: each placeholder is a marker, and each program that receives
//! one is started through this command
//! (`claulock_core::substitute::delivery_plan`). Here, in a process that
//! made itself non-dumpable first, the markers in argv, in the
//! environment and (with `--stdin`) in standard input are sent to the
//! agent, which checks the concrete invocation against the policy again
//! and answers with the values; they are put in place, the variables that
//! would run other code in the program are dropped, and this process
//! becomes the program (`execve`). The value then lives in that one
//! program's process, for its lifetime: the residual risk of env
//! delivery that SECURITY.md states.

use std::ffi::{OsStr, OsString};
use std::io::{Read, Seek, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::process::CommandExt;
use std::process::ExitCode;

use anyhow::{Context, bail};
use claulock_core::substitute::{fill_markers, is_unsafe_inherited, marker_names, marker_nonce};
use claulock_proto::{Reply, Request};
use zeroize::Zeroizing;

/// Standard input larger than this is not read for markers.
const MAX_STDIN: u64 = 16 << 20;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// Standard input holds markers too (a here-document, a here-string).
    #[arg(long)]
    stdin: bool,
    /// The program and its arguments.
    #[arg(last = true, required = true, value_name = "PROGRAM ARGS")]
    argv: Vec<OsString>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
        .context("cannot make the deliverer non-dumpable")?;
    let mut argv = args.argv;
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
    if args.stdin {
        std::io::stdin()
            .take(MAX_STDIN + 1)
            .read_to_end(&mut stdin_text)
            .context("cannot read standard input")?;
        if stdin_text.len() as u64 > MAX_STDIN {
            bail!("standard input holding a placeholder is larger than 16 MiB");
        }
    }
    let run = argv
        .iter()
        .map(|a| a.as_bytes())
        .chain(env.iter().map(|(_, v)| v.as_bytes()))
        .chain(std::iter::once(&stdin_text[..]))
        .find_map(marker_nonce)
        .context("nothing to deliver: no marker in the arguments, the environment or stdin")?;
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
    let home = claulock_agent::Home::from_env()?;
    let reply = home.client().request(&Request::Deliver {
        run: run.clone(),
        argv: argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        env: marked_env,
        stdin: marker_names(&stdin_text, &run),
    });
    let values = match reply {
        Ok(Reply::Delivered { values }) => values,
        Ok(other) => return Err(claulock_proto::unexpected(&other).into()),
        Err(e) => {
            let mut err = std::io::stderr().lock();
            for line in e.to_string().lines() {
                let _ = writeln!(err, "claulock: refused: {line}");
            }
            return Ok(ExitCode::from(crate::exec::REFUSED));
        }
    };
    let value = |name: &str| -> Option<Vec<u8>> {
        values
            .iter()
            .find(|b| b.secret == name)
            .map(|b| b.value.expose().to_vec())
    };
    let filled = |text: &[u8]| -> anyhow::Result<Zeroizing<Vec<u8>>> {
        fill_markers(text, &run, &value)
            .map(Zeroizing::new)
            .context("the agent did not deliver every value")
    };
    let Some((program, rest)) = argv.split_first() else {
        bail!("give a program to deliver to");
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
    if args.stdin {
        // The filled input, from a file only this process holds (memfd):
        // no other process of the shell sees it.
        let fd = rustix::fs::memfd_create("claulock-stdin", rustix::fs::MemfdFlags::CLOEXEC)
            .context("cannot hold standard input")?;
        let mut file = std::fs::File::from(fd);
        file.write_all(&filled(&stdin_text)?)?;
        file.rewind()?;
        cmd.stdin(file);
    }
    drop(stdin_text);
    let err = cmd.exec();
    let name = OsString::from_vec(program.as_bytes().to_vec());
    bail!("cannot run {}: {err}", name.to_string_lossy())
}
