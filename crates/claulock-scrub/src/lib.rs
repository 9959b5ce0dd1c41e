//! A streaming scrubber that removes secret values from output, in any
//! common form, at any chunk boundary.
//!
//! A [`Scrubber`] is built once from named secrets (any bytes) and then
//! scrubs any number of independent [`Stream`]s: feed chunks as they arrive,
//! collect output in your own buffer, finish at the end. Each occurrence of
//! a secret becomes a marker that names it and the form found:
//! `[REDACTED:GITHUB_TOKEN]`, `[REDACTED:GITHUB_TOKEN:base64]`.
//!
//! # claulock-scrub performs no IO
//!
//! Bytes in, bytes out: no files, sockets, threads, timers or clock. The
//! optional `io` feature adds `ScrubWriter`, an adapter over a writer you
//! supply.
//!
//! # Forms caught
//!
//! The value itself and reversed; base64 (standard and URL-safe, padded or
//! not, at all three byte alignments, so a value inside a larger blob such
//! as `Basic base64(user:token)` is caught); hex in both cases;
//! percent-encoding (`encodeURIComponent` and `%XX` of every byte, both
//! cases); JSON string escapes (`\"`, `\\`, `\/`, `\uXXXX`); `\xNN`
//! escapes; each long line of a multi-line value (PEM keys); optionally any
//! window of K bytes of a long, high-entropy value ([`Forms::fragments`]).
//! Matches cross line breaks between code characters, so an encoding
//! wrapped by `base64` (76 columns), PEM (64) or `fold` is caught too
//! ([`Forms::line_breaks`]), and bytes a reader skips or a terminal
//! consumes between a value's characters: ANSI escape sequences, NUL,
//! zero-width and other invisible code points, backspace overstrikes
//! (`sed 's/./&\x1b[0m/g' .env`, a zero-width space after every
//! character, `man`'s bold and underline; [`Forms::invisible`]). Every
//! form is also caught spelled byte by byte by a dump ([`Forms::dumps`]):
//! hex and binary dumps (`xxd`, `xxd -b`, `hexdump -C`, `od -tx1`,
//! `curl --trace` and `--trace-ascii`), lists of numbers (`od -tu1`,
//! `printf '%d '`, Python's `list(b"…")`, `xxd -i`), and one character
//! per line or field (`grep -o .`, `fold -w1`, `sed 's/./& /g'`, `od -c`,
//! any of them through `nl`); the marker covers the dump from the value's
//! first byte to the end of the line of its last (the gutter spells the
//! value again).
//! Each form can be switched off ([`Forms`]).
//!
//! # Chunk safety without timers
//!
//! The output for any split of the input is byte-identical to the output of
//! [`Scrubber::scrub`] on the whole, and a stream never flushes on a timer.
//! It holds back only its *undecided tail*, the bytes that could still be
//! part of a match once more input arrives: the start of a value or of
//! one of its forms, an escape sequence still open, a dump still in
//! progress ([`Stream::held_back`]). A prompt (`Name? `) or a log line
//! that holds none of those goes out with the chunk that brought it. A
//! dump in progress is held whole (up to the bound), whatever it spells.
//! The tail is never longer than [`Scrubber::max_held_back`] bytes. That is
//! the longest pattern's length minus one byte; three times the longest
//! pattern when matches may cross line breaks; and, when they may cross
//! invisible bytes or be spelled by dumps (the default), 16 times the
//! longest pattern plus 260 bytes of context (an escape sequence is
//! recognised up to 256 bytes, a hex dump line up to 200). A
//! match may span at most 16 times the longest pattern in the original
//! text: a value padded with more invisible bytes than that between its
//! characters passes, which gains an attacker nothing it could not have by
//! encoding the value any other way it likes. Overlapping and
//! adjacent matches merge into one marker. Bytes that hold no secret pass
//! through untouched, binary and invalid UTF-8 included.
//!
//! At the end of a stream, a held-back prefix of a form that the stream cut
//! off (`head -c 30 .env`) is redacted as `[REDACTED:NAME:partial]`, but
//! only when it is long enough not to be an oracle (next section).
//!
//! # No prefix oracle
//!
//! Marking every cut-off prefix of a few bytes would answer a question
//! anyone who can choose strings may ask as often as they like: "is this
//! the start of a value?". One stream per candidate (a JSON array of names,
//! each string scrubbed on its own) and a known public prefix (`ghp_`)
//! give a value away one character at a time, 62 guesses each. So a prefix
//! is marked only when it alone carries so much of the value that nobody
//! could produce it blind: by default 64 bits
//! ([`ScrubberBuilder::partial_guess_bits`]), counted after the value's
//! public prefix (the longest prefix ending in `_` or `-` within its first
//! 16 bytes, or `AKIA`/`ASIA`) at the bits per character of the smallest
//! standard alphabet holding the rest (digits, hex, alphanumerics, base64,
//! printable ASCII, else 8), or of its empirical entropy when lower. The
//! shortest marked prefix of an encoded form is scaled to the form's
//! length, and is never shorter than what the value's unmarked prefix
//! spells in any form. A value too weak for that (a 12-character password)
//! gets no partial marks at all; that its *full* matches are marked is an
//! unavoidable oracle for weak values, which [`Scrubber::warnings`]
//! reports. [`ScrubberBuilder::min_partial`] (default 8 bytes) stays a
//! floor, and `0` turns partial marks off.
//!
//! # Best effort
//!
//! The scrubber is a second line. A model that runs code can always encode
//! a value in a way no scrubber knows (rot13 and a split, an image); the
//! forms above are the ones tools print by themselves or that are one
//! short command away, and the views are chosen so that none can be used
//! to hide the others: an escape left open right before a value (`ESC [`,
//! which would swallow its first character) or a backspace after one of
//! its characters is caught on a second view without the swallowing
//! rules. Combining such a swallowing trick with escapes between every
//! character is not caught. Dumps are caught whole: a dump cut short
//! (`xxd .env | head -3`) is not marked as a partial, nor are layouts
//! other than those listed (`hexdump` without `-C` swaps byte pairs, a
//! comma between characters, more than 8 bytes of whitespace between two
//! characters).
//!
//! # Speed
//!
//! Secrets are long and high-entropy, so a hashed-window prefilter inspects
//! one 8-byte window every `shortest pattern - 7` bytes and runs the
//! Aho-Corasick automaton only near candidates: on ordinary output it is
//! faster than a plain Aho-Corasick search over the same patterns (see the
//! crate's benchmarks). Looking for invisible bytes costs a few passes of
//! `memchr` over the text, and for dumps one 8-byte window (judged by SWAR
//! masks) every 32 bytes or less and a closer look around the few that
//! look like part of one: together about half the throughput on log text
//! (about 0.8 GiB/s against 1.6 GiB/s with 100 secrets, measured on a
//! shared 2-core machine). Whoever needs the speed more than those forms
//! switches them off ([`Forms::dumps`], [`Forms::invisible`]).
//!
//! # Short values
//!
//! Masking a short or low-entropy value (`user`, `password`) mangles
//! unrelated output and reveals the value by context. Values shorter than
//! [`ScrubberBuilder::min_secret_len`] (default 8 bytes) are refused, and
//! weak ones are reported by [`Scrubber::warnings`] so the caller can warn.
//!
//! # Example
//!
//! ```
//! use claulock_scrub::Scrubber;
//!
//! let scrubber = Scrubber::builder()
//!     .secret("GITHUB_TOKEN", "ghp_16C7e42F292c6912E7710c838347Ae178B4a")
//!     .build()
//!     .unwrap();
//!
//! let mut stream = scrubber.stream();
//! let mut out = Vec::new();
//! // The token arrives split across two writes, then hex-encoded.
//! stream.feed(b"token=ghp_16C7e42F292c6912", &mut out);
//! stream.feed(b"E7710c838347Ae178B4a\n", &mut out);
//! stream.feed(b"hex: 6768705f313643376534324632393263363931324537373130633833383334374165313738423461\n", &mut out);
//! stream.finish(&mut out);
//! assert_eq!(out, b"token=[REDACTED:GITHUB_TOKEN]\nhex: [REDACTED:GITHUB_TOKEN:hex]\n");
//!
//! let stats = stream.stats();
//! assert_eq!(stats.len(), 2);
//! assert_eq!(stats[0].secret, "GITHUB_TOKEN");
//! ```
//!
//! # No API returns a secret
//!
//! Markers, statistics, warnings, errors and `Debug` output name secrets and
//! count them; none holds a value or any of its forms.
//!
//! # Crate features
//!
//! - `io`: `ScrubWriter`, an `std::io::Write` adapter.
//! - `json`: `json::scrub_strings`, every string of a JSON value scrubbed
//!   in its shape (a tool's result, a transcript line).

#![forbid(unsafe_code)]

mod dump;
mod forms;
#[cfg(feature = "io")]
mod io;
#[cfg(feature = "json")]
pub mod json;
mod matcher;
mod partial;
mod pending;
mod scrubber;
mod stream;
mod view;

pub use forms::{Form, Forms};
#[cfg(feature = "io")]
pub use io::ScrubWriter;
pub use scrubber::{
    BuildError, DEFAULT_MARKER, DEFAULT_MIN_PARTIAL, DEFAULT_MIN_SECRET_LEN,
    DEFAULT_PARTIAL_GUESS_BITS, Scrubber, ScrubberBuilder, Warning,
};
pub use stream::{Catch, Stream};

#[doc(hidden)]
pub mod fuzzing;
#[doc(hidden)]
pub mod testdata;
