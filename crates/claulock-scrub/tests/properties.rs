//! Property tests: random secrets, random embeddings of every form, random
//! chunkings down to one byte.

use claulock_scrub::testdata::{find_leak, log_text};
use claulock_scrub::{Forms, Scrubber, fuzzing};

use crate::streams::b64;
use proptest::prelude::*;

/// Independent encoders (not the crate's), to embed a value.
fn encodings(v: &[u8]) -> Vec<Vec<u8>> {
    let mut blob = b"user:".to_vec();
    blob.extend_from_slice(v);
    vec![
        v.to_vec(),
        v.iter().rev().copied().collect(),
        b64(v),
        b64(&blob),
        b64(&blob[1..]),
        b64(&blob[2..]),
        b64(v)
            .iter()
            .map(|&c| match c {
                b'+' => b'-',
                b'/' => b'_',
                c => c,
            })
            .collect(),
        v.iter()
            .flat_map(|b| format!("{b:02x}").into_bytes())
            .collect(),
        v.iter()
            .flat_map(|b| format!("%{b:02X}").into_bytes())
            .collect(),
        v.iter()
            .flat_map(|b| format!("\\x{b:02x}").into_bytes())
            .collect(),
        // `base64` wraps at 76 columns, PEM at 64 with CRLF.
        b64(&blob)
            .chunks(76)
            .flat_map(|l| [l, b"\n"].concat())
            .collect(),
        b64(&blob[2..])
            .chunks(64)
            .flat_map(|l| [l, b"\r\n"].concat())
            .collect(),
    ]
}

/// Printable bytes that stand for `v` (for the interleavings below, which
/// are about text a terminal shows).
fn printable(v: &[u8]) -> Vec<u8> {
    v.iter().map(|b| b'!' + b % 94).collect()
}

/// A printable value with bytes between its characters that a reader
/// skips or a terminal consumes (an ANSI reset after each, a zero-width
/// space, a colour around each, a NUL, `man`'s bold and underline), or
/// spelled by a dump (`xxd`, `hexdump -C`, a Python list, `grep -o . |
/// nl`, `od -c`), written here independently of the crate.
fn interleavings(v: &[u8]) -> Vec<Vec<u8>> {
    let each = |f: &dyn Fn(u8) -> Vec<u8>| v.iter().flat_map(|&b| f(b)).collect::<Vec<u8>>();
    vec![
        each(&|b| [&[b], b"\x1b[0m".as_slice()].concat()),
        each(&|b| [&[b], "\u{200b}".as_bytes()].concat()),
        each(&|b| [b"\x1b[38;5;196m".as_slice(), &[b], b"\x1b[0m"].concat()),
        each(&|b| vec![b, 0]),
        each(&|b| vec![b, 8, b]),
        each(&|b| vec![b'_', 8, b]),
        each(&|b| [&[b], "\u{2060}\u{feff}".as_bytes()].concat()),
        dump_lines(v, &|i, line| {
            let groups: Vec<String> = line
                .chunks(2)
                .map(|g| g.iter().map(|b| format!("{b:02x}")).collect())
                .collect();
            format!(
                "{:08x}: {:<39}  {}\n",
                i * 16,
                groups.join(" "),
                String::from_utf8_lossy(line)
            )
        }),
        dump_lines(v, &|i, line| {
            let hex: Vec<String> = line.iter().map(|b| format!("{b:02x}")).collect();
            format!(
                "{:08x}  {:<48} |{}|\n",
                i * 16,
                hex.join(" "),
                String::from_utf8_lossy(line)
            )
        }),
        format!("{:?}", v).into_bytes(),
        std::iter::once(b'\n')
            .chain(
                v.iter()
                    .enumerate()
                    .flat_map(|(i, &b)| format!("{:6}\t{}\n", i + 1, b as char).into_bytes()),
            )
            .collect(),
        dump_lines(v, &|i, line| {
            let cells: String = line.iter().map(|&b| format!("   {}", b as char)).collect();
            format!("{:07o}{cells}\n", i * 16)
        }),
    ]
}

/// A dump of `v`, 16 bytes a line, from the start of a line (as tools
/// print them).
fn dump_lines(v: &[u8], line: &dyn Fn(usize, &[u8]) -> String) -> Vec<u8> {
    let lines = v
        .chunks(16)
        .enumerate()
        .flat_map(|(i, l)| line(i, l).into_bytes());
    std::iter::once(b'\n').chain(lines).collect()
}

/// Secrets as they are: random bytes with some variety (a value of eleven
/// NUL bytes is not a credential, and masking it would mangle everything).
fn secret() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 12..48).prop_filter("at least 8 distinct bytes", |v| {
        v.iter().collect::<std::collections::BTreeSet<_>>().len() >= 8
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// (a) streamed equals one-shot for random chunkings; (b) no form of
    /// any secret survives, nor any interleaving of a printable one;
    /// one-shot equals the brute-force reference.
    #[test]
    fn no_form_survives_any_chunking(
        secrets in prop::collection::vec(secret(), 1..4),
        picks in prop::collection::vec((0usize..24, 0usize..4, 0usize..2000), 1..6),
        seed in any::<u64>(),
        splits in prop::collection::vec(1usize..300, 1..8),
    ) {
        let mut b = Scrubber::builder();
        for (i, v) in secrets.iter().enumerate() {
            b.secret(format!("S{i}"), v);
            b.secret(format!("P{i}"), printable(v));
        }
        let Ok(s) = b.build() else { return Ok(()) };
        let mut input = log_text(2000, seed);
        let mut planted = Vec::new();
        let mut ranges: Vec<std::ops::Range<usize>> = Vec::new();
        for (form, which, at) in &picks {
            let v = &secrets[which % secrets.len()];
            let enc = match encodings(v).get(*form) {
                Some(enc) => enc.clone(),
                None => {
                    let enc = interleavings(&printable(v))[form - 12].clone();
                    planted.push(enc.clone());
                    enc
                }
            };
            // Never inside another planted form: an escape cut open by
            // a value swallows its first character (a combination the
            // crate docs say is not caught).
            let mut at = (*at).min(input.len());
            if let Some(r) = ranges.iter().find(|r: &&std::ops::Range<usize>| r.start < at && at < r.end) {
                at = r.end;
            }
            for r in &mut ranges {
                if r.start >= at {
                    *r = r.start + enc.len()..r.end + enc.len();
                }
            }
            ranges.push(at..at + enc.len());
            input.splice(at..at, enc.iter().copied());
        }
        fuzzing::check(&s, &input, &splits);
        let out = s.scrub(&input);
        for (i, v) in secrets.iter().enumerate() {
            prop_assert!(find_leak(&out, v).is_none(), "S{i} leaked as {:?}", find_leak(&out, v));
            let p = printable(v);
            prop_assert!(find_leak(&out, &p).is_none(), "P{i} leaked as {:?}", find_leak(&out, &p));
        }
        for enc in &planted {
            prop_assert!(!out.windows(enc.len()).any(|w| w == enc.as_slice()), "an interleaving survived");
        }
    }

    /// (c) text with no secret in it comes out unchanged, whatever the chunks.
    #[test]
    fn clean_text_is_unchanged(secrets in prop::collection::vec(secret(), 1..4), seed in any::<u64>(), chunk in 1usize..5000) {
        let mut b = Scrubber::builder();
        b.forms(Forms { fragments: Some(16), ..Forms::default() });
        for (i, v) in secrets.iter().enumerate() {
            b.secret(format!("S{i}"), v);
        }
        let Ok(s) = b.build() else { return Ok(()) };
        let input = log_text(20_000, seed);
        prop_assume!(fuzzing::reference(&s, &input) == input);
        let mut out = Vec::new();
        let mut st = s.stream();
        for c in input.chunks(chunk) {
            st.feed(c, &mut out);
        }
        st.finish(&mut out);
        prop_assert!(out == input);
    }

    /// The structured fuzz target's logic, on random bytes.
    #[test]
    fn fuzz_logic(data in prop::collection::vec(any::<u8>(), 0..600)) {
        fuzzing::scrub_structured(&data);
    }
}

/// Found by the property test in CI: a degenerate value (one byte then
/// NULs). It must be scrubbed, and the leak detector must not see it in
/// zero bytes decoded from unrelated hex runs.
#[test]
fn degenerate_value_regression() {
    let value = [b"0".as_slice(), &[0u8; 11]].concat();
    let s = Scrubber::builder().secret("S0", &value).build().unwrap();
    let input = [value.as_slice(), &log_text(2000, 100_783_138_553_801_937)].concat();
    fuzzing::check(&s, &input, &[1]);
    let out = s.scrub(&input);
    assert!(
        find_leak(&out, &value).is_none(),
        "{:?}",
        find_leak(&out, &value)
    );
}

/// Shrunk by proptest from a CI failure (chunked output differed from
/// one-shot): secrets sharing a long run of NULs, one-byte chunks.
#[test]
fn regression_shared_prefixes_one_byte_chunks() {
    let secrets: [&[u8]; 3] = [
        &[0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7],
        &[0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7],
        &[10, 43, 0, 0, 0, 0, 0, 1, 11, 2, 12, 13],
    ];
    let mut b = Scrubber::builder();
    for (i, v) in secrets.iter().enumerate() {
        b.secret(format!("S{i}"), v);
    }
    let s = b.build().unwrap();
    let mut input = log_text(2000, 121_523_857_861_893_035);
    let at = 32.min(input.len());
    input.splice(at..at, secrets[2].iter().copied());
    fuzzing::check(&s, &input, &[1]);
    // The value starts with `\n` after a `w`: the one-shot scrub once
    // missed it there (the view drops that break, the pattern kept it).
    assert!(find_leak(&s.scrub(&input), secrets[2]).is_none());
}
