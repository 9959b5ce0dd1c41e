//! `claulock scrub`: stdin to stdout, every secret redacted.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use claulock_scrub::Scrubber;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// Take the secrets from a dotenv file (`NAME=value` lines) instead of
    /// the vault.
    #[arg(long, value_name = "FILE")]
    secrets_from: Option<PathBuf>,
}

/// Read and write in pieces this large: memory stays constant whatever the
/// input size.
const CHUNK: usize = 64 * 1024;

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let Some(path) = &args.secrets_from else {
        bail!(
            "no secrets to scrub with: the vault does not exist yet in this version; \
             pass `--secrets-from FILE` (a dotenv file)"
        );
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the secrets file {}", path.display()))?;
    let secrets = crate::dotenv::parse(&text)
        .with_context(|| format!("in the secrets file {}", path.display()))?;
    let mut builder = Scrubber::builder();
    for (name, value) in &secrets {
        builder.secret(name, value);
    }
    let scrubber = builder
        .build()
        .with_context(|| format!("in the secrets file {}", path.display()))?;
    let mut stderr = std::io::stderr().lock();
    for w in scrubber.warnings() {
        writeln!(stderr, "claulock: warning: {w}")?;
    }
    drop(stderr);

    let mut input = std::io::stdin().lock();
    let mut output = std::io::stdout().lock();
    let mut stream = scrubber.stream();
    let mut buf = vec![0u8; CHUNK];
    let mut out = Vec::with_capacity(CHUNK + 1024);
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("cannot read standard input"),
        };
        out.clear();
        stream.feed(&buf[..n], &mut out);
        output.write_all(&out)?;
        // Pass output on as it is decided: a pipeline should not wait for
        // the end of the input to see its lines.
        output.flush()?;
    }
    out.clear();
    stream.finish(&mut out);
    output.write_all(&out)?;
    output.flush()?;
    Ok(ExitCode::SUCCESS)
}
