//! Which files a built-in tool would read.
//!
//! A tool that reads a file holding a vault value would put the value in
//! the transcript and the model's context, and PostToolUse can only redact
//! what the model sees *after* Claude Code has stored the raw result in
//! places of its own. So PreToolUse asks the agent whether these files hold
//! a value, and refuses the call when one does.

use serde_json::Value;

use crate::Agent;

/// What a tool call would read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reads {
    /// Nothing we can name before it runs (or nothing at all).
    Nothing,
    /// One file, read whole (`Read`, `NotebookRead`, and `Edit`/`Write`,
    /// whose results carry the original file).
    File(String),
    /// A search over a file or a directory tree (`Grep`).
    Tree(String),
}

/// The files the tool call `tool` of `agent`, with input `input`, would
/// read; `cwd` is the session's directory (the default search root).
pub fn reads(agent: Agent, tool: &str, input: &Value, cwd: Option<&str>) -> Reads {
    let field = |k: &str| input.get(k).and_then(Value::as_str).map(str::to_owned);
    let file = |k: &str| field(k).map_or(Reads::Nothing, Reads::File);
    let tree = |k: &str| {
        field(k)
            .or_else(|| cwd.map(str::to_owned))
            .map_or(Reads::Nothing, Reads::Tree)
    };
    match (agent, tool) {
        (Agent::ClaudeCode, "Read" | "Edit" | "MultiEdit" | "Write") => file("file_path"),
        (Agent::ClaudeCode, "NotebookRead" | "NotebookEdit") => field("notebook_path")
            .or_else(|| field("file_path"))
            .map_or(Reads::Nothing, Reads::File),
        (Agent::ClaudeCode, "Grep") => tree("path"),
        // Gemini CLI 0.61: `read_file {file_path}`, `replace` and
        // `write_file` (their results carry the file), `grep_search
        // {pattern, dir_path?}`, `read_many_files` (not offered by
        // default; its includes are globs, so the whole tree).
        (Agent::Gemini, "read_file" | "replace" | "write_file") => file("file_path"),
        (Agent::Gemini, "grep_search" | "search_file_content" | "read_many_files") => {
            tree("dir_path")
        }
        // OpenCode 1.18: `read`, `edit`, `write {filePath}`, `grep
        // {pattern, path?}`.
        (Agent::OpenCode, "read" | "edit" | "write") => file("filePath"),
        (Agent::OpenCode, "grep") => tree("path"),
        _ => Reads::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_of_each_tool() {
        let cases = [
            (
                "Read",
                json!({"file_path": "/p/.env"}),
                Reads::File("/p/.env".into()),
            ),
            (
                "Edit",
                json!({"file_path": "/p/a", "old_string": "x"}),
                Reads::File("/p/a".into()),
            ),
            (
                "NotebookRead",
                json!({"notebook_path": "/p/n.ipynb"}),
                Reads::File("/p/n.ipynb".into()),
            ),
            (
                "Grep",
                json!({"pattern": "x", "path": "/p/src"}),
                Reads::Tree("/p/src".into()),
            ),
            ("Grep", json!({"pattern": "x"}), Reads::Tree("/cwd".into())),
            ("Glob", json!({"pattern": "*"}), Reads::Nothing),
            ("Read", json!({"file_path": 3}), Reads::Nothing),
            ("Bash", json!({"command": "cat x"}), Reads::Nothing),
        ];
        for (tool, input, want) in cases {
            assert_eq!(
                reads(Agent::ClaudeCode, tool, &input, Some("/cwd")),
                want,
                "{tool} {input}"
            );
        }
    }

    #[test]
    fn reads_of_the_other_agents_tools() {
        let cases = [
            (
                Agent::Gemini,
                "read_file",
                json!({"file_path": ".env"}),
                Reads::File(".env".into()),
            ),
            (
                Agent::Gemini,
                "grep_search",
                json!({"pattern": "x"}),
                Reads::Tree("/cwd".into()),
            ),
            (
                Agent::OpenCode,
                "read",
                json!({"filePath": "/p/.env"}),
                Reads::File("/p/.env".into()),
            ),
            (
                Agent::OpenCode,
                "grep",
                json!({"pattern": "x", "path": "/p"}),
                Reads::Tree("/p".into()),
            ),
            // Claude Code's names mean nothing to OpenCode, and back.
            (
                Agent::OpenCode,
                "Read",
                json!({"file_path": "/p/.env"}),
                Reads::Nothing,
            ),
            (
                Agent::ClaudeCode,
                "read",
                json!({"filePath": "/p/.env"}),
                Reads::Nothing,
            ),
        ];
        for (agent, tool, input, want) in cases {
            assert_eq!(
                reads(agent, tool, &input, Some("/cwd")),
                want,
                "{agent:?} {tool}"
            );
        }
    }
}
