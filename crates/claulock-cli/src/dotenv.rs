//! Reading `KEY=value` files in the syntax of the `dotenvy` crate: plain
//! values, single-quoted literals and double-quoted values with escapes,
//! optional `export`, comments. Variables are not expanded: a secrets file
//! holds literal values.

use std::fmt;

/// A malformed line. It names the line, never its value.
#[derive(Debug)]
pub(crate) struct DotenvError {
    line: usize,
    reason: &'static str,
}

impl fmt::Display for DotenvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

impl std::error::Error for DotenvError {}

/// Parses `text` into (name, value) pairs, in order.
pub(crate) fn parse(text: &str) -> Result<Vec<(String, Vec<u8>)>, DotenvError> {
    Ok(entries(text)?
        .into_iter()
        .map(|e| (e.name, e.value))
        .collect())
}

/// One `NAME=value` entry, with where its value is written in the text.
pub(crate) struct Entry {
    pub name: String,
    pub value: Vec<u8>,
    /// The value as written (its quotes included), as byte offsets of the
    /// text: what a rewrite replaces.
    pub span: std::ops::Range<usize>,
}

/// Parses `text` into entries, in order.
pub(crate) fn entries(text: &str) -> Result<Vec<Entry>, DotenvError> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut line = 1;
    while !rest.is_empty() {
        let start_line = line;
        let err = |reason| DotenvError {
            line: start_line,
            reason,
        };
        let trimmed = rest.trim_start_matches([' ', '\t']);
        if trimmed.starts_with('#') || trimmed.starts_with('\n') || trimmed.starts_with("\r\n") {
            let end = trimmed.find('\n').map_or(trimmed.len(), |i| i + 1);
            rest = &trimmed[end..];
            line += 1;
            continue;
        }
        if trimmed.trim().is_empty() {
            break;
        }
        let body = trimmed
            .strip_prefix("export ")
            .unwrap_or(trimmed)
            .trim_start();
        let eq = body.find('=').ok_or_else(|| err("expected NAME=value"))?;
        let name = body[..eq].trim_end();
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-');
        if !valid {
            return Err(err("a name holds only letters, digits, `_`, `.` and `-`"));
        }
        let after = body[eq + 1..].trim_start_matches([' ', '\t']);
        let at = text.len() - after.len();
        let (value, consumed) = match after.chars().next() {
            Some(q @ ('\'' | '"')) => {
                read_quoted(&after[1..], q).ok_or_else(|| err("unterminated quote"))?
            }
            _ => {
                let end = after.find('\n').unwrap_or(after.len());
                let mut v = &after[..end];
                // ` #` starts a comment in an unquoted value.
                if let Some(i) = v.find(" #").or_else(|| v.find("\t#")) {
                    v = &v[..i];
                }
                let v = v.trim_end().trim_end_matches('\r');
                (v.as_bytes().to_vec(), v.len())
            }
        };
        let span = at..at + consumed;
        let used = &after[..consumed];
        line += used.matches('\n').count();
        // Skip what is left of the line (a comment after a quoted value).
        let tail = &after[consumed..];
        let end = tail.find('\n').map_or(tail.len(), |i| i + 1);
        let leftover = tail[..end].trim();
        if !leftover.is_empty() && !leftover.starts_with('#') {
            return Err(err("unexpected text after the value"));
        }
        line += usize::from(end > 0 && tail[..end].ends_with('\n'));
        rest = &tail[end..];
        out.push(Entry {
            name: name.to_owned(),
            value,
            span,
        });
    }
    Ok(out)
}

/// Reads a quoted value after its opening quote; returns the value and the
/// bytes consumed, closing quote included.
fn read_quoted(s: &str, quote: char) -> Option<(Vec<u8>, usize)> {
    let mut value = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            c if c == quote => return Some((value.into_bytes(), i + 2)),
            '\\' if quote == '"' => {
                let (_, e) = chars.next()?;
                match e {
                    'n' => value.push('\n'),
                    'r' => value.push('\r'),
                    't' => value.push('\t'),
                    '"' | '\\' | '$' | '\'' => value.push(e),
                    other => {
                        value.push('\\');
                        value.push(other);
                    }
                }
            }
            c => value.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax() {
        let text = "# comment\nexport A=plain value # note\nB='lit\\n$x'\nC=\"two\\nlines \\\"q\\\"\"\n\nD=\"multi\nline\" # c\nE=\n";
        let got = parse(text).unwrap();
        let want: Vec<(String, Vec<u8>)> = vec![
            ("A".into(), b"plain value".to_vec()),
            ("B".into(), b"lit\\n$x".to_vec()),
            ("C".into(), b"two\nlines \"q\"".to_vec()),
            ("D".into(), b"multi\nline".to_vec()),
            ("E".into(), b"".to_vec()),
        ];
        assert_eq!(got, want);
        let e = parse("A=1\nB=\"open\nC=2\n").unwrap_err();
        assert_eq!(e.to_string(), "line 2: unterminated quote");
        assert_eq!(
            parse("A=1\nno equals\n").unwrap_err().to_string(),
            "line 2: expected NAME=value"
        );
    }
}
