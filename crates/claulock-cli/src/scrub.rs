//! `claulock scrub`: stdin to stdout, every secret redacted.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use claulock_scrub::Scrubber;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// Take the secrets from a dotenv file (`NAME=value` lines) instead of
    /// the unlocked vault.
    #[arg(long, value_name = "FILE")]
    secrets_from: Option<PathBuf>,
}

/// Read and write in pieces this large: memory stays constant whatever the
/// input size.
const CHUNK: usize = 64 * 1024;

fn from_file(path: &std::path::Path) -> anyhow::Result<Scrubber> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the secrets file {}", path.display()))?;
    let secrets = crate::dotenv::parse(&text)
        .with_context(|| format!("in the secrets file {}", path.display()))?;
    let mut builder = Scrubber::builder();
    for (name, value) in &secrets {
        builder.secret(name, value);
    }
    builder
        .build()
        .with_context(|| format!("in the secrets file {}", path.display()))
}

/// Scrubs stdin into stdout against the whole vault (superseded values
/// included), in the agent: this process hands it the two descriptors and
/// never holds a value.
fn through_agent() -> anyhow::Result<ExitCode> {
    use std::os::fd::AsFd;
    let home = claulock_agent::Home::from_env()?;
    let (stdin, stdout) = (std::io::stdin(), std::io::stdout());
    let session = home
        .client()
        .pipe(
            &claulock_proto::Request::Pipe {
                caller: "scrub".into(),
                secrets: Vec::new(),
                run: None,
            },
            &[stdin.as_fd(), stdout.as_fd()],
        )
        .context("no secrets to scrub with (or pass `--secrets-from FILE`)")?;
    session.wait(std::time::Duration::from_secs(u64::from(u32::MAX)))?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let scrubber = match &args.secrets_from {
        Some(path) => from_file(path)?,
        None => return through_agent(),
    };
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
