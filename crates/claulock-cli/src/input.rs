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
        return read_stdin(u64::MAX);
    }
    let text = Zeroizing::new(
        rpassword::prompt_password(prompt).context("cannot read from the terminal")?,
    );
    Ok(Zeroizing::new(text.as_bytes().to_vec()))
}

/// All of standard input, up to `limit` bytes, one trailing newline (or
/// CRLF) stripped.
fn read_stdin(limit: u64) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    let mut buf = Zeroizing::new(Vec::new());
    std::io::stdin()
        .lock()
        .take(limit)
        .read_to_end(&mut buf)
        .context("cannot read standard input")?;
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
    }
    Ok(buf)
}

/// Reads a secret's value: from standard input when it is not a terminal
/// (all of it, one trailing newline stripped), else from the terminal
/// without echo: one line, or with `multiline` every line up to Ctrl-D
/// (a PEM key). A paste of several lines at a one-line prompt is refused
/// and its other lines discarded: left in the terminal, the shell would
/// run them as commands (and keep them in its history). Values over
/// [`claulock_proto::MAX_VALUE_LEN`] are refused before anything is sent.
pub(crate) fn value(prompt: &str, multiline: bool) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    let max = claulock_proto::MAX_VALUE_LEN;
    let too_large = || {
        anyhow::anyhow!(
            "the value is larger than {} KiB, the most a secret holds (a PEM key or a JSON key file fits); nothing was stored",
            max >> 10
        )
    };
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let buf = read_stdin(max as u64 + 2)?;
        if buf.len() > max {
            return Err(too_large());
        }
        return Ok(buf);
    }
    if multiline {
        eprint(&format!(
            "{prompt}(paste it, then press Ctrl-D at the start of a line; nothing is echoed)\n"
        ));
        let buf = read_tty_without_echo(max + 2)?;
        let mut buf = buf;
        while buf.last() == Some(&b'\n') {
            buf.pop();
        }
        if buf.len() > max {
            return Err(too_large());
        }
        return Ok(buf);
    }
    let value = secret(prompt, false)?;
    if discard_pending_input()? {
        bail!(
            "the value you pasted has more than one line: nothing was stored, and its other lines were discarded (not run); use `--multiline` for a multi-line value such as a PEM key"
        );
    }
    if value.len() > max {
        return Err(too_large());
    }
    Ok(value)
}

/// Whether the terminal had input waiting (the rest of a multi-line
/// paste), which is thrown away.
fn discard_pending_input() -> anyhow::Result<bool> {
    use rustix::event::{PollFd, PollFlags, poll};
    let stdin = std::io::stdin();
    let mut fds = [PollFd::new(&stdin, PollFlags::IN)];
    let ready = poll(
        &mut fds,
        Some(&rustix::event::Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        }),
    )
    .map_err(std::io::Error::from)?;
    if ready == 0 {
        return Ok(false);
    }
    rustix::termios::tcflush(&stdin, rustix::termios::QueueSelector::IFlush)
        .map_err(std::io::Error::from)?;
    Ok(true)
}

/// Everything typed at the terminal up to Ctrl-D (at most `limit` bytes),
/// with echo off; the terminal's settings are restored whatever happens.
fn read_tty_without_echo(limit: usize) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
    let stdin = std::io::stdin();
    let before = tcgetattr(&stdin).map_err(std::io::Error::from)?;
    let mut quiet = before.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    tcsetattr(&stdin, OptionalActions::Now, &quiet).map_err(std::io::Error::from)?;
    let mut buf = Zeroizing::new(Vec::new());
    let read = stdin.lock().take(limit as u64).read_to_end(&mut buf);
    let restored = tcsetattr(&stdin, OptionalActions::Now, &before);
    read.context("cannot read from the terminal")?;
    restored.map_err(std::io::Error::from)?;
    Ok(buf)
}

fn eprint(text: &str) {
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}

/// The shortest passphrase `init` and `passwd` take without a warning.
const WEAK_PASSPHRASE: usize = 12;

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
    if first.len() < WEAK_PASSPHRASE {
        eprint(&format!(
            "claulock: warning: a passphrase of {} characters is weak: whoever copies the vault file can try guesses offline (Argon2id slows each one, not enough for a short one); use {WEAK_PASSPHRASE} or more, or several words (`claulock passwd` changes it)\n",
            first.len()
        ));
    }
    Ok(first)
}
