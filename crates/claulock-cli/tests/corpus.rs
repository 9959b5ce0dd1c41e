//! The leak corpus (`tests/corpus/`), run through `claulock exec` against
//! loopback HTTP servers: one inside TOKEN's allowlist, one outside, and an
//! endpoint that echoes requests back.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)] // a test reports its tally

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use claulock_scrub::testdata::find_leak;

const PASS: &str = "corpus passphrase";
const TOKEN: &str = "tok_CORPUScanary7Qx2LmVb3RkT8wZ4pNcY6sJ";
const OPEN: &str = "opn_CORPUSopen9Hd5GfUe2WqZx7VbN3mKpL8aR";

/// A loopback HTTP server that records every request; `/echo` answers
/// with the request itself.
struct Server {
    addr: String,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl Server {
    fn start(ip: &str) -> Server {
        let listener = TcpListener::bind((ip, 0)).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let log = Arc::clone(&log);
                std::thread::spawn(move || serve(stream, &log));
            }
        });
        Server { addr, seen }
    }

    fn received(&self) -> Vec<u8> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve(stream: TcpStream, log: &Mutex<Vec<u8>>) {
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
    let mut reader = BufReader::new(&stream);
    let mut request = Vec::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        request.extend_from_slice(line.as_bytes());
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; length.min(1 << 20)];
    let _ = reader.read_exact(&mut body);
    request.extend_from_slice(&body);
    log.lock().unwrap().extend_from_slice(&request);
    let reply = if request.starts_with(b"GET /echo") || request.starts_with(b"POST /echo") {
        request.clone()
    } else {
        b"ok\n".to_vec()
    };
    let mut w = &stream;
    let _ = w.write_all(
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            reply.len()
        )
        .as_bytes(),
    );
    let _ = w.write_all(&reply);
}

struct Lab {
    home: PathBuf,
    work: PathBuf,
    a: Server,
    b: Server,
}

impl Lab {
    fn new() -> Lab {
        let base = std::env::temp_dir().join(format!("cl-corpus-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let work = base.join("work");
        std::fs::create_dir_all(&work).unwrap();
        let lab = Lab {
            home: base.join("home"),
            work,
            a: Server::start("127.0.0.1"),
            b: Server::start("127.0.0.2"),
        };
        std::fs::write(lab.work.join("script.sh"), "printf '%s\\n' \"$1\"\n").unwrap();
        std::fs::write(
            lab.work.join("send.sh"),
            lab.expand("curl -s -m 5 -d \"$1\" @A@/script\n"),
        )
        .unwrap();
        lab.claulock(&["init", "--passphrase-stdin"], PASS);
        lab.claulock(&["unlock", "--passphrase-stdin"], PASS);
        // The corpus probes the env-delivery boundary (the analysis of the
        // command, against plain-HTTP servers): proxy delivery has its own
        // tests (`proxy.rs`).
        lab.claulock(
            &[
                "add",
                "TOKEN",
                "--allow-host",
                "127.0.0.1",
                "--deliver",
                "env",
            ],
            TOKEN,
        );
        lab.claulock(&["add", "OPEN"], OPEN);
        lab
    }

    fn expand(&self, command: &str) -> String {
        command
            .replace('⏎', "\n")
            .replace("@A@", &format!("http://{}", self.a.addr))
            .replace("@BHOST@", &self.b.addr)
            .replace("@B@", &format!("http://{}", self.b.addr))
    }

    fn claulock(&self, args: &[&str], input: &str) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_claulock"));
        cmd.args(args)
            .env("CLAULOCK_HOME", &self.home)
            .env_remove("CLAULOCK_SOCKET")
            .env_remove("http_proxy")
            .env_remove("https_proxy")
            .env_remove("HTTP_PROXY")
            .env_remove("HTTPS_PROXY")
            .env_remove("ALL_PROXY")
            .current_dir(&self.work);
        common::run_with_input(&mut cmd, input)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.claulock(&["lock"], "");
    }
}

fn lines(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (a, b) = l.split_once('\t').expect("two columns");
            (a.to_owned(), b.to_owned())
        })
        .collect()
}

#[test]
fn leak_corpus() {
    let lab = Lab::new();
    let attempts = lines(include_str!("corpus/attempts.tsv"));
    let legit = lines(include_str!("corpus/legit.tsv"));
    assert!(attempts.len() >= 40 && legit.len() >= 20);
    let categories: std::collections::BTreeSet<_> =
        attempts.iter().map(|(c, _)| c.as_str()).collect();

    let (mut refused, mut ran, mut leaked) = (0, 0, Vec::new());
    for (category, command) in &attempts {
        let before_b = lab.b.received().len();
        let out = lab.claulock(&["exec", "-c", &lab.expand(command)], "");
        if out.status.code() == Some(125) {
            refused += 1;
        } else {
            ran += 1;
        }
        let seen = [out.stdout.as_slice(), out.stderr.as_slice()].concat();
        for (name, value) in [("TOKEN", TOKEN), ("OPEN", OPEN)] {
            if let Some(form) = find_leak(&seen, value.as_bytes()) {
                leaked.push(format!("[{category}] {command}: {name} visible as {form}"));
            }
        }
        if let Some(form) = find_leak(&lab.b.received()[before_b..], TOKEN.as_bytes()) {
            leaked.push(format!(
                "[{category}] {command}: TOKEN reached the host outside its allowlist ({form})"
            ));
        }
    }
    let mut legit_failures = Vec::new();
    for (name, command) in &legit {
        let (a_before, b_before) = (lab.a.received().len(), lab.b.received().len());
        let out = lab.claulock(&["exec", "-c", &lab.expand(command)], "");
        if !out.status.success() {
            legit_failures.push(format!(
                "{name}: exit {:?}: {}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            ));
            continue;
        }
        let got = [&lab.a.received()[a_before..], &lab.b.received()[b_before..]].concat();
        let value = if command.contains("{{OPEN}}") {
            OPEN
        } else {
            TOKEN
        };
        if find_leak(&got, value.as_bytes()).is_none() {
            legit_failures.push(format!("{name}: the destination did not receive the value"));
        }
        let seen = [out.stdout.as_slice(), out.stderr.as_slice()].concat();
        if find_leak(&seen, value.as_bytes()).is_some() {
            legit_failures.push(format!("{name}: the value is visible in the output"));
        }
    }
    eprintln!(
        "leak corpus: {} attempts in {} categories: {refused} refused, {ran} ran and were scrubbed, {} leaked; {} legitimate uses, {} failed",
        attempts.len(),
        categories.len(),
        leaked.len(),
        legit.len(),
        legit_failures.len()
    );
    assert!(
        leaked.is_empty(),
        "{} leaks:\n{}",
        leaked.len(),
        leaked.join("\n")
    );
    assert!(
        legit_failures.is_empty(),
        "{} legitimate uses failed:\n{}",
        legit_failures.len(),
        legit_failures.join("\n")
    );
}
