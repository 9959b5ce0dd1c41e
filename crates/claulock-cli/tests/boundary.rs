//! The boundary under attack (DESIGN.md §1: the model runs arbitrary code
//! as the user): idle connections held on the agent's socket, a locked or
//! killed agent, and the memory of the processes `claulock exec` starts.
//! Every test plants canaries, looks for every form of them with
//! `find_leak` (or, for process memory, a fast search of the forms that
//! matter there), and has a control showing that its check can fail.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should stop with a message

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::FileExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use claulock_scrub::testdata::find_leak;
use serde_json::Value;

const PASS: &str = "boundary test passphrase";
/// API_TOKEN's current value (also in the project's `.env`).
const CANARY: &str = "cl_BNDRYcanary_5e1d9c7b3a2f40618e5d4c";
/// API_TOKEN's value before a rotation.
const OLD: &str = "cl_OLDbndrycanary_9a8b7c6d5e4f30211f0e";
/// Two more secrets for the memory test.
const SECRET_A: &str = "cl_AAexecCanaryA_3f9e2d1c0b4a59687fQz";
const SECRET_B: &str = "cl_BBexecCanaryB_7c6b5a4d3e2f10984eWx";
const ALL: [&str; 4] = [CANARY, OLD, SECRET_A, SECRET_B];

/// What a hook must stay well under (its own deadline is 4 s).
const FAST: Duration = Duration::from_secs(2);

use common::HookEnv as Env;

impl Env {
    /// A vault with API_TOKEN (rotated, so an old value exists too), an
    /// agent, and a project whose `.env` holds the current value.
    fn new(name: &str) -> Env {
        Env::with_vault("boundary", name, PASS, OLD, CANARY)
    }

    /// The same directories, no vault and no agent.
    fn locked(name: &str) -> Env {
        Env::at("boundary", name)
    }

    fn socket(&self) -> PathBuf {
        self.home.join("agent.sock")
    }

    /// `claulock status --json` (whatever its exit code says: 0 unlocked,
    /// 1 locked, 3 no vault).
    fn status(&self) -> Value {
        let out = self.run(&["status", "--json"], "");
        assert!(
            matches!(out.status.code(), Some(0 | 1 | 3)),
            "status failed"
        );
        serde_json::from_str(&String::from_utf8_lossy(&out.stdout)).unwrap()
    }

    /// Runs `claulock hook EVENT` on a recorded input with its slots
    /// filled; returns the parsed answer (`Null` for no output) and how
    /// long the hook took.
    fn hook(&self, event: &str, fixture: &str, slots: &[(&str, &str)]) -> (Value, Duration) {
        self.hook_via(None, event, fixture, slots)
    }

    /// [`Env::hook`], talking to `socket` instead of the agent's own.
    fn hook_via(
        &self,
        socket: Option<&Path>,
        event: &str,
        fixture: &str,
        slots: &[(&str, &str)],
    ) -> (Value, Duration) {
        self.hook_timed(event, fixture, slots, socket, &ALL)
    }
}

fn fixture_path(fixture: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/hook_inputs")
        .join(format!("{fixture}.json"))
}

fn decision(answer: &Value) -> (&str, &str) {
    let o = &answer["hookSpecificOutput"];
    (
        o["permissionDecision"].as_str().unwrap_or(""),
        o["permissionDecisionReason"].as_str().unwrap_or(""),
    )
}

/// The output a Bash tool call returned, holding the current value (and
/// the check that would catch it, so that a pass-through fails the test).
fn bash_output() -> String {
    let output = format!("deploying with {CANARY}\ndone\n");
    assert!(
        find_leak(output.as_bytes(), CANARY.as_bytes()).is_some(),
        "control: the planted output holds the value"
    );
    output
}

/// A PreToolUse Read of the project's `.env`, refused because the file
/// holds API_TOKEN's value (the agent answered).
fn assert_read_refused_for_its_value(answer: &Value) {
    let (d, reason) = decision(answer);
    assert_eq!(d, "deny", "{answer}");
    assert_eq!(
        answer["hookSpecificOutput"]["hookEventName"], "PreToolUse",
        "{answer}"
    );
    assert!(
        reason.contains("{{API_TOKEN}}") && reason.contains(".env"),
        "the refusal names the placeholder and the file: {reason}"
    );
}

/// A PostToolUse answer that scrubbed the value out of a Bash response
/// (the agent answered).
fn assert_scrubbed(answer: &Value) {
    let updated = &answer["hookSpecificOutput"]["updatedToolOutput"];
    assert!(updated.is_object(), "{answer}");
    assert_eq!(answer["hookSpecificOutput"]["hookEventName"], "PostToolUse");
    let stdout = updated["stdout"].as_str().unwrap();
    assert!(
        stdout.contains("[REDACTED:API_TOKEN]") && stdout.contains("done"),
        "scrubbed in place, the rest kept: {stdout}"
    );
}

/// A PreToolUse answer that denied the call because nothing could check it.
fn assert_denied_unchecked(answer: &Value, what: &str) {
    let (d, reason) = decision(answer);
    assert_eq!(d, "deny", "{what}: {answer}");
    assert!(
        reason.contains("could not check") && reason.contains("`claulock unlock`"),
        "{what}: {reason}"
    );
    assert!(
        answer["hookSpecificOutput"]["updatedInput"].is_null(),
        "{what}: nothing rewritten"
    );
}

/// A PostToolUse answer that withheld a response it could not scrub: the
/// recorded response's shape, its first string the notice, every other
/// string empty.
fn assert_withheld(answer: &Value, fixture: &str, what: &str) {
    let updated = &answer["hookSpecificOutput"]["updatedToolOutput"];
    assert!(updated.is_object(), "{what}: {answer}");
    let recorded: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture_path(fixture)).unwrap()).unwrap();
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        keys(updated),
        keys(&recorded["tool_response"]),
        "{what}: same shape"
    );
    let mut strings = Vec::new();
    collect_strings(updated, &mut strings);
    assert!(
        strings[0].contains("ClauLock withheld this output"),
        "{what}: {updated}"
    );
    assert!(
        strings[1..].iter().all(|s| s.is_empty()),
        "{what}: every other string is emptied: {updated}"
    );
}

fn collect_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| collect_strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| collect_strings(x, out)),
        _ => {}
    }
}

// ---------------------------------------------------------------------
// 1. Idle connections
// ---------------------------------------------------------------------

/// A stand-in for a serial server (the agent as it was): it relays one
/// connection at a time to the real agent, reading each request line to
/// its end before it accepts the next connection.
fn serial_relay(listen: &Path, agent: PathBuf) {
    let listener = UnixListener::bind(listen).unwrap();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { continue };
            let mut request = Vec::new();
            if BufReader::new(&client)
                .read_until(b'\n', &mut request)
                .is_err()
                || !request.ends_with(b"\n")
            {
                continue;
            }
            let Ok(mut upstream) = UnixStream::connect(&agent) else {
                continue;
            };
            let mut answer = Vec::new();
            if upstream.write_all(&request).is_ok()
                && BufReader::new(&upstream)
                    .read_until(b'\n', &mut answer)
                    .is_ok()
            {
                let _ = client.write_all(&answer);
            }
        }
    });
}

/// `n` connections that send nothing.
fn idle_connections(socket: &Path, n: usize) -> Vec<UnixStream> {
    (0..n)
        .map(|_| UnixStream::connect(socket).expect("an idle connection"))
        .collect()
}

/// Whether the other end still holds `s` open (nothing to read yet).
fn still_open(s: &UnixStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let mut b = [0u8; 1];
    let open = matches!((&*s).read(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
    s.set_nonblocking(false).unwrap();
    open
}

#[test]
fn six_idle_connections_do_not_starve_the_hooks() {
    let e = Env::new("idle");
    let env_file = e.proj.join(".env").display().to_string();
    let output = bash_output();
    let read = |socket: Option<&Path>| {
        e.hook_via(socket, "pre-tool-use", "pre-read", &[("@FILE@", &env_file)])
    };
    let post = |socket: Option<&Path>| {
        e.hook_via(
            socket,
            "post-tool-use",
            "post-bash",
            &[("@OUTPUT@", &output)],
        )
    };

    // Control: no idle connection.
    let (read_alone, t_read_alone) = read(None);
    assert_read_refused_for_its_value(&read_alone);
    let (post_alone, t_post_alone) = post(None);
    assert_scrubbed(&post_alone);

    // Ten connections that send nothing, held while the hooks run.
    let idle = idle_connections(&e.socket(), 10);
    let opened = Instant::now();
    let (read_idle, t_read_idle) = read(None);
    let (post_idle, t_post_idle) = post(None);
    assert_eq!(read_idle, read_alone, "the same answer with idle clients");
    assert_eq!(post_idle, post_alone, "the same answer with idle clients");
    assert!(t_read_idle < FAST, "PreToolUse took {t_read_idle:?}");
    assert!(t_post_idle < FAST, "PostToolUse took {t_post_idle:?}");
    // They were idle, and open, the whole time.
    assert!(opened.elapsed() < Duration::from_secs(4));
    assert!(idle.iter().all(still_open), "the idle clients were held");
    // The agent drops them after its request timeout (5 s).
    for s in &idle {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut b = [0u8; 1];
        assert_eq!((&*s).read(&mut b).unwrap(), 0, "closed without an answer");
    }
    let dropped_after = opened.elapsed();
    assert!(
        dropped_after >= Duration::from_secs(4) && dropped_after < Duration::from_secs(8),
        "dropped after {dropped_after:?}"
    );
    drop(idle);

    // Control that the timing check can fail, and that a starved hook
    // still fails closed: a serial server stuck on one idle client.
    let relay = e.base.join("serial.sock");
    serial_relay(&relay, e.socket());
    let (read_relayed, _) = read(Some(&relay));
    assert_eq!(read_relayed, read_alone, "control: the relay relays");
    let stuck = idle_connections(&relay, 6);
    let (read_starved, t_read_starved) = read(Some(&relay));
    let (post_starved, t_post_starved) = post(Some(&relay));
    assert!(
        t_read_starved >= FAST && t_post_starved >= FAST,
        "control: behind a serial server the hooks wait for their deadline \
         ({t_read_starved:?}, {t_post_starved:?})"
    );
    assert_denied_unchecked(&read_starved, "starved Read");
    assert_withheld(&post_starved, "post-bash", "starved PostToolUse");
    drop(stuck);
    // The relay drains what it holds (the hooks' requests) at once.
    std::thread::sleep(Duration::from_millis(300));

    // Past MAX_CLIENTS (512) held connections the agent turns newcomers
    // away at once: the hooks then fail closed too, and fast.
    // The agent drops a held connection after its request timeout (5 s):
    // on a loaded machine the hooks below may outlast that, and then they
    // meet an agent with room again. Such a round proves nothing either
    // way, so it is run again (the flood still held after the hooks is
    // what makes a round count).
    let mut rounds = 0;
    let (read_flood, t_read_flood, post_flood, t_post_flood, bash_flood) = loop {
        rounds += 1;
        let flood = idle_connections(&e.socket(), 520);
        // The agent took the first 512 and turned the rest away, in order.
        for s in &flood[512..] {
            s.set_read_timeout(Some(Duration::from_secs(4))).unwrap();
            let mut answer = String::new();
            (&*s).read_to_string(&mut answer).unwrap();
            assert!(answer.contains("too many connections"), "{answer}");
        }
        let (read_flood, t_read_flood) = read(None);
        let (post_flood, t_post_flood) = post(None);
        let (bash_flood, _) = e.hook("pre-tool-use", "pre-bash", &[("@COMMAND@", "cat .env")]);
        let held = flood[..512].iter().all(still_open);
        drop(flood);
        if held || rounds == 3 {
            assert!(
                held,
                "the flood was never held through the hooks (3 rounds)"
            );
            break (
                read_flood,
                t_read_flood,
                post_flood,
                t_post_flood,
                bash_flood,
            );
        }
        // Let the agent drop the rest before the next round.
        std::thread::sleep(Duration::from_secs(6));
    };
    assert_denied_unchecked(&read_flood, "flooded Read");
    assert_withheld(&post_flood, "post-bash", "flooded PostToolUse");
    assert_denied_unchecked(&bash_flood, "flooded Bash");
    // Once they go, the agent answers again.
    std::thread::sleep(Duration::from_millis(500));
    let (read_after, t_read_after) = read(None);
    assert_eq!(read_after, read_alone, "the agent recovers");

    eprintln!(
        "timings: alone read {t_read_alone:?} post {t_post_alone:?}; \
         10 idle read {t_read_idle:?} post {t_post_idle:?}; idle dropped after {dropped_after:?}; \
         serial stand-in read {t_read_starved:?} post {t_post_starved:?}; \
         520 held read {t_read_flood:?} post {t_post_flood:?} (round {rounds}); after read {t_read_after:?}"
    );
}

// ---------------------------------------------------------------------
// 2. Locked or killed agent
// ---------------------------------------------------------------------

/// (a) Read of `.env`, (b) Bash `cat .env`, (c) the output of a Bash call
/// holding the value, and the rewritten command itself: all refused or
/// withheld, none with any form of a value.
fn assert_fails_closed(e: &Env, what: &str) -> [Duration; 3] {
    let env_file = e.proj.join(".env").display().to_string();
    let readme = e.proj.join("README.md").display().to_string();
    let (a, t_a) = e.hook("pre-tool-use", "pre-read", &[("@FILE@", &env_file)]);
    assert_denied_unchecked(&a, &format!("{what}: Read .env"));
    let (a, _) = e.hook("pre-tool-use", "pre-read", &[("@FILE@", &readme)]);
    assert_denied_unchecked(&a, &format!("{what}: Read README.md (unchecked too)"));
    let (a, _) = e.hook("pre-tool-use", "pre-grep", &[]);
    assert_denied_unchecked(&a, &format!("{what}: Grep"));
    let (b, t_b) = e.hook("pre-tool-use", "pre-bash", &[("@COMMAND@", "cat .env")]);
    assert_denied_unchecked(&b, &format!("{what}: cat .env"));
    let (b, _) = e.hook("pre-tool-use", "pre-bash", &[("@COMMAND@", "ls")]);
    assert_denied_unchecked(&b, &format!("{what}: ls"));
    let output = bash_output();
    let (c, t_c) = e.hook("post-tool-use", "post-bash", &[("@OUTPUT@", &output)]);
    assert_withheld(&c, "post-bash", &format!("{what}: Bash output"));
    let file = e.proj.join("notes.txt").display().to_string();
    let (c, _) = e.hook(
        "post-tool-use",
        "post-read",
        &[("@OUTPUT@", &output), ("@FILE@", &file)],
    );
    assert_withheld(&c, "post-read", &format!("{what}: Read output"));
    // Were the hooks bypassed, exec itself runs nothing.
    let out = e.run(&["exec", "-c", "cat .env"], "");
    assert_eq!(out.status.code(), Some(125), "{what}: exec refuses");
    for v in ALL {
        assert!(
            find_leak(&out.stdout, v.as_bytes()).is_none()
                && find_leak(&out.stderr, v.as_bytes()).is_none(),
            "{what}: exec printed a value"
        );
    }
    assert!(
        t_a < FAST && t_b < FAST && t_c < FAST,
        "{what}: fast ({t_a:?}, {t_b:?}, {t_c:?})"
    );
    [t_a, t_b, t_c]
}

/// The agent answers: `cat .env` is Claude Code's to run (its output is
/// scrubbed after), a Read of `.env` is refused for its value, a Read of
/// README.md is allowed, and the output is scrubbed.
fn assert_agent_answers(e: &Env, what: &str) {
    let env_file = e.proj.join(".env").display().to_string();
    let readme = e.proj.join("README.md").display().to_string();
    let (a, _) = e.hook("pre-tool-use", "pre-read", &[("@FILE@", &env_file)]);
    assert_read_refused_for_its_value(&a);
    let (a, _) = e.hook("pre-tool-use", "pre-read", &[("@FILE@", &readme)]);
    assert_eq!(a, Value::Null, "{what}: README.md is readable");
    let (b, _) = e.hook("pre-tool-use", "pre-bash", &[("@COMMAND@", "cat .env")]);
    assert_eq!(b, Value::Null, "{what}: cat .env is not denied");
    let (c, _) = e.hook(
        "post-tool-use",
        "post-bash",
        &[("@OUTPUT@", &bash_output())],
    );
    assert_scrubbed(&c);
    let out = e.run(&["exec", "-c", "cat .env"], "");
    assert!(out.status.success(), "{what}: exec runs");
    assert!(
        find_leak(&out.stdout, CANARY.as_bytes()).is_none(),
        "{what}: exec scrubbed the file"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("API_TOKEN=[REDACTED:API_TOKEN]"),
        "{what}: the file was printed, scrubbed"
    );
}

/// Waits until process `pid` is gone (or a zombie).
fn wait_dead(pid: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while common::is_alive(u32::try_from(pid).unwrap()) {
        assert!(Instant::now() < deadline, "the agent did not die");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_locked_or_killed_agent_fails_closed() {
    let e = Env::new("closed");
    // Control: with the agent running the same calls pass or are refused
    // only for what they hold.
    assert_agent_answers(&e, "running");

    e.ok(&["lock"], "");
    assert_eq!(e.status()["locked"], true);
    let locked = assert_fails_closed(&e, "locked");

    e.ok(&["unlock", "--passphrase-stdin"], PASS);
    assert_agent_answers(&e, "unlocked again");
    let pid = e.status()["agent_pid"].as_u64().expect("an agent pid");
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(i32::try_from(pid).unwrap()).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    wait_dead(pid);
    assert_eq!(e.status()["locked"], true, "no agent answers");
    assert!(e.home.join("vault.clv").exists());
    let killed = assert_fails_closed(&e, "killed");

    // Without a vault the installed hooks still guard: its absence may be a
    // renamed file or a moved CLAULOCK_HOME.
    let none = Env::locked("closed-none");
    assert_eq!(none.status()["exists"], false);
    let (a, _) = none.hook(
        "pre-tool-use",
        "pre-bash",
        &[("@COMMAND@", "cat README.md")],
    );
    assert_eq!(
        decision(&a).0,
        "deny",
        "no vault: cat README.md is not checked"
    );
    let readme = none.proj.join("README.md").display().to_string();
    let (a, _) = none.hook("pre-tool-use", "pre-read", &[("@FILE@", &readme)]);
    assert_eq!(decision(&a).0, "deny", "no vault: the Read is not checked");
    let (a, _) = none.hook(
        "post-tool-use",
        "post-bash",
        &[("@OUTPUT@", "hello from nowhere")],
    );
    let shown = a.to_string();
    assert!(
        shown.contains("withheld") && !shown.contains("hello from nowhere"),
        "no vault: the output is withheld: {shown}"
    );
    eprintln!("timings (Read .env, cat .env, Bash output): locked {locked:?}, killed {killed:?}");
}

/// Found while writing these tests (and fixed): the hooks used to decide
/// that there was nothing to protect from `CLAULOCK_HOME/vault.clv`
/// existing, a file the model can rename with a plain Bash command. The
/// agent keeps running, unlocked, with every value; with the file gone, a
/// Read of `.env` was allowed and a tool's output holding a value passed
/// unscrubbed. The installed hooks now guard whatever they find.
#[test]
fn a_renamed_vault_does_not_switch_the_hooks_off() {
    let e = Env::new("renamed");
    let env_file = e.proj.join(".env").display().to_string();
    let output = bash_output();
    let read = || {
        e.hook("pre-tool-use", "pre-read", &[("@FILE@", &env_file)])
            .0
    };
    let post = || {
        e.hook("post-tool-use", "post-bash", &[("@OUTPUT@", &output)])
            .0
    };
    // Control: guarded.
    assert_read_refused_for_its_value(&read());
    assert_scrubbed(&post());
    let vault = e.home.join("vault.clv");
    let elsewhere = e.base.join("elsewhere.clv");
    let mv = format!("mv {} {}", vault.display(), elsewhere.display());
    let (a, _) = e.hook("pre-tool-use", "pre-bash", &[("@COMMAND@", &mv)]);
    assert_eq!(a, Value::Null, "a plain command: Claude Code runs it");
    let out = Command::new("bash").args(["-c", &mv]).output().unwrap();
    assert!(out.status.success());
    let agent = claulock_agent::Home::at(&e.home)
        .client()
        .status()
        .expect("the agent still answers, unlocked");
    assert_eq!(agent.secrets, 1);
    let read_refused = decision(&read()).0 == "deny";
    let c = post();
    let output_guarded =
        !c.is_null() && find_leak(c.to_string().as_bytes(), CANARY.as_bytes()).is_none();
    assert!(
        read_refused && output_guarded,
        "with the vault file renamed: Read of .env refused: {read_refused}; \
         output holding the value scrubbed or withheld: {output_guarded}"
    );
}

// ---------------------------------------------------------------------
// 3. Process memory
// ---------------------------------------------------------------------

/// The forms a value takes in a process's memory that are worth a fast
/// search: raw, reversed, case-folded, rot13, hex, base64 (both alphabets,
/// each alignment) and UTF-16.
fn memory_forms(v: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let rot13 = claulock_scrub::testdata::rot13(v);
    let hex: String = v.iter().map(|b| format!("{b:02x}")).collect();
    let mut forms = vec![
        ("raw", v.to_vec()),
        ("reversed", v.iter().rev().copied().collect()),
        ("upper", v.to_ascii_uppercase()),
        ("lower", v.to_ascii_lowercase()),
        ("rot13", rot13),
        ("hex", hex.clone().into_bytes()),
        ("HEX", hex.to_ascii_uppercase().into_bytes()),
        ("utf-16", v.iter().flat_map(|&b| [b, 0]).collect()),
    ];
    for align in 0..3 {
        let mut padded = vec![0u8; align];
        padded.extend_from_slice(v);
        let b64 = base64(&padded);
        // Skip the characters the padding touches, and the last group.
        let core = b64[[0, 2, 3][align]..b64.len() - 4].to_owned();
        forms.push(("base64", core.clone().into_bytes()));
        forms.push((
            "base64url",
            core.replace('+', "-").replace('/', "_").into_bytes(),
        ));
    }
    forms
}

fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ABC[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A search for several byte strings at once (a first-byte table, then a
/// comparison).
struct Needles {
    list: Vec<(&'static str, Vec<u8>)>,
    first: [bool; 256],
}

impl Needles {
    fn new(list: Vec<(&'static str, Vec<u8>)>) -> Needles {
        let mut first = [false; 256];
        for (_, n) in &list {
            first[usize::from(n[0])] = true;
        }
        Needles { list, first }
    }

    fn find(&self, hay: &[u8]) -> Option<&'static str> {
        for (i, &b) in hay.iter().enumerate() {
            if self.first[usize::from(b)] {
                let rest = &hay[i..];
                for (form, n) in &self.list {
                    if rest.starts_with(n) {
                        return Some(form);
                    }
                }
            }
        }
        None
    }
}

/// A process's readable memory, one buffer per readable run of pages
/// (root reads non-dumpable processes too).
struct Image {
    pid: u32,
    cmdline: String,
    /// `/proc/PID/cmdline` and `environ`, for `find_leak` (small).
    proc_text: Vec<u8>,
    regions: Vec<Vec<u8>>,
}

impl Image {
    fn bytes(&self) -> usize {
        self.regions.iter().map(Vec::len).sum()
    }

    fn find(&self, needles: &Needles) -> Option<&'static str> {
        self.regions.iter().find_map(|r| needles.find(r))
    }

    /// The pid and the first two words of the command line (a delivered
    /// program's later arguments hold a value: never shown).
    fn label(&self) -> String {
        let words: Vec<&str> = self.cmdline.split(' ').take(2).collect();
        format!("{} ({})", self.pid, words.join(" "))
    }
}

fn read_memory(pid: u32) -> Option<Image> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).ok()?;
    let mem = std::fs::File::open(format!("/proc/{pid}/mem")).ok()?;
    let mut proc_text = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmdline = String::from_utf8_lossy(&proc_text).replace('\0', " ");
    proc_text.extend(std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default());
    let mut regions = Vec::new();
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
            continue;
        };
        if !perms.starts_with('r') {
            continue;
        }
        let (start, end) = range.split_once('-').unwrap();
        let (start, end) = (
            u64::from_str_radix(start, 16).unwrap(),
            u64::from_str_radix(end, 16).unwrap(),
        );
        let mut run = Vec::new();
        let mut at = start;
        while at < end {
            // A megabyte at a time; a chunk that does not read is tried
            // page by page ([vvar], guard pages).
            let len = (end - at).min(1 << 20);
            let mut buf = vec![0u8; usize::try_from(len).unwrap()];
            if mem.read_exact_at(&mut buf, at).is_ok() {
                run.extend_from_slice(&buf);
            } else {
                for page in buf.chunks_mut(4096) {
                    if mem.read_exact_at(page, at).is_ok() {
                        run.extend_from_slice(page);
                    } else if !run.is_empty() {
                        regions.push(std::mem::take(&mut run));
                    }
                    at += page.len() as u64;
                }
                continue;
            }
            at += len;
        }
        if !run.is_empty() {
            regions.push(run);
        }
    }
    Some(Image {
        pid,
        cmdline,
        proc_text,
        regions,
    })
}

/// The children of `pid`.
fn children(pid: u32) -> Vec<u32> {
    let mut kids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
        let ppid = stat
            .rsplit(')')
            .next()
            .and_then(|s| s.split_whitespace().nth(1))
            .and_then(|s| s.parse::<u32>().ok());
        if ppid == Some(pid) {
            kids.push(p);
        }
    }
    kids
}

/// `pid` and all its descendants.
fn family(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() {
        let kids = children(all[i]);
        all.extend(kids);
        i += 1;
    }
    all
}

fn cmdline(pid: u32) -> String {
    String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default())
        .replace('\0', " ")
}

/// Runs `claulock exec -c COMMAND`, waits until its `sleep` runs (the
/// command is then as far as it gets), and reads the memory of the
/// wrapper and of every descendant.
fn exec_images(e: &Env, command: &str) -> Vec<Image> {
    let mut child = e
        .cmd(&["exec", "-c", command])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let wrapper = child.id();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let fam = family(wrapper);
        if fam.iter().any(|&p| cmdline(p).starts_with("sleep 6")) {
            break;
        }
        assert!(Instant::now() < deadline, "the command did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let images: Vec<Image> = family(wrapper)
        .into_iter()
        .filter_map(read_memory)
        .collect();
    let _ = child.kill();
    child.wait().unwrap();
    assert_eq!(images[0].pid, wrapper);
    images
}

fn is_root() -> bool {
    rustix::process::getuid().is_root()
}

#[test]
fn exec_memory_holds_only_the_values_its_command_uses() {
    if !is_root() {
        eprintln!("skipped: reading another process's memory needs root");
        return;
    }
    let e = Env::locked("mem");
    e.ok(&["init", "--passphrase-stdin"], PASS);
    e.ok(&["unlock", "--passphrase-stdin"], PASS);
    e.ok(&["add", "A"], SECRET_A);
    e.ok(&["add", "B"], SECRET_B);
    std::fs::write(e.proj.join("hold.sh"), "sleep 6\n").unwrap();
    let a = Needles::new(memory_forms(SECRET_A.as_bytes()));
    let b = Needles::new(memory_forms(SECRET_B.as_bytes()));
    let raw_a = Needles::new(vec![("raw", SECRET_A.as_bytes().to_vec())]);
    let raw_b = Needles::new(vec![("raw", SECRET_B.as_bytes().to_vec())]);
    // The searcher finds every form it knows, and is fast enough.
    for (form, bytes) in memory_forms(SECRET_A.as_bytes()) {
        let mut hay = claulock_scrub::testdata::log_text(4096, 7);
        hay.extend_from_slice(&bytes);
        assert!(a.find(&hay).is_some(), "control: the {form} form is found");
        assert_eq!(b.find(&hay), None);
    }
    let noise = claulock_scrub::testdata::log_text(8 << 20, 11);
    let start = Instant::now();
    assert_eq!(a.find(&noise), None);
    let rate = 8.0 / start.elapsed().as_secs_f64();
    let start = Instant::now();
    assert_eq!(find_leak(&noise[..1 << 18], SECRET_A.as_bytes()), None);
    let leak_rate = 0.25 / start.elapsed().as_secs_f64();
    drop(noise);

    // Control: the agent holds both values, and the reader finds them.
    let agent = u32::try_from(e.status()["agent_pid"].as_u64().unwrap()).unwrap();
    let image = read_memory(agent).expect("the agent's memory reads");
    assert!(image.find(&raw_a).is_some(), "control: A in the agent");
    assert!(image.find(&raw_b).is_some(), "control: B in the agent");
    let agent_mb = image.bytes() >> 20;
    drop(image);

    // No placeholder: no process of the command holds any value.
    let check = e.ok(&["check", "-c", "sleep 6; true"], "");
    assert!(check.starts_with("allowed"), "{check}");
    let start = Instant::now();
    let images = exec_images(&e, "sleep 6; true");
    let mut read_mb = 0;
    for img in &images {
        read_mb += img.bytes() >> 20;
        for (name, n, v) in [("A", &a, SECRET_A), ("B", &b, SECRET_B)] {
            assert_eq!(img.find(n), None, "{name} in the memory of {}", img.label());
            assert_eq!(
                find_leak(&img.proc_text, v.as_bytes()),
                None,
                "{name} in the argv or environment of {}",
                img.pid
            );
        }
    }
    assert!(
        images[0].bytes() > 1 << 20,
        "the non-dumpable wrapper's memory was read"
    );
    assert!(
        images.iter().any(|i| i.cmdline.starts_with("bash -c")),
        "the shell was read: {:?}",
        images.iter().map(Image::label).collect::<Vec<_>>()
    );
    let plain = (images.len(), read_mb, start.elapsed());

    // {{A}}: only the program that receives it holds A; B stays out.
    let command = "sh hold.sh {{A}}; true";
    let check = e.ok(&["check", "-c", command], "");
    assert!(check.starts_with("allowed"), "{check}");
    let start = Instant::now();
    let images = exec_images(&e, command);
    let mut read_mb = 0;
    let mut delivered = 0;
    for img in &images {
        read_mb += img.bytes() >> 20;
        assert_eq!(img.find(&b), None, "B in the memory of {}", img.label());
        assert_eq!(
            find_leak(&img.proc_text, SECRET_B.as_bytes()),
            None,
            "B in the argv or environment of {}",
            img.pid
        );
        if img.cmdline.starts_with("sh hold.sh") {
            // The deliverer became the program: the value sits in its argv.
            assert!(img.find(&raw_a).is_some(), "the program got A");
            delivered += 1;
        } else {
            assert_eq!(
                img.find(&a),
                None,
                "A in the memory of {}, which does not use it",
                img.label()
            );
            assert_eq!(
                find_leak(&img.proc_text, SECRET_A.as_bytes()),
                None,
                "A in the argv or environment of {}",
                img.pid
            );
        }
    }
    assert_eq!(delivered, 1, "the delivered program was read");
    assert!(
        images.iter().any(|i| i.cmdline.starts_with("bash -c")),
        "the shell was read"
    );
    assert!(images[0].bytes() > 1 << 20);
    let used = (images.len(), read_mb, start.elapsed());
    eprintln!(
        "search {rate:.0} MB/s (find_leak {leak_rate:.2} MB/s); agent {agent_mb} MB; \
         no placeholder: {} processes, {} MB, {:?}; with {{{{A}}}}: {} processes, {} MB, {:?}",
        plain.0, plain.1, plain.2, used.0, used.1, used.2
    );
}
