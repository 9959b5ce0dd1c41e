//! The loopback forwarder of a run that cannot reach the proxy's port.
//!
//! A command in a sandbox with a network of its own (Claude Code's Bash
//! sandbox runs bubblewrap with `--unshare-net`) sees its own loopback,
//! where the agent's proxy port does not exist; the proxy's Unix socket in
//! `CLAULOCK_HOME` can still be reached (the sandbox allows Unix sockets).
//! Then the wrapper listens on a loopback port of the command's network and
//! forwards each connection to the socket, byte for byte: the command's
//! proxy URL names that port, with the run's credential as before. The
//! forwarder sees only what the command sends (surrogates, the credential),
//! never a value.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long the proxy's port may take to accept a probe.
const PROBE: Duration = Duration::from_millis(300);

/// The proxy's address in a proxy URL `http://user:cred@127.0.0.1:PORT`.
fn proxy_addr(url: &str) -> Option<SocketAddr> {
    url.rsplit_once('@')?.1.trim_end_matches('/').parse().ok()
}

/// When the proxy named in `env` cannot be reached, starts a forwarder to
/// `socket` and points `env`'s proxy URLs at it. Returns the port it
/// listens on, if it started one.
///
/// # Errors
///
/// When neither the proxy's port nor its socket can be reached: the
/// command would send its requests nowhere.
pub(crate) fn reach(env: &mut [(String, String)], socket: Option<&str>) -> io::Result<Option<u16>> {
    let Some(addr) = env
        .iter()
        .find(|(k, _)| k == "HTTPS_PROXY")
        .and_then(|(_, v)| proxy_addr(v))
    else {
        return Ok(None);
    };
    if TcpStream::connect_timeout(&addr, PROBE).is_ok() {
        return Ok(None);
    }
    let socket = PathBuf::from(socket.ok_or_else(|| {
        io::Error::other(format!(
            "cannot reach ClauLock's proxy at {addr}, and it has no socket"
        ))
    })?);
    UnixStream::connect(&socket).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "cannot reach ClauLock's proxy at {addr} or {} ({e}); in a sandbox, allow that socket",
                socket.display()
            ),
        )
    })?;
    let listener = TcpListener::bind(("127.0.0.1", 0))?;
    let port = listener.local_addr()?.port();
    std::thread::spawn(move || serve(&listener, &socket));
    let from = format!("@{addr}");
    let to = format!("@127.0.0.1:{port}");
    for (_, v) in env.iter_mut() {
        if v.ends_with(&from) {
            *v = v.replace(&from, &to);
        }
    }
    Ok(Some(port))
}

fn serve(listener: &TcpListener, socket: &Path) {
    for client in listener.incoming().flatten() {
        let Ok(upstream) = UnixStream::connect(socket) else {
            continue;
        };
        let _ = client.set_nodelay(true);
        let (Ok(client_w), Ok(upstream_w)) = (client.try_clone(), upstream.try_clone()) else {
            continue;
        };
        std::thread::spawn(move || {
            pump(client, upstream_w);
        });
        std::thread::spawn(move || {
            pump(upstream, client_w);
        });
    }
}

/// Copies `from` to `to` until `from` ends, then ends `to`'s writing side.
fn pump(mut from: impl io::Read, mut to: impl io::Write + Shut) {
    let _ = io::copy(&mut from, &mut to);
    to.shut();
}

trait Shut {
    fn shut(&self);
}

impl Shut for TcpStream {
    fn shut(&self) {
        let _ = self.shutdown(std::net::Shutdown::Write);
    }
}

impl Shut for UnixStream {
    fn shut(&self) {
        let _ = self.shutdown(std::net::Shutdown::Write);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proxy_url_names_its_address() {
        assert_eq!(
            proxy_addr("http://claulock:00ff@127.0.0.1:4711"),
            Some("127.0.0.1:4711".parse().unwrap())
        );
        assert_eq!(proxy_addr("http://127.0.0.1:4711"), None);
    }

    #[test]
    fn an_unreachable_port_is_forwarded_to_the_socket() {
        let dir = std::env::temp_dir().join(format!("cl-forward-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let socket = dir.join("proxy.sock");
        let server = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        std::thread::spawn(move || {
            // (The first connection is reach's probe, closed at once.)
            for mut s in server.incoming().flatten() {
                let mut buf = [0u8; 5];
                if io::Read::read_exact(&mut s, &mut buf).is_ok() {
                    let _ = io::Write::write_all(&mut s, &buf);
                }
            }
        });
        // A port nothing listens on.
        let closed = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let url = format!("http://claulock:c@{closed}");
        let mut env = vec![
            ("HTTPS_PROXY".to_owned(), url.clone()),
            ("http_proxy".to_owned(), url),
            ("SSL_CERT_FILE".to_owned(), "/x".to_owned()),
        ];
        let port = reach(&mut env, Some(&socket.display().to_string()))
            .unwrap()
            .unwrap();
        assert_eq!(env[0].1, format!("http://claulock:c@127.0.0.1:{port}"));
        assert_eq!(env[1].1, env[0].1);
        assert_eq!(env[2].1, "/x");
        let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
        io::Write::write_all(&mut c, b"hello").unwrap();
        let mut back = [0u8; 5];
        io::Read::read_exact(&mut c, &mut back).unwrap();
        assert_eq!(&back, b"hello");
        // Neither the port nor the socket: an error that names both.
        let mut env = vec![("HTTPS_PROXY".to_owned(), format!("http://c:c@{closed}"))];
        let e = reach(&mut env, Some("/nonexistent/proxy.sock")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/proxy.sock"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
