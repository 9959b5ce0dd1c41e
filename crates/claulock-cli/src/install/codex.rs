//! Codex CLI: the hooks, their trust and the MCP server in
//! `$CODEX_HOME/config.toml` (`~/.codex/config.toml`), edited in place
//! (`toml_edit`: the user's comments and layout are kept).
//!
//! **Codex runs no hook it has not been told to trust**, silently: a hook
//! in `config.toml` without a matching `[hooks.state."KEY"] trusted_hash`
//! never runs. Install records that trust the way Codex 0.171 does (what
//! `codex app-server`'s `hooks/list` reports), for ClauLock's own hooks
//! only: the key is `<config.toml's absolute path>:<event>:<group>:<hook>`
//! (the event in snake case, the group's index in the event's list, the
//! hook's in the group), the hash `sha256:` and the SHA-256 of the hook's
//! definition as compact JSON with sorted keys: `{"event_name", "hooks":
//! [{"async", "command", "timeout", "type"}], "matcher"}` (no matcher for
//! the events that take none). A hook edited by hand stops running until
//! it is trusted again (in Codex, or by `claulock install`).
//!
//! ClauLock's groups are appended after the user's, so the indexes (and
//! the trust) of the user's own hooks do not change.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};
use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, value};

use claulock_hooks::settings::{HOOK_TIMEOUT_SECS, Invocation, MCP_NAME, is_ours};

use super::which;

/// Codex's hook events ClauLock installs: the config table, its snake-case
/// label in trust keys, the `claulock hook` argument and the matcher.
/// PostToolUse has no matcher (MCP tools' results are scrubbed too); Stop
/// is left out: Codex appends to its rollout while a session lives, so it
/// cannot be swept under it, and with every command wrapped nothing
/// unscrubbed reaches it.
const EVENTS: &[(&str, &str, &str, Option<&str>)] = &[
    ("SessionStart", "session_start", "session-start", None),
    (
        "UserPromptSubmit",
        "user_prompt_submit",
        "user-prompt-submit",
        None,
    ),
    ("PreToolUse", "pre_tool_use", "pre-tool-use", Some("Bash")),
    ("PostToolUse", "post_tool_use", "post-tool-use", None),
];

/// Events whose matcher Codex ignores (and leaves out of the hash).
const NO_MATCHER: &[&str] = &["UserPromptSubmit", "Stop"];

fn codex_home() -> Option<PathBuf> {
    std::env::var_os("CODEX_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".codex")))
}

/// Whether Codex CLI is on this machine.
pub(super) fn found() -> bool {
    which("codex").is_some() || codex_home().is_some_and(|d| d.is_dir())
}

/// `config.toml`, by the absolute path Codex keys trust with.
fn config_path() -> anyhow::Result<PathBuf> {
    let home = codex_home().context("neither CODEX_HOME nor HOME is set")?;
    let home = std::fs::canonicalize(&home).unwrap_or(home);
    Ok(home.join("config.toml"))
}

fn read(path: &std::path::Path) -> anyhow::Result<(String, DocumentMut)> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let doc = text.parse::<DocumentMut>().with_context(|| {
        format!(
            "{} is not valid TOML; fix it by hand, nothing was changed",
            path.display()
        )
    })?;
    Ok((text, doc))
}

/// The trust hash Codex computes for a command hook of `event`.
fn trust_hash(event: &str, label: &str, matcher: Option<&str>, command: &str) -> String {
    // Compact JSON, keys sorted (serde_json keeps insertion order here).
    let mut identity = serde_json::Map::new();
    identity.insert("event_name".into(), label.into());
    identity.insert(
        "hooks".into(),
        serde_json::json!([{
            "async": false,
            "command": command,
            "timeout": HOOK_TIMEOUT_SECS,
            "type": "command",
        }]),
    );
    if let Some(m) = matcher.filter(|_| !NO_MATCHER.contains(&event)) {
        identity.insert("matcher".into(), m.into());
    }
    let json = serde_json::Value::Object(identity).to_string();
    let digest = Sha256::digest(json.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// The table at `key`, made (implicit, so it prints no header of its own)
/// when missing.
fn table<'d>(parent: &'d mut Table, key: &str, path: &str) -> anyhow::Result<&'d mut Table> {
    let item = parent.entry(key).or_insert_with(|| {
        let mut t = Table::new();
        t.set_implicit(true);
        Item::Table(t)
    });
    item.as_table_mut().with_context(|| {
        format!("`{key}` in {path} is not a table; fix it by hand, nothing was changed")
    })
}

/// Removes ClauLock's hook groups and their trust; how many it removed.
fn remove_ours(doc: &mut DocumentMut, config: &str) -> usize {
    let Some(hooks) = doc.get_mut("hooks").and_then(Item::as_table_mut) else {
        return 0;
    };
    let mut removed = 0;
    let mut stale = Vec::new();
    for (event, label, _, _) in EVENTS {
        let Some(groups) = hooks.get_mut(event).and_then(Item::as_array_of_tables_mut) else {
            continue;
        };
        let ours: Vec<usize> = groups
            .iter()
            .enumerate()
            .filter(|(_, g)| {
                g.get("hooks")
                    .and_then(Item::as_array_of_tables)
                    .is_some_and(|hs| {
                        hs.iter()
                            .any(|h| h.get("command").and_then(Item::as_str).is_some_and(is_ours))
                    })
            })
            .map(|(i, _)| i)
            .collect();
        for i in ours.iter().rev() {
            groups.remove(*i);
            stale.push(format!("{config}:{label}:{i}:0"));
            removed += 1;
        }
        if groups.is_empty() {
            hooks.remove(event);
        }
    }
    if let Some(state) = hooks.get_mut("state").and_then(Item::as_table_mut) {
        for key in &stale {
            state.remove(key);
        }
        if state.is_empty() {
            hooks.remove("state");
        }
    }
    if hooks.is_empty() {
        doc.remove("hooks");
    }
    removed
}

/// Removes ClauLock's MCP server; whether it was there.
fn remove_mcp(doc: &mut DocumentMut) -> bool {
    let Some(servers) = doc.get_mut("mcp_servers").and_then(Item::as_table_like_mut) else {
        return false;
    };
    let ours = servers.get(MCP_NAME).is_some_and(|s| {
        s.get("command")
            .and_then(Item::as_str)
            .is_some_and(|c| c.contains("claulock"))
    });
    if ours {
        servers.remove(MCP_NAME);
        if servers.is_empty() {
            doc.remove("mcp_servers");
        }
    }
    ours
}

/// Writes `doc` over `path` (keeping its mode; a new file is private), or
/// removes the file when nothing is left in it and it held nothing before.
fn write(path: &std::path::Path, old: &str, doc: &DocumentMut) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let text = doc.to_string();
    if text.trim().is_empty() && old.trim().is_empty() {
        return super::remove_file(path);
    }
    let dir = path.parent().context("config path has no directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mode = std::fs::metadata(path).map_or(0o600, |m| m.permissions().mode());
    crate::replace::replace(path, text.as_bytes(), mode, None)
}

/// ClauLock's entries added to `doc` (after removing any earlier ones).
fn add_ours(doc: &mut DocumentMut, config: &str, invocation: &Invocation) -> anyhow::Result<()> {
    let shown = config.to_owned();
    let hooks = table(doc.as_table_mut(), "hooks", &shown)?;
    let mut trust = Vec::new();
    for (event, label, arg, matcher) in EVENTS {
        let command = invocation.command(&format!("hook {arg} --agent codex"));
        let groups = hooks
            .entry(event)
            .or_insert_with(|| Item::ArrayOfTables(ArrayOfTables::new()));
        let Some(groups) = groups.as_array_of_tables_mut() else {
            bail!(
                "`hooks.{event}` in {shown} is not a list of tables ([[hooks.{event}]]); fix it by hand, nothing was changed"
            );
        };
        let mut group = Table::new();
        if let Some(m) = matcher {
            group.insert("matcher", value(*m));
        }
        let mut hook = Table::new();
        hook.insert("type", value("command"));
        hook.insert("command", value(command.clone()));
        hook.insert("timeout", value(HOOK_TIMEOUT_SECS as i64));
        let mut list = ArrayOfTables::new();
        list.push(hook);
        group.insert("hooks", Item::ArrayOfTables(list));
        groups.push(group);
        let index = groups.len() - 1;
        trust.push((
            format!("{config}:{label}:{index}:0"),
            trust_hash(event, label, *matcher, &command),
        ));
    }
    let state = table(hooks, "state", &shown)?;
    for (key, hash) in trust {
        let mut entry = Table::new();
        entry.insert("trusted_hash", value(hash));
        state.insert(&key, Item::Table(entry));
    }
    let servers = table(doc.as_table_mut(), "mcp_servers", &shown)?;
    let mut server = Table::new();
    server.insert("command", value(invocation.exe.clone()));
    let mut args = toml_edit::Array::new();
    args.push("mcp");
    server.insert("args", value(args));
    if !invocation.env.is_empty() {
        let mut env = toml_edit::InlineTable::new();
        for (k, v) in &invocation.env {
            env.insert(k, v.as_str().into());
        }
        server.insert("env", value(env));
    }
    servers.insert(MCP_NAME, Item::Table(server));
    Ok(())
}

pub(super) fn install(invocation: &Invocation, out: &mut dyn Write) -> anyhow::Result<()> {
    let path = config_path()?;
    let config = path.display().to_string();
    let (old, mut doc) = read(&path)?;
    let replaced = remove_ours(&mut doc, &config);
    remove_mcp(&mut doc);
    add_ours(&mut doc, &config, invocation)?;
    write(&path, &old, &doc)?;
    writeln!(
        out,
        "Codex CLI: {} ClauLock's hooks ({} events, trusted) and the MCP server `{MCP_NAME}` in {}",
        if replaced > 0 { "updated" } else { "installed" },
        EVENTS.len(),
        path.display()
    )?;
    Ok(())
}

pub(super) fn uninstall(out: &mut dyn Write) -> anyhow::Result<()> {
    let path = config_path()?;
    if !path.exists() {
        return Ok(());
    }
    let config = path.display().to_string();
    let (old, mut doc) = read(&path)?;
    let removed = remove_ours(&mut doc, &config);
    let mcp = remove_mcp(&mut doc);
    if removed == 0 && !mcp {
        return Ok(());
    }
    let text = doc.to_string();
    if text.trim().is_empty() {
        super::remove_file(&path)?;
    } else {
        write(&path, &old, &doc)?;
    }
    writeln!(
        out,
        "Codex CLI: removed {removed} ClauLock hook(s){} from {}",
        if mcp { " and the MCP server" } else { "" },
        path.display()
    )?;
    Ok(())
}

/// Doctor's checks; whether ClauLock is installed in Codex CLI.
pub(super) fn doctor(check: &mut dyn FnMut(bool, String)) -> bool {
    let Ok(path) = config_path() else {
        return false;
    };
    if !path.exists() {
        return false;
    }
    let config = path.display().to_string();
    let Ok((_, doc)) = read(&path) else {
        check(
            false,
            format!("Codex CLI: {config} is not valid TOML: Codex will not start; fix it"),
        );
        return false;
    };
    let hooks = doc.get("hooks").and_then(Item::as_table);
    let mut commands = Vec::new();
    let mut untrusted = Vec::new();
    for (event, label, arg, matcher) in EVENTS {
        let groups = hooks
            .and_then(|h| h.get(event))
            .and_then(Item::as_array_of_tables);
        let found = groups
            .into_iter()
            .flat_map(|g| g.iter().enumerate())
            .find_map(|(i, g)| {
                let command = g
                    .get("hooks")?
                    .as_array_of_tables()?
                    .get(0)?
                    .get("command")?
                    .as_str()?
                    .to_owned();
                (is_ours(&command) && command.ends_with(&format!(" hook {arg} --agent codex")))
                    .then_some((i, command))
            });
        let Some((index, command)) = found else {
            continue;
        };
        let key = format!("{config}:{label}:{index}:0");
        let recorded = hooks
            .and_then(|h| h.get("state"))
            .and_then(|s| s.get(&key))
            .and_then(|e| e.get("trusted_hash"))
            .and_then(Item::as_str);
        if recorded != Some(trust_hash(event, label, *matcher, &command).as_str()) {
            untrusted.push(*event);
        }
        commands.push(command);
    }
    if commands.is_empty() {
        return false;
    }
    let complete = commands.len() == EVENTS.len();
    check(
        complete,
        if complete {
            format!("Codex CLI: hooks installed in {config}")
        } else {
            format!(
                "Codex CLI: some hooks are missing from {config}: run `claulock install --agent codex` again"
            )
        },
    );
    check(
        untrusted.is_empty(),
        if untrusted.is_empty() {
            "Codex CLI: ClauLock's hooks are trusted (Codex runs them)".into()
        } else {
            format!(
                "Codex CLI: the {} hook(s) are not trusted, so Codex never runs them: run `claulock install --agent codex` again",
                untrusted.join(", ")
            )
        },
    );
    super::check_binaries(&commands, "codex", check);
    let mcp = doc
        .get("mcp_servers")
        .and_then(|s| s.get(MCP_NAME))
        .is_some();
    check(
        mcp,
        if mcp {
            format!("Codex CLI: MCP server `{MCP_NAME}` registered in {config}")
        } else {
            format!(
                "Codex CLI: the MCP server `{MCP_NAME}` is not in {config}: run `claulock install --agent codex` again"
            )
        },
    );
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trust_hash_is_the_one_codex_computes() {
        // The value Codex 0.171's rules give this hook (the rules were
        // checked against `codex app-server`'s hooks/list); the end-to-end
        // test shows Codex runs the hooks install trusts.
        let c = "python3 /work/explore/codex/lab/hook.py /work/explore/codex/lab/hook.log";
        let h = |event, label, matcher| trust_hash(event, label, matcher, c);
        let pre = h("PreToolUse", "pre_tool_use", Some("Bash"));
        assert_eq!(
            pre,
            "sha256:2553b0583c87ff7d8a2c9d9dd7a0d6f5294c6ea8c3f702b67668603947955055"
        );
        // The matcher counts where Codex uses it and not where it does not.
        assert_ne!(pre, h("PreToolUse", "pre_tool_use", None));
        assert_eq!(
            h("UserPromptSubmit", "user_prompt_submit", Some("x")),
            h("UserPromptSubmit", "user_prompt_submit", None)
        );
    }

    #[test]
    fn install_then_uninstall_leaves_the_file_as_it_was() {
        let original = "# my settings\nmodel = \"o4\"\n\n[[hooks.PreToolUse]]\nmatcher = \"Bash\"\n\n[[hooks.PreToolUse.hooks]]\ntype = \"command\"\ncommand = \"mine.sh\"\n\n[mcp_servers.other]\ncommand = \"x\"\n";
        let mut doc = original.parse::<DocumentMut>().unwrap();
        let inv = Invocation {
            exe: "/opt/claulock".into(),
            env: vec![("CLAULOCK_HOME".into(), "/h/.claulock".into())],
        };
        add_ours(&mut doc, "/h/.codex/config.toml", &inv).unwrap();
        let installed = doc.to_string();
        // Ours comes after the user's group: index 1, the user's stays 0.
        assert!(
            installed.contains("\"/h/.codex/config.toml:pre_tool_use:1:0\""),
            "{installed}"
        );
        assert!(installed.contains("[mcp_servers.claulock]"), "{installed}");
        let mut doc = installed.parse::<DocumentMut>().unwrap();
        assert_eq!(remove_ours(&mut doc, "/h/.codex/config.toml"), EVENTS.len());
        assert!(remove_mcp(&mut doc));
        assert_eq!(doc.to_string(), original);
    }
}
