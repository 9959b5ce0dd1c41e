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
    /// Load a dotenv file into the program's environment; its values may
    /// hold {{NAME}} placeholders, delivered like placeholders in the
    /// command (repeatable; later files win). With `-- PROGRAM` only.
    #[arg(long = "env-file", value_name = "FILE")]
    env_files: Vec<std::path::PathBuf>,
    /// Print one JSON object when the command is done instead of its
    /// output as it comes: `refused` (why nothing ran, or null),
    /// `exit_code`, `stdout` and `stderr` (scrubbed, at most 1 MiB each),
    /// `timed_out`, `truncated` (the shape of MCP `secret_run`'s result).
    /// The exit status is the command's, as without it.
    #[arg(long, conflicts_with = "cwd_out")]
    json: bool,
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
    if args.json {
        return run_json(args);
    }
    let mut command = match (&args.command, args.argv.is_empty()) {
        (Some(c), true) => c.clone(),
        (None, false) => claulock_exec::shell_join(&args.argv),
        _ => {
            bail!("give a command: `claulock exec -c 'COMMAND'` or `claulock exec -- PROGRAM ARGS`")
        }
    };
    let env_files = if args.env_files.is_empty() && args.command.is_none() {
        project_env_files()?
    } else {
        args.env_files.clone()
    };
    let env = if env_files.is_empty() {
        Vec::new()
    } else {
        if args.command.is_some() {
            // Assignments before a shell command reach its first simple
            // command only; the policy checks where each value goes, so
            // the program must be one.
            bail!(
                "--env-file loads the file into one program: `claulock exec --env-file FILE -- PROGRAM ARGS`"
            );
        }
        let files = EnvFiles::read(&env_files)?;
        command = format!("{}{command}", files.assignments);
        files.literal
    };
    let client = claulock_agent::Home::from_env()?.client();
    finish(claulock_exec::run_with(
        &client,
        &command,
        args.cwd_out.as_deref(),
        &env,
    )?)
}

/// `exec --json`: this command again without `--json`, its streams (already
/// scrubbed by the agent) captured into one JSON object. A refusal is
/// told apart from the command's own status 125 by the wrapper's
/// `claulock: refused:` lines, which are all it printed.
fn run_json(args: &Args) -> anyhow::Result<ExitCode> {
    use anyhow::Context;
    let mut again = std::process::Command::new(
        std::env::current_exe().context("cannot find the claulock executable")?,
    );
    again.arg("exec");
    for f in &args.env_files {
        again.arg("--env-file").arg(f);
    }
    match &args.command {
        Some(c) => again.arg("-c").arg(c),
        None => again.arg("--").args(&args.argv),
    };
    let ran = crate::secret_run::captured(again, None).context("cannot run `claulock exec`")?;
    let refusal: Option<Vec<&str>> = (ran.code == Some(i32::from(REFUSED))
        && ran.stdout.is_empty())
    .then(|| {
        // The reasons, and no line but the wrapper's own.
        let all_ours = ran.stderr.lines().all(|l| l.starts_with("claulock: "));
        let reasons: Vec<&str> = ran
            .stderr
            .lines()
            .filter_map(|l| l.strip_prefix("claulock: refused: "))
            .collect();
        (all_ours && !reasons.is_empty()).then_some(reasons)
    })
    .flatten();
    let result = match refusal {
        Some(lines) => claulock_mcp::backend::RunResult {
            refused: Some(lines.join("\n")),
            ..Default::default()
        },
        None => claulock_mcp::backend::RunResult {
            refused: None,
            exit_code: ran.code,
            stdout: ran.stdout,
            stderr: ran.stderr,
            timed_out: ran.timed_out,
            truncated: ran.truncated,
        },
    };
    let code = match (&result.refused, result.exit_code) {
        (Some(_), _) => REFUSED,
        (None, Some(c)) => u8::try_from(c & 0xff).unwrap_or(1),
        // Killed by a signal.
        (None, None) => 1,
    };
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, &result)?;
    writeln!(out)?;
    Ok(ExitCode::from(code))
}

/// The env files the project's `.claulock.toml` names (`env_files`), for
/// `exec -- PROGRAM` without `--env-file`.
fn project_env_files() -> anyhow::Result<Vec<std::path::PathBuf>> {
    use anyhow::Context;
    let cwd = std::env::current_dir().context("cannot read the working directory")?;
    let Some(root) = claulock_agent::project::root(&cwd) else {
        return Ok(Vec::new());
    };
    let file = root.join(claulock_agent::project::POLICY_FILE);
    let Ok(text) = std::fs::read_to_string(&file) else {
        return Ok(Vec::new());
    };
    let names = claulock_core::policy_file::env_files(&text)
        .with_context(|| format!("in {}", file.display()))?;
    Ok(names.into_iter().map(|n| root.join(n)).collect())
}

/// Env files as a run takes them: the entries that hold placeholders as
/// assignment words before the program (so the policy sees where each
/// value goes and delivers it like a placeholder in the command), the
/// others as plain environment (they never pass through the agent).
struct EnvFiles {
    assignments: String,
    literal: Vec<(String, OsString)>,
}

impl EnvFiles {
    fn read(paths: &[std::path::PathBuf]) -> anyhow::Result<EnvFiles> {
        use anyhow::Context;
        use std::os::unix::ffi::OsStringExt;
        let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
        for path in paths {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the env file {}", path.display()))?;
            for (k, v) in crate::dotenv::parse(&text)
                .with_context(|| format!("in the env file {}", path.display()))?
            {
                entries.retain(|(old, _)| *old != k);
                entries.push((k, v));
            }
        }
        let mut files = EnvFiles {
            assignments: String::new(),
            literal: Vec::new(),
        };
        for (k, v) in entries {
            let text = std::str::from_utf8(&v).ok();
            let templated = text.is_some_and(claulock_runtime::shell::has_placeholders);
            if !templated {
                files.literal.push((k, OsString::from_vec(v)));
                continue;
            }
            if !claulock_core::grammar::is_valid_name(&k) {
                bail!(
                    "the env file entry {k} holds a placeholder, but {k} is not a name a shell can assign (letters, digits and `_`)"
                );
            }
            let value = text.unwrap_or_default();
            files
                .assignments
                .push_str(&format!("{k}={} ", claulock_runtime::shell::quote(value)));
        }
        Ok(files)
    }
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
