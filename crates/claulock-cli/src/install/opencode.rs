//! OpenCode: ClauLock's plugin (`adapters/opencode/claulock.js`, built
//! into this binary) in `~/.config/opencode/plugins/` (user scope) or the
//! project's `.opencode/plugins/`, and the MCP server in `opencode.json`.
//!
//! OpenCode has no hook commands; the plugin runs `claulock hook EVENT
//! --agent opencode` for each tool call, tool result and prompt, and fails
//! closed. Install writes the plugin with the invocation it must use (the
//! binary, `CLAULOCK_HOME`) on its `INVOCATION` line.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use serde_json::{Value, json};

use claulock_hooks::settings::{Invocation, MCP_NAME};

use super::{Scope, new_file_mode, read_settings, which, write_settings};

/// The plugin, as the repository ships it.
const PLUGIN: &str = include_str!("../../../../adapters/opencode/claulock.js");
/// The line install rewrites, and by which it knows its plugin.
const INVOCATION_LINE: &str = "const INVOCATION = ";
const PLUGIN_FILE: &str = "claulock.js";

fn config_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .map(|d| d.join("opencode"))
}

/// Whether OpenCode is on this machine.
pub(super) fn found() -> bool {
    which("opencode").is_some() || config_dir().is_some_and(|d| d.is_dir())
}

/// Where the plugin goes, and OpenCode's configuration file for `scope`
/// (`opencode.json`, or the `opencode.jsonc` OpenCode made itself).
fn paths(scope: Scope) -> anyhow::Result<(PathBuf, PathBuf)> {
    let (plugins, dir) = match scope {
        Scope::User => {
            let dir = config_dir().context("HOME is not set")?;
            (dir.join("plugins"), dir)
        }
        Scope::Project => {
            let cwd = std::env::current_dir()?;
            (cwd.join(".opencode/plugins"), cwd)
        }
    };
    let jsonc = dir.join("opencode.jsonc");
    let config = if !dir.join("opencode.json").exists() && jsonc.exists() {
        jsonc
    } else {
        dir.join("opencode.json")
    };
    Ok((plugins.join(PLUGIN_FILE), config))
}

/// The plugin with `invocation` on its `INVOCATION` line.
fn plugin_for(invocation: &Invocation) -> String {
    let env: serde_json::Map<String, Value> = invocation
        .env
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let line = format!(
        "{INVOCATION_LINE}{} // claulock install: invocation",
        json!({"exe": invocation.exe, "env": env})
    );
    PLUGIN
        .lines()
        .map(|l| {
            if l.starts_with(INVOCATION_LINE) {
                line.as_str()
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// Whether a file is ClauLock's plugin.
fn is_ours(path: &std::path::Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|t| {
        t.contains("claulock hook") && t.lines().any(|l| l.starts_with(INVOCATION_LINE))
    })
}

pub(super) fn install(
    scope: Scope,
    invocation: &Invocation,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let (plugin, config_path) = paths(scope)?;
    if plugin.exists() && !is_ours(&plugin) {
        anyhow::bail!(
            "{} exists and is not ClauLock's plugin; move it away",
            plugin.display()
        );
    }
    let mut config = read_settings(&config_path)?;
    let servers = config
        .entry("mcp")
        .or_insert_with(|| Value::Object(Default::default()));
    let Value::Object(servers) = servers else {
        anyhow::bail!(
            "\"mcp\" is not an object in {}; fix it by hand",
            config_path.display()
        );
    };
    let mut entry = json!({"type": "local", "command": [invocation.exe, "mcp"]});
    if !invocation.env.is_empty() {
        entry["environment"] = invocation
            .env
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect::<serde_json::Map<_, _>>()
            .into();
    }
    servers.insert(MCP_NAME.into(), entry);
    let dir = plugin.parent().context("plugin path has no directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mode = match scope {
        Scope::User => 0o600,
        Scope::Project => 0o644,
    };
    crate::replace::replace(&plugin, plugin_for(invocation).as_bytes(), mode, None)?;
    write_settings(&config_path, &config, new_file_mode(scope))?;
    writeln!(
        out,
        "OpenCode: installed ClauLock's plugin {} and the MCP server `{MCP_NAME}` in {}",
        plugin.display(),
        config_path.display()
    )?;
    Ok(())
}

pub(super) fn uninstall(scope: Scope, out: &mut dyn Write) -> anyhow::Result<()> {
    let (plugin, config_path) = paths(scope)?;
    let mut did = Vec::new();
    if is_ours(&plugin) {
        super::remove_file(&plugin)?;
        // The plugins directory goes too when ClauLock's was all it held.
        if let Some(dir) = plugin.parent() {
            let _ = std::fs::remove_dir(dir);
        }
        did.push(format!("the plugin {}", plugin.display()));
    }
    if config_path.exists() {
        let mut config = read_settings(&config_path)?;
        let ours = config
            .get("mcp")
            .and_then(|m| m.get(MCP_NAME))
            .and_then(|e| e["command"].as_array())
            .is_some_and(|c| {
                c.last() == Some(&json!("mcp"))
                    && c.first()
                        .and_then(Value::as_str)
                        .is_some_and(|e| e.contains("claulock"))
            });
        if ours {
            if let Some(Value::Object(m)) = config.get_mut("mcp") {
                m.remove(MCP_NAME);
                if m.is_empty() {
                    config.remove("mcp");
                }
            }
            write_settings(&config_path, &config, new_file_mode(scope))?;
            did.push(format!(
                "the MCP server `{MCP_NAME}` from {}",
                config_path.display()
            ));
        }
    }
    if !did.is_empty() {
        writeln!(out, "OpenCode: removed {}", did.join(" and "))?;
    }
    Ok(())
}

/// Doctor's checks; whether ClauLock is installed in OpenCode.
pub(super) fn doctor(check: &mut dyn FnMut(bool, String)) -> bool {
    let mut installed = false;
    for scope in [Scope::User, Scope::Project] {
        let Ok((plugin, config)) = paths(scope) else {
            continue;
        };
        if !is_ours(&plugin) {
            continue;
        }
        installed = true;
        let text = std::fs::read_to_string(&plugin).unwrap_or_default();
        let exe = text
            .lines()
            .find_map(|l| l.strip_prefix(INVOCATION_LINE))
            .and_then(|l| l.split(" //").next())
            .and_then(|j| serde_json::from_str::<Value>(j).ok())
            .and_then(|v| v["exe"].as_str().map(str::to_owned))
            .unwrap_or_default();
        let current = plugin_for(&Invocation::bare(&exe));
        let same_code = strip_invocation(&text) == strip_invocation(&current);
        check(
            same_code,
            if same_code {
                format!("OpenCode: plugin installed at {}", plugin.display())
            } else {
                format!(
                    "OpenCode: the plugin at {} is not this claulock's: run `claulock install --agent opencode` again",
                    plugin.display()
                )
            },
        );
        super::check_binaries(&[format!("{exe} hook")], "opencode", check);
        let mcp = read_settings(&config)
            .is_ok_and(|c| c.get("mcp").and_then(|m| m.get(MCP_NAME)).is_some());
        check(
            mcp,
            if mcp {
                format!(
                    "OpenCode: MCP server `{MCP_NAME}` registered in {}",
                    config.display()
                )
            } else {
                format!(
                    "OpenCode: the MCP server `{MCP_NAME}` is not in {}: run `claulock install --agent opencode` again",
                    config.display()
                )
            },
        );
    }
    installed
}

fn strip_invocation(text: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with(INVOCATION_LINE))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plugin_calls_the_invocation_it_was_installed_with() {
        let inv = Invocation {
            exe: "/opt/claulock".into(),
            env: vec![("CLAULOCK_HOME".into(), "/h/.claulock".into())],
        };
        let text = plugin_for(&inv);
        let line = text
            .lines()
            .find(|l| l.starts_with(INVOCATION_LINE))
            .unwrap();
        assert!(line.contains(r#""exe":"/opt/claulock""#), "{line}");
        assert!(line.contains(r#""CLAULOCK_HOME":"/h/.claulock""#), "{line}");
        assert_eq!(strip_invocation(&text), strip_invocation(PLUGIN));
    }
}
