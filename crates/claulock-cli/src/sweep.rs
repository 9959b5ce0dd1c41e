//! `claulock sweep`: redact every form of every vault value from Claude
//! Code's own files, in place.
//!
//! Claude Code writes some things before any hook can stop them (a pasted
//! prompt goes to the transcript as a `queue-operation` record even when
//! UserPromptSubmit blocks it), and transcripts written before ClauLock was
//! installed hold whatever they held. The sweep runs in the agent, which
//! holds the values; this module is the command.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use claulock_proto::Request;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// Files or directories to sweep (default: Claude Code's transcripts,
    /// history, debug logs and task outputs under ~/.claude and
    /// ~/.claude.json).
    paths: Vec<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let paths: Vec<String> = if args.paths.is_empty() {
        default_paths()?
    } else {
        args.paths
            .iter()
            .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()))
            .map(|p| p.display().to_string())
            .collect()
    };
    let report = claulock_agent::Home::from_env()?
        .client()
        .sweep(&Request::Sweep {
            paths,
            extra: Vec::new(),
        })?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else if report.changed.is_empty() {
        writeln!(
            out,
            "nothing to redact: no vault value found in {} file(s)",
            report.files
        )?;
    } else {
        for c in &report.changed {
            writeln!(out, "{}: {} ({}) x{}", c.file, c.secret, c.form, c.count)?;
        }
        writeln!(
            out,
            "redacted in {} place(s)",
            report.changed.iter().map(|c| c.count).sum::<u64>()
        )?;
    }
    for e in &report.errors {
        writeln!(std::io::stderr(), "claulock: sweep: {e}")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Claude Code's files for this user.
fn default_paths() -> anyhow::Result<Vec<String>> {
    let home = std::env::var_os("HOME").context("HOME is not set")?;
    let home = PathBuf::from(home);
    let mut paths = vec![home.join(".claude"), home.join(".claude.json")];
    // Background task outputs live under the temporary directory.
    let uid = rustix::process::getuid().as_raw();
    paths.push(std::env::temp_dir().join(format!("claude-{uid}")));
    Ok(paths
        .into_iter()
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect())
}
