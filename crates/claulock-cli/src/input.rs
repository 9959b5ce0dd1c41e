//! Reading passphrases and values: from the terminal without echo, or from
//! standard input when it is not a terminal. Never from argv or the
//! environment.

use std::io::{IsTerminal, Read};

use anyhow::{Context, bail};
use zeroize::Zeroizing;

/// Reads a secret: a no-echo prompt on the terminal, or all of standard
/// input (one trailing newline stripped) when `from_stdin` or when standard
/// input is not a terminal.
pub(crate) fn secret(prompt: &str, from_stdin: bool) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    if from_stdin || !std::io::stdin().is_terminal() {
        let mut buf = Zeroizing::new(Vec::new());
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("cannot read standard input")?;
        if buf.last() == Some(&b'\n') {
            buf.pop();
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
        }
        return Ok(buf);
    }
    let text = Zeroizing::new(
        rpassword::prompt_password(prompt).context("cannot read from the terminal")?,
    );
    Ok(Zeroizing::new(text.as_bytes().to_vec()))
}

/// Reads a passphrase, asking twice on a terminal.
pub(crate) fn new_passphrase(from_stdin: bool) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    let interactive = !from_stdin && std::io::stdin().is_terminal();
    let first = secret("New passphrase: ", from_stdin)?;
    if interactive {
        let again = secret("Repeat it: ", false)?;
        if *again != *first {
            bail!("the passphrases differ; nothing was changed");
        }
    }
    if first.is_empty() {
        bail!("an empty passphrase is not allowed");
    }
    Ok(first)
}
