//! The agent process: unlocks the vault once, then serves until locked or
//! idle.
//!
//! It is started by `claulock unlock` as `claulock agent` with the
//! passphrase on its standard input (never argv or the environment). It
//! detaches into its own session, makes itself non-dumpable (so processes
//! of the same user cannot read its memory through `/proc/<pid>/mem` or
//! ptrace, and no core dump holds a key), opens the vault, binds the socket
//! and prints `ready <pid>` (or `error: …`) for `unlock` to relay.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use claulock_vault::Vault;
use zeroize::Zeroizing;

use crate::agent::{Agent, Options};
use crate::home::Home;
use crate::server::{self, now};
use crate::{audit, store};

/// Whether this process's memory is closed to other processes of the user.
pub(crate) fn is_non_dumpable() -> bool {
    matches!(
        rustix::process::dumpable_behavior(),
        Ok(rustix::process::DumpableBehavior::NotDumpable)
    )
}

/// Runs the agent process. Returns when it is locked.
///
/// # Errors
///
/// When it cannot make itself non-dumpable or write to its parent; an
/// error opening the vault is reported on stdout as `error: …`.
pub fn run(home: &Home, idle: Option<Duration>) -> anyhow::Result<()> {
    // Detach from the terminal's session so closing it does not stop us.
    let _ = rustix::process::setsid();
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
        .context("cannot make the agent non-dumpable")?;
    let mut out = std::io::stdout().lock();
    let (listener, vault) = match start(home) {
        Ok(v) => v,
        Err(e) => {
            writeln!(out, "error: {e:#}")?;
            return Ok(());
        }
    };
    let count = vault.secrets().count();
    let _ = audit::append(home, "unlock", "", &[("secrets", count.to_string())]);
    let agent = Arc::new(Agent::new(
        home.clone(),
        vault,
        Options { idle_timeout: idle },
        now(),
    ));
    // The egress proxy of proxy delivery. An unreadable extra CA file is
    // the human's mistake, told at unlock; a proxy that cannot start for
    // another reason leaves env delivery working, and a command that needs
    // the proxy is refused with the reason.
    let _proxy = match crate::proxied::start(&agent) {
        Ok(p) => Some(p),
        Err(e) if std::env::var_os(crate::proxied::EXTRA_CA_ENV).is_some() => {
            agent.lock("proxy-failed");
            writeln!(out, "error: cannot start the proxy: {e}")?;
            return Ok(());
        }
        Err(e) => {
            let _ = audit::append(home, "proxy-failed", "", &[("why", e.to_string())]);
            None
        }
    };
    writeln!(out, "ready {}", std::process::id())?;
    out.flush()?;
    drop(out);
    if let Some(idle) = idle {
        spawn_idle_watch(&agent, idle);
    }
    spawn_signal_watch(&agent);
    // It removes its socket file as it stops (and only its own).
    server::serve(&agent, &listener);
    agent.lock("exit");
    // A lock on another thread (a client's `lock`, the idle watch) may
    // still be revoking leases: exiting now would cut that short.
    let within =
        crate::agent::REVOKE_WITHIN + crate::openbao::CALL_TIMEOUT + Duration::from_secs(1);
    if !agent.wait_revoked(within) {
        let _ = audit::append(
            home,
            "revoke-failed",
            "",
            &[("why", "the agent exited while revoking".into())],
        );
    }
    Ok(())
}

fn start(home: &Home) -> anyhow::Result<(UnixListener, Vault)> {
    let mut pass = Zeroizing::new(Vec::new());
    std::io::stdin().read_to_end(&mut pass)?;
    let bytes = store::read(home)?;
    let vault = Vault::open(&bytes, &pass)?;
    if home.client().status().is_ok() {
        anyhow::bail!("an agent already serves {}", home.socket.display());
    }
    let _ = std::fs::remove_file(&home.socket);
    // Created private from the start: no window in which another user
    // could connect.
    let old = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let listener = UnixListener::bind(&home.socket);
    rustix::process::umask(old);
    let listener =
        listener.with_context(|| format!("cannot listen on {}", home.socket.display()))?;
    std::fs::set_permissions(&home.socket, std::fs::Permissions::from_mode(0o600))?;
    Ok((listener, vault))
}

/// Locks the agent on SIGTERM, SIGINT or SIGHUP (a shutdown, `kill`), so
/// it drops its keys and revokes its leases before it exits rather than
/// dying with them; a second signal ends it at once.
fn spawn_signal_watch(agent: &Arc<Agent>) {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP]) else {
        return;
    };
    let agent = Arc::clone(agent);
    std::thread::spawn(move || {
        let mut forever = signals.forever();
        if forever.next().is_some() {
            // On a thread of its own: the lock revokes for seconds, and a
            // second signal must still be heard.
            let locking = Arc::clone(&agent);
            std::thread::spawn(move || {
                locking.lock("signal");
                server::wake(&locking);
            });
        }
        if forever.next().is_some() {
            if !agent.wait_revoked(Duration::ZERO) {
                let _ = audit::append(
                    agent.home(),
                    "revoke-failed",
                    "",
                    &[("why", "a second signal ended the agent at once".into())],
                );
            }
            std::process::exit(1);
        }
    });
}

/// Locks the agent after `idle` without a use.
fn spawn_idle_watch(agent: &Arc<Agent>, idle: Duration) {
    let agent = Arc::clone(agent);
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_secs(1).min(idle));
            if agent.is_locked() {
                return;
            }
            if agent.idle_secs(now()).unsigned_abs() >= idle.as_secs() {
                agent.lock("idle");
                server::wake(&agent);
                return;
            }
        }
    });
}
