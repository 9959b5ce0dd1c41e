//! One character per line or field: `grep -o .`, `fold -w1`, `sed
//! 's/./&\n/g'`, `sed 's/./& /g'`, `od -c`, and any of them through `nl` or
//! `cat -n`. Characters are single UTF-8 characters separated by
//! whitespace; `od -c`'s escapes (`\n`, `\0`, …) and octal bytes are read
//! as the bytes they stand for; a number at the start of a line followed
//! by a tab, or of two or more digits, is a line number or offset.

use super::{Decoded, HIGH, Kind, Masks, is_space, pairs};

/// The most whitespace bytes between two characters.
const MAX_SEP: usize = 8;

/// Whether a window could lie inside a run of single characters: three
/// to six whitespace bytes, and no two other bytes side by side unless
/// both are digits (a line number). Every window of such a run is one,
/// but for `nl`'s lines (9 bytes, two characters) 2 of the 9 alignments;
/// the grid's step (16, 24 or 32) never meets two of those in a row, a
/// step of 8 meets two, and regions reach across that.
pub(super) fn looks(m: Masks) -> bool {
    let n = m.ws.count_ones();
    let other = !m.ws & HIGH;
    (3..7).contains(&n) && pairs(other) & !pairs(m.digit) == 0
}

/// Decodes the character runs of `hay[lo..hi]`.
pub(super) fn region(hay: &[u8], lo: usize, hi: usize, out: &mut Decoded) {
    let mut i = lo;
    if i > 0 && !is_space(hay[i - 1]) {
        while i < hi && !is_space(hay[i]) {
            i += 1;
        }
    }
    let mut open = false;
    while i < hi {
        let s = i;
        while i < hi && is_space(hay[i]) {
            i += 1;
        }
        let sep = &hay[s..i];
        if sep.len() > MAX_SEP && open {
            out.end();
            open = false;
        }
        if i >= hi {
            break;
        }
        let t = i;
        while i < hi && !is_space(hay[i]) {
            i += 1;
        }
        let tok = &hay[t..i];
        let line_start = super::at_line_start(hay, t);
        let numbered = line_start
            && tok.iter().all(u8::is_ascii_digit)
            && (tok.len() >= 2 || hay.get(i) == Some(&b'\t'));
        if numbered {
            continue;
        }
        match byte_of(tok) {
            Some(Spelled::Byte(b)) => {
                if !open {
                    out.begin(Kind::Chars);
                    open = true;
                }
                out.push(b, t, i);
            }
            Some(Spelled::Char) => {
                if !open {
                    out.begin(Kind::Chars);
                    open = true;
                }
                for (k, &b) in tok.iter().enumerate() {
                    out.push(b, t + k, if k + 1 == tok.len() { i } else { t + k + 1 });
                }
            }
            None => {
                if open {
                    out.end();
                    open = false;
                }
            }
        }
    }
    if open {
        out.end();
    }
}

/// Whether the complete token `hay[t..i]` belongs in a run: a character,
/// an escape, or a line number.
pub(super) fn token_ok(hay: &[u8], t: usize, i: usize) -> bool {
    let tok = &hay[t..i];
    let numbered = super::at_line_start(hay, t)
        && tok.iter().all(u8::is_ascii_digit)
        && (tok.len() >= 2 || hay.get(i) == Some(&b'\t'));
    numbered || byte_of(tok).is_some()
}

enum Spelled {
    /// A byte written as an escape.
    Byte(u8),
    /// One character, its bytes as they are.
    Char,
}

fn byte_of(tok: &[u8]) -> Option<Spelled> {
    match tok {
        [_] => Some(Spelled::Char),
        [b'\\', e] => Some(Spelled::Byte(match e {
            b'0' => 0,
            b'a' => 7,
            b'b' => 8,
            b'f' => 12,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'v' => 11,
            b'\\' => b'\\',
            _ => return None,
        })),
        [a @ b'0'..=b'3', b @ b'0'..=b'7', c @ b'0'..=b'7'] => Some(Spelled::Byte(
            ((a - b'0') << 6) | ((b - b'0') << 3) | (c - b'0'),
        )),
        _ if tok.len() > 4 || tok[0] < 0xc0 => None,
        _ => {
            // One UTF-8 character of several bytes.
            let s = std::str::from_utf8(tok).ok()?;
            (s.chars().count() == 1).then_some(Spelled::Char)
        }
    }
}
