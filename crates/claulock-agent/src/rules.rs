//! A secret's metadata, as the core's policy rules.

use anyhow::Context;
use claulock_core::destination::HostPattern;
use claulock_core::policy::SecretRules;
use claulock_core::time::Timestamp;

/// A secret's metadata fields that make its rules.
#[derive(Clone, Copy, Debug)]
pub struct Fields<'a> {
    /// Allowed hosts.
    pub hosts: &'a [String],
    /// Allowed programs.
    pub programs: &'a [String],
    /// Programs lifted out of the reveal lists.
    pub revealing: &'a [String],
    /// Output files allowed.
    pub output_files: bool,
    /// Expiry.
    pub expires: Option<Timestamp>,
    /// Project scope.
    pub project: Option<&'a str>,
    /// Delivered by the proxy.
    pub proxied: bool,
}

/// Builds the rules of secret `name` from its metadata fields.
///
/// # Errors
///
/// When a host pattern is invalid.
pub fn secret_rules(name: &str, f: Fields<'_>) -> anyhow::Result<SecretRules> {
    let Fields {
        hosts,
        programs,
        revealing,
        output_files,
        expires,
        project,
        proxied,
    } = f;
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
        project: project.map(str::to_owned),
        proxied,
    })
}
