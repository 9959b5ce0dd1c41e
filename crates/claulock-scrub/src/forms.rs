//! The forms a secret can take in output, and the byte patterns of each.

use std::fmt;

/// A form in which a secret's value can appear.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Form {
    /// The value itself.
    Raw,
    /// The value reversed, byte by byte.
    Reversed,
    /// Standard base64 (`+/`), padded or not, at any byte alignment inside
    /// a larger blob.
    Base64,
    /// URL-safe base64 (`-_`), padded or not, at any alignment.
    Base64Url,
    /// Hexadecimal, lower or upper case.
    Hex,
    /// Percent-encoding, as `encodeURIComponent` or as `%XX` of every byte.
    Percent,
    /// A JSON string body: `\"`, `\\`, `\/`, control and `\uXXXX` escapes.
    Json,
    /// `\xNN` escapes of every byte.
    HexEscape,
    /// One line of a multi-line value (a PEM key).
    Line,
    /// A window of at least K bytes of a long, high-entropy value.
    Fragment,
    /// At the end of a stream, a prefix of some form that the stream cut off.
    Partial,
    /// Hex or binary columns of a dump (`xxd`, `hexdump -C`, `od -tx1`,
    /// `curl --trace`).
    HexDump,
    /// One number per byte (`od -tu1`, `printf '%d '`, `list(b"…")`,
    /// `xxd -i`).
    ByteList,
    /// One character per line or field (`grep -o .`, `fold -w1`, `od -c`).
    Chars,
}

impl Form {
    /// The name used in markers and statistics (`base64`, `hex`, …); the raw
    /// value's name is `raw`.
    pub fn as_str(self) -> &'static str {
        match self {
            Form::Raw => "raw",
            Form::Reversed => "reversed",
            Form::Base64 => "base64",
            Form::Base64Url => "base64url",
            Form::Hex => "hex",
            Form::Percent => "percent",
            Form::Json => "json",
            Form::HexEscape => "hex-escape",
            Form::Line => "line",
            Form::Fragment => "fragment",
            Form::Partial => "partial",
            Form::HexDump => "hexdump",
            Form::ByteList => "byte-list",
            Form::Chars => "chars",
        }
    }
}

impl fmt::Display for Form {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which forms a scrubber looks for. All are on by default except
/// fragments, which need a window size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Forms {
    /// The value itself (always wise to keep on).
    pub raw: bool,
    /// Reversed.
    pub reversed: bool,
    /// Standard base64.
    pub base64: bool,
    /// URL-safe base64.
    pub base64url: bool,
    /// Hex, both cases.
    pub hex: bool,
    /// Percent-encoding.
    pub percent: bool,
    /// JSON string escaping.
    pub json: bool,
    /// `\xNN` escapes.
    pub hex_escape: bool,
    /// Each long line of a multi-line value.
    pub lines: bool,
    /// Windows of this many bytes of long, high-entropy values (`None`: off).
    pub fragments: Option<usize>,
    /// Match across line breaks between code characters, so that an
    /// encoding wrapped by `base64` (76 columns), PEM (64) or `fold` is
    /// still caught. Costs a larger hold-back (3× the longest pattern).
    pub line_breaks: bool,
    /// Match across bytes that can sit between a value's characters
    /// without being read as part of it: ANSI escape sequences, NUL,
    /// zero-width and other invisible code points, and backspace
    /// overstrikes (`sed 's/./&\x1b[0m/g'`, a zero-width space after every
    /// character, `man`'s bold). Costs a larger hold-back (16× the longest
    /// pattern, plus 260 bytes).
    pub invisible: bool,
    /// Every form above, spelled byte by byte by a dump: hex and binary
    /// dumps (`xxd`, `hexdump -C`, `od -tx1`, `curl --trace`), lists of
    /// numbers (`od -tu1`, `printf '%d '`, `list(b"…")`, `xxd -i`), one
    /// character per line or field (`grep -o .`, `fold -w1`, `od -c`,
    /// through `nl`). Costs the same hold-back as `invisible`.
    pub dumps: bool,
}

impl Default for Forms {
    fn default() -> Self {
        Forms {
            raw: true,
            reversed: true,
            base64: true,
            base64url: true,
            hex: true,
            percent: true,
            json: true,
            hex_escape: true,
            lines: true,
            fragments: None,
            line_breaks: true,
            invisible: true,
            dumps: true,
        }
    }
}

/// The shortest line of a multi-line value that is masked on its own.
pub(crate) const MIN_LINE: usize = 16;

/// Fragments are cut only from values at least this long and this varied.
pub(crate) const MIN_FRAGMENT_SOURCE: usize = 24;

/// Every pattern of `value` under `forms`, in priority order (a marker names
/// the earliest form that matched).
pub(crate) fn patterns(value: &[u8], forms: &Forms) -> Vec<(Form, Vec<u8>)> {
    let mut out = Vec::new();
    if forms.raw {
        out.push((Form::Raw, value.to_vec()));
    }
    if forms.reversed {
        out.push((Form::Reversed, value.iter().rev().copied().collect()));
    }
    if forms.base64 {
        for p in base64_forms(value, STANDARD) {
            out.push((Form::Base64, p));
        }
    }
    if forms.base64url {
        for p in base64_forms(value, URL_SAFE) {
            out.push((Form::Base64Url, p));
        }
    }
    if forms.hex {
        out.push((Form::Hex, hex(value, LOWER, "")));
        out.push((Form::Hex, hex(value, UPPER, "")));
    }
    if forms.percent {
        out.push((Form::Percent, uri_component(value)));
        out.push((Form::Percent, hex(value, UPPER, "%")));
        out.push((Form::Percent, hex(value, LOWER, "%")));
    }
    if forms.json {
        out.extend(json_forms(value).into_iter().map(|p| (Form::Json, p)));
    }
    if forms.hex_escape {
        out.push((Form::HexEscape, hex(value, LOWER, "\\x")));
        out.push((Form::HexEscape, hex(value, UPPER, "\\x")));
    }
    if forms.lines && value.contains(&b'\n') {
        for line in value.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let armor = line.starts_with(b"-----") && line.ends_with(b"-----");
            if line.len() >= MIN_LINE && !armor {
                out.push((Form::Line, line.to_vec()));
            }
        }
    }
    if let Some(k) = forms.fragments {
        if k > 0 && value.len() >= MIN_FRAGMENT_SOURCE.max(k + 1) && is_high_entropy(value) {
            for w in value.windows(k) {
                out.push((Form::Fragment, w.to_vec()));
            }
        }
    }
    out
}

/// Whether `value` looks random enough that fragments of it are safe to mask.
pub(crate) fn is_high_entropy(value: &[u8]) -> bool {
    entropy_bits(value) >= 3.0
}

/// Shannon entropy of the byte distribution, in bits per byte.
pub(crate) fn entropy_bits(value: &[u8]) -> f64 {
    if value.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in value {
        counts[usize::from(b)] += 1;
    }
    let n = value.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

const LOWER: &[u8; 16] = b"0123456789abcdef";
const UPPER: &[u8; 16] = b"0123456789ABCDEF";

fn hex(value: &[u8], digits: &[u8; 16], prefix: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() * (2 + prefix.len()));
    for &b in value {
        out.extend_from_slice(prefix.as_bytes());
        out.push(digits[usize::from(b >> 4)]);
        out.push(digits[usize::from(b & 15)]);
    }
    out
}

/// `encodeURIComponent`: unreserved characters stay, the rest is `%XX`.
fn uri_component(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() * 3);
    for &b in value {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b);
        } else {
            out.push(b'%');
            out.push(UPPER[usize::from(b >> 4)]);
            out.push(UPPER[usize::from(b & 15)]);
        }
    }
    out
}

/// JSON string bodies, as encoders differ: `/` plain or `\/`, non-ASCII
/// raw or `\uXXXX` (lower or upper hex), and every character escaped.
fn json_forms(value: &[u8]) -> Vec<Vec<u8>> {
    let Ok(text) = std::str::from_utf8(value) else {
        // A JSON encoder cannot take invalid UTF-8 as a string.
        return Vec::new();
    };
    let mut out = Vec::new();
    for escape_slash in [false, true] {
        for non_ascii in [None, Some(false), Some(true)] {
            let mut s = String::new();
            for c in text.chars() {
                match c {
                    '"' => s.push_str("\\\""),
                    '\\' => s.push_str("\\\\"),
                    '/' if escape_slash => s.push_str("\\/"),
                    '\n' => s.push_str("\\n"),
                    '\r' => s.push_str("\\r"),
                    '\t' => s.push_str("\\t"),
                    '\u{8}' => s.push_str("\\b"),
                    '\u{c}' => s.push_str("\\f"),
                    c if c.is_control() => push_u_escapes(&mut s, c, non_ascii.unwrap_or(false)),
                    c if !c.is_ascii() && non_ascii.is_some() => {
                        push_u_escapes(&mut s, c, non_ascii.unwrap_or(false));
                    }
                    c => s.push(c),
                }
            }
            out.push(s.into_bytes());
        }
    }
    for upper in [false, true] {
        let mut s = String::new();
        for c in text.chars() {
            push_u_escapes(&mut s, c, upper);
        }
        out.push(s.into_bytes());
    }
    out
}

/// `\uXXXX` for `c`, as a surrogate pair beyond the basic plane.
fn push_u_escapes(s: &mut String, c: char, upper: bool) {
    let mut units = [0u16; 2];
    for u in c.encode_utf16(&mut units) {
        if upper {
            s.push_str(&format!("\\u{u:04X}"));
        } else {
            s.push_str(&format!("\\u{u:04x}"));
        }
    }
}

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64 patterns of `value`: for each of the three byte alignments the
/// value can have inside a larger blob, the characters that depend on the
/// value's bytes alone; and the complete encodings of the value on its own,
/// padded and unpadded.
fn base64_forms(value: &[u8], alphabet: &[u8; 64]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for align in 0..3usize {
        let mut data = vec![0u8; align];
        data.extend_from_slice(value);
        let encoded = encode_base64(&data, alphabet, false);
        // Characters mixing pad bytes at the start: the first group's first
        // `align + 1` characters for align 1 and 2 (0 for align 0).
        let skip = match align {
            0 => 0,
            1 => 2,
            _ => 3,
        };
        let full_groups = data.len() / 3;
        let keep = full_groups * 4 + data.len() % 3;
        if keep > skip {
            out.push(encoded[skip..keep].to_vec());
        }
    }
    out.push(encode_base64(value, alphabet, true));
    out.push(encode_base64(value, alphabet, false));
    out
}

fn encode_base64(data: &[u8], alphabet: &[u8; 64], pad: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..4 {
            if i < chars {
                out.push(alphabet[((n >> (18 - 6 * i)) & 63) as usize]);
            } else if pad {
                out.push(b'=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_known_encodings() {
        assert_eq!(
            encode_base64(b"user:token", STANDARD, true),
            b"dXNlcjp0b2tlbg=="
        );
        assert_eq!(encode_base64(b"\xfb\xff", URL_SAFE, false), b"-_8");
        // "token" inside "user:token" sits at offset 5 (alignment 2).
        let blob = encode_base64(b"user:token", STANDARD, true);
        let forms = base64_forms(b"token", STANDARD);
        assert!(
            forms
                .iter()
                .any(|f| !f.is_empty() && blob.windows(f.len()).any(|w| w == f))
        );
    }

    #[test]
    fn json_and_percent() {
        let forms = json_forms("a\"/é\n".as_bytes());
        assert_eq!(forms[0], "a\\\"/é\\n".as_bytes());
        assert_eq!(forms[1], b"a\\\"/\\u00e9\\n");
        assert_eq!(forms[2], b"a\\\"/\\u00E9\\n");
        assert_eq!(forms[3], "a\\\"\\/é\\n".as_bytes());
        assert_eq!(forms[4], b"a\\\"\\/\\u00e9\\n");
        assert_eq!(uri_component(b"a b/c"), b"a%20b%2Fc");
        assert_eq!(hex(b"\x01\xab", UPPER, "%"), b"%01%AB");
    }
}
