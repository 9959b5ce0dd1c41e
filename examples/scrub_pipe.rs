//! Scrubbing a child process's output in another agent runtime: run a
//! command, pass its stdout through claulock-scrub as it streams, print the
//! result and what was caught.
//!
//! `cargo run -p claulock-examples --example scrub_pipe`

// An example exists to show its results on the terminal.
#![allow(clippy::print_stdout)]

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use claulock_scrub::Scrubber;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // In a runtime these come from its secret store; here, a demo value.
    let token = "demo_7Q2x9LmVb3RkT8wZ4pNcY6sJhA1eDfGu";
    let scrubber = Scrubber::builder().secret("DEMO_TOKEN", token).build()?;

    // A child that leaks the token three ways, in pieces.
    let script = format!(
        "printf 'plain: %s\\n' '{token}'; printf '%s' '{token}' | base64; printf '%s' '{token}' | xxd -p -c 100"
    );
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(script)
        .stdout(Stdio::piped())
        .spawn()?;
    let mut pipe = child.stdout.take().ok_or("no stdout")?;

    let mut stream = scrubber.stream();
    let mut buf = [0u8; 7]; // tiny reads, to show that chunk boundaries do not matter
    let mut out = Vec::new();
    let mut stdout = std::io::stdout().lock();
    loop {
        let n = pipe.read(&mut buf)?;
        if n == 0 {
            break;
        }
        out.clear();
        stream.feed(&buf[..n], &mut out);
        stdout.write_all(&out)?;
    }
    out.clear();
    stream.finish(&mut out);
    stdout.write_all(&out)?;
    child.wait()?;
    for c in stream.stats() {
        println!("caught {} as {} x{}", c.secret, c.form, c.count);
    }
    Ok(())
}
