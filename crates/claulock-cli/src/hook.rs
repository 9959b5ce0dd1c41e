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
//! placeholders are never substituted). Without a vault there is nothing
//! to protect and the hooks stand aside.
//!
//! Settings live in `CLAULOCK_HOME/hooks.toml` (see [`Settings`]).

use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use claulock_agent::Home;
use claulock_hooks::{Answer, HookInput, Permission, bash, context, paths, prompt};
use claulock_proto::{Client, Error, Finding, Reply, Request, SecretBytes};
use serde_json::Value;

/// How long a hook may work before it gives its fail-safe answer.
const DEADLINE: Duration = Duration::from_secs(4);
/// Hook inputs larger than this are refused (fail closed): the agent's
/// protocol carries a request line of at most this size.
const MAX_INPUT: usize = claulock_proto::MAX_LINE / 2;

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
        .take(MAX_INPUT as u64 + 1)
        .read_to_end(&mut bytes)
        .context("cannot read the hook input")?;
    // A vault to protect: then what cannot be checked is denied.
    let guarded = Home::from_env().is_ok_and(|h| h.vault.exists());
    if bytes.len() > MAX_INPUT {
        drop(bytes);
        return oversized(event, guarded);
    }
    let input = HookInput::parse(&bytes);
    drop(bytes);
    // Decided before the work, from the input alone: what to answer if the
    // work fails or runs out of time.
    let fallback = match &input {
        Ok(i) => fail_safe(event, i, guarded),
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

/// An input too large to check: a tool call is denied; a tool's output,
/// whose shape is unknown without reading it, is blocked with exit status
/// 2 (Claude Code shows the reason to the model).
fn oversized(event: Event, guarded: bool) -> anyhow::Result<ExitCode> {
    let why = format!(
        "ClauLock cannot check a hook input larger than {} MiB",
        MAX_INPUT >> 20
    );
    match event {
        Event::PreToolUse => {
            let answer = deny(format!("{why}; the tool call was not run."));
            if let Some(json) = answer.to_json() {
                writeln!(std::io::stdout(), "{json}")?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Event::PostToolUse if guarded => {
            let _ = writeln!(std::io::stderr(), "{why}; its output is withheld.");
            Ok(ExitCode::from(2))
        }
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// The answer when the hook cannot do its work. With a vault: deny a tool
/// call (a Bash command, a tool that reads a path) and withhold a tool's
/// output. Without one: deny only a command with placeholders (it would
/// fail in `exec` anyway).
fn fail_safe(event: Event, input: &HookInput, guarded: bool) -> Answer {
    let denial = Answer::PreToolUse {
        permission: Permission::Deny,
        reason: "ClauLock's hook failed".into(),
        updated_input: None,
    };
    match event {
        Event::PreToolUse => match input.bash_command() {
            Some(c) if guarded || bash::has_placeholders(c) => denial,
            Some(_) => Answer::None,
            None => {
                let tool = input.tool_name.as_deref().unwrap_or_default();
                let reads = paths::reads(tool, &input.tool_input, input.cwd.as_deref());
                if guarded && !matches!(reads, paths::Reads::Nothing) {
                    denial
                } else {
                    Answer::None
                }
            }
        },
        Event::PostToolUse if guarded && !input.tool_response.is_null() => Answer::PostToolUse {
            updated_output: input.tool_response.clone(),
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
                "ClauLock could not check this tool call ({detail}); it was not run. \
                 Ask the user to run `claulock unlock` (or `claulock doctor`) in a terminal, \
                 then try again."
            ),
            updated_input,
        },
        Answer::PostToolUse { updated_output } => Answer::PostToolUse {
            updated_output: withheld(&updated_output, detail),
        },
        other => other,
    }
}

/// The tool's output, every string replaced by a notice (the shape kept,
/// so Claude Code takes it).
fn withheld(response: &Value, detail: &str) -> Value {
    let notice = format!(
        "[ClauLock withheld this output: it could not be scrubbed ({detail}). Ask the user to \
         run `claulock unlock` in a terminal, then run the tool again.]"
    );
    let mut first = true;
    claulock_scrub::json::replace_values(response, &mut |_| {
        if std::mem::take(&mut first) {
            notice.clone()
        } else {
            String::new()
        }
    })
}

/// The agent, asked with the hook's deadline.
fn client(home: &Home) -> Client {
    home.client().with_timeout(DEADLINE)
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
    if !home.vault.exists() {
        return Ok(Answer::None);
    }
    let path = match (&input.cwd, std::path::Path::new(&path).is_absolute()) {
        (Some(cwd), false) => std::path::Path::new(cwd).join(&path).display().to_string(),
        _ => path,
    };
    // Locked or unreachable: the error denies (see `fail_safe`).
    let found = client(home).scan(vec![path.clone()])?;
    let (files, secrets) = findings(&found);
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
    if names.is_empty() {
        if !home.vault.exists() {
            return Ok(Answer::None);
        }
        let client = client(home);
        // Locked or unreachable: the error denies (see `fail_safe`).
        client.status()?;
        if bash::transforms(command)
            && let Some(refusal) = transformed_file(&client, input, command)?
        {
            return Ok(refusal);
        }
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
    let verdict = match client(home).decide(command, &cwd) {
        Err(e @ (Error::Locked | Error::NoVault { .. })) => {
            return Ok(deny(format!(
                "ClauLock: {e}, so this command's secrets cannot be used. Ask the user to run \
                 `claulock unlock` in a terminal, then try again."
            )));
        }
        Err(e) if e.is_unavailable() => return Err(e.into()),
        Err(e) => return Ok(deny(format!("ClauLock refused this command: {e}"))),
        Ok(v) => v,
    };
    if !verdict.allowed {
        return Ok(deny(format!(
            "ClauLock refused this command (nothing ran):\n- {}\nRewrite the command so the secret \
             goes only to an allowed program and host, and its value is never printed, encoded or \
             written to a file; `claulock check -c '…'` explains a decision.",
            verdict.refusals.join("\n- ")
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
fn transformed_file(
    client: &Client,
    input: &HookInput,
    command: &str,
) -> anyhow::Result<Option<Answer>> {
    let cwd = std::path::Path::new(input.cwd.as_deref().unwrap_or("/"));
    let files: Vec<String> = bash::file_words(command)
        .into_iter()
        .map(|w| cwd.join(w))
        .filter(|p| p.is_file())
        .map(|p| p.display().to_string())
        .collect();
    if files.is_empty() {
        return Ok(None);
    }
    let found = client.scan(files)?;
    let (files, secrets) = findings(&found);
    let Some(first) = files.first() else {
        return Ok(None);
    };
    Ok(Some(deny(format!(
        "ClauLock refused this command (nothing ran): it re-encodes {first}, which holds the value of {}, and the output could carry it in a form that cannot be scrubbed. To use the secret, write its placeholder ({}) in the command that needs it.",
        secrets.join(", "),
        secrets
            .iter()
            .map(|s| format!("{{{{{s}}}}}"))
            .collect::<Vec<_>>()
            .join(", ")
    ))))
}

/// The files and the secrets (each once) of a scan.
fn findings(found: &[Finding]) -> (Vec<String>, Vec<String>) {
    let mut secrets: Vec<String> = Vec::new();
    let mut files: Vec<String> = Vec::new();
    for f in found {
        files.push(f.path.clone());
        for s in &f.secrets {
            if !secrets.contains(s) {
                secrets.push(s.clone());
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
    if input.tool_response.is_null() || !home.vault.exists() {
        return Ok(Answer::None);
    }
    let caller = format!("hook:{}", input.tool_name.as_deref().unwrap_or("?"));
    // Locked or unreachable: the error withholds the output (`fail_safe`).
    let reply = client(home).request(&Request::ScrubJson {
        value: input.tool_response.clone(),
        caller,
    })?;
    Ok(match reply {
        Reply::ScrubbedJson {
            value: Some(v),
            caught: _,
        } => Answer::PostToolUse { updated_output: v },
        Reply::ScrubbedJson { value: None, .. } => Answer::None,
        other => return Err(claulock_proto::unexpected(&other).into()),
    })
}

fn user_prompt_submit(home: &Home, input: &HookInput) -> anyhow::Result<Answer> {
    let text = input.prompt.clone().unwrap_or_default();
    // The prompt is the user's own text: a locked agent cannot compare it
    // with the vault, and the shape check below still runs.
    let caught = match client(home).request(&Request::Scrub {
        text: text.clone(),
        caller: "hook:prompt".into(),
    }) {
        Ok(Reply::Scrubbed { caught, .. }) => caught,
        _ => Vec::new(),
    };
    let mut secrets: Vec<String> = Vec::new();
    for c in caught {
        if !secrets.contains(&c.secret) {
            secrets.push(c.secret);
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
                .map(|s| SecretBytes::from(text[s.span.clone()].as_bytes()))
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
    let (names, locked) = match client(home).list() {
        Ok(list) => (list.into_iter().map(|s| s.name).collect(), false),
        Err(_) => (Vec::new(), true),
    };
    Ok(Answer::Context {
        event: "SessionStart",
        text: context::session_context(&names, locked),
    })
}

/// Sweeps the session's transcript (and redacts `extra` strings in it).
fn sweep_transcript(home: &Home, input: &HookInput, extra: Vec<SecretBytes>) {
    if let Some(path) = &input.transcript_path {
        let _ = client(home).sweep(&Request::Sweep {
            paths: vec![path.clone()],
            extra,
        });
    }
}
