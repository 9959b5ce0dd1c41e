//! `claulock hook EVENT`: Claude Code's hooks, stdin JSON to stdout JSON.
//!
//! The decisions live in `claulock-runtime` (the guard, shared by every
//! agent's adapter), the mapping of Claude Code's JSON in `claulock-hooks`;
//! this module does the IO: it reads the input and the settings, lets the
//! guard ask the agent (which holds the values and answers with
//! decisions, names and redacted text only) and prints the answer.
//!
//! | event | what it does |
//! |---|---|
//! | `pre-tool-use` | Bash with placeholders: policy check, then rewrite to `claulock exec` (or deny with the reason). Read/Edit/Write/NotebookRead/Grep: deny when the files hold a value. |
//! | `post-tool-use` | scrub the tool's response in its own shape (every tool) |
//! | `user-prompt-submit` | block a prompt holding a value (or a credential shape), and sweep the transcript |
//! | `session-start` | tell the model the placeholder syntax and the names |
//! | `stop`, `session-end` | sweep the transcript |
//!
//! **Never hangs, fails closed.** The work runs under a deadline
//! ([`DEADLINE`], well below the 10 s timeout `install` sets). When a
//! vault exists and the hook cannot do its work (the agent is locked,
//! killed, starved or slow, the settings do not read, an input is too
//! large), it denies what it could not check: every Bash command, a Read,
//! Edit, Write, Grep or notebook tool of a path, and a tool's output is
//! replaced by a notice instead of passing unscrubbed. The reason tells the
//! model to ask the user for `claulock unlock`. A model that locks or
//! starves the agent stops its own work and learns nothing; to use Claude
//! Code without ClauLock for a while, the user runs `claulock uninstall`
//! (the model cannot do that in a way that helps it: without the hooks,
//! placeholders are never substituted). The installed hooks guard even
//! when they find no vault: a vault file can be renamed and a
//! `CLAULOCK_HOME` moved by a plain command, so its absence is no sign that
//! nothing needs protecting.
//!
//! Settings live in `CLAULOCK_HOME/hooks.toml` (see [`Settings`]).

use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use claulock_agent::Home;
use claulock_hooks::claude::{self, Hook};
use claulock_hooks::{Answer, HookInput, Permission};
use claulock_runtime::{Event, Guard, Settings, ToolCall, fallback, with_reason};

/// How long a hook may work before it gives its fail-safe answer.
const DEADLINE: Duration = Duration::from_secs(4);
/// Hook inputs larger than this are refused (fail closed): the agent's
/// protocol carries a request line of at most this size.
const MAX_INPUT: usize = claulock_proto::MAX_LINE / 2;

/// `claulock hook NAME`: the hook of that name.
pub(crate) fn parse_hook(name: &str) -> Result<Hook, String> {
    Hook::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = Hook::ALL.iter().map(|(n, _)| *n).collect();
        format!("one of {}", names.join(", "))
    })
}

/// `CLAULOCK_HOME/hooks.toml` (see [`Settings`]); missing is the defaults,
/// malformed an error (the hooks then fail closed).
pub(crate) fn load_settings(home: &Home) -> anyhow::Result<Settings> {
    let path = home.dir.join("hooks.toml");
    match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).with_context(|| format!("in {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

pub(crate) fn run(hook: Hook) -> anyhow::Result<ExitCode> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .take(MAX_INPUT as u64 + 1)
        .read_to_end(&mut bytes)
        .context("cannot read the hook input")?;
    let home = Home::from_env()?;
    // Installed hooks always guard: whether a vault exists is a file the
    // model can rename (or a `CLAULOCK_HOME` it can move), so "no vault"
    // cannot mean "nothing to protect". `claulock uninstall` turns them off.
    let guarded = true;
    if bytes.len() > MAX_INPUT {
        drop(bytes);
        return oversized(hook, guarded);
    }
    let input = match HookInput::parse(&bytes) {
        Ok(i) => i,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "claulock hook: {e}");
            return Ok(ExitCode::SUCCESS);
        }
    };
    drop(bytes);
    let (tx, rx) = std::sync::mpsc::channel();
    // Shared with the worker, not copied: a tool response can be large.
    let input = std::sync::Arc::new(input);
    let worker_input = std::sync::Arc::clone(&input);
    std::thread::spawn(move || {
        let _ = tx.send(answer(hook, &worker_input, &home, guarded));
    });
    let answer = match rx.recv_timeout(DEADLINE) {
        Ok(Ok(a)) => a,
        Ok(Err(e)) => {
            // The error names no value (hook errors come from the agent's
            // messages and our own).
            let _ = writeln!(std::io::stderr(), "claulock hook: {e:#}");
            let event = claude::event(hook, &input);
            claude::answer(
                &input,
                with_reason(fallback(&event, guarded), &format!("{e:#}")),
            )
        }
        Err(_) => {
            let event = claude::event(hook, &input);
            let why = "it did not answer within 4 s";
            claude::answer(&input, with_reason(fallback(&event, guarded), why))
        }
    };
    if let Some(json) = answer.to_json() {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer(&mut out, &json)?;
        writeln!(out)?;
        out.flush()?;
    }
    // Do not wait for a worker that overran the deadline.
    std::process::exit(0)
}

fn answer(hook: Hook, input: &HookInput, home: &Home, guarded: bool) -> anyhow::Result<Answer> {
    let event = claude::event(hook, input);
    let settings = load_settings(home)?;
    let exe = std::env::current_exe().context("cannot find the claulock executable")?;
    let run_dir = home.dir.join("run");
    if matches!(
        event,
        Event::ToolCall {
            call: ToolCall::Shell { .. },
            ..
        }
    ) {
        ensure_run_dir(&run_dir)?;
    }
    let client = home.client().with_timeout(DEADLINE);
    let guard = Guard {
        agent: &client,
        settings: &settings,
        guarded,
        exe: &exe.display().to_string(),
        run_dir: &run_dir.display().to_string(),
    };
    Ok(claude::answer(input, guard.verdict(&event)?))
}

/// An input too large to check: a tool call is denied; a tool's output,
/// whose shape is unknown without reading it, is blocked with exit status
/// 2 (Claude Code shows the reason to the model).
fn oversized(hook: Hook, guarded: bool) -> anyhow::Result<ExitCode> {
    let why = format!(
        "ClauLock cannot check a hook input larger than {} MiB",
        MAX_INPUT >> 20
    );
    match hook {
        Hook::PreToolUse => {
            let answer = Answer::PreToolUse {
                permission: Permission::Deny,
                reason: format!("{why}; the tool call was not run."),
                updated_input: None,
            };
            if let Some(json) = answer.to_json() {
                writeln!(std::io::stdout(), "{json}")?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Hook::PostToolUse if guarded => {
            let _ = writeln!(std::io::stderr(), "{why}; its output is withheld.");
            Ok(ExitCode::from(2))
        }
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// `CLAULOCK_HOME/run`, private, where `exec --cwd-out` leaves the
/// command's final directory for the calling shell.
fn ensure_run_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if !dir.is_dir() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    Ok(())
}
