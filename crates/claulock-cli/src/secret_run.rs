//! MCP `secret_run`: a shell command with placeholders, for agents whose
//! shell tool ClauLock cannot hook.
//!
//! It goes the way a hooked shell command goes, through the same guard:
//! the policy decides (a refusal is returned, nothing runs), the file
//! guard refuses a command that would print a file holding a value, and
//! the command runs as the guard rewrote it, through `claulock exec`, so
//! that its secrets reach only the programs and hosts they may and its
//! output is scrubbed as it streams. Every command is wrapped, with or
//! without placeholders (`wrap_plain_commands` is forced on): no output
//! reaches the model unscrubbed. The captured output is then scrubbed
//! once more, as a hook's tool output would be; when that cannot be done
//! (the vault was locked meanwhile), it is withheld.
//!
//! `placeholder_permission = "ask"` cannot be honoured here (there is no
//! terminal to ask in, and the MCP client's own tool approval is the
//! client's setting, not ours): such a command is refused with the reason.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use claulock_agent::Home;
use claulock_mcp::backend::RunResult;
use claulock_runtime::{Confirm, Event, ToolCall, Verdict, fallback, with_reason};

use crate::hook::Checker;

/// The most bytes of stdout, and of stderr, a result carries.
const MAX_OUTPUT: usize = 1 << 20;

/// Runs `command` from `cwd` as a hooked shell command would run.
pub(crate) fn run(
    home: &Home,
    command: &str,
    cwd: &str,
    timeout: Duration,
) -> Result<RunResult, String> {
    if !std::path::Path::new(cwd).is_dir() {
        return Err(format!("secret_run: {cwd} is not a directory"));
    }
    let event = Event::ToolCall {
        call: ToolCall::Shell { command },
        cwd: Some(cwd),
    };
    let mut checker = Checker::new(home, &event, true).map_err(|e| format!("{e:#}"))?;
    checker.settings.wrap_plain_commands = true;
    let verdict = checker
        .verdict(&event)
        .unwrap_or_else(|e| with_reason(fallback(&event, true), &e.to_string()));
    let wrapped = match verdict {
        Verdict::Rewrite {
            confirm: Confirm::Ask,
            ..
        } => {
            return Ok(refused(
                "ClauLock: `placeholder_permission = \"ask\"` in hooks.toml asks the user before \
                 each command with secrets, and secret_run cannot ask. Ask the user to run the \
                 command in a terminal (`claulock exec -c '…'`), or to set \
                 `placeholder_permission = \"allow\"`.",
            ));
        }
        Verdict::Rewrite { command, .. } => command,
        Verdict::Deny { reason } => return Ok(refused(&reason)),
        // Not reached with `wrap_plain_commands` on; wrapped all the same.
        Verdict::Pass => {
            claulock_runtime::shell::wrap(&checker.exe, &checker.env, command, &checker.run_dir)
        }
        other => return Err(format!("secret_run: unexpected decision {other:?}")),
    };
    let mut bash = Command::new("bash");
    bash.arg("-c")
        .arg(&wrapped)
        .current_dir(cwd)
        .stdin(Stdio::null());
    let ran = captured(bash, Some(timeout)).map_err(|e| format!("secret_run: {e}"))?;
    // A second sweep, as a hook's output gets (`claulock exec` scrubbed
    // the streams already); withheld when it cannot be done.
    let output = serde_json::json!({"stdout": ran.stdout, "stderr": ran.stderr});
    let output_event = Event::ToolOutput {
        tool: "secret_run",
        output: &output,
    };
    let (stdout, stderr) = match checker.verdict(&output_event) {
        Ok(Verdict::ReplaceOutput { output }) => (text(&output["stdout"]), text(&output["stderr"])),
        Ok(_) => (ran.stdout, ran.stderr),
        Err(e) => (
            String::new(),
            format!("ClauLock withheld the command's output: it could not be scrubbed ({e})."),
        ),
    };
    Ok(RunResult {
        refused: None,
        exit_code: ran.code,
        stdout,
        stderr,
        timed_out: ran.timed_out,
        truncated: ran.truncated,
    })
}

fn refused(reason: &str) -> RunResult {
    RunResult {
        refused: Some(reason.to_owned()),
        ..RunResult::default()
    }
}

fn text(v: &serde_json::Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// What a command printed and how it ended.
pub(crate) struct Ran {
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    pub(crate) code: Option<i32>,
    pub(crate) timed_out: bool,
    pub(crate) truncated: bool,
}

/// Runs `cmd` in a process group of its own, capturing at most
/// [`MAX_OUTPUT`] of each stream (its stdin as the caller set it); past
/// `timeout` the whole group is killed (TERM, then KILL a second later),
/// and what the command left running in its group is killed when it
/// exits.
pub(crate) fn captured(mut cmd: Command, timeout: Option<Duration>) -> std::io::Result<Ran> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()?;
    let group = rustix::process::Pid::from_child(&child);
    let reader = |stream: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut kept = Vec::new();
            let mut truncated = false;
            if let Some(mut s) = stream {
                let mut buf = [0u8; 8192];
                // Read to the end (a full pipe would stall the command),
                // keeping the first MAX_OUTPUT bytes.
                while let Ok(n @ 1..) = s.read(&mut buf) {
                    let room = MAX_OUTPUT.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                    truncated |= n > room;
                }
            }
            (String::from_utf8_lossy(&kept).into_owned(), truncated)
        })
    };
    let out = reader(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let err = reader(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let started = Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if timeout.is_some_and(|t| started.elapsed() >= t) && !timed_out {
            timed_out = true;
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::TERM);
            std::thread::sleep(Duration::from_secs(1));
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // What it left running in its group goes too: it would hold the
    // pipes open, and the result is due when the command is done.
    let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    let (stdout, cut_out) = out.join().unwrap_or_default();
    let (stderr, cut_err) = err.join().unwrap_or_default();
    Ok(Ran {
        stdout,
        stderr,
        code: status.code(),
        timed_out,
        truncated: cut_out || cut_err,
    })
}
