//! Deterministic data for benchmarks and tests: log-like text and random
//! secrets, made from a seed (no OS randomness). Not a public API.

/// A small, fast, deterministic generator (xorshift64*).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (any value).
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number below `n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `n` secrets of `len` random alphanumeric bytes, named `SECRET_0`….
pub fn secrets(n: usize, len: usize, seed: u64) -> Vec<(String, Vec<u8>)> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|i| {
            let v = (0..len).map(|_| ALNUM[rng.below(ALNUM.len())]).collect();
            (format!("SECRET_{i}"), v)
        })
        .collect()
}

/// About `len` bytes of log-like text: timestamps, levels, paths, ids,
/// durations, the occasional JSON body and hex digest.
pub fn log_text(len: usize, seed: u64) -> Vec<u8> {
    const LEVELS: &[&str] = &["INFO", "DEBUG", "WARN", "INFO", "ERROR", "INFO"];
    const PATHS: &[&str] = &[
        "/api/v1/items",
        "/api/v1/users/me",
        "/healthz",
        "/static/app.js",
        "/api/v2/search?q=rust+scrubber",
        "/login",
    ];
    const USERS: &[&str] = &["alice", "bob", "carol", "dave", "eve", "mallory"];
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(len + 256);
    let mut line = String::new();
    while out.len() < len {
        line.clear();
        let t = rng.below(86_400);
        line.push_str(&format!(
            "2026-11-28T{:02}:{:02}:{:02}.{:03}Z {} [worker-{}] ",
            t / 3600,
            t / 60 % 60,
            t % 60,
            rng.below(1000),
            LEVELS[rng.below(LEVELS.len())],
            rng.below(16)
        ));
        match rng.below(4) {
            0 => line.push_str(&format!(
                "{{\"event\":\"request\",\"user\":\"{}\",\"items\":[{},{},{}],\"ok\":true}}",
                USERS[rng.below(USERS.len())],
                rng.below(1000),
                rng.below(1000),
                rng.below(1000)
            )),
            1 => line.push_str(&format!(
                "commit {:016x}{:016x} build #{} finished in {}ms",
                rng.next_u64(),
                rng.next_u64(),
                rng.below(100_000),
                rng.below(5000)
            )),
            _ => line.push_str(&format!(
                "GET {}/{} status={} dur={}ms user={} req_id={:08x}",
                PATHS[rng.below(PATHS.len())],
                rng.below(100_000),
                [200, 200, 201, 304, 404, 500][rng.below(6)],
                rng.below(2000),
                USERS[rng.below(USERS.len())],
                rng.next_u64() as u32
            )),
        }
        line.push('\n');
        out.extend_from_slice(line.as_bytes());
    }
    out.truncate(len);
    out
}

/// Looks for `value` in `output` in every form a reader could recover it
/// from, decoding independently of the scrubber's own encoders: raw,
/// reversed, upper- or lower-cased, rot13, with whitespace and separators
/// stripped, and inside decoded
/// base64 (both alphabets, every alignment), hex, percent, JSON and `\xNN`
/// runs. Returns the first form found, for a test's failure message (never
/// the value).
pub fn find_leak(output: &[u8], value: &[u8]) -> Option<&'static str> {
    let reversed: Vec<u8> = value.iter().rev().copied().collect();
    let mut views: Vec<(&'static str, Vec<u8>)> = vec![("raw", output.to_vec())];
    let stripped: Vec<u8> = output
        .iter()
        .copied()
        .filter(|b| !b" \t\r\n-_:.,;|".contains(b))
        .collect();
    views.push(("separators stripped", stripped.clone()));
    // Each decoded run is its own view: joining them could spell a value
    // that no single run holds.
    views.extend(
        decode_base64_runs(&stripped)
            .into_iter()
            .map(|r| ("base64", r)),
    );
    views.extend(
        decode_base64_runs(output)
            .into_iter()
            .map(|r| ("base64 runs", r)),
    );
    views.extend(decode_hex_runs(&stripped).into_iter().map(|r| ("hex", r)));
    views.push(("percent", decode_escapes(output, b"%", 2)));
    views.push(("hex escape", decode_escapes(output, b"\\x", 2)));
    views.push(("json", decode_json_escapes(output)));
    let upper = value.to_ascii_uppercase();
    let lower = value.to_ascii_lowercase();
    let rot13 = rot13(value);
    for (form, view) in &views {
        if contains(view, value) {
            return Some(form);
        }
        if contains(view, &reversed) {
            return Some("reversed");
        }
        // Case changes and rot13 (only meaningful for values with letters).
        if value.iter().any(u8::is_ascii_alphabetic) {
            if contains(view, &upper) || contains(view, &lower) {
                return Some("case-folded");
            }
            if contains(view, &rot13) {
                return Some("rot13");
            }
        }
    }
    None
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

fn b64_value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' | b'-' => Some(62),
        b'/' | b'_' => Some(63),
        _ => None,
    }
}

/// Every maximal run of base64 characters, decoded at each of the four
/// character offsets.
fn decode_base64_runs(text: &[u8]) -> Vec<Vec<u8>> {
    let mut pieces = Vec::new();
    for run in text.split(|&c| b64_value(c).is_none()) {
        if run.len() < 8 {
            continue;
        }
        for offset in 0..4 {
            let mut out = Vec::new();
            let mut acc = 0u32;
            let mut bits = 0;
            for &c in &run[offset.min(run.len())..] {
                acc = (acc << 6) | u32::from(b64_value(c).unwrap_or(0));
                bits += 6;
                if bits >= 8 {
                    bits -= 8;
                    out.push((acc >> bits) as u8);
                    acc &= (1 << bits) - 1;
                }
            }
            pieces.push(out);
        }
    }
    pieces
}

fn hex_value(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Every run of hex digits, decoded at both nibble offsets.
fn decode_hex_runs(text: &[u8]) -> Vec<Vec<u8>> {
    let mut pieces = Vec::new();
    for run in text.split(|&c| hex_value(c).is_none()) {
        for offset in 0..2 {
            let out = run
                .get(offset..)
                .unwrap_or_default()
                .chunks_exact(2)
                .map(|pair| hex_value(pair[0]).unwrap_or(0) << 4 | hex_value(pair[1]).unwrap_or(0))
                .collect();
            pieces.push(out);
        }
    }
    pieces
}

/// Replaces every `PREFIX` followed by `digits` hex digits with its byte.
fn decode_escapes(text: &[u8], prefix: &[u8], digits: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i..].starts_with(prefix) {
            let h = &text[i + prefix.len()..];
            if h.len() >= digits && h[..digits].iter().all(|&c| hex_value(c).is_some()) {
                let v = h[..digits]
                    .iter()
                    .fold(0u32, |a, &c| a * 16 + u32::from(hex_value(c).unwrap_or(0)));
                out.push(v as u8);
                i += prefix.len() + digits;
                continue;
            }
        }
        out.push(text[i]);
        i += 1;
    }
    out
}

/// Undoes JSON string escapes, `\uXXXX` (with surrogate pairs) included.
fn decode_json_escapes(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    let unit = |at: usize| -> Option<u32> {
        let h = text.get(at..at + 4)?;
        h.iter()
            .try_fold(0u32, |a, &c| Some(a * 16 + u32::from(hex_value(c)?)))
    };
    while i < text.len() {
        if text[i] == b'\\' && i + 1 < text.len() {
            let simple = match text[i + 1] {
                b'"' => Some(b'"'),
                b'\\' => Some(b'\\'),
                b'/' => Some(b'/'),
                b'n' => Some(b'\n'),
                b'r' => Some(b'\r'),
                b't' => Some(b'\t'),
                b'b' => Some(8),
                b'f' => Some(12),
                _ => None,
            };
            if let Some(b) = simple {
                out.push(b);
                i += 2;
                continue;
            }
            if text[i + 1] == b'u' {
                if let Some(u) = unit(i + 2) {
                    let (c, used) = if (0xD800..0xDC00).contains(&u)
                        && text.get(i + 6..i + 8) == Some(b"\\u")
                    {
                        let lo = unit(i + 8).unwrap_or(0);
                        (
                            0x10000 + ((u - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3FF),
                            12,
                        )
                    } else {
                        (u, 6)
                    };
                    let mut buf = [0u8; 4];
                    let s = char::from_u32(c)
                        .unwrap_or('\u{fffd}')
                        .encode_utf8(&mut buf);
                    out.extend_from_slice(s.as_bytes());
                    i += used;
                    continue;
                }
            }
        }
        out.push(text[i]);
        i += 1;
    }
    out
}

/// `value` with its ASCII letters rotated by 13.
pub fn rot13(value: &[u8]) -> Vec<u8> {
    value
        .iter()
        .map(|&b| match b {
            b'a'..=b'z' => (b - b'a' + 13) % 26 + b'a',
            b'A'..=b'Z' => (b - b'A' + 13) % 26 + b'A',
            b => b,
        })
        .collect()
}
