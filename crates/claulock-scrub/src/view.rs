//! The views a stream matches on: the text without its *removable spans*,
//! bytes that can sit between the characters of a value without being
//! part of what a reader takes from it.
//!
//! # Removable spans
//!
//! - **Line breaks** that an encoding is wrapped across: `base64` wraps at
//!   76 columns, PEM at 64, `fold -w N` anywhere. A `\n` or `\r\n` is
//!   removable when the characters right before and after it (in the view
//!   without the other spans) are of the base64 and hex alphabets
//!   (`A-Za-z0-9+/-_`), so ordinary lines are never joined; with the
//!   offset `curl --trace-ascii` starts the next line with (`0040: `).
//! - **Inert bytes**, which are never a character of anything: a bare
//!   backspace byte, and invisible code points (zero-width spaces and
//!   joiners U+200B–U+200F, word joiner and invisible operators
//!   U+2060–U+2064, bidirectional controls U+202A–U+202E and U+2066–U+2069,
//!   U+061C, the BOM U+FEFF, soft hyphen U+00AD, U+034F, Mongolian
//!   selectors U+180B–U+180F, Hangul fillers, Khmer U+17B4–U+17B5,
//!   variation selectors, musical formatting U+1D173–U+1D17A, tag
//!   characters U+E0000–U+E007F and C1 controls).
//! - **Rendered spans**, which a terminal consumes: NUL, ANSI escape sequences
//!   (CSI `ESC [ … final`, OSC/DCS/APC strings up to BEL or `ESC \`, `ESC`
//!   with intermediates and a final, two-byte `ESC x`), each at most
//!   [`MAX_ESCAPE`] bytes, and overstrikes: a character followed by a
//!   backspace, as `man` and `less` write bold (`c\bc`) and underline
//!   (`_\bc`).
//!
//! Rendered spans swallow a following or preceding character (the final
//! byte of a sequence left open, the character a backspace strikes over),
//! which could be a value's own: `ESC [` right before a value would hide
//! its first character. So a stream matches on two views, one without the
//! inert spans only (*inert*) and one without the rendered spans too
//! (*rendered*), and takes the union of their matches; the second is
//! searched only when it differs. Line breaks are taken out of both.
//!
//! # Chunk safety
//!
//! Whether a byte is removable depends on at most [`CONTEXT`] bytes on
//! either side (line breaks: on the neighbouring characters, which lie
//! inside any match that crosses the break), so a stream that keeps that
//! much decided text before its undecided bytes and holds back that much
//! after a match decides exactly as a one-shot scrub. A match may span at
//! most [`span_limit`] bytes of the original text; a longer one (a value
//! padded with more invisible bytes than that between its characters) is
//! not a match, in a stream or one-shot alike.

/// The longest escape sequence recognised, in bytes: longer ones (an OSC 8
/// hyperlink to a very long URL) are left in the view.
pub(crate) const MAX_ESCAPE: usize = 256;

/// How many bytes on either side decide whether a byte is removable, when
/// invisible bytes are removed: an escape sequence, and the UTF-8
/// character before a backspace.
pub(crate) const CONTEXT: usize = MAX_ESCAPE + 4;

/// A match may span at most this many times the longest pattern when
/// invisible bytes are removed: room for 15 removable bytes between two
/// characters on average (`ESC[38;5;196m` and a reset around each one).
pub(crate) const SPAN_FACTOR: usize = 16;

/// Which spans a view removes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rules {
    /// Line breaks between code characters.
    pub breaks: bool,
    /// Bare backspaces, invisible code points.
    pub inert: bool,
    /// NUL, escape sequences and overstrikes (implies `inert`).
    pub rendered: bool,
}

/// The views a stream searches, for the forms' switches.
pub(crate) fn views(line_breaks: bool, invisible: bool) -> Vec<Rules> {
    let base = Rules {
        breaks: line_breaks,
        inert: invisible,
        rendered: false,
    };
    if invisible {
        vec![
            base,
            Rules {
                rendered: true,
                ..base
            },
        ]
    } else {
        vec![base]
    }
}

/// The longest span, in original bytes, a match of patterns at most
/// `longest` bytes long may have.
pub(crate) fn span_limit(longest: usize, line_breaks: bool, invisible: bool) -> usize {
    // Dumps use the same limit as invisible bytes (see `Scrubber`).
    if invisible {
        SPAN_FACTOR * longest
    } else if line_breaks {
        // At most one break of two bytes between any two characters.
        3 * longest
    } else {
        longest
    }
}

/// Whether `b` can be part of an encoding that is wrapped.
pub(crate) fn is_code_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_')
}

/// The removable spans of `hay` under `rules`, as (offset, length), sorted
/// and disjoint. Returns whether `hay` holds a NUL, a backspace or an
/// escape (without one, the rendered view is the inert one).
pub(crate) fn find(hay: &[u8], rules: Rules, out: &mut Vec<(usize, usize)>) -> bool {
    out.clear();
    let mut controls = false;
    if rules.inert || rules.rendered {
        controls = invisible_spans(hay, rules.rendered, out);
        merge(out);
    }
    if rules.breaks {
        if out.is_empty() {
            find_breaks(hay, out);
        } else {
            // Breaks are judged by their neighbours in the view without
            // the other spans.
            let mut view = View::default();
            view.build(hay, out);
            let mut breaks = Vec::new();
            find_breaks(&view.text, &mut breaks);
            for (s, len) in breaks {
                let (start, end) = view.span(s, s + len);
                out.push((start, end - start));
            }
            merge(out);
        }
    }
    controls
}

/// Sorts spans and joins overlapping or touching ones.
fn merge(spans: &mut Vec<(usize, usize)>) {
    spans.sort_unstable();
    let mut w = 0;
    for r in 0..spans.len() {
        let (s, len) = spans[r];
        if w > 0 && s <= spans[w - 1].0 + spans[w - 1].1 {
            let (ps, plen) = spans[w - 1];
            spans[w - 1].1 = (s + len).max(ps + plen) - ps;
        } else {
            spans[w] = (s, len);
            w += 1;
        }
    }
    spans.truncate(w);
}

/// Line breaks with a code character right before and after (after the
/// offset `curl --trace-ascii` starts its lines with, `0040: `, which goes
/// with the break).
fn find_breaks(hay: &[u8], out: &mut Vec<(usize, usize)>) {
    for i in memchr::memchr_iter(b'\n', hay) {
        let start = if i > 0 && hay[i - 1] == b'\r' {
            i - 1
        } else {
            i
        };
        let mut end = i + 1;
        if let Some(o) = hay.get(end..end + 6) {
            if o[..4].iter().all(u8::is_ascii_hexdigit) && &o[4..] == b": " {
                end += 6;
            }
        }
        if start > 0 && end < hay.len() && is_code_char(hay[start - 1]) && is_code_char(hay[end]) {
            out.push((start, end - start));
        }
    }
}

/// Backspaces, invisible code points and, when `rendered`, NUL, escape
/// sequences and overstruck characters (unsorted, may overlap). NUL is
/// rendered, not inert, so that a value holding NULs (binary keys) is still
/// found as it is.
fn invisible_spans(hay: &[u8], rendered: bool, out: &mut Vec<(usize, usize)>) -> bool {
    let mut controls = false;
    for i in memchr::memchr3_iter(0x00, 0x08, 0x1b, hay) {
        controls = true;
        match hay[i] {
            0x00 if rendered => out.push((i, 1)),
            0x00 => {}
            0x08 => match struck_char(hay, i).filter(|_| rendered) {
                Some(start) => out.push((start, i + 1 - start)),
                None => out.push((i, 1)),
            },
            _ => {
                if let (true, Escape::Complete(len)) = (rendered, escape(hay, i)) {
                    out.push((i, len));
                }
            }
        }
    }
    // Invisible code points are never ASCII: skip ASCII 32 bytes at a time
    // (a word-at-a-time test), look at the rest byte by byte.
    for (c, chunk) in hay.chunks(32).enumerate() {
        if chunk.is_ascii() {
            continue;
        }
        for (k, &b) in chunk.iter().enumerate() {
            if matches!(
                b,
                0xc2 | 0xcd | 0xd8 | 0xe1 | 0xe2 | 0xe3 | 0xef | 0xf0 | 0xf3
            ) {
                let i = c * 32 + k;
                if let Some(len) = invisible_at(hay, i) {
                    out.push((i, len));
                }
            }
        }
    }
    controls
}

/// The start of the character a backspace at `bs` strikes over: the UTF-8
/// character right before it, unless that is a control (a line break, a
/// tab, another backspace).
fn struck_char(hay: &[u8], bs: usize) -> Option<usize> {
    let mut start = bs.checked_sub(1)?;
    while start > 0 && bs - start < 4 && (0x80..0xc0).contains(&hay[start]) {
        start -= 1;
    }
    (hay[start] >= 0x20 && hay[start] != 0x7f).then_some(start)
}

/// What an escape sequence starting at an `ESC` is.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Escape {
    /// A complete sequence of this many bytes.
    Complete(usize),
    /// Not a sequence (the `ESC` stays in the view).
    Invalid,
    /// Could become one with more bytes.
    Incomplete,
}

/// The escape sequence at `hay[at]` (an `ESC`).
pub(crate) fn escape(hay: &[u8], at: usize) -> Escape {
    let end = hay.len().min(at + MAX_ESCAPE);
    let cut = |j: usize| {
        if j >= hay.len() {
            Escape::Incomplete
        } else {
            Escape::Invalid
        }
    };
    let Some(&kind) = hay.get(at + 1) else {
        return Escape::Incomplete;
    };
    match kind {
        // CSI: parameters, intermediates, a final byte.
        b'[' => {
            let mut j = at + 2;
            while j < end && (0x20..0x40).contains(&hay[j]) {
                j += 1;
            }
            match hay.get(j) {
                Some(&f) if j < end && (0x40..0x7f).contains(&f) => Escape::Complete(j + 1 - at),
                _ => cut(j),
            }
        }
        // OSC, DCS, SOS, PM, APC: a string up to BEL or ST (`ESC \`).
        b']' | b'P' | b'X' | b'^' | b'_' => {
            let mut j = at + 2;
            while j < end {
                match hay[j] {
                    0x07 => return Escape::Complete(j + 1 - at),
                    0x1b => {
                        return match hay.get(j + 1) {
                            Some(b'\\') if j + 1 < end => Escape::Complete(j + 2 - at),
                            Some(_) => Escape::Invalid,
                            None => Escape::Incomplete,
                        };
                    }
                    _ => j += 1,
                }
            }
            cut(j)
        }
        // Intermediates, then a final byte (`ESC ( B`).
        0x20..0x30 => {
            let mut j = at + 1;
            while j < end && (0x20..0x30).contains(&hay[j]) {
                j += 1;
            }
            match hay.get(j) {
                Some(&f) if j < end && (0x30..0x7f).contains(&f) => Escape::Complete(j + 1 - at),
                _ => cut(j),
            }
        }
        0x30..0x7f => Escape::Complete(2),
        _ => Escape::Invalid,
    }
}

/// The length of the invisible code point encoded at `hay[at]`, if one is.
pub(crate) fn invisible_at(hay: &[u8], at: usize) -> Option<usize> {
    let lead = hay[at];
    let len = match lead {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return None,
    };
    let bytes = hay.get(at..at + len)?;
    let c = std::str::from_utf8(bytes).ok()?.chars().next()?;
    is_invisible(c).then_some(len)
}

/// Code points that render as nothing (or are read past by a person).
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(
        u32::from(c),
        0x80..=0x9f
            | 0xad
            | 0x34f
            | 0x61c
            | 0x115f
            | 0x1160
            | 0x17b4
            | 0x17b5
            | 0x180b..=0x180f
            | 0x200b..=0x200f
            | 0x202a..=0x202e
            | 0x2060..=0x2064
            | 0x2066..=0x2069
            | 0x3164
            | 0xfe00..=0xfe0f
            | 0xfeff
            | 0xffa0
            | 0x1d173..=0x1d17a
            | 0xe0000..=0xe007f
            | 0xe0100..=0xe01ef
    )
}

/// The earliest offset from which more input could change which bytes of
/// `hay` are removable, in any view (`hay.len()` when none): an escape
/// sequence still open, the last character (a backspace could still strike
/// it), a line break with fewer than eight bytes of the view after it (its
/// next character, or `curl --trace-ascii`'s offset, is still to come).
/// Bytes before it are removable or not as they will be in the whole
/// stream, so the view text before it is final.
pub(crate) fn unsettled(hay: &[u8], line_breaks: bool, invisible: bool) -> usize {
    let len = hay.len();
    let mut u = len;
    if invisible && len > 0 {
        let from = len.saturating_sub(MAX_ESCAPE + 1);
        for i in memchr::memchr_iter(0x1b, &hay[from..]) {
            if escape(hay, from + i) == Escape::Incomplete {
                u = u.min(from + i);
                break;
            }
        }
        let mut s = len - 1;
        while s > 0 && len - s < 4 && (0x80..0xc0).contains(&hay[s]) {
            s -= 1;
        }
        if hay[s] >= 0x20 && hay[s] != 0x7f {
            u = u.min(s);
        }
    }
    if line_breaks {
        // Only the last breaks can lack view bytes after them; an earlier
        // one has at least those of a later settled one.
        let lo = u.saturating_sub(8 * (MAX_ESCAPE + 8));
        let mut at = u;
        while let Some(i) = memchr::memrchr2(b'\n', b'\r', &hay[lo..at]) {
            let i = lo + i;
            if !break_open(hay, i + 1, u, invisible) {
                break;
            }
            u = if i > 0 && hay[i] == b'\n' && hay[i - 1] == b'\r' {
                i - 1
            } else {
                i
            };
            at = u;
        }
    }
    u
}

/// Whether a line break ending at `from` (exclusive) is still open: the
/// bytes of the view after it, up to `to`, do not yet fix whether it is
/// removable (its next character is missing, or could still begin `curl
/// --trace-ascii`'s offset `0040: `). Complete escapes, NULs and invisible
/// code points are skipped; a backspace takes back the byte before it (the
/// rendered view loses both), and anything cut by `to` makes the break open.
fn break_open(hay: &[u8], from: usize, to: usize, invisible: bool) -> bool {
    let mut seen = [0u8; 7];
    let (mut n, mut j) = (0usize, from);
    while j < to && n < 7 {
        let b = hay[j];
        if invisible {
            match b {
                0x00 => {
                    j += 1;
                    continue;
                }
                0x08 => {
                    n = n.saturating_sub(1);
                    j += 1;
                    continue;
                }
                0x1b => match escape(&hay[..to], j) {
                    Escape::Complete(l) => {
                        j += l;
                        continue;
                    }
                    // Cut by `to`: whether it is removed is not settled.
                    Escape::Incomplete => return true,
                    Escape::Invalid => {}
                },
                0x80.. => {
                    if let Some(l) = invisible_at(&hay[..to], j) {
                        j += l;
                        continue;
                    }
                }
                _ => {}
            }
        }
        seen[n] = b;
        n += 1;
        j += 1;
    }
    // A backspace could still strike the last byte seen: it counts only
    // when a byte follows it.
    if invisible && n > 0 && j >= to {
        n -= 1;
    }
    if n == 0 {
        return true;
    }
    // The offset is ruled out as soon as a seen byte departs from it.
    let offset_ruled_out = seen[..n].iter().enumerate().any(|(k, &b)| match k {
        0..=3 => !b.is_ascii_hexdigit(),
        4 => b != b':',
        5 => b != b' ',
        _ => false,
    });
    !(offset_ruled_out || n >= 7)
}

/// `hay` without its removable spans, and how to map offsets back.
#[derive(Default)]
pub(crate) struct View {
    pub text: Vec<u8>,
    /// (view offset, bytes removed before it): from each entry's offset
    /// on, add its count to get the original offset.
    shifts: Vec<(usize, usize)>,
}

impl View {
    pub(crate) fn build(&mut self, hay: &[u8], spans: &[(usize, usize)]) {
        self.text.clear();
        self.shifts.clear();
        let mut at = 0;
        let mut removed = 0;
        for &(start, len) in spans {
            self.text.extend_from_slice(&hay[at..start]);
            removed += len;
            self.shifts.push((self.text.len(), removed));
            at = start + len;
        }
        self.text.extend_from_slice(&hay[at..]);
    }

    /// The original offset of view offset `c`.
    pub(crate) fn original(&self, c: usize) -> usize {
        let i = self.shifts.partition_point(|&(pos, _)| pos <= c);
        if i == 0 { c } else { c + self.shifts[i - 1].1 }
    }

    /// The original span of the view's span `start..end` (`end > start`):
    /// removable bytes inside it are covered, those at its edges are not.
    pub(crate) fn span(&self, start: usize, end: usize) -> (usize, usize) {
        (self.original(start), self.original(end - 1) + 1)
    }
}

/// `pattern` as it is searched for: without its own removable spans (under
/// the inert view's rules, the one every raw occurrence is found in).
///
/// Bytes at either end whose removability depends on the text *outside*
/// the pattern are dropped: line breaks (a value `\n+…` after a `w` loses
/// its `\n` in the view, and keeps it after a space), continuation bytes
/// that could end an invisible code point begun before, and the start of
/// one left incomplete. The rest of the pattern always matches; a
/// redaction then leaves such edge bytes in place, which tells nothing.
/// This also makes a stream decide like a one-shot scrub where an edge
/// byte's outer neighbour was already emitted.
pub(crate) fn compact_pattern(pattern: &[u8], line_breaks: bool, invisible: bool) -> Vec<u8> {
    let rules = views(line_breaks, invisible)[0];
    let mut spans = Vec::new();
    find(pattern, rules, &mut spans);
    let mut v = View::default();
    v.build(pattern, &spans);
    let text = &v.text;
    let is_break = |b: u8| line_breaks && matches!(b, b'\n' | b'\r');
    let mut start = 0;
    if invisible {
        while start < text.len().min(3) && (0x80..0xc0).contains(&text[start]) {
            start += 1;
        }
    }
    while start < text.len() && is_break(text[start]) {
        start += 1;
    }
    let mut end = text.len();
    if invisible {
        // An incomplete UTF-8 sequence at the end could become invisible.
        if let Some(lead) = (end.saturating_sub(3)..end)
            .rev()
            .find(|&i| text[i] >= 0xc0)
        {
            let need = match text[lead] {
                0xc0..=0xdf => 2,
                0xe0..=0xef => 3,
                _ => 4,
            };
            if end - lead < need {
                end = lead;
            }
        }
    }
    while end > start && is_break(text[end - 1]) {
        end -= 1;
    }
    text[start.min(end)..end].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BREAKS: Rules = Rules {
        breaks: true,
        inert: false,
        rendered: false,
    };
    const ALL: Rules = Rules {
        breaks: true,
        inert: true,
        rendered: true,
    };

    fn view(hay: &[u8], rules: Rules) -> Vec<u8> {
        let mut s = Vec::new();
        find(hay, rules, &mut s);
        let mut v = View::default();
        v.build(hay, &s);
        v.text
    }

    #[test]
    fn removable_breaks_and_mapping() {
        let hay = b"ab\ncd\r\nef\n\ngh\n-";
        let mut b = Vec::new();
        find(hay, BREAKS, &mut b);
        assert_eq!(b, [(2, 1), (5, 2), (13, 1)]);
        let mut c = View::default();
        c.build(hay, &b);
        assert_eq!(c.text, b"abcdef\n\ngh-");
        // "cdef" in the view is "cd\r\nef" in the text.
        assert_eq!(c.span(2, 6), (3, 9));
        assert_eq!(&hay[3..9], b"cd\r\nef");
        assert_eq!(c.span(0, 1), (0, 1));
    }

    #[test]
    fn patterns_lose_their_edge_breaks() {
        assert_eq!(compact_pattern(b"\n+abc\ndef\r", true, false), b"+abcdef");
        assert_eq!(compact_pattern(b"\r\n\r\n", true, false), b"");
        assert_eq!(compact_pattern(b"a \nb", true, false), b"a \nb");
        assert_eq!(
            compact_pattern(b"\x80ab\xe2\x80\x8bcd\xe2\x80", true, true),
            b"abcd"
        );
    }

    #[test]
    fn escapes_invisibles_and_overstrikes() {
        assert_eq!(view(b"a\x1b[0mb\x1b[38;5;196mc\x1b(B\x1b[m", ALL), b"abc");
        assert_eq!(view(b"a\x1b]8;;http://x\x1b\\b\x1b]0;t\x07c", ALL), b"abc");
        assert_eq!(
            view("a\u{200b}b\u{feff}c\u{e0041}d\0e".as_bytes(), ALL),
            b"abcde"
        );
        assert_eq!(view(b"b\x08bo\x08ol\x08ld\x08d _\x08u", ALL), b"bold u");
        // Line breaks between code characters, judged without the escapes.
        assert_eq!(view(b"ab\x1b[0m\n\x1b[0mcd", ALL), b"abcd");
        // The inert view keeps escapes and struck characters.
        let inert = Rules {
            rendered: false,
            ..ALL
        };
        assert_eq!(view(b"a\x1b[0mb_\x08c\0", inert), b"a\x1b[0mb_c\0");
        // Unfinished or overlong sequences stay.
        assert_eq!(escape(b"\x1b[12", 0), Escape::Incomplete);
        assert_eq!(escape(b"\x1b[1\x01m", 0), Escape::Invalid);
        let long = [b"\x1b]".as_slice(), &[b'x'; 300], b"\x07"].concat();
        assert_eq!(escape(&long, 0), Escape::Invalid);
    }
}
