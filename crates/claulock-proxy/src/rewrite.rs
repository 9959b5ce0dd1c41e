//! What the proxy changes in a request: surrogates become values where a
//! secret's rules put them, and are counted (left as they are) everywhere
//! else, so that the audit log can say where one was refused.
//!
//! A surrogate has its value's length, so a swap never changes the length
//! of a header, a request line or a body (`Content-Length` stays true).

use std::collections::BTreeMap;

use aho_corasick::AhoCorasick;
use base64::Engine as _;
use zeroize::Zeroizing;

use crate::Swap;

/// Where in a request a surrogate was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Place {
    /// A header that carries credentials (see [`is_credential_header`]),
    /// including the user-password of `Authorization: Basic`.
    Header,
    /// Any other header: a host may store it (`x-amz-meta-*`, an upload's
    /// `Content-Disposition`), so it is treated like the body.
    OtherHeader,
    /// The request line (path and query).
    Line,
    /// The body.
    Body,
}

/// Why a surrogate found in a request went out unchanged: the audit
/// log's `rule=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Refusal {
    /// The secret does not allow this host (or it expired, or its run
    /// ended).
    Host,
    /// The request's `Host` is not the host the connection was opened to.
    HostMismatch,
    /// The connection is plain HTTP: the value would cross the network in
    /// clear.
    PlainHttp,
    /// The secret allows credential headers only.
    Body,
    /// The secret allows credential headers only.
    RequestLine,
    /// A header that does not carry credentials (it may be stored).
    Header,
}

/// Whether a request header carries credentials: `Authorization`, and any
/// header whose name says so (`X-Api-Key`, `PRIVATE-TOKEN`, `Cookie`,
/// `X-Auth-Token`, …), but not the metadata headers of storage APIs, which
/// the host keeps (`x-amz-meta-apikey`).
pub(crate) fn is_credential_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    let stored = [
        "x-amz-meta-",
        "x-ms-meta-",
        "x-goog-meta-",
        "x-object-meta-",
        "x-container-meta-",
    ];
    if stored.iter().any(|p| n.starts_with(p)) {
        return false;
    }
    n == "authorization"
        || [
            "auth",
            "token",
            "key",
            "secret",
            "session",
            "cookie",
            "credential",
            "password",
        ]
        .iter()
        .any(|w| n.contains(w))
}

impl Refusal {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Refusal::Host => "host",
            Refusal::HostMismatch => "host-mismatch",
            Refusal::PlainHttp => "plain-http",
            Refusal::Body => "body",
            Refusal::RequestLine => "request-line",
            Refusal::Header => "header",
        }
    }
}

/// What the proxy may do with one secret's surrogate in this request.
#[derive(Clone, Copy, Debug)]
enum Allowed {
    /// Swapped in headers; in the line and body only with `in_body`.
    Swap { in_body: bool },
    /// Never swapped, for this reason.
    Refused(Refusal),
}

/// The rewriting of one request.
pub(crate) struct Rewriter {
    names: Vec<String>,
    values: Vec<Zeroizing<Vec<u8>>>,
    allowed: Vec<Allowed>,
    matcher: Option<AhoCorasick>,
    longest: usize,
    /// How often each secret's value was put in place.
    pub(crate) swapped: BTreeMap<String, u64>,
    /// How often each secret's surrogate was left as it was, and why.
    pub(crate) refused: BTreeMap<(String, Refusal), u64>,
}

impl Rewriter {
    /// For the run's `swaps`; `refuse_all`: swap nothing, for this reason
    /// (a plain-HTTP request, or a `Host` that is not the connection's).
    pub(crate) fn new(swaps: &[Swap], refuse_all: Option<Refusal>) -> Rewriter {
        let allowed = swaps
            .iter()
            .map(|s| match (refuse_all, s.allowed) {
                (_, false) => Allowed::Refused(Refusal::Host),
                (Some(r), true) => Allowed::Refused(r),
                (None, true) => Allowed::Swap { in_body: s.in_body },
            })
            .collect();
        let surrogates: Vec<Vec<u8>> = swaps.iter().map(|s| s.surrogate.clone()).collect();
        let matcher = (!surrogates.is_empty())
            .then(|| AhoCorasick::new(&surrogates).ok())
            .flatten();
        Rewriter {
            names: swaps.iter().map(|s| s.name.clone()).collect(),
            longest: surrogates.iter().map(Vec::len).max().unwrap_or(0),
            values: swaps.iter().map(|s| s.value.clone()).collect(),
            allowed,
            matcher,
            swapped: BTreeMap::new(),
            refused: BTreeMap::new(),
        }
    }

    /// Whether anything in the request could change or be counted.
    pub(crate) fn is_empty(&self) -> bool {
        self.matcher.is_none()
    }

    /// Swaps (or counts) the surrogates in `bytes`, found at `place`.
    /// Returns whether anything was swapped.
    pub(crate) fn apply(&mut self, bytes: &mut [u8], place: Place) -> bool {
        let Some(matcher) = &self.matcher else {
            return false;
        };
        let mut changed = false;
        let found: Vec<(usize, std::ops::Range<usize>)> = matcher
            .find_iter(&*bytes)
            .map(|m| (m.pattern().as_usize(), m.range()))
            .collect();
        for (i, range) in found {
            let refusal = match (self.allowed[i], place) {
                (Allowed::Refused(r), _) => Some(r),
                (Allowed::Swap { .. }, Place::Header) => None,
                (Allowed::Swap { in_body: true }, _) => None,
                (Allowed::Swap { in_body: false }, Place::Line) => Some(Refusal::RequestLine),
                (Allowed::Swap { in_body: false }, Place::Body) => Some(Refusal::Body),
                (Allowed::Swap { in_body: false }, Place::OtherHeader) => Some(Refusal::Header),
            };
            match refusal {
                Some(r) => {
                    *self.refused.entry((self.names[i].clone(), r)).or_default() += 1;
                }
                None => {
                    bytes[range].copy_from_slice(&self.values[i]);
                    *self.swapped.entry(self.names[i].clone()).or_default() += 1;
                    changed = true;
                }
            }
        }
        changed
    }

    /// Header `name`'s value: swapped in place (in a credential header; in
    /// any header for a secret allowed in the body), and inside `Basic`
    /// credentials (decoded, swapped, encoded again: same length, as the
    /// decoded text keeps its length).
    pub(crate) fn header(&mut self, name: &str, value: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let place = if is_credential_header(name) {
            Place::Header
        } else {
            Place::OtherHeader
        };
        let mut out = Zeroizing::new(value.to_vec());
        let mut changed = self.apply(&mut out, place);
        let scheme = b"basic ";
        if out.len() > scheme.len() && out[..scheme.len()].eq_ignore_ascii_case(scheme) {
            let b64 = base64::engine::general_purpose::STANDARD;
            let text = String::from_utf8_lossy(&out[scheme.len()..])
                .trim()
                .to_owned();
            if let Ok(decoded) = b64.decode(text.as_bytes()) {
                let mut decoded = Zeroizing::new(decoded);
                if self.apply(&mut decoded, place) {
                    let mut encoded = Zeroizing::new(out[..scheme.len()].to_vec());
                    encoded.extend_from_slice(b64.encode(&*decoded).as_bytes());
                    out = encoded;
                    changed = true;
                }
            }
        }
        changed.then_some(out)
    }

    /// A streaming rewriter for the body, holding back the bytes that
    /// could begin a surrogate cut by a chunk's end.
    pub(crate) fn body(self) -> BodyRewriter {
        BodyRewriter {
            hold: self.longest.saturating_sub(1),
            rewriter: self,
            pending: Zeroizing::new(Vec::new()),
        }
    }
}

/// [`Rewriter`] over a body, chunk by chunk.
pub(crate) struct BodyRewriter {
    pub(crate) rewriter: Rewriter,
    pending: Zeroizing<Vec<u8>>,
    hold: usize,
}

impl BodyRewriter {
    /// Rewrites `chunk`, appending what is decided to `out`.
    pub(crate) fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        self.pending.extend_from_slice(chunk);
        let last_end = self.rewrite_pending();
        let keep_from = last_end.max(self.pending.len().saturating_sub(self.hold));
        out.extend_from_slice(&self.pending[..keep_from]);
        self.pending.drain(..keep_from);
    }

    /// The rest.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) {
        self.rewrite_pending();
        out.extend_from_slice(&self.pending);
        self.pending.clear();
    }

    /// Rewrites the pending bytes; returns the end of the last surrogate
    /// found (bytes before it are decided).
    fn rewrite_pending(&mut self) -> usize {
        let Some(m) = &self.rewriter.matcher else {
            return self.pending.len();
        };
        let last = m.find_iter(&*self.pending).last().map_or(0, |m| m.end());
        // Found surrogates are swapped (or counted) once, here: the bytes
        // before `last` leave with this call.
        let mut head = Zeroizing::new(self.pending[..last].to_vec());
        self.rewriter.apply(&mut head, Place::Body);
        self.pending[..last].copy_from_slice(&head);
        last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn swap(name: &str, surrogate: &str, value: &str, allowed: bool, in_body: bool) -> Swap {
        Swap {
            name: name.into(),
            surrogate: surrogate.as_bytes().to_vec(),
            value: Zeroizing::new(value.as_bytes().to_vec()),
            allowed,
            in_body,
        }
    }

    #[test]
    fn headers_swap_and_basic_credentials_are_recoded() {
        let swaps = [
            swap("T", "SURR0GATE-T-0001", "value-of-t-00001", true, false),
            swap("O", "SURR0GATE-O-0001", "value-of-o-00001", false, false),
        ];
        let mut r = Rewriter::new(&swaps, None);
        let h = r
            .header("Authorization", b"Bearer SURR0GATE-T-0001")
            .unwrap();
        assert_eq!(&h[..], b"Bearer value-of-t-00001");
        let b64 = base64::engine::general_purpose::STANDARD;
        let basic = format!("Basic {}", b64.encode("x:SURR0GATE-T-0001"));
        let h = r.header("authorization", basic.as_bytes()).unwrap();
        assert_eq!(
            &h[..],
            format!("Basic {}", b64.encode("x:value-of-t-00001")).as_bytes()
        );
        assert!(
            r.header("X-Api-Key", b"token SURR0GATE-O-0001").is_none(),
            "not for this host"
        );
        assert!(
            r.header("X-Api-Key", b"SURR0GATE-T-0001").is_some(),
            "a credential header"
        );
        assert!(
            r.header("x-amz-meta-apikey", b"SURR0GATE-T-0001").is_none(),
            "stored"
        );
        assert!(
            r.header("X-Note", b"SURR0GATE-T-0001").is_none(),
            "not a credential header"
        );
        assert_eq!(r.refused[&("T".into(), Refusal::Header)], 2);
        assert_eq!(r.swapped["T"], 3);
        assert_eq!(r.refused[&("O".into(), Refusal::Host)], 1);
        let mut line = b"/x?t=SURR0GATE-T-0001".to_vec();
        assert!(!r.apply(&mut line, Place::Line), "headers only");
        assert_eq!(r.refused[&("T".into(), Refusal::RequestLine)], 1);
    }

    #[test]
    fn a_body_swaps_across_every_chunking() {
        let swaps = [swap(
            "T",
            "SURR0GATE-T-0001",
            "value-of-t-00001",
            true,
            true,
        )];
        let input = b"a=SURR0GATE-T-0001&b=SURR0GATE-T-0001&c=SURR0GATE";
        for cut in 1..input.len() {
            let mut b = Rewriter::new(&swaps, None).body();
            let mut out = Vec::new();
            for chunk in input.chunks(cut) {
                b.feed(chunk, &mut out);
            }
            b.finish(&mut out);
            assert_eq!(out, b"a=value-of-t-00001&b=value-of-t-00001&c=SURR0GATE");
            assert_eq!(b.rewriter.swapped["T"], 2);
        }
        let mut b = Rewriter::new(&swaps, Some(Refusal::PlainHttp)).body();
        let mut out = Vec::new();
        b.feed(input, &mut out);
        b.finish(&mut out);
        assert_eq!(out, input, "refused: unchanged");
        assert_eq!(b.rewriter.refused[&("T".into(), Refusal::PlainHttp)], 2);
    }
}
