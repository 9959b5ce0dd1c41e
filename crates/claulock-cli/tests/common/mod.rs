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

/// A random alphanumeric word of `len` characters (a canary).
pub(crate) fn random(len: usize) -> String {
    let mut out = String::new();
    let mut f = std::fs::File::open("/dev/urandom").expect("/dev/urandom");
    while out.len() < len {
        let mut bytes = [0u8; 64];
        std::io::Read::read_exact(&mut f, &mut bytes).expect("random bytes");
        out.extend(
            bytes
                .iter()
                .filter(|b| b.is_ascii_alphanumeric())
                .map(|b| char::from(*b)),
        );
    }
    out.truncate(len);
    out
}

/// Everything a run printed: its stdout, then its stderr.
pub(crate) fn printed(out: &Output) -> Vec<u8> {
    let mut bytes = out.stdout.clone();
    bytes.extend_from_slice(&out.stderr);
    bytes
}

/// Every file under `dir`, read whole.
pub(crate) fn files_under(dir: &std::path::Path, out: &mut Vec<(std::path::PathBuf, Vec<u8>)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else if let Ok(bytes) = std::fs::read(&p) {
            out.push((p, bytes));
        }
    }
}

/// A ClauLock home, a project and the binary, for the tests that drive
/// `claulock hook` on recorded inputs (`tests/hook_inputs/`).
pub(crate) struct HookEnv {
    pub base: std::path::PathBuf,
    pub home: std::path::PathBuf,
    pub proj: std::path::PathBuf,
    pub bin: std::path::PathBuf,
}

impl HookEnv {
    /// The directories (a project with a README and a `sub` directory),
    /// no vault and no agent.
    pub(crate) fn at(prefix: &str, name: &str) -> HookEnv {
        let base = std::env::temp_dir().join(format!("cl-{prefix}-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let proj = base.join("proj");
        std::fs::create_dir_all(proj.join("sub")).unwrap();
        std::fs::write(proj.join("README.md"), "hello\n").unwrap();
        HookEnv {
            home: base.join("claulock"),
            proj,
            bin: std::path::PathBuf::from(env!("CARGO_BIN_EXE_claulock")),
            base,
        }
    }

    /// Also a vault with API_TOKEN (127.0.0.1, curl; `old`, then rotated
    /// to `current`), an agent, and a project `.env` holding `current`.
    pub(crate) fn with_vault(
        prefix: &str,
        name: &str,
        pass: &str,
        old: &str,
        current: &str,
    ) -> HookEnv {
        let e = HookEnv::at(prefix, name);
        e.ok(&["init", "--passphrase-stdin"], pass);
        e.ok(&["unlock", "--passphrase-stdin"], pass);
        let add = [
            "add",
            "API_TOKEN",
            "--allow-host",
            "127.0.0.1",
            "--allow-program",
            "curl",
        ];
        e.ok(&add, old);
        e.ok(&["rotate", "API_TOKEN"], current);
        std::fs::write(
            e.proj.join(".env"),
            format!("API_TOKEN={current}\nDEBUG=1\n"),
        )
        .unwrap();
        e
    }

    pub(crate) fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.args(args)
            .env("CLAULOCK_HOME", &self.home)
            .env("HOME", self.base.join("userhome"))
            .env_remove("CLAULOCK_SOCKET")
            .current_dir(&self.proj);
        c
    }

    pub(crate) fn run(&self, args: &[&str], input: &str) -> Output {
        run_with_input(&mut self.cmd(args), input)
    }

    pub(crate) fn ok(&self, args: &[&str], input: &str) -> String {
        expect_success(args, &self.run(args, input))
    }

    /// A recorded hook input with its slots filled.
    pub(crate) fn input(&self, fixture: &str, slots: &[(&str, &str)]) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/hook_inputs")
            .join(format!("{fixture}.json"));
        let mut input = std::fs::read_to_string(path).unwrap();
        let transcript = self.base.join("transcript.jsonl");
        for (k, v) in [
            ("@PROJ@", self.proj.display().to_string()),
            ("@TRANSCRIPT@", transcript.display().to_string()),
        ]
        .into_iter()
        .chain(slots.iter().map(|(k, v)| ((*k), json_str(v))))
        {
            input = input.replace(k, &v);
        }
        input
    }

    /// Runs `claulock hook EVENT` on a recorded input (through `socket`
    /// when given), checks that nothing it printed holds a form of any of
    /// `canaries`, and returns its answer (`Null` for no output) and how
    /// long it took.
    pub(crate) fn hook_timed(
        &self,
        event: &str,
        fixture: &str,
        slots: &[(&str, &str)],
        socket: Option<&std::path::Path>,
        canaries: &[&str],
    ) -> (serde_json::Value, std::time::Duration) {
        let input = self.input(fixture, slots);
        let mut cmd = self.cmd(&["hook", event]);
        if let Some(s) = socket {
            cmd.env("CLAULOCK_SOCKET", s);
        }
        let start = std::time::Instant::now();
        let out = run_with_input(&mut cmd, &input);
        let took = start.elapsed();
        assert!(
            out.status.success(),
            "hook {event} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for v in canaries {
            for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
                assert!(
                    claulock_scrub::testdata::find_leak(bytes, v.as_bytes()).is_none(),
                    "hook {event} printed a value on {stream}"
                );
            }
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let answer = if text.trim().is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&text).expect("hook output is JSON")
        };
        (answer, took)
    }
}

impl Drop for HookEnv {
    fn drop(&mut self) {
        // Asked directly: this works with the vault file renamed, too.
        let agent = claulock_agent::Home::at(&self.home)
            .client()
            .status()
            .ok()
            .map(|s| s.pid);
        let _ = self.cmd(&["lock"]).output();
        // Removing the home before the agent exits could leave it running.
        if let Some(pid) = agent {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while is_alive(pid) && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

/// Whether process `pid` runs (a zombie has closed its files: it does not).
pub(crate) fn is_alive(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat.rsplit(')').next().unwrap_or("").trim_start();
    !(stat.is_empty() || state.starts_with('Z') || state.starts_with('X'))
}

/// A string as it sits inside a JSON string (the slot is inside quotes).
pub(crate) fn json_str(v: &str) -> String {
    let quoted = serde_json::to_string(v).unwrap();
    quoted[1..quoted.len() - 1].to_owned()
}
