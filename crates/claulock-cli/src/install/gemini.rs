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
    let previous = ignore_env_before(&settings);
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
    let previous = match previous {
        Some(p) => Some(p),
        None if ignores_local_env(&settings) => None,
        None => Some(
            advanced(&settings)
                .and_then(|a| a.get(IGNORE_ENV))
                .map_or_else(|| ABSENT.to_owned(), Value::to_string),
        ),
    };
    if let Some(previous) = previous {
        set_ignore_env(&mut settings, Some(Value::Bool(true))).map_err(fix)?;
        // Where uninstall finds what to put back: in ClauLock's own entry,
        // which it removes.
        if let Some(Value::Object(e)) = settings
            .get_mut("mcpServers")
            .and_then(|s| s.get_mut(MCP_NAME))
        {
            let env = e
                .entry("env")
                .or_insert_with(|| Value::Object(Default::default()));
            if let Value::Object(env) = env {
                env.insert(WAS_VAR.into(), Value::String(previous));
            }
        }
    }
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

/// Gemini CLI loads a project's `.env` into its own environment (in a
/// trusted folder, every variable; elsewhere its own keys), and each
/// command the model runs inherits it: install sets
/// `advanced.ignoreLocalEnv` so that it does not. (`claulock exec` also
/// withholds every inherited variable that holds a value; Gemini CLI still
/// loads `.gemini/.env` and `~/.env`, which the user made for it.)
const IGNORE_ENV: &str = "ignoreLocalEnv";

/// The variable of ClauLock's MCP entry that records what
/// `advanced.ignoreLocalEnv` was before install set it (its JSON, or
/// [`ABSENT`]); without it, the user had set it and uninstall leaves it.
const WAS_VAR: &str = "CLAULOCK_GEMINI_IGNORE_LOCAL_ENV_WAS";
const ABSENT: &str = "absent";

fn advanced(settings: &serde_json::Map<String, Value>) -> Option<&serde_json::Map<String, Value>> {
    settings.get("advanced").and_then(Value::as_object)
}

fn ignores_local_env(settings: &serde_json::Map<String, Value>) -> bool {
    advanced(settings).and_then(|a| a.get(IGNORE_ENV)) == Some(&Value::Bool(true))
}

/// What an earlier install recorded in ClauLock's entry.
fn ignore_env_before(settings: &serde_json::Map<String, Value>) -> Option<String> {
    settings
        .get("mcpServers")?
        .get(MCP_NAME)?
        .get("env")?
        .get(WAS_VAR)?
        .as_str()
        .map(str::to_owned)
}

/// Sets (or, with `None`, removes) `advanced.ignoreLocalEnv`, and removes
/// an `advanced` it leaves empty.
fn set_ignore_env(
    settings: &mut serde_json::Map<String, Value>,
    value: Option<Value>,
) -> Result<(), String> {
    let advanced = settings
        .entry("advanced")
        .or_insert_with(|| Value::Object(Default::default()));
    let Value::Object(a) = advanced else {
        return Err("\"advanced\" is not an object".into());
    };
    match value {
        Some(v) => {
            a.insert(IGNORE_ENV.into(), v);
        }
        None => {
            a.remove(IGNORE_ENV);
            if a.is_empty() {
                settings.remove("advanced");
            }
        }
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
    let previous = ignore_env_before(&settings);
    let removed = remove_ours(&mut settings);
    let mcp = remove_mcp(&mut settings);
    if removed == 0 && !mcp {
        return Ok(());
    }
    if mcp && let Some(previous) = previous {
        let value = match previous.as_str() {
            ABSENT => None,
            json => serde_json::from_str(json).ok(),
        };
        set_ignore_env(&mut settings, value)
            .map_err(|e| anyhow::anyhow!("{e} in {}; fix it by hand", path.display()))?;
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
        let ignores = ignores_local_env(&settings) || matches!(scope, Scope::Project);
        if matches!(scope, Scope::User) {
            check(
                ignores,
                if ignores {
                    "Gemini CLI: a project's .env is not loaded into the commands' environment (advanced.ignoreLocalEnv)".into()
                } else {
                    format!(
                        "Gemini CLI: it loads a project's .env into every command's environment: run `claulock install --agent gemini` again (it sets advanced.ignoreLocalEnv in {})",
                        path.display()
                    )
                },
            );
        }
        if matches!(scope, Scope::Project) && !std::env::current_dir().is_ok_and(|d| trusted(&d)) {
            check(
                false,
                "Gemini CLI: this folder is not trusted, so its .gemini/settings.json (ClauLock's hooks) is ignored: trust it in Gemini CLI, or `claulock install --agent gemini` (user scope)".into(),
            );
        }
    }
    installed
}
