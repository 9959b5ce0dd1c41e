//! Entering a value on a one-time loopback page, served by the agent.
//!
//! The MCP server must never see a value, and the MCP specification
//! forbids asking for one in a form. So `secret_request`/`secret_rotate`
//! open an *entry*: a page on `127.0.0.1` (random port) under an
//! unguessable one-time token, where the human types or pastes the value,
//! which goes from the browser straight to this agent.
//!
//! The page's defences:
//! - **Unguessable and short-lived**: 256 random bits in the path; the
//!   entry expires after [`TTL`].
//! - **Single use, claimed by the first browser**: the first `GET` sets a
//!   random `HttpOnly`, `SameSite=Strict` cookie; a later `GET` or `POST`
//!   without it is refused. Whoever opens the page first owns it, so if
//!   the assistant (which can see the link) opened it first, the human's
//!   browser is refused and they know. A stored value ends the entry.
//! - **CSRF-safe**: a `POST` needs the cookie, the form's own random field
//!   and, when the browser sends one, an `Origin` of this very page.
//! - **No third parties**: plain HTML, no script, no style, no resource;
//!   `Content-Security-Policy: default-src 'none'; form-action 'self';
//!   frame-ancestors 'none'; base-uri 'none'`, `no-store`, and
//!   `Referrer-Policy: same-origin` (with `no-referrer` browsers send
//!   `Origin: null` on the form's POST, and the origin check needs it).
//!
//! The page thread stores the value by asking the agent over its own
//! socket (`add` or `rotate`), like any client. Whether an entry is done is
//! read from the vault, so a value entered with `claulock add` in a
//! terminal finishes the entry too.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use claulock_proto::{Client, NewSecret as Meta, Request, SecretBytes};

use crate::home::Home;

/// How long an entry page lives (at most; `entry_open` may ask for less).
pub(crate) const TTL: Duration = Duration::from_secs(10 * 60);
const MAX_HEAD: u64 = 16 << 10;
const MAX_BODY: usize = 64 << 10;
const CSP: &str = "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// One open entry.
pub(crate) struct Pending {
    pub id: String,
    pub name: String,
    pub rotate: bool,
    pub meta: Meta,
    /// How many earlier values the secret had when the entry opened: a
    /// rotation entry is done once it has more (a timestamp in whole
    /// seconds cannot tell a rotation just before the entry from one
    /// through it).
    pub superseded_before: usize,
    expires: Instant,
    csrf: String,
    /// The cookie of the browser that opened the page first.
    claim: Option<String>,
    /// A value was submitted: the page is spent.
    used: bool,
}

/// The open entries, shared by the agent and its page thread.
#[derive(Default)]
pub(crate) struct Book {
    port: Option<u16>,
    by_token: HashMap<String, Pending>,
}

pub(crate) type Shared = Arc<Mutex<Book>>;

fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    claulock_vault::Random::fill(&mut crate::osrand::OsRandom, &mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Opens an entry; starts the page server on first use. Returns
/// (id, url).
pub(crate) fn open(
    book: &Shared,
    home: &Home,
    name: &str,
    rotate: bool,
    meta: Meta,
    superseded_before: usize,
    ttl: Duration,
) -> Result<(String, String), String> {
    let mut b = book
        .lock()
        .map_err(|_| "the entry book is poisoned".to_string())?;
    // Expired entries stay a while, so that `entry_state` can say so.
    b.by_token.retain(|_, p| p.expires + TTL > Instant::now());
    let port = match b.port {
        Some(p) => p,
        None => {
            let listener = TcpListener::bind(("127.0.0.1", 0))
                .map_err(|e| format!("cannot open the loopback page: {e}"))?;
            let port = listener.local_addr().map_err(|e| e.to_string())?.port();
            let (shared, socket) = (Arc::clone(book), home.client());
            std::thread::spawn(move || serve(&listener, &shared, &socket, port));
            b.port = Some(port);
            port
        }
    };
    let token = random_hex(32);
    let id = random_hex(16);
    b.by_token.insert(
        token.clone(),
        Pending {
            id: id.clone(),
            name: name.to_owned(),
            rotate,
            meta,
            superseded_before,
            expires: Instant::now() + ttl,
            csrf: random_hex(32),
            claim: None,
            used: false,
        },
    );
    Ok((id, format!("http://127.0.0.1:{port}/enter/{token}")))
}

/// The entry with this id: (name, rotate, superseded values when it
/// opened, expired), if known.
pub(crate) fn find(book: &Shared, id: &str) -> Option<(String, bool, usize, bool)> {
    let b = book.lock().ok()?;
    b.by_token.values().find(|p| p.id == id).map(|p| {
        (
            p.name.clone(),
            p.rotate,
            p.superseded_before,
            p.expires <= Instant::now(),
        )
    })
}

/// Forgets the entry with this id (done or expired).
pub(crate) fn close(book: &Shared, id: &str) {
    if let Ok(mut b) = book.lock() {
        b.by_token.retain(|_, p| p.id != id);
    }
}

fn serve(listener: &TcpListener, book: &Shared, socket: &Client, port: u16) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
        let response = match read_request(&stream) {
            Some(req) => handle(&req, book, socket, port),
            None => page(400, "Bad request", "The request could not be read.", None),
        };
        let mut w = &stream;
        let _ = w.write_all(response.as_bytes());
    }
}

struct HttpRequest {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Zeroizing<Vec<u8>>,
}

impl HttpRequest {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn cookie(&self) -> Option<&str> {
        self.header("cookie")?
            .split(';')
            .filter_map(|c| c.trim().split_once('='))
            .find(|(k, _)| *k == "claulock_entry")
            .map(|(_, v)| v)
    }
}

fn read_request(stream: &TcpStream) -> Option<HttpRequest> {
    let mut r = BufReader::new(stream.take(MAX_HEAD + MAX_BODY as u64));
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_owned(), v.trim().to_owned()));
        if headers.len() > 100 {
            return None;
        }
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map_or(Some(0), |(_, v)| v.parse().ok())?;
    if len > MAX_BODY {
        return None;
    }
    let mut body = Zeroizing::new(vec![0u8; len]);
    r.read_exact(&mut body).ok()?;
    Some(HttpRequest {
        method,
        path,
        headers,
        body,
    })
}

fn handle(req: &HttpRequest, book: &Shared, socket: &Client, port: u16) -> String {
    let Some(token) = req
        .path
        .strip_prefix("/enter/")
        .map(|t| t.split('?').next().unwrap_or(t))
    else {
        return page(404, "Not found", "There is nothing here.", None);
    };
    let Ok(mut b) = book.lock() else {
        return page(
            500,
            "Error",
            "The agent is in a bad state; run `claulock lock`, then `claulock unlock`.",
            None,
        );
    };
    let gone = || {
        page(
            410,
            "This link is no longer valid",
            "It was used already or it expired. Ask the assistant to request the secret again, or run `claulock add NAME` in a terminal.",
            None,
        )
    };
    let Some(p) = b.by_token.get_mut(token) else {
        return gone();
    };
    if p.used || p.expires <= Instant::now() {
        return gone();
    }
    let claimed_by_other =
        |p: &Pending| p.claim.as_deref().is_some_and(|c| req.cookie() != Some(c));
    let taken = || {
        page(
            409,
            "This page was opened in another browser",
            "Whoever opened the link first owns it. If that was not you, do not enter the value: ask for a new link, or run `claulock add NAME` in a terminal.",
            None,
        )
    };
    match req.method.as_str() {
        "GET" => {
            if claimed_by_other(p) {
                return taken();
            }
            let cookie = match &p.claim {
                Some(c) => c.clone(),
                None => {
                    let c = random_hex(32);
                    p.claim = Some(c.clone());
                    c
                }
            };
            let verb = if p.rotate {
                "New value for"
            } else {
                "Value of"
            };
            let body = format!(
                "<p>{verb} <b>{name}</b>. It goes straight to your local ClauLock vault; the assistant never sees it.</p>\
                 <form method=\"post\" action=\"/enter/{token}\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                 <label for=\"value\">{name}</label><br>\
                 <input type=\"password\" id=\"value\" name=\"value\" autocomplete=\"off\" autofocus required size=\"60\"><br>\
                 <button type=\"submit\" id=\"store\">Store in the vault</button></form>",
                name = html(&p.name),
                csrf = p.csrf,
            );
            page(
                200,
                "ClauLock: enter a secret",
                &body,
                Some((&cookie, token)),
            )
        }
        "POST" => {
            if p.claim.is_none() || claimed_by_other(p) {
                return taken();
            }
            let origin_ok = req
                .header("origin")
                .is_none_or(|o| o == format!("http://127.0.0.1:{port}"));
            let form = req
                .header("content-type")
                .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
            let fields = form_fields(&req.body);
            let csrf_ok = fields
                .iter()
                .any(|(k, v)| k.as_slice() == b"csrf" && v.as_slice() == p.csrf.as_bytes());
            if !(origin_ok && form && csrf_ok) {
                return page(
                    403,
                    "Refused",
                    "This form was not sent from its own page.",
                    None,
                );
            }
            let Some((_, value)) = fields.iter().find(|(k, _)| k.as_slice() == b"value") else {
                return page(400, "No value", "The form had no value.", None);
            };
            let mut value = Zeroizing::new(value.to_vec());
            // A pasted value often carries a final newline.
            while value.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                value.pop();
            }
            if value.is_empty() {
                return page(
                    400,
                    "No value",
                    "The value is empty. Go back and enter it.",
                    None,
                );
            }
            let value = SecretBytes::from(&value[..]);
            let request = if p.rotate {
                Request::Rotate {
                    name: p.name.clone(),
                    value,
                    expires: None,
                }
            } else {
                Request::Add {
                    name: p.name.clone(),
                    value,
                    meta: p.meta.clone(),
                }
            };
            let name = p.name.clone();
            // Single use from here, whatever the outcome: a retry needs a
            // new link (the agent's answer says why it failed). The entry
            // stays in the book until `entry_state` reports it.
            p.used = true;
            drop(b);
            match socket.done(&request) {
                Ok(_) => page(
                    200,
                    "Stored",
                    &format!(
                        "<p><b>{}</b> is stored in your vault. You can close this page.</p>",
                        html(&name)
                    ),
                    None,
                ),
                Err(e) => page(
                    400,
                    "Not stored",
                    &format!("<p>{}</p>", html(&e.to_string())),
                    None,
                ),
            }
        }
        _ => page(405, "Method not allowed", "", None),
    }
}

/// Bytes that may hold a value: wiped when dropped.
type Secretish = Zeroizing<Vec<u8>>;

/// The `application/x-www-form-urlencoded` fields, decoded (into buffers
/// that zeroize).
fn form_fields(body: &[u8]) -> Vec<(Secretish, Secretish)> {
    body.split(|&b| b == b'&')
        .filter(|f| !f.is_empty())
        .map(|f| {
            let mut kv = f.splitn(2, |&b| b == b'=');
            let k = kv.next().unwrap_or_default();
            let v = kv.next().unwrap_or_default();
            (
                Zeroizing::new(percent_decode(k)),
                Zeroizing::new(percent_decode(v)),
            )
        })
        .collect()
}

fn percent_decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < s.len() => {
                match std::str::from_utf8(&s[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(status: u16, title: &str, body: &str, cookie: Option<(&str, &str)>) -> String {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        410 => "Gone",
        _ => "Internal Server Error",
    };
    let html_body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title></head><body><h1>{t}</h1>{body}</body></html>",
        t = html(title)
    );
    let set_cookie = cookie.map_or(String::new(), |(c, token)| {
        format!(
            "Set-Cookie: claulock_entry={c}; Path=/enter/{token}; HttpOnly; SameSite=Strict\r\n"
        )
    });
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Content-Security-Policy: {CSP}\r\nX-Frame-Options: DENY\r\nX-Content-Type-Options: nosniff\r\n\
         Referrer-Policy: same-origin\r\nCache-Control: no-store\r\n{set_cookie}Connection: close\r\n\r\n{html_body}",
        html_body.len()
    )
}
