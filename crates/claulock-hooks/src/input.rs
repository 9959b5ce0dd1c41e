//! The hook input: one JSON object per event, read leniently.

use serde::Deserialize;
use serde_json::Value;

/// What an agent sends a hook (Claude Code's fields, which Codex and
/// Gemini CLI share and ClauLock's OpenCode plugin sends). Every field is
/// optional and unknown fields are ignored, so that a newer agent does not
/// break the hook.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct HookInput {
    /// `PreToolUse`, `PostToolUse`, `UserPromptSubmit`, `SessionStart`, ...
    pub hook_event_name: String,
    /// The session's id.
    pub session_id: Option<String>,
    /// The session's transcript file (JSON lines).
    pub transcript_path: Option<String>,
    /// The session's working directory.
    pub cwd: Option<String>,
    /// The tool's name (tool events).
    pub tool_name: Option<String>,
    /// The tool's input, as the model wrote it (tool events).
    pub tool_input: Value,
    /// The tool's result (PostToolUse).
    pub tool_response: Value,
    /// The tool call's id (tool events).
    pub tool_use_id: Option<String>,
    /// The prompt (UserPromptSubmit).
    pub prompt: Option<String>,
    /// Why the session started (SessionStart): `startup`, `resume`, ...
    pub source: Option<String>,
}

/// A hook input that is not a JSON object.
#[derive(Debug)]
pub struct InputError(String);

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the hook input is not a JSON object: {}", self.0)
    }
}

impl std::error::Error for InputError {}

impl HookInput {
    /// Parses a hook input.
    ///
    /// # Errors
    ///
    /// When the bytes are not a JSON object. The error never quotes the
    /// input (it may hold a value).
    pub fn parse(bytes: &[u8]) -> Result<Self, InputError> {
        serde_json::from_slice(bytes).map_err(|e| {
            InputError(format!(
                "{} at line {} column {}",
                match e.classify() {
                    serde_json::error::Category::Io => "read error",
                    serde_json::error::Category::Syntax => "syntax error",
                    serde_json::error::Category::Data => "unexpected shape",
                    serde_json::error::Category::Eof => "truncated",
                },
                e.line(),
                e.column()
            ))
        })
    }

    /// The tool input with its `command` replaced and every other field
    /// kept (Claude Code's `updatedInput` and Gemini CLI's `tool_input`
    /// replace the whole object).
    pub fn with_command(&self, command: &str) -> Value {
        let mut input = match &self.tool_input {
            Value::Object(o) => o.clone(),
            _ => serde_json::Map::new(),
        };
        input.insert("command".into(), Value::String(command.into()));
        Value::Object(input)
    }
}
