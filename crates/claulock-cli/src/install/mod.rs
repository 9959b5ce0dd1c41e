//! `claulock install | uninstall | doctor`: ClauLock's hooks and MCP
//! server in each coding agent's configuration, and a check of the whole
//! installation.
//!
//! | agent | hooks | MCP server | scopes |
//! |---|---|---|---|
//! | Claude Code | `~/.claude/settings.json`, `.claude/settings.json` | `~/.claude.json`, `.mcp.json` | user, project |
//! | Codex CLI | `$CODEX_HOME/config.toml` (`~/.codex`), with their trust | the same file | user |
//! | Gemini CLI | `~/.gemini/settings.json`, `.gemini/settings.json` | the same file | user, project |
//! | OpenCode | the plugin `claulock.js` in `~/.config/opencode/plugins/`, `.opencode/plugins/` | `opencode.json` | user, project |
//!
//! `install` merges ClauLock's entries into what is there, keeping
//! everything else as it was (keys in their order, the file's indentation,
//! its mode), writing each file atomically. It is idempotent: ClauLock's
//! own entries are recognised by their command (`… claulock … hook EVENT
//! [--agent A]`, `… claulock mcp`) and replaced, never duplicated.
//! `uninstall` removes those entries and nothing else, and a file that
//! held only them; install then uninstall leaves a file as it was, byte
//! for byte, when it was formatted as its agent writes it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::{Map, Value};

use claulock_agent::Home;
use claulock_hooks::Agent;
use claulock_hooks::settings::Invocation;

mod claude;
mod codex;
mod gemini;
mod opencode;

#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum Scope {
    /// The user's configuration: every project of this user.
    User,
    /// The configuration of the project in the current directory.
    Project,
}

/// The agents found on this machine (their command on `PATH`, or their
/// configuration directory); Claude Code when none is.
fn found_agents() -> Vec<Agent> {
    let found: Vec<Agent> = Agent::ALL
        .iter()
        .map(|(_, a)| *a)
        .filter(|a| match a {
            Agent::ClaudeCode => claude::found(),
            Agent::Codex => codex::found(),
            Agent::Gemini => gemini::found(),
            Agent::OpenCode => opencode::found(),
        })
        .collect();
    if found.is_empty() {
        vec![Agent::ClaudeCode]
    } else {
        found
    }
}

/// The agent's name as people write it.
fn title(agent: Agent) -> &'static str {
    match agent {
        Agent::ClaudeCode => "Claude Code",
        Agent::Codex => "Codex CLI",
        Agent::Gemini => "Gemini CLI",
        Agent::OpenCode => "OpenCode",
    }
}

/// `claulock install [--agent A]… [--scope S] [--sandbox]`.
pub(crate) fn install(agents: &[Agent], scope: Scope, sandbox: bool) -> anyhow::Result<ExitCode> {
    let agents = if agents.is_empty() {
        found_agents()
    } else {
        agents.to_vec()
    };
    if sandbox && agents.iter().any(|a| *a != Agent::ClaudeCode) {
        bail!(
            "--sandbox configures Claude Code's Bash sandbox: use it with `--agent claude-code` only"
        );
    }
    if matches!(scope, Scope::Project) && agents.contains(&Agent::Codex) {
        bail!(
            "Codex CLI reads hooks from $CODEX_HOME/config.toml only (a project's .codex/ holds no trusted hooks): install it with `--scope user`"
        );
    }
    let invocation = invocation(scope)?;
    let mut out = std::io::stdout().lock();
    for agent in &agents {
        match agent {
            Agent::ClaudeCode => claude::install(scope, sandbox, &invocation, &mut out),
            Agent::Codex => codex::install(&invocation, &mut out),
            Agent::Gemini => gemini::install(scope, &invocation, &mut out),
            Agent::OpenCode => opencode::install(scope, &invocation, &mut out),
        }
        .with_context(|| format!("{}: nothing more was changed", title(*agent)))?;
    }
    writeln!(
        out,
        "next: `claulock doctor` checks the vault, the agent and this installation"
    )?;
    out.flush()?;
    drop(out);
    let home = Home::from_env()?;
    if !home.vault.exists() {
        // The hooks guard whatever they find (a missing vault may be a
        // renamed one): say so before the first session.
        let _ = writeln!(
            std::io::stderr(),
            "claulock: warning: there is no vault at {} yet; until `claulock init` and \
             `claulock unlock`, the hooks deny shell and file tools (`claulock uninstall` removes them)",
            home.vault.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `claulock uninstall [--agent A]… [--scope S]`: every agent when none is
/// named.
pub(crate) fn uninstall(agents: &[Agent], scope: Scope) -> anyhow::Result<ExitCode> {
    let agents: Vec<Agent> = if agents.is_empty() {
        Agent::ALL.iter().map(|(_, a)| *a).collect()
    } else {
        agents.to_vec()
    };
    let mut out = std::io::stdout().lock();
    for agent in agents {
        match (agent, scope) {
            (Agent::ClaudeCode, _) => claude::uninstall(scope, &mut out),
            (Agent::Codex, Scope::User) => codex::uninstall(&mut out),
            (Agent::Codex, Scope::Project) => Ok(()),
            (Agent::Gemini, _) => gemini::uninstall(scope, &mut out),
            (Agent::OpenCode, _) => opencode::uninstall(scope, &mut out),
        }
        .with_context(|| format!("{}: nothing more was changed", title(agent)))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn read_settings(path: &Path) -> anyhow::Result<Map<String, Value>> {
    match std::fs::read_to_string(path) {
        Ok(text) if text.trim().is_empty() => Ok(Map::new()),
        Ok(text) => match serde_json::from_str(&text) {
            Ok(Value::Object(o)) => Ok(o),
            Ok(_) => bail!(
                "{} is not a JSON object; fix it by hand, nothing was changed",
                path.display()
            ),
            Err(e) => bail!(
                "{} is not valid JSON ({e}); fix it by hand, nothing was changed",
                path.display()
            ),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Map::new()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Writes the settings atomically, keeping the file's mode (a new file is
/// private: `mode_if_new`) and formatting ([`json_like`]). No backup is
/// left behind: the write replaces the file whole or not at all, and keeps
/// everything that is not ClauLock's as it was. A file that ends up empty,
/// `{}`, is removed instead (ClauLock made it, or nothing of the user's is
/// left in it).
fn write_settings(
    path: &Path,
    settings: &Map<String, Value>,
    mode_if_new: u32,
) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if settings.is_empty() {
        return remove_file(path);
    }
    let dir = path.parent().context("settings path has no directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mode = std::fs::metadata(path).map_or(mode_if_new, |m| m.permissions().mode());
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let text = json_like(&old, &Value::Object(settings.clone()))?;
    crate::replace::replace(path, text.as_bytes(), mode, None)
}

/// `value` as JSON written the way `old` was: its indentation (two spaces
/// when there is none to go by, or the file was on one line: then one line
/// again) and whether it ended with a line break. So a file its agent
/// wrote comes back byte for byte after install and uninstall.
fn json_like(old: &str, value: &Value) -> anyhow::Result<String> {
    use serde::Serialize;
    let trimmed = old.trim_end();
    let one_line = !trimmed.is_empty() && !trimmed.contains('\n');
    let newline = old.is_empty() || old.ends_with('\n');
    let mut text = if one_line {
        serde_json::to_string(value)?
    } else {
        let indent: String = old
            .lines()
            .nth(1)
            .map(|l| l.chars().take_while(|c| *c == ' ' || *c == '\t').collect())
            .filter(|i: &String| !i.is_empty())
            .unwrap_or_else(|| "  ".into());
        let mut buf = Vec::new();
        let formatter = serde_json::ser::PrettyFormatter::with_indent(indent.as_bytes());
        value.serialize(&mut serde_json::Serializer::with_formatter(
            &mut buf, formatter,
        ))?;
        String::from_utf8(buf)?
    };
    if newline {
        text.push('\n');
    }
    Ok(text)
}

/// Removes a file ClauLock emptied (it made it, or nothing of the user's
/// is left in it); a missing one is fine.
fn remove_file(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// How the hooks and the MCP server will call this binary. User scope
/// records `CLAULOCK_HOME` (and `CLAULOCK_SOCKET`) when they are set, so a
/// Claude Code started from another shell finds the same vault; a
/// project's settings are shared, so there they are only warned about.
fn invocation(scope: Scope) -> anyhow::Result<Invocation> {
    let exe = std::env::current_exe().context("cannot find the claulock executable")?;
    if let Some(why) = fragile_binary(&exe) {
        let _ = writeln!(
            std::io::stderr(),
            "claulock: WARNING: the hooks will call {}, {why}: if it goes away, an agent may run every command unprotected (Claude Code, Codex and Gemini CLI do not stop a tool for a hook they cannot start). Install the binary where it stays (`cargo install --locked --path crates/claulock-cli`) and run `claulock install` again from there.",
            exe.display()
        );
    }
    let mut env = Vec::new();
    for var in ["CLAULOCK_HOME", "CLAULOCK_SOCKET"] {
        let Some(value) = std::env::var_os(var) else {
            continue;
        };
        let path = PathBuf::from(&value);
        let path = std::fs::canonicalize(&path).unwrap_or(path);
        match scope {
            Scope::User => env.push((var.to_owned(), path.display().to_string())),
            Scope::Project => {
                let _ = writeln!(
                    std::io::stderr(),
                    "claulock: warning: {var} is set ({}), but a project's settings are shared and do not record it: start the agent with the same {var}, or use `--scope user`",
                    path.display()
                );
            }
        }
    }
    // A project's settings are committed: name the binary as `PATH` finds
    // it when that is this one, so that the file holds no path of this
    // machine.
    let shared = matches!(scope, Scope::Project)
        && which("claulock")
            .and_then(|p| std::fs::canonicalize(p).ok())
            .zip(std::fs::canonicalize(&exe).ok())
            .is_some_and(|(a, b)| a == b);
    if matches!(scope, Scope::Project) && !shared {
        let _ = writeln!(
            std::io::stderr(),
            "claulock: warning: the project's settings will call {}, a path of this machine: put claulock on PATH (`cargo install --locked --path crates/claulock-cli`) and install again to write a bare `claulock`",
            exe.display()
        );
    }
    Ok(Invocation {
        exe: if shared {
            "claulock".to_owned()
        } else {
            exe.display().to_string()
        },
        env,
    })
}

/// Why calling `exe` from an agent's settings would break by itself
/// (`None`: it would not): a build directory that `cargo clean` empties.
fn fragile_binary(exe: &Path) -> Option<&'static str> {
    let parts: Vec<_> = exe.components().map(|c| c.as_os_str()).collect();
    parts
        .windows(2)
        .any(|w| w[0] == "target" && (w[1] == "debug" || w[1] == "release"))
        .then_some(
            "inside a cargo target directory (`cargo clean` or moving the checkout deletes it)",
        )
}

/// The mode of a settings file install creates: the user's are private
/// (Claude Code keeps its own files 0600), a project's are committed.
fn new_file_mode(scope: Scope) -> u32 {
    match scope {
        Scope::User => 0o600,
        Scope::Project => 0o644,
    }
}

/// One doctor finding.
struct Finding {
    ok: bool,
    what: String,
}

pub(crate) fn doctor(json: bool) -> anyhow::Result<ExitCode> {
    let mut f: Vec<Finding> = Vec::new();
    let mut check = |ok: bool, what: String| f.push(Finding { ok, what });
    let home = Home::from_env()?;
    let exe = std::env::current_exe().context("cannot find the claulock executable")?;

    let vault = home.vault.exists();
    check(
        vault,
        if vault {
            format!("vault: {}", home.vault.display())
        } else {
            format!("no vault at {}: run `claulock init`", home.vault.display())
        },
    );
    match home.client().status() {
        Ok(data) => {
            check(
                true,
                format!(
                    "agent: unlocked, {} secret(s), pid {}",
                    data.secrets, data.pid
                ),
            );
            let same = Some(data.pid)
                .and_then(|pid| std::fs::metadata(format!("/proc/{pid}/exe")).ok())
                .zip(std::fs::metadata(&exe).ok())
                .is_some_and(|(a, b)| {
                    use std::os::unix::fs::MetadataExt;
                    (a.dev(), a.ino()) == (b.dev(), b.ino())
                });
            check(
                same,
                if same {
                    "agent runs this claulock binary".into()
                } else {
                    "the agent runs another claulock binary (upgraded?): `claulock lock`, then `claulock unlock`, or `exec` will be refused".into()
                },
            );
            // Values left in plaintext: what the model could read whatever
            // the hooks do.
            let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
            let project = claulock_agent::project::root(&cwd).unwrap_or(cwd);
            let user_home = std::env::var_os("HOME").map(PathBuf::from);
            let leftovers = crate::plaintext::find(&home.client(), &project, user_home.as_deref());
            if leftovers.is_empty() {
                check(
                    true,
                    format!(
                        "no vault value in plaintext under {}, in its git history, your credential files or the environment",
                        project.display()
                    ),
                );
            }
            for l in leftovers {
                check(false, l.what);
            }
        }
        Err(_) if vault => check(
            false,
            "the vault is locked: run `claulock unlock` in a terminal".into(),
        ),
        Err(_) => {}
    }
    match crate::hook::load_settings(&home) {
        Ok(_) => check(true, "hook settings: readable".into()),
        Err(e) => check(
            false,
            format!(
                "hook settings: {e:#}: fix the line it names, or remove the file for the defaults (until then every hook denies)"
            ),
        ),
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    if let Some(root) = claulock_agent::project::root(&cwd) {
        let file = root.join(claulock_agent::project::POLICY_FILE);
        if let Ok(text) = std::fs::read_to_string(&file) {
            match claulock_core::policy_file::parse(&text) {
                Ok(_) => check(true, format!("{}: valid", file.display())),
                Err(e) => check(
                    false,
                    format!(
                        "{}: {e}: fix it (until then commands with placeholders in this project are refused)",
                        file.display()
                    ),
                ),
            }
        }
    }
    let mut any = false;
    for (_, agent) in Agent::ALL {
        any |= match agent {
            Agent::ClaudeCode => claude::doctor(&mut check),
            Agent::Codex => codex::doctor(&mut check),
            Agent::Gemini => gemini::doctor(&mut check),
            Agent::OpenCode => opencode::doctor(&mut check),
        };
    }
    if !any {
        check(
            false,
            "ClauLock is installed in no agent (Claude Code, Codex CLI, Gemini CLI, OpenCode): run `claulock install`".into(),
        );
    }
    check(
        which("bash").is_some(),
        "bash is needed by `claulock exec`".into(),
    );

    let mut out = std::io::stdout().lock();
    let bad = f.iter().filter(|x| !x.ok).count();
    if json {
        let checks: Vec<Value> = f
            .iter()
            .map(|x| serde_json::json!({"ok": x.ok, "what": x.what}))
            .collect();
        let report = serde_json::json!({"ok": bad == 0, "to_fix": bad, "checks": checks});
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
        return Ok(ExitCode::from(u8::from(bad > 0)));
    }
    for x in &f {
        writeln!(out, "{} {}", if x.ok { "ok " } else { "FIX" }, x.what)?;
    }
    if bad == 0 {
        writeln!(out, "all good")?;
        Ok(ExitCode::SUCCESS)
    } else {
        writeln!(out, "{bad} thing(s) to fix")?;
        Ok(ExitCode::from(1))
    }
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(program))
            .find(|c| c.is_file())
    })
}

/// ClauLock's hook commands in a JSON settings object (Claude Code's and
/// Gemini CLI's shape: event → matcher groups → command hooks).
fn hook_commands(settings: &Map<String, Value>) -> Vec<String> {
    settings
        .get("hooks")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|h| h.values())
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|e| e["hooks"].as_array())
        .flatten()
        .filter_map(|h| h["command"].as_str().map(str::to_owned))
        .filter(|c| claulock_hooks::settings::is_ours(c))
        .collect()
}

/// The program a hook command runs (after any `CLAULOCK_HOME=…`).
fn program(command: &str) -> String {
    claulock_core::shell::simple_commands(command)
        .ok()
        .and_then(|cmds| cmds.into_iter().next())
        .and_then(|cmd| cmd.words.first().and_then(|w| w.text().map(str::to_owned)))
        .unwrap_or_default()
}

/// Doctor: the binary the hooks call exists and stays (`agent` names the
/// `--agent` to install again with).
fn check_binaries(commands: &[String], agent: &str, check: &mut dyn FnMut(bool, String)) {
    for c in commands {
        let bin = program(c);
        if !(Path::new(&bin).is_file() || which(&bin).is_some()) {
            check(
                false,
                format!(
                    "hook command `{c}`: {bin} not found: run `claulock install --agent {agent}` again"
                ),
            );
            return;
        }
        if let Some(why) = fragile_binary(Path::new(&bin)) {
            check(
                false,
                format!(
                    "the hooks call {bin}, {why}: install the binary where it stays (`cargo install --locked --path crates/claulock-cli`) and run `claulock install --agent {agent}` again"
                ),
            );
            return;
        }
    }
}
