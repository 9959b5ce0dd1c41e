//! Entering values and passphrases as a person does, on a real
//! pseudo-terminal (`tests/e2e/pty_drive.py` types into it): a multi-line
//! paste at the one-line prompt stores nothing and leaves no line for the
//! shell to run; `--multiline` stores the whole key without echoing it;
//! and the limits and warnings say what happened.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use claulock_scrub::testdata::find_leak;

const PASS: &str = "input test passphrase";

struct Lab {
    base: PathBuf,
    home: PathBuf,
}

impl Lab {
    fn new(name: &str) -> Lab {
        let base = std::env::temp_dir().join(format!("cl-input-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        Lab {
            home: base.join("claulock"),
            base,
        }
    }

    fn unlocked(name: &str) -> Lab {
        let lab = Lab::new(name);
        lab.ok(&["init", "--passphrase-stdin"], PASS);
        lab.ok(&["unlock", "--passphrase-stdin"], PASS);
        lab
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.base)
            .env("CLAULOCK_HOME", &self.home)
            .current_dir(&self.base);
        c
    }

    fn run(&self, args: &[&str], input: &str) -> Output {
        let mut c = self.command(env!("CARGO_BIN_EXE_claulock"));
        c.args(args);
        common::run_with_input(&mut c, input)
    }

    fn ok(&self, args: &[&str], input: &str) -> String {
        common::expect_success(args, &self.run(args, input))
    }

    /// Runs `script` (sh) on a pseudo-terminal, typing `typed` (chunks
    /// split by `@WAIT@` lines); returns what the terminal showed.
    fn on_terminal(&self, script: &str, typed: &str) -> String {
        let shown = self.base.join("terminal.out");
        let driver =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/e2e/pty_drive.py");
        let mut c = self.command("python3");
        c.arg(driver)
            .arg(&shown)
            .args(["--", "sh", "-c", script])
            .env("CLAULOCK", env!("CARGO_BIN_EXE_claulock"));
        let _ = common::run_with_input(&mut c, typed);
        String::from_utf8_lossy(&std::fs::read(&shown).unwrap_or_default()).into_owned()
    }

    fn names(&self) -> Vec<String> {
        let list: serde_json::Value =
            serde_json::from_str(&self.ok(&["list", "--json"], "")).unwrap();
        list.as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_owned())
            .collect()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.run(&["lock"], "");
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

fn pem(body: &str) -> String {
    format!("-----BEGIN TEST KEY-----\n{body}\n{body}\n-----END TEST KEY-----")
}

#[test]
fn a_multi_line_paste_at_the_prompt_stores_nothing_and_runs_nothing() {
    let lab = Lab::unlocked("paste");
    let body = common::random(48);
    // What the paste would run if its lines reached the shell: `cat`
    // stands in for the shell that reads the terminal after `add`.
    let typed = format!(
        "@WAIT@\n{}\ntouch ran-by-the-shell\n@WAIT@\n\u{4}",
        pem(&body)
    );
    let shown = lab.on_terminal(
        "\"$CLAULOCK\" add KEY; echo \"add exited $?\"; cat > after.txt",
        &typed,
    );
    assert!(
        shown.contains("more than one line"),
        "{}",
        shown.replace(&body, "<canary>")
    );
    assert!(shown.contains("add exited 2"));
    assert_eq!(
        find_leak(shown.as_bytes(), body.as_bytes()),
        None,
        "the terminal echoed the value"
    );
    let after = std::fs::read_to_string(lab.base.join("after.txt")).unwrap_or_default();
    assert!(
        after.is_empty(),
        "lines of the paste were left for the shell"
    );
    assert!(lab.names().is_empty(), "a value was stored");
}

#[test]
fn multiline_stores_the_whole_key_without_echo() {
    let lab = Lab::unlocked("multiline");
    let body = common::random(48);
    let key = pem(&body);
    let typed = format!("@WAIT@\n{key}\n@WAIT@\n\u{4}");
    let shown = lab.on_terminal("\"$CLAULOCK\" add KEY --multiline", &typed);
    assert_eq!(
        find_leak(shown.as_bytes(), body.as_bytes()),
        None,
        "the terminal echoed the value"
    );
    assert!(
        shown.contains("added KEY"),
        "{}",
        shown.replace(&body, "<canary>")
    );
    // The whole key is the value: scrubbing it leaves one marker.
    let scrubbed = lab.ok(&["scrub"], &key);
    // (`assert!`: a failure must not print what was left of the key.)
    assert!(
        scrubbed.trim_end() == "[REDACTED:KEY]",
        "the stored value is not the whole key"
    );
}

#[test]
fn limits_and_warnings_say_what_happened() {
    let lab = Lab::new("limits");
    let init = lab.run(&["init", "--passphrase-stdin"], "short");
    assert!(init.status.success());
    assert!(
        String::from_utf8_lossy(&init.stderr).contains("is weak"),
        "a 5-character passphrase is taken without a word"
    );
    let unlock = lab.run(&["unlock"], "");
    let err = String::from_utf8_lossy(&unlock.stderr);
    assert!(
        !unlock.status.success() && err.contains("no passphrase was given"),
        "{err}"
    );
    lab.ok(&["unlock", "--passphrase-stdin"], "short");
    let big = "x".repeat(70 << 10);
    let add = lab.run(&["add", "BIG"], &big);
    let err = String::from_utf8_lossy(&add.stderr);
    assert!(
        !add.status.success() && err.contains("larger than 64 KiB"),
        "{err}"
    );
    assert!(lab.names().is_empty());
    // The agent refuses it too, whatever the client.
    let fits = "y".repeat(64 << 10);
    lab.ok(&["add", "FITS"], &fits);
    assert_eq!(lab.names(), ["FITS"]);
}

#[test]
fn errors_say_what_happened_and_how_to_fix_it() {
    let lab = Lab::new("errors");
    // No vault: `add` says so before it asks for a value.
    let add = lab.run(&["add", "X"], "a-value-typed-for-nothing");
    let err = String::from_utf8_lossy(&add.stderr);
    assert!(
        err.contains("there is no vault at") && err.contains("claulock init"),
        "{err}"
    );
    // CLAULOCK_HOME naming a file.
    let file = lab.base.join("a-file");
    std::fs::write(&file, "").unwrap();
    let mut c = lab.command(env!("CARGO_BIN_EXE_claulock"));
    c.args(["init", "--passphrase-stdin"])
        .env("CLAULOCK_HOME", &file);
    let out = common::run_with_input(&mut c, PASS);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not a directory"), "{err}");

    // A damaged vault: unlock says the previous version opens, and how to
    // restore it; doing what it says works.
    lab.ok(&["init", "--passphrase-stdin"], PASS);
    lab.ok(&["unlock", "--passphrase-stdin"], PASS);
    lab.ok(&["add", "FIRST"], "first-value-0123456789");
    lab.ok(&["add", "SECOND"], "second-value-0123456789");
    lab.ok(&["lock"], "");
    let vault = lab.home.join("vault.clv");
    std::fs::write(&vault, "not a vault at all").unwrap();
    let out = lab.run(&["unlock", "--passphrase-stdin"], PASS);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("the previous version opens with this passphrase"),
        "{err}"
    );
    let restore = err
        .split('`')
        .nth(1)
        .expect("the restore command, between backquotes")
        .to_owned();
    let ok = Command::new("sh").args(["-c", &restore]).status().unwrap();
    assert!(ok.success(), "{restore}");
    lab.ok(&["unlock", "--passphrase-stdin"], PASS);
    assert_eq!(
        lab.names(),
        ["FIRST"],
        "the backup is the vault before the last change"
    );

    // passwd says a wrong current passphrase is wrong before it asks for
    // the new one (twice).
    let shown = lab.on_terminal("\"$CLAULOCK\" passwd", "@WAIT@\nnot the passphrase\n");
    assert!(shown.contains("passphrase is wrong"), "{shown}");
    assert!(!shown.contains("New passphrase"), "{shown}");
}

/// A full disk (a small tmpfs as CLAULOCK_HOME): the add that does not
/// fit says so, leaves no temporary file, and the agent keeps serving
/// what the disk holds; every secret reported added is still there after
/// the next unlock. Needs root to mount the tmpfs (CI has it).
#[test]
fn a_full_disk_says_so_and_loses_nothing() {
    let lab = Lab::new("fulldisk");
    std::fs::create_dir_all(&lab.home).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=600k,mode=0700", "tmpfs"])
        .arg(&lab.home)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(lab.home.clone());
    lab.ok(&["init", "--passphrase-stdin"], PASS);
    lab.ok(&["unlock", "--passphrase-stdin"], PASS);
    let mut added = Vec::new();
    let mut refusal = None;
    for i in 0..200 {
        let name = format!("S{i}");
        let out = lab.run(&["add", &name], &common::random(8000));
        if out.status.success() {
            added.push(name);
        } else {
            refusal = Some(String::from_utf8_lossy(&out.stderr).into_owned());
            break;
        }
    }
    let refusal = refusal.expect("the disk filled up");
    assert!(
        refusal.contains("No space left on device") && refusal.contains("nothing was changed"),
        "{refusal}"
    );
    assert!(added.len() > 3, "only {} secrets fit", added.len());
    let left: Vec<String> = std::fs::read_dir(&lab.home)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
    // The agent still serves, with exactly what was reported added.
    let mut names = lab.names();
    names.sort();
    added.sort();
    assert_eq!(names, added);
    lab.ok(&["lock"], "");
    lab.ok(&["unlock", "--passphrase-stdin"], PASS);
    let mut names = lab.names();
    names.sort();
    assert_eq!(names, added, "a reported secret was lost");
    lab.ok(&["lock"], "");
}
