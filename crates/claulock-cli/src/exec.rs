//! `claulock exec` and the hidden `claulock deliver`: the frontends of
//! `claulock-exec` (see its docs for how a run keeps every value out of
//! the wrapper and the shell).

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use anyhow::bail;
use claulock_exec::{Outcome, REFUSED};

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

#[derive(clap::Args)]
pub(crate) struct DeliverArgs {
    /// Standard input holds markers too (a here-document, a here-string).
    #[arg(long)]
    stdin: bool,
    /// The program and its arguments.
    #[arg(last = true, required = true, value_name = "PROGRAM ARGS")]
    argv: Vec<OsString>,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let command = match (&args.command, args.argv.is_empty()) {
        (Some(c), true) => c.clone(),
        (None, false) => claulock_exec::shell_join(&args.argv),
        _ => {
            bail!("give a command: `claulock exec -c 'COMMAND'` or `claulock exec -- PROGRAM ARGS`")
        }
    };
    let client = claulock_agent::Home::from_env()?.client();
    finish(claulock_exec::run(
        &client,
        &command,
        args.cwd_out.as_deref(),
    )?)
}

pub(crate) fn deliver(args: DeliverArgs) -> anyhow::Result<ExitCode> {
    let client = claulock_agent::Home::from_env()?.client();
    finish(claulock_exec::deliver(&client, args.stdin, args.argv)?)
}

fn finish(outcome: Outcome) -> anyhow::Result<ExitCode> {
    Ok(match outcome {
        Outcome::Exited(code) => ExitCode::from(u8::try_from(code & 0xff).unwrap_or(1)),
        Outcome::Refused(lines) => {
            let mut err = std::io::stderr().lock();
            for line in lines.lines() {
                let _ = writeln!(err, "claulock: refused: {line}");
            }
            ExitCode::from(REFUSED)
        }
    })
}
