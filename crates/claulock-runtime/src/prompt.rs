//! Prompts: what is blocked, and why.
//!
//! A prompt holding a vault value is always blocked (the agent finds those;
//! see `claulock hook`). Beside that, a prompt holding something shaped
//! like a well-known credential (a GitHub, GitLab, Slack, OpenAI,
//! Anthropic, Stripe, AWS, Google or npm token, or a private key) is
//! blocked too, unless the prompt carries [`OVERRIDE`]: such a string is
//! almost always a secret that belongs in the vault.

/// A prompt that carries this text is not checked for credential shapes.
pub const OVERRIDE: &str = "[claulock:allow]";

/// A credential-shaped string found in a prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenShape {
    /// What it looks like, e.g. "GitHub token".
    pub kind: &'static str,
    /// Where it is in the prompt (bytes).
    pub span: std::ops::Range<usize>,
}

/// A byte class of a token's body.
type Class = fn(u8) -> bool;

/// (prefix, kind, minimum length of the body after the prefix, body
/// character class).
const SHAPES: &[(&str, &str, usize, Class)] = &[
    ("github_pat_", "GitHub token", 22, word),
    ("ghp_", "GitHub token", 36, alnum),
    ("gho_", "GitHub token", 36, alnum),
    ("ghu_", "GitHub token", 36, alnum),
    ("ghs_", "GitHub token", 36, alnum),
    ("ghr_", "GitHub token", 36, alnum),
    ("glpat-", "GitLab token", 20, dashed),
    ("xoxb-", "Slack token", 10, dashed),
    ("xoxp-", "Slack token", 10, dashed),
    ("xoxa-", "Slack token", 10, dashed),
    ("xoxs-", "Slack token", 10, dashed),
    ("sk-ant-", "Anthropic key", 32, dashed),
    ("sk-proj-", "OpenAI key", 32, dashed),
    ("sk-", "OpenAI-style key", 32, dashed),
    ("sk_live_", "Stripe key", 16, alnum),
    ("rk_live_", "Stripe key", 16, alnum),
    ("AKIA", "AWS access key id", 16, upper),
    ("ASIA", "AWS access key id", 16, upper),
    ("AIza", "Google API key", 35, dashed),
    ("npm_", "npm token", 36, alnum),
    ("pypi-", "PyPI token", 50, dashed),
    ("-----BEGIN ", "private key", 0, |_| true),
];

fn alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}
fn word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}
fn dashed(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}
fn upper(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit()
}

/// Credential-shaped strings in `text`, in order, not overlapping.
pub fn token_shapes(text: &str) -> Vec<TokenShape> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    'scan: while i < bytes.len() {
        // A token starts at a word boundary.
        if i > 0 && dashed(bytes[i - 1]) {
            i += 1;
            continue;
        }
        for &(prefix, kind, min, class) in SHAPES {
            if !bytes[i..].starts_with(prefix.as_bytes()) {
                continue;
            }
            let start = i;
            let body = i + prefix.len();
            if prefix == "-----BEGIN " {
                let rest = &text[body..];
                let Some(line_end) = rest.find("-----") else {
                    continue;
                };
                if !rest[..line_end].ends_with("PRIVATE KEY") {
                    continue;
                }
                let end = rest.find("-----END ").map_or(bytes.len(), |e| {
                    (body + e + 9 + rest[e + 9..].find("-----").map_or(0, |x| x + 5))
                        .min(bytes.len())
                });
                found.push(TokenShape {
                    kind,
                    span: start..end,
                });
                i = end.max(i + 1);
                continue 'scan;
            }
            let end = body + bytes[body..].iter().take_while(|&&b| class(b)).count();
            if end - body >= min {
                found.push(TokenShape {
                    kind,
                    span: start..end,
                });
                i = end;
                continue 'scan;
            }
        }
        i += 1;
    }
    found
}

/// The reason shown to the user when a prompt holds a vault value.
pub fn vault_value_reason(secrets: &[String]) -> String {
    let placeholders = secrets
        .iter()
        .map(|s| format!("{{{{{s}}}}}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "ClauLock blocked this prompt: it holds the value of {} (a vault secret), which would \
         have been sent to the model. Write the placeholder instead: {placeholders}. ClauLock \
         substitutes it in commands without the model ever seeing the value. A copy the agent \
         had already written to its session transcript has been redacted.",
        secrets.join(", ")
    )
}

/// The reason shown to the user when a prompt holds a credential shape.
pub fn token_shape_reason(shapes: &[TokenShape]) -> String {
    let mut kinds: Vec<&str> = shapes.iter().map(|s| s.kind).collect();
    kinds.dedup();
    format!(
        "ClauLock blocked this prompt: it holds what looks like a credential ({}), which would \
         have been sent to the model. Store it in the vault in a terminal (`claulock add NAME`) \
         and write `{{{{NAME}}}}` instead. If it is not a secret, send the prompt again with \
         `{OVERRIDE}` in it. A copy the agent had already written to its session transcript has \
         been redacted.",
        kinds.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_found() {
        let gh = format!("ghp_{}", "a1".repeat(18));
        let aws = "AKIAABCDEFGHIJKLMNOP";
        let text = format!("use {gh} and {aws}.");
        let found = token_shapes(&text);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(&text[found[0].span.clone()], gh);
        assert_eq!(&text[found[1].span.clone()], aws);
    }

    #[test]
    fn private_key_block_found_whole() {
        let text =
            "x -----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY----- y";
        let found = token_shapes(text);
        assert_eq!(found.len(), 1);
        assert!(
            text[found[0].span.clone()].ends_with("KEY-----"),
            "{found:?}"
        );
    }

    #[test]
    fn ordinary_text_is_not_a_token() {
        for t in [
            "ask-me anything",
            "the sk- prefix",
            "ghp_short",
            "TASKIAXXXXXXXXXXXXXXXXXX",
            "-----BEGIN CERTIFICATE-----",
            "é ghp_",
        ] {
            assert!(token_shapes(t).is_empty(), "{t}");
        }
    }
}
