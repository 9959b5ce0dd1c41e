//! Shell commands as the guard reads them: placeholders, re-encoders and
//! the files they name, and the rewrite that runs a command through
//! `claulock exec`.
//!
//! The rewrite runs the model's command, unchanged, as the argument of
//! `claulock exec -c`, so the values reach only the programs that need
//! them and the output passes the scrubber. Two things a user of a coding
//! agent relies on would be lost in a child shell, and the rewrite carries
//! them back:
//!
//! - **the exit status**: `exec` exits with the command's, and the rewrite
//!   ends with `(exit $status)`;
//! - **the working directory**: Claude Code keeps a `cd` from one Bash
//!   call to the next. `exec --cwd-out FILE` writes the command's final
//!   directory to `FILE` (named after the calling shell's `$$`, in the
//!   user's private run directory) and the calling shell `cd`s there.
//!   `exec` removes the file first thing, so a refused command (which
//!   writes none) never picks up an older shell's directory.
//!
//! The rewrite is plain POSIX shell, so it works under bash and zsh alike,
//! and uses builtins only around `exec` (each extra process costs
//! milliseconds on every tool call).

/// The placeholder names in a command, in order of appearance.
///
/// # Errors
///
/// When the command holds a malformed placeholder (the message says
/// where and why, and never quotes a value: commands hold placeholders,
/// not values).
pub fn placeholder_names(command: &str) -> Result<Vec<String>, String> {
    claulock_core::grammar::placeholders(command)
        .map(|p| p.into_iter().map(|p| p.name).collect())
        .map_err(|e| e.to_string())
}

/// Whether a command holds `{{NAME}}` placeholders (or something that
/// fails to parse as one, which `exec` must then refuse).
pub fn has_placeholders(command: &str) -> bool {
    placeholder_names(command).map_or(true, |n| !n.is_empty())
}

/// Quotes a word for a POSIX shell.
pub fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// The command that runs `command` through `exe exec`, in the calling
/// shell, keeping its exit status and final working directory.
/// `run_dir` is a directory only the user can write (`CLAULOCK_HOME/run`).
pub fn wrap(exe: &str, command: &str, run_dir: &str) -> String {
    let cwd_file = format!("{}/cwd.$$", quote(run_dir));
    format!(
        "{exe} exec --cwd-out {cwd_file} -c {cmd}; __claulock_status=$?; \
         if IFS= read -r __claulock_dir < {cwd_file}; then cd -- \"$__claulock_dir\"; fi 2>/dev/null; \
         (exit $__claulock_status)",
        exe = quote(exe),
        cmd = quote(command),
    )
}

/// Whether a command runs a program that re-encodes what it reads (`od`,
/// `xxd`, `rev`, `base64`, `tr`, ...) or an interpreter: such output can
/// hold a file's secret in a form no scrubber recognises, so the hook
/// refuses it on a file that holds a value (`cat .env` stays allowed and
/// is scrubbed).
pub fn transforms(command: &str) -> bool {
    words(command).iter().any(|w| {
        let base = w.rsplit('/').next().unwrap_or(w);
        claulock_core::programs::ENCODERS.contains(&base)
            || claulock_core::programs::INTERPRETERS
                .iter()
                .any(|(name, _)| *name == base)
    })
}

/// The words of a command that could name a file (no options, no
/// expansions), quotes removed. A plain split, not a parse: it only picks
/// candidates for a scan, and a file it misses is still scrubbed.
pub fn file_words(command: &str) -> Vec<String> {
    words(command)
        .into_iter()
        .filter(|w| !w.starts_with('-') && !w.contains(['$', '*', '?', '`', '=']))
        .collect()
}

fn words(command: &str) -> Vec<String> {
    command
        .split(|c: char| c.is_whitespace() || ";|&<>()".contains(c))
        .map(|w| w.trim_matches(|c| c == '\'' || c == '"'))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transforming_commands_and_their_files() {
        assert!(transforms("od -c ../.env | head -3"));
        assert!(transforms("/usr/bin/xxd .env"));
        assert!(transforms("python3 -c 'print(1)' x"));
        assert!(!transforms("cat .env"));
        assert!(!transforms("docker compose --env-file .env up"));
        assert_eq!(
            file_words("od -c '../.env' | head -3"),
            ["od", "../.env", "head"]
        );
    }

    #[test]
    fn quoting_survives_single_quotes() {
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn placeholders_are_found_and_escapes_are_not() {
        assert!(has_placeholders("curl -H 'X: {{TOKEN}}' x"));
        assert!(!has_placeholders("docker ps --format '{{.State}}'"));
        assert!(!has_placeholders("echo {{!TOKEN}}"));
        assert!(!has_placeholders("ls -la"));
    }

    #[test]
    fn the_wrap_quotes_the_command_whole() {
        let w = wrap("/bin/claulock", "echo 'a' {{T}}; cd /x", "/h/run");
        assert!(w.contains(r"-c 'echo '\''a'\'' {{T}}; cd /x'"), "{w}");
        assert!(w.ends_with("(exit $__claulock_status)"));
    }
}
