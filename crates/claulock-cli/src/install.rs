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
use serde_json::{Map, Value};

use claulock_agent::Home;
use claulock_hooks::settings::{
    HOOKS, Invocation, MCP_NAME, SandboxPaths, add_mcp, add_ours, add_sandbox, approve_project_mcp,
    is_ours, remove_mcp, remove_ours,
};

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
/// private: `mode_if_new`). No backup is left behind: the write replaces
/// the file whole or not at all, and keeps everything that is not
/// ClauLock's as it was. A file that ends up empty, `{}`, is removed
/// instead (ClauLock made it, or nothing of the user's is left in it).
fn write_settings(
    path: &Path,
    settings: &Map<String, Value>,
    mode_if_new: u32,
) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if settings.is_empty() {
        return match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("cannot remove {}", path.display()))
            }
            _ => Ok(()),
        };
    }
    let dir = path.parent().context("settings path has no directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mode = std::fs::metadata(path).map_or(mode_if_new, |m| m.permissions().mode());
    let mut text = serde_json::to_string_pretty(settings)?;
    text.push('\n');
    crate::replace::replace(path, text.as_bytes(), mode, None)
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
            "claulock: WARNING: the hooks will call {}, {why}: if it goes away, Claude Code runs every command unprotected (a hook it cannot start does not stop a tool). Install the binary where it stays (`cargo install --locked --path crates/claulock-cli`) and run `claulock install` again from there.",
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
                    "claulock: warning: {var} is set ({}), but a project's settings are shared and do not record it: start Claude Code with the same {var}, or use `--scope user`",
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

/// Why calling `exe` from Claude Code's settings would break by itself
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

pub(crate) fn install(scope: Scope, sandbox: bool) -> anyhow::Result<ExitCode> {
    let invocation = invocation(scope)?;
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
    add_ours(&mut settings, &invocation).map_err(|e| {
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
    add_mcp(&mut mcp, &invocation).map_err(|e| {
        anyhow::anyhow!(
            "{e} in {}; fix it by hand, nothing was changed",
            mcp_path.display()
        )
    })?;
    write_settings(&path, &settings, new_file_mode(scope))?;
    write_settings(&mcp_path, &mcp, new_file_mode(scope))?;
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
    if let Some(p) = &sandboxed {
        writeln!(
            out,
            "turned on Claude Code's Bash sandbox: {} hidden but for what `claulock exec` needs, {} file(s) and session socket(s) hidden (vault values; D-Bus, systemd, Docker, ssh-agent, gpg-agent), every other Unix socket allowed (the sandbox cannot allow one path only on Linux)",
            p.home,
            p.value_files.len()
        )?;
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
        // A file that held only ClauLock goes away with it.
        write_settings(&mcp_path, &mcp, new_file_mode(scope))?;
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
    write_settings(&path, &settings, new_file_mode(scope))?;
    writeln!(
        out,
        "removed {removed} ClauLock hook(s) from {}",
        path.display()
    )?;
    Ok(ExitCode::SUCCESS)
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
            // The program the shell runs (after any `CLAULOCK_HOME=…`).
            let bin = claulock_core::shell::simple_commands(c)
                .ok()
                .and_then(|cmds| cmds.into_iter().next())
                .and_then(|cmd| cmd.words.first().and_then(|w| w.text().map(str::to_owned)))
                .unwrap_or_default();
            let runs = Path::new(&bin).is_file() || which(&bin).is_some();
            if !runs {
                check(
                    false,
                    format!("hook command `{c}`: {bin} not found: run `claulock install` again"),
                );
                break;
            }
            if let Some(why) = fragile_binary(Path::new(&bin)) {
                check(
                    false,
                    format!(
                        "the hooks call {bin}, {why}: install the binary where it stays (`cargo install --locked --path crates/claulock-cli`) and run `claulock install` again"
                    ),
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
