//! Line breaks that an encoding may be wrapped across.
//!
//! `base64` wraps its output at 76 columns, `openssl` and PEM at 64,
//! `fold -w N` anywhere: a value's encoding can be split by a line break at
//! any offset. The scrubber therefore matches on a view of the text in which
//! every *removable* break is taken out: a `\n` or `\r\n` with a character
//! of the base64 and hex alphabets (`A-Za-z0-9+/-_`) right before and right
//! after it. The rule looks at neighbouring bytes only, so it decides the
//! same way however the input is split into chunks.

/// Whether `b` can be part of an encoding that is wrapped.
pub(crate) fn is_code_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_')
}

/// The removable breaks of `hay`, as (offset, length), in order.
pub(crate) fn find(hay: &[u8], out: &mut Vec<(usize, usize)>) {
    out.clear();
    for i in memchr::memchr_iter(b'\n', hay) {
        let start = if i > 0 && hay[i - 1] == b'\r' {
            i - 1
        } else {
            i
        };
        if start > 0
            && i + 1 < hay.len()
            && is_code_char(hay[start - 1])
            && is_code_char(hay[i + 1])
        {
            out.push((start, i + 1 - start));
        }
    }
}

/// `hay` without its removable `breaks`, and how to map offsets back.
#[derive(Default)]
pub(crate) struct Compacted {
    pub text: Vec<u8>,
    /// (compacted offset, bytes removed before it): from each entry's offset
    /// on, add its count to get the original offset.
    shifts: Vec<(usize, usize)>,
}

impl Compacted {
    pub(crate) fn build(&mut self, hay: &[u8], breaks: &[(usize, usize)]) {
        self.text.clear();
        self.shifts.clear();
        let mut at = 0;
        let mut removed = 0;
        for &(start, len) in breaks {
            self.text.extend_from_slice(&hay[at..start]);
            removed += len;
            self.shifts.push((self.text.len(), removed));
            at = start + len;
        }
        self.text.extend_from_slice(&hay[at..]);
    }

    /// The original offset of compacted offset `c`.
    pub(crate) fn original(&self, c: usize) -> usize {
        let i = self.shifts.partition_point(|&(pos, _)| pos <= c);
        if i == 0 { c } else { c + self.shifts[i - 1].1 }
    }

    /// The original span of the compacted span `start..end` (`end > start`).
    pub(crate) fn span(&self, start: usize, end: usize) -> (usize, usize) {
        (self.original(start), self.original(end - 1) + 1)
    }
}

/// `pattern` with its own removable breaks taken out, as it appears in a
/// compacted view.
///
/// Line-break bytes at either end are dropped too. Whether a break at a
/// pattern's edge is removable depends on the byte *outside* the pattern
/// (a value `\n+…` after a `w` in the text loses its `\n` in the view, and
/// keeps it after a space), so the edges cannot be matched reliably; the
/// rest of the pattern always can. A redaction then leaves a bare line
/// break of the value in place, which tells nothing. This also makes a
/// stream decide like a one-shot scrub where a break's outer neighbour was
/// already emitted: no pattern starts or ends on one.
pub(crate) fn compact_pattern(pattern: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    find(pattern, &mut b);
    let mut c = Compacted::default();
    c.build(pattern, &b);
    let is_break = |b: &u8| matches!(b, b'\n' | b'\r');
    let start = c
        .text
        .iter()
        .position(|b| !is_break(b))
        .unwrap_or(c.text.len());
    let end = c
        .text
        .iter()
        .rposition(|b| !is_break(b))
        .map_or(start, |e| e + 1);
    c.text[start..end].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removable_breaks_and_mapping() {
        let hay = b"ab\ncd\r\nef\n\ngh\n-";
        let mut b = Vec::new();
        find(hay, &mut b);
        assert_eq!(b, [(2, 1), (5, 2), (13, 1)]);
        let mut c = Compacted::default();
        c.build(hay, &b);
        assert_eq!(c.text, b"abcdef\n\ngh-");
        // "cdef" in the view is "cd\r\nef" in the text.
        assert_eq!(c.span(2, 6), (3, 9));
        assert_eq!(&hay[3..9], b"cd\r\nef");
        assert_eq!(c.span(0, 1), (0, 1));
    }

    #[test]
    fn patterns_lose_their_edge_breaks() {
        assert_eq!(compact_pattern(b"\n+abc\ndef\r"), b"+abcdef");
        assert_eq!(compact_pattern(b"\r\n\r\n"), b"");
        assert_eq!(compact_pattern(b"a \nb"), b"a \nb");
    }
}
