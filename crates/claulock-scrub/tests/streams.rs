//! Streams: chunking, the end of a stream, markers, statistics, errors.

use std::io::Write;

use claulock_scrub::testdata::find_leak;
use claulock_scrub::{Form, Forms, ScrubWriter, Scrubber, Warning};

const TOKEN: &[u8] = b"ghp_16C7e42F292c6912E7710c838347Ae178B4a";

fn scrubber() -> Scrubber {
    Scrubber::builder()
        .secret("GITHUB_TOKEN", TOKEN)
        .build()
        .unwrap()
}

#[test]
fn every_split_of_a_token_gives_the_same_output() {
    let s = scrubber();
    let input = [b"before ".as_slice(), TOKEN, b" after\n"].concat();
    let whole = s.scrub(&input);
    assert_eq!(whole, b"before [REDACTED:GITHUB_TOKEN] after\n");
    for cut in 0..=input.len() {
        for cut2 in cut..=input.len() {
            let mut out = Vec::new();
            let mut st = s.stream();
            st.feed(&input[..cut], &mut out);
            st.feed(&input[cut..cut2], &mut out);
            st.feed(&input[cut2..], &mut out);
            st.finish(&mut out);
            assert_eq!(out, whole, "cuts at {cut} and {cut2}");
        }
    }
}

#[test]
fn one_byte_chunks() {
    let s = scrubber();
    let input = [
        b"x".repeat(500).as_slice(),
        TOKEN,
        b"\n",
        &hex(TOKEN),
        b"\n",
    ]
    .concat();
    let mut out = Vec::new();
    let mut st = s.stream();
    for b in &input {
        st.feed(std::slice::from_ref(b), &mut out);
    }
    st.finish(&mut out);
    assert_eq!(out, s.scrub(&input));
    assert!(out.ends_with(b"[REDACTED:GITHUB_TOKEN]\n[REDACTED:GITHUB_TOKEN:hex]\n"));
}

fn hex(v: &[u8]) -> Vec<u8> {
    v.iter()
        .flat_map(|b| format!("{b:02x}").into_bytes())
        .collect()
}

#[test]
fn holds_back_a_bounded_tail() {
    // Matches may cross line breaks and invisible bytes and be spelled by
    // dumps (the default): at most 16 times the longest pattern and the
    // context; across line breaks only, three times; across nothing, less
    // than once.
    for (line_breaks, invisible, dumps, factor, context) in [
        (true, true, true, 16, 260),
        (true, false, true, 16, 260),
        (true, false, false, 3, 0),
        (false, false, false, 1, 0),
    ] {
        let s = Scrubber::builder()
            .secret("GITHUB_TOKEN", TOKEN)
            .forms(Forms {
                line_breaks,
                invisible,
                dumps,
                ..Forms::default()
            })
            .build()
            .unwrap();
        assert_eq!(
            s.max_held_back(),
            factor * s.max_pattern_len() + context - 1
        );
        // The bound is a maximum: text that could be part of no match is
        // not held at all, and a tail that is the start of a value is held
        // whole.
        let mut st = s.stream();
        let mut out = Vec::new();
        let input = vec![b'.'; 10_000];
        st.feed(&input, &mut out);
        let held = input.len() - out.len();
        assert!(held <= s.max_held_back());
        assert_eq!(held, 0);
        assert_eq!(st.held_back(), 0);
        let cut = &TOKEN[..TOKEN.len() - 1];
        st.feed(cut, &mut out);
        assert_eq!(st.held_back(), cut.len());
    }
}

/// Standard padded base64, written independently of the crate's encoders.
pub(crate) fn b64(data: &[u8]) -> Vec<u8> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    for c in data.chunks(3) {
        let n = c
            .iter()
            .enumerate()
            .fold(0u32, |a, (i, &b)| a | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= c.len() {
                A[(n >> (18 - 6 * i) & 63) as usize]
            } else {
                b'='
            });
        }
    }
    out
}

fn wrap(text: &[u8], width: usize, eol: &[u8]) -> Vec<u8> {
    text.chunks(width).flat_map(|l| [l, eol].concat()).collect()
}

#[test]
fn wrapped_encodings_are_caught_at_every_offset() {
    let s = scrubber();
    for offset in 0..100 {
        // `base64 .env`: the token at any offset of a file, wrapped at 76.
        let env = [
            b"X".repeat(offset).as_slice(),
            b"\nGITHUB_TOKEN=",
            TOKEN,
            b"\nOTHER=1\n",
        ]
        .concat();
        for (width, eol) in [(76, b"\n".as_slice()), (64, b"\r\n".as_slice())] {
            let wrapped = wrap(&b64(&env), width, eol);
            let out = s.scrub(&wrapped);
            assert!(
                find_leak(&out, TOKEN).is_none(),
                "offset {offset}, width {width}: {:?}",
                find_leak(&out, TOKEN)
            );
        }
    }
    // `fold -w 10` of the value itself.
    let folded = wrap(TOKEN, 10, b"\n");
    let out = s.scrub(&folded);
    assert_eq!(out, b"[REDACTED:GITHUB_TOKEN]\n");
}

#[test]
fn a_stream_cut_mid_secret_redacts_the_prefix() {
    let s = scrubber();
    let out = s.scrub(&[b"token: ".as_slice(), &TOKEN[..30]].concat());
    assert_eq!(out, b"token: [REDACTED:GITHUB_TOKEN:partial]");
    // Shorter than the minimum: a few bytes that merely look like a start.
    let out = s.scrub(b"prefix ghp_1");
    assert_eq!(out, b"prefix ghp_1");
}

#[test]
fn overlapping_and_adjacent_matches_merge() {
    let s = Scrubber::builder()
        .secret("A", "AAAA-1111-bbbb-2222")
        .secret("B", "2222-cccc-3333-dddd")
        .build()
        .unwrap();
    // A and B overlap in "2222".
    assert_eq!(
        s.scrub(b"<AAAA-1111-bbbb-2222-cccc-3333-dddd>"),
        b"<[REDACTED:A]>"
    );
    // Adjacent.
    assert_eq!(
        s.scrub(b"<AAAA-1111-bbbb-22222222-cccc-3333-dddd>"),
        b"<[REDACTED:A]>"
    );
    // Separated by one byte: two markers.
    assert_eq!(
        s.scrub(b"AAAA-1111-bbbb-2222 2222-cccc-3333-dddd"),
        b"[REDACTED:A] [REDACTED:B]"
    );
}

#[test]
fn binary_and_invalid_utf8_pass_through() {
    let s = scrubber();
    let input: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    assert_eq!(s.scrub(&input), input);
    let with = [&input[..1000], TOKEN, &input[1000..]].concat();
    let out = s.scrub(&with);
    assert_eq!(
        out,
        [
            &input[..1000],
            b"[REDACTED:GITHUB_TOKEN]".as_slice(),
            &input[1000..]
        ]
        .concat()
    );
}

#[test]
fn statistics_count_forms_never_bytes() {
    let s = scrubber();
    let mut st = s.stream();
    let mut out = Vec::new();
    let input = [TOKEN, b" ", TOKEN, b" ", &hex(TOKEN)].concat();
    st.feed(&input, &mut out);
    st.finish(&mut out);
    let stats = st.stats();
    let count = |f: Form| stats.iter().find(|c| c.form == f).map_or(0, |c| c.count);
    assert_eq!(count(Form::Raw), 2);
    assert_eq!(count(Form::Hex), 1);
    assert!(stats.iter().all(|c| c.secret == "GITHUB_TOKEN"));
    let debug = format!("{stats:?} {s:?} {st:?}");
    assert!(!debug.contains("ghp_16C7"), "debug output holds the value");
}

#[test]
fn marker_template() {
    let s = Scrubber::builder()
        .secret("K", TOKEN)
        .marker("<<{name}|{form}>>")
        .build()
        .unwrap();
    assert_eq!(s.scrub(TOKEN), b"<<K|raw>>");
    let err = Scrubber::builder()
        .secret("K", TOKEN)
        .marker("{{{name}}}")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("placeholder"), "{err}");
}

#[test]
fn short_and_weak_values() {
    let err = Scrubber::builder()
        .secret("PIN", "1234")
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "secret PIN is 4 bytes long, shorter than the minimum of 8: a value that short cannot be masked safely"
    );
    let s = Scrubber::builder()
        .secret("PW", "password")
        .build()
        .unwrap();
    assert_eq!(s.warnings(), [Warning::Weak { name: "PW".into() }]);
    assert!(scrubber().warnings().is_empty());
    // A name with a current and a rotated-out value: both caught, one name.
    let s = Scrubber::builder()
        .secret("A", TOKEN)
        .secret("A", b"another-value-1")
        .build()
        .unwrap();
    let mut st = s.stream();
    let mut out = Vec::new();
    st.feed(&[TOKEN, b" another-value-1"].concat(), &mut out);
    st.finish(&mut out);
    assert_eq!(out, b"[REDACTED:A] [REDACTED:A]");
    assert_eq!(st.stats().len(), 1);
    assert_eq!(st.stats()[0].count, 2);
}

#[test]
fn forms_can_be_switched_off() {
    let s = Scrubber::builder()
        .secret("T", TOKEN)
        .forms(Forms {
            hex: false,
            ..Forms::default()
        })
        .build()
        .unwrap();
    assert_eq!(s.scrub(&hex(TOKEN)), hex(TOKEN));
    assert_eq!(s.scrub(TOKEN), b"[REDACTED:T]");
}

#[test]
fn fragments_catch_substrings() {
    let s = Scrubber::builder()
        .secret("T", TOKEN)
        .forms(Forms {
            fragments: Some(12),
            ..Forms::default()
        })
        .build()
        .unwrap();
    // `cut -c5-20` of the token.
    assert_eq!(s.scrub(&TOKEN[4..20]), b"[REDACTED:T:fragment]");
    assert_eq!(scrubber().scrub(&TOKEN[4..20]), &TOKEN[4..20]);
}

#[test]
fn writer_adapter() {
    let s = scrubber();
    let mut w = ScrubWriter::new(&s, Vec::new());
    w.write_all(&TOKEN[..10]).unwrap();
    w.flush().unwrap();
    w.write_all(&TOKEN[10..]).unwrap();
    w.write_all(b"\n").unwrap();
    assert_eq!(w.stats().len(), 0, "nothing decided yet: the tail is held");
    assert_eq!(w.finish().unwrap(), b"[REDACTED:GITHUB_TOKEN]\n");
}

#[test]
fn scrubbers_are_shared_across_threads() {
    let s = scrubber();
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let s = s.clone();
            std::thread::spawn(move || {
                s.scrub(
                    format!("{i}:")
                        .as_bytes()
                        .iter()
                        .chain(TOKEN)
                        .copied()
                        .collect::<Vec<_>>()
                        .as_slice(),
                )
            })
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        assert_eq!(
            h.join().unwrap(),
            format!("{i}:[REDACTED:GITHUB_TOKEN]").as_bytes()
        );
    }
}
