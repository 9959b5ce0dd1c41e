//! The placeholder grammar: where `{{NAME}}` appears in a command.
//!
//! A placeholder is `{{NAME}}` where NAME starts with an ASCII letter or `_`
//! and continues with ASCII letters, digits and `_` (so every name is a valid
//! environment variable name), at most [`MAX_NAME_LEN`] bytes. Anything else
//! between double braces (`{{.State}}`, `{{ x }}`, `{{}}`, `{{9X}}`) is plain
//! text, so Go templates and Jinja pass through untouched.
//!
//! # Escape
//!
//! `{{!NAME}}` stands for the literal text `{{NAME}}`: it is never resolved,
//! and the substitution plan rewrites it to `{{NAME}}` in the command that
//! runs. Callers that forward a command to another ClauLock component (the
//! hook forwarding to `claulock exec`) must forward the original text, so the
//! escape is undone exactly once.

use std::fmt;
use std::ops::Range;

/// The longest placeholder name accepted, in bytes.
pub const MAX_NAME_LEN: usize = 128;

/// One `{{NAME}}` occurrence in a text.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Placeholder {
    /// The secret's name, without braces.
    pub name: String,
    /// Byte span of the whole `{{NAME}}` in the parsed text.
    pub span: Range<usize>,
}

/// A piece of a parsed text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment<'a> {
    /// Text with no placeholder in it, passed through as it is.
    Literal(&'a str),
    /// A placeholder to be resolved.
    Placeholder(Placeholder),
    /// `{{!NAME}}`: stands for the literal text `{{NAME}}`.
    Escaped(Placeholder),
}

/// A text that looks like a placeholder but cannot be one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrammarError {
    offset: usize,
    len: usize,
}

impl GrammarError {
    /// Byte offset of the offending `{{` in the text.
    pub fn offset(&self) -> usize {
        self.offset
    }
}

impl fmt::Display for GrammarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "placeholder at byte {} has a name of {} bytes, longer than the limit of {MAX_NAME_LEN}",
            self.offset, self.len
        )
    }
}

impl std::error::Error for GrammarError {}

/// Whether `name` is a valid secret name (and so a valid placeholder name).
///
/// ```
/// use claulock_core::grammar::is_valid_name;
/// assert!(is_valid_name("GITHUB_TOKEN"));
/// assert!(!is_valid_name("9LIVES"));
/// assert!(!is_valid_name(""));
/// ```
pub fn is_valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_NAME_LEN
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// Splits `text` into literal text, placeholders and escaped placeholders.
///
/// # Errors
///
/// A well-formed placeholder whose name exceeds [`MAX_NAME_LEN`] is an error
/// rather than literal text: silently passing it through would hide a typo.
///
/// # Example
///
/// ```
/// use claulock_core::grammar::{parse, Segment};
/// let segs = parse("echo {{.State}} {{TOKEN}}").unwrap();
/// assert_eq!(segs.len(), 2);
/// assert!(matches!(&segs[1], Segment::Placeholder(p) if p.name == "TOKEN" && p.span == (16..25)));
/// ```
pub fn parse(text: &str) -> Result<Vec<Segment<'_>>, GrammarError> {
    let bytes = text.as_bytes();
    let mut segments = Vec::new();
    let mut literal_start = 0;
    let mut i = 0;
    while let Some(found) = find_open(bytes, i) {
        i = found;
        let escaped = bytes.get(i + 2) == Some(&b'!');
        let name_start = i + 2 + usize::from(escaped);
        let name_len = name_run(&bytes[name_start..]);
        let close = name_start + name_len;
        let well_formed = name_len > 0
            && !bytes[name_start].is_ascii_digit()
            && bytes.get(close) == Some(&b'}')
            && bytes.get(close + 1) == Some(&b'}');
        if !well_formed {
            i += 1;
            continue;
        }
        if name_len > MAX_NAME_LEN {
            return Err(GrammarError {
                offset: i,
                len: name_len,
            });
        }
        if literal_start < i {
            segments.push(Segment::Literal(&text[literal_start..i]));
        }
        let end = close + 2;
        let placeholder = Placeholder {
            name: text[name_start..close].to_owned(),
            span: i..end,
        };
        segments.push(if escaped {
            Segment::Escaped(placeholder)
        } else {
            Segment::Placeholder(placeholder)
        });
        literal_start = end;
        i = end;
    }
    if literal_start < text.len() {
        segments.push(Segment::Literal(&text[literal_start..]));
    }
    Ok(segments)
}

/// The placeholders (not the escapes) of `text`, in order.
///
/// # Errors
///
/// As [`parse`].
pub fn placeholders(text: &str) -> Result<Vec<Placeholder>, GrammarError> {
    Ok(parse(text)?
        .into_iter()
        .filter_map(|s| match s {
            Segment::Placeholder(p) => Some(p),
            _ => None,
        })
        .collect())
}

fn find_open(bytes: &[u8], from: usize) -> Option<usize> {
    bytes
        .get(from..)?
        .windows(2)
        .position(|w| w == b"{{")
        .map(|p| p + from)
}

fn name_run(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
        .count()
}
