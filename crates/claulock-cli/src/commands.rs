//! The vault commands: init, unlock, lock, status, add, rotate, rm, list,
//! describe, tag, passwd, audit.

use std::io::{BufRead, BufReader, Write};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use claulock_agent::osrand::OsRandom;
use claulock_agent::{Home, audit, store};
use claulock_proto::{Allowances, Delivery, Error, NewSecret, Request, SecretBytes, SecretInfo};
use claulock_vault::{KdfParams, Vault};

use crate::input;

pub(crate) fn init(passphrase_stdin: bool) -> anyhow::Result<ExitCode> {
    let home = Home::from_env()?;
    home.ensure_dir()?;
    let lock = store::lock(&home)?;
    if home.vault.exists() {
        bail!(
            "a vault exists already at {}; nothing was changed",
            home.vault.display()
        );
    }
    let pass = input::new_passphrase(passphrase_stdin)?;
    let vault = Vault::create(&pass, KdfParams::DEFAULT, &mut OsRandom)?;
    store::write(&home, &vault.to_bytes(&mut OsRandom), &lock)?;
    audit::append(&home, "init", "", &[])?;
    say(&format!(
        "created an empty vault at {}; next: `claulock unlock`",
        home.vault.display()
    ))
}

pub(crate) fn unlock(passphrase_stdin: bool, idle: Option<Duration>) -> anyhow::Result<ExitCode> {
    let home = Home::from_env()?;
    home.ensure_dir()?;
    store::read(&home)?;
    if home.client().status().is_ok() {
        return say("the vault is unlocked already");
    }
    let pass = input::secret("Vault passphrase: ", passphrase_stdin)?;
    if pass.is_empty() {
        bail!(
            "no passphrase was given (standard input was empty): type it at the terminal, or pipe it with --passphrase-stdin"
        );
    }
    let exe = std::env::current_exe().context("cannot find the claulock executable")?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("agent");
    if let Some(d) = idle {
        cmd.arg("--idle-timeout")
            .arg(humantime::format_duration(d).to_string());
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start the agent")?;
    // The passphrase goes through a pipe: never argv, never the environment.
    {
        let mut stdin = child.stdin.take().context("no pipe to the agent")?;
        stdin.write_all(&pass)?;
    }
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("no pipe from the agent")?).read_line(&mut line)?;
    if let Some(pid) = line.trim().strip_prefix("ready ") {
        drop(pass);
        let n = home.client().status()?.secrets;
        return say(&format!("unlocked: {n} secrets, agent pid {pid}"));
    }
    let _ = child.wait();
    let why = line
        .trim()
        .strip_prefix("error: ")
        .unwrap_or("the agent did not start");
    bail!("{why}{}", backup_hint(&home, &pass, why))
}

/// When the vault will not open (its file damaged or replaced) but the
/// previous version, which every write keeps, opens with this passphrase:
/// how to restore it.
fn backup_hint(home: &Home, pass: &[u8], why: &str) -> String {
    let damaged = [
        "not a claulock vault",
        "truncated",
        "was modified",
        "format version",
        "key derivation",
    ]
    .iter()
    .any(|w| why.contains(w));
    if !damaged {
        return String::new();
    }
    let Ok(bytes) = std::fs::read(&home.backup) else {
        return String::new();
    };
    if Vault::open(&bytes, pass).is_err() {
        return format!(
            " (the previous version, {}, does not open with this passphrase either)",
            home.backup.display()
        );
    }
    format!(
        "; the previous version opens with this passphrase: keep the damaged file aside and restore it (`mv {v} {v}.damaged && cp {b} {v}`), then unlock again (the last change made to the vault is lost)",
        v = home.vault.display(),
        b = home.backup.display()
    )
}

pub(crate) fn lock() -> anyhow::Result<ExitCode> {
    let home = Home::from_env()?;
    match home.client().done(&Request::Lock { reason: None }) {
        Ok(()) => say("locked"),
        Err(Error::Locked | Error::NoVault { .. }) => say("the vault is locked already"),
        Err(e) => Err(e.into()),
    }
}

/// `status`: what the vault and the agent are; the exit code says it too
/// ([`STATUS_UNLOCKED`], [`STATUS_LOCKED`], [`STATUS_NO_VAULT`]) for scripts.
pub(crate) fn status(json: bool) -> anyhow::Result<ExitCode> {
    let home = Home::from_env()?;
    let exists = home.vault.exists();
    let status = if exists {
        home.client().status().ok()
    } else {
        None
    };
    let code = match (exists, &status) {
        (false, _) => STATUS_NO_VAULT,
        (true, None) => STATUS_LOCKED,
        (true, Some(_)) => STATUS_UNLOCKED,
    };
    status_report(&home, exists, status, json)?;
    Ok(ExitCode::from(code))
}

/// `status`'s exit codes.
pub(crate) const STATUS_UNLOCKED: u8 = 0;
pub(crate) const STATUS_LOCKED: u8 = 1;
pub(crate) const STATUS_NO_VAULT: u8 = 3;

fn status_report(
    home: &Home,
    exists: bool,
    status: Option<claulock_proto::AgentStatus>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    if json {
        let v = serde_json::json!({
            "vault": home.vault.display().to_string(),
            "exists": exists,
            "locked": status.is_none(),
            "secrets": status.as_ref().map(|d| d.secrets),
            "agent_pid": status.as_ref().map(|d| d.pid),
            "idle_timeout_secs": status.as_ref().and_then(|d| d.idle_timeout_secs),
            "key_memory_locked": status.as_ref().map(|d| d.key_memory_locked),
            "proxy": status.as_ref().and_then(|d| d.proxy.clone()),
            "socket": home.socket.display().to_string(),
        });
        return say(&serde_json::to_string_pretty(&v)?);
    }
    match (exists, status) {
        (false, _) => say(&format!(
            "no vault at {}: run `claulock init`",
            home.vault.display()
        )),
        (true, None) => say("locked: run `claulock unlock` in a terminal"),
        (true, Some(d)) => say(&format!(
            "unlocked: {} secrets, agent pid {}, proxy {}",
            d.secrets,
            d.pid,
            d.proxy
                .as_deref()
                .unwrap_or("not running (proxy delivery is refused)")
        )),
    }
}

pub(crate) struct AddArgs {
    pub name: String,
    pub hosts: Vec<String>,
    pub programs: Vec<String>,
    pub tags: Vec<String>,
    pub expires: Option<String>,
    pub output_files: bool,
    pub deliver: Option<String>,
    pub in_body: bool,
    pub multiline: bool,
    pub from: Option<String>,
    pub ttl: Option<Duration>,
    pub json: bool,
}

pub(crate) fn add(a: AddArgs) -> anyhow::Result<ExitCode> {
    let home = Home::from_env()?;
    if !claulock_core::grammar::is_valid_name(&a.name) {
        bail!("{}", claulock_vault::VaultError::BadName(a.name));
    }
    for h in &a.hosts {
        claulock_core::destination::HostPattern::parse(h)?;
    }
    for p in &a.programs {
        if p.contains('/') || p.trim().is_empty() {
            bail!("{p:?} is not a program name: give a basename such as curl");
        }
    }
    let expires = a.expires.as_deref().map(parse_when).transpose()?;
    let deliver = match a.deliver.as_deref() {
        None => None,
        Some("proxy") => Some(Delivery::Proxy),
        Some(_) => Some(Delivery::Env),
    };
    let proxied = Delivery::effective(deliver, &a.hosts) == Delivery::Proxy;
    if proxied && a.hosts.is_empty() {
        bail!(
            "proxy delivery needs at least one --allow-host: the proxy puts the value only on connections to the hosts it allows"
        );
    }
    if a.in_body && !proxied {
        bail!(
            "--allow-in-body is for proxy delivery (the proxy decides where in a request the value goes)"
        );
    }
    let client = home.client();
    // Before asking for the value: a value typed for nothing is a value
    // typed twice.
    if let Err(e) = client.status() {
        return Err(e.into());
    }
    if client.describe(&a.name).is_ok() {
        return Err(Error::Exists { name: a.name }.into());
    }
    let meta = NewSecret {
        allowances: Allowances {
            allow_hosts: a.hosts,
            allow_programs: a.programs,
            tags: a.tags,
        },
        expires,
        project: None,
        allow_output_files: a.output_files,
        deliver,
        allow_in_body: a.in_body,
    };
    if let Some(from) = &a.from {
        let mut from = claulock_proto::RemoteRef::parse(from).map_err(anyhow::Error::msg)?;
        from.ttl_secs = a.ttl.map(|d| d.as_secs().max(1));
        let passphrase = input::secret(
            &format!(
                "Vault passphrase (commands will reach what {}'s token can read at {}): ",
                from.source, from.path
            ),
            false,
        )?;
        let (source, path, field) = (from.source.clone(), from.path.clone(), from.field.clone());
        client.done(&Request::AddFrom {
            name: a.name.clone(),
            from,
            meta,
            passphrase: SecretBytes::from(&passphrase[..]),
        })?;
        if a.json {
            return describe(&a.name, true);
        }
        return say(&format!(
            "added {}, read from {source}:{path}#{field} when a command needs it; use it as {{{{{}}}}}",
            a.name, a.name
        ));
    }
    let value = input::value(&format!("Value for {}: ", a.name), a.multiline)?;
    check_value(&a.name, &value)?;
    client.done(&Request::Add {
        name: a.name.clone(),
        value: SecretBytes::from(&value[..]),
        meta,
    })?;
    if a.json {
        return describe(&a.name, true);
    }
    say(&format!("added {}; use it as {{{{{}}}}}", a.name, a.name))
}

/// Refuses values the scrubber could not mask safely, and warns of weak ones.
pub(crate) fn check_value(name: &str, value: &[u8]) -> anyhow::Result<()> {
    let scrubber = claulock_scrub::Scrubber::builder()
        .secret(name, value)
        .build()?;
    for w in scrubber.warnings() {
        let _ = writeln!(std::io::stderr(), "claulock: warning: {w}");
    }
    Ok(())
}

pub(crate) fn rotate(
    name: &str,
    multiline: bool,
    expires: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let home = Home::from_env()?;
    let client = home.client();
    client.describe(name)?;
    let expires = expires.map(parse_expiry).transpose()?;
    let value = input::value(&format!("New value for {name}: "), multiline)?;
    check_value(name, &value)?;
    client.done(&Request::Rotate {
        name: name.into(),
        value: SecretBytes::from(&value[..]),
        expires,
    })?;
    say(&format!(
        "rotated {name}; the old value is still scrubbed from output"
    ))
}

pub(crate) fn remove(name: &str) -> anyhow::Result<ExitCode> {
    let home = Home::from_env()?;
    home.client().done(&Request::Remove { name: name.into() })?;
    say(&format!("removed {name} and its old values"))
}

pub(crate) fn tag(name: &str, add: Vec<String>, remove: Vec<String>) -> anyhow::Result<ExitCode> {
    let home = Home::from_env()?;
    home.client().secret(&Request::Tag {
        name: name.into(),
        add,
        remove,
    })?;
    say(&format!("tags of {name} updated"))
}

pub(crate) fn list(json: bool) -> anyhow::Result<ExitCode> {
    let home = Home::from_env()?;
    let list = home.client().list()?;
    if json {
        return say(&serde_json::to_string_pretty(&list)?);
    }
    let mut out = String::new();
    for s in &list {
        out.push_str(&format!(
            "{}\thosts={}\tprograms={}\ttags={}\n",
            s.name,
            or_any(s.allowances.allow_hosts.join(",")),
            or_any(s.allowances.allow_programs.join(",")),
            s.allowances.tags.join(",")
        ));
    }
    print(&out)
}

fn or_any(s: String) -> String {
    if s.is_empty() { "any".into() } else { s }
}

pub(crate) fn describe(name: &str, json: bool) -> anyhow::Result<ExitCode> {
    let home = Home::from_env()?;
    let info: SecretInfo = home.client().describe(name)?;
    let data = serde_json::to_value(&info)?;
    if json {
        return say(&serde_json::to_string_pretty(&data)?);
    }
    let mut out = String::new();
    if let Some(map) = data.as_object() {
        for (k, v) in map {
            out.push_str(&format!("{k}: {v}\n"));
        }
    }
    print(&out)
}

pub(crate) fn passwd(passphrase_stdin: bool) -> anyhow::Result<ExitCode> {
    let home = Home::from_env()?;
    if let Err(e) = home.client().status() {
        bail!("{e}; unlock the vault first, then change its passphrase");
    }
    let (old, new) = if passphrase_stdin {
        let both = input::secret("", true)?;
        let mut lines = both.split(|&b| b == b'\n');
        let old = zeroize::Zeroizing::new(lines.next().unwrap_or_default().to_vec());
        let new = zeroize::Zeroizing::new(lines.next().unwrap_or_default().to_vec());
        if new.is_empty() {
            bail!("with --passphrase-stdin, give the current and the new passphrase on two lines");
        }
        (old, new)
    } else {
        let old = input::secret("Current passphrase: ", false)?;
        // Checked before the new one is asked for (twice).
        home.client().done(&Request::CheckPassphrase {
            passphrase: SecretBytes::from(&old[..]),
        })?;
        (old, input::new_passphrase(false)?)
    };
    home.client().done(&Request::Passwd {
        old: SecretBytes::from(&old[..]),
        new: SecretBytes::from(&new[..]),
    })?;
    say("passphrase changed")
}

pub(crate) fn audit_cmd(
    since: Option<Duration>,
    json: bool,
    verify: bool,
    secrets: &[String],
    actions: &[String],
) -> anyhow::Result<ExitCode> {
    let home = Home::from_env()?;
    let text = audit::read(&home)?;
    if verify {
        return match audit::verify(&text) {
            Ok(n) => say(&format!("audit log intact: {n} lines")),
            Err(line) => {
                let _ = writeln!(
                    std::io::stderr(),
                    "claulock: the audit log was changed: the chain breaks at line {line}"
                );
                Ok(ExitCode::from(1))
            }
        };
    }
    let cutoff = since.map(|d| SystemTime::now() - d);
    let lines = text.lines().filter(|l| {
        let event = audit::Event::parse(l);
        let t = event.as_ref().and_then(audit::Event::when);
        let secret = event.as_ref().and_then(|e| e.secret.as_deref());
        let action = event.as_ref().map(|e| e.action.as_str());
        cutoff.is_none_or(|c| t.is_some_and(|t| t >= c))
            && (secrets.is_empty() || secret.is_some_and(|s| secrets.iter().any(|x| x == s)))
            && (actions.is_empty() || action.is_some_and(|a| actions.iter().any(|x| x == a)))
    });
    if json {
        let events: Vec<serde_json::Value> = lines
            .filter_map(audit::Event::parse)
            .map(|e| {
                let mut v = serde_json::json!({
                    "time": e.time, "action": e.action, "secret": e.secret.as_deref().unwrap_or("-"),
                });
                for (k, val) in e.fields {
                    v[k] = serde_json::Value::String(val);
                }
                v
            })
            .collect();
        return say(&serde_json::to_string_pretty(&events)?);
    }
    let mut out = String::new();
    for l in lines {
        out.push_str(l);
        out.push('\n');
    }
    print(&out)
}

#[derive(clap::Args)]
pub(crate) struct SetArgs {
    /// The secret's name.
    name: String,
    /// A host to allow; repeatable.
    #[arg(long = "allow-host", value_name = "HOST")]
    add_hosts: Vec<String>,
    /// A host to stop allowing; repeatable.
    #[arg(long = "remove-host", value_name = "HOST")]
    remove_hosts: Vec<String>,
    /// A program to allow; repeatable.
    #[arg(long = "allow-program", value_name = "PROGRAM")]
    add_programs: Vec<String>,
    /// A program to stop allowing; repeatable.
    #[arg(long = "remove-program", value_name = "PROGRAM")]
    remove_programs: Vec<String>,
    /// A new expiry: a time, a duration (90d), or `never`.
    #[arg(long, value_name = "WHEN")]
    expires: Option<String>,
    /// How the value reaches commands.
    #[arg(long, value_name = "proxy|env", value_parser = ["proxy", "env"])]
    deliver: Option<String>,
    /// Whether the proxy may put the value in request lines and bodies.
    #[arg(long, value_name = "on|off", value_parser = ["on", "off"])]
    in_body: Option<String>,
    /// Whether a command holding it may write its output to files.
    #[arg(long, value_name = "on|off", value_parser = ["on", "off"])]
    output_files: Option<String>,
    /// Read the passphrase (if the change needs it) from standard input.
    #[arg(long)]
    passphrase_stdin: bool,
}

/// `set`: sends the change; when the agent says it widens the secret's
/// rules, asks for the passphrase and sends it again with it.
pub(crate) fn set(a: &SetArgs) -> anyhow::Result<ExitCode> {
    let home = Home::from_env()?;
    let client = home.client();
    let on = |v: &Option<String>| v.as_deref().map(|v| v == "on");
    let change = claulock_proto::MetaChange {
        add_hosts: a.add_hosts.clone(),
        remove_hosts: a.remove_hosts.clone(),
        add_programs: a.add_programs.clone(),
        remove_programs: a.remove_programs.clone(),
        expires: a.expires.as_deref().map(parse_expiry).transpose()?,
        deliver: a.deliver.as_deref().map(|d| match d {
            "proxy" => Delivery::Proxy,
            _ => Delivery::Env,
        }),
        allow_in_body: on(&a.in_body),
        allow_output_files: on(&a.output_files),
    };
    if change == claulock_proto::MetaChange::default() {
        bail!(
            "nothing to change: give --allow-host, --remove-host, --allow-program, --remove-program, --expires, --deliver, --in-body or --output-files"
        );
    }
    let request = |passphrase: Option<SecretBytes>| Request::Set {
        name: a.name.clone(),
        change: change.clone(),
        passphrase,
    };
    let info = match client.secret(&request(None)) {
        Err(Error::NeedsPassphrase { why, wrong: false }) => {
            let _ = writeln!(
                std::io::stderr(),
                "claulock: this change widens what {} may do ({why})",
                a.name
            );
            let pass = input::secret("Vault passphrase: ", a.passphrase_stdin)?;
            client.secret(&request(Some(SecretBytes::from(&pass[..]))))?
        }
        other => other?,
    };
    say(&format!(
        "{}: hosts={} programs={} delivery={} expires={}",
        info.name,
        or_any(info.allowances.allow_hosts.join(",")),
        or_any(info.allowances.allow_programs.join(",")),
        info.delivery.as_str(),
        info.expires.as_deref().unwrap_or("never")
    ))
}

/// An expiry as `set` and `rotate` take it: `never`, or a `WHEN`.
fn parse_expiry(s: &str) -> anyhow::Result<Option<i64>> {
    if s == "never" {
        return Ok(None);
    }
    parse_when(s).map(Some)
}

/// `WHEN` is an RFC 3339 time or a duration from now (`30d`, `12h`).
fn parse_when(s: &str) -> anyhow::Result<i64> {
    let t = humantime::parse_rfc3339_weak(s)
        .or_else(|_| humantime::parse_duration(s).map(|d| SystemTime::now() + d))
        .map_err(|_| {
            anyhow::anyhow!("{s:?} is neither a time (2030-01-01T00:00:00Z) nor a duration (30d)")
        })?;
    Ok(t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)))
}

pub(crate) fn say(line: &str) -> anyhow::Result<ExitCode> {
    print(&format!("{line}\n"))
}

pub(crate) fn print(text: &str) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
