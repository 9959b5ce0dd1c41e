//! `claulock scrub`: stdin to stdout, every secret redacted.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
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

/// The whole vault (superseded values included), from the agent: the same
/// dictionary `claulock exec` scrubs with.
fn from_vault() -> anyhow::Result<Scrubber> {
    let home = crate::home::Home::from_env()?;
    let data = crate::agent::call(
        &home,
        crate::agent::Request::Resolve {
            command: String::new(),
        },
    )
    .context("no secrets to scrub with (or pass `--secrets-from FILE`)")?;
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)?;
    let mut data = data.unwrap_or_default();
    let scrubber = crate::exec::build_scrubber(&data)?;
    crate::agent::wipe(&mut data);
    match scrubber {
        Some(s) => Ok(s),
        None => bail!("the vault holds no secret to scrub with"),
    }
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let scrubber = match &args.secrets_from {
        Some(path) => from_file(path)?,
        None => from_vault()?,
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
