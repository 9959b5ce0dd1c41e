//! `claulock hook EVENT`: Claude Code's hooks, stdin JSON to stdout JSON.
//!
//! The mapping lives in `claulock-hooks`; this module does the IO: it
//! reads the input, asks the agent (which holds the values and answers
//! with decisions, names and redacted text only) and prints the answer.
//!
//! | event | what it does |
//! |---|---|
//! | `pre-tool-use` | Bash with placeholders: policy check, then rewrite to `claulock exec` (or deny with the reason). Read/Edit/Write/NotebookRead/Grep: deny when the files hold a value. |
//! | `post-tool-use` | scrub the tool's response in its own shape (every tool) |
//! | `user-prompt-submit` | block a prompt holding a value (or a credential shape), and sweep the transcript |
//! | `session-start` | tell the model the placeholder syntax and the names |
//! | `stop`, `session-end` | sweep the transcript |
//!
//! **Never hangs, fails closed where it matters.** The work runs under a
//! deadline ([`DEADLINE`], well below the 10 s timeout `install` sets). On
//! a timeout or an internal error, a Bash command holding placeholders is
//! denied with the reason; anything else goes on unchanged (the exec
//! wrapper and the agent enforce the policy on their own, and Claude Code
//! lets a call through on a failed hook anyway).
//!
//! Settings live in `CLAULOCK_HOME/hooks.toml` (see [`Settings`]).

use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use claulock_hooks::{Answer, HookInput, Permission, bash, context, paths, prompt};
use serde_json::Value;

use crate::agent::{self, Request};
use crate::home::Home;

/// How long a hook may work before it gives its fail-safe answer.
const DEADLINE: Duration = Duration::from_secs(4);
/// Hook inputs larger than this are not read whole (a tool response can
/// be big; Claude Code truncates what it keeps anyway).
const MAX_INPUT: u64 = 32 << 20;

#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum Event {
    PreToolUse,
    PostToolUse,
    UserPromptSubmit,
    SessionStart,
    Stop,
    SessionEnd,
}

/// `CLAULOCK_HOME/hooks.toml`.
#[derive(serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Settings {
    /// The decision for an allowed command with placeholders: `allow`
    /// (run without asking) or `ask` (the user confirms each one).
    pub placeholder_permission: String,
    /// Route commands without placeholders through `claulock exec` too.
    /// Off by default: Claude Code checks its permission rules against
    /// the rewritten command, so `Bash(npm test:*)`-style allow rules stop
    /// matching; their output is scrubbed by PostToolUse instead.
    pub wrap_plain_commands: bool,
    /// Block prompts holding credential-shaped strings (see
    /// `claulock_hooks::prompt`).
    pub block_token_shapes: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            placeholder_permission: "allow".into(),
            wrap_plain_commands: false,
            block_token_shapes: true,
        }
    }
}

impl Settings {
    /// Whether the settings file reads (for `claulock doctor`).
    pub(crate) fn load_for_doctor(home: &Home) -> anyhow::Result<()> {
        Self::load(home).map(|_| ())
    }

    fn load(home: &Home) -> anyhow::Result<Settings> {
        let path = home.dir.join("hooks.toml");
        match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).with_context(|| format!("in {}", path.display())),
            Err(_) => Ok(Settings::default()),
        }
    }
}

pub(crate) fn run(event: Event) -> anyhow::Result<ExitCode> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .take(MAX_INPUT)
        .read_to_end(&mut bytes)
        .context("cannot read the hook input")?;
    let input = HookInput::parse(&bytes);
    drop(bytes);
    // Decided before the work, from the input alone: what to answer if the
    // work fails or runs out of time.
    let fallback = match &input {
        Ok(i) => fail_safe(event, i, "ClauLock's hook failed"),
        Err(_) => Answer::None,
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let answer = input
            .map_err(anyhow::Error::from)
            .and_then(|i| answer(event, &i));
        let _ = tx.send(answer);
    });
    let answer = match rx.recv_timeout(DEADLINE) {
        Ok(Ok(a)) => a,
        Ok(Err(e)) => {
            // The error names no value (hook errors come from the agent's
            // messages and our own).
            let _ = writeln!(std::io::stderr(), "claulock hook: {e:#}");
            with_reason(fallback, &format!("{e:#}"))
        }
        Err(_) => with_reason(fallback, "it did not answer within 4 s"),
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

/// The answer when the hook cannot do its work: deny a command with
/// placeholders (it would fail in `exec` anyway), let anything else be.
fn fail_safe(event: Event, input: &HookInput, why: &str) -> Answer {
    match (event, input.bash_command()) {
        (Event::PreToolUse, Some(c)) if bash::has_placeholders(c) => Answer::PreToolUse {
            permission: Permission::Deny,
            reason: why.to_owned(),
            updated_input: None,
        },
        _ => Answer::None,
    }
}

fn with_reason(answer: Answer, detail: &str) -> Answer {
    match answer {
        Answer::PreToolUse {
            permission,
            updated_input,
            ..
        } => Answer::PreToolUse {
            permission,
            reason: format!(
                "ClauLock could not check this command ({detail}); it was not run. \
                 Ask the user to run `claulock doctor` in a terminal."
            ),
            updated_input,
        },
        other => other,
    }
}

fn answer(event: Event, input: &HookInput) -> anyhow::Result<Answer> {
    let home = Home::from_env()?;
    match event {
        Event::PreToolUse => pre_tool_use(&home, input),
        Event::PostToolUse => post_tool_use(&home, input),
        Event::UserPromptSubmit => user_prompt_submit(&home, input),
        Event::SessionStart => session_start(&home),
        Event::Stop | Event::SessionEnd => {
            sweep_transcript(&home, input, Vec::new());
            Ok(Answer::None)
        }
    }
}

fn pre_tool_use(home: &Home, input: &HookInput) -> anyhow::Result<Answer> {
    if let Some(command) = input.bash_command() {
        return pre_bash(home, input, command);
    }
    let tool = input.tool_name.as_deref().unwrap_or_default();
    let path = match paths::reads(tool, &input.tool_input, input.cwd.as_deref()) {
        paths::Reads::Nothing => return Ok(Answer::None),
        paths::Reads::File(p) | paths::Reads::Tree(p) => p,
    };
    let path = match (&input.cwd, std::path::Path::new(&path).is_absolute()) {
        (Some(cwd), false) => std::path::Path::new(cwd).join(&path).display().to_string(),
        _ => path,
    };
    // Locked: nothing to compare with; PostToolUse and the sweep remain.
    let Ok(data) = agent::call(
        home,
        Request::Scan {
            paths: vec![path.clone()],
        },
    ) else {
        return Ok(Answer::None);
    };
    let (files, secrets) = findings(&data.unwrap_or_default());
    if secrets.is_empty() {
        return Ok(Answer::None);
    }
    let shown = if files.len() == 1 {
        files[0].clone()
    } else {
        format!("{path} (in {})", files.join(", "))
    };
    Ok(Answer::PreToolUse {
        permission: Permission::Deny,
        reason: paths::refusal(tool, &shown, &secrets),
        updated_input: None,
    })
}

fn pre_bash(home: &Home, input: &HookInput, command: &str) -> anyhow::Result<Answer> {
    let settings = Settings::load(home)?;
    let names = match bash::placeholder_names(command) {
        Ok(n) => n,
        Err(e) => {
            return Ok(Answer::PreToolUse {
                permission: Permission::Deny,
                reason: format!(
                    "ClauLock: {e}. Write a placeholder as {{{{NAME}}}}, or {{{{!NAME}}}} for a literal."
                ),
                updated_input: None,
            });
        }
    };
    let exe = std::env::current_exe().context("cannot find the claulock executable")?;
    let run_dir = home.dir.join("run");
    let wrapped = |_: ()| -> anyhow::Result<Value> {
        ensure_run_dir(&run_dir)?;
        Ok(input.with_bash_command(&bash::wrap(
            &exe.display().to_string(),
            command,
            &run_dir.display().to_string(),
        )))
    };
    if names.is_empty()
        && bash::transforms(command)
        && let Some(refusal) = transformed_file(home, input, command)
    {
        return Ok(refusal);
    }
    if names.is_empty() {
        if !settings.wrap_plain_commands {
            return Ok(Answer::None);
        }
        // No decision: Claude Code's own permission rules apply.
        return Ok(Answer::PreToolUse {
            permission: Permission::Rules,
            reason: "ClauLock: output scrubbed".into(),
            updated_input: Some(wrapped(())?),
        });
    }
    if !home.vault.exists() {
        return Ok(deny(format!(
            "ClauLock: there is no vault yet, so {{{{{}}}}} cannot be resolved. Ask the user to \
             run `claulock init` and `claulock add {}` in a terminal.",
            names[0], names[0]
        )));
    }
    let cwd = input.cwd.clone().unwrap_or_else(|| "/".into());
    let data = match agent::request(
        home,
        Request::Decide {
            command: command.into(),
            cwd,
        },
    ) {
        Err(_) => {
            return Ok(deny(
                "ClauLock: the vault is locked, so this command's secrets cannot be used. \
                 Ask the user to run `claulock unlock` in a terminal, then try again."
                    .into(),
            ));
        }
        Ok(r) if !r.ok => {
            return Ok(deny(format!(
                "ClauLock refused this command: {}",
                r.error.unwrap_or_default()
            )));
        }
        Ok(r) => r.data.unwrap_or_default(),
    };
    if data["allowed"].as_bool() != Some(true) {
        let reasons: Vec<&str> = data["refusals"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        return Ok(deny(format!(
            "ClauLock refused this command (nothing ran):\n- {}\nRewrite the command so the secret \
             goes only to an allowed program and host, and its value is never printed, encoded or \
             written to a file; `claulock check -c '…'` explains a decision.",
            reasons.join("\n- ")
        )));
    }
    let permission = if settings.placeholder_permission == "ask" {
        Permission::Ask
    } else {
        Permission::Allow
    };
    let mut unique = names.clone();
    unique.dedup();
    Ok(Answer::PreToolUse {
        permission,
        reason: format!(
            "ClauLock: runs through `claulock exec` with {} substituted and its output scrubbed",
            unique.join(", ")
        ),
        updated_input: Some(wrapped(())?),
    })
}

/// A refusal when a re-encoding command names a file that holds a value.
fn transformed_file(home: &Home, input: &HookInput, command: &str) -> Option<Answer> {
    let cwd = std::path::Path::new(input.cwd.as_deref().unwrap_or("/"));
    let files: Vec<String> = bash::file_words(command)
        .into_iter()
        .map(|w| cwd.join(w))
        .filter(|p| p.is_file())
        .map(|p| p.display().to_string())
        .collect();
    if files.is_empty() {
        return None;
    }
    let data = agent::call(home, Request::Scan { paths: files }).ok()??;
    let (files, secrets) = findings(&data);
    let first = files.first()?;
    Some(deny(format!(
        "ClauLock refused this command (nothing ran): it re-encodes {first}, which holds the value of {}, and the output could carry it in a form that cannot be scrubbed. To use the secret, write its placeholder ({}) in the command that needs it.",
        secrets.join(", "),
        secrets
            .iter()
            .map(|s| format!("{{{{{s}}}}}"))
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

/// The files and the secrets (each once) of a `scan` answer.
fn findings(data: &Value) -> (Vec<String>, Vec<String>) {
    let mut secrets: Vec<String> = Vec::new();
    let mut files: Vec<String> = Vec::new();
    for f in data["findings"].as_array().into_iter().flatten() {
        files.push(f["path"].as_str().unwrap_or_default().to_owned());
        for s in f["secrets"].as_array().into_iter().flatten() {
            if let Some(s) = s.as_str().filter(|s| !secrets.iter().any(|x| x == s)) {
                secrets.push(s.to_owned());
            }
        }
    }
    (files, secrets)
}

fn deny(reason: String) -> Answer {
    Answer::PreToolUse {
        permission: Permission::Deny,
        reason,
        updated_input: None,
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

fn post_tool_use(home: &Home, input: &HookInput) -> anyhow::Result<Answer> {
    if input.tool_response.is_null() {
        return Ok(Answer::None);
    }
    let caller = format!("hook:{}", input.tool_name.as_deref().unwrap_or("?"));
    let Ok(data) = agent::call(
        home,
        Request::ScrubJson {
            value: input.tool_response.clone(),
            caller,
        },
    ) else {
        return Ok(Answer::None);
    };
    Ok(match data.map(|mut d| d["value"].take()) {
        Some(v) if !v.is_null() => Answer::PostToolUse { updated_output: v },
        _ => Answer::None,
    })
}

fn user_prompt_submit(home: &Home, input: &HookInput) -> anyhow::Result<Answer> {
    let text = input.prompt.clone().unwrap_or_default();
    let scrubbed = agent::call(
        home,
        Request::Scrub {
            text: text.clone(),
            caller: "hook:prompt".into(),
        },
    )
    .ok()
    .flatten()
    .unwrap_or_default();
    let mut secrets: Vec<String> = Vec::new();
    for c in scrubbed["caught"].as_array().into_iter().flatten() {
        if let Some(s) = c[0].as_str().filter(|s| !secrets.iter().any(|x| x == s)) {
            secrets.push(s.to_owned());
        }
    }
    if !secrets.is_empty() {
        sweep_transcript(home, input, Vec::new());
        return Ok(Answer::BlockPrompt {
            reason: prompt::vault_value_reason(&secrets),
        });
    }
    let settings = Settings::load(home)?;
    if settings.block_token_shapes && !text.contains(prompt::OVERRIDE) {
        let shapes = prompt::token_shapes(&text);
        if !shapes.is_empty() {
            let extra = shapes
                .iter()
                .map(|s| text[s.span.clone()].to_owned())
                .collect();
            sweep_transcript(home, input, extra);
            return Ok(Answer::BlockPrompt {
                reason: prompt::token_shape_reason(&shapes),
            });
        }
    }
    sweep_transcript(home, input, Vec::new());
    Ok(Answer::None)
}

fn session_start(home: &Home) -> anyhow::Result<Answer> {
    let (names, locked) = match agent::call(home, Request::List) {
        Ok(list) => (
            list.unwrap_or_default()
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s["name"].as_str().map(str::to_owned))
                .collect(),
            false,
        ),
        Err(_) => (Vec::new(), true),
    };
    Ok(Answer::Context {
        event: "SessionStart",
        text: context::session_context(&names, locked),
    })
}

/// Sweeps the session's transcript (and redacts `extra` strings in it).
fn sweep_transcript(home: &Home, input: &HookInput, extra: Vec<String>) {
    if let Some(path) = &input.transcript_path {
        let _ = agent::call(
            home,
            Request::Sweep {
                paths: vec![path.clone()],
                extra,
            },
        );
    }
}
