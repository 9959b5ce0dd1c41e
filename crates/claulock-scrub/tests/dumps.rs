//! Dumps, as the real tools print them: `xxd`, `hexdump`, `od`, Python,
//! `grep -o .`, `nl`, `fold`, `sed`, `printf` on a canary `.env`; and
//! `curl --trace` as it lays out a response. Each tool that is missing is
//! skipped (and said so); the canary is never printed.

use std::process::Command;

use claulock_scrub::Scrubber;
use claulock_scrub::testdata::{Rng, find_leak};

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn canary(seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut v = b"ghp_".to_vec();
    v.extend((0..36).map(|_| ALNUM[rng.below(ALNUM.len())]));
    v
}

/// Whether `out` still spells 12 bytes of `value` anywhere: as they are
/// (a gutter), or read back from hex pairs, numbers or single characters
/// (a naive reader, independent of the crate's decoders).
fn spells_part(out: &[u8], value: &[u8]) -> Option<&'static str> {
    let text = String::from_utf8_lossy(out);
    let tokens: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']')
        .filter(|t| !t.is_empty())
        .collect();
    let mut readings: Vec<(&'static str, Vec<u8>)> = vec![("as is", out.to_vec())];
    let hex: Vec<u8> = tokens
        .iter()
        .filter(|t| t.len() % 2 == 0 && t.len() <= 8 && t.chars().all(|c| c.is_ascii_hexdigit()))
        .flat_map(|t| {
            (0..t.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&t[i..i + 2], 16).unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    readings.push(("hex pairs", hex));
    let numbers: Vec<u8> = tokens
        .iter()
        .filter_map(|t| {
            t.strip_prefix("0x")
                .map_or(t.parse().ok(), |h| u8::from_str_radix(h, 16).ok())
        })
        .collect();
    readings.push(("numbers", numbers));
    let chars: Vec<u8> = tokens
        .iter()
        .filter(|t| t.len() == 1)
        .map(|t| t.as_bytes()[0])
        .collect();
    readings.push(("characters", chars));
    let bits: Vec<u8> = tokens
        .iter()
        .filter(|t| t.len() == 8 && t.chars().all(|c| c == '0' || c == '1'))
        .map(|t| u8::from_str_radix(t, 2).unwrap())
        .collect();
    readings.push(("bits", bits));
    for (name, r) in &readings {
        for w in value.windows(12).step_by(4) {
            if r.windows(12).any(|x| x == w) {
                return Some(name);
            }
        }
    }
    None
}

fn run(shell: &str, dir: &std::path::Path) -> Option<Vec<u8>> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(shell)
        .current_dir(dir)
        .output()
        .ok()?;
    (out.status.success() && !out.stdout.is_empty()).then_some(out.stdout)
}

#[test]
fn real_tools_are_caught() {
    let value = canary(11);
    let s = Scrubber::builder().secret("GH", &value).build().unwrap();
    let dir = std::env::temp_dir().join(format!("claulock-dumps-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let env = [
        b"# local settings\nAPI_URL=https://api.example.com\nGITHUB_TOKEN=".as_slice(),
        &value,
        b"\nDEBUG=1\n",
    ]
    .concat();
    std::fs::write(dir.join(".env"), &env).unwrap();
    let commands = [
        "xxd .env",
        "xxd -g1 .env",
        "xxd -p .env",
        "xxd -b .env",
        "xxd -i .env",
        "od -c .env",
        "od -An -tx1 .env",
        "od -tx1 .env",
        "od -tu1 .env",
        "od -An -tu1 .env",
        "hexdump -C .env",
        "python3 -c 'print(list(open(\".env\",\"rb\").read()))'",
        "grep -o . .env",
        "grep -o . .env | nl",
        "grep -o . .env | cat -n",
        "fold -w1 .env",
        "sed 's/./&\\n/g' .env",
        "sed 's/./& /g' .env",
        "printf '%d ' $(od -An -tu1 .env)",
    ];
    let mut failures = Vec::new();
    let mut ran = 0;
    for cmd in commands {
        let Some(out) = run(cmd, &dir) else {
            eprintln!("skipped (tool missing): {cmd}");
            continue;
        };
        ran += 1;
        assert!(
            spells_part(&out, &value).is_some() || find_leak(&out, &value).is_some(),
            "{cmd}: the tool's output does not spell the value"
        );
        let scrubbed = s.scrub(&out);
        if let Some(how) = spells_part(&scrubbed, &value).or(find_leak(&scrubbed, &value)) {
            failures.push(format!("{cmd}: leaked ({how})"));
        }
        claulock_scrub::fuzzing::check(&s, &out, &[1, 13, 100]);
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(ran > 0, "no tool ran");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `curl --trace`'s layout (as curl 8 writes a received body).
#[test]
fn curl_trace_is_caught() {
    let value = canary(12);
    let s = Scrubber::builder().secret("GH", &value).build().unwrap();
    let body = [b"{\"token\":\"".as_slice(), &value, b"\"}\n"].concat();
    let mut trace = format!("<= Recv data, {} bytes (0x{:x})\n", body.len(), body.len());
    for (i, line) in body.chunks(16).enumerate() {
        let hex: Vec<String> = line.iter().map(|b| format!("{b:02x}")).collect();
        let ascii: String = line
            .iter()
            .map(|&b| {
                if (0x20..0x7f).contains(&b) {
                    b as char
                } else {
                    '.'
                }
            })
            .collect();
        trace.push_str(&format!("{:04x}: {:<48}{ascii}\n", i * 16, hex.join(" ")));
    }
    trace.push_str("== Info: Connection #0 to host left intact\n");
    let out = s.scrub(trace.as_bytes());
    assert!(spells_part(&out, &value).is_none(), "curl --trace leaked");
    // `--trace-ascii`: the text after a 4-digit offset, 64 bytes a line.
    let mut ascii = String::from("<= Recv data, 53 bytes (0x35)\n");
    for (i, line) in body.chunks(20).enumerate() {
        ascii.push_str(&format!(
            "{:04x}: {}\n",
            i * 20,
            String::from_utf8_lossy(line).trim_end()
        ));
    }
    let out = s.scrub(ascii.as_bytes());
    assert!(
        spells_part(&out, &value).is_none(),
        "curl --trace-ascii leaked"
    );
}

/// Markers name the layout.
#[test]
fn markers_name_the_dump() {
    let value = canary(13);
    let s = Scrubber::builder().secret("GH", &value).build().unwrap();
    let list = format!("{:?}\n", value);
    let out = String::from_utf8(s.scrub(list.as_bytes())).unwrap();
    assert_eq!(out, "[[REDACTED:GH:byte-list]]\n");
    let lines: String = value.iter().map(|&b| format!("{}\n", b as char)).collect();
    let out = String::from_utf8(s.scrub(lines.as_bytes())).unwrap();
    assert_eq!(
        out, "[REDACTED:GH]\n",
        "code characters: the line-break view wins"
    );
    let spaced: String = value.iter().map(|&b| format!("{} ", b as char)).collect();
    let out = String::from_utf8(s.scrub(spaced.as_bytes())).unwrap();
    assert_eq!(out, "[REDACTED:GH:chars] ");
}
