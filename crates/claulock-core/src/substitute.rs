//! The substitution plan: the command text bash runs, in which every
//! placeholder is a reference to an environment variable.
//!
//! The value never enters the command text. `claulock exec` exports the
//! value of secret NAME as `CLAULOCK_SECRET_NAME` to `bash -c PLAN` and
//! nothing else. The plan's first statement moves it into an unexported
//! shell variable and unsets the export, so the value reaches only the
//! places where the command referenced it, not the environment of every
//! program the command starts.
//!
//! | context | `{{NAME}}` becomes |
//! |---|---|
//! | unquoted word, here-string, assignment | `"${__claulock_NAME}"` |
//! | `"…"`, unquoted here-document | `${__claulock_NAME}` |
//! | `'…'` | `'"${__claulock_NAME}"'` |
//! | `$'…'` | `'"${__claulock_NAME}"$'` |
//! | quoted here-document | `${__claulock_NAME}`, the delimiter unquoted and `\`, `$`, `` ` `` escaped |
//!
//! `{{!NAME}}` becomes the literal text `{{NAME}}`.

use crate::analysis::{self, Analysis, AnalysisError, Environment};
use crate::grammar::{self, Segment};
use crate::programs::DANGEROUS_ENV;
use crate::shell::{Context, Edit};

/// Prefix of the environment variable that carries a secret into `bash`.
pub const ENV_PREFIX: &str = "CLAULOCK_SECRET_";
/// Prefix of the unexported shell variable the value moves into.
const SHELL_PREFIX: &str = "__claulock_";

/// Variables a command that holds a secret does not inherit, besides the
/// assignments the analysis already refuses ([`DANGEROUS_ENV`] but `PATH`):
/// each makes bash or a program it starts run other code, or changes where
/// a program reads its configuration or sends what it was given, and the
/// model (which runs code as the user) can set any of them. `PATH` and
/// `HOME` stay: a program found through them is checked by name like any
/// other.
pub const UNSAFE_INHERITED_ENV: &[&str] = &[
    // bash runs these, or reads them, before or around the command.
    "PS0",
    "PS4",
    "PROMPT_COMMAND",
    "SHELLOPTS",
    "BASHOPTS",
    "CDPATH",
    "GLOBIGNORE",
    "IFS",
    "EXECIGNORE",
    // Code loaded into programs.
    "GCONV_PATH",
    "PYTHONHOME",
    "PYTHONINSPECT",
    "NODE_PATH",
    "PERL5LIB",
    "PERLLIB",
    "RUBYLIB",
    // Where programs read their configuration, and where they send traffic.
    "XDG_CONFIG_HOME",
    "GIT_ASKPASS",
    "SSH_ASKPASS",
    "GIT_EXEC_PATH",
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_CURL_VERBOSE",
    "SSL_KEYLOG_FILE",
    "socks_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// Prefixes of variables a command that holds a secret does not inherit:
/// exported bash functions, the dynamic loader's and git's configuration
/// and traces.
pub const UNSAFE_INHERITED_PREFIXES: &[&str] =
    &["BASH_FUNC_", "LD_", "DYLD_", "GIT_CONFIG", "GIT_TRACE"];

/// Whether a command that holds a secret must not inherit variable `name`.
///
/// ```
/// use claulock_core::substitute::is_unsafe_inherited;
/// assert!(is_unsafe_inherited("BASH_ENV"));
/// assert!(is_unsafe_inherited("https_proxy"));
/// assert!(is_unsafe_inherited("BASH_FUNC_curl%%"));
/// assert!(!is_unsafe_inherited("PATH"));
/// ```
pub fn is_unsafe_inherited(name: &str) -> bool {
    (name != "PATH" && DANGEROUS_ENV.contains(&name))
        || UNSAFE_INHERITED_ENV.contains(&name)
        || UNSAFE_INHERITED_PREFIXES
            .iter()
            .any(|p| name.starts_with(p))
}

/// Which environment variable carries which secret.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Binding {
    /// The secret's name.
    pub secret: String,
    /// The environment variable to set to its value for `bash -c`.
    pub env_var: String,
}

/// A command ready to run with `bash -c`, and the environment it needs.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SubstitutionPlan {
    /// The rewritten command text; it holds references, never values.
    pub command: String,
    /// One binding per distinct secret, in order of first use.
    pub bindings: Vec<Binding>,
}

/// The environment variable that carries secret `name`.
pub fn env_var(name: &str) -> String {
    format!("{ENV_PREFIX}{name}")
}

/// The plan for `command` without a policy decision, for callers that have
/// decided already (or, in tests, that only want the rewrite).
///
/// # Errors
///
/// When the command cannot be analysed, or holds a placeholder in a context
/// that cannot be rewritten safely.
///
/// # Example
///
/// ```
/// let plan = claulock_core::substitute::substitution_plan("curl -u me:{{PW}} https://x.example").unwrap();
/// assert!(plan.command.ends_with(r#"curl -u me:"${__claulock_PW}" https://x.example"#));
/// assert_eq!(plan.bindings[0].env_var, "CLAULOCK_SECRET_PW");
/// ```
pub fn substitution_plan(command: &str) -> Result<SubstitutionPlan, AnalysisError> {
    let analysis = analysis::analyze(command, &Environment::default())?;
    Ok(plan(command, &analysis))
}

pub(crate) fn plan(command: &str, analysis: &Analysis) -> SubstitutionPlan {
    let mut edits: Vec<Edit> = analysis.script.edits.clone();
    let mut bindings: Vec<Binding> = Vec::new();
    for site in &analysis.script.sites {
        let ph = &analysis.placeholders[site.placeholder];
        if !bindings.iter().any(|b| b.secret == ph.name) {
            bindings.push(Binding {
                secret: ph.name.clone(),
                env_var: env_var(&ph.name),
            });
        }
        let var = format!("{SHELL_PREFIX}{}", ph.name);
        let text = match site.context {
            Context::Unquoted => format!("\"${{{var}}}\""),
            Context::DoubleQuoted | Context::HeredocUnquoted | Context::HeredocQuoted => {
                format!("${{{var}}}")
            }
            Context::SingleQuoted => format!("'\"${{{var}}}\"'"),
            Context::AnsiC => format!("'\"${{{var}}}\"$'"),
        };
        edits.push(Edit {
            range: ph.span.clone(),
            text,
        });
    }
    let mut out = String::with_capacity(command.len() + 64);
    for b in &bindings {
        let name = &b.secret;
        out.push_str(&format!(
            "{SHELL_PREFIX}{name}=\"${{{}}}\"; unset {}; ",
            b.env_var, b.env_var
        ));
    }
    out.push_str(&apply(command, edits));
    SubstitutionPlan {
        command: out,
        bindings,
    }
}

/// `command` with `edits` applied, and every escape `{{!NAME}}` undone.
fn apply(command: &str, mut edits: Vec<Edit>) -> String {
    // Escapes are found by the grammar; a text the analysis accepted parses.
    if let Ok(segments) = grammar::parse(command) {
        for s in segments {
            if let Segment::Escaped(p) = s {
                edits.push(Edit {
                    range: p.span.clone(),
                    text: format!("{{{{{}}}}}", p.name),
                });
            }
        }
    }
    edits.sort_by_key(|e| (e.range.start, e.range.end));
    let mut out = String::with_capacity(command.len() + 64);
    let mut at = 0;
    for e in &edits {
        out.push_str(&command[at..e.range.start]);
        out.push_str(&e.text);
        at = e.range.end;
    }
    out.push_str(&command[at..]);
    out
}

/// The program that receives a command's values, and the marker of this
/// one run (see [`delivery_plan`]).
#[derive(Clone, Copy, Debug)]
pub struct Deliverer<'a> {
    /// The deliverer executable (`claulock`, whose `deliver` subcommand
    /// takes `[--stdin] -- PROGRAM ARGS…`).
    pub program: &'a str,
    /// Fresh for each run: 16 lowercase hexadecimal digits.
    pub nonce: &'a str,
    /// The secrets delivered by the proxy, each with the surrogate that
    /// stands for it in this run: (name, surrogate). A surrogate is
    /// written into the command as it is (it must be made of characters
    /// no quoting context of bash changes: letters, digits, `_`, `-`,
    /// `.`), and a program that receives only surrogates is started
    /// directly, not through the deliverer.
    pub surrogates: &'a [(String, String)],
}

/// A command ready to run with `bash -c`, in which no value will ever be:
/// each placeholder is a marker, and each program that receives one is
/// started through the deliverer.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryPlan {
    /// The rewritten command text.
    pub command: String,
    /// The secrets it uses, each once, in order of first use.
    pub secrets: Vec<String>,
    /// Those of them that reach the command as surrogates (proxy
    /// delivery); the others are delivered into the program's process.
    pub proxied: Vec<String>,
}

const MARKER_OPEN: &str = "@@CL.";
const MARKER_CLOSE: &str = "@@";

/// The marker that stands for secret `name` in a run with `nonce`. It has
/// no character that any quoting context of bash changes, so it reaches
/// the program's argv, environment or standard input as written.
pub fn marker(nonce: &str, name: &str) -> String {
    format!("{MARKER_OPEN}{nonce}.{name}{MARKER_CLOSE}")
}

/// The plan that keeps every value out of the shell: the model's command
/// runs in `bash -c`, with each `{{NAME}}` replaced by its [`marker`], and
/// each simple command that receives one started as
/// `DELIVERER deliver [--stdin] -- PROGRAM ARGS…`. The deliverer asks the
/// agent for the values (the agent checks the concrete invocation again),
/// puts them in place of the markers in its argv, its environment and,
/// with `--stdin`, its standard input, and becomes the program. No shell
/// variable, environment entry or file of the shell ever holds a value,
/// so nothing else in the command line can print one.
///
/// | context | `{{NAME}}` becomes |
/// |---|---|
/// | any quoting, here-document or here-string | the marker, as is |
/// | the same, for a secret with a surrogate | the surrogate, as is |
///
/// `{{!NAME}}` becomes the literal text `{{NAME}}`.
///
/// # Errors
///
/// When a placeholder has no program to deliver it to (a bare assignment,
/// a compound keyword's word: the policy refuses those first).
///
/// # Example
///
/// ```
/// use claulock_core::analysis::{analyze, Environment};
/// use claulock_core::substitute::{delivery_plan, Deliverer};
/// let command = r#"GH_TOKEN={{T}} gh api /user && echo done"#;
/// let analysis = analyze(command, &Environment::default()).unwrap();
/// let d = Deliverer { program: "/usr/bin/claulock", nonce: "0123456789abcdef", surrogates: &[] };
/// let plan = delivery_plan(command, &analysis, &d).unwrap();
/// assert_eq!(
///     plan.command,
///     "GH_TOKEN=@@CL.0123456789abcdef.T@@ '/usr/bin/claulock' deliver -- gh api /user && echo done"
/// );
/// assert_eq!(plan.secrets, ["T"]);
/// ```
pub fn delivery_plan(
    command: &str,
    analysis: &Analysis,
    d: &Deliverer<'_>,
) -> Result<DeliveryPlan, AnalysisError> {
    let mut edits: Vec<Edit> = Vec::new();
    let mut secrets: Vec<String> = Vec::new();
    // Where a deliverer goes, and whether it also fills standard input.
    let mut starts: std::collections::BTreeMap<usize, bool> = std::collections::BTreeMap::new();
    let mut proxied: Vec<String> = Vec::new();
    for site in &analysis.script.sites {
        let ph = &analysis.placeholders[site.placeholder];
        if !secrets.contains(&ph.name) {
            secrets.push(ph.name.clone());
        }
        if let Some((_, surrogate)) = d.surrogates.iter().find(|(n, _)| *n == ph.name) {
            if !is_inert(surrogate) {
                return Err(AnalysisError::Syntax(crate::shell::SyntaxError::new(
                    ph.span.start,
                    "a surrogate must be letters, digits, `_`, `-` and `.` only",
                )));
            }
            if !proxied.contains(&ph.name) {
                proxied.push(ph.name.clone());
            }
            edits.push(Edit {
                range: ph.span.clone(),
                text: surrogate.clone(),
            });
            continue;
        }
        edits.push(Edit {
            range: ph.span.clone(),
            text: marker(d.nonce, &ph.name),
        });
        let at = analysis.script.commands[site.command]
            .program_at
            .ok_or_else(|| {
                AnalysisError::Syntax(crate::shell::SyntaxError::new(
                    ph.span.start,
                    "this placeholder reaches no program that could receive it",
                ))
            })?;
        *starts.entry(at).or_default() |= site.role == crate::shell::Role::Stdin;
    }
    let program = format!("'{}'", d.program.replace('\'', r"'\''"));
    for (at, stdin) in starts {
        edits.push(Edit {
            range: at..at,
            text: format!(
                "{program} deliver{} -- ",
                if stdin { " --stdin" } else { "" }
            ),
        });
    }
    Ok(DeliveryPlan {
        command: apply(command, edits),
        secrets,
        proxied,
    })
}

/// Whether bash passes `text` through every quoting context unchanged.
fn is_inert(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// The markers of run `nonce` in `text`: (byte range, secret name).
fn markers(text: &[u8], nonce: &str) -> Vec<(std::ops::Range<usize>, String)> {
    let open = format!("{MARKER_OPEN}{nonce}.");
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(p) = text[i..]
        .windows(open.len())
        .position(|w| w == open.as_bytes())
    {
        let start = i + p;
        let name_at = start + open.len();
        let name_len = text[name_at..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
            .count();
        let close = name_at + name_len;
        if name_len > 0 && text[close..].starts_with(MARKER_CLOSE.as_bytes()) {
            let name = String::from_utf8_lossy(&text[name_at..close]).into_owned();
            if grammar::is_valid_name(&name) {
                found.push((start..close + MARKER_CLOSE.len(), name));
                i = close + MARKER_CLOSE.len();
                continue;
            }
        }
        i = start + 1;
    }
    found
}

/// The nonce of the first marker in `text`, if any (what a deliverer
/// presents to the agent).
pub fn marker_nonce(text: &[u8]) -> Option<String> {
    let mut i = 0;
    while let Some(p) = text[i..]
        .windows(MARKER_OPEN.len())
        .position(|w| w == MARKER_OPEN.as_bytes())
    {
        let at = i + p + MARKER_OPEN.len();
        let nonce = text.get(at..at + 16)?;
        if nonce.iter().all(u8::is_ascii_hexdigit) && text.get(at + 16) == Some(&b'.') {
            return Some(String::from_utf8_lossy(nonce).into_owned());
        }
        i = at;
    }
    None
}

/// The secrets whose markers of run `nonce` `text` holds, each once.
pub fn marker_names(text: &[u8], nonce: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for (_, n) in markers(text, nonce) {
        if !names.contains(&n) {
            names.push(n);
        }
    }
    names
}

/// `text` with each marker of run `nonce` replaced by `value(name)`;
/// `None` when a marker's secret has no value.
pub fn fill_markers(
    text: &[u8],
    nonce: &str,
    value: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let mut at = 0;
    for (range, name) in markers(text, nonce) {
        out.extend_from_slice(&text[at..range.start]);
        out.extend_from_slice(&value(&name)?);
        at = range.end;
    }
    out.extend_from_slice(&text[at..]);
    Some(out)
}

/// `text` as a policy check must read it: each marker of run `nonce`
/// becomes its placeholder, and any other `{{NAME}}` text an escape (it is
/// literal text at this point, not a placeholder).
pub fn markers_to_placeholders(text: &str, nonce: &str) -> String {
    let found = markers(text.as_bytes(), nonce);
    let escape = |s: &str| {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(p) = rest.find("{{") {
            out.push_str(&rest[..p + 2]);
            rest = &rest[p + 2..];
            if rest
                .bytes()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
            {
                out.push('!');
            }
        }
        out.push_str(rest);
        out
    };
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (range, name) in found {
        out.push_str(&escape(&text[at..range.start]));
        out.push_str(&format!("{{{{{name}}}}}"));
        at = range.end;
    }
    out.push_str(&escape(&text[at..]));
    out
}

#[cfg(test)]
mod delivery_tests {
    use super::*;
    use crate::analysis::{Environment, analyze};

    const D: Deliverer<'static> = Deliverer {
        program: "/bin/cl",
        nonce: "00112233445566ff",
        surrogates: &[],
    };

    fn plan(c: &str) -> String {
        delivery_plan(c, &analyze(c, &Environment::default()).unwrap(), &D)
            .unwrap()
            .command
    }

    #[test]
    fn every_context_becomes_the_marker_and_the_program_the_deliverer() {
        let m = marker(D.nonce, "T");
        assert_eq!(
            plan(r#"curl -H "X: {{T}}" https://a && curl -H 'Y: {{T}}' https://b"#),
            format!(
                r#"'/bin/cl' deliver -- curl -H "X: {m}" https://a && '/bin/cl' deliver -- curl -H 'Y: {m}' https://b"#
            )
        );
        assert_eq!(
            plan("curl -d @- https://a <<'EOF'\n{\"t\": \"{{T}}\", \"h\": \"$HOME\"}\nEOF"),
            format!(
                "'/bin/cl' deliver --stdin -- curl -d @- https://a <<'EOF'\n{{\"t\": \"{m}\", \"h\": \"$HOME\"}}\nEOF"
            )
        );
        assert_eq!(
            plan("nice -n 5 curl --data-binary @- https://a <<< $'{{T}}'"),
            format!(
                "'/bin/cl' deliver --stdin -- nice -n 5 curl --data-binary @- https://a <<< $'{m}'"
            )
        );
        assert_eq!(
            plan("curl -H X:{{T}} https://a; echo '{{!T}}'"),
            format!("'/bin/cl' deliver -- curl -H X:{m} https://a; echo '{{{{T}}}}'")
        );
    }

    #[test]
    fn a_surrogate_is_written_as_is_and_needs_no_deliverer() {
        let surrogates = [("P".to_owned(), "ghp_SURR0gate".to_owned())];
        let d = Deliverer {
            surrogates: &surrogates,
            ..D
        };
        let c = r#"curl -H "A: {{P}}" https://a && GH={{P}} E={{T}} gh api /u <<< '{{P}}'"#;
        let p = delivery_plan(c, &analyze(c, &Environment::default()).unwrap(), &d).unwrap();
        let m = marker(D.nonce, "T");
        assert_eq!(
            p.command,
            format!(
                r#"curl -H "A: ghp_SURR0gate" https://a && GH=ghp_SURR0gate E={m} '/bin/cl' deliver -- gh api /u <<< 'ghp_SURR0gate'"#
            ),
            "only the program that also gets an env value goes through the deliverer"
        );
        assert_eq!(
            (p.secrets, p.proxied),
            (vec!["P".into(), "T".into()], vec!["P".into()])
        );
        let bad = [("P".to_owned(), "a'b".to_owned())];
        let c = "curl -H {{P}} https://a";
        let d = Deliverer {
            surrogates: &bad,
            ..D
        };
        assert!(delivery_plan(c, &analyze(c, &Environment::default()).unwrap(), &d).is_err());
    }

    #[test]
    fn markers_fill_and_read_back() {
        let m = marker(D.nonce, "T");
        let text = format!(
            "a{m}b{m}c @@CL.00112233445566ff.9X@@ {}",
            marker("ffffffffffffffff", "T")
        );
        assert_eq!(marker_nonce(text.as_bytes()).as_deref(), Some(D.nonce));
        assert_eq!(marker_names(text.as_bytes(), D.nonce), ["T"]);
        let filled = fill_markers(text.as_bytes(), D.nonce, &|n| {
            (n == "T").then(|| b"V".to_vec())
        })
        .unwrap();
        assert!(filled.starts_with(b"aVbVc @@CL."));
        assert_eq!(fill_markers(m.as_bytes(), D.nonce, &|_| None), None);
        assert_eq!(
            markers_to_placeholders(&format!("{{{{X}}}} {m} {{{{!Y}}}} {{{{.State}}}}"), D.nonce),
            "{{!X}} {{T}} {{!Y}} {{.State}}"
        );
    }
}
