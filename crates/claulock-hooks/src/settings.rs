//! ClauLock's entries in the agents' JSON configuration: the hooks in
//! Claude Code's and Gemini CLI's `settings.json` (the same shape: event →
//! matcher groups → command hooks) and the MCP server in `~/.claude.json`,
//! `.mcp.json` or Gemini's `settings.json`, added and removed without
//! touching anything else. `claulock install` and `uninstall` do the file
//! IO around these (and Codex's TOML and OpenCode's plugin themselves).

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

/// Gemini CLI's hook events (0.61), the `claulock hook` argument for each,
/// and the tool matcher (a regular expression; tool events only).
/// `AfterAgent` ends a turn: the transcript is swept then, as after
/// Claude Code's `Stop`.
pub const GEMINI_HOOKS: &[(&str, &str, Option<&str>)] = &[
    ("SessionStart", "session-start", None),
    ("BeforeAgent", "user-prompt-submit", None),
    (
        "BeforeTool",
        "pre-tool-use",
        Some(
            "^(run_shell_command|read_file|replace|write_file|grep_search|search_file_content|read_many_files)$",
        ),
    ),
    ("AfterTool", "post-tool-use", Some(".*")),
    ("AfterAgent", "stop", None),
    ("SessionEnd", "session-end", None),
];

/// An agent's hook table in its JSON settings.
#[derive(Clone, Copy, Debug)]
pub struct HookTable {
    /// Event, `claulock hook` argument, matcher.
    pub events: &'static [(&'static str, &'static str, Option<&'static str>)],
    /// The `--agent` the hook command names (none: Claude Code, the default).
    pub agent: Option<&'static str>,
    /// The timeout field's value (Claude Code counts seconds, Gemini CLI
    /// milliseconds: 10 s either way, well over the hooks' 4 s deadline).
    pub timeout: u64,
    /// Whether each hook carries a `name` (Gemini CLI shows it).
    pub named: bool,
}

/// Claude Code's hooks.
pub const CLAUDE: HookTable = HookTable {
    events: HOOKS,
    agent: None,
    timeout: HOOK_TIMEOUT_SECS,
    named: false,
};

/// Gemini CLI's hooks.
pub const GEMINI: HookTable = HookTable {
    events: GEMINI_HOOKS,
    agent: Some("gemini"),
    timeout: HOOK_TIMEOUT_SECS * 1000,
    named: true,
};

impl HookTable {
    /// The `claulock` arguments of the hook for `arg`.
    pub fn args(&self, arg: &str) -> String {
        match self.agent {
            Some(agent) => format!("hook {arg} --agent {agent}"),
            None => format!("hook {arg}"),
        }
    }
}

/// The name of ClauLock's MCP server in Claude Code's configuration.
pub const MCP_NAME: &str = "claulock";

/// How Claude Code starts ClauLock: the executable, and the environment it
/// must run in (the `CLAULOCK_HOME` that `install` was run with, so a
/// Claude Code started from another shell finds the same vault).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Invocation {
    /// The `claulock` executable (a path, or a name found on `PATH`).
    pub exe: String,
    /// Variables set for each hook and the MCP server.
    pub env: Vec<(String, String)>,
}

impl Invocation {
    /// `exe` with no environment of its own.
    pub fn bare(exe: &str) -> Invocation {
        Invocation {
            exe: exe.to_owned(),
            env: Vec::new(),
        }
    }

    /// The shell command that runs `exe ARGS` in this environment.
    pub fn command(&self, args: &str) -> String {
        let mut out = String::new();
        for (k, v) in &self.env {
            out.push_str(&format!("{k}={} ", shell_word(v)));
        }
        out.push_str(&shell_word(&self.exe));
        out.push(' ');
        out.push_str(args);
        out
    }
}

/// `word` as a shell word: as it is when it needs no quoting.
fn shell_word(word: &str) -> String {
    if !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+".contains(&b))
    {
        word.to_owned()
    } else {
        claulock_runtime::shell::quote(word)
    }
}

/// ClauLock's MCP server entry.
pub fn mcp_entry(invocation: &Invocation) -> Value {
    let mut entry = json!({"type": "stdio", "command": invocation.exe, "args": ["mcp"]});
    if !invocation.env.is_empty() {
        let env: Map<String, Value> = invocation
            .env
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        entry["env"] = Value::Object(env);
    }
    entry
}

/// Puts ClauLock's MCP server into a config object; whether one was there.
///
/// # Errors
///
/// When `mcpServers` is not an object (nothing was changed).
pub fn add_mcp(config: &mut Map<String, Value>, invocation: &Invocation) -> Result<bool, String> {
    let servers = config
        .entry("mcpServers")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(servers) = servers else {
        return Err("\"mcpServers\" is not an object".into());
    };
    Ok(servers
        .insert(MCP_NAME.into(), mcp_entry(invocation))
        .is_some())
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

/// The hooks object ClauLock adds to Claude Code's settings.
pub fn hooks_for(invocation: &Invocation) -> Value {
    hooks_of(&CLAUDE, invocation)
}

/// The hooks object ClauLock adds to an agent's settings.
pub fn hooks_of(table: &HookTable, invocation: &Invocation) -> Value {
    let mut hooks = Map::new();
    for (event, arg, matcher) in table.events {
        let mut entry = Map::new();
        if let Some(m) = matcher {
            entry.insert("matcher".into(), (*m).into());
        }
        let mut hook = json!({"type": "command", "command": invocation.command(&table.args(arg)), "timeout": table.timeout});
        if table.named {
            hook["name"] = format!("claulock-{arg}").into();
        }
        entry.insert("hooks".into(), json!([hook]));
        hooks.insert((*event).into(), json!([entry]));
    }
    Value::Object(hooks)
}

/// Whether a hook command is one of ClauLock's (for any agent).
pub fn is_ours(command: &str) -> bool {
    let command = command.trim_end();
    let command = match command.rsplit_once(" --agent ") {
        Some((head, agent)) if crate::Agent::from_name(agent).is_some() => head,
        _ => command,
    };
    command.contains("claulock")
        && crate::Hook::ALL
            .iter()
            .any(|(arg, _)| command.ends_with(&format!(" hook {arg}")))
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
pub fn add_ours(settings: &mut Map<String, Value>, invocation: &Invocation) -> Result<(), String> {
    add_hooks(settings, &CLAUDE, invocation)
}

/// Adds an agent's ClauLock hooks to its settings object (see [`add_ours`]).
///
/// # Errors
///
/// As [`add_ours`].
pub fn add_hooks(
    settings: &mut Map<String, Value>,
    table: &HookTable,
    invocation: &Invocation,
) -> Result<(), String> {
    let ours = hooks_of(table, invocation);
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

/// What Claude Code's Bash sandbox (bubblewrap, a network of its own)
/// needs from ClauLock, and what it must keep from the model.
#[derive(Clone, Debug, Default)]
pub struct SandboxPaths {
    /// `CLAULOCK_HOME`: hidden whole (the vault, the audit log).
    pub home: String,
    /// Within it, what `claulock exec` uses: the agent's socket, the
    /// proxy's socket and CA bundle (read), the hook's run directory
    /// (read and write).
    pub readable: Vec<String>,
    /// The hook's run directory.
    pub writable: Vec<String>,
    /// Hidden too: files that hold a vault value in plaintext (`.env`),
    /// and the session's sockets that would act outside the sandbox
    /// (D-Bus, systemd, Docker, ssh-agent, gpg-agent).
    pub value_files: Vec<String>,
}

/// Turns on Claude Code's Bash sandbox with what ClauLock needs: every
/// Unix socket allowed (on Linux the sandbox cannot allow one path only,
/// and `claulock exec` must reach the agent's and the proxy's sockets),
/// `CLAULOCK_HOME` and the value files hidden from reads but for the
/// sockets, the CA bundle and the run directory. Unsandboxed commands are
/// turned off (the model could ask to run outside). Lists are merged, not
/// replaced; every other setting is kept.
///
/// # Errors
///
/// When an existing `sandbox` entry is not an object of the right shape.
pub fn add_sandbox(settings: &mut Map<String, Value>, paths: &SandboxPaths) -> Result<(), String> {
    let sandbox = object(settings, "sandbox")?;
    sandbox.insert("enabled".into(), Value::Bool(true));
    sandbox.insert("allowUnsandboxedCommands".into(), Value::Bool(false));
    object(sandbox, "network")?.insert("allowAllUnixSockets".into(), Value::Bool(true));
    let fs = object(sandbox, "filesystem")?;
    let mut deny = vec![paths.home.clone()];
    deny.extend(paths.value_files.iter().cloned());
    merge(fs, "denyRead", &deny)?;
    merge(fs, "allowRead", &paths.readable)?;
    merge(fs, "allowWrite", &paths.writable)?;
    Ok(())
}

/// `map[key]` as an object, made if absent.
fn object<'m>(
    map: &'m mut Map<String, Value>,
    key: &str,
) -> Result<&'m mut Map<String, Value>, String> {
    map.entry(key)
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or_else(|| format!("`{key}` is not an object"))
}

/// Adds `items` to the list `map[key]` (made if absent), each once.
fn merge(map: &mut Map<String, Value>, key: &str, items: &[String]) -> Result<(), String> {
    let list = map
        .entry(key)
        .or_insert_with(|| Value::Array(Vec::new()))
        .as_array_mut()
        .ok_or_else(|| format!("`{key}` is not a list"))?;
    for item in items {
        if !list.iter().any(|v| v.as_str() == Some(item)) {
            list.push(Value::String(item.clone()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invocation_carries_its_environment() {
        let inv = Invocation {
            exe: "/opt/my tools/claulock".into(),
            env: vec![("CLAULOCK_HOME".into(), "/home/me/.claulock".into())],
        };
        let hooks = hooks_for(&inv);
        assert_eq!(
            hooks["PreToolUse"][0]["hooks"][0]["command"],
            "CLAULOCK_HOME=/home/me/.claulock '/opt/my tools/claulock' hook pre-tool-use"
        );
        assert!(is_ours(
            hooks["PreToolUse"][0]["hooks"][0]["command"]
                .as_str()
                .unwrap()
        ));
        let mcp = mcp_entry(&inv);
        assert_eq!(mcp["env"]["CLAULOCK_HOME"], "/home/me/.claulock");
        assert!(
            mcp_entry(&Invocation::bare("claulock"))
                .get("env")
                .is_none()
        );
    }

    #[test]
    fn install_then_uninstall_leaves_the_rest_as_it_was() {
        let original = json!({
            "model": "x",
            "hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "mine.sh"}]}]},
            "permissions": {"allow": ["Bash(npm test:*)"]}
        });
        let mut s = original.as_object().unwrap().clone();
        let ours = hooks_for(&Invocation::bare("/opt/claulock"));
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
    fn the_sandbox_is_merged_into_what_is_there() {
        let mut s = json!({
            "sandbox": {"network": {"allowedDomains": ["github.com"]},
                        "filesystem": {"denyRead": ["~/.ssh"], "allowRead": ["/h/agent.sock"]}},
            "model": "x"
        })
        .as_object()
        .unwrap()
        .clone();
        let paths = SandboxPaths {
            home: "/h".into(),
            readable: vec!["/h/agent.sock".into(), "/h/proxy.sock".into()],
            writable: vec!["/h/run".into()],
            value_files: vec!["/p/.env".into()],
        };
        add_sandbox(&mut s, &paths).unwrap();
        add_sandbox(&mut s, &paths).unwrap();
        assert_eq!(
            Value::Object(s),
            json!({
                "sandbox": {
                    "network": {"allowedDomains": ["github.com"], "allowAllUnixSockets": true},
                    "filesystem": {
                        "denyRead": ["~/.ssh", "/h", "/p/.env"],
                        "allowRead": ["/h/agent.sock", "/h/proxy.sock"],
                        "allowWrite": ["/h/run"]
                    },
                    "enabled": true,
                    "allowUnsandboxedCommands": false
                },
                "model": "x"
            })
        );
        let mut bad = json!({"sandbox": []}).as_object().unwrap().clone();
        assert!(add_sandbox(&mut bad, &paths).is_err());
    }

    #[test]
    fn ours_is_recognised_and_others_are_not() {
        assert!(is_ours("/usr/local/bin/claulock hook pre-tool-use"));
        assert!(is_ours("'/my dir/claulock' hook stop"));
        assert!(!is_ours("claulock-audit.sh"));
        assert!(!is_ours("/usr/bin/other hook stop"));
        assert!(is_ours("claulock hook pre-tool-use --agent gemini"));
        assert!(!is_ours("claulock hook pre-tool-use --agent cursor"));
        let gemini = hooks_of(&GEMINI, &Invocation::bare("claulock"));
        let hook = &gemini["BeforeTool"][0]["hooks"][0];
        assert_eq!(hook["command"], "claulock hook pre-tool-use --agent gemini");
        assert_eq!(hook["timeout"], 10_000);
        assert!(is_ours(hook["command"].as_str().unwrap()));
    }

    #[test]
    fn the_plugin_ships_the_same_hooks() {
        let text = include_str!("../../../plugin/claulock/hooks/hooks.json");
        let plugin: Value = serde_json::from_str(text).unwrap();
        assert_eq!(plugin["hooks"], hooks_for(&Invocation::bare("claulock")));
    }

    #[test]
    fn the_plugin_ships_the_same_mcp_server() {
        let text = include_str!("../../../plugin/claulock/.mcp.json");
        let plugin: Value = serde_json::from_str(text).unwrap();
        assert_eq!(
            plugin["mcpServers"][MCP_NAME],
            mcp_entry(&Invocation::bare("claulock"))
        );
    }
}
