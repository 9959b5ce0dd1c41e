//! Bytes between a value's characters that a reader skips or a terminal
//! consumes (ANSI escapes, NUL, invisible code points, backspace
//! overstrikes) do not hide it, in any form; and text without a value is
//! left as it is.

use claulock_scrub::testdata::{find_leak, log_text};
use claulock_scrub::{Forms, Scrubber};

const TOKEN: &[u8] = b"ghp_16C7e42F292c6912E7710c838347Ae178B4a";

fn scrubber() -> Scrubber {
    Scrubber::builder().secret("T", TOKEN).build().unwrap()
}

fn each(v: &[u8], f: &dyn Fn(u8) -> Vec<u8>) -> Vec<u8> {
    v.iter().flat_map(|&b| f(b)).collect()
}

/// What a reader makes of `text`: escapes, NUL and invisible code points
/// dropped, overstrikes resolved. Written independently of the crate.
fn rendered(text: &[u8]) -> Vec<u8> {
    let s = String::from_utf8_lossy(text);
    let mut out: Vec<char> = Vec::new();
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '\u{1b}' => match it.next() {
                Some('[') => {
                    for d in it.by_ref() {
                        if ('@'..='~').contains(&d) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    while let Some(d) = it.next() {
                        if d == '\u{7}' || (d == '\u{1b}' && it.next() == Some('\\')) {
                            break;
                        }
                    }
                }
                Some('(') => {
                    it.next();
                }
                _ => {}
            },
            '\u{8}' => {
                out.pop();
            }
            '\0' | '\u{200b}'..='\u{200f}' | '\u{2060}'..='\u{2064}' | '\u{feff}' | '\u{ad}' => {}
            c if ('\u{e0000}'..='\u{e007f}').contains(&c) => {}
            c => out.push(c),
        }
    }
    out.into_iter().collect::<String>().into_bytes()
}

/// (name, the token's bytes interleaved as a tool or an attacker would).
fn interleavings() -> Vec<(&'static str, Vec<u8>)> {
    let hex: Vec<u8> = TOKEN
        .iter()
        .flat_map(|b| format!("{b:02x}").into_bytes())
        .collect();
    vec![
        (
            "sed 's/./&\\x1b[0m/g'",
            each(TOKEN, &|b| [&[b], b"\x1b[0m".as_slice()].concat()),
        ),
        (
            "a colour per character",
            each(TOKEN, &|b| {
                [b"\x1b[38;2;255;100;0m".as_slice(), &[b], b"\x1b[0m"].concat()
            }),
        ),
        (
            "tput sgr0 after each",
            each(TOKEN, &|b| [&[b], b"\x1b(B\x1b[m".as_slice()].concat()),
        ),
        (
            "an OSC 8 link around each",
            each(TOKEN, &|b| {
                [
                    b"\x1b]8;;https://x.example/\x1b\\".as_slice(),
                    &[b],
                    b"\x1b]8;;\x07",
                ]
                .concat()
            }),
        ),
        (
            "zero-width space after each",
            each(TOKEN, &|b| [&[b], "\u{200b}".as_bytes()].concat()),
        ),
        (
            "word joiner, BOM, soft hyphen",
            each(TOKEN, &|b| {
                [&[b], "\u{2060}\u{feff}\u{ad}".as_bytes()].concat()
            }),
        ),
        (
            "tag characters",
            each(TOKEN, &|b| [&[b], "\u{e0020}".as_bytes()].concat()),
        ),
        ("NUL after each", each(TOKEN, &|b| vec![b, 0])),
        ("man bold", each(TOKEN, &|b| vec![b, 8, b])),
        ("man underline", each(TOKEN, &|b| vec![b'_', 8, b])),
        ("erased junk", each(TOKEN, &|b| vec![b'#', 8, b])),
        (
            "an escape left open before it",
            [b"\x1b[".as_slice(), TOKEN].concat(),
        ),
        (
            "a backspace after a character",
            [&TOKEN[..4], b"\x08", &TOKEN[4..]].concat(),
        ),
        (
            "hex with resets",
            each(&hex, &|b| [&[b], b"\x1b[0m".as_slice()].concat()),
        ),
        (
            "hex with zero-width spaces, wrapped",
            each(&hex, &|b| [&[b], "\u{200b}".as_bytes()].concat())
                .chunks(60)
                .flat_map(|l| [l, b"\n"].concat())
                .collect(),
        ),
    ]
}

#[test]
fn interleaved_values_are_caught() {
    let s = scrubber();
    for (name, enc) in interleavings() {
        // The model reads the bytes (and can drop controls), a person the
        // rendering: any way.
        let leak = |out: &[u8]| {
            let no_controls: Vec<u8> = out.iter().copied().filter(|&b| b >= 0x20).collect();
            find_leak(&rendered(out), TOKEN)
                .or(find_leak(out, TOKEN))
                .or(find_leak(&no_controls, TOKEN))
        };
        assert!(
            leak(&enc).is_some(),
            "{name}: the vector holds no readable value"
        );
        let input = [b"out: ".as_slice(), &enc, b" end\n"].concat();
        let out = s.scrub(&input);
        assert!(leak(&out).is_none(), "{name}: leaked as {:?}", leak(&out));
        assert!(
            out.windows(10).any(|w| w == b"[REDACTED:"),
            "{name}: no marker"
        );
        // Every chunking decides alike.
        claulock_scrub::fuzzing::check(&s, &input, &[1, 7, 64]);
    }
}

#[test]
fn the_marker_covers_the_bytes_inside_the_match() {
    let s = scrubber();
    let enc = each(TOKEN, &|b| [&[b], b"\x1b[0m".as_slice()].concat());
    // The reset after the last character is outside the match.
    assert_eq!(s.scrub(&enc), b"[REDACTED:T]\x1b[0m");
    let enc = each(TOKEN, &|b| vec![b, 8, b]);
    // The first strike of the first character is outside too.
    assert_eq!(s.scrub(&enc), b"g\x08[REDACTED:T]");
}

#[test]
fn the_span_limit_is_stated_and_kept() {
    // Padding past 16 times the longest pattern between the characters is
    // not caught: the bound every stream keeps (and what an attacker who
    // pads more gains, as with any other encoding it writes itself).
    let s = Scrubber::builder()
        .secret("T", TOKEN)
        .forms(Forms {
            json: false,
            percent: false,
            hex_escape: false,
            ..Forms::default()
        })
        .build()
        .unwrap();
    let per = 16 * s.max_pattern_len() / TOKEN.len();
    let pad = |n: usize| each(TOKEN, &|b| [&[b], "\u{200b}".repeat(n).as_bytes()].concat());
    let caught = pad(per / 3 - 1);
    assert!(find_leak(&rendered(&s.scrub(&caught)), TOKEN).is_none());
    let past = pad(per / 3 + 1);
    assert_eq!(s.scrub(&past), past);
    claulock_scrub::fuzzing::check(&s, &past, &[1, 100]);
}

#[test]
fn coloured_and_unicode_text_is_unchanged() {
    let s = scrubber();
    let mut text = Vec::new();
    for (i, line) in log_text(50_000, 3).split(|&b| b == b'\n').enumerate() {
        match i % 4 {
            0 => text.extend_from_slice(b"\x1b[1;32m   Compiling\x1b[0m "),
            1 => text.extend_from_slice("naïve café \u{200b}—\u{feff} “quoted” ".as_bytes()),
            2 => text.extend_from_slice(b"b\x08bo\x08ol\x08ld\x08d _\x08u_\x08n "),
            _ => text.extend_from_slice(b"\x1b]8;;file:///tmp/x\x1b\\link\x1b]8;;\x1b\\ \0 "),
        }
        text.extend_from_slice(line);
        text.push(b'\n');
    }
    assert!(s.scrub(&text) == text, "ordinary text was changed");
}
