//! `claulock`: let an AI agent use a secret without seeing it.
//!
//! This binary is the only part of ClauLock that touches files, processes
//! and the clock; the decisions themselves live in `claulock-core`.

mod check;
mod dotenv;
mod scrub;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Let an AI coding agent use secrets without ever seeing them.
#[derive(Parser)]
#[command(name = "claulock", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decide whether a shell command may receive the secrets it names,
    /// without running it (exit 0 allowed, 1 refused).
    Check(check::Args),
    /// Copy stdin to stdout with every secret (and its encodings) replaced
    /// by a redaction marker.
    Scrub(scrub::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => check::run(&args),
        Command::Scrub(args) => scrub::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            // Errors never hold a value: the CLI does not read any yet, and
            // the core's messages name secrets, never their contents.
            let _ = writeln!(std::io::stderr(), "claulock: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Piping output into `head` must not print an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
