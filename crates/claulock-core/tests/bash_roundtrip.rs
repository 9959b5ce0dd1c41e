//! The substitution plan, run by real bash: for every quoting context and a
//! set of hostile values, the program must receive exactly the value.

use std::process::Command;

use claulock_core::substitute::substitution_plan;

/// A quoting context: a command holding `{{V}}`, and what it must print for
/// a value `v`.
pub(crate) struct Context {
    pub name: &'static str,
    pub command: &'static str,
    pub expect: fn(&[u8]) -> Vec<u8>,
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

#[rustfmt::skip]
pub(crate) const CONTEXTS: &[Context] = &[
    Context { name: "unquoted", command: "printf '%s' {{V}}", expect: |v| v.to_vec() },
    Context { name: "unquoted, joined", command: "printf '%s' a{{V}}b", expect: |v| cat(&[b"a", v, b"b"]) },
    Context { name: "double quotes", command: r#"printf '%s' "x {{V}} y""#, expect: |v| cat(&[b"x ", v, b" y"]) },
    Context { name: "single quotes", command: "printf '%s' 'x $HOME {{V}} y'", expect: |v| cat(&[b"x $HOME ", v, b" y"]) },
    Context { name: "ansi-c", command: r"printf '%s' $'x\t{{V}}\n'", expect: |v| cat(&[b"x\t", v, b"\n"]) },
    Context { name: "locale quotes", command: r#"printf '%s' $"a{{V}}""#, expect: |v| cat(&[b"a", v]) },
    Context { name: "here-doc", command: "cat <<EOF\nx \\$y {{V}} z\nEOF", expect: |v| cat(&[b"x $y ", v, b" z\n"]) },
    Context { name: "quoted here-doc", command: "cat <<'EOF'\n$HOME `x` \\ \\n {{V}}\nEOF", expect: |v| cat(&[b"$HOME `x` \\ \\n ", v, b"\n"]) },
    Context { name: "double-quoted here-doc", command: "cat <<\"END\"\n$1 {{V}}\nEND", expect: |v| cat(&[b"$1 ", v, b"\n"]) },
    Context { name: "tab-stripped here-doc", command: "cat <<-'EOF'\n\t\t{{V}}\n\tEOF", expect: |v| cat(&[v, b"\n"]) },
    Context { name: "here-doc then pipe", command: "cat <<EOF | cat\n{{V}}\nEOF", expect: |v| cat(&[v, b"\n"]) },
    Context { name: "here-string", command: "cat <<< {{V}}", expect: |v| cat(&[v, b"\n"]) },
    Context { name: "quoted here-string", command: r#"cat <<< "a {{V}}""#, expect: |v| cat(&[b"a ", v, b"\n"]) },
    Context { name: "assignment prefix", command: r#"V={{V}} bash -c 'printf %s "$V"'"#, expect: |v| v.to_vec() },
    Context { name: "quoted assignment prefix", command: r#"V="<{{V}}>" bash -c 'printf %s "$V"'"#, expect: |v| cat(&[b"<", v, b">"]) },
    Context { name: "env wrapper assignment", command: r#"env V={{V}} bash -c 'printf %s "$V"'"#, expect: |v| v.to_vec() },
    Context { name: "command substitution", command: r#"printf '%s' "$(printf '%s|' {{V}})""#, expect: |v| cat(&[v, b"|"]) },
    Context { name: "nested substitution", command: r#"printf '%s' "$(printf '%s' "$(printf '%s|' "{{V}}")")""#, expect: |v| cat(&[v, b"|"]) },
    Context { name: "single quotes in a substitution", command: r#"printf '%s' "$(printf '%s|' 'a{{V}}')""#, expect: |v| cat(&[b"a", v, b"|"]) },
    Context { name: "backticks", command: r#"printf '%s' "`printf '%s|' {{V}}`""#, expect: |v| cat(&[v, b"|"]) },
    Context { name: "quotes in backticks", command: r#"printf '%s' "`printf '%s|' "{{V}}"`""#, expect: |v| cat(&[v, b"|"]) },
    Context { name: "process substitution", command: "cat <(printf '%s' {{V}})", expect: |v| v.to_vec() },
    Context { name: "twice, mixed", command: r#"printf '%s-%s-%s' {{V}} "{{V}}" '{{V}}'"#, expect: |v| cat(&[v, b"-", v, b"-", v]) },
    Context { name: "pipeline", command: "printf '%s' {{V}} | cat", expect: |v| v.to_vec() },
    Context { name: "function", command: r#"f() { printf '%s' "$1"; }; f {{V}}"#, expect: |v| v.to_vec() },
    Context { name: "subshell", command: "( printf '%s' {{V}} )", expect: |v| v.to_vec() },
    Context { name: "if", command: "if true; then printf '%s' {{V}}; fi", expect: |v| v.to_vec() },
    Context { name: "escaped backslash before", command: r#"printf '%s' "\\{{V}}""#, expect: |v| cat(&[b"\\", v]) },
    Context { name: "escape stays literal", command: "printf '%s' '{{!V}}' {{!V}}", expect: |_| b"{{V}}{{V}}".to_vec() },
];

/// Values a careless rewrite would mangle or execute.
pub(crate) const HOSTILE: &[&[u8]] = &[
    b"plain",
    b"",
    b"it's",
    b"say \"hi\"",
    b"'\"'\"'",
    b"$HOME",
    b"${HOME}",
    b"$(touch /tmp/claulock-pwned)",
    b"`touch /tmp/claulock-pwned`",
    b"back\\slash\\",
    b"two  spaces and\ttab",
    b"new\nline\n",
    b"EOF\nEOF",
    b"*",
    b"-n",
    b"--help",
    b"%s%n",
    b"!!",
    "caf\u{e9} \u{6f22}\u{5b57} \u{1f511}".as_bytes(),
    b"\xff\xfe invalid utf-8",
    b"a\\\nb",
    b"}\"'{{V}}",
];

/// Runs `command`'s plan in bash with `value` bound to `V`.
pub(crate) fn run_plan(command: &str, value: &[u8]) -> Result<Vec<u8>, String> {
    use std::os::unix::ffi::OsStrExt;
    let plan = substitution_plan(command).map_err(|e| format!("no plan: {e}"))?;
    let mut cmd = Command::new("bash");
    cmd.arg("-c").arg(&plan.command).env_clear();
    cmd.env("PATH", std::env::var_os("PATH").unwrap_or_default());
    cmd.env("HOME", "/nonexistent-home");
    for b in &plan.bindings {
        assert_eq!(b.secret, "V");
        cmd.env(&b.env_var, std::ffi::OsStr::from_bytes(value));
    }
    let out = cmd.output().map_err(|e| format!("cannot run bash: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "bash failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(out.stdout)
}

#[test]
fn every_context_delivers_every_hostile_value() {
    let _ = std::fs::remove_file("/tmp/claulock-pwned");
    let mut failures = Vec::new();
    for ctx in CONTEXTS {
        for value in HOSTILE {
            match run_plan(ctx.command, value) {
                Ok(got) if got == (ctx.expect)(value) => {}
                // Failure messages show the test's own canaries, never a real secret.
                Ok(got) => failures.push(format!(
                    "{}: value {:?} printed {:?}",
                    ctx.name,
                    String::from_utf8_lossy(value),
                    String::from_utf8_lossy(&got)
                )),
                Err(e) => failures.push(format!(
                    "{}: value {:?}: {e}",
                    ctx.name,
                    String::from_utf8_lossy(value)
                )),
            }
        }
    }
    assert!(
        !std::path::Path::new("/tmp/claulock-pwned").exists(),
        "a value was executed"
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_plan_never_holds_the_value_and_the_shell_does_not_export_it() {
    let plan =
        substitution_plan(r#"V={{V}} bash -c 'printf %s "${CLAULOCK_SECRET_V-unset}"'"#).unwrap();
    assert!(!plan.command.contains("{{V}}"));
    // The export is gone before any program starts: only references remain.
    let out = run_plan(
        r#"V={{V}} bash -c 'printf %s "${CLAULOCK_SECRET_V-unset}"'"#,
        b"canary-value",
    )
    .unwrap();
    assert_eq!(out, b"unset");
    let out = run_plan(
        "env | grep -c canary-value || true; printf '%s' {{V}} >/dev/null",
        b"canary-value",
    )
    .unwrap();
    assert_eq!(out, b"0\n");
}
