//! Which files a built-in tool would read.
//!
//! A tool that reads a file holding a vault value would put the value in
//! the transcript and the model's context, and PostToolUse can only redact
//! what the model sees *after* Claude Code has stored the raw result in
//! places of its own. So PreToolUse asks the agent whether these files hold
//! a value, and refuses the call when one does.

use serde_json::Value;

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

/// The files the tool call `tool` with input `input` would read; `cwd` is
/// the session's directory (the default search root).
pub fn reads(tool: &str, input: &Value, cwd: Option<&str>) -> Reads {
    let field = |k: &str| input.get(k).and_then(Value::as_str).map(str::to_owned);
    match tool {
        "Read" | "Edit" | "MultiEdit" | "Write" => {
            field("file_path").map_or(Reads::Nothing, Reads::File)
        }
        "NotebookRead" | "NotebookEdit" => field("notebook_path")
            .or_else(|| field("file_path"))
            .map_or(Reads::Nothing, Reads::File),
        "Grep" => field("path")
            .or_else(|| cwd.map(str::to_owned))
            .map_or(Reads::Nothing, Reads::Tree),
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
            assert_eq!(reads(tool, &input, Some("/cwd")), want, "{tool} {input}");
        }
    }
}
