//! Throughput of the scrubber against a plain Aho-Corasick search over the
//! same patterns, on log-like text with 100 secrets of 40 bytes.

// criterion_group! generates functions without docs; a benchmark whose
// fixed setup fails should stop with a message.
#![allow(missing_docs, clippy::expect_used)]

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use claulock_scrub::{Forms, Scrubber, testdata};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

fn scrubber(forms: Forms) -> Scrubber {
    let mut b = Scrubber::builder();
    b.forms(forms);
    for (name, v) in testdata::secrets(100, 40, 7) {
        b.secret(name, v);
    }
    b.build().expect("secrets are valid")
}

fn bench(c: &mut Criterion) {
    let s = scrubber(Forms::default());
    let text = testdata::log_text(16 << 20, 1);
    let patterns = claulock_scrub::fuzzing::patterns(&s);
    let ac = AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostFirst)
        .kind(Some(AhoCorasickKind::DFA))
        .build(&patterns)
        .expect("patterns build");
    let mut g = c.benchmark_group(format!("16MiB log, {} patterns", patterns.len()));
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.sample_size(10);
    // The default forms, then without dumps, then without invisible bytes
    // either (the forms of 7f84aa8, before both were added).
    let variants = [
        ("claulock-scrub stream, 64KiB chunks", s.clone()),
        (
            "claulock-scrub stream, 64KiB chunks, no dumps",
            scrubber(Forms {
                dumps: false,
                ..Forms::default()
            }),
        ),
        (
            "claulock-scrub stream, 64KiB chunks, no dumps or invisible",
            scrubber(Forms {
                dumps: false,
                invisible: false,
                ..Forms::default()
            }),
        ),
    ];
    for (name, s) in variants {
        g.bench_function(name, |b| {
            let mut out = Vec::with_capacity(text.len());
            b.iter(|| {
                out.clear();
                let mut st = s.stream();
                for chunk in text.chunks(64 << 10) {
                    st.feed(chunk, &mut out);
                }
                st.finish(&mut out);
                black_box(out.len())
            });
        });
    }
    g.bench_function("aho-corasick DFA find_iter (search only)", |b| {
        b.iter(|| black_box(ac.find_iter(&text).count()));
    });
    g.bench_function("memcpy (copy limit)", |b| {
        let mut out = Vec::with_capacity(text.len());
        b.iter(|| {
            out.clear();
            out.extend_from_slice(&text);
            black_box(out.len())
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
