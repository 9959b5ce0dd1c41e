//! One number per byte: decimal (`od -tu1`, `printf '%d '`, Python's
//! `list(b"…")`, JavaScript's `Array.from(buf)`) or `0x`-hex (`xxd -i`, C
//! arrays), separated by spaces, commas and line breaks; `od`'s offsets at
//! the start of a line are skipped.

use super::{Decoded, HIGH, Kind, Masks, is_space, starts};

/// The most separator bytes between two numbers (`od -tu1` aligns them in
/// columns of four).
const MAX_SEP: usize = 8;

/// Whether a window could lie inside a list of numbers: digits and
/// separators only (hex digits too where an `x` says `0x`), with two
/// numbers in it at least (a list of numbers of up to three digits has).
pub(super) fn looks(w: &[u8; 8], m: Masks) -> bool {
    let sep = m.ws | m.punct;
    if (m.digit | sep) == HIGH {
        return starts(m.digit).count_ones() >= 2;
    }
    // `0x47, 0x49`: rare, so looked at byte by byte.
    w.contains(&b'x')
        && w.iter()
            .all(|&b| b.is_ascii_hexdigit() || b"x ,\t\n\r".contains(&b))
        && starts(sep).count_ones() >= 1
}

/// Decodes the number lists of `hay[lo..hi]`.
pub(super) fn region(hay: &[u8], lo: usize, hi: usize, out: &mut Decoded) {
    let mut i = lo;
    // A token cut by the region's start is not read.
    if i > 0 && !is_sep(hay[i - 1]) && !is_bracket(hay[i - 1]) {
        while i < hi && !is_sep(hay[i]) && !is_bracket(hay[i]) {
            i += 1;
        }
    }
    let mut open = false;
    while i < hi {
        // Separators; a list's brackets end a run before and after it.
        let s = i;
        let mut bracket = false;
        while i < hi && (is_sep(hay[i]) || is_bracket(hay[i])) {
            bracket |= is_bracket(hay[i]);
            i += 1;
        }
        let sep = &hay[s..i];
        if bracket || sep.len() > MAX_SEP || sep.iter().filter(|&&b| b == b',').count() > 1 {
            open = close(out, open);
        }
        if i >= hi {
            break;
        }
        let t = i;
        while i < hi && !is_sep(hay[i]) && !is_bracket(hay[i]) {
            i += 1;
        }
        let tok = &hay[t..i];
        let line_start = super::at_line_start(hay, t);
        match number(tok) {
            Some(v) => {
                if !open {
                    out.begin(Kind::Numbers);
                    open = true;
                }
                out.push(v, t, i);
            }
            // `od`'s offset: digits at the start of a line.
            None if line_start && tok.len() >= 4 && tok.iter().all(u8::is_ascii_digit) => {}
            None => open = close(out, open),
        }
    }
    close(out, open);
}

/// Whether the complete token `hay[t..i]` belongs in a run: a number, or
/// `od`'s offset.
pub(super) fn token_ok(hay: &[u8], t: usize, i: usize) -> bool {
    let tok = &hay[t..i];
    number(tok).is_some()
        || (super::at_line_start(hay, t) && tok.len() >= 4 && tok.iter().all(u8::is_ascii_digit))
}

pub(super) fn is_bracket(b: u8) -> bool {
    b"[](){}".contains(&b)
}

fn close(out: &mut Decoded, open: bool) -> bool {
    if open {
        out.end();
    }
    false
}

fn is_sep(b: u8) -> bool {
    is_space(b) || b == b','
}

/// A byte written as `0`–`255` or `0x0`–`0xff`.
fn number(tok: &[u8]) -> Option<u8> {
    if let Some(h) = tok.strip_prefix(b"0x").or(tok.strip_prefix(b"0X")) {
        if (1..=2).contains(&h.len()) && h.iter().all(u8::is_ascii_hexdigit) {
            return u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok();
        }
        return None;
    }
    if (1..=3).contains(&tok.len()) && tok.iter().all(u8::is_ascii_digit) {
        return std::str::from_utf8(tok).ok()?.parse().ok();
    }
    None
}
