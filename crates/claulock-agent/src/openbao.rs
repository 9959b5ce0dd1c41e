//! The OpenBao / HashiCorp Vault HTTP API, as far as the agent reads it:
//! `auth/token/lookup-self` and `renew-self`, `auth/approle/login`,
//! `sys/internal/ui/mounts/PATH` (which tells KV v2 from v1) and the reads
//! of KV v1 and v2.
//!
//! # Every call is bounded
//!
//! A connection gets [`CONNECT_TIMEOUT`], a whole call [`CALL_TIMEOUT`]:
//! a source that is down, unreachable or stuck refuses the command within
//! seconds, never hangs it.
//!
//! # No token and no value in any message
//!
//! A [`Failure`] is built from status codes, names and paths, and from the
//! server's own error strings only when they do not hold the token. The
//! answer of `lookup-self` holds the token (`data.id`): only the fields of
//! [`TokenCheck`] are kept. Response bodies live in wiped buffers, and the
//! strings of a parsed answer are wiped before it is dropped.
//!
//! # No new dependency
//!
//! The client is hyper's, over hyper-rustls (rustls with ring), on a
//! current-thread tokio runtime per call: all of it is in the agent's tree
//! already, through the egress proxy. `cargo tree -e normal -p
//! claulock-agent` lists the same 123 distinct crates before this module
//! and after it (246 lines before, 254 after: the agent's new direct
//! edges to crates it already had); `ureq` would have added a second HTTP
//! stack, and `vaultrs` about 180 crates and a C build.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use claulock_proto::{SecretBytes, TokenCheck};
use http_body_util::{BodyExt, Full, Limited};
use hyper::StatusCode;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use zeroize::{Zeroize, Zeroizing};

/// How long a connection to a source may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a whole call may take (connection included).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(8);
/// The largest answer read.
const MAX_BODY: usize = 1 << 20;

/// Why a source could not answer. Its text names the server, the path and
/// the cause, never a token or a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    text: String,
    unreachable: bool,
}

impl Failure {
    /// Whether the server could not be reached or did not answer in time
    /// (rather than answering with a refusal): asking it again at once is
    /// no use.
    pub fn is_unreachable(&self) -> bool {
        self.unreachable
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for Failure {}

fn fail(text: impl Into<String>) -> Failure {
    Failure {
        text: text.into(),
        unreachable: false,
    }
}

/// A call that got no answer: the server is down, or too slow.
fn unreachable(text: impl Into<String>) -> Failure {
    Failure {
        text: text.into(),
        unreachable: true,
    }
}

/// A server the agent reads from: its address and the TLS roots it is
/// checked against.
pub struct Server {
    scheme: String,
    authority: String,
    namespace: Option<String>,
    tls: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Server({}://{})", self.scheme, self.authority)
    }
}

/// Whether `host` (of a URL's authority) is a loopback address.
fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Server {
    /// The server at `url`, trusting the system's roots and `ca_pem`.
    ///
    /// # Errors
    ///
    /// A URL that is not `https://HOST[:PORT]` (or `http://` to a loopback
    /// address: anywhere else the token would cross a network in clear),
    /// a CA text with no certificate, or no root at all.
    pub fn new(
        url: &str,
        namespace: Option<&str>,
        ca_pem: Option<&str>,
    ) -> Result<Server, Failure> {
        let uri: hyper::Uri = url
            .trim_end_matches('/')
            .parse()
            .map_err(|_| fail(format!("{url:?} is not a URL (https://HOST:PORT)")))?;
        let scheme = uri.scheme_str().unwrap_or_default().to_owned();
        let authority = uri
            .authority()
            .ok_or_else(|| fail(format!("{url:?} has no host")))?;
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(fail(format!(
                "{url:?} has a path: give the server's address alone (https://HOST:PORT)"
            )));
        }
        match scheme.as_str() {
            "https" => {}
            "http" if is_loopback(authority.host()) => {}
            "http" => {
                return Err(fail(format!(
                    "{url:?} is plain http to another machine: the token would cross the network in clear; use https"
                )));
            }
            _ => return Err(fail(format!("{url:?} is not an http(s) URL"))),
        }
        let mut roots = rustls::RootCertStore::empty();
        let (_added, _ignored) =
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        if let Some(pem) = ca_pem {
            let mut n = 0;
            for c in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let c = c.map_err(|e| fail(format!("the CA file is not PEM: {e}")))?;
                roots
                    .add(c)
                    .map_err(|e| fail(format!("the CA file holds a bad certificate: {e}")))?;
                n += 1;
            }
            if n == 0 {
                return Err(fail("the CA file holds no certificate"));
            }
        }
        if roots.is_empty() && scheme == "https" {
            return Err(fail(
                "no trusted root certificate (install ca-certificates, or give --ca-file)",
            ));
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(format!("tls: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(Server {
            scheme,
            authority: authority.to_string(),
            namespace: namespace.filter(|n| !n.is_empty()).map(str::to_owned),
            tls: Arc::new(tls),
        })
    }

    /// `scheme://authority`, for messages.
    pub fn address(&self) -> String {
        format!("{}://{}", self.scheme, self.authority)
    }

    /// What the server says of `token`.
    ///
    /// # Errors
    ///
    /// The server cannot be reached, or refuses the token.
    pub fn lookup_self(&self, token: &[u8]) -> Result<TokenCheck, Failure> {
        let (status, body) = self.get("auth/token/lookup-self", token)?;
        let mut json = self.answer(status, body, token, "the token")?;
        let data = &json["data"];
        let check = TokenCheck {
            display_name: data["display_name"].as_str().unwrap_or_default().to_owned(),
            policies: data["policies"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|p| p.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            ttl_secs: data["ttl"].as_u64().unwrap_or(0),
            renewable: data["renewable"].as_bool().unwrap_or(false),
        };
        wipe(&mut json);
        Ok(check)
    }

    /// The API path of the KV secret at `path` (as `bao kv get` takes it):
    /// `MOUNT/data/REST` on a KV v2 mount, `path` itself elsewhere. Asks
    /// `sys/internal/ui/mounts/PATH`; a token that may not ask gets the
    /// path as given.
    pub fn api_path(&self, token: &[u8], path: &str) -> Result<ApiPath, Failure> {
        check_path(path)?;
        let Ok((StatusCode::OK, body)) = self.get(&format!("sys/internal/ui/mounts/{path}"), token)
        else {
            return Ok(ApiPath::V1(path.to_owned()));
        };
        let mut json = self.answer(StatusCode::OK, body, token, path)?;
        let data = &json["data"];
        let v2 = data["type"] == "kv" && data["options"]["version"] == "2";
        let mount = data["path"].as_str().unwrap_or_default().to_owned();
        wipe(&mut json);
        let rest = path.strip_prefix(mount.as_str());
        Ok(match rest {
            Some(rest) if v2 && !mount.is_empty() => {
                if rest.starts_with("data/") {
                    ApiPath::V2(path.to_owned())
                } else {
                    ApiPath::V2(format!("{mount}data/{rest}"))
                }
            }
            _ => ApiPath::V1(path.to_owned()),
        })
    }

    /// Reads the secret at `api`: field `field`, and each of `also` that
    /// it holds (the other secrets defined on the same path: a dynamic
    /// secret's username and password must come from one read, one
    /// lease), with the lease the server gave.
    ///
    /// # Errors
    ///
    /// The server cannot be reached, refuses the token, has no such
    /// secret, or `field` is missing, not a string, or empty.
    pub fn read(
        &self,
        token: &[u8],
        api: &ApiPath,
        field: &str,
        also: &[String],
    ) -> Result<Answer, Failure> {
        let (path, v2) = match api {
            ApiPath::V1(p) => (p.as_str(), false),
            ApiPath::V2(p) => (p.as_str(), true),
        };
        let (status, body) = self.get(path, token)?;
        let mut json = self.answer(status, body, token, path)?;
        let lease_secs = json["lease_duration"].as_u64().unwrap_or(0);
        let lease_id = json["lease_id"]
            .as_str()
            .filter(|id| !id.is_empty())
            .map(str::to_owned);
        let data = if v2 {
            &json["data"]["data"]
        } else {
            &json["data"]
        };
        let text = |f: &str| match data.get(f) {
            Some(serde_json::Value::String(s)) if !s.is_empty() => {
                Some(SecretBytes::from(s.as_bytes()))
            }
            _ => None,
        };
        let got = match data.get(field) {
            None => Err(fail(format!("{path} has no field {field:?}"))),
            Some(serde_json::Value::String(s)) if s.is_empty() => {
                Err(fail(format!("field {field:?} of {path} is empty")))
            }
            Some(serde_json::Value::String(_)) => Ok(()),
            Some(_) => Err(fail(format!("field {field:?} of {path} is not a string"))),
        };
        let fields = std::iter::once(field)
            .chain(also.iter().map(String::as_str).filter(|f| *f != field))
            .filter_map(|f| text(f).map(|v| (f.to_owned(), v)))
            .collect();
        wipe(&mut json);
        got.map(|()| Answer {
            fields,
            lease_secs,
            lease_id,
        })
    }

    /// Revokes lease `lease_id` (the credentials a dynamic secrets engine
    /// made for it are deleted in their system).
    ///
    /// # Errors
    ///
    /// The server cannot be reached, or refuses (a token whose policy
    /// lacks `update` on `sys/leases/revoke`).
    pub fn revoke_lease(&self, token: &[u8], lease_id: &str) -> Result<(), Failure> {
        let body = serde_json::json!({ "lease_id": lease_id }).to_string();
        let (status, body) = self.call(
            hyper::Method::PUT,
            "sys/leases/revoke",
            Some(token),
            body.into_bytes(),
        )?;
        if status.is_success() {
            return Ok(());
        }
        self.answer(status, body, token, "sys/leases/revoke")
            .map(|_| ())
    }

    /// The parsed answer of a call, or why it failed.
    fn answer(
        &self,
        status: StatusCode,
        body: Zeroizing<Vec<u8>>,
        token: &[u8],
        what: &str,
    ) -> Result<serde_json::Value, Failure> {
        let at = self.address();
        if status != StatusCode::OK {
            return Err(fail(match status.as_u16() {
                403 => format!(
                    "{at} refused (403 permission denied): the source's token may not read {what}, or it expired"
                ),
                404 => format!("{at} has nothing at {what} (404)"),
                503 => format!("{at} is sealed or unavailable (503)"),
                code => {
                    let said = server_errors(&body, token);
                    format!("{at} answered {code} for {what}{said}")
                }
            }));
        }
        serde_json::from_slice(&body)
            .map_err(|_| fail(format!("{at} sent an answer that is not JSON")))
    }

    /// GETs `/v1/{path}` with `token`; the status and the body.
    fn get(&self, path: &str, token: &[u8]) -> Result<(StatusCode, Zeroizing<Vec<u8>>), Failure> {
        self.call(hyper::Method::GET, path, Some(token), Vec::new())
    }

    /// Logs in with AppRole: a client token, its lifetime in seconds (0:
    /// none) and whether it is renewable. The secret id travels in the
    /// request's body only.
    ///
    /// # Errors
    ///
    /// The server cannot be reached, or refuses the role id or secret id.
    pub fn login_approle(
        &self,
        role_id: &str,
        secret_id: &[u8],
    ) -> Result<(SecretBytes, u64, bool), Failure> {
        let secret = std::str::from_utf8(secret_id)
            .map_err(|_| fail("the AppRole secret id is not text"))?;
        let mut body = serde_json::json!({"role_id": role_id, "secret_id": secret});
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        wipe(&mut body);
        let (status, answer) = self.call(hyper::Method::POST, "auth/approle/login", None, bytes)?;
        let mut json = self.answer(
            status,
            answer,
            secret_id,
            "auth/approle/login (the role id or secret id)",
        )?;
        let auth = &json["auth"];
        let token = auth["client_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .map(|t| SecretBytes::from(t.as_bytes()));
        let lease = auth["lease_duration"].as_u64().unwrap_or(0);
        let renewable = auth["renewable"].as_bool().unwrap_or(false);
        wipe(&mut json);
        let token = token.ok_or_else(|| {
            fail(format!(
                "{} sent no client token for the AppRole login",
                self.address()
            ))
        })?;
        Ok((token, lease, renewable))
    }

    /// Renews `token` (`auth/token/renew-self`): its new lifetime in
    /// seconds.
    ///
    /// # Errors
    ///
    /// The server cannot be reached, or will not renew it.
    pub fn renew_self(&self, token: &[u8]) -> Result<u64, Failure> {
        let (status, body) = self.call(
            hyper::Method::POST,
            "auth/token/renew-self",
            Some(token),
            b"{}".to_vec(),
        )?;
        let mut json = self.answer(status, body, token, "auth/token/renew-self")?;
        let lease = json["auth"]["lease_duration"].as_u64().unwrap_or(0);
        wipe(&mut json);
        Ok(lease)
    }

    /// `method` on `/v1/{path}`, with `token` (if any) and a JSON `body`
    /// (wiped after); the status and the body of the answer.
    fn call(
        &self,
        method: hyper::Method,
        path: &str,
        token: Option<&[u8]>,
        body: Vec<u8>,
    ) -> Result<(StatusCode, Zeroizing<Vec<u8>>), Failure> {
        let body = Zeroizing::new(body);
        let uri = format!("{}/v1/{}", self.address(), encode_path(path));
        let mut req = hyper::Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            let mut token = hyper::header::HeaderValue::from_bytes(token)
                .map_err(|_| fail("the source's token is not a valid header value"))?;
            token.set_sensitive(true);
            req = req.header("X-Vault-Token", token);
        }
        if let Some(ns) = &self.namespace {
            req = req.header("X-Vault-Namespace", ns.as_str());
        }
        if !body.is_empty() {
            req = req.header("Content-Type", "application/json");
        }
        let req = req
            .body(Full::new(Bytes::copy_from_slice(&body)))
            .map_err(|_| fail(format!("cannot build a request for {path}")))?;
        let tls = Arc::clone(&self.tls);
        let at = self.address();
        // A runtime of its own, on a thread of its own: the caller may be
        // a task of the proxy's runtime, which cannot block on another.
        std::thread::scope(|s| {
            s.spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| fail(format!("cannot start a runtime: {e}")))?;
                rt.block_on(async move {
                    match tokio::time::timeout(CALL_TIMEOUT, send(tls, req)).await {
                        Ok(r) => r.map_err(|why| unreachable(format!("cannot reach {at}: {why}"))),
                        Err(_) => Err(unreachable(format!(
                            "{at} did not answer within {} s",
                            CALL_TIMEOUT.as_secs()
                        ))),
                    }
                })
            })
            .join()
            .unwrap_or_else(|_| Err(fail("the request to the source failed")))
        })
    }
}

/// Sends `req` on a fresh connection.
async fn send(
    tls: Arc<rustls::ClientConfig>,
    req: hyper::Request<Full<Bytes>>,
) -> Result<(StatusCode, Zeroizing<Vec<u8>>), String> {
    let mut tcp = hyper_util::client::legacy::connect::HttpConnector::new();
    tcp.set_connect_timeout(Some(CONNECT_TIMEOUT));
    tcp.enforce_http(false);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config((*tls).clone())
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp);
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, Full<Bytes>>(connector);
    let resp = client.request(req).await.map_err(|e| connect_error(&e))?;
    let status = resp.status();
    let body = Limited::new(resp.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|_| "its answer was cut off or too large".to_owned())?
        .to_bytes();
    Ok((status, Zeroizing::new(body.to_vec())))
}

/// A connection error as a short cause (refused, timed out, TLS).
fn connect_error(e: &hyper_util::client::legacy::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    let mut text = e.to_string();
    while let Some(next) = cause.source() {
        text = next.to_string();
        cause = next;
    }
    let mut text: String = text.chars().take(200).collect();
    if text.contains("certificate") {
        text.push_str(
            " (a server whose certificate a private CA signed needs that CA: `claulock source add … --ca-file CA.pem`)",
        );
    }
    text
}

/// The server's `errors` strings, when they do not hold the token.
fn server_errors(body: &[u8], token: &[u8]) -> String {
    let Ok(mut json) = serde_json::from_slice::<serde_json::Value>(body) else {
        return String::new();
    };
    let said: Vec<String> = json["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    wipe(&mut json);
    let said = said.join("; ");
    let holds_token = !token.is_empty() && said.as_bytes().windows(token.len()).any(|w| w == token);
    if said.is_empty() || holds_token {
        String::new()
    } else {
        format!(": {}", said.chars().take(200).collect::<String>())
    }
}

/// Where a KV secret is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiPath {
    /// A KV v1 (or other engine's) path: the fields are `data`.
    V1(String),
    /// A KV v2 `MOUNT/data/PATH`: the fields are `data.data`.
    V2(String),
}

/// Refuses paths that would leave the secret's mount (`..`) or are empty.
fn check_path(path: &str) -> Result<(), Failure> {
    if path.is_empty()
        || path
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(fail(format!(
            "{path:?} is not a secret's path (mount/name, no empty, `.` or `..` parts)"
        )));
    }
    Ok(())
}

/// Percent-encodes what is not unreserved in each segment of `path`.
fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What a read of a secret gave.
pub struct Answer {
    /// The fields asked for that it holds, the one that must be first.
    pub fields: Vec<(String, SecretBytes)>,
    /// How long the values live, in seconds (0: no lease).
    pub lease_secs: u64,
    /// The lease, when the engine made one (a dynamic secret): the agent
    /// revokes it when it is done with it.
    pub lease_id: Option<String>,
}

/// Wipes every string of a parsed answer (the values it may hold).
fn wipe(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::String(s) => s.zeroize(),
        serde_json::Value::Array(a) => a.iter_mut().for_each(wipe),
        serde_json::Value::Object(m) => m.values_mut().for_each(wipe),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_https_or_loopback_http() {
        for ok in [
            "https://bao.example.com:8200",
            "http://127.0.0.1:8200",
            "http://localhost:8200/",
            "http://[::1]:8200",
        ] {
            assert!(Server::new(ok, None, None).is_ok(), "{ok}");
        }
        for bad in [
            "http://bao.example.com:8200",
            "ftp://127.0.0.1",
            "https://bao.example.com/v1/secret",
            "bao.example.com",
            "",
        ] {
            assert!(Server::new(bad, None, None).is_err(), "{bad}");
        }
        let e = Server::new("http://10.0.0.8:8200", None, None).unwrap_err();
        assert!(e.to_string().contains("in clear"), "{e}");
        assert!(Server::new("https://x.example", None, Some("no pem here")).is_err());
    }

    #[test]
    fn paths_stay_in_their_mount_and_are_encoded() {
        for bad in ["", "secret//a", "secret/../sys/seal", "./a", "a/"] {
            assert!(check_path(bad).is_err(), "{bad:?}");
        }
        assert!(check_path("secret/team/app").is_ok());
        assert_eq!(encode_path("secret/my app?x#y"), "secret/my%20app%3Fx%23y");
    }

    #[test]
    fn a_server_error_that_holds_the_token_is_not_repeated() {
        let token = b"s.tok-0123456789abcdef";
        let body = br#"{"errors":["bad token s.tok-0123456789abcdef"]}"#;
        assert_eq!(server_errors(body, token), "");
        let body = br#"{"errors":["internal error"]}"#;
        assert_eq!(server_errors(body, token), ": internal error");
    }

    #[test]
    fn nothing_listens_gives_a_bounded_refusal_naming_the_server() {
        // A port nothing listens on: refused at once, within the bounds.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let s = Server::new(&format!("http://127.0.0.1:{port}"), None, None).unwrap();
        let t = std::time::Instant::now();
        let e = s.lookup_self(b"tok-canary-0123456789").unwrap_err();
        assert!(t.elapsed() < CALL_TIMEOUT + Duration::from_secs(1));
        assert!(e.to_string().contains(&format!("127.0.0.1:{port}")), "{e}");
        assert!(!e.to_string().contains("canary"), "leaked");
        assert!(e.is_unreachable(), "a closed port is unreachable: {e}");
    }

    #[test]
    fn a_refusal_is_not_unreachable() {
        // A server that answers 403 to everything: it was reached.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            use std::io::{Read, Write};
            if let Ok((mut c, _)) = l.accept() {
                let mut buf = [0u8; 4096];
                let _ = c.read(&mut buf);
                let body = r#"{"errors":["permission denied"]}"#;
                let _ = write!(
                    c,
                    "HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        let s = Server::new(&format!("http://127.0.0.1:{port}"), None, None).unwrap();
        let e = s
            .revoke_lease(b"tok-canary-0123456789", "database/creds/app/x")
            .unwrap_err();
        assert!(e.to_string().contains("403"), "{e}");
        assert!(!e.is_unreachable(), "a 403 came from the server: {e}");
    }
}
