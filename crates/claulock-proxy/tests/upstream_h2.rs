//! The proxy against an HTTP/2-only upstream (ALPN `h2`), with curl as the
//! client and a backend of the test's own: the header is swapped upstream
//! over HTTP/2, the response scrubbed back to the surrogate, an encoding
//! the proxy cannot read refused, and a `Host` that is not the
//! connection's never gets the value.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stderr,
    missing_docs
)]

use std::convert::Infallible;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use zeroize::Zeroizing;

const VALUE: &str = "ghp_H2valueCANARY0123456789abcdefghijkl";
const SURROGATE: &str = "ghp_SURROGATEsurrogate0123456789ABCDEFG";

struct Backend {
    audit: Mutex<Vec<String>>,
}

impl claulock_proxy::Backend for Backend {
    fn is_open(&self, credential: &str) -> bool {
        credential == "cred"
    }

    fn grant(&self, credential: &str, host: &str) -> Vec<claulock_proxy::Swap> {
        if credential != "cred" {
            return Vec::new();
        }
        vec![claulock_proxy::Swap {
            name: "T".into(),
            surrogate: SURROGATE.as_bytes().to_vec(),
            value: Zeroizing::new(VALUE.as_bytes().to_vec()),
            allowed: host == "localhost",
            in_body: false,
        }]
    }

    fn audit(&self, action: &str, secret: &str, fields: &[(&str, String)]) {
        let f: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
        self.audit
            .lock()
            .unwrap()
            .push(format!("{action} {secret} {}", f.join(" ")));
    }
}

/// An HTTP/2-only TLS server on 127.0.0.1 for `localhost`; returns its
/// port and the test CA's PEM file. `/echo` answers with the request's
/// version and headers; `/br` claims a Brotli body.
fn upstream(dir: &std::path::Path, seen: Arc<Mutex<Vec<String>>>) -> (u16, PathBuf) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca.self_signed(&ca_key).unwrap();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![leaf.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
    .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = std_listener.local_addr().unwrap().port();
    std_listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                let (acceptor, seen) = (acceptor.clone(), Arc::clone(&seen));
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service =
                        hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                            let seen = Arc::clone(&seen);
                            async move {
                                let mut text =
                                    format!("{:?} {}\n", req.version(), req.uri().path());
                                for (k, v) in req.headers() {
                                    text.push_str(&format!(
                                        "{k}: {}\n",
                                        String::from_utf8_lossy(v.as_bytes())
                                    ));
                                }
                                seen.lock().unwrap().push(text.clone());
                                let dup = req.uri().path() == "/dup-gzip";
                                let body = if dup {
                                    use std::io::Write;
                                    let mut gz = flate2::write::GzEncoder::new(
                                        Vec::new(),
                                        flate2::Compression::default(),
                                    );
                                    gz.write_all(text.as_bytes()).unwrap();
                                    Bytes::from(gz.finish().unwrap())
                                } else {
                                    Bytes::from(text)
                                };
                                let mut r = Response::new(Full::new(body));
                                if req.uri().path() == "/br" {
                                    r.headers_mut()
                                        .insert("content-encoding", "br".parse().unwrap());
                                }
                                if dup {
                                    // Two headers, the first `identity`.
                                    let h = r.headers_mut();
                                    h.append("content-encoding", "identity".parse().unwrap());
                                    h.append("content-encoding", "gzip".parse().unwrap());
                                }
                                r.headers_mut().insert(
                                    "x-echo",
                                    req.headers()
                                        .get("authorization")
                                        .cloned()
                                        .unwrap_or("-".parse().unwrap()),
                                );
                                Ok::<_, Infallible>(r)
                            }
                        });
                    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
    });
    (port, ca_file)
}

fn curl(proxy: &claulock_proxy::Proxy, bundle: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("curl")
        .args(["-sS", "-i", "--proxy", &proxy.url("cred"), "--cacert"])
        .arg(bundle)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .unwrap();
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// The upstream, the test's backend and a proxy over them.
struct Lab {
    dir: PathBuf,
    seen: Arc<Mutex<Vec<String>>>,
    port: u16,
    backend: Arc<Backend>,
    proxy: claulock_proxy::Proxy,
    bundle: PathBuf,
}

impl Lab {
    /// `trusted`: the proxy trusts the upstream's CA.
    fn new(name: &str, trusted: bool) -> Lab {
        // A failing assertion's message shows the canary as `<canary>`.
        std::panic::set_hook(Box::new(|info| {
            eprintln!("{}", info.to_string().replace(VALUE, "<canary>"));
        }));
        let dir = std::env::temp_dir().join(format!("cl-proxy-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (port, ca) = upstream(&dir, Arc::clone(&seen));
        let backend = Arc::new(Backend {
            audit: Mutex::new(Vec::new()),
        });
        let extra = trusted.then_some(ca.as_path());
        let proxy = claulock_proxy::Proxy::start(backend.clone(), extra, None).unwrap();
        let bundle = dir.join("bundle.pem");
        std::fs::write(&bundle, proxy.bundle_pem()).unwrap();
        Lab {
            dir,
            seen,
            port,
            backend,
            proxy,
            bundle,
        }
    }
}

#[test]
fn an_http2_upstream_gets_the_value_and_the_client_the_surrogate() {
    if Command::new("curl").arg("--version").output().is_err() {
        eprintln!("skipped: needs curl");
        return;
    }
    let Lab {
        dir,
        seen,
        port,
        backend,
        proxy,
        bundle,
    } = Lab::new("h2", true);
    let url = |path: &str| format!("https://localhost:{port}{path}");
    let auth = format!("Authorization: Bearer {SURROGATE}");

    // Over HTTP/2 on both sides.
    let (ok, out) = curl(&proxy, &bundle, &["--http2", "-H", &auth, &url("/echo")]);
    assert!(ok, "{out}");
    assert!(
        out.starts_with("HTTP/1.1 200") || out.contains("HTTP/2 200"),
        "{out}"
    );
    assert!(
        out.contains("HTTP/2 200"),
        "the command's side is HTTP/2: {out}"
    );
    let upstream = seen.lock().unwrap().pop().unwrap();
    assert!(
        upstream.starts_with("HTTP/2.0 /echo"),
        "the upstream side is HTTP/2: {upstream}"
    );
    assert!(
        upstream.contains(&format!("authorization: Bearer {VALUE}")),
        "swapped"
    );
    assert!(!out.contains(VALUE), "the client got the value back");
    assert!(
        out.contains(&format!("x-echo: Bearer {SURROGATE}")),
        "the echoed header is the surrogate again"
    );
    assert!(
        out.contains(&format!("authorization: Bearer {SURROGATE}")),
        "and the body"
    );

    // Two Content-Encoding headers, the first `identity`: still decoded
    // and scrubbed, not passed on compressed.
    let out_file = dir.join("dup.out");
    let (ok, text) = curl(
        &proxy,
        &bundle,
        &[
            "-o",
            out_file.to_str().unwrap(),
            "-H",
            &auth,
            &url("/dup-gzip"),
        ],
    );
    assert!(ok, "{text}");
    let got = std::fs::read(&out_file).unwrap();
    // (`-i`: the head, a blank line, the body.)
    let body_at = got
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(0, |i| i + 4);
    assert!(
        !got[body_at..].starts_with(&[0x1f, 0x8b]),
        "passed on still gzipped"
    );
    let got = String::from_utf8_lossy(&got);
    assert!(
        got.contains(&format!("authorization: Bearer {SURROGATE}")),
        "{got}"
    );
    assert!(!got.contains(VALUE));

    // A body the proxy cannot decode is refused, not passed on.
    let (_, out) = curl(&proxy, &bundle, &["-H", &auth, &url("/br")]);
    assert!(out.contains("502") && out.contains("cannot read"), "{out}");
    assert!(!out.contains(VALUE));

    // A Host that is not the connection's: nothing is swapped.
    let (_, out) = curl(
        &proxy,
        &bundle,
        &[
            "--http1.1",
            "-H",
            &auth,
            "-H",
            "Host: other.example",
            &url("/echo"),
        ],
    );
    let upstream = seen.lock().unwrap().pop().unwrap_or_default();
    assert!(
        !upstream.contains(VALUE),
        "a mismatched Host got the value: {out}"
    );

    // Without the run's credential: 407.
    let out = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_connect}", "--proxy"])
        .arg(format!("http://{}", proxy.addr()))
        .arg(url("/echo"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("407"));

    let audit = backend.audit.lock().unwrap().join("\n");
    assert!(
        audit.contains("resolve T caller=proxy host=localhost method=GET status=200"),
        "{audit}"
    );
    assert!(
        audit.contains("denied T caller=proxy host=localhost rule=host-mismatch"),
        "{audit}"
    );
    assert!(
        audit.contains("scrubbed T caller=proxy host=localhost form=raw"),
        "{audit}"
    );
    assert!(!audit.contains(VALUE));
    drop(proxy);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Upstream TLS is verified: without the test CA among the proxy's roots,
/// the request fails before anything is sent, and the value never leaves.
#[test]
fn an_upstream_that_does_not_verify_gets_nothing() {
    if Command::new("curl").arg("--version").output().is_err() {
        eprintln!("skipped: needs curl");
        return;
    }
    // The system's roots only.
    let Lab {
        dir,
        seen,
        port,
        backend,
        proxy,
        bundle,
    } = Lab::new("verify", false);
    let auth = format!("Authorization: Bearer {SURROGATE}");
    let (ok, out) = curl(
        &proxy,
        &bundle,
        &["-H", &auth, &format!("https://localhost:{port}/echo")],
    );
    assert!(!ok || out.contains("502"), "{out}");
    assert!(out.contains("502") && out.contains("certificate"), "{out}");
    assert!(
        seen.lock().unwrap().is_empty(),
        "the upstream got a request"
    );
    let audit = backend.audit.lock().unwrap().join("\n");
    assert!(!audit.contains("resolve T"), "{audit}");
    drop(proxy);
    let _ = std::fs::remove_dir_all(&dir);
}
