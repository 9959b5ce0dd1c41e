//! Scrubbing a JSON value in its own shape (feature `json`).
//!
//! Coding agents take a replaced tool result only in the tool's own shape
//! (Claude Code 2.1: for Bash `{stdout, stderr, interrupted, isImage}`; for
//! Read `{type, file: {content, ...}}`; a bare string is ignored). Rather
//! than model each tool, [`scrub_strings`] walks the value and rewrites
//! every string in place, keys included, so any shape, known or not, comes
//! back as it went in.

use serde_json::Value;

/// Scrubs every string of `response` with `scrub`, which returns `Some`
/// with the redacted text when it caught something. Returns the response
/// in the same shape when anything changed, `None` when nothing did.
pub fn scrub_strings(
    response: &Value,
    scrub: &mut dyn FnMut(&str) -> Option<String>,
) -> Option<Value> {
    let mut changed = false;
    let out = walk(response, scrub, true, &mut changed);
    changed.then_some(out)
}

/// Replaces every string *value* of `response` with `with(value)`, keeping
/// the keys: the shape stays the one the agent expects (for withholding a
/// result that cannot be scrubbed).
pub fn replace_values(response: &Value, with: &mut dyn FnMut(&str) -> String) -> Value {
    let mut changed = false;
    walk(response, &mut |s| Some(with(s)), false, &mut changed)
}

fn walk(
    v: &Value,
    scrub: &mut dyn FnMut(&str) -> Option<String>,
    keys: bool,
    changed: &mut bool,
) -> Value {
    match v {
        Value::String(s) => match scrub(s) {
            Some(t) => {
                *changed = true;
                Value::String(t)
            }
            None => v.clone(),
        },
        Value::Array(a) => Value::Array(a.iter().map(|x| walk(x, scrub, keys, changed)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| {
                    let key = match keys.then(|| scrub(k)).flatten() {
                        Some(t) => {
                            *changed = true;
                            t
                        }
                        None => k.clone(),
                    };
                    (key, walk(x, scrub, keys, changed))
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
    fn replacing_values_keeps_keys_and_other_types() {
        let r = json!({"stdout": "CANARY", "n": 1, "list": ["a", true]});
        let out = replace_values(&r, &mut |_| "withheld".into());
        assert_eq!(
            out,
            json!({"stdout": "withheld", "n": 1, "list": ["withheld", true]})
        );
    }

    #[test]
    fn nothing_caught_is_none() {
        assert_eq!(scrub_strings(&json!({"stdout": "fine"}), &mut redact), None);
        assert_eq!(scrub_strings(&Value::Null, &mut redact), None);
    }
}
