//! ClauLock's entries in Claude Code's configuration: the hooks in
//! `settings.json` and the MCP server in `~/.claude.json` or `.mcp.json`,
//! added and removed without touching anything else. `claulock install`
//! and `uninstall` do the file IO around these.

use serde_json::{Map, Value, json};

/// Claude Code's hook events, the `claulock hook` argument for each, and
/// the tool matcher (tool events only).
pub const HOOKS: &[(&str, &str, Option<&str>)] = &[
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
pub const HOOK_TIMEOUT_SECS: u64 = 10;

/// The name of ClauLock's MCP server in Claude Code's configuration.
pub const MCP_NAME: &str = "claulock";

/// ClauLock's MCP server entry, calling `exe`.
pub fn mcp_entry(exe: &str) -> Value {
    json!({"type": "stdio", "command": exe, "args": ["mcp"]})
}

/// Puts ClauLock's MCP server into a config object; whether one was there.
///
/// # Errors
///
/// When `mcpServers` is not an object (nothing was changed).
pub fn add_mcp(config: &mut Map<String, Value>, exe: &str) -> Result<bool, String> {
    let servers = config
        .entry("mcpServers")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(servers) = servers else {
        return Err("\"mcpServers\" is not an object".into());
    };
    Ok(servers.insert(MCP_NAME.into(), mcp_entry(exe)).is_some())
}

/// Removes ClauLock's MCP server (only if it runs `… claulock … mcp`);
/// drops `mcpServers` if that empties it.
pub fn remove_mcp(config: &mut Map<String, Value>) -> bool {
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
pub fn approve_project_mcp(settings: &mut Map<String, Value>, on: bool) {
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
pub fn hooks_for(exe: &str) -> Value {
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
pub fn is_ours(command: &str) -> bool {
    command.contains("claulock")
        && HOOKS
            .iter()
            .any(|(_, arg, _)| command.trim_end().ends_with(&format!(" hook {arg}")))
}

/// Removes ClauLock's hook commands from a settings object; drops the
/// matcher entries, event lists and `hooks` object that become empty.
/// Returns how many commands it removed.
pub fn remove_ours(settings: &mut Map<String, Value>) -> usize {
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

/// Adds ClauLock's hooks (calling `exe`) to a settings object, after the
/// hooks already there.
///
/// # Errors
///
/// When `hooks`, or an event's list in it, has another shape (nothing was
/// changed then).
pub fn add_ours(settings: &mut Map<String, Value>, exe: &str) -> Result<(), String> {
    let ours = hooks_for(exe);
    let hooks = settings
        .entry("hooks")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(hooks) = hooks else {
        return Err("\"hooks\" is not an object".into());
    };
    let fits = ours
        .as_object()
        .into_iter()
        .flatten()
        .all(|(event, _)| hooks.get(event).is_none_or(Value::is_array));
    if !fits {
        return Err("an event in \"hooks\" is not a list".into());
    }
    for (event, entries) in ours.as_object().into_iter().flatten() {
        if let Value::Array(list) = hooks.entry(event.clone()).or_insert_with(|| json!([])) {
            list.extend(entries.as_array().into_iter().flatten().cloned());
        }
    }
    Ok(())
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
