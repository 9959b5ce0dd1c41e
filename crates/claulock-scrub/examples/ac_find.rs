//! The baseline of the whole-process benchmark: a plain Aho-Corasick search
//! (DFA, streaming from stdin) over the patterns in a file, one per line.
//! Prints the number of matches.
//!
//! `ac_find PATTERNS < DATA`

// An example program reports on the terminal and stops on bad arguments.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use aho_corasick::{AhoCorasick, AhoCorasickKind};

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: ac_find PATTERNS < DATA");
    let text = std::fs::read(path).expect("readable patterns file");
    let patterns: Vec<&[u8]> = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let ac = AhoCorasick::builder()
        .kind(Some(AhoCorasickKind::DFA))
        .build(&patterns)
        .expect("patterns build");
    let stdin = std::io::stdin().lock();
    let count = ac.stream_find_iter(stdin).filter(Result::is_ok).count();
    println!("{count}");
}
