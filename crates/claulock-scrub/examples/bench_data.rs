//! Writes the whole-process benchmark's inputs into a directory:
//! `data.log` (log-like text of the given size with every form of every
//! secret planted in it), `secrets.env` (for `claulock scrub
//! --secrets-from`) and `patterns.txt` (the same literal forms, one per
//! line, for `grep -F -f`).
//!
//! `cargo run --release -p claulock-scrub --example bench_data -- DIR [MiB]`

// An example program reports on the terminal and stops on bad arguments.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;

use claulock_scrub::{Scrubber, fuzzing, testdata};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().expect("usage: bench_data DIR [MiB]"));
    let mib: usize = args
        .next()
        .map_or(256, |a| a.parse().expect("MiB is a number"));
    std::fs::create_dir_all(&dir)?;
    let secrets = testdata::secrets(100, 40, 7);
    let mut env = std::fs::File::create(dir.join("secrets.env"))?;
    let mut builder = Scrubber::builder();
    for (name, v) in &secrets {
        writeln!(env, "{name}={}", String::from_utf8_lossy(v))?;
        builder.secret(name, v);
    }
    let patterns = fuzzing::patterns(&builder.build().expect("valid secrets"));
    let mut pf = std::fs::File::create(dir.join("patterns.txt"))?;
    for p in &patterns {
        pf.write_all(p)?;
        pf.write_all(b"\n")?;
    }
    // Log text in segments, one planted pattern between each two.
    let total = mib << 20;
    let segment = total / (patterns.len() + 1);
    let mut data = std::io::BufWriter::new(std::fs::File::create(dir.join("data.log"))?);
    for (i, p) in patterns.iter().enumerate() {
        data.write_all(&testdata::log_text(segment, i as u64))?;
        data.write_all(p)?;
        data.write_all(b"\n")?;
    }
    data.write_all(&testdata::log_text(segment, 0))?;
    data.flush()?;
    println!(
        "{} MiB of log text, {} secrets, {} patterns planted once each",
        mib,
        secrets.len(),
        patterns.len()
    );
    Ok(())
}
