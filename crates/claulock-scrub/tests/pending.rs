//! The undecided tail: after a feed, a stream holds back only the bytes
//! that could still be part of a match, and emits everything before them.

use claulock_scrub::{Forms, Scrubber, fuzzing};
use proptest::prelude::*;

const TOKEN: &[u8] = b"ghp_16C7e42F292c6912E7710c838347Ae178B4a";

fn scrubber(forms: Forms) -> Scrubber {
    Scrubber::builder()
        .secret("GITHUB_TOKEN", TOKEN)
        .forms(forms)
        .build()
        .unwrap()
}

fn every_forms() -> Vec<Forms> {
    let d = Forms::default();
    vec![
        d,
        Forms { dumps: false, ..d },
        Forms {
            dumps: false,
            invisible: false,
            ..d
        },
        Forms {
            dumps: false,
            invisible: false,
            line_breaks: false,
            ..d
        },
    ]
}

/// Feeds `chunks` one by one; returns what came out after each.
fn outputs(s: &Scrubber, chunks: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut st = s.stream();
    chunks
        .iter()
        .map(|c| {
            let mut out = Vec::new();
            st.feed(c, &mut out);
            out
        })
        .collect()
}

#[test]
fn a_prompt_is_emitted_at_once() {
    for forms in every_forms() {
        let s = scrubber(forms);
        let out = outputs(&s, &[b"Name? "]);
        assert_eq!(out[0], b"Name? ", "{forms:?}");
        // Line by line, each line as it comes.
        let out = outputs(&s, &[b"step 1 of 3 done\n", b"step 2 of 3 done\n"]);
        assert_eq!(out[0], b"step 1 of 3 done\n", "{forms:?}");
        assert_eq!(out[1], b"step 2 of 3 done\n", "{forms:?}");
        // Timestamped log lines are no dump lines.
        let a = b"2026-12-02T07:20:41Z INFO step 1 done\n";
        let b = b"2026-12-02T07:20:42Z INFO step 2 done\n";
        let out = outputs(&s, &[a, b]);
        assert_eq!(out[0], a, "{forms:?}");
        assert_eq!(out[1], b, "{forms:?}");
    }
}

#[test]
fn half_a_value_is_held() {
    for forms in every_forms() {
        let s = scrubber(forms);
        let mut st = s.stream();
        let mut out = Vec::new();
        st.feed(b"token=", &mut out);
        st.feed(&TOKEN[..20], &mut out);
        assert_eq!(out, b"token=", "{forms:?}");
        assert_eq!(st.held_back(), 20);
        st.feed(&TOKEN[20..], &mut out);
        st.feed(b" ok\n", &mut out);
        assert_eq!(out, b"token=[REDACTED:GITHUB_TOKEN] ok\n", "{forms:?}");
        assert_eq!(st.held_back(), 0);
        // Half of its hex form, too.
        let hex: Vec<u8> = TOKEN
            .iter()
            .flat_map(|b| format!("{b:02x}").into_bytes())
            .collect();
        let mut st = s.stream();
        let mut out = Vec::new();
        st.feed(b"x: ", &mut out);
        st.feed(&hex[..30], &mut out);
        assert_eq!(out, b"x: ", "{forms:?}");
    }
}

#[test]
fn an_open_escape_is_held_only_as_far_as_the_view_needs() {
    let s = scrubber(Forms::default());
    let mut st = s.stream();
    let mut out = Vec::new();
    // An escape sequence still open: it may turn out removable, and a
    // value may follow it; the text before it goes out.
    st.feed(b"status: \x1b[1;3", &mut out);
    assert!(out.starts_with(b"status: "), "{out:?}");
    assert!(st.held_back() <= 4, "{}", st.held_back());
    st.feed(b"2mgreen\x1b[0m ok\n", &mut out);
    assert_eq!(out, b"status: \x1b[1;32mgreen\x1b[0m ok\n");
    // A value whose characters are separated by escapes, cut in its
    // middle: held from its first character.
    let mut st = s.stream();
    let mut out = Vec::new();
    let spread: Vec<u8> = TOKEN[..12]
        .iter()
        .flat_map(|&b| [&[b], b"\x1b[0m".as_slice()].concat())
        .collect();
    st.feed(b"> ", &mut out);
    st.feed(&spread, &mut out);
    assert_eq!(out, b"> ");
    assert_eq!(st.held_back(), spread.len());
}

#[test]
fn a_dump_in_progress_is_held_and_released_when_it_ends() {
    let s = scrubber(Forms::default());
    let mut st = s.stream();
    let mut out = Vec::new();
    let line = b"00000000: 4749 5448 5542 5f54 4f4b 454e 3d67 6870  GITHUB_TOKEN=ghp\n";
    st.feed(b"$ xxd file\n", &mut out);
    assert_eq!(out, b"$ xxd file\n");
    st.feed(line, &mut out);
    // The next line could continue the dump: the block is held.
    assert_eq!(out, b"$ xxd file\n");
    assert_eq!(st.held_back(), line.len());
    st.feed(b"done.\n", &mut out);
    assert_eq!(out, [b"$ xxd file\n".as_slice(), line, b"done.\n"].concat());
    assert_eq!(st.held_back(), 0);
    // A list of numbers, still open, is held; a closed one long enough to
    // spell a value, until no candidate window still to come can reach it
    // (dumps are held conservatively: see the `pending` module).
    let mut st = s.stream();
    let mut out = Vec::new();
    let list = b"bytes: [71, 73, 84, 72, 85, 66, 95, 84, 79";
    st.feed(list, &mut out);
    assert_eq!(out, b"bytes: [");
    st.feed(b"]\n", &mut out);
    assert_eq!(out, b"bytes: [");
    let later = [b"next: ".repeat(20).as_slice(), b"\n"].concat();
    st.feed(&later, &mut out);
    assert_eq!(out, [list.as_slice(), b"]\n", &later].concat());
}

/// Printable ASCII words and line breaks, with values, their prefixes and
/// their hex forms planted.
fn text(words: &[(u8, u8)], planted: &[(usize, usize, bool)], value: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for &(w, sep) in words {
        let len = 1 + usize::from(w % 9);
        out.extend((0..len).map(|i| b'a' + (w.wrapping_add(i as u8 * 7)) % 26));
        out.push(match sep % 8 {
            0 => b'\n',
            1 => b'?',
            2 => b'\r',
            3 => b'=',
            _ => b' ',
        });
    }
    for &(at, cut, hex) in planted {
        let mut v = value[..1 + cut % value.len()].to_vec();
        if hex {
            v = v
                .iter()
                .flat_map(|b| format!("{b:02x}").into_bytes())
                .collect();
        }
        let at = at % (out.len() + 1);
        out.splice(at..at, v);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// After every feed, the stream holds back no more than the brute-force
    /// undecided tail of what it was fed, and what it emitted is the start
    /// of the one-shot output.
    #[test]
    fn only_the_undecided_tail_is_held(
        words in prop::collection::vec((any::<u8>(), any::<u8>()), 1..120),
        planted in prop::collection::vec((any::<usize>(), any::<usize>(), any::<bool>()), 0..4),
        splits in prop::collection::vec(1usize..40, 1..8),
        which in 1usize..4,
    ) {
        let forms = every_forms()[which];
        let s = scrubber(forms);
        let input = text(&words, &planted, TOKEN);
        let whole = s.scrub(&input);
        let mut st = s.stream();
        let mut out = Vec::new();
        let mut fed = 0;
        let mut i = 0;
        while fed < input.len() {
            let n = splits[i % splits.len()].min(input.len() - fed);
            st.feed(&input[fed..fed + n], &mut out);
            fed += n;
            i += 1;
            let bound = fuzzing::undecided_bound(&s, &input[..fed]);
            prop_assert!(st.held_back() <= bound, "held {} of {} fed, bound {}", st.held_back(), fed, bound);
            prop_assert!(whole.starts_with(&out), "emitted output is not the start of the one-shot output");
        }
        st.finish(&mut out);
        prop_assert!(out == whole);
    }
}

/// Line breaks whose removability is still open can sit further back than
/// the views' slice when patterns are short and only line breaks are on:
/// the stream must neither panic nor decide differently.
#[test]
fn open_breaks_before_the_slice() {
    let s = Scrubber::builder()
        .secret("S", b"q7Zk2mXw")
        .forms(Forms {
            invisible: false,
            dumps: false,
            ..Forms::default()
        })
        .build()
        .unwrap();
    let input = [
        b"text\n".repeat(3).as_slice(),
        &b"a\n0040".repeat(400),
        b"q7Zk\n2mXw\n",
    ]
    .concat();
    for split in [1, 3, 7, 64] {
        fuzzing::check(&s, &input, &[split]);
    }
}
