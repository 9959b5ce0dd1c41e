//! Which cut-off prefixes a stream may mark at its end, so that the mark is
//! no oracle.
//!
//! # The attack
//!
//! A stream that ends in a prefix of a value (`head -c 30 .env`) should
//! not print that prefix. But a marker that appears for *any* prefix of a
//! few bytes answers a question the model can ask as often as it likes:
//! "is this string the start of a value?". With one stream per candidate
//! (a JSON array of file names, each string scrubbed on its own; or a
//! `ScrubJson` request sent straight to the agent) it extends a known
//! public prefix (`ghp_`) one character at a time: 62 guesses each.
//!
//! # The rule
//!
//! A prefix is marked only when it alone carries so much of the value that
//! nobody could have produced it without already knowing about
//! [`DEFAULT_PARTIAL_GUESS_BITS`](crate::DEFAULT_PARTIAL_GUESS_BITS) (64)
//! bits of the value: the oracle then answers only questions whose answer
//! the asker already has. For each value:
//!
//! - its *public prefix* is discounted: the longest prefix ending in `_` or
//!   `-` within the first 16 bytes (`ghp_`, `github_pat_`,
//!   `sk-ant-api03-`, `glpat-`, `xoxb-`), or `AKIA`/`ASIA` (AWS key ids);
//! - the rest, the *body*, is given `bits` bits per character: the smaller
//!   of the size (log2) of the smallest standard alphabet holding all its
//!   bytes (digits, hex in one or both cases, lower- or upper-case
//!   alphanumerics, alphanumerics, base64 or URL-safe base64, printable
//!   ASCII, else 8 bits) and its empirical (Shannon) entropy, which is
//!   lower for repetitive values and never above the alphabet's;
//! - the shortest marked prefix of the value is `m = public + ceil(budget /
//!   bits)` bytes.
//!
//! For an encoded form, the shortest marked prefix of its pattern is the
//! larger of `m` scaled by the pattern's length over the value's, and one
//! more than the longest start of the pattern that any form of the value's
//! first `m - 1` bytes spells (so an encoding that expands the value's
//! start more than its end gains nothing). A line of a multi-line value
//! is judged as a value of its own; a fragment's prefix is never marked (a
//! fragment is already the shortest window worth masking). When the
//! shortest marked prefix is the whole pattern, the pattern has no partial
//! marks at all: the value is too weak for any to be safe. Its full
//! matches remain an oracle that cannot be avoided (masking a value tells
//! that it was there), which [`Scrubber::warnings`](crate::Scrubber::warnings)
//! reports for weak values.
//!
//! [`min_partial`](crate::ScrubberBuilder::min_partial) stays a floor on
//! top; a budget of 0 turns the rule off (every prefix of `min_partial`
//! bytes is marked, the rule before this one, kept for tests).

use crate::forms::{self, Form, Forms};

/// The longest public prefix discounted, in bytes.
const MAX_PUBLIC: usize = 16;

/// The length of `value`'s public prefix: the part a format makes known to
/// everyone, which a guesser need not guess.
pub(crate) fn public_prefix_len(value: &[u8]) -> usize {
    let head = &value[..value.len().min(MAX_PUBLIC)];
    if let Some(i) = head.iter().rposition(|&b| b == b'_' || b == b'-') {
        return i + 1;
    }
    if value.starts_with(b"AKIA") || value.starts_with(b"ASIA") {
        return 4;
    }
    0
}

/// Bits a blind guesser must cover per byte of `body`.
pub(crate) fn bits_per_byte(body: &[u8]) -> f64 {
    let alphabet = alphabet_size(body);
    (alphabet as f64).log2().min(forms::entropy_bits(body))
}

/// The size of the smallest standard alphabet that holds every byte.
fn alphabet_size(body: &[u8]) -> usize {
    let all = |f: &dyn Fn(u8) -> bool| body.iter().all(|&b| f(b));
    let lower_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    let upper_hex = |b: u8| b.is_ascii_digit() || (b'A'..=b'F').contains(&b);
    let lower = |b: u8| b.is_ascii_digit() || b.is_ascii_lowercase();
    let upper = |b: u8| b.is_ascii_digit() || b.is_ascii_uppercase();
    let candidates: [(usize, &dyn Fn(u8) -> bool); 11] = [
        (10, &|b: u8| b.is_ascii_digit()),
        (16, &lower_hex),
        (16, &upper_hex),
        (22, &|b: u8| b.is_ascii_hexdigit()),
        (36, &lower),
        (36, &upper),
        (62, &|b: u8| b.is_ascii_alphanumeric()),
        (65, &|b: u8| {
            b.is_ascii_alphanumeric() || b"+/=".contains(&b)
        }),
        (65, &|b: u8| {
            b.is_ascii_alphanumeric() || b"-_=".contains(&b)
        }),
        (67, &|b: u8| {
            b.is_ascii_alphanumeric() || b"+/-_=".contains(&b)
        }),
        (95, &|b: u8| (0x20..0x7f).contains(&b)),
    ];
    candidates
        .iter()
        .find(|(_, f)| all(f))
        .map_or(256, |(n, _)| *n)
}

/// The shortest prefix of `value` (in bytes) that may be marked: public
/// prefix plus `budget` bits. `None` when that is the whole value.
pub(crate) fn min_value_prefix(value: &[u8], budget: u32) -> Option<usize> {
    let public = public_prefix_len(value);
    let body = &value[public..];
    let bits = bits_per_byte(body);
    if bits <= 0.0 {
        return None;
    }
    let guessed = (f64::from(budget) / bits).ceil();
    // A value is far shorter than usize::MAX; the float is exact here.
    let m = public.saturating_add(guessed as usize);
    (m < value.len()).then_some(m)
}

/// For each pattern of one value (as [`forms::patterns`] lists them, after
/// `view` turned each into the bytes it is searched as), the shortest
/// prefix a stream's end may mark, or `None` for none.
pub(crate) fn thresholds(
    value: &[u8],
    forms_on: &Forms,
    patterns: &[(Form, Vec<u8>)],
    view: &dyn Fn(&[u8]) -> Vec<u8>,
    budget: u32,
    min_partial: usize,
) -> Vec<Option<usize>> {
    let floor = |k: usize, len: usize| {
        let k = k.max(min_partial);
        (min_partial > 0 && k < len).then_some(k)
    };
    if budget == 0 {
        return patterns.iter().map(|(_, p)| floor(0, p.len())).collect();
    }
    let m = min_value_prefix(value, budget);
    // Everything the first m - 1 bytes of the value spell in any form: a
    // mark must need more than that. Cut at a character boundary, upwards,
    // so the JSON forms exist for the prefix too.
    let known: Vec<Vec<u8>> = match m {
        Some(m) if m > 1 => {
            let mut cut = m - 1;
            while cut < value.len() && std::str::from_utf8(&value[..cut]).is_err() {
                cut += 1;
            }
            let prefix_forms = Forms {
                fragments: None,
                lines: false,
                ..*forms_on
            };
            forms::patterns(&value[..cut], &prefix_forms)
                .into_iter()
                .map(|(_, p)| view(&p))
                .collect()
        }
        _ => Vec::new(),
    };
    patterns
        .iter()
        .map(|(form, p)| match form {
            Form::Fragment => None,
            Form::Line => floor(min_value_prefix(p, budget)?, p.len()),
            _ => {
                let m = m?;
                let scaled = (m * p.len()).div_ceil(value.len());
                let spelled = known.iter().map(|q| common_prefix(p, q)).max().unwrap_or(0);
                floor(scaled.max(spelled + 1), p.len())
            }
        })
        .collect()
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_prefixes() {
        assert_eq!(public_prefix_len(b"ghp_abcdef"), 4);
        assert_eq!(public_prefix_len(b"github_pat_11AB_cd"), 16);
        assert_eq!(public_prefix_len(b"sk-ant-api03-abc"), 13);
        assert_eq!(public_prefix_len(b"AKIAIOSFODNN7EXAMPLE"), 4);
        assert_eq!(public_prefix_len(b"deadbeefdeadbeef"), 0);
    }

    #[test]
    fn alphabets() {
        assert_eq!(alphabet_size(b"0123"), 10);
        assert_eq!(alphabet_size(b"0af9"), 16);
        assert_eq!(alphabet_size(b"0aF9"), 22);
        assert_eq!(alphabet_size(b"azAZ09"), 62);
        assert_eq!(alphabet_size(b"az+/=="), 65);
        assert_eq!(alphabet_size(b"p@ss word"), 95);
        assert_eq!(alphabet_size("é".as_bytes()), 256);
    }

    #[test]
    fn weak_values_have_no_partials() {
        assert_eq!(min_value_prefix(b"aaaaaaaaaaaaaaaaaaaaaaaa", 64), None);
        assert_eq!(min_value_prefix(b"Tr0ub4dor&3x", 64), None);
        // 32 hex digits: about 3.9 bits each, 17 needed.
        let m = min_value_prefix(b"9f86d081884c7d659a2feaa0c55ad015", 64).unwrap();
        assert!((16..=18).contains(&m), "{m}");
    }
}
