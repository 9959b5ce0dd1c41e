//! `claulock check`: the policy dry run.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use claulock_core::analysis::Environment;
use claulock_core::policy::{CheckContext, Decision, Policy, decide};
use claulock_core::substitute::{Deliverer, DeliveryPlan, delivery_plan};
use claulock_core::{destination::Target, policy_file, time::Timestamp};

use claulock_agent::project::{self, POLICY_FILE as PROJECT_FILE};

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
    let (mut policy, proxied) = match &args.policy {
        Some(path) => (load(path)?, Vec::new()),
        None => vault_policy()?,
    };
    let cwd = std::env::current_dir().context("cannot read the working directory")?;
    let root = project::root(&cwd);
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
            git_remotes: project::git_remotes(&cwd),
        },
    };
    let decision = decide(&args.command, &policy, &ctx);
    let runs = preview(&args.command, &decision, &proxied);
    let mut out = std::io::stdout().lock();
    if args.json {
        let mut v = serde_json::to_value(&decision)?;
        v["plan"] = serde_json::to_value(&runs)?;
        v["deliveries"] = serde_json::to_value(deliveries(&decision, &proxied))?;
        serde_json::to_writer_pretty(&mut out, &v)?;
        writeln!(out)?;
    } else {
        write_human(&mut out, &decision, runs.as_ref(), &proxied)?;
    }
    Ok(if decision.allowed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Each secret the command uses, and how its value would reach the
/// command: `proxy` or `env`.
fn deliveries(
    d: &Decision,
    proxied: &[String],
) -> std::collections::BTreeMap<String, &'static str> {
    d.analysis
        .iter()
        .flat_map(|a| &a.uses)
        .map(|u| {
            let how = if proxied.contains(&u.secret) {
                "proxy"
            } else {
                "env"
            };
            (u.secret.clone(), how)
        })
        .collect()
}

/// The vault's rules, from the agent's metadata (never a value), and the
/// secrets delivered by the proxy.
fn vault_policy() -> anyhow::Result<(Policy, Vec<String>)> {
    let home = claulock_agent::Home::from_env()?;
    if !home.vault.exists() {
        bail!(
            "no vault at {}: run `claulock init`, or pass `--policy FILE` to check against a policy file",
            home.vault.display()
        );
    }
    let mut policy = Policy::new();
    let mut proxied = Vec::new();
    for s in home.client().list()? {
        if s.delivery == claulock_proto::Delivery::Proxy {
            proxied.push(s.name.clone());
        }
        let expires = s
            .expires
            .as_deref()
            .map(Timestamp::parse_rfc3339)
            .transpose()
            .with_context(|| format!("secret {} has an invalid expiry", s.name))?;
        let rules = claulock_agent::rules::secret_rules(
            &s.name,
            claulock_agent::rules::Fields {
                hosts: &s.allowances.allow_hosts,
                programs: &s.allowances.allow_programs,
                revealing: &s.allow_revealing,
                output_files: s.allow_output_files,
                expires,
                project: s.project.as_deref(),
                proxied: s.delivery == claulock_proto::Delivery::Proxy,
            },
        )?;
        policy.insert(s.name, rules);
    }
    Ok((policy, proxied))
}

fn load(path: &Path) -> anyhow::Result<Policy> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the policy file {}", path.display()))?;
    policy_file::parse(&text).with_context(|| format!("in the policy file {}", path.display()))
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// What `claulock exec` would run: the delivery plan, with a preview
/// marker and preview surrogates (each run gets fresh ones).
fn preview(command: &str, d: &Decision, proxied: &[String]) -> Option<DeliveryPlan> {
    let analysis = d.analysis.as_ref().filter(|_| d.allowed)?;
    let surrogates: Vec<(String, String)> = proxied
        .iter()
        .map(|n| (n.clone(), format!("SURROGATE_OF_{n}")))
        .collect();
    let deliverer = Deliverer {
        program: "claulock",
        nonce: "0000000000000000",
        surrogates: &surrogates,
    };
    delivery_plan(command, analysis, &deliverer).ok()
}

fn write_human(
    out: &mut impl Write,
    d: &Decision,
    runs: Option<&DeliveryPlan>,
    proxied: &[String],
) -> std::io::Result<()> {
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
            let how = if proxied.contains(&u.secret) {
                "proxy"
            } else {
                "env"
            };
            writeln!(
                out,
                "  {{{{{}}}}} -> {} ({}, {}, delivery {how})",
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
    if let Some(plan) = runs {
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
