//! Helpers shared by the integration tests.

// Each test binary compiles this module and uses only some of it.
#![allow(dead_code)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Runs `cmd` with `input` on its stdin and collects its output.
pub(crate) fn run_with_input(cmd: &mut Command, input: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command starts");
    // A command that exits without reading its input (a refusal) closes
    // the pipe first: that is not a failure of the test.
    let _ = child
        .stdin
        .take()
        .expect("a stdin pipe")
        .write_all(input.as_bytes());
    child.wait_with_output().expect("the command ends")
}

/// The stdout of a run that must succeed; the failure message shows its
/// stderr (tests plant canaries only, never real secrets).
pub(crate) fn expect_success(args: &[&str], out: &Output) -> String {
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
