//! The prefix oracle: a model that chooses strings and sees whether they
//! come back changed must not learn a value's characters from the marks a
//! stream's end gives a cut-off prefix.
//!
//! The attacker knows the value's format (its public prefix and alphabet)
//! and the crate's forms. It extends what it knows one character at a
//! time: for each candidate character it scrubs the known prefix plus the
//! candidate, raw and in the forms whose prefixes it can spell (hex,
//! base64, JSON `\u` escapes), each as its own stream, and keeps the first
//! candidate whose output differs from its input. Values are canaries made
//! from fixed seeds and never printed.

use claulock_scrub::testdata::Rng;
use claulock_scrub::{Scrubber, json};
use serde_json::Value;

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const HEX: &[u8] = b"0123456789abcdef";
const URL_SAFE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const BASE64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";

/// A canary: its name, value, the public prefix an attacker knows, and
/// the alphabet it guesses from.
struct Canary {
    name: &'static str,
    value: Vec<u8>,
    public: usize,
    alphabet: Vec<u8>,
}

fn pick(rng: &mut Rng, alphabet: &[u8], n: usize) -> Vec<u8> {
    (0..n)
        .map(|_| alphabet[rng.below(alphabet.len())])
        .collect()
}

fn printable() -> Vec<u8> {
    (0x20..0x7f).collect()
}

fn canaries(seed: u64) -> Vec<Canary> {
    let mut rng = Rng::new(seed);
    let mut ghp = b"ghp_".to_vec();
    ghp.extend(pick(&mut rng, ALNUM, 36));
    let mut ant = b"sk-ant-api03-".to_vec();
    ant.extend(pick(&mut rng, URL_SAFE, 93));
    ant.extend_from_slice(b"AA");
    let raw: Vec<u8> = (0..32).map(|_| rng.next_u64() as u8).collect();
    vec![
        Canary {
            name: "github token",
            value: ghp,
            public: 4,
            alphabet: ALNUM.to_vec(),
        },
        Canary {
            name: "32-hex key",
            value: pick(&mut rng, HEX, 32),
            public: 0,
            alphabet: HEX.to_vec(),
        },
        Canary {
            name: "anthropic key",
            value: ant,
            public: 13,
            alphabet: URL_SAFE.to_vec(),
        },
        Canary {
            name: "base64 blob",
            value: crate::streams::b64(&raw),
            public: 0,
            alphabet: BASE64.to_vec(),
        },
        Canary {
            name: "12-char password",
            value: pick(&mut rng, &printable(), 12),
            public: 0,
            alphabet: printable(),
        },
    ]
}

/// What the attacker sends for a candidate prefix: the prefix itself, and
/// the starts of its forms that depend on it alone.
fn probes(prefix: &[u8]) -> Vec<String> {
    let hex: String = prefix.iter().map(|b| format!("{b:02x}")).collect();
    // Base64: only the characters that hold six known bits.
    let b64 = crate::streams::b64(prefix);
    let whole = prefix.len() * 8 / 6;
    let b64 = String::from_utf8(b64[..whole].to_vec()).unwrap();
    // JSON escapes of every character, and for a single one the start of
    // the next (more would let a suffix spell the value's first character).
    let mut u: String = prefix.iter().map(|b| format!("\\u{b:04x}")).collect();
    if prefix.len() < 2 {
        u.push_str("\\u00");
    }
    vec![String::from_utf8(prefix.to_vec()).unwrap(), hex, b64, u]
}

/// How the attacker learns whether a batch of strings was marked.
#[derive(Clone, Copy, Debug)]
enum Channel {
    /// One stream per string.
    Streams,
    /// One JSON array of every candidate of a position, scrubbed by
    /// `json::scrub_strings`, one stream per string (as the agent does for
    /// a tool result or a `ScrubJson` request).
    JsonArray,
}

/// Which of `batch` came back changed.
fn changed(s: &Scrubber, batch: &[String], channel: Channel) -> Vec<bool> {
    match channel {
        Channel::Streams => batch
            .iter()
            .map(|p| s.scrub(p.as_bytes()) != p.as_bytes())
            .collect(),
        Channel::JsonArray => {
            let value = Value::Array(batch.iter().cloned().map(Value::String).collect());
            let out = json::scrub_strings(&value, &mut |text: &str| {
                let out = s.scrub(text.as_bytes());
                (out != text.as_bytes()).then(|| String::from_utf8_lossy(&out).into_owned())
            });
            match out {
                None => vec![false; batch.len()],
                Some(Value::Array(items)) => items
                    .iter()
                    .zip(batch)
                    .map(|(got, sent)| got.as_str() != Some(sent.as_str()))
                    .collect(),
                Some(_) => panic!("scrub_strings changed the shape"),
            }
        }
    }
}

/// The greedy attack: how many characters beyond the public prefix it
/// recovers correctly (it stops at the first position where no candidate
/// is marked, or at a wrong guess). A wrong candidate can be marked too,
/// when a suffix of its probe happens to start a form, so it takes the
/// candidate with the most marked probes.
fn attack(s: &Scrubber, c: &Canary, channel: Channel) -> usize {
    let mut known = c.value[..c.public].to_vec();
    while known.len() < c.value.len() {
        let mut batch = Vec::new();
        for &ch in &c.alphabet {
            let mut cand = known.clone();
            cand.push(ch);
            batch.extend(probes(&cand));
        }
        let marked = changed(s, &batch, channel);
        let per = batch.len() / c.alphabet.len();
        let score = |i: usize| {
            marked[i * per..(i + 1) * per]
                .iter()
                .filter(|&&m| m)
                .count()
        };
        let Some(i) = (0..c.alphabet.len())
            .filter(|&i| score(i) > 0)
            .max_by_key(|&i| (score(i), std::cmp::Reverse(i)))
        else {
            break;
        };
        known.push(c.alphabet[i]);
        if known[..] != c.value[..known.len()] {
            // A wrong guess: the attacker learned nothing true here.
            known.pop();
            break;
        }
    }
    known.len() - c.public
}

fn scrubber(value: &[u8], budget: Option<u32>) -> Scrubber {
    let mut b = Scrubber::builder();
    b.secret("CANARY", value);
    if let Some(bits) = budget {
        b.partial_guess_bits(bits);
    }
    b.build().unwrap()
}

#[test]
fn the_default_scrubber_is_no_prefix_oracle() {
    for seed in [1, 2, 3] {
        for c in canaries(seed) {
            let s = scrubber(&c.value, None);
            for channel in [Channel::Streams, Channel::JsonArray] {
                let learned = attack(&s, &c, channel);
                assert_eq!(
                    learned, 0,
                    "seed {seed}, {} via {channel:?}: the attacker learned {learned} characters",
                    c.name
                );
            }
        }
    }
}

/// The control: without the guessing budget (every prefix of
/// `min_partial` bytes marked, the rule before this one), the same attack
/// recovers every canary, so the test above can fail.
#[test]
fn without_the_budget_the_attack_recovers_every_canary() {
    for c in canaries(1) {
        let s = scrubber(&c.value, Some(0));
        for channel in [Channel::Streams, Channel::JsonArray] {
            let learned = attack(&s, &c, channel);
            assert_eq!(
                learned,
                c.value.len() - c.public,
                "{} via {channel:?}: the control attack stopped after {learned} characters",
                c.name
            );
        }
    }
}

/// The budget does not stop marking what matters: a long cut-off prefix of
/// a strong value, raw or encoded, at the end of output.
#[test]
fn a_long_cut_off_prefix_is_still_marked() {
    for seed in [1, 2, 3] {
        let c = canaries(seed).remove(0);
        let s = scrubber(&c.value, None);
        let head = &c.value[..30];
        let out = s.scrub(&[b"token: ".as_slice(), head].concat());
        assert_eq!(out, b"token: [REDACTED:CANARY:partial]", "seed {seed}");
        let hex: String = head.iter().map(|b| format!("{b:02x}")).collect();
        let out = s.scrub(format!("hex: {hex}").as_bytes());
        assert_eq!(out, b"hex: [REDACTED:CANARY:partial]", "seed {seed}");
        // Short of the budget: passed through like any text.
        let short = &c.value[..12];
        assert_eq!(s.scrub(short), short, "seed {seed}");
    }
}
