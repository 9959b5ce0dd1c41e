//! The project policy file, `.claulock.toml`.
//!
//! ```toml
//! [secrets.GITHUB_TOKEN]
//! allow_hosts = ["api.github.com", "github.com"]
//! allow_programs = ["curl", "gh", "git"]
//! allow_revealing = []                 # optional: lift programs out of the reveal lists
//! allow_output_files = false           # optional: may its command write output to files
//! expires = "2030-01-01T00:00:00Z"     # optional
//! project = "/home/me/src/app"         # optional
//! ```
//!
//! A project's file may also name its env files, which `claulock exec --
//! PROGRAM` loads into the program (relative to the project's root):
//!
//! ```toml
//! env_files = [".env"]
//! ```
//!
//! At a project's root it narrows the vault's rules (the effective policy is
//! the intersection); given to `claulock check --policy FILE` it is the whole
//! policy. Unknown keys are errors, so a typo cannot silently widen a rule.

use std::collections::BTreeMap;
use std::fmt;

use crate::destination::HostPattern;
use crate::grammar::is_valid_name;
use crate::policy::{Policy, SecretRules};
use crate::time::Timestamp;

/// A policy file that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyFileError(String);

impl fmt::Display for PolicyFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PolicyFileError {}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    secrets: BTreeMap<String, Entry>,
    #[serde(default)]
    env_files: Vec<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    #[serde(default)]
    allow_hosts: Vec<String>,
    #[serde(default)]
    allow_programs: Vec<String>,
    #[serde(default)]
    allow_revealing: Vec<String>,
    #[serde(default)]
    allow_output_files: bool,
    expires: Option<When>,
    project: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum When {
    Text(String),
    Toml(toml::value::Datetime),
}

/// The `env_files` of a project's policy file, as written.
///
/// # Errors
///
/// As [`parse`]: the whole file must be valid.
pub fn env_files(text: &str) -> Result<Vec<String>, PolicyFileError> {
    parse(text)?;
    let file: File = toml::from_str(text).map_err(|e| PolicyFileError(e.to_string()))?;
    Ok(file.env_files)
}

/// Parses the text of a policy file.
///
/// # Errors
///
/// TOML syntax, unknown keys, invalid names, host patterns or times; the
/// message says which secret and which field.
///
/// # Example
///
/// ```
/// let p = claulock_core::policy_file::parse(r#"
/// [secrets.GITHUB_TOKEN]
/// allow_hosts = ["api.github.com"]
/// "#).unwrap();
/// assert_eq!(p.names().collect::<Vec<_>>(), ["GITHUB_TOKEN"]);
/// ```
pub fn parse(text: &str) -> Result<Policy, PolicyFileError> {
    let file: File = toml::from_str(text).map_err(|e| PolicyFileError(e.to_string()))?;
    let mut policy = Policy::new();
    for (name, e) in file.secrets {
        let bad = |what: String| PolicyFileError(format!("secrets.{name}: {what}"));
        if !is_valid_name(&name) {
            return Err(bad(
                "a secret name starts with a letter or `_` and holds only letters, digits and `_`"
                    .into(),
            ));
        }
        let allow_hosts = e
            .allow_hosts
            .iter()
            .map(|h| HostPattern::parse(h).map_err(|err| bad(format!("allow_hosts: {err}"))))
            .collect::<Result<Vec<_>, _>>()?;
        for p in e.allow_programs.iter().chain(&e.allow_revealing) {
            if p.is_empty() || p.contains('/') || p.chars().any(char::is_whitespace) {
                return Err(bad(format!(
                    "{p:?} is not a program name (give a basename such as \"curl\")"
                )));
            }
        }
        let expires = match e.expires {
            None => None,
            Some(When::Text(t)) => {
                Some(Timestamp::parse_rfc3339(&t).map_err(|err| bad(format!("expires: {err}")))?)
            }
            Some(When::Toml(d)) => Some(
                Timestamp::parse_rfc3339(&d.to_string())
                    .map_err(|err| bad(format!("expires: {err}")))?,
            ),
        };
        policy.insert(
            name.clone(),
            SecretRules {
                allow_hosts,
                allow_programs: e.allow_programs,
                allow_revealing: e.allow_revealing,
                allow_output_files: e.allow_output_files,
                expires,
                project: e.project,
                // A property of the secret, not of a project's layer.
                proxied: false,
            },
        );
    }
    Ok(policy)
}
