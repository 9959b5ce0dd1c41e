//! `claulock import` on real files of every kind, in a throwaway home:
//! afterwards no file holds any form of a value, nothing printed does, and
//! the files' programs still work through ClauLock (npm against a loopback
//! registry, through `exec --env-file`). And `doctor` finding a value that
//! stays readable: committed to git history, exported in the environment.
//! (git through the credential helper and the proxy is in `proxy.rs`.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use claulock_scrub::testdata::find_leak;

const PASS: &str = "import test passphrase";

struct Lab {
    base: PathBuf,
    home: PathBuf,
    user_home: PathBuf,
    proj: PathBuf,
}

impl Lab {
    fn new(name: &str) -> Lab {
        let base = std::env::temp_dir().join(format!("cl-import-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let lab = Lab {
            home: base.join("claulock"),
            user_home: base.join("home"),
            proj: base.join("proj"),
            base,
        };
        for d in [&lab.user_home, &lab.proj] {
            std::fs::create_dir_all(d).unwrap();
        }
        lab.ok(&["init", "--passphrase-stdin"], PASS);
        lab.ok(&["unlock", "--passphrase-stdin"], PASS);
        lab
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_claulock"));
        c.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.user_home)
            .env("CLAULOCK_HOME", &self.home)
            .env("LANG", "C.UTF-8")
            .current_dir(&self.proj);
        c
    }

    fn claulock(&self, args: &[&str], input: &str) -> Output {
        common::run_with_input(&mut self.command(args), input)
    }

    fn ok(&self, args: &[&str], input: &str) -> String {
        common::expect_success(args, &self.claulock(args, input))
    }

    fn write(&self, rel: &str, text: &str, mode: u32) -> PathBuf {
        let p = if rel.starts_with('~') {
            self.user_home.join(rel.trim_start_matches("~/"))
        } else {
            self.proj.join(rel)
        };
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    /// git in the project, as the user.
    fn git(&self, args: &[&str]) {
        let ok = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(args)
            .current_dir(&self.proj)
            .env("HOME", &self.user_home)
            .output()
            .unwrap();
        assert!(ok.status.success(), "git {args:?}");
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
        let _ = self.claulock(&["lock"], "");
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

/// Which canary (by index) `bytes` hold in any form.
fn leaked(bytes: &[u8], canaries: &[String]) -> Option<(usize, &'static str)> {
    canaries
        .iter()
        .enumerate()
        .find_map(|(i, c)| find_leak(bytes, c.as_bytes()).map(|f| (i, f)))
}

/// A loopback npm registry that answers `npm whoami` for one token.
struct Registry {
    child: std::process::Child,
    port: u16,
    log: PathBuf,
}

impl Registry {
    fn start(base: &Path, token: &str) -> Registry {
        let script = base.join("registry.py");
        std::fs::write(
            &script,
            r#"
import http.server, sys
token, port_file, log = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ok = self.headers.get("Authorization", "") == "Bearer " + token
        with open(log, "a") as f:
            f.write(("authorized " if ok else "refused ") + self.path + "\n")
        body = b'{"username":"import-tester"}' if ok else b'{"error":"unauthorized"}'
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(port_file, "w").write(str(s.server_port))
s.serve_forever()
"#,
        )
        .unwrap();
        let token_file = base.join("registry-token");
        std::fs::write(&token_file, token).unwrap();
        let port_file = base.join("registry-port");
        let log = base.join("registry.log");
        let child = Command::new("python3")
            .arg(&script)
            .arg(&token_file)
            .arg(&port_file)
            .arg(&log)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut port = None;
        for _ in 0..100 {
            if let Ok(p) = std::fs::read_to_string(&port_file)
                && let Ok(p) = p.trim().parse()
            {
                port = Some(p);
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Registry {
            child,
            port: port.expect("the registry started"),
            log,
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn every_kind_of_file_is_imported_and_left_without_any_form_of_a_value() {
    let lab = Lab::new("kinds");
    let c: Vec<String> = vec![
        format!("tok_{}", common::random(32)),      // 0 .env API_TOKEN
        common::random(20),                         // 1 .env DATABASE_URL's password
        format!("npm_{}", common::random(36)),      // 2 .npmrc
        format!("ghp_{}", common::random(36)),      // 3 .git-credentials
        common::random(24),                         // 4 .netrc
        format!("pypi-{}", common::random(40)),     // 5 .pypirc
        format!("dckr_pat_{}", common::random(27)), // 6 docker
        format!("gho_{}", common::random(36)),      // 7 gh
    ];
    let registry = Registry::start(&lab.base, &c[2]);
    let files = [
        lab.write(
            ".env",
            &format!(
                "# the app\nPORT=3000\nAPI_TOKEN={}\nDATABASE_URL=\"postgres://app:{}@db.internal/app\"\n",
                c[0], c[1]
            ),
            0o640,
        ),
        lab.write(
            "~/.npmrc",
            &format!(
                "registry=http://127.0.0.1:{p}/\n//127.0.0.1:{p}/:_authToken={}\n",
                c[2],
                p = registry.port
            ),
            0o600,
        ),
        lab.write(
            "~/.git-credentials",
            &format!("https://me:{}@git.example.com\n", c[3]),
            0o600,
        ),
        lab.write(
            "~/.netrc",
            &format!("machine api.example.com\n  login me\n  password {}\n", c[4]),
            0o600,
        ),
        lab.write(
            "~/.pypirc",
            &format!(
                "[distutils]\nindex-servers = pypi\n\n[pypi]\nusername = __token__\npassword = {}\n",
                c[5]
            ),
            0o600,
        ),
        lab.write(
            "~/.docker/config.json",
            &format!(
                "{{\"auths\": {{\"registry.example.com\": {{\"auth\": \"{}\"}}}}}}\n",
                base64(&format!("bot:{}", c[6]))
            ),
            0o600,
        ),
        lab.write(
            "~/.config/gh/hosts.yml",
            &format!(
                "github.com:\n    user: me\n    oauth_token: {}\n    git_protocol: https\n",
                c[7]
            ),
            0o600,
        ),
    ];
    let modes: Vec<u32> = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().permissions().mode())
        .collect();
    let paths: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let mut args = vec!["import", "--rewrite", "--deliver", "env"];
    args.extend(paths.iter().map(String::as_str));

    // Without a terminal and without --yes, nothing changes.
    let refused = lab.claulock(&args, "");
    assert!(!refused.status.success());
    assert!(lab.names().is_empty(), "nothing was added");
    assert!(
        std::fs::read_to_string(&files[0]).unwrap().contains(&c[0]),
        "the file was left as it was"
    );

    args.push("--yes");
    let out = lab.claulock(&args, "");
    let printed = common::printed(&out);
    assert!(
        out.status.success(),
        "import failed (exit {:?})",
        out.status.code()
    );
    assert_eq!(leaked(&printed, &c), None, "import printed a value");
    let text = String::from_utf8_lossy(&printed);
    assert!(
        text.contains("left alone: .env: PORT"),
        "PORT is no credential: {text}"
    );

    let mut names = lab.names();
    names.sort();
    assert_eq!(
        names,
        [
            "API_EXAMPLE_COM_NETRC_PASSWORD",
            "API_TOKEN",
            "DATABASE_URL",
            "GH_TOKEN",
            "GIT_EXAMPLE_COM_GIT_TOKEN",
            "NPM_TOKEN_127_0_0_1",
            "PYPI_TOKEN",
            "REGISTRY_EXAMPLE_COM_DOCKER_PASSWORD",
        ]
    );
    for (i, f) in files.iter().enumerate() {
        let bytes = std::fs::read(f).unwrap();
        assert_eq!(
            leaked(&bytes, &c),
            None,
            "{} still holds a value",
            f.display()
        );
        assert_eq!(
            std::fs::metadata(f).unwrap().permissions().mode(),
            modes[i],
            "{} changed mode",
            f.display()
        );
    }
    let env = std::fs::read_to_string(&files[0]).unwrap();
    assert_eq!(
        env,
        "# the app\nPORT=3000\nAPI_TOKEN={{API_TOKEN}}\nDATABASE_URL={{DATABASE_URL}}\n"
    );
    assert!(
        std::fs::read_to_string(&files[1])
            .unwrap()
            .contains(":_authToken=${NPM_TOKEN_127_0_0_1}")
    );
    let gitconfig = std::fs::read_to_string(lab.user_home.join(".gitconfig")).unwrap();
    assert!(
        gitconfig.contains("[credential \"https://git.example.com\"]")
            && gitconfig.contains("git-credential --secret GIT_EXAMPLE_COM_GIT_TOKEN"),
        "{gitconfig}"
    );
    let describe = lab.ok(&["describe", "NPM_TOKEN_127_0_0_1", "--json"], "");
    assert!(
        describe.contains("127.0.0.1"),
        "the registry's host: {describe}"
    );
    // No copy of a plaintext file anywhere under the homes.
    let mut all = Vec::new();
    common::files_under(&lab.user_home, &mut all);
    common::files_under(&lab.proj, &mut all);
    for (p, bytes) in &all {
        assert_eq!(leaked(bytes, &c), None, "{} holds a value", p.display());
    }

    // Again: the rewritten files hold nothing more; a copy of the old
    // `.env` finds its values in the vault already and adds none.
    let again = lab.ok(&["import", "--yes", &paths[0]], "");
    assert!(again.contains("no credentials found"), "{again}");
    let copy = lab.write(
        "old.env",
        &format!("API_TOKEN={}\nOTHER_TOKEN={}\n", c[0], c[0]),
        0o600,
    );
    let again = lab.ok(&["import", "--yes", &copy.display().to_string()], "");
    assert!(again.contains("already in the vault"), "{again}");
    assert_eq!(lab.names().len(), 8, "no value was added twice");

    // npm still works, through ClauLock: `${NPM_TOKEN_…}` from an env file
    // whose value is a placeholder.
    lab.write(
        "npm.env",
        "NPM_TOKEN_127_0_0_1={{NPM_TOKEN_127_0_0_1}}\n",
        0o644,
    );
    let whoami = lab.claulock(
        &["exec", "--env-file", "npm.env", "--", "npm", "whoami"],
        "",
    );
    let printed = common::printed(&whoami);
    assert_eq!(leaked(&printed, &c), None, "npm's output holds a value");
    assert!(
        whoami.status.success()
            && String::from_utf8_lossy(&whoami.stdout).contains("import-tester"),
        "npm whoami through ClauLock: {}",
        String::from_utf8_lossy(&printed)
    );
    // The control: npm without ClauLock has no token any more.
    let bare = Command::new("npm")
        .arg("whoami")
        .env("HOME", &lab.user_home)
        .current_dir(&lab.proj)
        .output()
        .unwrap();
    assert!(
        !bare.status.success(),
        "npm without ClauLock still authenticated"
    );
    let log = std::fs::read_to_string(&registry.log).unwrap();
    assert!(log.contains("authorized /-/whoami"), "{log}");
}

#[test]
fn doctor_finds_a_committed_value_and_an_exported_one() {
    let lab = Lab::new("doctor");
    let value = format!("tok_{}", common::random(32));
    lab.ok(&["add", "DEPLOY_TOKEN"], &value);
    let git = |args: &[&str]| lab.git(args);
    git(&["init", "-q"]);
    std::fs::write(lab.proj.join("README.md"), "hello\n").unwrap();
    git(&["add", "README.md"]);
    git(&["commit", "-qm", "readme"]);
    // The control: a clean history and environment.
    let clean = lab.claulock(&["doctor"], "");
    let text = String::from_utf8_lossy(&clean.stdout).into_owned();
    assert!(text.contains("no vault value in plaintext under"), "{text}");

    std::fs::write(lab.proj.join("deploy.sh"), format!("TOKEN={value}\n")).unwrap();
    git(&["add", "deploy.sh"]);
    git(&["commit", "-qm", "deploy"]);
    std::fs::write(lab.proj.join("deploy.sh"), "TOKEN=$1\n").unwrap();
    git(&["commit", "-qam", "no token"]);
    let out = lab
        .command(&["doctor"])
        .env("OLD_DEPLOY_TOKEN", &value)
        .output()
        .unwrap();
    let printed = common::printed(&out);
    assert_eq!(
        find_leak(&printed, value.as_bytes()),
        None,
        "doctor printed the value"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("the git history of")
            && text.contains("holds the value of DEPLOY_TOKEN")
            && text.contains("claulock rotate DEPLOY_TOKEN"),
        "{text}"
    );
    assert!(
        text.contains("this shell exports OLD_DEPLOY_TOKEN holding the value of DEPLOY_TOKEN"),
        "{text}"
    );
    assert!(!out.status.success(), "doctor exits 1 with things to fix");
    // The same as JSON, for scripts.
    let out = lab
        .command(&["doctor", "--json"])
        .env("OLD_DEPLOY_TOKEN", &value)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(find_leak(&out.stdout, value.as_bytes()), None);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert!(report["checks"].as_array().unwrap().iter().any(|c| {
        c["ok"] == false
            && c["what"]
                .as_str()
                .unwrap()
                .contains("this shell exports OLD_DEPLOY_TOKEN")
    }));
}

fn base64(s: &str) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(A[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `exec --env-file`: an entry whose value is a placeholder reaches the
/// program like a placeholder in the command (checked, delivered, its
/// output scrubbed); literal entries reach it as they are; a later file
/// wins; the project's `.claulock.toml` names its env files for
/// `exec -- PROGRAM`; and the refusals say what to do.
#[test]
fn env_files_deliver_their_placeholders_to_one_program() {
    let lab = Lab::new("envfile");
    let value = format!("tok_{}", common::random(32));
    lab.ok(&["add", "APP_TOKEN"], &value);
    lab.write(
        "app.py",
        "import os\nt = os.environ['APP_TOKEN']\nprint('len', len(t), 'mode', os.environ['MODE'])\nprint('leak:', t)\n",
        0o644,
    );
    lab.write(".env", "MODE=dev\nAPP_TOKEN={{APP_TOKEN}}\n", 0o644);
    lab.write("prod.env", "MODE=prod\n", 0o644);
    let out = lab.claulock(
        &[
            "exec",
            "--env-file",
            ".env",
            "--env-file",
            "prod.env",
            "--",
            "python3",
            "app.py",
        ],
        "",
    );
    let printed = common::printed(&out);
    assert_eq!(
        find_leak(&printed, value.as_bytes()),
        None,
        "exec printed the value"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "exec --env-file failed");
    assert!(
        text.contains(&format!("len {} mode prod", value.len())),
        "the program got the value and the later file's MODE: {text}"
    );
    assert!(text.contains("leak: [REDACTED:APP_TOKEN]"), "{text}");

    // The policy still decides where the value goes: `env` would print it.
    let out = lab.claulock(&["exec", "--env-file", ".env", "--", "env"], "");
    assert_eq!(out.status.code(), Some(125), "env got the value");
    assert_eq!(find_leak(&out.stdout, value.as_bytes()), None);
    // A shell command cannot take an env file: its assignments would reach
    // the first program only.
    let out = lab.claulock(&["exec", "--env-file", ".env", "-c", "python3 app.py"], "");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("-- PROGRAM ARGS"));

    // The project's env files, from its `.claulock.toml`.
    lab.write(".claulock.toml", "env_files = [\".env\"]\n", 0o644);
    let out = lab.claulock(&["exec", "--", "python3", "app.py"], "");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(find_leak(&out.stdout, value.as_bytes()), None);
    assert!(text.contains("mode dev"), "the project's env file: {text}");
}

/// `import --env`: this environment's credential-shaped variables, and
/// only those.
#[test]
fn import_env_takes_credential_shaped_variables() {
    let lab = Lab::new("env");
    let value = format!("ghp_{}", common::random(36));
    let out = lab
        .command(&["import", "--env", "--yes"])
        .env("MY_GITHUB_PAT", &value)
        .env("EDITOR", "vim")
        .output()
        .unwrap();
    let printed = common::printed(&out);
    assert_eq!(
        find_leak(&printed, value.as_bytes()),
        None,
        "import printed the value"
    );
    assert!(out.status.success());
    assert_eq!(lab.names(), ["MY_GITHUB_PAT"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("remove their `export` lines"), "{text}");
}

/// The tricks that got a value out of a plaintext `.env` (issue 13), run
/// as the model would run them, in bash, with no ClauLock at all: in a
/// project whose `.env` was imported, none finds any form of the value;
/// the control, the same project before the import, shows that the
/// tricks do get it out (so the check can fail).
#[test]
fn the_file_tricks_find_nothing_once_the_env_file_is_imported() {
    let lab = Lab::new("tricks");
    let value = format!("ghp_{}", common::random(36));
    lab.write(".env", &format!("PORT=3000\nGITHUB_TOKEN={value}\n"), 0o600);
    let git = |args: &[&str]| lab.git(args);
    git(&["init", "-q"]);
    let tricks: &[(&str, &str)] = &[
        ("glob", "tr a-z A-Z < .en?"),
        ("quotes", "tr a-z A-Z < .e\"\"nv"),
        ("git show", "git show HEAD:.env"),
        (
            "python builds the name",
            "python3 -c \"print(open('.e'+'nv').read()[::-1])\"",
        ),
        ("tar | base64", "tar c .env 2>/dev/null | base64"),
        ("od -tu1", "od -An -tu1 .env"),
        ("xxd -b", "xxd -b .env"),
        ("grep -o . | nl", "grep -o . .env | nl"),
        ("head and tail", "head -c 40 .env; echo; tail -c 30 .env"),
        ("ansi after each byte", "sed 's/./&\\x1b[0m/g' .env"),
        (
            "zero-width after each byte",
            "sed 's/./&\\xe2\\x80\\x8b/g' .env",
        ),
        (
            "a copy past 16 MiB",
            "(head -c 17000000 /dev/zero; cat .env) > big.bin; tail -c 80 big.bin | od -An -c",
        ),
    ];
    let run = |command: &str| -> Vec<u8> {
        let out = Command::new("bash")
            .args(["-c", command])
            .current_dir(&lab.proj)
            .env("HOME", &lab.user_home)
            .output()
            .unwrap();
        let mut bytes = out.stdout;
        bytes.extend_from_slice(&out.stderr);
        bytes
    };
    let leaks = |out: &[u8]| -> bool {
        views(out)
            .iter()
            .any(|v| find_leak(v, value.as_bytes()).is_some())
            || value.as_bytes()[4..]
                .windows(12)
                .any(|w| out.windows(12).any(|o| o == w))
    };

    // The control: before the import, every trick gets the value out.
    git(&["add", ".env"]);
    git(&["commit", "-qm", "env"]);
    for (name, command) in tricks {
        assert!(
            leaks(&run(command)),
            "control: `{name}` did not get the value out, so the check could not fail"
        );
    }

    // The import, and a new history without the value (a real project
    // with the value committed must revoke and rotate it: `doctor` says).
    lab.ok(&["import", "--rewrite", "--yes", ".env"], "");
    std::fs::remove_dir_all(lab.proj.join(".git")).unwrap();
    git(&["init", "-q"]);
    git(&["add", ".env"]);
    git(&["commit", "-qm", "env with placeholders"]);
    for (name, command) in tricks {
        assert!(
            !leaks(&run(command)),
            "`{name}` found the value after the import"
        );
    }
    let _ = std::fs::remove_file(lab.proj.join("big.bin"));
}

/// `out` as the tricks above encode it, decoded: invisible bytes and ANSI
/// escapes dropped, numbers read as decimal bytes, 8-digit groups as
/// binary bytes, each line's last field (one character per line), and
/// without spaces and line breaks (`od -c`).
fn views(out: &[u8]) -> Vec<Vec<u8>> {
    let text = String::from_utf8_lossy(out);
    let mut visible = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ ... final byte
            if chars.peek() == Some(&'[') {
                chars.next();
                for d in chars.by_ref() {
                    if ('@'..='~').contains(&d) {
                        break;
                    }
                }
            }
            continue;
        }
        if !matches!(c, '\u{200b}'..='\u{200f}' | '\u{2060}' | '\u{feff}') {
            visible.push(c);
        }
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    let decimal: Vec<u8> = words.iter().filter_map(|w| w.parse::<u8>().ok()).collect();
    let binary: Vec<u8> = words
        .iter()
        .filter(|w| w.len() == 8 && w.bytes().all(|b| b == b'0' || b == b'1'))
        .filter_map(|w| u8::from_str_radix(w, 2).ok())
        .collect();
    let last_fields: Vec<u8> = text
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .flat_map(|f| f.bytes())
        .collect();
    let unspaced: Vec<u8> = out
        .iter()
        .copied()
        .filter(|b| !b" \n".contains(b))
        .collect();
    vec![
        out.to_vec(),
        visible.into_bytes(),
        decimal,
        binary,
        last_fields,
        unspaced,
    ]
}
