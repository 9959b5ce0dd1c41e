//! `claulock exec` with a real agent: delivery, refusal, scrubbing, process
//! properties and peer verification.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should stop with a message

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use claulock_scrub::testdata::find_leak;

const PASS: &str = "exec test passphrase";
const CANARY: &str = "ghp_EXECcanaryEXECcanary0123456789abc";
const OLD: &str = "ghp_OLDoldOLDoldOLDold0123456789abcdef";

struct Env {
    home: PathBuf,
    work: PathBuf,
    bin: PathBuf,
}

impl Env {
    fn new(name: &str) -> Env {
        let base = std::env::temp_dir().join(format!("cl-exec-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let work = base.join("work");
        std::fs::create_dir_all(&work).unwrap();
        // A probe that records a hash of its argument (never the value) and
        // prints the value, for the scrubber to catch.
        std::fs::write(
            work.join("probe.sh"),
            "printf '%s' \"$1\" | sha256sum | cut -c1-64 > hash.txt\nprintf 'got %s\\n' \"$1\"\nprintf 'err %s\\n' \"$1\" >&2\n",
        )
        .unwrap();
        let e = Env {
            home: base.join("home"),
            work,
            bin: PathBuf::from(env!("CARGO_BIN_EXE_claulock")),
        };
        e.ok(&["init", "--passphrase-stdin"], PASS);
        e.ok(&["unlock", "--passphrase-stdin"], PASS);
        e.ok(&["add", "API_KEY"], OLD);
        e.ok(&["rotate", "API_KEY"], CANARY);
        e
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.args(args)
            .env("CLAULOCK_HOME", &self.home)
            .env_remove("CLAULOCK_SOCKET")
            .current_dir(&self.work);
        c
    }

    fn run(&self, args: &[&str], input: &str) -> Output {
        common::run_with_input(&mut self.cmd(args), input)
    }

    fn ok(&self, args: &[&str], input: &str) -> String {
        common::expect_success(args, &self.run(args, input))
    }

    fn exec(&self, command: &str) -> Output {
        self.run(&["exec", "-c", command], "")
    }

    /// Nothing printed, and no file under the home or the working
    /// directory, holds any form of the current or the old value.
    fn assert_clean(&self, out: &Output) {
        for v in [CANARY, OLD] {
            // The message never shows the output: it would hold the value.
            assert!(
                find_leak(&out.stdout, v.as_bytes()).is_none(),
                "stdout leaked"
            );
            assert!(
                find_leak(&out.stderr, v.as_bytes()).is_none(),
                "stderr leaked"
            );
            for dir in [&self.home, &self.work] {
                for entry in std::fs::read_dir(dir).unwrap() {
                    let p = entry.unwrap().path();
                    if p.is_file() {
                        assert!(
                            find_leak(&std::fs::read(&p).unwrap(), v.as_bytes()).is_none(),
                            "{} holds a value",
                            p.display()
                        );
                    }
                }
            }
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = self.cmd(&["lock"]).output();
    }
}

/// The pid of the `bash` that wrapper `pid` started, waiting for it to
/// appear (the wrapper first asks the agent).
fn shell_of(pid: u32) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let out = Command::new("pgrep")
            .args(["-P", &pid.to_string()])
            .output()
            .unwrap();
        let kids = String::from_utf8_lossy(&out.stdout).to_string();
        let bash = kids.lines().find(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .unwrap_or_default()
                .starts_with(b"bash")
        });
        if let Some(shell) = bash {
            return shell.to_owned();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the wrapper started no shell"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn sha256(s: &str) -> String {
    let mut c = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    String::from_utf8_lossy(&c.wait_with_output().unwrap().stdout)[..64].to_owned()
}

#[test]
fn the_child_gets_the_value_and_the_output_is_scrubbed() {
    let e = Env::new("deliver");
    let out = e.exec("sh probe.sh {{API_KEY}}");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "got [REDACTED:API_KEY]\n"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "err [REDACTED:API_KEY]\n"
    );
    assert_eq!(
        std::fs::read_to_string(e.work.join("hash.txt"))
            .unwrap()
            .trim(),
        sha256(CANARY)
    );
    e.assert_clean(&out);
    // The argv form.
    let out = e.run(&["exec", "--", "sh", "probe.sh", "{{API_KEY}}"], "");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "got [REDACTED:API_KEY]\n"
    );
    let audit = e.ok(&["audit"], "");
    assert!(
        audit.contains("resolve API_KEY caller=exec program=sh"),
        "{audit}"
    );
    assert!(
        // Once on stdout and once on stderr, audited as one event.
        audit.contains("scrubbed API_KEY caller=exec form=raw count=2"),
        "{audit}"
    );
}

#[test]
fn every_command_is_scrubbed_against_the_whole_vault() {
    let e = Env::new("whole");
    std::fs::write(
        e.work.join(".env"),
        format!("API_KEY={CANARY}\nOLD={OLD}\n"),
    )
    .unwrap();
    let out = e.exec("cat .env; base64 -w0 .env; echo; xxd -p .env | tr -d '\\n'");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("API_KEY=[REDACTED:API_KEY]\nOLD=[REDACTED:API_KEY]\n"),
        "{text}"
    );
    std::fs::remove_file(e.work.join(".env")).unwrap();
    e.assert_clean(&out);
    // `claulock scrub` without a file uses the same whole-vault dictionary.
    let out = e.run(&["scrub"], &format!("a {CANARY} b {OLD}\n"));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "a [REDACTED:API_KEY] b [REDACTED:API_KEY]\n"
    );
}

#[test]
fn a_refusal_runs_nothing() {
    let e = Env::new("refuse");
    let out = e.exec("touch ran; echo {{API_KEY}}");
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("claulock: refused: API_KEY: `echo` prints")
            && err.ends_with("(revealing)\n"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1);
    assert!(!e.work.join("ran").exists());
    let out = e.exec("touch ran; curl -H 'X: {{NOPE}}' https://x.example");
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no secret named NOPE"));
    assert!(
        e.ok(&["audit"], "")
            .contains("denied API_KEY caller=exec rule=revealing")
    );
    e.ok(&["lock"], "");
    let out = e.exec("touch ran; sh probe.sh {{API_KEY}}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{err}");
    assert!(err.contains("run `claulock unlock` in a terminal"), "{err}");
    assert!(!e.work.join("ran").exists());
    // Without placeholders too: nothing could scrub its output (fail
    // closed)...
    let out = e.exec("touch ran; echo plain");
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("run `claulock unlock` in a terminal"));
    assert!(!e.work.join("ran").exists());
    // ...while without a vault there is nothing to protect.
    let out = e
        .cmd(&["exec", "-c", "echo plain"])
        .env("CLAULOCK_HOME", e.work.join("no-vault-here"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "plain\n");
}

#[test]
fn exit_status_and_signals() {
    let e = Env::new("status");
    assert_eq!(e.exec("exit 7").status.code(), Some(7));
    assert_eq!(e.exec("kill -TERM $$").status.code(), Some(143));
    // SIGTERM to the wrapper reaches the child's whole process group.
    let mut child = e
        .cmd(&["exec", "-c", "sleep 30; touch survived"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status)
            .map(|s| s + 128)
            .or(status.code()),
        Some(143)
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(!e.work.join("survived").exists());
    // A wrapper killed outright takes its command with it: watch its
    // command's own process group (led by the shell).
    let mut child = e
        .cmd(&["exec", "-c", "sleep 30; touch orphan-ran"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let group = shell_of(child.id());
    child.kill().unwrap();
    child.wait().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let alive = Command::new("pgrep")
            .args(["-g", &group])
            .output()
            .unwrap()
            .stdout;
        if alive.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the command outlived its killed wrapper"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // stdin passes through.
    assert_eq!(
        String::from_utf8_lossy(&e.run(&["exec", "-c", "cat"], "in\n").stdout),
        "in\n"
    );
}

#[test]
fn the_value_is_not_in_the_wrappers_argv_or_environment() {
    let e = Env::new("proc");
    let mut child = e
        .cmd(&[
            "exec",
            "-c",
            "sh probe.sh {{API_KEY}} >/dev/null; sleep 2; true",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let shell = shell_of(pid);
    // The shell is up; give the probe a moment to run.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    let shell_cmdline = std::fs::read(format!("/proc/{shell}/cmdline")).unwrap_or_default();
    let shell_environ = std::fs::read(format!("/proc/{shell}/environ")).unwrap_or_default();
    child.wait().unwrap();
    for (what, bytes) in [
        ("cmdline", &cmdline),
        ("environ", &environ),
        ("shell cmdline", &shell_cmdline),
        ("shell environ", &shell_environ),
    ] {
        assert!(
            find_leak(bytes, CANARY.as_bytes()).is_none(),
            "the wrapper's {what} holds the value"
        );
    }
    // The shell runs the program through the deliverer, with a marker.
    let text = String::from_utf8_lossy(&shell_cmdline);
    assert!(text.contains(" deliver -- sh probe.sh @@CL."), "{text}");
    assert!(
        !shell_environ.is_empty(),
        "the shell's environment was read"
    );
    // The probe did get the value.
    assert_eq!(
        std::fs::read_to_string(e.work.join("hash.txt"))
            .unwrap()
            .trim(),
        sha256(CANARY)
    );
}

/// The model runs code as the user: besides the statement that uses the
/// value, its command can hold others, set variables bash reads, and
/// export functions. None of them may get hold of the value, because the
/// shell never holds it. Each attempt writes what it sees to a file (a
/// file is not scrubbed); a control runs the same attempts in a shell that
/// does hold the value, and must find it.
#[test]
fn no_other_statement_of_the_command_can_print_the_value() {
    let e = Env::new("shell");
    let dump = e.work.join("dump.txt");
    let d = dump.display();
    let hook = e.work.join("hook.sh");
    std::fs::write(
        &hook,
        format!("set >> {d}; env >> {d}; cat /proc/$$/environ >> {d}\n"),
    )
    .unwrap();
    let use_it = "sh probe.sh {{API_KEY}} >/dev/null 2>/dev/null";
    let attempts = [
        format!("{use_it}; set > {d}; env >> {d}; declare -p >> {d}"),
        // The shell's own stderr (its trace) into the file.
        format!("exec 2> {d}; set -x; {use_it}"),
        format!("{use_it}; tr '\\0' '\\n' < /proc/$$/environ > {d}; cat /proc/$$/cmdline >> {d}"),
        format!("{use_it} & sleep 0.2; cat /proc/$$/environ > {d}; set | base64 >> {d}; wait"),
        format!("{use_it}; echo \"$__claulock_API_KEY $CLAULOCK_SECRET_API_KEY\" > {d}"),
        format!(
            "exec 2> {d}; PS4='+${{__claulock_API_KEY}}${{CLAULOCK_SECRET_API_KEY}} '; set -x; {use_it}"
        ),
        format!(
            "{use_it}; for p in /proc/[0-9]*; do cat $p/environ; done 2>/dev/null | xxd -p >> {d}"
        ),
    ];
    let run = |command: &str, shell_holds_value: bool| {
        let _ = std::fs::remove_file(&dump);
        let _ = std::fs::remove_file(e.work.join("hash.txt"));
        let out = if shell_holds_value {
            // The control: the value in the shell, as it was before.
            Command::new("bash")
                .args([
                    "-c",
                    &command.replace("{{API_KEY}}", "\"$__claulock_API_KEY\""),
                ])
                .env("__claulock_API_KEY", CANARY)
                .env("CLAULOCK_SECRET_API_KEY", CANARY)
                .env("BASH_ENV", &hook)
                .current_dir(&e.work)
                .output()
                .unwrap()
        } else {
            e.cmd(&["exec", "-c", command])
                .env("BASH_ENV", &hook)
                .env(
                    "BASH_FUNC_sh%%",
                    format!("() {{ set >> {d}; command sh \"$@\"; }}"),
                )
                .output()
                .unwrap()
        };
        let seen = std::fs::read(&dump).unwrap_or_default();
        let leaked = find_leak(&seen, CANARY.as_bytes()).is_some()
            || find_leak(&out.stdout, CANARY.as_bytes()).is_some()
            || find_leak(&out.stderr, CANARY.as_bytes()).is_some();
        let delivered = std::fs::read_to_string(e.work.join("hash.txt"))
            .is_ok_and(|h| h.trim() == sha256(CANARY));
        (leaked, delivered, out.status.code())
    };
    for (i, a) in attempts.iter().enumerate() {
        let (leaked, delivered, code) = run(a, false);
        assert!(!leaked, "attempt {i} saw the value");
        assert!(
            delivered,
            "attempt {i}: the program did not get the value (exit {code:?})"
        );
        let (leaked, _, _) = run(a, true);
        assert!(
            leaked,
            "control {i}: the attempt cannot see a value the shell holds"
        );
    }
    // A statement that reads the marker from the shell and starts a
    // deliverer of its own gets the value only where the output is
    // scrubbed: not into a pipe to a transform, not into a file.
    std::fs::remove_file(&dump).unwrap();
    let bin = e.bin.display();
    let marker = "$(tr '\\0' '\\n' < /proc/$$/cmdline | grep -o '@@CL[^@]*@@' | head -1)";
    let out = e.exec(&format!(
        "{use_it}; m={marker}; '{bin}' deliver -- sh probe.sh \"$m\" | rev > {d}; \
         '{bin}' deliver -- sh probe.sh \"$m\" >> {d}; '{bin}' deliver -- sh probe.sh \"$m\""
    ));
    let seen = std::fs::read(&dump).unwrap_or_default();
    assert!(
        find_leak(&seen, CANARY.as_bytes()).is_none(),
        "a counterfeit deliverer leaked"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr
            .matches("does not go to the output ClauLock scrubs")
            .count(),
        2,
        "{stderr}"
    );
    // The last one wrote to the scrubbed output: it ran, and shows the
    // marker was read (the control).
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("got [REDACTED:API_KEY]"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    e.assert_clean(&out);
    std::fs::remove_file(&dump).unwrap();
    // A function of the command's own that wraps the program is refused.
    let out = e.exec("sh() { set > dump.txt; command sh \"$@\"; }; sh probe.sh {{API_KEY}}");
    assert_eq!(out.status.code(), Some(125));
    e.assert_clean(&out);
}

#[test]
fn only_the_exec_wrapper_gets_values() {
    let e = Env::new("peer");
    // A plain client asking for values.
    let script = format!(
        "import socket; s=socket.socket(socket.AF_UNIX); s.connect('{}'); s.sendall(b'{{\"v\":{},\"op\":\"resolve\",\"command\":\"true {{{{API_KEY}}}}\"}}\\n'); print(s.recv(4096).decode())",
        e.home.join("agent.sock").display(),
        claulock_proto::PROTOCOL,
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    let answer = String::from_utf8_lossy(&out.stdout);
    assert!(
        answer.contains(r#"{"err":{"error":"untrusted_peer""#),
        "{answer}"
    );
    assert!(find_leak(&out.stdout, CANARY.as_bytes()).is_none());
    // The real binary with foreign code preloaded.
    let dir = std::env::temp_dir().join(format!("cl-preload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("evil.c"), "void evil(void) {}\n").unwrap();
    let built = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(dir.join("evil.so"))
        .arg(dir.join("evil.c"))
        .status();
    if built.is_ok_and(|s| s.success()) {
        let out = e
            .cmd(&["exec", "-c", "sh probe.sh {{API_KEY}}"])
            .env("LD_PRELOAD", dir.join("evil.so"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(125));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("foreign code"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    } else {
        eprintln!("skipped the LD_PRELOAD case: no C compiler");
    }
    assert!(
        e.ok(&["audit"], "")
            .contains("denied - reason=untrusted-peer")
    );
}

#[test]
fn the_demo_runs_end_to_end_and_cleans_up() {
    let out = Command::new(env!("CARGO_BIN_EXE_claulock"))
        .arg("demo")
        .env_remove("CLAULOCK_HOME")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        "the server received the real token: yes",
        "the echo shows the surrogate curl held, never the token: yes",
        "(host-allowlist)",
        "(program-allowlist)",
        "resolve DEMO_TOKEN caller=proxy host=localhost method=GET status=200",
        "scrubbed DEMO_TOKEN caller=proxy host=localhost form=raw count=1",
        "audit log intact",
        "the demo vault was locked and deleted",
    ] {
        assert!(text.contains(want), "no {want:?} in:\n{text}");
    }
    // The token is random: no token-shaped word may appear anywhere.
    for word in text.split(|c: char| !c.is_ascii_alphanumeric() && c != '_') {
        assert!(
            !(word.starts_with("demo_") && word.len() == 37),
            "the demo printed its token"
        );
    }
    let dir = text
        .split("vault at ")
        .nth(1)
        .and_then(|r| r.split("/home/vault.clv").next())
        .unwrap();
    assert!(!std::path::Path::new(dir).exists(), "{dir} was not removed");
}

#[test]
fn on_a_terminal_the_command_gets_a_terminal_and_is_still_scrubbed() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: needs util-linux script");
        return;
    }
    let e = Env::new("pty");
    let inner = format!(
        "{} exec -c 'test -t 1 && echo stdout-is-a-tty; test -t 2 && echo stderr-is-a-tty >&2; sh probe.sh {{{{API_KEY}}}}; exit 3'",
        e.bin.display()
    );
    let out = Command::new("script")
        .args(["-qec", &inner, "/dev/null"])
        .env("CLAULOCK_HOME", &e.home)
        .current_dir(&e.work)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains("stdout-is-a-tty\nstderr-is-a-tty\n"),
        "{text:?}"
    );
    assert!(
        text.contains("got [REDACTED:API_KEY]\nerr [REDACTED:API_KEY]\n"),
        "{text:?}"
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("\r\r"),
        "doubled carriage returns"
    );
    e.assert_clean(&out);
}

/// Output goes out as it comes, not when the command ends: a prompt
/// (`Name? `, no newline, nothing of a value) is on the terminal before the
/// person types the answer. `tests/e2e/pty_drive.py` writes a marker into
/// what it recorded at the moment it types.
#[test]
fn a_prompt_shows_before_the_answer_is_typed() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("skipped: needs python3");
        return;
    }
    let e = Env::new("prompt");
    let shown = e.work.join("terminal.out");
    let driver =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/e2e/pty_drive.py");
    let mut c = Command::new("python3");
    c.arg(driver)
        .arg(&shown)
        .args(["--"])
        .arg(&e.bin)
        .args([
            "exec",
            "-c",
            "printf 'Name? '; read n; echo hi $n; sh probe.sh {{API_KEY}}",
        ])
        .env("CLAULOCK_HOME", &e.home)
        .env_remove("CLAULOCK_SOCKET")
        .env("PTY_DRIVE_MARK", "@TYPED@")
        .current_dir(&e.work);
    let out = common::run_with_input(&mut c, "bob\n");
    let text =
        String::from_utf8_lossy(&std::fs::read(&shown).unwrap_or_default()).replace('\r', "");
    assert_eq!(out.status.code(), Some(0), "{text:?}");
    let (before, after) = text.split_once("@TYPED@").expect("the driver typed");
    assert_eq!(
        before, "Name? ",
        "the prompt must show before the answer is typed"
    );
    assert!(after.contains("hi bob\n"), "{after:?}");
    assert!(after.contains("got [REDACTED:API_KEY]\n"), "{after:?}");
    assert!(!text.contains(CANARY), "the value leaked");
}

/// When stdout and stderr are one pipe (an agent reads both from it, as
/// Claude Code's shell does), their bytes come out in the order the
/// command wrote them: one scrubbed stream, so a byte the scrubber holds
/// back on one cannot be overtaken by the other (seen in the leak test:
/// `response 403` and ` rc=56` came out as `response 40 rc=53…6`).
#[test]
fn stdout_and_stderr_on_one_pipe_keep_their_order() {
    let e = Env::new("one-pipe");
    let script = "for i in 1 2 3 4 5; do printf 'e%s03' $i >&2; sleep 0.05; printf ' rc=5%s\\n' $i; sleep 0.05; done";
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("{} exec -c \"$0\" 2>&1", e.bin.display()))
        .arg(script)
        .env("CLAULOCK_HOME", &e.home)
        .env_remove("CLAULOCK_SOCKET")
        .current_dir(&e.work)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "e103 rc=51\ne203 rc=52\ne303 rc=53\ne403 rc=54\ne503 rc=55\n"
    );
}

/// A value in the wrapper's own environment (an agent runtime that loaded
/// the project's `.env`, as Gemini CLI does in a trusted folder, or a token
/// exported in the user's profile) is not passed to the command, with or
/// without placeholders: the output scrubber cannot catch a fragment of it
/// (`cut -c1-12`). The note names the variables. Control: a variable that
/// holds no value is passed.
#[test]
fn a_value_in_the_inherited_environment_is_withheld() {
    let e = Env::new("withheld");
    let fragments =
        "printenv API_KEY | cut -c1-12; printenv WRAPPED | cut -c2-13; echo plain=$PLAIN";
    for command in [
        fragments.to_owned(),
        format!("sh probe.sh {{{{API_KEY}}}} >/dev/null; {fragments}"),
    ] {
        let out = e
            .cmd(&["exec", "-c", &command])
            .env("API_KEY", CANARY)
            .env("WRAPPED", format!("x{CANARY}y"))
            .env("PLAIN", "fine")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "exec failed");
        for v in [CANARY, &CANARY[..12], &CANARY[1..12]] {
            assert!(
                !String::from_utf8_lossy(&out.stdout).contains(v),
                "a fragment of the value reached the output"
            );
        }
        assert!(
            out.stdout == b"plain=fine\n",
            "the command saw more than the plain variable"
        );
        let note = String::from_utf8_lossy(&out.stderr);
        assert!(
            note.contains("not passed to the command")
                && note.contains("API_KEY")
                && note.contains("WRAPPED"),
            "no note names the withheld variables"
        );
        e.assert_clean(&out);
    }
    let audit = std::fs::read_to_string(e.home.join("audit.log")).unwrap();
    assert!(audit.contains("withheld API_KEY variable=WRAPPED"));
}

/// `exec --json`: one object when the command is done, its streams
/// scrubbed, its status kept; a refusal is `refused` (exit 125), told apart
/// from a command that itself exits 125.
#[test]
fn json_output_for_scripts() {
    let e = Env::new("json");
    let json = |command: &str| -> (Option<i32>, serde_json::Value) {
        let out = e.run(&["exec", "--json", "-c", command], "");
        assert!(
            find_leak(&out.stdout, CANARY.as_bytes()).is_none() && out.stderr.is_empty(),
            "exec --json leaked, or printed beside its object"
        );
        (
            out.status.code(),
            serde_json::from_slice(&out.stdout).expect("one JSON object"),
        )
    };
    let (code, r) = json("sh probe.sh {{API_KEY}}; exit 3");
    assert_eq!(code, Some(3));
    assert!(r["refused"].is_null() && r["exit_code"] == 3, "{r}");
    assert_eq!(r["stdout"], "got [REDACTED:API_KEY]\n");
    assert_eq!(r["stderr"], "err [REDACTED:API_KEY]\n");
    let (code, r) = json("touch ran; echo {{API_KEY}}");
    assert_eq!(code, Some(125));
    assert!(
        r["refused"].as_str().unwrap().contains("(revealing)") && r["exit_code"].is_null(),
        "{r}"
    );
    assert!(!e.work.join("ran").exists());
    let (code, r) = json("echo own; exit 125");
    assert_eq!(code, Some(125));
    assert!(
        r["refused"].is_null() && r["exit_code"] == 125 && r["stdout"] == "own\n",
        "{r}"
    );
}
