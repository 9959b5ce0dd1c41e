//! Hex and binary dump lines: `xxd` (also `-g1`, `-b`), `hexdump -C`,
//! `od -tx1` (with or without `-An`), `curl --trace`. (The text lines of
//! `curl --trace-ascii` are joined by the line-break view.)
//!
//! A line is an optional offset (hex or octal digits, `0000:` or
//! `00000000:` or `0000000`), then groups of 2, 4 or 8 hex digits (or 8
//! binary digits) separated by one or two spaces, at most 16 bytes, then
//! optionally a gutter: anything after three or more spaces or after a
//! token that is no group. A line without an offset must start with a
//! space (`od -An`). Consecutive lines of the same layout spell one run.
//!
//! Lines are looked at only from a candidate window on: 8 bytes of hex
//! digits, spaces and colons at a stream offset that is a multiple of
//! [`STEP`], which every full line of these tools holds (their hex columns
//! are at least 39 bytes wide); from the line of such a window on, lines
//! are read until one is no dump line.

use super::{Decoded, HIGH, Kind, MAX_LINE, Masks};

/// The most bytes one line of a dump spells.
const MAX_LINE_BYTES: usize = 16;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Layout {
    Hex(usize),
    Binary,
}

/// The longest step between candidate windows: the narrowest hex columns
/// (`xxd`'s, 39 bytes) less a window, rounded down to a multiple of 8.
pub(super) const STEP: usize = 32;

/// Whether a window could lie in a dump line's hex columns: hex digits,
/// colons and one to five spaces.
pub(super) fn looks(m: Masks) -> bool {
    (m.hex | m.space) == HIGH && (1..6).contains(&m.space.count_ones())
}

/// Decodes the dump lines from the line of each candidate window (at
/// `candidates`, ascending) on.
pub(super) fn decode(hay: &[u8], at_start: bool, candidates: &[usize], out: &mut Decoded) {
    let mut done = 0;
    for &p in candidates {
        if p < done {
            continue;
        }
        // A line whose start is not in `hay` is not judged: its start
        // decides.
        let mut from = match memchr::memrchr(b'\n', &hay[..p]) {
            Some(i) => i + 1,
            None if at_start => 0,
            None => continue,
        };
        let mut current: Option<Layout> = None;
        while from < hay.len() {
            let end = memchr::memchr(b'\n', &hay[from..]).map_or(hay.len(), |i| from + i);
            let to = if end > from && hay[end - 1] == b'\r' {
                end - 1
            } else {
                end
            };
            let layout = if to - from <= MAX_LINE && could_be(&hay[from..to]) {
                line(hay, from, to, current, out)
            } else {
                None
            };
            current = layout;
            if current.is_none() {
                break;
            }
            from = end + 1;
        }
        out.end();
        done = from.max(p + 1);
    }
}

/// The start of the block of lines up to the end of `hay` that more input
/// could still make part of a dump run (`hay.len()` when none, never below
/// `floor`): only when the last, unterminated line could still become a
/// dump line; then it and the lines before it that could be ones.
pub(super) fn open_from(hay: &[u8], floor: usize) -> usize {
    let len = hay.len();
    let mut start = memchr::memrchr(b'\n', hay).map_or(0, |i| i + 1);
    if !could_become(&hay[start..]) {
        return len;
    }
    while start > floor {
        // `hay[start - 1]` is the line feed that ends the line before.
        let end = start - 1;
        let from = memchr::memrchr(b'\n', &hay[..end]).map_or(0, |i| i + 1);
        let l = &hay[from..end];
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        if l.len() > MAX_LINE || !could_be(l) || !starts_like_one(l, true) {
            break;
        }
        start = from;
    }
    start.max(floor)
}

/// Whether an unterminated line could still become a dump line.
fn could_become(l: &[u8]) -> bool {
    if l.len() > MAX_LINE {
        return false;
    }
    match l {
        [] => true,
        [b' ', rest @ ..] => {
            let rest = &rest[rest.iter().position(|&b| b != b' ').unwrap_or(rest.len())..];
            rest.iter().take(2).all(u8::is_ascii_hexdigit)
        }
        _ => l.iter().take(4).all(u8::is_ascii_hexdigit) && starts_like_one(l, false),
    }
}

/// Whether a line that does not start with a space starts as a dump line
/// must, with an offset (see `line`); `complete` when the whole line is
/// there. A timestamp (`2026-12-02`) is no offset.
fn starts_like_one(l: &[u8], complete: bool) -> bool {
    if l.first() == Some(&b' ') {
        return true;
    }
    let t = l.iter().position(|&b| b == b' ').unwrap_or(l.len());
    let tok = &l[..t];
    let body = tok.strip_suffix(b":").unwrap_or(tok);
    if !body.iter().all(u8::is_ascii_hexdigit) {
        return false;
    }
    if t == l.len() && !complete {
        // The offset may still be coming.
        return true;
    }
    (tok.len() >= 3 && tok.ends_with(b":"))
        || (tok.len() >= 6 && body.len() == tok.len() && t < l.len())
}

/// A quick look at a line's start: an offset's digits, or a space and a
/// group's two digits.
fn could_be(l: &[u8]) -> bool {
    match l {
        [b' ', rest @ ..] => {
            let rest = &rest[rest.iter().position(|&b| b != b' ').unwrap_or(rest.len())..];
            rest.len() >= 2 && rest[..2].iter().all(u8::is_ascii_hexdigit)
        }
        [a, b, c, d, ..] => [a, b, c, d].iter().all(|x| x.is_ascii_hexdigit()),
        _ => false,
    }
}

/// Decodes one line into `out` (continuing the run of the line before if
/// it has the same layout); returns its layout, or `None` if it is none.
fn line(
    hay: &[u8],
    from: usize,
    to: usize,
    before: Option<Layout>,
    out: &mut Decoded,
) -> Option<Layout> {
    let l = &hay[from..to];
    let first = *l.first()?;
    if !(first == b' ' || first.is_ascii_hexdigit()) {
        return None;
    }
    let mut i = l.iter().position(|&b| b != b' ')?;
    let starts_with_space = i > 0;
    let tok_end = |i: usize| {
        l[i..]
            .iter()
            .position(|&b| b == b' ')
            .map_or(l.len(), |n| i + n)
    };
    let t = tok_end(i);
    let tok = &l[i..t];
    let offset = if tok.len() >= 3 && tok.ends_with(b":") {
        tok[..tok.len() - 1].iter().all(u8::is_ascii_hexdigit)
    } else {
        tok.len() >= 6 && t < l.len() && tok.iter().all(u8::is_ascii_hexdigit)
    };
    if offset {
        i = t;
    } else if !starts_with_space {
        return None;
    }
    // The groups.
    let mut groups: Vec<(usize, usize)> = Vec::new();
    let mut bytes = 0;
    let mut layout: Option<Layout> = None;
    let mut gutter = false;
    loop {
        let gap = l[i..].iter().take_while(|&&b| b == b' ').count();
        i += gap;
        if i >= l.len() {
            break;
        }
        if !groups.is_empty() && gap >= 3 {
            gutter = true;
            break;
        }
        let t = tok_end(i);
        let tok = &l[i..t];
        let kind = if tok.len() == 8 && tok.iter().all(|b| matches!(b, b'0' | b'1')) {
            Some(Layout::Binary)
        } else if matches!(tok.len(), 2 | 4 | 8) && tok.iter().all(u8::is_ascii_hexdigit) {
            Some(Layout::Hex(tok.len()))
        } else {
            None
        };
        let n = match kind {
            Some(Layout::Binary) => 1,
            Some(Layout::Hex(d)) => d / 2,
            _ => 0,
        };
        // A shorter last group is fine (an odd byte count); a different
        // layout, or more than a line holds, starts the gutter.
        let fits = match (layout, kind) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(Layout::Hex(a)), Some(Layout::Hex(b))) => b <= a,
            (Some(a), Some(b)) => a == b,
        };
        if !fits || bytes + n > MAX_LINE_BYTES {
            gutter = true;
            break;
        }
        layout = layout.or(kind);
        groups.push((i, t));
        bytes += n;
        i = t;
    }
    let layout = layout?;
    if !offset && groups.len() < 2 && before.is_none() {
        return None;
    }
    let run_layout = match layout {
        Layout::Hex(_) => Layout::Hex(0),
        other => other,
    };
    if before != Some(run_layout) {
        out.begin(Kind::HexDump);
    }
    let first = out.len();
    for (s, e) in groups {
        let g = &l[s..e];
        if run_layout == Layout::Binary {
            let v = g.iter().fold(0u8, |a, &b| (a << 1) | (b - b'0'));
            out.push(v, from + s, from + e);
        } else {
            for k in (0..g.len() - 1).step_by(2) {
                let v = (hex(g[k]) << 4) | hex(g[k + 1]);
                out.push(v, from + s + k, from + s + k + 2);
            }
        }
    }
    if gutter {
        // The gutter spells the line's bytes again: a match that ends on
        // this line covers it.
        out.extend_from(first, to);
    }
    Some(run_layout)
}

fn hex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}
