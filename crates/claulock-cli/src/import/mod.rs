//! `claulock import`: take the credentials out of the files a developer
//! already has, into the vault, and leave placeholders behind.
//!
//! A value in a file the agent can read is a value the agent can read,
//! whatever the scrubber catches; this is the structural fix (DESIGN.md §1).
//! The command shows what it found (names, never values) before it changes
//! anything, asks unless `--yes`, adds each new value to the vault through
//! the agent, and with `--rewrite` rewrites each file atomically, mode and
//! owner kept, with no copy of the plaintext left anywhere.

mod formats;

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use claulock_proto::{Allowances, Delivery, NewSecret, Reply, Request, SecretBytes};
use zeroize::Zeroizing;

use formats::{Edit, Found, Kind};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// Files to import from: dotenv files, `.npmrc`, `.git-credentials`,
    /// `.netrc`, `.pypirc`, `.docker/config.json`, `gh/hosts.yml` (their
    /// kind is told by their name). Without files (and without --env): the
    /// ones of those in your home directory, and `.env` here.
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Replace each value in its file by its placeholder (or remove it
    /// where the file's program takes it from the environment or from
    /// ClauLock's git credential helper). No copy of the old file is kept.
    #[arg(long)]
    rewrite: bool,
    /// Also import this environment's variables whose values look like
    /// credentials (the shapes the prompt guard knows).
    #[arg(long)]
    env: bool,
    /// Do not ask before changing the vault and the files.
    #[arg(long)]
    yes: bool,
    /// A host every imported secret may be sent to, besides the ones its
    /// file names; repeatable.
    #[arg(long = "allow-host", value_name = "HOST")]
    hosts: Vec<String>,
    /// A program every imported secret may be passed to; repeatable.
    #[arg(long = "allow-program", value_name = "PROGRAM")]
    programs: Vec<String>,
    /// How the imported secrets reach commands (as for `add`; default:
    /// proxy for a secret with hosts, env without).
    #[arg(long, value_name = "proxy|env", value_parser = ["proxy", "env"])]
    deliver: Option<String>,
}

/// The credential files of a home that `import` knows (`doctor` searches
/// them too).
pub(crate) fn credential_files(home: &Path) -> Vec<PathBuf> {
    Kind::home_files(home)
}

/// One credential of the plan: where it was found and what it becomes.
struct Item {
    file: Option<PathBuf>,
    kind: Kind,
    found: Found,
    /// The name its placeholder uses.
    name: String,
    /// It is in the vault already (under `name`).
    existing: bool,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let home = claulock_agent::Home::from_env()?;
    let client = home.client();
    for h in &args.hosts {
        claulock_core::destination::HostPattern::parse(h)?;
    }
    if let Err(e) = client.status() {
        bail!("{e}: import adds to the vault through the agent; run `claulock unlock` first");
    }
    let user_home = std::env::var_os("HOME").map(PathBuf::from);
    let files: Vec<PathBuf> = if args.files.is_empty() && !args.env {
        let mut f: Vec<PathBuf> = user_home
            .as_deref()
            .map(Kind::home_files)
            .unwrap_or_default();
        f.push(PathBuf::from(".env"));
        f.into_iter().filter(|p| p.is_file()).collect()
    } else {
        args.files.clone()
    };

    let mut items: Vec<Item> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut texts: BTreeMap<PathBuf, String> = BTreeMap::new();
    for path in &files {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let kind = Kind::of(path);
        let findings =
            formats::find(kind, &text).with_context(|| format!("in {}", path.display()))?;
        for s in findings.skipped {
            notes.push(format!("{}: {}: {}", shown(path), s.label, s.why));
        }
        for found in findings.found {
            items.push(Item {
                file: Some(path.clone()),
                kind,
                name: found.name.clone(),
                found,
                existing: false,
            });
        }
        texts.insert(path.clone(), text);
    }
    if args.env {
        for (k, v) in std::env::vars() {
            if formats::secret_shape(&v) && v.len() >= claulock_scrub::DEFAULT_MIN_SECRET_LEN {
                items.push(Item {
                    file: None,
                    kind: Kind::Dotenv,
                    name: formats::vault_name(&k),
                    found: Found {
                        label: k.clone(),
                        name: formats::vault_name(&k),
                        value: Zeroizing::new(v.into_bytes()),
                        hosts: Vec::new(),
                        programs: &[],
                        user: None,
                        edit: Edit::None,
                    },
                    existing: false,
                });
            }
        }
    }
    name_items(&client, &mut items)?;

    let mut out = std::io::stdout().lock();
    if items.is_empty() {
        writeln!(
            out,
            "claulock import: no credentials found; nothing was changed"
        )?;
        for n in &notes {
            writeln!(out, "  left alone: {n}")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "claulock import: {} credential(s) found (values are never shown):",
        items.len()
    )?;
    for it in &items {
        let place = it.file.as_deref().map_or("environment".into(), shown);
        let state = if it.existing {
            "already in the vault".to_owned()
        } else {
            let hosts = hosts_of(it, &args.hosts);
            let delivery = delivery(args, &hosts);
            let mut s = format!("new, {} delivery", delivery.as_str());
            if !hosts.is_empty() {
                s.push_str(&format!(", hosts {}", hosts.join(",")));
            }
            let programs = programs_of(it, &args.programs);
            if !programs.is_empty() {
                s.push_str(&format!(", programs {}", programs.join(",")));
            }
            s
        };
        writeln!(
            out,
            "  {place}: {} -> {{{{{}}}}} ({state})",
            it.found.label, it.name
        )?;
    }
    for n in &notes {
        writeln!(out, "  left alone: {n}")?;
    }
    if args.rewrite {
        writeln!(
            out,
            "--rewrite replaces each value in its file by its placeholder (or removes it), in place: no copy of the plaintext is kept anywhere."
        )?;
    }
    out.flush()?;
    drop(out);
    if !args.yes && !confirm(args.rewrite)? {
        say("nothing was changed")?;
        return Ok(ExitCode::from(1));
    }

    // Into the vault first: a file loses its value only once the vault
    // holds it.
    let mut added = 0;
    for it in items.iter().filter(|i| !i.existing) {
        let hosts = hosts_of(it, &args.hosts);
        let deliver = args.deliver.as_deref().map(|d| match d {
            "proxy" => Delivery::Proxy,
            _ => Delivery::Env,
        });
        if Delivery::effective(deliver, &hosts) == Delivery::Proxy && hosts.is_empty() {
            bail!(
                "{}: proxy delivery needs a host (--allow-host); nothing more was changed",
                it.name
            );
        }
        client
            .done(&Request::Add {
                name: it.name.clone(),
                value: SecretBytes::from(&it.found.value[..]),
                meta: NewSecret {
                    allowances: Allowances {
                        allow_hosts: hosts,
                        allow_programs: programs_of(it, &args.programs),
                        tags: vec!["imported".into()],
                    },
                    expires: None,
                    project: None,
                    allow_output_files: false,
                    deliver,
                    allow_in_body: false,
                },
            })
            .with_context(|| format!("cannot add {}", it.name))?;
        added += 1;
    }
    say(&format!(
        "added {added} secret(s) to the vault{}",
        if added < items.len() {
            format!(
                " ({} already there)",
                items.iter().filter(|i| i.existing).count()
            )
        } else {
            String::new()
        }
    ))?;

    if items.iter().any(|i| i.file.is_none()) {
        say(
            "the environment's values stay in this shell: remove their `export` lines from your shell's startup files and open a new shell",
        )?;
    }
    if !args.rewrite {
        if items.iter().any(|i| i.file.is_some()) {
            say(
                "the files still hold the values (and the agent can read them): run again with --rewrite to replace them by placeholders",
            )?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    for (path, text) in &texts {
        let mine: Vec<&Item> = items
            .iter()
            .filter(|i| i.file.as_deref() == Some(path.as_path()))
            .collect();
        if mine.is_empty() {
            continue;
        }
        let kind = mine[0].kind;
        let found: Vec<&Found> = mine.iter().map(|i| &i.found).collect();
        let names: Vec<String> = mine.iter().map(|i| i.name.clone()).collect();
        let new = formats::rewrite(kind, text, &found, &names)
            .with_context(|| format!("cannot rewrite {}", path.display()))?;
        replace_file(path, new.as_bytes())?;
        say(&format!("rewrote {}", shown(path)))?;
        if tracked_by_git(path) {
            say(&format!(
                "  {} is tracked by git: commit it now (placeholders are safe to commit); if the values were committed before, the history still holds them: `claulock doctor` says, and each must be revoked and rotated",
                shown(path)
            ))?;
        }
        for hint in after_rewrite(kind, &mine)? {
            say(&format!("  {hint}"))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Gives each item its placeholder name: the vault's name for a value it
/// holds already, else the derived name, made unique.
fn name_items(client: &claulock_proto::Client, items: &mut [Item]) -> anyhow::Result<()> {
    let mut taken: Vec<String> = client.list()?.into_iter().map(|s| s.name).collect();
    let mut by_value: Vec<(Zeroizing<Vec<u8>>, String)> = Vec::new();
    for it in items.iter_mut() {
        if let Some((_, name)) = by_value.iter().find(|(v, _)| **v == *it.found.value) {
            it.name = name.clone();
            it.existing = true;
            continue;
        }
        if let Some(name) = vault_name_of(client, &it.found.value)? {
            it.name = name;
            it.existing = true;
        } else {
            let base = it.found.name.clone();
            let mut name = base.clone();
            let mut n = 2;
            while taken.contains(&name) {
                name = format!("{base}_{n}");
                n += 1;
            }
            taken.push(name.clone());
            it.name = name;
        }
        by_value.push((it.found.value.clone(), it.name.clone()));
    }
    Ok(())
}

/// The vault secret whose value (current or superseded) is exactly
/// `value`: the agent scrubs it, and the whole text becomes its marker.
fn vault_name_of(client: &claulock_proto::Client, value: &[u8]) -> anyhow::Result<Option<String>> {
    let Ok(text) = std::str::from_utf8(value) else {
        return Ok(None);
    };
    let reply = client.request(&Request::Scrub {
        text: text.to_owned(),
        caller: "import".into(),
    })?;
    let Reply::Scrubbed {
        text: Some(redacted),
        ..
    } = reply
    else {
        return Ok(None);
    };
    Ok(redacted
        .strip_prefix("[REDACTED:")
        .and_then(|r| r.strip_suffix(']'))
        .filter(|n| claulock_core::grammar::is_valid_name(n))
        .map(str::to_owned))
}

fn hosts_of(it: &Item, extra: &[String]) -> Vec<String> {
    let mut h = it.found.hosts.clone();
    for e in extra {
        if !h.contains(e) {
            h.push(e.clone());
        }
    }
    h
}

/// The programs of the file's kind (for a secret with hosts) and the ones
/// given on the command line.
fn programs_of(it: &Item, extra: &[String]) -> Vec<String> {
    let mut p: Vec<String> = if it.found.hosts.is_empty() {
        Vec::new()
    } else {
        it.found.programs.iter().map(|s| (*s).to_owned()).collect()
    };
    for e in extra {
        if !p.contains(e) {
            p.push(e.clone());
        }
    }
    p
}

fn delivery(args: &Args, hosts: &[String]) -> Delivery {
    let set = args.deliver.as_deref().map(|d| match d {
        "proxy" => Delivery::Proxy,
        _ => Delivery::Env,
    });
    Delivery::effective(set, hosts)
}

/// What to do next once `kind`'s file lost its values (and, for git's
/// files, the credential helper that replaces them).
fn after_rewrite(kind: Kind, items: &[&Item]) -> anyhow::Result<Vec<String>> {
    let names = || {
        items
            .iter()
            .map(|i| i.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    Ok(match kind {
        Kind::Dotenv => vec![format!(
            "run programs with it through ClauLock: `claulock exec --env-file {} -- npm test`",
            items[0].file.as_deref().map_or(".env".into(), shown)
        )],
        Kind::Npmrc => vec![format!(
            "npm reads {} from the environment now: `{}={{{{{}}}}} npm publish`, or an env file with `claulock exec --env-file`",
            names(),
            items[0].name,
            items[0].name
        )],
        Kind::GitCredentials | Kind::Netrc => {
            let mut out = Vec::new();
            for it in items {
                let Some(host) = it.found.hosts.first() else {
                    continue;
                };
                let url = match kind {
                    Kind::GitCredentials => it.found.label.clone(),
                    _ => format!("https://{host}"),
                };
                crate::git_credential::install(&url, &it.name, it.found.user.as_deref())?;
                out.push(format!(
                    "git asks ClauLock for {host} now: `{}={{{{{}}}}} git push`",
                    it.name, it.name
                ));
            }
            out
        }
        Kind::Pypirc => vec![format!(
            "twine takes it from the environment: `TWINE_PASSWORD={{{{{}}}}} twine upload dist/*`",
            items[0].name
        )],
        Kind::DockerConfig => vec![format!(
            "log in through ClauLock when you need to: `printf %s {{{{{}}}}} | docker login --password-stdin -u USER REGISTRY` (or configure a credsStore, so docker does not write it back)",
            items[0].name
        )],
        Kind::GhHosts => vec![format!(
            "gh takes it from the environment: `GH_TOKEN={{{{{}}}}} gh pr list`",
            items[0].name
        )],
    })
}

/// Writes `bytes` over `path` atomically: a new file beside it with the
/// same mode and owner, synced, renamed over the old one. A symbolic link
/// (a dotfile kept in a repository) stays one: its target is rewritten.
fn replace_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let path = &std::fs::canonicalize(path)
        .with_context(|| format!("cannot resolve {}", path.display()))?;
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot stat {}", path.display()))?;
    crate::replace::replace(path, bytes, meta.mode(), Some((meta.uid(), meta.gid())))
}

/// Whether git tracks `path` (then its history may hold the old values).
fn tracked_by_git(path: &Path) -> bool {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return false;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["ls-files", "--error-unmatch", "--"])
        .arg(name)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Asks on the terminal; refuses without one (a script passes `--yes`).
fn confirm(rewrite: bool) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!("nothing was changed: pass --yes to import without a terminal to confirm on");
    }
    let what = if rewrite {
        "Add them to the vault and rewrite the files?"
    } else {
        "Add them to the vault?"
    };
    let mut out = std::io::stdout().lock();
    write!(out, "{what} [y/N] ")?;
    out.flush()?;
    drop(out);
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

/// A path as the user would write it: relative under the working
/// directory, `~/…` in the home directory.
fn shown(path: &Path) -> String {
    if let Ok(cwd) = std::env::current_dir()
        && let Ok(rest) = path.strip_prefix(&cwd)
    {
        return rest.display().to_string();
    }
    if let Some(home) = std::env::var_os("HOME")
        && let Ok(rest) = path.strip_prefix(&home)
    {
        return format!("~/{}", rest.display());
    }
    path.display().to_string()
}

fn say(line: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}
