//! Hosts: allowlist patterns, and the host a URL-like argument names.
//!
//! Hosts are compared after normalisation: ASCII-lowercased, IDNA-mapped to
//! their `xn--` form, trailing dot removed, port dropped. A URL whose
//! authority could be read two ways (two `@`, a backslash, percent-escapes,
//! curl's `{…}`/`[…]` globbing) is not given a host at all: it is reported as
//! ambiguous, and an ambiguous destination is refused.

use std::fmt;

use crate::shell::{DYNAMIC_MARK, PLACEHOLDER_MARK};

/// An allowlist entry: an exact host, or `*.suffix` for any host below it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(into = "String")]
pub struct HostPattern {
    wildcard: bool,
    host: String,
}

/// A host pattern that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPatternError {
    pattern: String,
    reason: &'static str,
}

impl fmt::Display for HostPatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "host pattern {:?} {}", self.pattern, self.reason)
    }
}

impl std::error::Error for HostPatternError {}

impl HostPattern {
    /// Parses `api.github.com`, `*.github.com`, `127.0.0.1`, `[::1]` (a port,
    /// if given, is ignored: allowlists are port-insensitive).
    ///
    /// # Errors
    ///
    /// A URL instead of a host, a wildcard anywhere but a leading `*.`, or
    /// text that is not a host name.
    ///
    /// # Example
    ///
    /// ```
    /// use claulock_core::destination::HostPattern;
    /// let p = HostPattern::parse("*.GitHub.com").unwrap();
    /// assert!(p.matches("api.github.com"));
    /// assert!(!p.matches("github.com"));
    /// assert!(!p.matches("api.github.com.evil.com"));
    /// ```
    pub fn parse(pattern: &str) -> Result<Self, HostPatternError> {
        let err = |reason| HostPatternError {
            pattern: pattern.to_owned(),
            reason,
        };
        if pattern.contains("://") || pattern.contains('/') {
            return Err(err(
                "is a URL or path; give only the host, e.g. api.github.com",
            ));
        }
        let (wildcard, rest) = match pattern.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, pattern),
        };
        if rest.contains('*') {
            return Err(err("may only use a wildcard as a leading `*.`"));
        }
        let host = strip_port(rest).ok_or_else(|| err("has a malformed port"))?;
        let host = normalize_host(host).map_err(err)?;
        Ok(HostPattern { wildcard, host })
    }

    /// Whether a normalised host (as [`normalize_host`] returns) matches.
    pub fn matches(&self, host: &str) -> bool {
        if self.wildcard {
            host.len() > self.host.len()
                && host.ends_with(&self.host)
                && host.as_bytes()[host.len() - self.host.len() - 1] == b'.'
        } else {
            host == self.host
        }
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.wildcard {
            f.write_str("*.")?;
        }
        f.write_str(&self.host)
    }
}

impl From<HostPattern> for String {
    fn from(p: HostPattern) -> String {
        p.to_string()
    }
}

/// Normalises a bare host name (no port): IDNA to ASCII, lower case, no
/// trailing dot.
///
/// # Errors
///
/// A static description when `host` is not a valid host name.
pub fn normalize_host(host: &str) -> Result<String, &'static str> {
    if host.is_empty() {
        return Err("is empty");
    }
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        if inner.parse::<std::net::Ipv6Addr>().is_err() {
            return Err("is not a valid IPv6 address");
        }
        return Ok(format!("[{}]", inner.to_ascii_lowercase()));
    }
    if host.contains('%') {
        return Err("has percent-escapes in its host name");
    }
    let ascii = idna::domain_to_ascii(host).map_err(|_| "is not a valid host name")?;
    let ascii = ascii.strip_suffix('.').unwrap_or(&ascii).to_owned();
    let valid = !ascii.is_empty()
        && ascii
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
        && !ascii.split('.').any(str::is_empty);
    if !valid {
        return Err("is not a valid host name");
    }
    Ok(ascii)
}

/// What a command-line word says about where data goes.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Target {
    /// A host known before anything runs.
    Host {
        /// The normalised host.
        host: String,
    },
    /// The host depends on an expansion (`$URL`, `$(…)`).
    Unknown {
        /// Why it cannot be known.
        why: String,
    },
    /// A placeholder sits in the host part: the value itself would be sent
    /// to a name server.
    PlaceholderInHost,
    /// The text can be read as more than one host, or as none.
    Ambiguous {
        /// What makes it ambiguous.
        why: String,
    },
}

/// Whether `word` (rendered with marks) holds a URL (`scheme://…`).
pub(crate) fn url_in(word: &str) -> Option<&str> {
    let idx = word.find("://")?;
    // The scheme is the run of scheme characters before `://`.
    let scheme_start = word[..idx]
        .char_indices()
        .rev()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
        .map_or(0, |(i, c)| i + c.len_utf8());
    if scheme_start == idx {
        return None;
    }
    Some(&word[scheme_start..])
}

/// The host of `user@host:path` (scp and git's SSH form), if `word` has it.
pub(crate) fn scp_host(word: &str) -> Option<Target> {
    if word.starts_with('-') || word.contains("://") {
        return None;
    }
    let colon = word.find(':')?;
    let before = &word[..colon];
    if before.contains('/') || before.is_empty() {
        return None;
    }
    let host = before.rsplit_once('@').map_or(before, |(_, h)| h);
    if before.matches('@').count() > 1 {
        return Some(Target::Ambiguous {
            why: "more than one `@`".into(),
        });
    }
    Some(host_target(host))
}

/// The host of a URL, or of a bare `host[:port][/path]` when `bare` (network
/// programs read their operands that way).
pub(crate) fn url_target(text: &str) -> Target {
    let rest = match text.find("://") {
        Some(i) => {
            let scheme = &text[..i];
            if scheme.contains(PLACEHOLDER_MARK) {
                return Target::PlaceholderInHost;
            }
            if scheme.contains(DYNAMIC_MARK) {
                return Target::Unknown {
                    why: "the URL scheme is an expansion".into(),
                };
            }
            &text[i + 3..]
        }
        None => text,
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains(PLACEHOLDER_MARK) {
        // A placeholder in the user-info part is ordinary basic auth.
        match authority.rsplit_once('@') {
            Some((_, host)) if !host.contains(PLACEHOLDER_MARK) => {}
            _ => return Target::PlaceholderInHost,
        }
    }
    if authority.contains(DYNAMIC_MARK) {
        return Target::Unknown {
            why: "the host is an expansion".into(),
        };
    }
    if authority.contains('\\') {
        return Target::Ambiguous {
            why: "a backslash in the host part".into(),
        };
    }
    if authority.matches('@').count() > 1 {
        return Target::Ambiguous {
            why: "more than one `@` in the host part".into(),
        };
    }
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if hostport.contains(['{', '}']) || (hostport.contains('[') && !hostport.starts_with('[')) {
        return Target::Ambiguous {
            why: "URL globbing (`{…}` or `[…]`) in the host part".into(),
        };
    }
    match strip_port(hostport) {
        Some(host) => host_target(host),
        None => Target::Ambiguous {
            why: "a malformed port".into(),
        },
    }
}

fn host_target(host: &str) -> Target {
    if host.contains(PLACEHOLDER_MARK) {
        return Target::PlaceholderInHost;
    }
    if host.contains(DYNAMIC_MARK) {
        return Target::Unknown {
            why: "the host is an expansion".into(),
        };
    }
    match normalize_host(host) {
        Ok(host) => Target::Host { host },
        Err(why) => Target::Ambiguous {
            why: format!("{host:?} {why}"),
        },
    }
}

/// Drops a `:port` suffix; `None` when the port is not a number.
fn strip_port(hostport: &str) -> Option<&str> {
    if hostport.starts_with('[') {
        let close = hostport.find(']')?;
        let after = &hostport[close + 1..];
        return match after.strip_prefix(':') {
            Some(port) if port.bytes().all(|b| b.is_ascii_digit()) => Some(&hostport[..=close]),
            None if after.is_empty() => Some(&hostport[..=close]),
            _ => None,
        };
    }
    match hostport.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !host.contains(':') => {
            Some(host)
        }
        Some(_) => None,
        None => Some(hostport),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_targets() {
        let host = |h: &str| Target::Host { host: h.into() };
        let cases: &[(&str, Target)] = &[
            ("https://api.github.com/user", host("api.github.com")),
            ("HTTPS://API.GitHub.COM.:443/x", host("api.github.com")),
            ("https://bücher.de/", host("xn--bcher-kva.de")),
            ("https://api.github.com@evil.com/", host("evil.com")),
            ("https://user:pw@api.github.com/", host("api.github.com")),
            ("http://[::1]:8080/", host("[::1]")),
            ("api.github.com/user", host("api.github.com")),
            (
                "https://api.github.com.evil.com",
                host("api.github.com.evil.com"),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(&url_target(text), want, "{text}");
        }
        // Found by the `decide` fuzz target: a multi-byte character before
        // the scheme.
        assert_eq!(url_in("\u{59f}ido://\u{7}"), Some("ido://\u{7}"));
        for text in [
            "https://a@b@c/",
            "https://evil.com\\@api.github.com/",
            "https://api.github{.com,.evil.com}/",
            "https://api%2egithub.com/",
            "https://host:port/",
        ] {
            assert!(
                matches!(url_target(text), Target::Ambiguous { .. }),
                "{text}"
            );
        }
    }
}
