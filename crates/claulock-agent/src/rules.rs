//! A secret's metadata, as the core's policy rules.

use anyhow::Context;
use claulock_core::destination::HostPattern;
use claulock_core::policy::SecretRules;
use claulock_core::time::Timestamp;

/// Builds the rules of secret `name` from its metadata fields.
///
/// # Errors
///
/// When a host pattern is invalid.
pub fn secret_rules(
    name: &str,
    hosts: &[String],
    programs: &[String],
    revealing: &[String],
    output_files: bool,
    expires: Option<Timestamp>,
    project: Option<String>,
) -> anyhow::Result<SecretRules> {
    let allow_hosts = hosts
        .iter()
        .map(|h| HostPattern::parse(h))
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("secret {name} has an invalid host pattern"))?;
    Ok(SecretRules {
        allow_hosts,
        allow_programs: programs.to_vec(),
        allow_revealing: revealing.to_vec(),
        allow_output_files: output_files,
        expires,
        project,
    })
}
