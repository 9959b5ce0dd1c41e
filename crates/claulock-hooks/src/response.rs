//! Scrubbing a tool's response in its own shape.
//!
//! Claude Code 2.1 takes a PostToolUse `updatedToolOutput` only in the
//! tool's own result shape (for Bash `{stdout, stderr, interrupted,
//! isImage}`; for Read `{type, file: {content, ...}}`; for Grep
//! `{mode, content, filenames, ...}`; a bare string is ignored). Rather
//! than model each tool, this walks the response and scrubs every string
//! in place, keys included, so any tool's shape, known or not, comes back
//! as it went in.

use serde_json::Value;

/// Scrubs every string of `response` with `scrub`, which returns `Some`
/// with the redacted text when it caught something. Returns the response
/// in the same shape when anything changed, `None` when nothing did.
pub fn scrub_strings(
    response: &Value,
    scrub: &mut dyn FnMut(&str) -> Option<String>,
) -> Option<Value> {
    let mut changed = false;
    let out = walk(response, scrub, &mut changed);
    changed.then_some(out)
}

fn walk(v: &Value, scrub: &mut dyn FnMut(&str) -> Option<String>, changed: &mut bool) -> Value {
    match v {
        Value::String(s) => match scrub(s) {
            Some(t) => {
                *changed = true;
                Value::String(t)
            }
            None => v.clone(),
        },
        Value::Array(a) => Value::Array(a.iter().map(|x| walk(x, scrub, changed)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| {
                    let key = match scrub(k) {
                        Some(t) => {
                            *changed = true;
                            t
                        }
                        None => k.clone(),
                    };
                    (key, walk(x, scrub, changed))
                })
                .collect(),
        ),
        _ => v.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn redact(s: &str) -> Option<String> {
        s.contains("CANARY")
            .then(|| s.replace("CANARY", "[REDACTED:T]"))
    }

    #[test]
    fn bash_shape_is_kept() {
        let r =
            json!({"stdout": "x CANARY y", "stderr": "", "interrupted": false, "isImage": false});
        let out = scrub_strings(&r, &mut redact).unwrap();
        assert_eq!(
            out,
            json!({"stdout": "x [REDACTED:T] y", "stderr": "", "interrupted": false, "isImage": false})
        );
    }

    #[test]
    fn nested_shapes_and_keys() {
        let r = json!({"type": "text", "file": {"content": "CANARY", "numLines": 1}, "CANARY": [1, "CANARY"]});
        let out = scrub_strings(&r, &mut redact).unwrap();
        assert!(!out.to_string().contains("CANARY"), "{out}");
        assert_eq!(out["file"]["numLines"], 1);
    }

    #[test]
    fn nothing_caught_is_none() {
        assert_eq!(scrub_strings(&json!({"stdout": "fine"}), &mut redact), None);
        assert_eq!(scrub_strings(&Value::Null, &mut redact), None);
    }
}
