//! Dumps: text that spells bytes one by one, and the bytes it spells.
//!
//! Tools show a file's bytes in layouts no encoding of a whole value
//! matches: `xxd`, `hexdump -C`, `od -tx1` and `curl --trace` put 16 bytes
//! on a line between an offset and an ASCII gutter; `od -tu1`, `printf
//! '%d '`, Python's `list(b"…")` and `xxd -i` write one number per byte;
//! `grep -o .`, `fold -w1`, `sed 's/./& /g'`, `nl` and `od -c` one
//! character per line or field. Each decoder here recognises one family
//! of layouts and yields the bytes it spells, with each byte's span in the
//! original text; the scrubber searches every pattern in those bytes, so a
//! value (or any of its forms) written that way is caught, and the marker
//! covers the dump from the value's first byte to its last (and the rest
//! of that last line's gutter, which spells the value's tail again).
//!
//! # Not flagging ordinary text
//!
//! A decoder only yields runs of at least 8 bytes, and a match needs a
//! whole pattern of a long, high-entropy value spelled exactly: lists of
//! small numbers, indented code and words of one letter decode to bytes
//! that never spell one. The crate's `fp_corpus` example measures this on
//! real logs, source code and JSON.
//!
//! # Chunk safety
//!
//! Each decision is local: a hex dump line is judged by itself (a line
//! longer than [`MAX_LINE`] bytes is none), a number or a character by its
//! token and its separators, and the windows that find candidate regions
//! lie at fixed stream offsets. So a stream that keeps [`MAX_LINE`] bytes
//! of context on either side decides as a one-shot scrub.

mod chars;
mod hexdump;
mod numbers;

use std::ops::Range;

use crate::forms::Form;

/// The longest line a hex dump line may be.
pub(crate) const MAX_LINE: usize = 200;

/// The shortest run worth searching (the shortest pattern is 8 bytes).
const MIN_RUN: usize = 8;

/// A family of layouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Hex or binary columns between an offset and a gutter.
    HexDump,
    /// One number per byte.
    Numbers,
    /// One character per line or field.
    Chars,
}

impl Kind {
    pub(crate) const ALL: [Kind; 3] = [Kind::HexDump, Kind::Numbers, Kind::Chars];

    pub(crate) fn form(self) -> Form {
        match self {
            Kind::HexDump => Form::HexDump,
            Kind::Numbers => Form::ByteList,
            Kind::Chars => Form::Chars,
        }
    }
}

/// The bytes dumps in a text spell.
#[derive(Default)]
pub(crate) struct Decoded {
    pub bytes: Vec<u8>,
    /// Per decoded byte: where its spelling starts in the original text.
    starts: Vec<usize>,
    /// Per decoded byte: where a match ending on it ends in the original.
    ends: Vec<usize>,
    /// Runs of decoded bytes: a match lies inside one.
    pub runs: Vec<(Kind, Range<usize>)>,
    open: Option<(Kind, usize)>,
}

impl Decoded {
    pub(crate) fn clear(&mut self) {
        self.bytes.clear();
        self.starts.clear();
        self.ends.clear();
        self.runs.clear();
        self.open = None;
    }

    fn begin(&mut self, kind: Kind) {
        self.end();
        self.open = Some((kind, self.bytes.len()));
    }

    fn push(&mut self, byte: u8, start: usize, end: usize) {
        self.bytes.push(byte);
        self.starts.push(start);
        self.ends.push(end);
    }

    /// Extends the end of a match that ends on byte `from` or later.
    fn extend_from(&mut self, from: usize, end: usize) {
        for e in &mut self.ends[from..] {
            *e = (*e).max(end);
        }
    }

    fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Closes the open run; one too short to hold a pattern is dropped.
    fn end(&mut self) {
        if let Some((kind, from)) = self.open.take() {
            if self.bytes.len() - from >= MIN_RUN {
                self.runs.push((kind, from..self.bytes.len()));
            } else {
                self.bytes.truncate(from);
                self.starts.truncate(from);
                self.ends.truncate(from);
            }
        }
    }

    /// The original span of decoded bytes `start..end` (`end > start`).
    pub(crate) fn span(&self, start: usize, end: usize) -> (usize, usize) {
        (self.starts[start], self.ends[end - 1])
    }
}

/// The step between candidate windows for patterns at least `shortest`
/// bytes long: a run that spells one spans at least `2 * shortest - 1`
/// bytes (a character or a number and a separator per byte), so it holds
/// a whole window at every multiple of a step up to `2 * shortest - 8`; and
/// every full hex dump line holds one at every multiple of
/// [`hexdump::STEP`].
pub(crate) fn window_step(shortest: usize) -> usize {
    ((2 * shortest.max(8) - 8) / 8 * 8).min(hexdump::STEP)
}

/// Decodes the dumps of `hay`, whose first byte sits at stream offset
/// `base` (which fixes where candidate windows lie, every `step` bytes).
pub(crate) fn decode(hay: &[u8], base: u64, step: usize, out: &mut Decoded) {
    out.clear();
    let (hex, numbers, chars) = regions(hay, base, step);
    hexdump::decode(hay, base == 0, &hex, out);
    out.end();
    for r in numbers {
        numbers::region(hay, r.start, r.end, out);
    }
    out.end();
    for r in chars {
        chars::region(hay, r.start, r.end, out);
    }
    out.end();
}

/// The earliest offset of a dump that more input could still continue or
/// begin, and so decode otherwise than now (`hay.len()` when none, never
/// below `floor`): the block of lines up to the end that could be hex
/// dump lines, when the last could still become one; and any run of tokens
/// that could be characters or numbers of a dump, either reaching the end
/// or long enough to spell a pattern and close enough to the end for a
/// candidate window still to come to reach it. Conservative: it holds a
/// dump in progress whole (up to `floor`), whatever it spells.
pub(crate) fn open_from(hay: &[u8], step: usize, floor: usize) -> usize {
    let len = hay.len();
    let reach = 2 * step + 16 + 16;
    let hex = hexdump::open_from(hay, floor);
    let chars = token_runs(hay, floor, reach, Tokens::Chars);
    let numbers = token_runs(hay, floor, reach, Tokens::Numbers);
    hex.min(chars).min(numbers).min(len).max(floor.min(len))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tokens {
    Chars,
    Numbers,
}

/// The start of the earliest run of dump-like tokens that matters (see
/// [`open_from`]), scanning back from the end no further than `floor`.
fn token_runs(hay: &[u8], floor: usize, reach: usize, kind: Tokens) -> usize {
    let len = hay.len();
    let is_sep = |b: u8| match kind {
        Tokens::Chars => is_space(b),
        Tokens::Numbers => is_space(b) || b == b',' || numbers::is_bracket(b),
    };
    // A separator that ends a run, as the decoders judge it.
    let breaks = |sep: &[u8]| {
        sep.len() > 8
            || (kind == Tokens::Numbers
                && (sep.iter().any(|&b| numbers::is_bracket(b))
                    || sep.iter().filter(|&&b| b == b',').count() > 1))
    };
    let mut result = len;
    let mut i = len;
    let mut s = i;
    while s > 0 && is_sep(hay[s - 1]) {
        s -= 1;
    }
    // Whether the run in progress reaches the end of the text.
    let mut live = !breaks(&hay[s..i]);
    let mut run: Option<(usize, usize)> = None; // (start, spelled bytes)
    loop {
        i = s;
        let end = i;
        while i > 0 && !is_sep(hay[i - 1]) {
            i -= 1;
        }
        let tok = &hay[i..end];
        let ok = !tok.is_empty()
            && if end == len {
                tok.len() <= 4 || tok.iter().all(u8::is_ascii_digit)
            } else {
                match kind {
                    Tokens::Chars => chars::token_ok(hay, i, end),
                    Tokens::Numbers => numbers::token_ok(hay, i, end),
                }
            };
        let mut close = !ok;
        if ok {
            let r = run.get_or_insert((i, 0));
            *r = (i, r.1 + tok.len());
            s = i;
            while s > 0 && is_sep(hay[s - 1]) {
                s -= 1;
            }
            close = breaks(&hay[s..i]) || s == 0;
        }
        if close {
            if let Some((start, spelled)) = run.take() {
                if live || spelled >= MIN_RUN {
                    result = result.min(start);
                }
            }
            live = false;
            if !ok {
                s = i;
                while s > 0 && is_sep(hay[s - 1]) {
                    s -= 1;
                }
            }
        }
        if s == 0 || (run.is_none() && s + reach < len) {
            break;
        }
        // Scanning further costs more than it can gain: the bound holds.
        if let Some((start, spelled)) = run {
            if start <= floor && (live || spelled >= MIN_RUN) {
                return floor;
            }
        }
    }
    result
}

/// Candidate regions of number lists and of character runs: around every
/// window of 8 bytes, at a stream offset that is a multiple of `step`,
/// that looks like part of one, as far on either side as two steps and a
/// token's slack (so that a run whose first or last window is one of the
/// few that do not look like it is still covered), merged.
type Regions = (Vec<usize>, Vec<Range<usize>>, Vec<Range<usize>>);

fn regions(hay: &[u8], base: u64, step: usize) -> Regions {
    let pad = 2 * step + 16;
    let mut hex = Vec::new();
    let (mut numbers, mut chars): (Vec<Range<usize>>, Vec<Range<usize>>) = (Vec::new(), Vec::new());
    let add = |out: &mut Vec<Range<usize>>, p: usize| {
        let lo = p.saturating_sub(pad);
        let hi = (p + 8 + pad).min(hay.len());
        match out.last_mut() {
            Some(r) if lo <= r.end => r.end = hi,
            _ => out.push(lo..hi),
        }
    };
    let step64 = step as u64;
    let mut p = ((step64 - base % step64) % step64) as usize;
    while p + 8 <= hay.len() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&hay[p..p + 8]);
        let m = Masks::of(&w);
        if hexdump::looks(m) {
            hex.push(p);
        }
        if numbers::looks(&w, m) {
            add(&mut numbers, p);
        }
        if chars::looks(m) {
            add(&mut chars, p);
        }
        p += step;
    }
    (hex, numbers, chars)
}

/// Whether only spaces and tabs (at most 16) stand between `at` and the
/// start of its line.
fn at_line_start(hay: &[u8], at: usize) -> bool {
    let mut j = at;
    while j > 0 && at - j < 16 && matches!(hay[j - 1], b' ' | b'\t') {
        j -= 1;
    }
    j == 0 || hay[j - 1] == b'\n'
}

/// Per-byte masks of an 8-byte window (the high bit of each byte), by
/// SWAR: cheap enough to look at every eighth byte of all output.
#[derive(Clone, Copy)]
struct Masks {
    /// Space, tab, line feed.
    ws: u64,
    /// ASCII digits.
    digit: u64,
    /// Commas and carriage returns.
    punct: u64,
    /// Hex digits and colons (an offset's).
    hex: u64,
    /// Spaces.
    space: u64,
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

impl Masks {
    fn of(w: &[u8; 8]) -> Masks {
        let x = u64::from_le_bytes(*w);
        // Bytes equal to `c` (exact).
        let eq = |c: u8| {
            let y = x ^ (u64::from(c) * ONES);
            let t = (y & !HIGH).wrapping_add(!HIGH);
            !(t | y | !HIGH)
        };
        // 0x30..=0x39, and never a byte above 0x7f.
        let ascii = !x & HIGH;
        let ge = (x & !HIGH).wrapping_add(0x50 * ONES) & HIGH;
        let lt = !((x & !HIGH).wrapping_add(0x46 * ONES)) & HIGH;
        let digit = ascii & ge & lt;
        // a-f after folding case (0x20 set), 0x61..=0x66.
        let low = (x | (0x20 * ONES)) & !HIGH;
        let af =
            ascii & low.wrapping_add(0x1f * ONES) & HIGH & !(low.wrapping_add(0x19 * ONES)) & HIGH;
        let space = eq(b' ');
        Masks {
            ws: space | eq(b'\n') | eq(b'\t'),
            digit,
            punct: eq(b',') | eq(b'\r'),
            hex: digit | af | eq(b':'),
            space,
        }
    }
}

/// Bytes of `m` whose next byte is in `m` too (little-endian: `<< 8`).
fn pairs(m: u64) -> u64 {
    m & (m << 8)
}

/// Bytes of `m` that start a run of `m` in the window.
fn starts(m: u64) -> u64 {
    m & !(m << 8)
}

/// Whether `b` separates tokens.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spelled(text: &[u8]) -> Vec<(Kind, Vec<u8>)> {
        let mut d = Decoded::default();
        decode(text, 0, 8, &mut d);
        d.runs
            .iter()
            .map(|(k, r)| (*k, d.bytes[r.clone()].to_vec()))
            .collect()
    }

    #[test]
    fn layouts_spell_their_bytes() {
        let want = b"GITHUB_TOKEN=ghp_16C7e42F292c6912".to_vec();
        let cases: &[(&str, Kind)] = &[
            (
                "00000000: 4749 5448 5542 5f54 4f4b 454e 3d67 6870  GITHUB_TOKEN=ghp\n00000010: 5f31 3643 3765 3432 4632 3932 6336 3931  _16C7e42F292c691\n00000020: 32                                       2\n",
                Kind::HexDump,
            ),
            (
                "00000000  47 49 54 48 55 42 5f 54  4f 4b 45 4e 3d 67 68 70  |GITHUB_TOKEN=ghp|\n00000010  5f 31 36 43 37 65 34 32  46 32 39 32 63 36 39 31  |_16C7e42F292c691|\n00000020  32                                                |2|\n00000021\n",
                Kind::HexDump,
            ),
            (
                "0000: 47 49 54 48 55 42 5f 54 4f 4b 45 4e 3d 67 68 70 GITHUB_TOKEN=ghp\n0010: 5f 31 36 43 37 65 34 32 46 32 39 32 63 36 39 31 _16C7e42F292c691\n0020: 32                                              2\n",
                Kind::HexDump,
            ),
            (
                " 47 49 54 48 55 42 5f 54 4f 4b 45 4e 3d 67 68 70\n 5f 31 36 43 37 65 34 32 46 32 39 32 63 36 39 31\n 32\n",
                Kind::HexDump,
            ),
            (
                "[71, 73, 84, 72, 85, 66, 95, 84, 79, 75, 69, 78, 61, 103, 104, 112, 95, 49, 54, 67, 55, 101, 52, 50, 70, 50, 57, 50, 99, 54, 57, 49, 50]",
                Kind::Numbers,
            ),
            (
                "0000000  71  73  84  72  85  66  95  84  79  75  69  78  61 103 104 112\n0000020  95  49  54  67  55 101  52  50  70  50  57  50  99  54  57  49\n0000040  50\n",
                Kind::Numbers,
            ),
            (
                "  0x47, 0x49, 0x54, 0x48, 0x55, 0x42, 0x5f, 0x54, 0x4f, 0x4b, 0x45, 0x4e,\n  0x3d, 0x67, 0x68, 0x70, 0x5f, 0x31, 0x36, 0x43, 0x37, 0x65, 0x34, 0x32,\n  0x46, 0x32, 0x39, 0x32, 0x63, 0x36, 0x39, 0x31, 0x32\n",
                Kind::Numbers,
            ),
            (
                "0000000   G   I   T   H   U   B   _   T   O   K   E   N   =   g   h   p\n0000020   _   1   6   C   7   e   4   2   F   2   9   2   c   6   9   1\n0000040   2\n",
                Kind::Chars,
            ),
            (
                "G I T H U B _ T O K E N = g h p _ 1 6 C 7 e 4 2 F 2 9 2 c 6 9 1 2 \n",
                Kind::Chars,
            ),
        ];
        for (text, kind) in cases {
            let runs = spelled(text.as_bytes());
            assert!(
                runs.iter().any(|(k, b)| k == kind && *b == want),
                "{kind:?} in {text:?}: {runs:?}"
            );
        }
        let lines: String = want.iter().map(|&b| format!("{}\n", b as char)).collect();
        assert!(spelled(lines.as_bytes()).iter().any(|(_, b)| *b == want));
        let nl: String = want
            .iter()
            .enumerate()
            .map(|(i, &b)| format!("{:6}\t{}\n", i + 1, b as char))
            .collect();
        assert!(
            spelled(nl.as_bytes()).iter().any(|(_, b)| *b == want),
            "{:?}",
            spelled(nl.as_bytes())
        );
        let bin = "00000000: 01000111 01001001 01010100 01001000 01010101 01000010  GITHUB\n00000006: 01011111 01010100 01001111 01001011 01000101 01001110  _TOKEN\n";
        assert!(
            spelled(bin.as_bytes())
                .iter()
                .any(|(_, b)| b == b"GITHUB_TOKEN")
        );
    }

    #[test]
    fn ordinary_text_spells_little() {
        let text = b"fn main() {\n    let x = [1, 2, 3];\n    println!(\"a b c\");\n}\n2026-11-28T10:00:00Z INFO done in 12 ms\n";
        let runs = spelled(text);
        assert!(runs.is_empty(), "{runs:?}");
    }
}

#[cfg(test)]
mod mask_tests {
    use super::*;

    #[test]
    fn masks_are_exact() {
        for b in 0..=255u8 {
            let m = Masks::of(&[b; 8]);
            let all = |mask: u64| mask == HIGH;
            assert_eq!(all(m.digit), b.is_ascii_digit(), "{b}");
            assert_eq!(all(m.hex), b.is_ascii_hexdigit() || b == b':', "{b}");
            assert_eq!(all(m.space), b == b' ', "{b}");
            assert_eq!(all(m.ws), matches!(b, b' ' | b'\n' | b'\t'), "{b}");
            assert_eq!(all(m.punct), matches!(b, b',' | b'\r'), "{b}");
            let none = |mask: u64| mask == 0;
            assert!(all(m.digit) || none(m.digit));
            assert!(all(m.hex) || none(m.hex));
        }
        // Mixed windows: each byte on its own.
        let w = *b"0aG: \n,9";
        let m = Masks::of(&w);
        for (i, &b) in w.iter().enumerate() {
            let bit = |mask: u64| mask >> (8 * i + 7) & 1 == 1;
            assert_eq!(bit(m.hex), b.is_ascii_hexdigit() || b == b':', "{i}");
            assert_eq!(bit(m.digit), b.is_ascii_digit(), "{i}");
            assert_eq!(bit(m.ws), matches!(b, b' ' | b'\n' | b'\t'), "{i}");
        }
    }
}
