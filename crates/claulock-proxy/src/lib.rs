//! ClauLock's egress proxy: **proxy delivery**.
//!
//! A command that uses a proxy-delivered secret holds a *surrogate* in
//! place of `{{NAME}}` ([`surrogate`]): same length as the value, fresh for
//! each run, worthless. The command's environment points its HTTP(S)
//! clients at this proxy, with a credential that names its run, and at a
//! CA bundle that trusts the proxy's CA. Then:
//!
//! - a `CONNECT` to a host that none of the run's secrets may go to is
//!   tunnelled untouched;
//! - a `CONNECT` to a host that one may go to is intercepted: the command
//!   gets a leaf certificate of the proxy's CA, and each request inside is
//!   forwarded over the proxy's own TLS connection, verified against the
//!   system's roots (and `CLAULOCK_EXTRA_CA_FILE`). In it, surrogates
//!   become values **in credential headers only** (`Authorization`, inside
//!   `Basic` too, and headers named for keys, tokens, cookies or sessions,
//!   but not storage APIs' metadata headers), and in other headers, the
//!   request line and the body only for a secret that allows it (a host
//!   may store those). A surrogate anywhere else goes out unchanged and is
//!   audited as `denied`;
//! - responses from intercepted hosts have every form of every value of
//!   the run (raw and the scrubber's encodings) replaced by its surrogate,
//!   in headers and body, as they stream; compressed bodies are decoded
//!   first (the proxy asks for none, and refuses an encoding it cannot
//!   read), so the command never receives a value, even from an echo;
//! - plain-HTTP requests are forwarded with nothing swapped (a value would
//!   cross the network in clear).
//!
//! # Where it runs, and why
//!
//! In the agent process, on threads of its own ([`Proxy::start`]): the
//! agent already holds the values, is non-dumpable, and is the one place
//! that knows the runs and the policy. A separate process would need the
//! values sent to it, a second non-dumpable process to guard, and a
//! channel to ask the policy on each request. The proxy asks the agent
//! through [`Backend`] for each request, so a lock, an expiry or the end
//! of a run takes effect at once.
//!
//! HTTP and TLS are hyper, hyper-util, rustls (with the ring provider) and
//! rcgen; the hand-written parts are ClauLock's own: where a surrogate may
//! become a value (`rewrite`) and the streaming transformations of bodies
//! (`body`).

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use zeroize::Zeroizing;

mod body;
mod rewrite;
mod serve;
pub mod surrogate;
mod tls;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// One proxy-delivered secret of a run, as the proxy needs it for one
/// request to one host.
#[derive(Clone)]
pub struct Swap {
    /// The secret's name (for the audit log).
    pub name: String,
    /// The surrogate the command holds.
    pub surrogate: Vec<u8>,
    /// The value. Sent only where `allowed`; every other secret's value is
    /// only looked for in responses.
    pub value: Zeroizing<Vec<u8>>,
    /// Whether the value may go to this host now.
    pub allowed: bool,
    /// Whether it may go in the request line and body, not only headers.
    pub in_body: bool,
}

impl std::fmt::Debug for Swap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Swap")
            .field("name", &self.name)
            .field("allowed", &self.allowed)
            .field("in_body", &self.in_body)
            .finish_non_exhaustive()
    }
}

/// What the proxy asks of the agent.
pub trait Backend: Send + Sync + 'static {
    /// Whether `credential` names a run that is still open.
    fn is_open(&self, credential: &str) -> bool;
    /// The proxy-delivered secrets of run `credential`, each saying
    /// whether it may go to `host` now (the policy's check of the flow:
    /// secret, host, expiry, project). Empty for a closed run.
    fn grant(&self, credential: &str, host: &str) -> Vec<Swap>;
    /// Appends an audit event (never a value).
    fn audit(&self, action: &str, secret: &str, fields: &[(&str, String)]);
}

/// A running proxy. Dropping it stops it.
pub struct Proxy {
    addr: SocketAddr,
    bundle: String,
    ca: String,
    stop: tokio::sync::watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    /// Starts a proxy on `127.0.0.1` (a port the system picks) and, with
    /// `socket`, on that Unix socket too (for commands that run where that
    /// port cannot be reached: a sandbox with a network of its own, whose
    /// `claulock exec` forwards a loopback port of its own to the socket;
    /// there the proxy serves only the hosts of the run's secrets), with a
    /// new CA, trusting upstream the system's roots and the certificates
    /// in the PEM file `extra_ca` (read now, once).
    ///
    /// # Errors
    ///
    /// When the CA file cannot be read, no root is found, or a listener or
    /// the runtime cannot be made.
    pub fn start(
        backend: Arc<dyn Backend>,
        extra_ca: Option<&Path>,
        socket: Option<&Path>,
    ) -> io::Result<Proxy> {
        let roots = tls::Roots::load(extra_ca)?;
        let ca = tls::Authority::generate()?;
        let ca_pem = ca.ca_pem();
        let bundle = roots.bundle_pem(&ca_pem);
        // Small writes go out at once (Nagle's algorithm would hold a
        // request's last segment for the previous one's ACK).
        let mut tcp = hyper_util::client::legacy::connect::HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(roots.client_config()?)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(tcp);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("claulock-proxy")
            .enable_all()
            .build()?;
        let client = runtime.block_on(async {
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .pool_idle_timeout(std::time::Duration::from_secs(30))
                .build(connector)
        });
        let listener = runtime.block_on(tokio::net::TcpListener::bind(("127.0.0.1", 0)))?;
        let addr = listener.local_addr()?;
        let socket = match socket {
            Some(path) => {
                let _ = std::fs::remove_file(path);
                let _guard = runtime.enter();
                Some(tokio::net::UnixListener::bind(path)?)
            }
            None => None,
        };
        let shared = Arc::new(serve::Shared {
            backend,
            ca,
            client,
        });
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let thread = std::thread::Builder::new()
            .name("claulock-proxy".into())
            .spawn(move || {
                runtime.block_on(serve::accept(listener, socket, shared, stopped));
                runtime.shutdown_timeout(std::time::Duration::from_secs(1));
            })?;
        Ok(Proxy {
            addr,
            bundle,
            ca: ca_pem,
            stop,
            thread: Some(thread),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its CA certificate (PEM; public).
    pub fn ca_pem(&self) -> &str {
        &self.ca
    }

    /// What a command trusts: the upstream roots and the proxy's CA (PEM).
    pub fn bundle_pem(&self) -> &str {
        &self.bundle
    }

    /// The proxy URL for the run `credential`.
    pub fn url(&self, credential: &str) -> String {
        format!("http://{}:{credential}@{}", serve::USER, self.addr)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The variables a command gets for proxy delivery: the proxy (with the
/// run's credential) for every client that reads one, and the CA bundle
/// at `bundle` for every client that reads one. `NO_PROXY` is cleared by
/// the caller.
pub fn command_env(proxy_url: &str, bundle: &Path) -> Vec<(String, String)> {
    let bundle = bundle.display().to_string();
    let mut env: Vec<(String, String)> = [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
    ]
    .iter()
    .map(|k| ((*k).to_owned(), proxy_url.to_owned()))
    .collect();
    for k in [
        "SSL_CERT_FILE",
        "CURL_CA_BUNDLE",
        "REQUESTS_CA_BUNDLE",
        "NODE_EXTRA_CA_CERTS",
        "GIT_SSL_CAINFO",
        "PIP_CERT",
        "AWS_CA_BUNDLE",
        "CARGO_HTTP_CAINFO",
        "DENO_CERT",
    ] {
        env.push((k.to_owned(), bundle.clone()));
    }
    env.push(("NODE_USE_ENV_PROXY".into(), "1".into()));
    env
}

/// The variables cleared in a command's environment for proxy delivery.
pub const CLEARED_ENV: &[&str] = &["NO_PROXY", "no_proxy", "CURL_HOME", "SSL_CERT_DIR"];
