//! The proxy's connections: a command's `CONNECT` is tunnelled untouched,
//! or (for a host one of its run's secrets may go to) intercepted with a
//! leaf of the proxy's CA and each request in it forwarded over a verified
//! TLS connection of the proxy's own; plain-HTTP requests are forwarded
//! with no secret in them.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Uri, Version};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::{TcpListener, TcpStream};

use crate::body::{BoxBody, Decoder, RequestBody, ResponseBody, Transformed};
use crate::rewrite::{Place, Refusal, Rewriter};
use crate::tls::Authority;
use crate::{Backend, BoxError, Swap};

/// How long a tunnel's upstream connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a client may take to send a request's head.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// Client connections served at once; more wait in the kernel's backlog.
/// The proxy shares the agent's descriptors: without a cap, idle
/// connections (which need no credential to open) could leave the agent's
/// own socket none to accept `claulock lock` with.
const MAX_CLIENTS: usize = 256;

/// The user name in the proxy URL a command gets; the password is its
/// run's credential.
pub(crate) const USER: &str = "claulock";

pub(crate) struct Shared {
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) ca: Authority,
    pub(crate) client: Client<hyper_rustls::HttpsConnector<HttpConnector>, BoxBody>,
}

/// Accepts connections on `listener` (and on `socket`, for commands that
/// reach the proxy through a forwarder, as in a sandbox) until `stop`
/// says so.
pub(crate) async fn accept(
    listener: TcpListener,
    socket: Option<tokio::net::UnixListener>,
    shared: Arc<Shared>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CLIENTS));
    loop {
        // A slot first: at the cap, connections wait in the backlog.
        let slot = tokio::select! {
            s = Arc::clone(&slots).acquire_owned() => match s {
                Ok(s) => s,
                Err(_) => return,
            },
            _ = stop.changed() => return,
        };
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(serve_client(stream, Arc::clone(&shared), false, slot));
                }
                // Out of descriptors, say: do not spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            },
            accepted = async {
                match &socket {
                    Some(s) => s.accept().await.map(|(stream, _)| stream),
                    None => std::future::pending().await,
                }
            } => match accepted {
                Ok(stream) => {
                    tokio::spawn(serve_client(stream, Arc::clone(&shared), true, slot));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            },
            _ = stop.changed() => return,
        }
    }
}

/// Serves one command's connection to the proxy (`forwarded`: it came
/// through the proxy's socket), holding one of the client slots until its
/// requests are served or it is upgraded (a tunnel, an intercepted
/// connection: those need the run's credential).
async fn serve_client<S>(
    stream: S,
    shared: Arc<Shared>,
    forwarded: bool,
    _slot: tokio::sync::OwnedSemaphorePermit,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service =
        hyper::service::service_fn(move |req| proxy_request(Arc::clone(&shared), req, forwarded));
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades()
        .await;
}

fn full(text: impl Into<Bytes>) -> BoxBody {
    Full::new(text.into()).map_err(|e| match e {}).boxed()
}

fn answer(status: StatusCode, text: &str) -> Response<BoxBody> {
    let mut r = Response::new(full(format!("claulock proxy: {text}\n")));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// The run credential in `Proxy-Authorization: Basic claulock:CRED`.
fn credential(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::PROXY_AUTHORIZATION)?.to_str().ok()?;
    let (scheme, b64) = v.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, cred) = text.split_once(':')?;
    (user == USER).then(|| cred.to_owned())
}

/// Host and port of an authority (`[v6]:port` included), the host lower
/// case.
fn host_port(uri: &Uri, default_port: u16) -> Option<(String, u16)> {
    let a = uri.authority()?;
    let host = a.host().trim_start_matches('[').trim_end_matches(']');
    Some((
        host.to_ascii_lowercase(),
        a.port_u16().unwrap_or(default_port),
    ))
}

/// A command that reaches the proxy through its socket runs where it has
/// no network of its own (a sandbox, whose proxy filters what it may
/// reach): the proxy must not open what that filter would close, so it
/// serves only the hosts its run's secrets may go to.
const SANDBOXED: &str = "through its socket (a sandbox), ClauLock's proxy reaches only the hosts of this command's secrets; other hosts are the sandbox's to allow";

async fn proxy_request(
    shared: Arc<Shared>,
    req: Request<hyper::body::Incoming>,
    forwarded: bool,
) -> Result<Response<BoxBody>, Infallible> {
    let Some(cred) = credential(req.headers()).filter(|c| shared.backend.is_open(c)) else {
        let mut r = answer(
            StatusCode::PROXY_AUTHENTICATION_REQUIRED,
            "this proxy serves commands run by `claulock exec` only, while they run",
        );
        r.headers_mut().insert(
            header::PROXY_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"claulock\""),
        );
        return Ok(r);
    };
    if req.method() == Method::CONNECT {
        let Some((host, port)) = host_port(req.uri(), 443) else {
            return Ok(answer(StatusCode::BAD_REQUEST, "CONNECT needs host:port"));
        };
        let intercept = shared.backend.grant(&cred, &host).iter().any(|s| s.allowed);
        if intercept {
            tokio::spawn(async move {
                if let Ok(upgraded) = hyper::upgrade::on(req).await {
                    serve_intercepted(shared, upgraded, cred, host, port).await;
                }
            });
            return Ok(Response::new(full("")));
        }
        if forwarded {
            return Ok(answer(StatusCode::FORBIDDEN, SANDBOXED));
        }
        // No secret of the run may go there: a plain tunnel, opened before
        // the command is told it is.
        let upstream =
            match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((host.as_str(), port)))
                .await
            {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    return Ok(answer(
                        StatusCode::BAD_GATEWAY,
                        &format!("cannot connect to {host}:{port}: {e}"),
                    ));
                }
                Err(_) => {
                    return Ok(answer(
                        StatusCode::GATEWAY_TIMEOUT,
                        &format!("{host}:{port} did not answer"),
                    ));
                }
            };
        tokio::spawn(async move {
            if let Ok(upgraded) = hyper::upgrade::on(req).await {
                let mut upgraded = TokioIo::new(upgraded);
                let mut upstream = upstream;
                let _ = tokio::io::copy_bidirectional(&mut upgraded, &mut upstream).await;
            }
        });
        return Ok(Response::new(full("")));
    }
    // Plain HTTP, in absolute form: forwarded with nothing swapped.
    if forwarded {
        return Ok(answer(StatusCode::FORBIDDEN, SANDBOXED));
    }
    let Some((host, port)) = host_port(req.uri(), 80) else {
        return Ok(answer(
            StatusCode::BAD_REQUEST,
            "a request to a proxy names its URL in full",
        ));
    };
    if req.uri().scheme_str() != Some("http") {
        return Ok(answer(
            StatusCode::BAD_REQUEST,
            "only http:// is forwarded in clear",
        ));
    }
    let target = Target {
        scheme: "http",
        host: &host,
        port,
        intercepted: false,
    };
    Ok(forward(shared, req, &cred, target).await)
}

async fn serve_intercepted(
    shared: Arc<Shared>,
    upgraded: hyper::upgrade::Upgraded,
    cred: String,
    host: String,
    port: u16,
) {
    let Ok(config) = shared.ca.server_config(&host) else {
        return;
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let Ok(tls) = acceptor.accept(TokioIo::new(upgraded)).await else {
        return;
    };
    let service = hyper::service::service_fn(move |req| {
        let (shared, cred, host) = (Arc::clone(&shared), cred.clone(), host.clone());
        async move {
            let target = Target {
                scheme: "https",
                host: &host,
                port,
                intercepted: true,
            };
            Ok::<_, Infallible>(forward(shared, req, &cred, target).await)
        }
    });
    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(tls), service)
        .await;
}

/// Headers that belong to one connection, not to the request.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let listed: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for n in listed {
        headers.remove(n);
    }
    for n in [
        header::CONNECTION,
        header::PROXY_AUTHORIZATION,
        header::PROXY_AUTHENTICATE,
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
        HeaderName::from_static("keep-alive"),
        HeaderName::from_static("proxy-connection"),
    ] {
        headers.remove(n);
    }
}

/// The comma-separated items of every `name` header, lower case.
fn header_list(headers: &HeaderMap, name: HeaderName) -> Vec<String> {
    let mut out = Vec::new();
    for v in headers.get_all(name) {
        for t in String::from_utf8_lossy(v.as_bytes()).split(',') {
            let t = t.trim().to_ascii_lowercase();
            if !t.is_empty() && t != "identity" {
                out.push(t);
            }
        }
    }
    out
}

/// `headers` with every form of a value replaced by its surrogate.
pub(crate) fn scrub_headers(s: &claulock_scrub::Scrubber, headers: HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(headers.len());
    let mut last: Option<HeaderName> = None;
    for (name, value) in headers {
        let name = match name {
            Some(n) => {
                last = Some(n.clone());
                n
            }
            None => match &last {
                Some(n) => n.clone(),
                None => continue,
            },
        };
        let scrubbed = s.scrub(value.as_bytes());
        let value = if scrubbed == value.as_bytes() {
            value
        } else {
            // A value's form replaced by letters and digits stays a valid
            // header value; one that would not is dropped.
            match HeaderValue::from_bytes(&scrubbed) {
                Ok(v) => v,
                Err(_) => continue,
            }
        };
        out.append(name, value);
    }
    out
}

/// The scrubber that turns every form of the run's proxy values into
/// their surrogates (`None`: no value to look for).
fn response_scrubber(swaps: &[Swap]) -> Result<Option<claulock_scrub::Scrubber>, String> {
    if swaps.is_empty() {
        return Ok(None);
    }
    let mut b = claulock_scrub::Scrubber::builder();
    // The marker is the secret's "name", which here is its surrogate: so
    // a value, in any form, becomes the surrogate the command holds.
    b.marker("{name}");
    // A host that reflects what the command sent makes the response the
    // command's own text: redacting a cut-off prefix at its end would tell
    // the command, guess by guess, how the value begins. Short values (an
    // entry page takes them) are looked for too rather than failing every
    // request of the run.
    b.min_partial(0).min_secret_len(1);
    for s in swaps {
        b.secret(
            String::from_utf8_lossy(&s.surrogate).into_owned(),
            &*s.value,
        );
    }
    b.build().map(Some).map_err(|e| e.to_string())
}

/// Where a request goes.
#[derive(Clone, Copy)]
struct Target<'a> {
    scheme: &'static str,
    host: &'a str,
    port: u16,
    /// Inside a TLS connection the proxy terminated (where the run's
    /// secrets that may go to `host` are swapped in); else plain HTTP.
    intercepted: bool,
}

/// The audit events of one request (never a value).
#[derive(Clone)]
struct Audit {
    backend: Arc<dyn Backend>,
    host: String,
}

impl Audit {
    fn refused(&self, refused: &std::collections::BTreeMap<(String, Refusal), u64>) {
        for (name, rule) in refused.keys() {
            let f = [
                ("caller", "proxy".to_owned()),
                ("host", self.host.clone()),
                ("rule", rule.as_str().to_owned()),
            ];
            self.backend.audit("denied", name, &f);
        }
    }

    fn swapped(&self, names: impl Iterator<Item = String>, fields: &[(&str, String)]) {
        for name in names {
            let mut f = vec![("caller", "proxy".to_owned()), ("host", self.host.clone())];
            f.extend(fields.iter().cloned());
            self.backend.audit("resolve", &name, &f);
        }
    }

    fn caught(&self, caught: Vec<claulock_scrub::Catch>, names: &[(String, String)]) {
        for c in caught {
            // The scrubber knows a secret by its surrogate (see
            // `response_scrubber`).
            let name = names
                .iter()
                .find(|(s, _)| *s == c.secret)
                .map_or("?", |(_, n)| n.as_str());
            let f = [
                ("caller", "proxy".to_owned()),
                ("host", self.host.clone()),
                ("form", c.form.as_str().to_owned()),
                ("count", c.count.to_string()),
            ];
            self.backend.audit("scrubbed", name, &f);
        }
    }
}

/// Why nothing may be swapped into this request, if so: plain HTTP, or a
/// `Host` that is not the one the connection was opened (and the upstream
/// certificate verified) for.
fn refusal(parts: &hyper::http::request::Parts, target: Target<'_>) -> Option<Refusal> {
    if !target.intercepted {
        return Some(Refusal::PlainHttp);
    }
    // HTTP/2 names the host in `:authority` (the URI); HTTP/1.1 in `Host`.
    // A request that names none is for the connection's host; one whose
    // `Host` cannot be read gets nothing.
    let claimed = match (parts.uri.host(), parts.headers.get(header::HOST)) {
        (Some(h), _) => h.to_owned(),
        (None, Some(h)) => {
            let Some(authority) = h
                .to_str()
                .ok()
                .and_then(|h| h.parse::<hyper::http::uri::Authority>().ok())
            else {
                return Some(Refusal::HostMismatch);
            };
            authority.host().to_owned()
        }
        (None, None) => return None,
    };
    let claimed = claimed
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    (claimed != target.host).then_some(Refusal::HostMismatch)
}

/// The request's head as it goes upstream: surrogates swapped in its
/// headers and (where allowed) its line, the connection's own headers
/// dropped, identity encoding asked for, the URI absolute. `Err`: why it
/// cannot be sent.
fn rewrite_head(
    parts: &mut hyper::http::request::Parts,
    rewriter: &mut Rewriter,
    target: Target<'_>,
) -> Result<(), &'static str> {
    strip_hop_by_hop(&mut parts.headers);
    parts.headers.remove(header::HOST);
    let mut rewritten = HeaderMap::with_capacity(parts.headers.len());
    let mut last: Option<HeaderName> = None;
    for (name, value) in std::mem::take(&mut parts.headers) {
        let Some(name) = name.or_else(|| last.clone()) else {
            continue;
        };
        last = Some(name.clone());
        let value = match rewriter.header(name.as_str(), value.as_bytes()) {
            Some(v) => {
                let mut v = HeaderValue::from_bytes(&v).map_err(
                    |_| "a value cannot be put in this header (it holds bytes a header cannot)",
                )?;
                v.set_sensitive(true);
                v
            }
            None => value,
        };
        rewritten.append(name, value);
    }
    parts.headers = rewritten;
    if target.intercepted {
        // A compressed response would have to be decompressed to be
        // scrubbed: ask for none (what still comes compressed is decoded,
        // or refused).
        parts.headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
    }
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut path = zeroize::Zeroizing::new(path.as_bytes().to_vec());
    rewriter.apply(&mut path, Place::Line);
    let host = target.host;
    let authority = if host.contains(':') {
        format!("[{host}]:{}", target.port)
    } else {
        format!("{host}:{}", target.port)
    };
    let uri = zeroize::Zeroizing::new(format!(
        "{}://{authority}{}",
        target.scheme,
        String::from_utf8_lossy(&path)
    ));
    parts.uri = Uri::try_from(uri.as_str()).map_err(|_| "the request's path is not a valid URI")?;
    // The upstream connection's own version (ALPN) is the client's choice.
    parts.version = Version::HTTP_11;
    Ok(())
}

/// The request body, rewritten as it streams when a surrogate could be in
/// it.
fn request_body(body: hyper::body::Incoming, rewriter: Rewriter, audit: Audit) -> BoxBody {
    let body = body.map_err(BoxError::from).boxed();
    if rewriter.is_empty() {
        return body;
    }
    Transformed::wrap(
        body,
        RequestBody {
            rewriter: rewriter.body(),
            report: Some(Box::new(move |b: &crate::rewrite::BodyRewriter| {
                audit.refused(&b.rewriter.refused);
                let in_body = [("in", "body".to_owned())];
                audit.swapped(b.rewriter.swapped.keys().cloned(), &in_body);
            })),
        },
    )
}

/// Forwards one request to `target`.
async fn forward(
    shared: Arc<Shared>,
    req: Request<hyper::body::Incoming>,
    cred: &str,
    target: Target<'_>,
) -> Response<BoxBody> {
    // Asked again for each request: a run that ended, a lock or an expiry
    // takes effect at once, and a connection left open after its run
    // relays nothing more.
    if !shared.backend.is_open(cred) {
        return answer(
            StatusCode::PROXY_AUTHENTICATION_REQUIRED,
            "the command's run has ended (or the vault was locked)",
        );
    }
    let swaps = shared.backend.grant(cred, target.host);
    let audit = Audit {
        backend: Arc::clone(&shared.backend),
        host: target.host.to_owned(),
    };
    let (mut parts, body) = req.into_parts();
    let mut rewriter = Rewriter::new(&swaps, refusal(&parts, target));
    if let Err(why) = rewrite_head(&mut parts, &mut rewriter, target) {
        return answer(StatusCode::BAD_REQUEST, why);
    }
    let scrubber = match response_scrubber(&swaps) {
        Ok(s) => s,
        Err(e) => {
            return answer(
                StatusCode::BAD_GATEWAY,
                &format!("cannot scrub responses: {e}"),
            );
        }
    };
    let method = parts.method.to_string();
    let head_request = parts.method == hyper::Method::HEAD;
    let in_head = std::mem::take(&mut rewriter.swapped);
    audit.refused(&std::mem::take(&mut rewriter.refused));
    let body = request_body(body, rewriter, audit.clone());
    let response = match shared
        .client
        .request(Request::from_parts(parts, body))
        .await
    {
        Ok(r) => r,
        Err(e) => {
            let mut why = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                why.push_str(&format!(": {s}"));
                source = s.source();
            }
            // An error could quote what was sent: scrubbed like a response.
            let why = match &scrubber {
                Some(s) => String::from_utf8_lossy(&s.scrub(why.as_bytes())).into_owned(),
                None => why,
            };
            return answer(
                StatusCode::BAD_GATEWAY,
                &format!("the request to {} failed: {why}", target.host),
            );
        }
    };
    let status = response.status().as_u16().to_string();
    audit.swapped(
        in_head.into_keys(),
        &[("method", method), ("status", status)],
    );
    respond(response, scrubber, &swaps, audit, head_request)
}

/// The upstream response as the command gets it: decompressed and every
/// form of a value replaced by its surrogate, in headers and body.
fn respond(
    response: Response<hyper::body::Incoming>,
    scrubber: Option<claulock_scrub::Scrubber>,
    swaps: &[Swap],
    audit: Audit,
    head_request: bool,
) -> Response<BoxBody> {
    let (mut parts, body) = response.into_parts();
    let Some(scrubber) = scrubber else {
        strip_hop_by_hop(&mut parts.headers);
        return Response::from_parts(parts, body.map_err(BoxError::from).boxed());
    };
    // A transfer coding other than chunked (`gzip, chunked`) would reach
    // the command still compressed once the header is dropped.
    let transfer = header_list(&parts.headers, header::TRANSFER_ENCODING);
    if transfer.iter().any(|t| t != "chunked") {
        return answer(
            StatusCode::BAD_GATEWAY,
            &format!(
                "{} answered with transfer coding {transfer:?}, which the proxy cannot scrub",
                audit.host
            ),
        );
    }
    strip_hop_by_hop(&mut parts.headers);
    let body = body.map_err(BoxError::from).boxed();
    // Every Content-Encoding header, every coding in each: one known
    // coding at most.
    let codings = header_list(&parts.headers, header::CONTENT_ENCODING);
    let encoding = match codings.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        many => many.join(", "),
    };
    let decoder = match Decoder::for_encoding(&encoding) {
        Ok(d) => d,
        Err(other) => {
            return answer(
                StatusCode::BAD_GATEWAY,
                &format!(
                    "{} answered compressed as {other:?}, which the proxy cannot read; it refuses what it cannot scrub",
                    audit.host
                ),
            );
        }
    };
    parts.headers.remove(header::CONTENT_ENCODING);
    // Scrubbing may change the body's length (a response without a body,
    // to HEAD or 204 or 304, keeps what it says of the resource's).
    let bodiless = head_request
        || parts.status == StatusCode::NO_CONTENT
        || parts.status == StatusCode::NOT_MODIFIED;
    if !bodiless || decoder.is_some() {
        parts.headers.remove(header::CONTENT_LENGTH);
    }
    parts.headers = scrub_headers(&scrubber, std::mem::take(&mut parts.headers));
    let names: Vec<(String, String)> = swaps
        .iter()
        .map(|s| {
            (
                String::from_utf8_lossy(&s.surrogate).into_owned(),
                s.name.clone(),
            )
        })
        .collect();
    let body = Transformed::wrap(
        body,
        ResponseBody {
            decoder,
            stream: scrubber.stream(),
            scrubber,
            report: Some(Box::new(move |caught| audit.caught(caught, &names))),
        },
    );
    Response::from_parts(parts, body)
}
