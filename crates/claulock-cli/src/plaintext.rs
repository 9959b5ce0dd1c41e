//! `doctor`'s search for vault values left in plaintext where the agent
//! (the model's code, as the user) can read them: files of the project and
//! of the user's credential files, the project's git history, and the
//! environment of this shell and of running Claude Code sessions.
//!
//! Every comparison happens in the agent (`Scan` for files, `Scrub` for
//! history and environments): this process reads the plaintext it
//! searches, as any process of the user can, but never a vault value.

use std::io::Read;
use std::path::{Path, PathBuf};

use claulock_proto::{Client, Reply, Request};

/// The git history searched: at most this many commits and bytes of patch.
const HISTORY_COMMITS: &str = "2000";
const HISTORY_BYTES: u64 = 64 << 20;
/// A commit's patch is asked about in pieces of at most this many bytes
/// (one request each; pieces overlap so a value across a cut is caught).
const PIECE: usize = 4 << 20;
const OVERLAP: usize = 64 << 10;

/// One thing `doctor` found, with its fix.
pub(crate) struct Leftover {
    pub what: String,
}

/// Everything found, in the order: files, history, environments.
pub(crate) fn find(client: &Client, project: &Path, user_home: Option<&Path>) -> Vec<Leftover> {
    let mut out = Vec::new();
    files(client, project, user_home, &mut out);
    history(client, project, &mut out);
    environments(client, &mut out);
    out
}

fn files(client: &Client, project: &Path, user_home: Option<&Path>, out: &mut Vec<Leftover>) {
    let mut paths = vec![project.display().to_string()];
    if let Some(h) = user_home {
        paths.push(h.join(".claude").display().to_string());
        let startup = [".bashrc", ".zshrc", ".profile", ".bash_profile"].map(|f| h.join(f));
        for f in crate::import::credential_files(h)
            .into_iter()
            .chain(startup)
        {
            paths.push(f.display().to_string());
        }
    }
    let Ok(found) = client.scan(paths, false) else {
        return;
    };
    let claude = user_home.map(|h| h.join(".claude"));
    for f in found {
        let path = PathBuf::from(&f.path);
        let fix = if claude.as_deref().is_some_and(|c| path.starts_with(c)) {
            "run `claulock sweep`".to_owned()
        } else if is_shell_startup(&path) {
            format!(
                "remove the value from {} and use {} in commands",
                f.path,
                claulock_runtime::shell::placeholders(&f.secrets)
            )
        } else {
            format!("run `claulock import --rewrite {}`", f.path)
        };
        out.push(Leftover {
            what: format!(
                "{} holds the value of {} in plaintext: {fix}",
                f.path,
                f.secrets.join(", ")
            ),
        });
    }
}

fn is_shell_startup(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| matches!(n, ".bashrc" | ".zshrc" | ".profile" | ".bash_profile"))
}

/// The secrets whose values `text` holds, asked of the agent.
fn caught(client: &Client, text: &str, caller: &str) -> Vec<String> {
    match client.request(&Request::Scrub {
        text: text.to_owned(),
        caller: caller.into(),
    }) {
        Ok(Reply::Scrubbed { caught, .. }) => {
            let mut names: Vec<String> = caught.into_iter().map(|c| c.secret).collect();
            names.sort();
            names.dedup();
            names
        }
        _ => Vec::new(),
    }
}

/// Commits of the project's history whose patches hold a value: a value
/// once committed stays readable (and pushed) whatever the files hold now.
fn history(client: &Client, project: &Path, out: &mut Vec<Leftover>) {
    let child = std::process::Command::new("git")
        .args(["-C"])
        .arg(project)
        .args([
            "log",
            "-p",
            "--all",
            "--no-color",
            "--no-ext-diff",
            "--format=%x00commit %H",
            "-n",
            HISTORY_COMMITS,
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        return;
    };
    let mut patch = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        let _ = stdout.take(HISTORY_BYTES).read_to_end(&mut patch);
    }
    let _ = child.kill();
    let _ = child.wait();
    let text = String::from_utf8_lossy(&patch);
    let mut hits: Vec<(String, Vec<String>)> = Vec::new();
    for commit in text.split("\0commit ").filter(|c| !c.is_empty()) {
        let hash: String = commit.chars().take(12).collect();
        let mut names = Vec::new();
        let bytes = commit.as_bytes();
        let mut at = 0;
        while at < bytes.len() {
            let end = (at + PIECE).min(bytes.len());
            let piece = String::from_utf8_lossy(&bytes[at..end]);
            for n in caught(client, &piece, "doctor") {
                if !names.contains(&n) {
                    names.push(n);
                }
            }
            if end == bytes.len() {
                break;
            }
            at = end - OVERLAP;
        }
        if !names.is_empty() {
            hits.push((hash, names));
        }
    }
    // One line per secret, naming its commits.
    let mut secrets: Vec<&String> = hits.iter().flat_map(|(_, n)| n).collect();
    secrets.sort();
    secrets.dedup();
    for name in secrets {
        let commits: Vec<&str> = hits
            .iter()
            .filter(|(_, n)| n.contains(name))
            .map(|(h, _)| h.as_str())
            .collect();
        let shown = if commits.len() > 5 {
            format!("{} and {} more", commits[..5].join(", "), commits.len() - 5)
        } else {
            commits.join(", ")
        };
        out.push(Leftover {
            what: format!(
                "the git history of {} holds the value of {name} (commit {shown}): history keeps it, and every clone has it, so revoke it where it was issued and `claulock rotate {name}`",
                project.display(),
            ),
        });
    }
}

/// Variables of this shell, and of each running Claude Code of this user,
/// that hold a value: every command the model runs inherits them.
fn environments(client: &Client, out: &mut Vec<Leftover>) {
    for (k, v) in std::env::vars() {
        let names = caught(client, &v, "doctor");
        if !names.is_empty() {
            out.push(Leftover {
                what: format!(
                    "this shell exports {k} holding the value of {}: a Claude Code started from it passes it to every command; remove the `export` from your shell's startup files, open a new shell, and use {}",
                    names.join(", "),
                    claulock_runtime::shell::placeholders(&names)
                ),
            });
        }
    }
    let me = rustix::process::getuid().as_raw();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return;
    };
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let dir = p.path();
        let mine =
            std::fs::metadata(&dir).is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == me);
        if !mine || !is_claude_code(&dir) {
            continue;
        }
        let Ok(environ) = std::fs::read(dir.join("environ")) else {
            continue;
        };
        for var in environ.split(|&b| b == 0) {
            let var = String::from_utf8_lossy(var);
            let Some((k, v)) = var.split_once('=') else {
                continue;
            };
            let names = caught(client, v, "doctor");
            if !names.is_empty() {
                out.push(Leftover {
                    what: format!(
                        "Claude Code (pid {pid}) was started with {k} holding the value of {}: every command it runs inherits it; quit it and start it from a shell without that variable",
                        names.join(", ")
                    ),
                });
            }
        }
    }
}

/// Whether the process in `/proc/PID` is Claude Code (its executable is
/// `claude`, or node running Claude Code's package).
fn is_claude_code(dir: &Path) -> bool {
    let Ok(cmdline) = std::fs::read(dir.join("cmdline")) else {
        return false;
    };
    let mut args = cmdline.split(|&b| b == 0).map(String::from_utf8_lossy);
    let first = args.next().unwrap_or_default();
    let base = first.rsplit('/').next().unwrap_or("");
    base == "claude"
        || (base.starts_with("node")
            && args
                .take(2)
                .any(|a| a.contains("@anthropic-ai/claude-code") || a.ends_with("/claude")))
}
