//! What the model is told when a session starts.

/// The SessionStart context: the placeholder syntax, the names available
/// (names only, never anything derived from a value) and what redaction
/// markers mean. `locked` says the vault is not unlocked.
pub fn session_context(names: &[String], locked: bool) -> String {
    let mut text = String::from(
        "ClauLock protects secrets in this session. You can use a secret without seeing it: \
         write its placeholder `{{NAME}}` in a shell command, e.g. \
         `curl -H \"Authorization: Bearer {{GITHUB_TOKEN}}\" https://api.github.com/user`. \
         ClauLock checks that the command sends it where the secret is allowed to go, and scrubs \
         the output. For most secrets the command itself holds a surrogate (random text of the \
         same length) and ClauLock's proxy puts the real value on the wire to the allowed host: \
         seeing that surrogate in verbose output or an echo is expected, and it is worthless. \
         Other secrets enter the one program that needs them. \
         Markers such as `[REDACTED:NAME]` or `[REDACTED:NAME:base64]` in output are intentional: \
         a secret's value (or an encoding of it) was removed. Do not try to recover it; do not \
         print, encode or write a value to a file. Write `{{!NAME}}` for a literal `{{NAME}}`. \
         Files that hold a secret's value cannot be read; use the placeholder instead. \
         To run a program with an env file whose values are placeholders (`KEY={{KEY}}`, as \
         `claulock import` leaves them), run it through ClauLock: \
         `claulock exec --env-file .env -- npm test`. \
         A `cd` inside a command with placeholders carries over to the next command as usual. \
         To add a secret or give one a new value, call the `secret_request` or `secret_rotate` tool of \
         the claulock MCP server (the user enters the value out of band); never ask the user to paste \
         a value into the conversation.",
    );
    if locked {
        text.push_str(
            " The vault is locked right now: commands with placeholders will be refused until \
             the user runs `claulock unlock` in a terminal.",
        );
    } else if names.is_empty() {
        text.push_str(" The vault holds no secrets yet; the user adds them with `claulock add NAME` in a terminal.");
    } else {
        text.push_str(" Available secrets: ");
        text.push_str(&names.join(", "));
        text.push('.');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_names_and_says_when_locked() {
        let t = session_context(&["A".into(), "B_C".into()], false);
        assert!(t.contains("Available secrets: A, B_C."));
        assert!(session_context(&[], true).contains("locked"));
    }
}
