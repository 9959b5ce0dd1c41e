//! The MCP tools, on rmcp.

use std::sync::Arc;
use std::time::Duration;

use rmcp::handler::server::common::schema_for_type;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    ElicitationAction, Implementation, JsonObject, ProtocolVersion, ServerCapabilities,
    ServerConfig,
};
use rmcp::service::{ElicitationError, ElicitationMode, Peer, RoleServer};
use rmcp::{Json, ServerHandler, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::backend::{
    AuditEvent, Backend, CheckResult, Entry, EntryKind, EntryState, NewSecret, RunResult,
    SecretInfo, Status,
};

/// How long a `secret_request`/`secret_rotate` call waits for the value
/// after the user agreed to enter it, before it returns "pending".
const ENTRY_WAIT: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_millis(250);

/// `secret_list` arguments.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListArgs {
    /// Only secrets with this tag.
    #[serde(default)]
    pub tag: Option<String>,
}

/// No arguments (`secret_status`).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

/// `secret_describe` and `secret_rotate` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NameArgs {
    /// The secret's name (as in `{{NAME}}`).
    pub name: String,
}

/// `secret_check` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckArgs {
    /// The shell command, with `{{NAME}}` placeholders, as it would be run.
    pub command: String,
    /// The directory it would run in (default: the server's).
    #[serde(default)]
    pub cwd: Option<String>,
}

/// `secret_run` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunArgs {
    /// A shell command (bash); write `{{NAME}}` where a secret goes.
    pub command: String,
    /// The directory it runs in (default: the server's).
    #[serde(default)]
    pub cwd: Option<String>,
    /// Seconds before it is killed (default 120, at most 600).
    #[serde(default)]
    pub timeout_secs: Option<u64>,
}

/// `secret_run`'s default timeout.
const RUN_TIMEOUT: u64 = 120;
/// `secret_run`'s longest timeout.
const RUN_TIMEOUT_MAX: u64 = 600;

/// `secret_tag` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TagArgs {
    /// The secret's name.
    pub name: String,
    /// Tags to add.
    #[serde(default)]
    pub add: Vec<String>,
    /// Tags to remove.
    #[serde(default)]
    pub remove: Vec<String>,
}

/// `secret_request` arguments: the new secret's name and rules. There is
/// no field for the value: the human enters it out of band.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestArgs {
    /// The new secret's name: a letter or `_`, then letters, digits, `_`.
    pub name: String,
    /// Hosts the value may be sent to (exact, or `*.suffix`).
    #[serde(default)]
    pub allow_hosts: Vec<String>,
    /// Programs the value may be passed to.
    #[serde(default)]
    pub allow_programs: Vec<String>,
    /// Labels.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Where the value lives in a team's OpenBao or Vault that the user
    /// added as a source (`SOURCE:PATH#FIELD`, e.g.
    /// `team:secret/app#password`): no value is entered; the user runs the
    /// returned terminal command, which asks for the vault's passphrase.
    #[serde(default)]
    pub from: Option<String>,
}

/// `secret_audit_log` arguments.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditArgs {
    /// Only events about this secret.
    #[serde(default)]
    pub secret: Option<String>,
    /// Only events of this action (`resolve`, `denied`, `scrubbed`, ...).
    #[serde(default)]
    pub action: Option<String>,
    /// At most this many events, the most recent (default 50, at most 500).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// `secret_list` result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SecretList {
    /// The secrets' metadata.
    pub secrets: Vec<SecretInfo>,
}

/// `secret_audit_log` result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AuditLog {
    /// Events, oldest first.
    pub events: Vec<AuditEvent>,
}

/// `secret_request` and `secret_rotate` result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct EntryOutcome {
    /// The secret.
    pub name: String,
    /// `stored`, `pending`, `declined` or `expired`.
    pub state: String,
    /// What happened and what to do next.
    pub message: String,
    /// The one-time loopback page where the user enters the value.
    pub url: String,
    /// The terminal command that does the same.
    pub terminal_command: String,
}

/// The consent form for clients without URL elicitation: it asks for
/// consent only, never for the value.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Consent {
    /// Tick once the value is entered (on the page or in the terminal).
    pub entered: bool,
}
rmcp::elicit_safe!(Consent);

/// The MCP server. Cheap to clone; every clone shares the backend.
#[derive(Clone)]
pub struct SecretServer {
    backend: Arc<dyn Backend>,
    cwd: String,
    tool_router: ToolRouter<Self>,
}

fn parse<T: DeserializeOwned>(tool: &str, args: JsonObject) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::Object(args))
        .map_err(|e| format!("bad arguments for {tool}: {e}; see the tool's input schema"))
}

fn check_name(name: &str) -> Result<(), String> {
    let ok = name.len() <= 128
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{:?} is not a valid secret name: use a letter or `_`, then letters, digits and `_` (at most 128)",
            name.chars().take(140).collect::<String>()
        ))
    }
}

#[tool_router(router = tool_router)]
impl SecretServer {
    /// A server over `backend`; `cwd` is the default directory of
    /// `secret_check`.
    pub fn new(backend: Arc<dyn Backend>, cwd: String) -> Self {
        let mut tool_router = Self::tool_router();
        for route in tool_router.map.values_mut() {
            let tool = &mut route.attr;
            tool.input_schema = Arc::new(portable(&tool.input_schema));
            if let Some(out) = &tool.output_schema {
                tool.output_schema = Some(Arc::new(portable(out)));
            }
        }
        SecretServer {
            backend,
            cwd,
            tool_router,
        }
    }

    #[tool(
        name = "secret_list",
        description = "List the secrets: names, tags, allowed hosts and programs, expiry. Never a value. Use a secret by writing {{NAME}} in a Bash command.",
        input_schema = schema_for_type::<ListArgs>(),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn secret_list(
        &self,
        Parameters(args): Parameters<JsonObject>,
    ) -> Result<Json<SecretList>, String> {
        let args: ListArgs = parse("secret_list", args)?;
        let mut secrets = self.backend.list()?;
        if let Some(tag) = &args.tag {
            secrets.retain(|s| s.allowances.tags.contains(tag));
        }
        Ok(Json(SecretList { secrets }))
    }

    #[tool(
        name = "secret_describe",
        description = "One secret's metadata (tags, allowlists, dates, expiry). Never the value, its length or any part of it.",
        input_schema = schema_for_type::<NameArgs>(),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn secret_describe(
        &self,
        Parameters(args): Parameters<JsonObject>,
    ) -> Result<Json<SecretInfo>, String> {
        let args: NameArgs = parse("secret_describe", args)?;
        check_name(&args.name)?;
        Ok(Json(self.backend.describe(&args.name)?))
    }

    #[tool(
        name = "secret_check",
        description = "Would this shell command be allowed to receive the secrets it names? A policy dry run (nothing is executed): use it to fix a command before running it.",
        input_schema = schema_for_type::<CheckArgs>(),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn secret_check(
        &self,
        Parameters(args): Parameters<JsonObject>,
    ) -> Result<Json<CheckResult>, String> {
        let args: CheckArgs = parse("secret_check", args)?;
        let cwd = args.cwd.unwrap_or_else(|| self.cwd.clone());
        Ok(Json(self.backend.check(&args.command, &cwd)?))
    }

    #[tool(
        name = "secret_tag",
        description = "Add or remove tags on a secret; returns its metadata after.",
        input_schema = schema_for_type::<TagArgs>(),
        annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn secret_tag(
        &self,
        Parameters(args): Parameters<JsonObject>,
    ) -> Result<Json<SecretInfo>, String> {
        let args: TagArgs = parse("secret_tag", args)?;
        check_name(&args.name)?;
        Ok(Json(self.backend.tag(
            &args.name,
            &args.add,
            &args.remove,
        )?))
    }

    #[tool(
        name = "secret_request",
        description = "Ask the user to store a new secret. The user enters the value on a one-time local page or in a terminal; it never passes through this conversation. Returns once it is stored, or how to finish. With `from` (SOURCE:PATH#FIELD), a secret read from the team's OpenBao or Vault: the user adds it with the command returned.",
        input_schema = schema_for_type::<RequestArgs>(),
        annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = false, open_world_hint = false)
    )]
    async fn secret_request(
        &self,
        Parameters(args): Parameters<JsonObject>,
        peer: Peer<RoleServer>,
    ) -> Result<Json<EntryOutcome>, String> {
        let args: RequestArgs = parse("secret_request", args)?;
        check_name(&args.name)?;
        let meta = NewSecret {
            allow_hosts: args.allow_hosts,
            allow_programs: args.allow_programs,
            tags: args.tags,
        };
        if let Some(from) = &args.from {
            let command = self.backend.source_command(&args.name, from, &meta)?;
            return Ok(Json(EntryOutcome {
                name: args.name.clone(),
                state: "pending".into(),
                message: format!(
                    "ClauLock: ask the user to run `{command}` in a terminal. It adds {} read from \
                     {from} when a command needs it (no value is entered anywhere), and asks for the \
                     vault's passphrase: such a secret reaches what the source's token can read, so \
                     only the user may add it. Then use it as {{{{{}}}}}.",
                    args.name, args.name
                ),
                url: String::new(),
                terminal_command: command,
            }));
        }
        let entry = self
            .backend
            .begin_entry(&args.name, EntryKind::Add, &meta)?;
        Ok(Json(
            self.enter(&peer, &args.name, EntryKind::Add, entry).await,
        ))
    }

    #[tool(
        name = "secret_rotate",
        description = "Ask the user to give a secret a new value (the old one stays scrubbed from output). The user enters it on a one-time local page or in a terminal; it never passes through this conversation.",
        input_schema = schema_for_type::<NameArgs>(),
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = false, open_world_hint = false)
    )]
    async fn secret_rotate(
        &self,
        Parameters(args): Parameters<JsonObject>,
        peer: Peer<RoleServer>,
    ) -> Result<Json<EntryOutcome>, String> {
        let args: NameArgs = parse("secret_rotate", args)?;
        check_name(&args.name)?;
        let entry =
            self.backend
                .begin_entry(&args.name, EntryKind::Rotate, &NewSecret::default())?;
        Ok(Json(
            self.enter(&peer, &args.name, EntryKind::Rotate, entry)
                .await,
        ))
    }

    #[tool(
        name = "secret_audit_log",
        description = "Recent audit events (resolve, denied, add, rotate, remove, scrubbed, ...), filterable by secret and action. Events name secrets, never values.",
        input_schema = schema_for_type::<AuditArgs>(),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn secret_audit_log(
        &self,
        Parameters(args): Parameters<JsonObject>,
    ) -> Result<Json<AuditLog>, String> {
        let args: AuditArgs = parse("secret_audit_log", args)?;
        let limit = args.limit.unwrap_or(50).clamp(1, 500);
        let events = self
            .backend
            .audit(args.secret.as_deref(), args.action.as_deref(), limit)?;
        Ok(Json(AuditLog { events }))
    }

    #[tool(
        name = "secret_run",
        description = "Run a shell command that uses secrets, for clients whose shell tool ClauLock cannot hook. Write {{NAME}} where a secret goes: the same policy as the hooked shell decides (the secret goes only to its allowed programs and hosts), and stdout and stderr come back scrubbed, with the exit status. A refused command does not run; `refused` says why and what to do.",
        input_schema = schema_for_type::<RunArgs>(),
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = false, open_world_hint = true)
    )]
    async fn secret_run(
        &self,
        Parameters(args): Parameters<JsonObject>,
    ) -> Result<Json<RunResult>, String> {
        let args: RunArgs = parse("secret_run", args)?;
        let cwd = args.cwd.unwrap_or_else(|| self.cwd.clone());
        let timeout = Duration::from_secs(
            args.timeout_secs
                .unwrap_or(RUN_TIMEOUT)
                .clamp(1, RUN_TIMEOUT_MAX),
        );
        let backend = Arc::clone(&self.backend);
        // The command runs for up to the timeout: off the protocol's
        // thread, so that the server answers pings and cancellations.
        let result = tokio::task::spawn_blocking(move || backend.run(&args.command, &cwd, timeout))
            .await
            .map_err(|_| "secret_run: the command's runner failed".to_owned())??;
        Ok(Json(result))
    }

    #[tool(
        name = "secret_status",
        description = "Whether the vault exists and is unlocked, how many secrets it holds, and the agent's health.",
        input_schema = schema_for_type::<NoArgs>(),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn secret_status(&self) -> Result<Json<Status>, String> {
        Ok(Json(self.backend.status()))
    }
}

impl SecretServer {
    /// Asks the user to enter the value: through a URL elicitation when
    /// the client offers it, else a consent-only form that shows the page
    /// and the terminal command; then waits for the value to be stored.
    async fn enter(
        &self,
        peer: &Peer<RoleServer>,
        name: &str,
        kind: EntryKind,
        entry: Entry,
    ) -> EntryOutcome {
        let verb = if kind == EntryKind::Add {
            "store the new secret"
        } else {
            "enter the new value of"
        };
        let message = format!(
            "ClauLock: please {verb} {name}. Type or paste it on this one-time local page (it expires in {}): {} \
             — or run `{}` in a terminal. The value goes straight to your vault; the assistant never sees it.",
            if entry.expires_in_secs >= 120 {
                format!("{} minutes", entry.expires_in_secs / 60)
            } else {
                format!("{} seconds", entry.expires_in_secs)
            },
            entry.url,
            entry.terminal_command
        );
        let modes = peer.supported_elicitation_modes();
        let answer = if modes.contains(&ElicitationMode::Url) {
            match url::Url::parse(&entry.url) {
                Ok(u) => match peer.elicit_url(message.clone(), u, entry.id.clone()).await {
                    Ok(ElicitationAction::Accept) => Some(true),
                    Ok(_) => Some(false),
                    Err(_) => None,
                },
                Err(_) => None,
            }
        } else if modes.contains(&ElicitationMode::Form) {
            match peer.elicit::<Consent>(message.clone()).await {
                Ok(Some(_)) => Some(true),
                Err(ElicitationError::UserDeclined | ElicitationError::UserCancelled)
                | Ok(None) => Some(false),
                Err(_) => None,
            }
        } else {
            None
        };
        let outcome = |state: &str, text: String| EntryOutcome {
            name: name.to_owned(),
            state: state.to_owned(),
            message: text,
            url: entry.url.clone(),
            terminal_command: entry.terminal_command.clone(),
        };
        if answer == Some(false) {
            return outcome(
                "declined",
                format!(
                    "The user declined to enter {name} now. Do not ask for the value in the conversation."
                ),
            );
        }
        let wait = if answer == Some(true) {
            ENTRY_WAIT
        } else {
            Duration::ZERO
        };
        let started = tokio::time::Instant::now();
        loop {
            match self.backend.entry_state(&entry.id) {
                Ok(EntryState::Stored) => {
                    return outcome(
                        "stored",
                        format!("{name} is stored. Use it as {{{{{name}}}}} in a Bash command."),
                    );
                }
                Ok(EntryState::Expired) => {
                    return outcome(
                        "expired",
                        format!(
                            "The page for {name} expired unused; call the tool again, or ask the user to run the terminal command."
                        ),
                    );
                }
                Ok(EntryState::Pending) => {}
                Err(e) => return outcome("pending", e),
            }
            if started.elapsed() >= wait {
                return outcome(
                    "pending",
                    format!(
                        "{name} is not stored yet. Ask the user to open {} or run `{}` in a terminal, then check with secret_describe. Never ask for the value in the conversation.",
                        entry.url, entry.terminal_command
                    ),
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

/// `schema` without the numeric `format`s schemars writes (`uint64`,
/// `int32`, …): they are OpenAPI's, not JSON Schema's, and a client that
/// validates schemas strictly warns of each (Gemini CLI's Ajv: `unknown
/// format "uint64"`); the `minimum` beside them says what matters.
fn portable(schema: &JsonObject) -> JsonObject {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                let numeric = m.get("format").and_then(|f| f.as_str()).is_some_and(|f| {
                    f.starts_with("int") || f.starts_with("uint") || f == "float" || f == "double"
                });
                if numeric {
                    m.remove("format");
                }
                m.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v = serde_json::Value::Object(schema.clone());
    strip(&mut v);
    match v {
        serde_json::Value::Object(m) => m,
        _ => schema.clone(),
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for SecretServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_protocol_version(ProtocolVersion::V_2025_11_25)
            .with_server_info(Implementation::new("claulock", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "ClauLock keeps secrets out of this conversation. Use a secret by writing {{NAME}} in a Bash \
                 command; these tools list, describe, check, tag and request secrets, and never return a value.",
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::*;

    /// A backend that answers nothing: the tool list does not need one.
    struct Nothing;

    impl Backend for Nothing {
        fn status(&self) -> Status {
            Status {
                vault_exists: false,
                unlocked: false,
                secrets: None,
                agent_pid: None,
                key_memory_locked: None,
                idle_timeout_secs: None,
                sources: Vec::new(),
                hint: None,
            }
        }
        fn list(&self) -> Result<Vec<SecretInfo>, String> {
            Err("none".into())
        }
        fn describe(&self, _: &str) -> Result<SecretInfo, String> {
            Err("none".into())
        }
        fn check(&self, _: &str, _: &str) -> Result<CheckResult, String> {
            Err("none".into())
        }
        fn tag(&self, _: &str, _: &[String], _: &[String]) -> Result<SecretInfo, String> {
            Err("none".into())
        }
        fn begin_entry(&self, _: &str, _: EntryKind, _: &NewSecret) -> Result<Entry, String> {
            Err("none".into())
        }
        fn entry_state(&self, _: &str) -> Result<EntryState, String> {
            Err("none".into())
        }
        fn audit(
            &self,
            _: Option<&str>,
            _: Option<&str>,
            _: usize,
        ) -> Result<Vec<AuditEvent>, String> {
            Err("none".into())
        }
        fn run(&self, _: &str, _: &str, _: Duration) -> Result<RunResult, String> {
            Err("none".into())
        }
    }

    /// The tool reference, as `TOOLS.md` (included in the crate docs) shows it.
    fn reference() -> String {
        let server = SecretServer::new(Arc::new(Nothing), "/".into());
        let mut tools = server.tool_router.list_all();
        tools.sort_by(|a, b| a.name.cmp(&b.name));
        let mut out = String::from(
            "# The tools of `claulock mcp`\n\n\
             Generated from the server by the test `server::tests::tools_md_is_current` \
             (run it with `UPDATE_TOOLS_MD=1` to rewrite this file).\n",
        );
        for t in tools {
            let a = t.annotations.clone().unwrap_or_default();
            out.push_str(&format!(
                "\n## `{}`\n\n{}\n\nread-only: {}; destructive: {}; idempotent: {}\n\n",
                t.name,
                t.description.as_deref().unwrap_or_default(),
                a.read_only_hint.unwrap_or(false),
                a.destructive_hint
                    .unwrap_or(!a.read_only_hint.unwrap_or(false)),
                a.idempotent_hint.unwrap_or(false),
            ));
            let pretty =
                |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap_or_default();
            out.push_str(&format!(
                "Input schema:\n\n```json\n{}\n```\n\nOutput schema:\n\n```json\n{}\n```\n",
                pretty(&serde_json::Value::Object((*t.input_schema).clone())),
                pretty(
                    &t.output_schema
                        .as_ref()
                        .map_or(serde_json::Value::Null, |s| serde_json::Value::Object(
                            (**s).clone()
                        ))
                ),
            ));
        }
        out
    }

    #[test]
    fn tools_md_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/TOOLS.md");
        let want = reference();
        if std::env::var_os("UPDATE_TOOLS_MD").is_some() {
            std::fs::write(path, &want).unwrap();
        }
        let have = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            have == want,
            "TOOLS.md is stale: run `UPDATE_TOOLS_MD=1 cargo test -p claulock-mcp`"
        );
    }

    #[test]
    fn no_tool_can_carry_a_value() {
        let server = SecretServer::new(Arc::new(Nothing), "/".into());
        for t in server.tool_router.list_all() {
            let schemas = format!("{:?} {:?}", t.input_schema, t.output_schema).to_lowercase();
            // OpenAPI's numeric formats make strict validators warn.
            assert!(
                !schemas.contains("\"uint") && !schemas.contains("\"int32"),
                "{} has a numeric format",
                t.name
            );
            for word in [
                "\"value\"",
                "\"secret_value\"",
                "\"length\"",
                "\"prefix\"",
                "\"suffix\"",
                "\"hash\"",
            ] {
                assert!(!schemas.contains(word), "{} has a field {word}", t.name);
            }
            assert!(t.output_schema.is_some(), "{} has no output schema", t.name);
        }
    }
}
