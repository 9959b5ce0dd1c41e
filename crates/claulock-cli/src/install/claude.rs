//! Claude Code: the hooks in `settings.json`, the MCP server in
//! `~/.claude.json` (user scope) or the project's `.mcp.json`, which the
//! project's settings then approve (`enabledMcpjsonServers`), and its Bash
//! sandbox configured for ClauLock (`--sandbox`).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use claulock_agent::Home;
use claulock_hooks::settings::{
    HOOKS, Invocation, MCP_NAME, SandboxPaths, add_mcp, add_ours, add_sandbox, approve_project_mcp,
    remove_mcp, remove_ours,
};

use super::{Scope, new_file_mode, read_settings, which, write_settings};

/// Whether Claude Code is on this machine (its command or its files).
pub(super) fn found() -> bool {
    which("claude").is_some() || home().is_some_and(|h| h.join(".claude").is_dir())
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from)
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

/// What the sandbox must hide and let through: `CLAULOCK_HOME` but for
/// the sockets, the CA bundle and the run directory, and the files under
/// the current directory that hold a vault value (the agent finds them;
/// with no agent, none are known, which is said).
fn sandbox_paths(home: &Home) -> anyhow::Result<SandboxPaths> {
    let dir = home.dir.canonicalize().unwrap_or_else(|_| home.dir.clone());
    let at = |name: &str| dir.join(name).display().to_string();
    let run = at("run");
    std::fs::create_dir_all(&run).ok();
    let cwd = std::env::current_dir()?;
    let value_files = match home.client().scan(vec![cwd.display().to_string()], false) {
        Ok(found) => found.into_iter().map(|f| f.path).collect(),
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "claulock: warning: cannot look for files holding vault values ({e}); unlock, then run `claulock install --sandbox` again to hide them"
            );
            Vec::new()
        }
    };
    // Every Unix socket is reachable from the sandbox (the only way, on
    // Linux, for `claulock exec` to reach the agent): hide the ones that
    // would run code outside it or hand out other credentials (the user's
    // D-Bus and systemd, which start processes outside the sandbox; Docker;
    // ssh-agent; gpg-agent), where they exist now.
    let mut value_files = value_files;
    value_files.extend(escape_sockets());
    Ok(SandboxPaths {
        home: dir.display().to_string(),
        readable: vec![
            home.socket.display().to_string(),
            at(claulock_agent::proxied::SOCKET),
            at(claulock_agent::proxied::BUNDLE),
            run.clone(),
        ],
        writable: vec![run],
        value_files,
    })
}

/// The Unix sockets of this user's session that would let a sandboxed
/// command act outside the sandbox, where they exist.
fn escape_sockets() -> Vec<String> {
    let mut candidates: Vec<PathBuf> = vec![
        PathBuf::from("/run/docker.sock"),
        PathBuf::from("/var/run/docker.sock"),
    ];
    if let Some(run) = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from) {
        for name in ["bus", "systemd", "gnupg", "docker.sock", "podman"] {
            candidates.push(run.join(name));
        }
    }
    if let Some(sock) = std::env::var_os("SSH_AUTH_SOCK") {
        candidates.push(PathBuf::from(sock));
    }
    if let Some(home) = std::env::var_os("HOME").map(PathBuf::from) {
        candidates.push(home.join(".gnupg"));
    }
    candidates
        .into_iter()
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect()
}

pub(super) fn install(
    scope: Scope,
    sandbox: bool,
    invocation: &Invocation,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let exe = PathBuf::from(&invocation.exe);
    let path = settings_path(scope)?;
    let mut settings = read_settings(&path)?;
    let sandboxed = if sandbox {
        let paths = sandbox_paths(&Home::from_env()?)?;
        add_sandbox(&mut settings, &paths).map_err(|e| {
            anyhow::anyhow!(
                "{e} in {}; fix it by hand, nothing was changed",
                path.display()
            )
        })?;
        Some(paths)
    } else {
        None
    };
    let replaced = remove_ours(&mut settings);
    add_ours(&mut settings, invocation).map_err(|e| {
        anyhow::anyhow!(
            "{e} in {}; fix it by hand, nothing was changed",
            path.display()
        )
    })?;
    if matches!(scope, Scope::Project) {
        approve_project_mcp(&mut settings, true);
    }
    let mcp_path = mcp_config_path(scope)?;
    let mut mcp = read_settings(&mcp_path)?;
    add_mcp(&mut mcp, invocation).map_err(|e| {
        anyhow::anyhow!(
            "{e} in {}; fix it by hand, nothing was changed",
            mcp_path.display()
        )
    })?;
    write_settings(&path, &settings, new_file_mode(scope))?;
    write_settings(&mcp_path, &mcp, new_file_mode(scope))?;
    writeln!(
        out,
        "Claude Code: {} ClauLock's hooks in {} ({} events, calling {})",
        if replaced > 0 { "updated" } else { "installed" },
        path.display(),
        HOOKS.len(),
        exe.display()
    )?;
    writeln!(
        out,
        "Claude Code: registered the MCP server `{MCP_NAME}` in {}",
        mcp_path.display()
    )?;
    if let Some(p) = &sandboxed {
        writeln!(
            out,
            "turned on Claude Code's Bash sandbox: {} hidden but for what `claulock exec` needs, {} file(s) and session socket(s) hidden (vault values; D-Bus, systemd, Docker, ssh-agent, gpg-agent), every other Unix socket allowed (the sandbox cannot allow one path only on Linux)",
            p.home,
            p.value_files.len()
        )?;
    }
    Ok(())
}

pub(super) fn uninstall(scope: Scope, out: &mut dyn Write) -> anyhow::Result<()> {
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
    if remove_mcp(&mut mcp) {
        // A file that held only ClauLock goes away with it.
        write_settings(&mcp_path, &mcp, new_file_mode(scope))?;
        writeln!(
            out,
            "Claude Code: removed the MCP server `{MCP_NAME}` from {}",
            mcp_path.display()
        )?;
    }
    if removed == 0 && !unapproved {
        writeln!(
            out,
            "Claude Code: ClauLock's hooks are not in {}: nothing to do there",
            path.display()
        )?;
        return Ok(());
    }
    write_settings(&path, &settings, new_file_mode(scope))?;
    writeln!(
        out,
        "Claude Code: removed {removed} ClauLock hook(s) from {}",
        path.display()
    )?;
    Ok(())
}

/// Doctor's checks of the Claude Code installation; whether ClauLock's
/// hooks are installed there at all.
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
                    format!(
                        "{} is not valid JSON: Claude Code ignores it; fix it",
                        path.display()
                    ),
                );
            }
            continue;
        };
        let commands = super::hook_commands(&settings);
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
        super::check_binaries(&commands, "claude-code", check);
    }
    if !installed {
        return false;
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
    true
}
