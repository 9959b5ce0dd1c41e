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
    for b in &bindings {
        let name = &b.secret;
        out.push_str(&format!(
            "{SHELL_PREFIX}{name}=\"${{{}}}\"; unset {}; ",
            b.env_var, b.env_var
        ));
    }
    let mut at = 0;
    for e in &edits {
        out.push_str(&command[at..e.range.start]);
        out.push_str(&e.text);
        at = e.range.end;
    }
    out.push_str(&command[at..]);
    SubstitutionPlan {
        command: out,
        bindings,
    }
}
