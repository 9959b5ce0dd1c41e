//! The agent's side of proxy delivery: the surrogates of each run, and the
//! [`claulock_proxy::Backend`] through which the proxy asks, for each
//! request, which of them may become values for which host.
//!
//! The proxy runs in this process ([`start`], from the daemon). The
//! command gets only the proxy's URL (with a credential that names its
//! run), the CA bundle's path and its surrogates: nothing it could turn
//! into a value.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use claulock_core::policy::{CheckContext, Flow};

use crate::agent::Agent;

/// The environment variable, read once by the agent at unlock, naming a
/// PEM file of extra roots the proxy trusts upstream.
pub const EXTRA_CA_ENV: &str = "CLAULOCK_EXTRA_CA_FILE";

/// The proxy's Unix socket, in `CLAULOCK_HOME`.
pub const SOCKET: &str = "proxy.sock";
/// The CA bundle a command trusts, in `CLAULOCK_HOME` (public: roots and
/// the proxy's CA certificate).
pub const BUNDLE: &str = "proxy-ca-bundle.pem";

/// Where a command finds the proxy.
#[derive(Clone, Debug)]
pub(crate) struct Link {
    /// `127.0.0.1:PORT`.
    pub(crate) addr: std::net::SocketAddr,
    /// The CA bundle a command trusts.
    pub(crate) bundle: PathBuf,
    /// The proxy's Unix socket, for a command that cannot reach `addr`.
    pub(crate) socket: PathBuf,
}

impl Link {
    /// The variables of a command in run `credential`.
    pub(crate) fn env(&self, credential: &str) -> Vec<(String, String)> {
        let url = format!("http://claulock:{credential}@{}", self.addr);
        claulock_proxy::command_env(&url, &self.bundle)
    }
}

/// A run's proxy-delivered secrets.
#[derive(Clone, Debug)]
pub(crate) struct RunProxy {
    /// The password in its proxy URL.
    pub(crate) credential: String,
    /// (secret, surrogate).
    pub(crate) surrogates: Vec<(String, String)>,
    /// The project root the command runs in (for the secrets' scope).
    pub(crate) project: Option<String>,
    /// Its `.claulock.toml` when the run began, which narrows the vault's
    /// rules for every request.
    pub(crate) narrowing: Option<claulock_core::policy::Policy>,
}

/// Starts the proxy for `agent`, with the extra roots of
/// [`EXTRA_CA_ENV`], and writes the bundle a command trusts next to the
/// vault. The returned proxy stops when dropped.
///
/// # Errors
///
/// When the extra CA file cannot be read, or the proxy cannot start.
pub fn start(agent: &Arc<Agent>) -> std::io::Result<claulock_proxy::Proxy> {
    let extra = std::env::var_os(EXTRA_CA_ENV).map(PathBuf::from);
    let backend = Arc::new(ProxyBackend(Arc::clone(agent)));
    let socket = agent.home().dir.join(SOCKET);
    let proxy = claulock_proxy::Proxy::start(backend, extra.as_deref(), Some(&socket))?;
    std::fs::set_permissions(&socket, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    let bundle = agent.home().dir.join(BUNDLE);
    write_public(&bundle, proxy.bundle_pem())?;
    agent.set_proxy(Link {
        addr: proxy.addr(),
        bundle,
        socket,
    });
    Ok(proxy)
}

/// Writes `text` to `path` whole (through a temporary file), readable by
/// all: it holds certificates, which are public.
fn write_public(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("pem.tmp");
    let written = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        // A full disk: leave nothing behind.
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// The agent, as the proxy sees it.
struct ProxyBackend(Arc<Agent>);

impl claulock_proxy::Backend for ProxyBackend {
    fn is_open(&self, credential: &str) -> bool {
        !self.0.is_locked() && self.0.run_proxy(credential).is_some()
    }

    fn grant(&self, credential: &str, host: &str) -> Vec<claulock_proxy::Swap> {
        let Some(run) = self.0.run_proxy(credential) else {
            return Vec::new();
        };
        let now = crate::server::now();
        let Ok(mut policy) = self.0.policy() else {
            return Vec::new();
        };
        if let Some(n) = &run.narrowing {
            std::sync::Arc::make_mut(&mut policy).narrow(n);
        }
        let ctx = CheckContext {
            project: run.project.clone(),
            ..CheckContext::at(claulock_core::time::Timestamp::from_unix(now))
        };
        let names: Vec<&str> = run.surrogates.iter().map(|(n, _)| n.as_str()).collect();
        // Read together: a username and its password come from one read.
        // Locked, or a source that cannot answer: none; a secret gone or no
        // longer proxied: not that one. What is missing keeps its
        // surrogate on the wire.
        let values = self.0.proxy_values(&names);
        let mut swaps = Vec::new();
        for (name, value, in_body) in values {
            let Some((_, surrogate)) = run.surrogates.iter().find(|(n, _)| *n == name) else {
                continue;
            };
            let flow = Flow {
                secret: &name,
                host: Some(host),
                program: None,
            };
            let allowed = claulock_core::policy::check_flow(&flow, &policy, &ctx).is_ok();
            swaps.push(claulock_proxy::Swap {
                surrogate: surrogate.as_bytes().to_vec(),
                name,
                value,
                allowed,
                in_body,
            });
        }
        swaps
    }

    fn audit(&self, action: &str, secret: &str, fields: &[(&str, String)]) {
        self.0.audit(action, secret, fields);
    }
}
