//! Looks for every form of planted canary values in files, for ClauLock's
//! end-to-end leak test (`tests/leak_test.sh`).
//!
//! Usage: `find_leak CANARIES PATH...` where CANARIES holds `NAME=value`
//! lines and each PATH is a file or a directory (searched recursively).
//! Prints `LEAK <file> <name> <form>` per finding (never the value) and
//! exits 1 when anything was found, 0 when nothing was, 2 on a usage error.

// A test tool: its output is the report.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((canaries, paths)) = args.split_first() else {
        eprintln!("usage: find_leak CANARIES PATH...");
        return ExitCode::from(2);
    };
    let Ok(text) = std::fs::read_to_string(canaries) else {
        eprintln!("cannot read {canaries}");
        return ExitCode::from(2);
    };
    let canaries: Vec<(&str, &str)> = text.lines().filter_map(|l| l.split_once('=')).collect();
    let mut todo: Vec<(PathBuf, bool)> = paths.iter().map(|p| (PathBuf::from(p), true)).collect();
    let (mut files, mut leaks) = (0, 0);
    while let Some((p, given)) = todo.pop() {
        // A link found inside a directory points elsewhere (Codex links
        // its own 100 MB binary into its home): what an agent wrote is a
        // regular file. The paths given are followed.
        if !given && std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink()) {
            continue;
        }
        if p.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&p) {
                todo.extend(entries.flatten().map(|e| (e.path(), false)));
            }
            continue;
        }
        let Ok(bytes) = std::fs::read(&p) else {
            continue;
        };
        files += 1;
        for (name, value) in &canaries {
            if let Some(form) = claulock_scrub::testdata::find_leak(&bytes, value.as_bytes()) {
                println!("LEAK {} {name} {form}", p.display());
                leaks += 1;
            }
        }
    }
    eprintln!(
        "find_leak: {files} file(s), {} canaries, {leaks} leak(s)",
        canaries.len()
    );
    if leaks > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
