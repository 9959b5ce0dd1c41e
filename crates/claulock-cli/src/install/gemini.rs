//! Gemini CLI: the hooks and the MCP server in `~/.gemini/settings.json`
//! (user scope) or the project's `.gemini/settings.json`.
//!
//! Gemini CLI reads a project's settings only in a trusted folder
//! (`~/.gemini/trustedFolders.json`, or `GEMINI_CLI_TRUST_WORKSPACE`):
//! install says so when the project is not trusted. It fails open when a
//! hook cannot run; the hooks' own deadline (4 s) is well inside the 10 s
//! install sets.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use serde_json::Value;

use claulock_hooks::settings::{
    GEMINI, Invocation, MCP_NAME, add_hooks, mcp_entry, remove_mcp, remove_ours,
};

use super::{Scope, new_file_mode, read_settings, which, write_settings};

fn home() -> Option<PathBuf> {
    std::env::var_os("GEMINI_CLI_HOME")
        .or_else(|| std::env::var_os("HOME"))
        .map(PathBuf::from)
}

/// Whether Gemini CLI is on this machine.
pub(super) fn found() -> bool {
    which("gemini").is_some() || home().is_some_and(|h| h.join(".gemini").is_dir())
}

fn settings_path(scope: Scope) -> anyhow::Result<PathBuf> {
    Ok(match scope {
        Scope::User => home()
            .context("HOME is not set")?
            .join(".gemini/settings.json"),
        Scope::Project => std::env::current_dir()?.join(".gemini/settings.json"),
    })
}

pub(super) fn install(
    scope: Scope,
    invocation: &Invocation,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let path = settings_path(scope)?;
    let mut settings = read_settings(&path)?;
    let replaced = remove_ours(&mut settings);
    remove_mcp(&mut settings);
    let fix = |e: String| anyhow::anyhow!("{e} in {}; fix it by hand", path.display());
    add_hooks(&mut settings, &GEMINI, invocation).map_err(fix)?;
    let servers = settings
        .entry("mcpServers")
        .or_insert_with(|| Value::Object(Default::default()));
    let Value::Object(servers) = servers else {
        return Err(fix("\"mcpServers\" is not an object".into()));
    };
    // Gemini CLI's stdio servers have no `type`.
    let mut entry = mcp_entry(invocation);
    if let Value::Object(e) = &mut entry {
        e.remove("type");
    }
    servers.insert(MCP_NAME.into(), entry);
    write_settings(&path, &settings, new_file_mode(scope))?;
    writeln!(
        out,
        "Gemini CLI: {} ClauLock's hooks and the MCP server `{MCP_NAME}` in {}",
        if replaced > 0 { "updated" } else { "installed" },
        path.display()
    )?;
    if matches!(scope, Scope::Project) && !trusted(&std::env::current_dir()?) {
        writeln!(
            out,
            "Gemini CLI: warning: this folder is not trusted, so Gemini CLI ignores its .gemini/settings.json (hooks included): trust it in Gemini CLI (`/permissions`), or use `--scope user`"
        )?;
    }
    Ok(())
}

/// Whether Gemini CLI trusts `dir` (or a parent marked `TRUST_PARENT`).
fn trusted(dir: &std::path::Path) -> bool {
    let Some(file) = std::env::var_os("GEMINI_CLI_TRUSTED_FOLDERS_PATH")
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".gemini/trustedFolders.json")))
    else {
        return false;
    };
    let Ok(Value::Object(rules)) = std::fs::read_to_string(file)
        .map_err(|_| ())
        .and_then(|t| serde_json::from_str(&t).map_err(|_| ()))
    else {
        return false;
    };
    rules.iter().any(|(path, level)| {
        let p = std::path::Path::new(path);
        match level.as_str() {
            Some("TRUST_FOLDER") => dir.starts_with(p),
            Some("TRUST_PARENT") => dir.parent().is_some_and(|d| d.starts_with(p)),
            _ => false,
        }
    })
}

pub(super) fn uninstall(scope: Scope, out: &mut dyn Write) -> anyhow::Result<()> {
    let path = settings_path(scope)?;
    if !path.exists() {
        return Ok(());
    }
    let mut settings = read_settings(&path)?;
    let removed = remove_ours(&mut settings);
    let mcp = remove_mcp(&mut settings);
    if removed == 0 && !mcp {
        return Ok(());
    }
    write_settings(&path, &settings, new_file_mode(scope))?;
    writeln!(
        out,
        "Gemini CLI: removed {removed} ClauLock hook(s){} from {}",
        if mcp { " and the MCP server" } else { "" },
        path.display()
    )?;
    Ok(())
}

/// Doctor's checks; whether ClauLock is installed in Gemini CLI.
pub(super) fn doctor(check: &mut dyn FnMut(bool, String)) -> bool {
    let mut installed = false;
    for scope in [Scope::User, Scope::Project] {
        let Ok(path) = settings_path(scope) else {
            continue;
        };
        let Ok(settings) = read_settings(&path) else {
            if path.exists() {
                check(
                    false,
                    format!("Gemini CLI: {} is not valid JSON: fix it", path.display()),
                );
            }
            continue;
        };
        let commands = super::hook_commands(&settings);
        if commands.is_empty() {
            continue;
        }
        installed = true;
        let complete = GEMINI.events.iter().all(|(_, arg, _)| {
            let want = GEMINI.args(arg);
            commands.iter().any(|c| c.ends_with(&want))
        });
        check(
            complete,
            if complete {
                format!("Gemini CLI: hooks installed in {}", path.display())
            } else {
                format!(
                    "Gemini CLI: some hooks are missing from {}: run `claulock install --agent gemini` again",
                    path.display()
                )
            },
        );
        super::check_binaries(&commands, "gemini", check);
        let mcp = settings
            .get("mcpServers")
            .and_then(|s| s.get(MCP_NAME))
            .is_some();
        check(
            mcp,
            if mcp {
                format!(
                    "Gemini CLI: MCP server `{MCP_NAME}` registered in {}",
                    path.display()
                )
            } else {
                format!(
                    "Gemini CLI: the MCP server `{MCP_NAME}` is not in {}: run `claulock install --agent gemini` again",
                    path.display()
                )
            },
        );
        if matches!(scope, Scope::Project) && !std::env::current_dir().is_ok_and(|d| trusted(&d)) {
            check(
                false,
                "Gemini CLI: this folder is not trusted, so its .gemini/settings.json (ClauLock's hooks) is ignored: trust it in Gemini CLI, or `claulock install --agent gemini` (user scope)".into(),
            );
        }
    }
    installed
}
