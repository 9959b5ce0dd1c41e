//! Shell commands as the guard reads them: placeholders, and the rewrite
//! that runs a command through `claulock exec` (the files a command
//! re-encodes are [`crate::files`]' concern).
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

/// The placeholders of `names`, as a model should write them:
/// `{{A}}, {{B}}`.
pub fn placeholders(names: &[String]) -> String {
    names
        .iter()
        .map(|s| format!("{{{{{s}}}}}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Quotes a word for a POSIX shell.
pub fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// The command that runs `command` through `exe exec`, in the calling
/// shell, keeping its exit status and final working directory.
/// `run_dir` is a directory only the user can write (`CLAULOCK_HOME/run`).
pub fn wrap(exe: &str, env: &[(String, String)], command: &str, run_dir: &str) -> String {
    let cwd_file = format!("{}/cwd.$$", quote(run_dir));
    // `NAME=value claulock exec …`: the variables (CLAULOCK_HOME) reach
    // `claulock exec` only, whatever the agent's shell has.
    let assignments: String = env
        .iter()
        .map(|(k, v)| format!("{k}={} ", quote(v)))
        .collect();
    format!(
        "{assignments}{exe} exec --cwd-out {cwd_file} -c {cmd}; __claulock_status=$?; \
         if IFS= read -r __claulock_dir < {cwd_file}; then cd -- \"$__claulock_dir\"; fi 2>/dev/null; \
         (exit $__claulock_status)",
        exe = quote(exe),
        cmd = quote(command),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let w = wrap("/bin/claulock", &[], "echo 'a' {{T}}; cd /x", "/h/run");
        assert!(w.contains(r"-c 'echo '\''a'\'' {{T}}; cd /x'"), "{w}");
        let env = [("CLAULOCK_HOME".to_owned(), "/h/my vault".to_owned())];
        let w = wrap("/bin/claulock", &env, "ls", "/h/run");
        assert!(
            w.starts_with("CLAULOCK_HOME='/h/my vault' '/bin/claulock' exec "),
            "{w}"
        );
        assert!(w.ends_with("(exit $__claulock_status)"));
    }
}
