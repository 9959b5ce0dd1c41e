//! `claulock git-credential`: the git credential helper that replaces a
//! plaintext `~/.git-credentials` or `~/.netrc` entry after `import`.
//!
//! It holds no value and asks the agent for none: it answers git with the
//! environment variable named after the secret, which only a command run
//! through ClauLock has (`NAME={{NAME}} git push`, rewritten by the hook
//! and delivered by `claulock exec` like any placeholder: with proxy
//! delivery git gets a surrogate, which ClauLock's proxy swaps for the
//! value on the wire to the allowed host). A helper that asked the agent
//! itself would answer any process of the user, the model's included.
//! Without the variable it says how to run git, and git goes on to its
//! next helper or fails.

use std::io::{Read, Write};
use std::process::ExitCode;

use anyhow::{Context, bail};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The secret whose placeholder git's command must carry.
    #[arg(long, value_name = "NAME")]
    secret: String,
    /// The user name to answer with (else git's own, else the secret's name).
    #[arg(long, value_name = "USER")]
    username: Option<String>,
    /// What git asks: get, store or erase.
    #[arg(value_name = "ACTION")]
    action: String,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .context("cannot read git's request")?;
    if args.action != "get" {
        // Never store: the value lives in the vault alone.
        return Ok(ExitCode::SUCCESS);
    }
    let asked_user = input
        .lines()
        .find_map(|l| l.strip_prefix("username="))
        .map(str::to_owned);
    let Some(password) = std::env::var_os(&args.secret).filter(|v| !v.is_empty()) else {
        let _ = writeln!(
            std::io::stderr(),
            "claulock: git needs {s} for this remote: run git with its placeholder, e.g. `{s}={{{{{s}}}}} git push`, so that ClauLock delivers it",
            s = args.secret
        );
        return Ok(ExitCode::SUCCESS);
    };
    let user = args
        .username
        .clone()
        .filter(|u| !u.is_empty())
        .or(asked_user)
        .unwrap_or_else(|| args.secret.clone());
    if user.contains('\n') || password.as_encoded_bytes().contains(&b'\n') {
        bail!("a credential for git cannot hold a line break");
    }
    let mut out = std::io::stdout().lock();
    out.write_all(format!("username={user}\npassword=").as_bytes())?;
    out.write_all(password.as_encoded_bytes())?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Makes this binary git's only credential helper for `url` (an empty
/// helper first resets the ones configured before, `store` among them,
/// which would write the answer back to a plaintext file).
pub(crate) fn install(url: &str, secret: &str, user: Option<&str>) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot find the claulock executable")?;
    let key = format!("credential.{url}.helper");
    let mut helper = format!(
        "!{} git-credential --secret {secret}",
        claulock_runtime::shell::quote(&exe.display().to_string())
    );
    if let Some(u) = user.filter(|u| !u.is_empty()) {
        helper.push_str(&format!(
            " --username {}",
            claulock_runtime::shell::quote(u)
        ));
    }
    let git = |args: &[&str]| -> anyhow::Result<std::process::Output> {
        std::process::Command::new("git")
            .args(["config", "--global"])
            .args(args)
            .output()
            .context("cannot run git to configure its credential helper")
    };
    // Idempotent: a second import leaves one pair.
    git(&["--unset-all", &key])?;
    for value in ["", helper.as_str()] {
        let out = git(&["--add", &key, value])?;
        if !out.status.success() {
            bail!(
                "git config --global {key}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
    }
    Ok(())
}
