//! `claulock check`: the policy dry run.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use claulock_core::analysis::Environment;
use claulock_core::policy::{CheckContext, Decision, Policy, decide};
use claulock_core::{destination::Target, policy_file, time::Timestamp};

/// Name of the project policy file, looked for from the working directory up.
const PROJECT_FILE: &str = ".claulock.toml";

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The shell command to check, as the agent wrote it.
    #[arg(short = 'c', value_name = "COMMAND")]
    command: String,
    /// A policy file (`.claulock.toml` format) to decide against instead of
    /// the vault's rules (then no vault is needed).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Print the whole decision as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let mut policy = match &args.policy {
        Some(path) => load(path)?,
        None => vault_policy()?,
    };
    let cwd = std::env::current_dir().context("cannot read the working directory")?;
    let root = project_root(&cwd);
    if let Some(file) = root.as_ref().map(|r| r.join(PROJECT_FILE)) {
        let same = args.policy.as_ref().is_some_and(|p| same_file(&file, p));
        if file.is_file() && !same {
            policy.narrow(&load(&file)?);
        }
    }
    let ctx = CheckContext {
        now: Timestamp::from(std::time::SystemTime::now()),
        project: root.map(|r| r.display().to_string()),
        environment: Environment {
            git_remotes: git_remotes(&cwd),
        },
    };
    let decision = decide(&args.command, &policy, &ctx);
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &decision)?;
        writeln!(out)?;
    } else {
        write_human(&mut out, &decision)?;
    }
    Ok(if decision.allowed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The vault's rules, from the agent's metadata (never a value).
fn vault_policy() -> anyhow::Result<Policy> {
    let home = crate::home::Home::from_env()?;
    if !home.vault.exists() {
        bail!(
            "no vault at {}: run `claulock init`, or pass `--policy FILE` to check against a policy file",
            home.vault.display()
        );
    }
    let list = crate::agent::call(&home, crate::agent::Request::List)?.unwrap_or_default();
    let mut policy = Policy::new();
    for s in list.as_array().into_iter().flatten() {
        let strings = |k: &str| -> Vec<String> {
            s[k].as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        };
        let name = s["name"].as_str().unwrap_or_default();
        let expires = s["expires"]
            .as_str()
            .map(Timestamp::parse_rfc3339)
            .transpose()
            .with_context(|| format!("secret {name} has an invalid expiry"))?;
        let rules = crate::rules::secret_rules(
            name,
            &strings("allow_hosts"),
            &strings("allow_programs"),
            &strings("allow_revealing"),
            s["allow_output_files"].as_bool().unwrap_or(false),
            expires,
            s["project"].as_str().map(str::to_owned),
        )?;
        policy.insert(name, rules);
    }
    Ok(policy)
}

fn load(path: &Path) -> anyhow::Result<Policy> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the policy file {}", path.display()))?;
    policy_file::parse(&text).with_context(|| format!("in the policy file {}", path.display()))
}

/// The nearest ancestor holding a `.claulock.toml` or a `.git`.
pub(crate) fn project_root(cwd: &Path) -> Option<PathBuf> {
    cwd.ancestors()
        .find(|d| d.join(PROJECT_FILE).is_file() || d.join(".git").exists())
        .map(Path::to_path_buf)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The URLs of the working directory's git remotes, so that `git push
/// origin` can be checked against a host allowlist. No git, no remotes.
pub(crate) fn git_remotes(cwd: &Path) -> BTreeMap<String, String> {
    let output = std::process::Command::new("git")
        .args(["config", "--get-regexp", r"^remote\..*\.url$"])
        .current_dir(cwd)
        .stderr(std::process::Stdio::null())
        .output();
    let Ok(output) = output else {
        return BTreeMap::new();
    };
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let (key, url) = line.split_once(' ')?;
            let name = key.strip_prefix("remote.")?.strip_suffix(".url")?;
            Some((name.to_owned(), url.to_owned()))
        })
        .collect()
}

fn write_human(out: &mut impl Write, d: &Decision) -> std::io::Result<()> {
    if d.allowed {
        writeln!(out, "allowed")?;
    } else {
        writeln!(out, "refused")?;
        for r in &d.refusals {
            writeln!(out, "  {r}")?;
        }
    }
    if let Some(a) = &d.analysis {
        for u in &a.uses {
            writeln!(
                out,
                "  {{{{{}}}}} -> {} ({}, {})",
                u.secret,
                u.program.as_deref().unwrap_or("?"),
                serde_plain(&u.role),
                serde_plain(&u.context),
            )?;
        }
        for dest in &a.destinations {
            let shown = match &dest.target {
                Target::Host { host } => host.clone(),
                Target::Unknown { why } => format!("unknown: {why}"),
                Target::Ambiguous { why } => format!("ambiguous: {why}"),
                Target::PlaceholderInHost => "placeholder in host".to_owned(),
            };
            writeln!(out, "  destination {} -> {shown}", dest.text)?;
        }
        for h in &a.hazards {
            writeln!(out, "  hazard {}: {}", h.kind, h.text)?;
        }
    }
    if let Some(plan) = &d.plan {
        writeln!(out, "  runs: {}", plan.command)?;
    }
    Ok(())
}

fn serde_plain<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}
