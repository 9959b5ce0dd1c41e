//! The file guard, through the real `claulock hook pre-tool-use` and a real
//! agent: commands that would read a file holding a vault value in a form
//! the scrubber cannot recognise are denied; ordinary work passes; and the
//! same attacks pass in a project whose files hold no value (the control:
//! a guard that refused everything would fail it).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should stop with a message

mod common;

use std::path::Path;
use std::process::Command;

use claulock_scrub::testdata::find_leak;
use serde_json::Value;

const PASS: &str = "file guard test passphrase";
const CANARY: &str = "cl_FGUARDcanary_5e1d9c7b3a2f40618273";
const OLD: &str = "cl_OLDfguardcanary_9a8b7c6d5e4f3a2b1c0d";

use common::HookEnv as Env;

/// Each attack, and what its refusal must say. All run in the project root.
const ATTACKS: &[(&str, &str)] = &[
    ("tr a-z A-Z < .en?", "re-encodes"),
    ("tr a-z A-Z < .e\"\"nv", "re-encodes"),
    ("base64 .e{nv,x}", "re-encodes"),
    (
        "git show HEAD~1:old.env | base64",
        "git prints of HEAD~1:old.env",
    ),
    ("git cat-file -p HEAD~1:old.env | rev", "git prints"),
    ("git log -p | rev", "holds the value"),
    (
        "python3 -c 'print(open(\".e\"+\"nv\").read()[::-1])'",
        "claulock import --rewrite",
    ),
    (
        "python3 - <<'EOF'\nprint(open('.env').read()[::-1])\nEOF",
        "inline code",
    ),
    ("node -e 'console.log(1)'", "inline code"),
    ("tar c .env | base64", "re-encodes"),
    ("tar cz . > /tmp/x.tgz", "re-encodes"),
    ("gzip -c .env", "re-encodes"),
    ("od -tu1 .env", "re-encodes"),
    ("xxd -b .env", "re-encodes"),
    ("head -c 12 .env", "head -c"),
    ("tail -c 8 .env", "tail -c"),
    ("cut -c 1-10 .env", "re-encodes"),
    ("grep -o . .env | nl", "grep -o"),
    ("dd if=.env bs=1 skip=3 count=4", "re-encodes"),
    ("base64 padded.bin", "could not check"),
    ("base64 link", "link ("),
    ("rev /proc/self/cwd/.env", "holds the value"),
    ("F=.env; base64 $F", "holds the value"),
    ("base64 $(ls -a | grep env)", "holds the value"),
    ("bash -c 'od -c .env'", "re-encodes"),
    (
        "chromium --headless --screenshot=/tmp/x.png \"file://$PWD/.env\"",
        "image",
    ),
    ("convert text:.env env.png", "image"),
    ("enscript -p - .env", "image"),
    ("pandoc .env -o env.pdf", "image"),
];

/// Ordinary work in a project whose `.env` holds a value: left to Claude
/// Code (its output is scrubbed after it runs).
const ORDINARY: &[&str] = &[
    "python3 manage.py test",
    "python3 -m pytest -c setup.cfg",
    "npm test",
    "cargo test",
    "cat .env",
    "grep -v KEY .env",
    "head -n 2 .env",
    "docker compose --env-file .env up",
    "git show HEAD~1:old.env",
    "git log -p",
    "ls -la *.md",
    "tr a-z A-Z < README.md",
    "base64 README.md",
    "chromium --version",
];

impl Env {
    fn new(name: &str) -> Env {
        let e = Env::with_vault("fguard", name, PASS, OLD, CANARY);
        // The value project: .env (from with_vault), a link to it, a copy
        // padded past the scan's 16 MiB limit, and a value that was
        // committed and then removed.
        let proj = e.proj.clone();
        let clean = e.base.join("clean");
        std::fs::create_dir_all(&clean).unwrap();
        std::fs::write(clean.join("README.md"), "hello\n").unwrap();
        std::fs::write(clean.join(".env"), "API_TOKEN=not-a-vault-value\n").unwrap();
        for (dir, value) in [(&proj, CANARY), (&clean, "not-a-vault-value")] {
            std::os::unix::fs::symlink(".env", dir.join("link")).unwrap();
            let mut padded = format!("API_TOKEN={value}\n").into_bytes();
            if dir == &proj {
                padded.resize(17 << 20, b'#');
            }
            std::fs::write(dir.join("padded.bin"), padded).unwrap();
            std::fs::write(dir.join("manage.py"), "print('ok')\n").unwrap();
            git(dir, &["init", "-q"]);
            std::fs::write(dir.join("old.env"), format!("OLD_TOKEN={value}\n")).unwrap();
            git(dir, &["add", "old.env", "README.md"]);
            git(dir, &["commit", "-qm", "one"]);
            git(dir, &["rm", "-q", "old.env"]);
            git(dir, &["commit", "-qm", "two"]);
        }
        e
    }

    /// `claulock hook pre-tool-use` on a Bash call of `command` run in
    /// `cwd`; checks that nothing it printed holds a value.
    fn bash(&self, command: &str, cwd: &Path) -> Value {
        let mut input: Value =
            serde_json::from_str(&self.input("pre-bash", &[("@COMMAND@", command)])).unwrap();
        input["cwd"] = Value::String(cwd.display().to_string());
        let out =
            common::run_with_input(&mut self.cmd(&["hook", "pre-tool-use"]), &input.to_string());
        assert!(out.status.success(), "the hook failed on {command:?}");
        for v in [CANARY, OLD] {
            for bytes in [&out.stdout, &out.stderr] {
                assert!(
                    find_leak(bytes, v.as_bytes()).is_none(),
                    "the hook leaked a value on {command:?}"
                );
            }
        }
        let text = String::from_utf8_lossy(&out.stdout);
        if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("hook output is JSON")
        }
    }
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}");
}

fn decision(answer: &Value) -> (String, String) {
    let o = &answer["hookSpecificOutput"];
    let field = |k: &str| o[k].as_str().unwrap_or("").to_owned();
    (
        field("permissionDecision"),
        field("permissionDecisionReason"),
    )
}

#[test]
fn attacks_on_a_file_holding_a_value_are_denied() {
    let e = Env::new("attacks");
    let mut failed = Vec::new();
    for (command, why) in ATTACKS {
        let started = std::time::Instant::now();
        let a = e.bash(command, &e.proj);
        let took = started.elapsed();
        let (d, reason) = decision(&a);
        if d != "deny" || !reason.contains(why) {
            failed.push(format!("{command:?}: {d:?} {reason}"));
        }
        assert!(
            took < std::time::Duration::from_secs(3),
            "{command:?} took {took:?}"
        );
    }
    assert!(
        failed.is_empty(),
        "not refused as expected:\n{}",
        failed.join("\n")
    );

    // The control: the same commands where no file holds a value pass
    // (a guard that refused everything would fail here).
    let clean = e.base.join("clean");
    let mut refused = Vec::new();
    for (command, _) in ATTACKS {
        let a = e.bash(command, &clean);
        if a != Value::Null {
            refused.push(format!("{command:?}: {a}"));
        }
    }
    assert!(
        refused.is_empty(),
        "refused without a value:\n{}",
        refused.join("\n")
    );
}

#[test]
fn ordinary_work_passes() {
    let e = Env::new("ordinary");
    for command in ORDINARY {
        assert_eq!(e.bash(command, &e.proj), Value::Null, "{command}");
    }
}

#[test]
fn refusals_name_the_file_and_the_fix() {
    let e = Env::new("reasons");
    let env_file = e.proj.canonicalize().unwrap().join(".env");
    let (_, reason) = decision(&e.bash("base64 link", &e.proj));
    assert!(
        reason.contains(&format!("link ({})", env_file.display()))
            && reason.contains("{{API_TOKEN}}"),
        "{reason}"
    );
    let (_, reason) = decision(&e.bash("python3 -c 'import os'", &e.proj));
    assert!(
        reason.contains(&format!("claulock import --rewrite {}", env_file.display())),
        "{reason}"
    );
    let (_, reason) = decision(&e.bash("base64 padded.bin", &e.proj));
    assert!(reason.contains("larger than 16 MiB"), "{reason}");
    let (_, reason) = decision(&e.bash("convert text:.env env.png", &e.proj));
    assert!(reason.contains("cannot be scrubbed"), "{reason}");
}

#[test]
fn stored_tool_results_are_swept_with_the_transcript() {
    let e = Env::new("results");
    let transcript = e.base.join("transcript.jsonl");
    std::fs::write(&transcript, "{\"a\":1}\n").unwrap();
    let results = e.base.join("transcript/tool-results");
    std::fs::create_dir_all(&results).unwrap();
    let stored = results.join("toolu_01.txt");
    std::fs::write(&stored, format!("big output {CANARY} end\n")).unwrap();
    for fixture in ["session-end", "user-prompt-submit"] {
        std::fs::write(&stored, format!("big output {CANARY} end\n")).unwrap();
        let _ = e.hook_timed(
            fixture,
            fixture,
            &[("@PROMPT@", "fix the tests")],
            None,
            &[CANARY, OLD],
        );
        let swept = std::fs::read(&stored).unwrap();
        assert!(
            find_leak(&swept, CANARY.as_bytes()).is_none(),
            "{fixture}: a stored tool result still holds the value"
        );
    }
}
