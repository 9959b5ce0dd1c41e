//! Measures false positives: scrubs a corpus of ordinary text (logs,
//! source code, JSON, dumps of binaries) for 20 random, realistic secrets
//! that appear nowhere in it, and counts the markers each set of forms
//! produces (each should be 0), with the time taken.
//!
//! Usage: `cargo run --release -p claulock-scrub --example fp_corpus -- PATH...`
//! (files, or directories searched recursively; each file is one stream,
//! fed in 64 KiB chunks). Prints one line per form set, and each marker's
//! file and form (never a value: the secrets are random and unprinted).

// A measuring tool: its output is the report.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use claulock_scrub::testdata::Rng;
use claulock_scrub::{Forms, Scrubber};

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const HEX: &[u8] = b"0123456789abcdef";
const DIGITS: &[u8] = b"0123456789";

fn pick(rng: &mut Rng, alphabet: &[u8], n: usize) -> Vec<u8> {
    (0..n)
        .map(|_| alphabet[rng.below(alphabet.len())])
        .collect()
}

/// Twenty secrets in the shapes real ones have.
fn secrets(seed: u64) -> Vec<(String, Vec<u8>)> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    let mut add = |name: &str, v: Vec<u8>| out.push((format!("{name}_{}", out.len()), v));
    for _ in 0..4 {
        add(
            "GITHUB_TOKEN",
            [b"ghp_".to_vec(), pick(&mut rng, ALNUM, 36)].concat(),
        );
    }
    for _ in 0..2 {
        let v = [
            b"github_pat_".to_vec(),
            pick(&mut rng, ALNUM, 22),
            b"_".to_vec(),
            pick(&mut rng, ALNUM, 59),
        ];
        add("GITHUB_PAT", v.concat());
    }
    for _ in 0..2 {
        add(
            "AWS_KEY_ID",
            [b"AKIA".to_vec(), pick(&mut rng, UPPER, 16)].concat(),
        );
        add("AWS_SECRET", pick(&mut rng, B64, 40));
    }
    for _ in 0..2 {
        let v = [
            b"sk-ant-api03-".to_vec(),
            pick(&mut rng, URL, 93),
            b"AA".to_vec(),
        ];
        add("ANTHROPIC_KEY", v.concat());
    }
    for _ in 0..2 {
        let v = [
            b"xoxb-".to_vec(),
            pick(&mut rng, DIGITS, 12),
            b"-".to_vec(),
            pick(&mut rng, DIGITS, 13),
            b"-".to_vec(),
            pick(&mut rng, ALNUM, 24),
        ];
        add("SLACK_TOKEN", v.concat());
    }
    for _ in 0..2 {
        add("HEX_KEY", pick(&mut rng, HEX, 32));
    }
    for _ in 0..2 {
        let mut v = pick(&mut rng, B64, 43);
        v.push(b'=');
        add("BASE64_KEY", v);
    }
    let printable: Vec<u8> = (0x21..0x7f).collect();
    for _ in 0..2 {
        add("PASSWORD", pick(&mut rng, &printable, 20));
    }
    out
}

fn files(paths: &[String]) -> Vec<PathBuf> {
    let mut todo: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
    let mut out = Vec::new();
    while let Some(p) = todo.pop() {
        if p.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&p) {
                todo.extend(entries.flatten().map(|e| e.path()));
            }
        } else if p.is_file() {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        eprintln!("usage: fp_corpus PATH...");
        return ExitCode::from(2);
    }
    let files = files(&args);
    let texts: Vec<(PathBuf, Vec<u8>)> = files
        .into_iter()
        .filter_map(|p| std::fs::read(&p).ok().map(|t| (p, t)))
        .collect();
    let bytes: usize = texts.iter().map(|(_, t)| t.len()).sum();
    let mb = bytes as f64 / 1e6;
    println!("corpus: {} files, {mb:.1} MB; 20 secrets", texts.len());
    let configs = [
        (
            "7f84aa8 forms (no invisible, no dumps)",
            Forms {
                invisible: false,
                dumps: false,
                ..Forms::default()
            },
        ),
        (
            "+ invisible",
            Forms {
                dumps: false,
                ..Forms::default()
            },
        ),
        ("+ invisible + dumps (default)", Forms::default()),
    ];
    // `FP_ONLY=N` runs the Nth form set only (for profiling).
    let only: Option<usize> = std::env::var("FP_ONLY").ok().and_then(|v| v.parse().ok());
    let mut total_markers = 0;
    for (i, (label, forms)) in configs.into_iter().enumerate() {
        if only.is_some_and(|o| o != i) {
            continue;
        }
        let mut b = Scrubber::builder();
        b.forms(forms);
        for (name, v) in secrets(20_261_202) {
            b.secret(name, v);
        }
        let s = match b.build() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("cannot build: {e}");
                return ExitCode::from(2);
            }
        };
        let t = Instant::now();
        let mut markers = 0u64;
        let mut found = Vec::new();
        let mut out = Vec::new();
        for (path, text) in &texts {
            let mut st = s.stream();
            out.clear();
            for chunk in text.chunks(64 << 10) {
                st.feed(chunk, &mut out);
                out.clear();
            }
            st.finish(&mut out);
            for c in st.stats() {
                markers += c.count;
                found.push(format!("  {} {} x{}", path.display(), c.form, c.count));
            }
        }
        let secs = t.elapsed().as_secs_f64();
        total_markers += markers;
        println!(
            "{label:<40} markers {markers:>3}  ({:.4} per MB)  {:.0} MB/s",
            markers as f64 / mb,
            mb / secs
        );
        for f in found {
            println!("{f}");
        }
    }
    if total_markers == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
