//! [`Guard`]: the verdict on each event, asked of the agent through
//! [`AgentApi`].
//!
//! **Fail closed.** When a vault exists and the agent cannot answer
//! (locked, killed, starved, slow), [`Guard::verdict`] returns the error
//! and the caller answers with [`fallback`]`(event, true)` explained by
//! [`with_reason`]: a shell command and a read of a path are denied, a
//! tool's output is replaced by a notice in its own shape. Without a
//! vault there is nothing to protect and the guard stands aside.

use claulock_proto::{Caught, Error, Finding, Reply, Request, SecretBytes};
use serde_json::Value;

use crate::event::{Confirm, Event, ToolCall, Verdict};
use crate::files::{self, FileUse, Named, Workspace};
use crate::{context, prompt, shell};

/// What the guard needs of the agent. [`claulock_proto::Client`]
/// implements it; a runtime that embeds the agent implements it in process.
pub trait AgentApi {
    /// Whether the agent answers, and the variables of this process's own
    /// environment that hold a value (the commands of a runtime whose
    /// environment holds one inherit it).
    ///
    /// # Errors
    ///
    /// When it does not (locked, no vault, unreachable).
    fn status(&self) -> Result<Vec<String>, Error>;
    /// The policy's decision on a command run in `cwd`.
    ///
    /// # Errors
    ///
    /// The agent's.
    fn decide(&self, command: &str, cwd: &str) -> Result<claulock_proto::Verdict, Error>;
    /// Which files under `paths` hold a value (`files_only`: of the paths
    /// themselves, directories left out).
    ///
    /// # Errors
    ///
    /// The agent's.
    fn scan(&self, paths: Vec<String>, files_only: bool) -> Result<Vec<Finding>, Error>;
    /// As [`AgentApi::scan`], and each path that could not be scanned to
    /// the end, as a finding with [`Finding::unscanned`] set (the file
    /// guard refuses what it cannot check).
    ///
    /// # Errors
    ///
    /// The agent's.
    fn scan_reporting(&self, paths: Vec<String>, files_only: bool) -> Result<Vec<Finding>, Error>;
    /// Every string of `value` scrubbed (`None`: nothing caught).
    ///
    /// # Errors
    ///
    /// The agent's.
    fn scrub_json(&self, value: &Value, caller: &str) -> Result<Option<Value>, Error>;
    /// What the scrubber catches in `text`.
    ///
    /// # Errors
    ///
    /// The agent's.
    fn scrub(&self, text: &str, caller: &str) -> Result<Vec<Caught>, Error>;
    /// The secrets' names.
    ///
    /// # Errors
    ///
    /// The agent's.
    fn names(&self) -> Result<Vec<String>, Error>;
    /// Redacts every value (and `extra`) from the files under `paths`.
    ///
    /// # Errors
    ///
    /// The agent's.
    fn sweep(&self, paths: Vec<String>, extra: Vec<SecretBytes>) -> Result<(), Error>;
}

impl AgentApi for claulock_proto::Client {
    fn status(&self) -> Result<Vec<String>, Error> {
        claulock_proto::Client::status(self).map(|s| s.inherited)
    }

    fn decide(&self, command: &str, cwd: &str) -> Result<claulock_proto::Verdict, Error> {
        claulock_proto::Client::decide(self, command, cwd)
    }

    fn scan(&self, paths: Vec<String>, files_only: bool) -> Result<Vec<Finding>, Error> {
        claulock_proto::Client::scan(self, paths, files_only)
    }

    fn scan_reporting(&self, paths: Vec<String>, files_only: bool) -> Result<Vec<Finding>, Error> {
        claulock_proto::Client::scan_reporting(self, paths, files_only)
    }

    fn scrub_json(&self, value: &Value, caller: &str) -> Result<Option<Value>, Error> {
        match self.request(&Request::ScrubJson {
            value: value.clone(),
            caller: caller.into(),
        })? {
            Reply::ScrubbedJson { value, .. } => Ok(value),
            other => Err(claulock_proto::unexpected(&other)),
        }
    }

    fn scrub(&self, text: &str, caller: &str) -> Result<Vec<Caught>, Error> {
        match self.request(&Request::Scrub {
            text: text.into(),
            caller: caller.into(),
        })? {
            Reply::Scrubbed { caught, .. } => Ok(caught),
            other => Err(claulock_proto::unexpected(&other)),
        }
    }

    fn names(&self) -> Result<Vec<String>, Error> {
        Ok(self.list()?.into_iter().map(|s| s.name).collect())
    }

    fn sweep(&self, paths: Vec<String>, extra: Vec<SecretBytes>) -> Result<(), Error> {
        claulock_proto::Client::sweep(self, &Request::Sweep { paths, extra }).map(|_| ())
    }
}

/// The hook settings (`CLAULOCK_HOME/hooks.toml`), read strictly: an
/// unknown key or value is an error, which makes the hooks fail closed.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// The decision for an allowed command with placeholders.
    pub placeholder_permission: PlaceholderPermission,
    /// Route commands without placeholders through `claulock exec` too.
    /// Off by default: Claude Code checks its permission rules against
    /// the rewritten command, so `Bash(npm test:*)`-style allow rules stop
    /// matching; their output is scrubbed after the tool ran instead.
    pub wrap_plain_commands: bool,
    /// Block prompts holding credential-shaped strings ([`prompt`]).
    pub block_token_shapes: bool,
}

/// `placeholder_permission` in `hooks.toml`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlaceholderPermission {
    /// Run without asking.
    Allow,
    /// The user confirms each one.
    Ask,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            placeholder_permission: PlaceholderPermission::Allow,
            wrap_plain_commands: false,
            block_token_shapes: true,
        }
    }
}

/// Decides each event with the agent.
pub struct Guard<'a, A: AgentApi> {
    /// The agent.
    pub agent: &'a A,
    /// The settings.
    pub settings: &'a Settings,
    /// Whether a vault exists (then what cannot be checked is denied).
    pub guarded: bool,
    /// The `claulock` executable the rewrite calls.
    pub exe: &'a str,
    /// Variables the rewritten command sets for `claulock exec` (the
    /// hook's `CLAULOCK_HOME`: the agent's shell may not have it).
    pub env: &'a [(String, String)],
    /// The private directory where `exec --cwd-out` leaves the command's
    /// final directory.
    pub run_dir: &'a str,
    /// The file system, as the file guard asks about it.
    pub workspace: &'a dyn Workspace,
}

impl<A: AgentApi> Guard<'_, A> {
    /// The verdict on `event`.
    ///
    /// # Errors
    ///
    /// When the agent cannot answer a question the verdict needs: the
    /// caller answers [`fallback`] then.
    pub fn verdict(&self, event: &Event<'_>) -> Result<Verdict, Error> {
        match event {
            Event::ToolCall {
                call: ToolCall::Shell { command },
                cwd,
            } => self.shell(command, cwd.unwrap_or("/")),
            Event::ToolCall {
                call: ToolCall::Read { tool, path },
                cwd,
            } => self.read(tool, path, *cwd),
            Event::ToolCall {
                call: ToolCall::Other,
                ..
            } => Ok(Verdict::Pass),
            Event::ToolOutput { tool, output } => self.output(tool, output),
            Event::Prompt { text, transcript } => self.prompt(text, *transcript),
            Event::SessionStart => {
                let (names, locked) = match self.agent.names() {
                    Ok(n) => (n, false),
                    Err(_) => (Vec::new(), true),
                };
                Ok(Verdict::Context {
                    text: context::session_context(&names, locked),
                })
            }
            Event::SessionEnd { transcript } => {
                self.sweep(*transcript, Vec::new());
                Ok(Verdict::Pass)
            }
        }
    }

    fn shell(&self, command: &str, cwd: &str) -> Result<Verdict, Error> {
        let names = match shell::placeholder_names(command) {
            Ok(n) => n,
            Err(e) => {
                return Ok(deny(format!(
                    "ClauLock: {e}. Write a placeholder as {{{{NAME}}}}, or {{{{!NAME}}}} for a literal."
                )));
            }
        };
        let wrapped = || shell::wrap(self.exe, self.env, command, self.run_dir);
        if names.is_empty() {
            if !self.guarded {
                return Ok(Verdict::Pass);
            }
            // Locked or unreachable: the error denies (see `fallback`).
            let inherited = self.agent.status()?;
            if let Some(refusal) = self.file_guard(command, cwd)? {
                return Ok(refusal);
            }
            // The runtime's own environment holds a value (a token the
            // user exported): its commands would inherit it, and a
            // fragment of it (`printenv T | cut -c1-8`) is too short to
            // scrub, so the command runs through `claulock exec`, which
            // withholds it.
            if !self.settings.wrap_plain_commands && inherited.is_empty() {
                return Ok(Verdict::Pass);
            }
            return Ok(Verdict::Rewrite {
                command: wrapped(),
                confirm: Confirm::Rules,
                reason: if inherited.is_empty() {
                    "ClauLock: output scrubbed".into()
                } else {
                    format!(
                        "ClauLock: output scrubbed, and {} (holding a secret's value) withheld",
                        inherited.join(", ")
                    )
                },
            });
        }
        if !self.guarded {
            return Ok(deny(format!(
                "ClauLock: there is no vault yet, so {{{{{}}}}} cannot be resolved. Ask the user to \
                 run `claulock init` and `claulock add {}` in a terminal.",
                names[0], names[0]
            )));
        }
        let verdict = match self.agent.decide(command, cwd) {
            Err(Error::NoVault { .. }) => {
                return Ok(deny(format!(
                    "ClauLock: there is no vault yet, so {{{{{}}}}} cannot be resolved. Ask the \
                     user to run `claulock init` and `claulock add {}` in a terminal.",
                    names[0], names[0]
                )));
            }
            Err(e @ Error::Locked) => {
                return Ok(deny(format!(
                    "ClauLock: {e}, so this command's secrets cannot be used. Ask the user to run \
                     `claulock unlock` in a terminal, then try again."
                )));
            }
            Err(e) if e.is_unavailable() => return Err(e),
            Err(e) => return Ok(deny(format!("ClauLock refused this command: {e}"))),
            Ok(v) => v,
        };
        if !verdict.allowed {
            return Ok(deny(format!(
                "ClauLock refused this command (nothing ran):\n- {}\nRewrite the command so the \
                 secret goes only to an allowed program and host, and its value is never printed, \
                 encoded or written to a file; `claulock check -c '…'` explains a decision.",
                verdict.refusals.join("\n- ")
            )));
        }
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        let (proxied, env): (Vec<String>, Vec<String>) = unique
            .into_iter()
            .partition(|n| verdict.proxied.contains(n));
        let mut delivered = Vec::new();
        if !proxied.is_empty() {
            delivered.push(format!(
                "{} as a worthless surrogate (ClauLock's proxy puts the value on the wire to its \
                 allowed hosts only)",
                proxied.join(", ")
            ));
        }
        if !env.is_empty() {
            delivered.push(format!(
                "{} delivered to the program that needs it",
                env.join(", ")
            ));
        }
        Ok(Verdict::Rewrite {
            command: wrapped(),
            confirm: match self.settings.placeholder_permission {
                PlaceholderPermission::Ask => Confirm::Ask,
                PlaceholderPermission::Allow => Confirm::Allow,
            },
            reason: format!(
                "ClauLock: runs through `claulock exec`, {}, its output scrubbed",
                delivered.join("; ")
            ),
        })
    }

    /// A refusal when a command that re-encodes, slices, archives or renders
    /// files, or runs inline code, may read a file that holds a value, or
    /// one ClauLock cannot check (see [`files`]).
    fn file_guard(&self, command: &str, cwd: &str) -> Result<Option<Verdict>, Error> {
        let usage = files::file_use(command);
        if !usage.needs_check() {
            return Ok(None);
        }
        let ws = self.workspace;
        let cwd = std::path::Path::new(cwd);
        let targets = files::expand(&usage, cwd, ws);
        let mut named = targets.named;
        if targets.unknown || usage.inline_code.is_some() {
            named.extend(files::files_of(cwd, ws));
        }
        if usage.inline_code.is_some()
            && let Some(root) = ws.project_root(cwd)
            && root != cwd
        {
            named.extend(files::files_of(&root, ws));
        }
        let mut seen = std::collections::BTreeSet::new();
        named.retain(|n| seen.insert(n.path.clone()));
        let paths: Vec<String> = named.iter().map(|n| n.path.display().to_string()).collect();
        // Directories are searched only for an archiver, which reads them
        // whole; for another program a directory word is not a file it reads.
        let found = if paths.is_empty() {
            Vec::new()
        } else {
            self.agent.scan_reporting(paths, !usage.recursive)?
        };
        let (holding, secrets) = findings(&found);
        if let Some(first) = holding.first() {
            return Ok(Some(deny(file_refusal(
                &usage,
                &shown(&named, first),
                first,
                &secrets,
            ))));
        }
        for read in &usage.git {
            if read.objects.is_empty()
                && let Some(root) = ws.project_root(cwd)
            {
                // `git diff` prints the work tree's changes too.
                let tree = self
                    .agent
                    .scan_reporting(vec![root.display().to_string()], false)?;
                if let Some(f) = tree.iter().find(|f| !f.secrets.is_empty()) {
                    return Ok(Some(deny(file_refusal(
                        &usage, &f.path, &f.path, &f.secrets,
                    ))));
                }
                if let Some(f) = tree.iter().find(|f| f.unscanned.is_some()) {
                    return Ok(Some(deny(format!(
                        "ClauLock refused this command (nothing ran): it re-encodes what git \
                         prints of the work tree, and ClauLock could not check {} for secret \
                         values ({}).",
                        f.path,
                        f.unscanned.as_deref().unwrap_or("unknown reason")
                    ))));
                }
            }
            let blobs = match ws.git_contents(cwd, &read.repo, &read.objects) {
                Ok(b) => b,
                Err(why) => {
                    return Ok(Some(deny(format!(
                        "ClauLock refused this command (nothing ran): it re-encodes what git \
                         prints from the repository, and ClauLock could not check that for \
                         secret values ({why})."
                    ))));
                }
            };
            let mut secrets: Vec<String> = Vec::new();
            for chunk in chunks(&blobs) {
                for c in self
                    .agent
                    .scrub(&String::from_utf8_lossy(&chunk), "hook:git")?
                {
                    if !secrets.contains(&c.secret) {
                        secrets.push(c.secret);
                    }
                }
            }
            if !secrets.is_empty() {
                let what = if read.objects.is_empty() {
                    "the repository's history".to_owned()
                } else {
                    read.objects.join(", ")
                };
                return Ok(Some(deny(format!(
                    "ClauLock refused this command (nothing ran): it re-encodes what git prints \
                     of {what}, which holds the value of {}, and the output could carry it in a \
                     form that cannot be scrubbed. A value committed to git is readable by \
                     anyone with the repository: ask the user to change it at its issuer and \
                     `claulock rotate` it; `claulock doctor` shows where it is. To use the \
                     secret, write its placeholder ({}) in the command that needs it.",
                    secrets.join(", "),
                    shell::placeholders(&secrets)
                ))));
            }
        }
        if let Some(f) = found.iter().find(|f| f.unscanned.is_some()) {
            return Ok(Some(deny(format!(
                "ClauLock refused this command (nothing ran): {} {}, which ClauLock could not \
                 check for secret values ({}). A file it cannot check is not re-encoded, \
                 archived or rendered, and inline code does not run beside it. If it holds no \
                 secret, ask the user to run the command in a terminal.",
                action(&usage),
                shown(&named, &f.path),
                f.unscanned.as_deref().unwrap_or("unknown reason"),
            ))));
        }
        Ok(None)
    }

    fn read(&self, tool: &str, path: &str, cwd: Option<&str>) -> Result<Verdict, Error> {
        if !self.guarded {
            return Ok(Verdict::Pass);
        }
        let path = match (cwd, std::path::Path::new(path).is_absolute()) {
            (Some(cwd), false) => std::path::Path::new(cwd).join(path).display().to_string(),
            _ => path.to_owned(),
        };
        // Locked or unreachable: the error denies (see `fallback`).
        let (files, secrets) = findings(&self.agent.scan(vec![path.clone()], false)?);
        if secrets.is_empty() {
            return Ok(Verdict::Pass);
        }
        let shown = if files.len() == 1 {
            files[0].clone()
        } else {
            format!("{path} (in {})", files.join(", "))
        };
        Ok(deny(read_refusal(tool, &shown, &secrets)))
    }

    fn output(&self, tool: &str, output: &Value) -> Result<Verdict, Error> {
        if output.is_null() || !self.guarded {
            return Ok(Verdict::Pass);
        }
        // Locked or unreachable: the error withholds the output.
        Ok(
            match self.agent.scrub_json(output, &format!("hook:{tool}"))? {
                Some(v) => Verdict::ReplaceOutput { output: v },
                None => Verdict::Pass,
            },
        )
    }

    fn prompt(&self, text: &str, transcript: Option<&str>) -> Result<Verdict, Error> {
        // The prompt is the user's own text: a locked agent cannot compare
        // it with the vault, and the shape check below still runs.
        let mut secrets: Vec<String> = Vec::new();
        for c in self.agent.scrub(text, "hook:prompt").unwrap_or_default() {
            if !secrets.contains(&c.secret) {
                secrets.push(c.secret);
            }
        }
        if !secrets.is_empty() {
            self.sweep(transcript, Vec::new());
            return Ok(Verdict::BlockPrompt {
                reason: prompt::vault_value_reason(&secrets),
            });
        }
        if self.settings.block_token_shapes && !text.contains(prompt::OVERRIDE) {
            let shapes = prompt::token_shapes(text);
            if !shapes.is_empty() {
                let extra = shapes
                    .iter()
                    .map(|s| SecretBytes::from(text[s.span.clone()].as_bytes()))
                    .collect();
                self.sweep(transcript, extra);
                return Ok(Verdict::BlockPrompt {
                    reason: prompt::token_shape_reason(&shapes),
                });
            }
        }
        self.sweep(transcript, Vec::new());
        Ok(Verdict::Pass)
    }

    /// Sweeps the session's transcript and the files Claude Code keeps
    /// beside it (and redacts `extra` in them).
    fn sweep(&self, transcript: Option<&str>, extra: Vec<SecretBytes>) {
        if let Some(path) = transcript {
            let _ = self.agent.sweep(session_files(path), extra);
        }
    }
}

/// A session's transcript and the directory beside it where Claude Code
/// keeps its large tool outputs and its subagents' transcripts
/// (`PROJECT/SESSION.jsonl` and `PROJECT/SESSION/`: `tool-results/`,
/// `subagents/`; so Claude Code 2.1.328 names them).
fn session_files(transcript: &str) -> Vec<String> {
    let mut paths = vec![transcript.to_owned()];
    if let Some(dir) = transcript.strip_suffix(".jsonl") {
        paths.push(dir.to_owned());
    }
    paths
}

/// The verdict when the guard cannot do its work. With a vault: deny a
/// shell command or a read of a path, and withhold a tool's output. Without
/// one: deny only a command with placeholders (it would fail anyway).
pub fn fallback(event: &Event<'_>, guarded: bool) -> Verdict {
    let denial = deny("ClauLock could not check this tool call".into());
    match event {
        Event::ToolCall {
            call: ToolCall::Shell { command },
            ..
        } if guarded || shell::has_placeholders(command) => denial,
        Event::ToolCall {
            call: ToolCall::Read { .. },
            ..
        } if guarded => denial,
        Event::ToolOutput { output, .. } if guarded && !output.is_null() => {
            Verdict::ReplaceOutput {
                output: (*output).clone(),
            }
        }
        _ => Verdict::Pass,
    }
}

/// [`fallback`]'s verdict explained: a denial says what went wrong and
/// what to do; a withheld output becomes a notice.
pub fn with_reason(verdict: Verdict, detail: &str) -> Verdict {
    match verdict {
        Verdict::Deny { .. } => deny(format!(
            "ClauLock could not check this tool call ({detail}); it was not run. Ask the user to \
             run `claulock unlock` (or `claulock doctor`) in a terminal, then try again."
        )),
        Verdict::ReplaceOutput { output } => Verdict::ReplaceOutput {
            output: withheld(&output, detail),
        },
        other => other,
    }
}

/// The tool's output, every string replaced by a notice (the shape kept,
/// so the runtime takes it): the notice in the first, the others empty.
fn withheld(output: &Value, detail: &str) -> Value {
    let notice = format!(
        "[ClauLock withheld this output: it could not be scrubbed ({detail}). Ask the user to \
         run `claulock unlock` in a terminal, then run the tool again.]"
    );
    let mut first = true;
    claulock_scrub::json::replace_values(output, &mut |_| {
        if std::mem::take(&mut first) {
            notice.clone()
        } else {
            String::new()
        }
    })
}

fn deny(reason: String) -> Verdict {
    Verdict::Deny { reason }
}

/// The files that hold a value and the secrets (each once) of a scan
/// (paths it could not scan are left out).
fn findings(found: &[Finding]) -> (Vec<String>, Vec<String>) {
    let mut secrets: Vec<String> = Vec::new();
    let mut files: Vec<String> = Vec::new();
    for f in found.iter().filter(|f| !f.secrets.is_empty()) {
        files.push(f.path.clone());
        for s in &f.secrets {
            if !secrets.contains(s) {
                secrets.push(s.clone());
            }
        }
    }
    (files, secrets)
}

/// A path as the model named it: the word it wrote, and the file it
/// resolved to when that differs (a link, a glob, `..`).
fn shown(named: &[Named], path: &str) -> String {
    match named.iter().find(|n| n.path.display().to_string() == path) {
        Some(n) if n.word != path => format!("{} ({path})", n.word),
        _ => path.to_owned(),
    }
}

/// What the command does to a file, for a refusal.
fn action(u: &FileUse) -> String {
    if let Some(r) = &u.renderer {
        format!("`{r}` renders")
    } else if let Some(i) = &u.inline_code {
        format!("it runs inline code (`{i}`) beside")
    } else {
        format!(
            "it re-encodes (with `{}`)",
            u.reencoder.as_deref().unwrap_or("?")
        )
    }
}

/// The refusal when a command would read `file`, which holds `secrets`.
fn file_refusal(u: &FileUse, shown: &str, file: &str, secrets: &[String]) -> String {
    let list = secrets.join(", ");
    let why = if u.renderer.is_some() {
        "into an image or a document, and a read of that cannot be scrubbed"
    } else if u.inline_code.is_some() {
        "and such code can print it in a form that cannot be scrubbed"
    } else {
        "and the output could carry it in a form that cannot be scrubbed"
    };
    format!(
        "ClauLock refused this command (nothing ran): {} {shown}, which holds the value of \
         {list}, {why}. A value in a file the model can read is not protected: ask the user to \
         move it into the vault by running `claulock import --rewrite {file}` in a terminal. To \
         use the secret, write its placeholder ({}) in the command that needs it.",
        action(u),
        shell::placeholders(secrets)
    )
}

/// Blobs joined into requests of a few MiB (a blob is never split: a value
/// inside it stays whole).
fn chunks(blobs: &[Vec<u8>]) -> Vec<Vec<u8>> {
    const CHUNK: usize = 4 << 20;
    let mut out: Vec<Vec<u8>> = Vec::new();
    for b in blobs {
        match out.last_mut() {
            Some(last) if last.len() + b.len() < CHUNK => {
                last.push(b'\n');
                last.extend_from_slice(b);
            }
            _ => out.push(b.clone()),
        }
    }
    out
}

/// The reason given to the model when a read is refused.
pub fn read_refusal(tool: &str, path: &str, secrets: &[String]) -> String {
    let names = shell::placeholders(secrets);
    let list = secrets.join(", ");
    format!(
        "ClauLock: {tool} refused: {path} holds the value of {list}, and its contents would reach \
         the transcript. Do not read it. To use the secret, write its placeholder ({names}) in a \
         shell command (for example `curl -H \"Authorization: Bearer {first}\" https://…`), and \
         ClauLock substitutes the value for the command alone. To work with the file's other \
         contents, use a shell command whose output is scrubbed (e.g. `grep -v KEY_NAME {path}`).",
        first = secrets
            .first()
            .map(|s| format!("{{{{{s}}}}}"))
            .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_refusal_names_the_placeholder() {
        let r = read_refusal("Read", "/p/.env", &["API_TOKEN".into()]);
        assert!(r.contains("{{API_TOKEN}}") && r.contains("/p/.env"), "{r}");
    }

    #[test]
    fn what_cannot_be_checked_is_denied_or_withheld_when_a_vault_exists() {
        let shell = Event::ToolCall {
            call: ToolCall::Shell {
                command: "cat .env",
            },
            cwd: None,
        };
        assert!(matches!(fallback(&shell, true), Verdict::Deny { .. }));
        assert_eq!(fallback(&shell, false), Verdict::Pass);
        let out = serde_json::json!({"stdout": "secret here", "stderr": "x", "interrupted": false});
        let done = Event::ToolOutput {
            tool: "Bash",
            output: &out,
        };
        let Verdict::ReplaceOutput { output } = with_reason(fallback(&done, true), "locked") else {
            panic!("withheld")
        };
        assert!(output["stdout"].as_str().unwrap().contains("withheld"));
        assert_eq!(output["stderr"], "");
        assert_eq!(output["interrupted"], false);
    }

    #[test]
    fn settings_are_strict() {
        let bad = [
            "placeholder_permission = \"Ask\"",
            "placeholder_permission = \"maybe\"",
            "wrap = true",
        ];
        for text in bad {
            assert!(
                serde_json::from_value::<Settings>(toml_like(text)).is_err(),
                "{text}"
            );
        }
    }

    /// The one-line `key = value` settings above, as JSON (the CLI parses
    /// TOML; serde's rules are the same).
    fn toml_like(line: &str) -> Value {
        let (k, v) = line.split_once(" = ").unwrap();
        let v: Value = serde_json::from_str(v).unwrap();
        serde_json::json!({ k: v })
    }
}
