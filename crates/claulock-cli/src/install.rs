//! `claulock install | uninstall | doctor`: the Claude Code integration in
//! Claude Code's settings, and a check of the whole installation.
//!
//! `install` merges ClauLock's hooks into `~/.claude/settings.json`
//! (`--scope user`) or `.claude/settings.json` in the current directory
//! (`--scope project`), keeping everything else there as it was (keys in
//! their order), backing the file up first and writing it atomically. It
//! is idempotent: ClauLock's own entries are recognised by their command
//! (`… claulock … hook EVENT`) and replaced, never duplicated.
//! `uninstall` removes those entries and nothing else.
//!
//! It also registers the MCP server (`claulock mcp`) as `claulock`: in
//! `~/.claude.json` (user scope) or the project's `.mcp.json`, which the
//! project's settings then approve (`enabledMcpjsonServers`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::{Map, Value, json};

use claulock_agent::Home;

/// Claude Code's hook events, the `claulock hook` argument for each, and
/// the tool matcher (tool events only).
pub(crate) const HOOKS: &[(&str, &str, Option<&str>)] = &[
    ("SessionStart", "session-start", None),
    ("UserPromptSubmit", "user-prompt-submit", None),
    (
        "PreToolUse",
        "pre-tool-use",
        Some("Bash|Read|Edit|MultiEdit|Write|NotebookRead|NotebookEdit|Grep"),
    ),
    ("PostToolUse", "post-tool-use", Some("*")),
    ("Stop", "stop", None),
    ("SessionEnd", "session-end", None),
];

/// Seconds Claude Code gives each hook (the hooks' own deadline is 4 s).
const HOOK_TIMEOUT_SECS: u64 = 10;

#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum Scope {
    /// ~/.claude/settings.json: every project of this user.
    User,
    /// .claude/settings.json in the current directory.
    Project,
}

fn settings_path(scope: Scope) -> anyhow::Result<PathBuf> {
    Ok(match scope {
        Scope::User => PathBuf::from(std::env::var_os("HOME").context("HOME is not set")?)
            .join(".claude/settings.json"),
        Scope::Project => std::env::current_dir()?.join(".claude/settings.json"),
    })
}

/// Where Claude Code reads MCP servers for `scope`.
fn mcp_config_path(scope: Scope) -> anyhow::Result<PathBuf> {
    Ok(match scope {
        Scope::User => {
            PathBuf::from(std::env::var_os("HOME").context("HOME is not set")?).join(".claude.json")
        }
        Scope::Project => std::env::current_dir()?.join(".mcp.json"),
    })
}

/// The name ClauLock's MCP server is registered under.
const MCP_NAME: &str = "claulock";

/// ClauLock's MCP server entry, calling `exe`.
pub(crate) fn mcp_entry(exe: &str) -> Value {
    json!({"type": "stdio", "command": exe, "args": ["mcp"]})
}

/// Puts ClauLock's MCP server into a config object; whether one was there.
fn add_mcp(config: &mut Map<String, Value>, exe: &str) -> anyhow::Result<bool> {
    let servers = config
        .entry("mcpServers")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(servers) = servers else {
        bail!("\"mcpServers\" is not an object; fix it by hand, nothing was changed");
    };
    Ok(servers.insert(MCP_NAME.into(), mcp_entry(exe)).is_some())
}

/// Removes ClauLock's MCP server (only if it runs `… claulock … mcp`);
/// drops `mcpServers` if that empties it.
fn remove_mcp(config: &mut Map<String, Value>) -> bool {
    let Some(Value::Object(servers)) = config.get_mut("mcpServers") else {
        return false;
    };
    let ours = servers.get(MCP_NAME).is_some_and(|e| {
        e["command"]
            .as_str()
            .is_some_and(|c| c.contains("claulock"))
            && e["args"] == json!(["mcp"])
    });
    if ours {
        servers.remove(MCP_NAME);
        if servers.is_empty() {
            config.remove("mcpServers");
        }
    }
    ours
}

/// Approves (or stops approving) the project's `.mcp.json` entry in the
/// project settings' `enabledMcpjsonServers`.
fn approve_project_mcp(settings: &mut Map<String, Value>, on: bool) {
    let list = settings
        .entry("enabledMcpjsonServers")
        .or_insert_with(|| json!([]));
    if let Value::Array(list) = list {
        list.retain(|v| v != MCP_NAME);
        if on {
            list.push(MCP_NAME.into());
        }
    }
    if settings.get("enabledMcpjsonServers") == Some(&json!([])) {
        settings.remove("enabledMcpjsonServers");
    }
}

/// The hooks object ClauLock adds, calling `exe`.
pub(crate) fn hooks_for(exe: &str) -> Value {
    let mut hooks = Map::new();
    for (event, arg, matcher) in HOOKS {
        let quoted = if exe
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+".contains(&b))
        {
            exe.to_owned()
        } else {
            claulock_runtime::shell::quote(exe)
        };
        let mut entry = Map::new();
        if let Some(m) = matcher {
            entry.insert("matcher".into(), (*m).into());
        }
        entry.insert(
            "hooks".into(),
            json!([{"type": "command", "command": format!("{quoted} hook {arg}"), "timeout": HOOK_TIMEOUT_SECS}]),
        );
        hooks.insert((*event).into(), json!([entry]));
    }
    Value::Object(hooks)
}

/// Whether a hook command is one of ClauLock's.
fn is_ours(command: &str) -> bool {
    command.contains("claulock")
        && HOOKS
            .iter()
            .any(|(_, arg, _)| command.trim_end().ends_with(&format!(" hook {arg}")))
}

/// Removes ClauLock's hook commands from a settings object; drops the
/// matcher entries, event lists and `hooks` object that become empty.
/// Returns how many commands it removed.
fn remove_ours(settings: &mut Map<String, Value>) -> usize {
    let mut removed = 0;
    let Some(Value::Object(hooks)) = settings.get_mut("hooks") else {
        return 0;
    };
    for entries in hooks.values_mut() {
        let Value::Array(entries) = entries else {
            continue;
        };
        for entry in entries.iter_mut() {
            if let Some(Value::Array(list)) = entry.get_mut("hooks") {
                let before = list.len();
                list.retain(|h| !h["command"].as_str().is_some_and(is_ours));
                removed += before - list.len();
            }
        }
        entries.retain(|e| !matches!(e.get("hooks"), Some(Value::Array(l)) if l.is_empty()));
    }
    hooks.retain(|_, v| !matches!(v, Value::Array(a) if a.is_empty()));
    if hooks.is_empty() {
        settings.remove("hooks");
    }
    removed
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

/// Backs the old file up (`.claulock.bak`) and writes the new one
/// atomically.
fn write_settings(path: &Path, settings: &Map<String, Value>) -> anyhow::Result<()> {
    let dir = path.parent().context("settings path has no directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    if path.exists() {
        let backup = path.with_extension("json.claulock.bak");
        std::fs::copy(path, &backup)
            .with_context(|| format!("cannot back up to {}", backup.display()))?;
    }
    let mut text = serde_json::to_string_pretty(settings)?;
    text.push('\n');
    let tmp = path.with_extension("json.claulock.tmp");
    let mut f =
        std::fs::File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

pub(crate) fn install(scope: Scope) -> anyhow::Result<ExitCode> {
    let exe = std::env::current_exe().context("cannot find the claulock executable")?;
    let path = settings_path(scope)?;
    let mut settings = read_settings(&path)?;
    let replaced = remove_ours(&mut settings);
    let ours = hooks_for(&exe.display().to_string());
    let hooks = settings
        .entry("hooks")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(hooks) = hooks else {
        bail!(
            "\"hooks\" in {} is not an object; fix it by hand, nothing was changed",
            path.display()
        );
    };
    for (event, entries) in ours.as_object().into_iter().flatten() {
        let list = hooks.entry(event.clone()).or_insert_with(|| json!([]));
        let Value::Array(list) = list else {
            bail!(
                "hooks.{event} in {} is not a list; fix it by hand, nothing was changed",
                path.display()
            );
        };
        list.extend(entries.as_array().into_iter().flatten().cloned());
    }
    if matches!(scope, Scope::Project) {
        approve_project_mcp(&mut settings, true);
    }
    let mcp_path = mcp_config_path(scope)?;
    let mut mcp = read_settings(&mcp_path)?;
    add_mcp(&mut mcp, &exe.display().to_string())
        .with_context(|| format!("in {}", mcp_path.display()))?;
    write_settings(&path, &settings)?;
    write_settings(&mcp_path, &mcp)?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{} ClauLock's hooks in {} ({} events, calling {})",
        if replaced > 0 { "updated" } else { "installed" },
        path.display(),
        HOOKS.len(),
        exe.display()
    )?;
    writeln!(
        out,
        "registered the MCP server `{MCP_NAME}` in {}",
        mcp_path.display()
    )?;
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
             `claulock unlock`, the hooks deny Bash and file tools (`claulock uninstall` removes them)",
            home.vault.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn uninstall(scope: Scope) -> anyhow::Result<ExitCode> {
    let path = settings_path(scope)?;
    let mut settings = read_settings(&path)?;
    let removed = remove_ours(&mut settings);
    let before = settings.get("enabledMcpjsonServers").cloned();
    if matches!(scope, Scope::Project) {
        approve_project_mcp(&mut settings, false);
    }
    let unapproved = before != settings.get("enabledMcpjsonServers").cloned();
    let mcp_path = mcp_config_path(scope)?;
    let mut mcp = read_settings(&mcp_path)?;
    let mut out = std::io::stdout().lock();
    if remove_mcp(&mut mcp) {
        // A `.mcp.json` that held only ClauLock goes away with it.
        if mcp.is_empty() && matches!(scope, Scope::Project) {
            std::fs::remove_file(&mcp_path)
                .with_context(|| format!("cannot remove {}", mcp_path.display()))?;
        } else {
            write_settings(&mcp_path, &mcp)?;
        }
        writeln!(
            out,
            "removed the MCP server `{MCP_NAME}` from {}",
            mcp_path.display()
        )?;
    }
    if removed == 0 && !unapproved {
        writeln!(
            out,
            "ClauLock's hooks are not in {}: nothing to do there",
            path.display()
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    write_settings(&path, &settings)?;
    writeln!(
        out,
        "removed {removed} ClauLock hook(s) from {}",
        path.display()
    )?;
    Ok(ExitCode::SUCCESS)
}

/// One doctor finding.
struct Finding {
    ok: bool,
    what: String,
}

pub(crate) fn doctor() -> anyhow::Result<ExitCode> {
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
        }
        Err(_) if vault => check(
            false,
            "the vault is locked: run `claulock unlock` in a terminal".into(),
        ),
        Err(_) => {}
    }
    match crate::hook::load_settings(&home) {
        Ok(_) => check(true, "hook settings: readable".into()),
        Err(e) => check(false, format!("hook settings: {e:#}")),
    }
    let mut installed = false;
    for scope in [Scope::User, Scope::Project] {
        let Ok(path) = settings_path(scope) else {
            continue;
        };
        let Ok(settings) = read_settings(&path) else {
            if path.exists() {
                check(
                    false,
                    format!(
                        "{} is not valid JSON: Claude Code ignores it; fix it",
                        path.display()
                    ),
                );
            }
            continue;
        };
        let commands: Vec<String> = settings
            .get("hooks")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|h| h.values())
            .filter_map(Value::as_array)
            .flatten()
            .filter_map(|e| e["hooks"].as_array())
            .flatten()
            .filter_map(|h| h["command"].as_str().map(str::to_owned))
            .filter(|c| is_ours(c))
            .collect();
        if commands.is_empty() {
            continue;
        }
        installed = true;
        let complete = HOOKS.iter().all(|(_, arg, _)| {
            commands
                .iter()
                .any(|c| c.ends_with(&format!(" hook {arg}")))
        });
        check(
            complete,
            if complete {
                format!("hooks installed in {}", path.display())
            } else {
                format!(
                    "some hooks are missing from {}: run `claulock install` again",
                    path.display()
                )
            },
        );
        for c in &commands {
            let bin = c
                .rsplit_once(" hook ")
                .map_or("", |(b, _)| b)
                .trim_matches('\'');
            let runs = Path::new(bin).is_file() || which(bin).is_some();
            if !runs {
                check(
                    false,
                    format!("hook command `{c}`: {bin} not found: run `claulock install` again"),
                );
                break;
            }
        }
    }
    if !installed {
        check(false, "no ClauLock hooks in ~/.claude/settings.json or ./.claude/settings.json: run `claulock install`".into());
    }
    let registered: Vec<PathBuf> = [Scope::User, Scope::Project]
        .into_iter()
        .filter_map(|scope| mcp_config_path(scope).ok())
        .filter(|p| {
            read_settings(p).is_ok_and(|c| {
                c.get("mcpServers")
                    .and_then(|s| s.get(MCP_NAME))
                    .and_then(|e| e["command"].as_str())
                    .is_some_and(|cmd| Path::new(cmd).is_file() || which(cmd).is_some())
            })
        })
        .collect();
    check(
        !registered.is_empty(),
        match registered.first() {
            Some(p) => format!("MCP server `{MCP_NAME}` registered in {}", p.display()),
            None => format!(
                "the MCP server `{MCP_NAME}` is not registered (or its command is missing): run `claulock install`"
            ),
        },
    );
    check(
        which("bash").is_some(),
        "bash is needed by `claulock exec`".into(),
    );

    let mut out = std::io::stdout().lock();
    for x in &f {
        writeln!(out, "{} {}", if x.ok { "ok " } else { "FIX" }, x.what)?;
    }
    let bad = f.iter().filter(|x| !x.ok).count();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_then_uninstall_leaves_the_rest_as_it_was() {
        let original = json!({
            "model": "x",
            "hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "mine.sh"}]}]},
            "permissions": {"allow": ["Bash(npm test:*)"]}
        });
        let mut s = original.as_object().unwrap().clone();
        let ours = hooks_for("/opt/claulock");
        let hooks = s.get_mut("hooks").unwrap().as_object_mut().unwrap();
        for (event, entries) in ours.as_object().unwrap() {
            let list = hooks.entry(event.clone()).or_insert_with(|| json!([]));
            list.as_array_mut()
                .unwrap()
                .extend(entries.as_array().unwrap().iter().cloned());
        }
        assert_eq!(remove_ours(&mut s), HOOKS.len());
        assert_eq!(Value::Object(s), original);
    }

    #[test]
    fn ours_is_recognised_and_others_are_not() {
        assert!(is_ours("/usr/local/bin/claulock hook pre-tool-use"));
        assert!(is_ours("'/my dir/claulock' hook stop"));
        assert!(!is_ours("claulock-audit.sh"));
        assert!(!is_ours("/usr/bin/other hook stop"));
    }

    #[test]
    fn the_plugin_ships_the_same_hooks() {
        let text = include_str!("../../../plugin/claulock/hooks/hooks.json");
        let plugin: Value = serde_json::from_str(text).unwrap();
        assert_eq!(plugin["hooks"], hooks_for("claulock"));
    }

    #[test]
    fn the_plugin_ships_the_same_mcp_server() {
        let text = include_str!("../../../plugin/claulock/.mcp.json");
        let plugin: Value = serde_json::from_str(text).unwrap();
        assert_eq!(plugin["mcpServers"][MCP_NAME], mcp_entry("claulock"));
    }
}
