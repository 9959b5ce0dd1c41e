//! `claulock hook EVENT [--agent NAME]`: an agent's hooks, stdin JSON to
//! stdout JSON (Claude Code's by default; `claulock_hooks::Agent` lists
//! the others and what differs).
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
use claulock_hooks::{Agent, Hook, HookInput};
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

/// `claulock hook … --agent NAME`: the agent of that name.
pub(crate) fn parse_agent(name: &str) -> Result<Agent, String> {
    Agent::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = Agent::ALL.iter().map(|(n, _)| *n).collect();
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

pub(crate) fn run(hook: Hook, agent: Agent) -> anyhow::Result<ExitCode> {
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
        return oversized(hook, agent, guarded);
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
        let _ = tx.send(answer(hook, agent, &worker_input, &home, guarded));
    });
    let answer = match rx.recv_timeout(DEADLINE) {
        Ok(Ok(a)) => a,
        Ok(Err(e)) => {
            // The error names no value (hook errors come from the agent's
            // messages and our own).
            let _ = writeln!(std::io::stderr(), "claulock hook: {e:#}");
            let event = agent.event(hook, &input);
            let verdict = with_reason(fallback(&event, guarded), &format!("{e:#}"));
            agent.answer(hook, &input, verdict)
        }
        Err(_) => {
            let event = agent.event(hook, &input);
            let why = "it did not answer within 4 s";
            agent.answer(hook, &input, with_reason(fallback(&event, guarded), why))
        }
    };
    if let Some(json) = answer {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer(&mut out, &json)?;
        writeln!(out)?;
        out.flush()?;
    }
    // Do not wait for a worker that overran the deadline.
    std::process::exit(0)
}

fn answer(
    hook: Hook,
    agent: Agent,
    input: &HookInput,
    home: &Home,
    guarded: bool,
) -> anyhow::Result<Option<serde_json::Value>> {
    let event = agent.event(hook, input);
    let mut checker = Checker::new(home, &event, guarded)?;
    checker.settings.wrap_plain_commands |= agent.wraps_every_command();
    Ok(agent.answer(hook, input, checker.verdict(&event)?))
}

/// What the guard needs to decide an event, read once: the settings, the
/// `claulock` executable a rewrite calls, the run directory and a client
/// with the hooks' deadline. The hooks and `secret_run` decide through it.
pub(crate) struct Checker {
    pub(crate) settings: Settings,
    pub(crate) exe: String,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) run_dir: String,
    client: claulock_proto::Client,
    guarded: bool,
}

impl Checker {
    /// Reads the settings (an invalid file is an error: the caller fails
    /// closed) and, for a shell command, makes the run directory.
    pub(crate) fn new(home: &Home, event: &Event<'_>, guarded: bool) -> anyhow::Result<Checker> {
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
        // The home and socket this hook found the agent by: the command
        // it rewrites finds the same one, whatever the agent's shell has.
        let env = ["CLAULOCK_HOME", "CLAULOCK_SOCKET"]
            .into_iter()
            .filter_map(|k| {
                let v = std::env::var_os(k)?;
                let p = std::path::PathBuf::from(&v);
                let p = std::fs::canonicalize(&p).unwrap_or(p);
                Some((k.to_owned(), p.display().to_string()))
            })
            .collect();
        Ok(Checker {
            settings,
            exe: exe.display().to_string(),
            env,
            run_dir: run_dir.display().to_string(),
            client: home.client().with_timeout(DEADLINE),
            guarded,
        })
    }

    /// The guard's verdict on `event`.
    pub(crate) fn verdict(
        &self,
        event: &Event<'_>,
    ) -> Result<claulock_runtime::Verdict, claulock_proto::Error> {
        Guard {
            agent: &self.client,
            settings: &self.settings,
            guarded: self.guarded,
            exe: &self.exe,
            env: &self.env,
            run_dir: &self.run_dir,
            workspace: &workspace::Host,
        }
        .verdict(event)
    }
}

/// An input too large to check: a tool call is denied; a tool's output,
/// whose shape is unknown without reading it, is withheld (for Claude
/// Code, by exit status 2, whose reason Claude Code shows the model).
fn oversized(hook: Hook, agent: Agent, guarded: bool) -> anyhow::Result<ExitCode> {
    let why = format!(
        "ClauLock cannot check a hook input larger than {} MiB",
        MAX_INPUT >> 20
    );
    let verdict = match hook {
        Hook::PreToolUse => claulock_runtime::Verdict::Deny {
            reason: format!("{why}; the tool call was not run."),
        },
        Hook::PostToolUse if guarded && agent == Agent::ClaudeCode => {
            let _ = writeln!(std::io::stderr(), "{why}; its output is withheld.");
            return Ok(ExitCode::from(2));
        }
        Hook::PostToolUse if guarded => claulock_runtime::Verdict::ReplaceOutput {
            output: serde_json::Value::String(format!("[{why}; its output is withheld.]")),
        },
        _ => return Ok(ExitCode::SUCCESS),
    };
    if let Some(json) = agent.answer(hook, &HookInput::default(), verdict) {
        writeln!(std::io::stdout(), "{json}")?;
    }
    Ok(ExitCode::SUCCESS)
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

/// The file system as the file guard sees it (see
/// [`claulock_runtime::Workspace`]). It runs in the hook, which holds no
/// value: a blob git prints is sent to the agent's scrubber, which answers
/// with names only.
mod workspace {
    use std::io::{Read, Write};
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};

    /// The most file-version bytes of a repository the guard reads to check
    /// a git command that re-encodes (past it the command is refused).
    const GIT_BUDGET: u64 = 32 << 20;

    pub(super) struct Host;

    impl claulock_runtime::Workspace for Host {
        fn entries(&self, dir: &Path) -> Option<Vec<(String, bool)>> {
            let entries = std::fs::read_dir(dir).ok()?;
            Some(
                entries
                    .flatten()
                    .map(|e| {
                        let is_dir = std::fs::metadata(e.path()).is_ok_and(|m| m.is_dir());
                        (e.file_name().to_string_lossy().into_owned(), is_dir)
                    })
                    .collect(),
            )
        }

        fn resolve(&self, path: &Path) -> Option<PathBuf> {
            std::fs::canonicalize(path).ok()
        }

        fn home(&self) -> Option<PathBuf> {
            std::env::var_os("HOME").map(PathBuf::from)
        }

        fn project_root(&self, dir: &Path) -> Option<PathBuf> {
            claulock_agent::project::root(dir)
        }

        fn git_contents(
            &self,
            cwd: &Path,
            repo: &[String],
            objects: &[String],
        ) -> Result<Vec<Vec<u8>>, String> {
            if objects.iter().any(|o| o.contains('\n')) {
                return Err("an object name holds a line break".into());
            }
            let mut blobs: Vec<String> = Vec::new();
            let mut everything = objects.is_empty();
            if !everything {
                let listing = git(cwd, repo, &["cat-file", CHECK], &objects.join("\n"))?;
                for line in String::from_utf8_lossy(&listing).lines() {
                    match line.split(' ').collect::<Vec<_>>().as_slice() {
                        [id, "blob", _] => blobs.push((*id).to_owned()),
                        [_, "missing"] | [_, "ambiguous"] => {}
                        // A commit, a tree, a tag: what it shows is any of
                        // its files.
                        _ => everything = true,
                    }
                }
            }
            if everything {
                blobs.clear();
                let listing = git(cwd, repo, &["cat-file", "--batch-all-objects", CHECK], "")?;
                let mut total = 0u64;
                for line in String::from_utf8_lossy(&listing).lines() {
                    if let [id, "blob", size] = line.split(' ').collect::<Vec<_>>().as_slice() {
                        total += size.parse::<u64>().unwrap_or(u64::MAX);
                        blobs.push((*id).to_owned());
                    }
                }
                if total > GIT_BUDGET {
                    return Err(format!(
                        "the repository holds {} MiB of file versions, more than the {} MiB \
                         ClauLock reads to check a command",
                        total >> 20,
                        GIT_BUDGET >> 20
                    ));
                }
            }
            if blobs.is_empty() {
                return Ok(Vec::new());
            }
            let out = git(cwd, repo, &["cat-file", "--batch"], &blobs.join("\n"))?;
            parse_batch(&out)
        }
    }

    const CHECK: &str = "--batch-check=%(objectname) %(objecttype) %(objectsize)";

    /// `git REPO… ARGS` in `cwd` with `input` on stdin: its stdout, at most
    /// a little over [`GIT_BUDGET`]. No repository (or no git) is an empty
    /// answer: the model's command fails the same way. The repository's
    /// configuration cannot start a program here (`cat-file` runs no
    /// pager, hook, textconv or fsmonitor; fsmonitor is turned off anyway).
    fn git(cwd: &Path, repo: &[String], args: &[&str], input: &str) -> Result<Vec<u8>, String> {
        let mut child = match Command::new("git")
            .current_dir(cwd)
            .args(["-c", "core.fsmonitor=false", "--no-pager"])
            .args(repo)
            .args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env_remove("GIT_EXTERNAL_DIFF")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(c) => c,
            Err(_) => return Ok(Vec::new()),
        };
        let mut stdin = child.stdin.take();
        let input = input.to_owned();
        // Written from a thread: git answers while it reads.
        let writer = std::thread::spawn(move || {
            if let Some(s) = stdin.as_mut() {
                let _ = s.write_all(input.as_bytes());
                let _ = s.write_all(b"\n");
            }
        });
        let mut out = Vec::new();
        let limit = GIT_BUDGET + (8 << 20);
        if let Some(stdout) = child.stdout.take() {
            let _ = stdout.take(limit + 1).read_to_end(&mut out);
        }
        let _ = child.kill();
        let status = child.wait();
        let _ = writer.join();
        if out.len() as u64 > limit {
            return Err("git printed more than ClauLock reads to check a command".into());
        }
        if !status.is_ok_and(|s| s.success()) && out.is_empty() {
            return Ok(Vec::new());
        }
        Ok(out)
    }

    /// The contents in `git cat-file --batch` output.
    fn parse_batch(out: &[u8]) -> Result<Vec<Vec<u8>>, String> {
        let mut blobs = Vec::new();
        let mut rest = out;
        while !rest.is_empty() {
            let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                break;
            };
            let header = String::from_utf8_lossy(&rest[..nl]).into_owned();
            rest = &rest[nl + 1..];
            let parts: Vec<&str> = header.split(' ').collect();
            let [_, _, size] = parts.as_slice() else {
                continue;
            };
            let size: usize = size
                .parse()
                .map_err(|_| "git's answer could not be read".to_owned())?;
            if rest.len() < size {
                return Err("git's answer was cut short".into());
            }
            blobs.push(rest[..size].to_vec());
            rest = rest.get(size + 1..).unwrap_or_default();
        }
        Ok(blobs)
    }
}
