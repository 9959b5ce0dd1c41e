//! Surrogates: what a command holds in place of a proxy-delivered value.
//!
//! A surrogate has the value's length (so a `Content-Length` stays true
//! when the proxy swaps one for the other, and a client that checks a
//! token's length accepts it) and keeps a well-known public prefix such as
//! `ghp_` (clients that check a token's shape accept it too). Every other
//! byte is drawn at random from letters and digits, fresh for each run, so
//! it tells nothing of the value beyond its length and that prefix; and it
//! is made of characters that no quoting context of bash changes, so the
//! command can carry it as written.

/// Token prefixes that vendors document as public: they name the kind of
/// token, not its holder. Longest first, so that `sk-ant-` wins over `sk-`.
pub const PUBLIC_PREFIXES: &[&str] = &[
    "github_pat_",
    "sk-ant-api03-",
    "sk-ant-",
    "sk-proj-",
    "glpat-",
    "xoxb-",
    "xoxp-",
    "xapp-",
    "npm_",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "hf_",
    "sk_live_",
    "sk_test_",
    "rk_live_",
    "pk_live_",
    "AKIA",
    "ASIA",
    "sk-",
];

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// The fewest random characters a surrogate has: a value whose public
/// prefix leaves fewer gets no prefix at all, so that no surrogate can be
/// guessed.
const MIN_RANDOM: usize = 16;

/// A fresh surrogate for `value`. `fill` fills a buffer with random bytes
/// (the operating system's generator).
///
/// A value too short to keep its prefix with 16 random characters after it
/// gets a surrogate of its own length, fully random.
///
/// ```
/// let mut n = 0u8;
/// let mut fill = |b: &mut [u8]| b.iter_mut().for_each(|x| { n = n.wrapping_add(7); *x = n });
/// let s = claulock_proxy::surrogate::make(b"ghp_0123456789abcdefghijklmnopqrstuvwxyz", &mut fill);
/// assert!(s.starts_with("ghp_"));
/// assert_eq!(s.len(), 40);
/// assert_ne!(&s[4..], "0123456789abcdefghijklmnopqrstuvwxyz");
/// ```
pub fn make(value: &[u8], fill: &mut dyn FnMut(&mut [u8])) -> String {
    let prefix = PUBLIC_PREFIXES
        .iter()
        .find(|p| value.starts_with(p.as_bytes()) && value.len() >= p.len() + MIN_RANDOM)
        .map_or("", |p| *p);
    let mut out = String::with_capacity(value.len());
    out.push_str(prefix);
    // Rejection sampling keeps every character equally likely.
    let limit = 256 - 256 % ALPHABET.len();
    let mut random = [0u8; 64];
    while out.len() < value.len() {
        fill(&mut random);
        for &b in random.iter().filter(|&&b| usize::from(b) < limit) {
            out.push(char::from(ALPHABET[usize::from(b) % ALPHABET.len()]));
            if out.len() == value.len() {
                break;
            }
        }
    }
    random.fill(0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os_random(b: &mut [u8]) {
        rustix::rand::getrandom(b, rustix::rand::GetRandomFlags::empty()).unwrap();
    }

    #[test]
    fn a_surrogate_has_the_length_and_public_prefix_only() {
        for value in [
            &b"ghp_16C7e42F292c6912E7710c838347Ae178B4a"[..],
            b"sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789",
            b"short-v1",
            b"not a token: spaces and \xff bytes, long enough",
        ] {
            let s = make(value, &mut os_random);
            assert_eq!(s.len(), value.len());
            assert!(
                s.bytes()
                    .all(|b| ALPHABET.contains(&b) || b"_-".contains(&b)),
                "letters, digits and the prefix's punctuation only"
            );
            let prefix = PUBLIC_PREFIXES
                .iter()
                .find(|p| s.starts_with(*p))
                .map_or(0, |p| p.len());
            assert!(
                s.as_bytes()[prefix..] != value[prefix..],
                "nothing of the value past its prefix"
            );
            assert_ne!(s, make(value, &mut os_random), "fresh each time");
        }
        // Too short to keep a prefix and stay unguessable.
        let short = make(b"ghp_0123456789", &mut os_random);
        assert_eq!(short.len(), 14);
    }

    #[test]
    fn sampling_is_unbiased_even_with_a_skewed_generator() {
        // A generator that returns only bytes above the cut-off at first:
        // they are rejected, never mapped.
        let mut calls = 0;
        let mut fill = |b: &mut [u8]| {
            calls += 1;
            for x in b.iter_mut() {
                *x = if calls < 3 { 255 } else { 0 };
            }
        };
        let s = make(b"0123456789abcdefghij", &mut fill);
        assert_eq!(s, "A".repeat(20));
    }
}
