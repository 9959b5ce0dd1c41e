//! Where a stream's undecided tail begins: the bytes that could still be
//! part of a match once more input arrives.
//!
//! # The undecided tail
//!
//! After a feed, a byte can be decided (emitted, or redacted) as soon as
//! no match that the rest of the stream could complete covers it. A
//! stream therefore holds back only:
//!
//! - **in each view** (see `view`), the longest suffix of the *settled*
//!   view text that is a prefix of some pattern: a match that starts before
//!   it and crosses the settled point would make a longer such suffix.
//!   Bytes are settled when more input cannot change whether they are
//!   removable (`view::unsettled`: an escape sequence still open, the last
//!   character, which a backspace could still strike, a line break with
//!   fewer than eight view bytes after it). Of the unsettled tail after
//!   that, only what follows its first byte that begins some pattern is
//!   held: a match covering an unsettled byte starts before the settled
//!   point (excluded above) or at a byte of the tail that stays in the
//!   view, and its first byte is a pattern's first byte;
//! - **for dumps** (see `dump::open_from`), a dump run that the next bytes
//!   could still continue or begin: the block of lines that could be hex
//!   dump lines up to the end, and runs of tokens that could be characters
//!   or numbers of a dump, ending at the end or long enough to spell a
//!   pattern and close enough to the end for a candidate window still to
//!   come to reach them. This is not tail-exact (it does not ask whether
//!   the spelled bytes are a pattern's prefix), so a dump in progress
//!   keeps up to the old bound;
//! - never more than [`Scrubber::max_held_back`](crate::Scrubber::max_held_back),
//!   the bound that holds whatever the tail looks like.
//!
//! None of this looks at time or at how the input was split, so the
//! output stays byte-identical for every chunking.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// Every prefix of every pattern, indexed for "is this suffix a prefix?".
pub(crate) struct Prefixes {
    /// First 8 bytes of every pattern at least 8 bytes long -> patterns.
    first8: HashMap<u64, Vec<usize>, Fast>,
    /// (length, bytes) of every prefix shorter than 8 bytes.
    short: HashSet<u64, Fast>,
    /// Bytes some pattern starts with.
    first: [bool; 256],
    max_len: usize,
}

type Fast = BuildHasherDefault<MulHasher>;

/// Keys are already well mixed 8-byte words: one multiply suffices.
#[derive(Default)]
pub(crate) struct MulHasher(u64);

impl Hasher for MulHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = (x ^ self.0)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(29);
    }
}

fn word(bytes: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b[..bytes.len()].copy_from_slice(bytes);
    u64::from_le_bytes(b)
}

fn short_key(bytes: &[u8]) -> u64 {
    // Seven bytes at most, and the length in the top byte.
    word(bytes) | ((bytes.len() as u64) << 56)
}

impl Prefixes {
    pub(crate) fn new(patterns: &[Vec<u8>]) -> Self {
        let mut p = Prefixes {
            first8: HashMap::default(),
            short: HashSet::default(),
            first: [false; 256],
            max_len: 0,
        };
        for (i, pat) in patterns.iter().enumerate() {
            let Some(&b) = pat.first() else { continue };
            p.first[usize::from(b)] = true;
            p.max_len = p.max_len.max(pat.len());
            for k in 1..pat.len().min(7) + 1 {
                if k < 8 {
                    p.short.insert(short_key(&pat[..k]));
                }
            }
            if pat.len() >= 8 {
                p.first8.entry(word(&pat[..8])).or_default().push(i);
            }
        }
        p
    }

    /// Whether some pattern starts with `b`.
    pub(crate) fn begins(&self, b: u8) -> bool {
        self.first[usize::from(b)]
    }

    /// The start of the longest suffix of `text` that is a prefix of some
    /// pattern (a whole pattern included); `text.len()` when none is.
    pub(crate) fn pending_start(&self, text: &[u8], patterns: &[Vec<u8>]) -> usize {
        let len = text.len();
        let from = len.saturating_sub(self.max_len);
        for j in from..len {
            let rest = &text[j..];
            if !self.first[usize::from(rest[0])] {
                continue;
            }
            let hit = if rest.len() >= 8 {
                self.first8
                    .get(&word(&rest[..8]))
                    .is_some_and(|ps| ps.iter().any(|&pi| patterns[pi].starts_with(rest)))
            } else {
                self.short.contains(&short_key(rest))
            };
            if hit {
                return j;
            }
        }
        len
    }
}
