//! Finding every occurrence of every pattern, overlapping ones included.
//!
//! # Why a prefilter beats a plain Aho-Corasick search here
//!
//! Every pattern is long (at least `min_len` bytes) and derived from a
//! high-entropy value. So every occurrence of a pattern fully contains a
//! `W`-byte window starting at a multiple of `step = min_len - W + 1`.
//! The prefilter hashes only those windows (one 8-byte load, a multiply and
//! a bit test every `step` bytes) against a bit set of every `W`-gram of
//! every pattern, and runs the Aho-Corasick automaton only on the few
//! regions around a hit. On output that holds no secret, most bytes are
//! never inspected: 40-byte secrets give `step = 33`.

use aho_corasick::{AhoCorasick, AhoCorasickKind, Input, MatchKind};

/// One occurrence: pattern `pattern` at `start..end` of the haystack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Hit {
    pub start: usize,
    /// Stored negated so that sorting puts the longest match first.
    pub neg_end: isize,
    pub pattern: usize,
}

impl Hit {
    pub(crate) fn new(start: usize, end: usize, pattern: usize) -> Self {
        Hit {
            start,
            neg_end: -(end as isize),
            pattern,
        }
    }

    pub(crate) fn end(&self) -> usize {
        (-self.neg_end) as usize
    }
}

/// Window width of the prefilter, in bytes.
const W: usize = 8;

pub(crate) struct Matcher {
    ac: AhoCorasick,
    max_len: usize,
    min_len: usize,
    prefilter: Option<Prefilter>,
}

struct Prefilter {
    bits: Vec<u64>,
    shift: u32,
    step: usize,
}

/// A build failure of the automaton (pattern set too large).
#[derive(Debug)]
pub(crate) struct MatcherError(pub(crate) String);

impl Matcher {
    pub(crate) fn new(patterns: &[Vec<u8>]) -> Result<Self, MatcherError> {
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            // Only searched over small regions; the NFA keeps memory low.
            .kind(Some(AhoCorasickKind::ContiguousNFA))
            .build(patterns)
            .map_err(|e| MatcherError(e.to_string()))?;
        let max_len = patterns.iter().map(Vec::len).max().unwrap_or(0);
        let min_len = patterns.iter().map(Vec::len).min().unwrap_or(0);
        let prefilter = (min_len >= W).then(|| Prefilter::new(patterns, min_len));
        Ok(Matcher {
            ac,
            max_len,
            min_len,
            prefilter,
        })
    }

    pub(crate) fn max_len(&self) -> usize {
        self.max_len
    }

    pub(crate) fn min_len(&self) -> usize {
        self.min_len
    }

    /// Every occurrence of every pattern that lies wholly in `hay`, sorted
    /// by start, longest first.
    pub(crate) fn find_all(&self, hay: &[u8], out: &mut Vec<Hit>) {
        out.clear();
        match &self.prefilter {
            None => self.verify(hay, 0, hay.len(), out),
            Some(pf) => {
                let reach_back = self.max_len - W;
                let mut region: Option<(usize, usize)> = None;
                let mut p = 0;
                while p + W <= hay.len() {
                    if pf.maybe(&hay[p..p + W]) {
                        let lo = p.saturating_sub(reach_back);
                        let hi = (p + self.max_len).min(hay.len());
                        region = match region {
                            Some((rlo, rhi)) if lo <= rhi => Some((rlo, hi.max(rhi))),
                            Some((rlo, rhi)) => {
                                self.verify(hay, rlo, rhi, out);
                                Some((lo, hi))
                            }
                            None => Some((lo, hi)),
                        };
                    }
                    p += pf.step;
                }
                if let Some((lo, hi)) = region {
                    self.verify(hay, lo, hi, out);
                }
            }
        }
        out.sort_unstable();
        out.dedup();
    }

    fn verify(&self, hay: &[u8], lo: usize, hi: usize, out: &mut Vec<Hit>) {
        let input = Input::new(hay).range(lo..hi);
        // Standard match kind supports overlapping search; it cannot fail.
        if let Ok(iter) = self.ac.try_find_overlapping_iter(input) {
            for m in iter {
                out.push(Hit::new(m.start(), m.end(), m.pattern().as_usize()));
            }
        }
    }
}

impl Prefilter {
    fn new(patterns: &[Vec<u8>], min_len: usize) -> Self {
        let grams: usize = patterns.iter().map(|p| p.len() + 1 - W).sum();
        // About 64 bits per gram and two probes keep false hits near 0.05%.
        let bits_wanted = (grams * 64).next_power_of_two().clamp(1 << 16, 1 << 26);
        let log2 = bits_wanted.trailing_zeros();
        let mut pf = Prefilter {
            bits: vec![0; bits_wanted / 64],
            shift: 64 - log2,
            step: min_len - W + 1,
        };
        for p in patterns {
            for w in p.windows(W) {
                for h in pf.hashes(w) {
                    pf.bits[h / 64] |= 1 << (h % 64);
                }
            }
        }
        pf
    }

    /// Two bit positions per window (a Bloom filter with k = 2): false hits
    /// cost a verification, so their rate matters more than one multiply.
    #[inline]
    fn hashes(&self, window: &[u8]) -> [usize; 2] {
        let mut b = [0u8; W];
        b.copy_from_slice(window);
        let x = u64::from_le_bytes(b);
        [
            (x.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize,
            (x.wrapping_mul(0xC2B2_AE3D_27D4_EB4F) >> self.shift) as usize,
        ]
    }

    #[inline]
    fn maybe(&self, window: &[u8]) -> bool {
        self.hashes(window)
            .iter()
            .all(|&h| self.bits[h / 64] & (1 << (h % 64)) != 0)
    }
}
