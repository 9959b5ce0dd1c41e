//! Every form, as Python's standard library encodes it, is caught, and no
//! decodable trace of the value is left.

use claulock_scrub::{Scrubber, testdata::find_leak};

const SECRETS: &[&[u8]] = &[
    b"ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    "p@ss/w\u{f6}rd \"q\" +tok=\\end".as_bytes(),
    b"-----BEGIN TEST KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEAq7BFUpkGp3\nXQOaQmr8ldjLgKq0zQFdS1lGwKeLkD4VLW1sqJfJx9C0dCmS3x5a8rpT2I\n-----END TEST KEY-----",
];

fn vectors() -> Vec<(String, usize, Vec<u8>)> {
    include_str!("vectors/forms.tsv")
        .lines()
        .map(|line| {
            let mut cols = line.split('\t');
            let name = cols.next().unwrap().to_owned();
            let secret = cols.next().unwrap().parse().unwrap();
            let hex = cols.next().unwrap();
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            (name, secret, bytes)
        })
        .collect()
}

fn scrubber() -> Scrubber {
    let mut b = Scrubber::builder();
    for (i, s) in SECRETS.iter().enumerate() {
        b.secret(format!("S{i}"), s);
    }
    b.build().unwrap()
}

#[test]
fn every_form_is_caught() {
    let s = scrubber();
    let mut failures = Vec::new();
    for (name, secret, input) in vectors() {
        let value = SECRETS[secret];
        let out = s.scrub(&input);
        let marker = format!("[REDACTED:S{secret}");
        if !out.windows(marker.len()).any(|w| w == marker.as_bytes()) {
            failures.push(format!(
                "S{secret} {name}: no marker in {:?}",
                String::from_utf8_lossy(&out)
            ));
        }
        // The PEM armor lines are public; the key's lines are what matter.
        let probes: Vec<&[u8]> = if value.contains(&b'\n') {
            value
                .split(|&b| b == b'\n')
                .filter(|l| !l.starts_with(b"-----"))
                .collect()
        } else {
            vec![value]
        };
        // The vectors must really hold the value, or the test proves nothing.
        assert!(
            probes.iter().any(|p| find_leak(&input, p).is_some()),
            "vector {name} holds no form of S{secret}"
        );
        for probe in probes {
            if let Some(form) = find_leak(&out, probe) {
                failures.push(format!("S{secret} {name}: leaked as {form}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// (input, expected output) for the secret "ghp_16C7e42F292c6912E7710c838347Ae178B4a".
const EXACT: &[(&str, &str)] = &[
    (
        "a ghp_16C7e42F292c6912E7710c838347Ae178B4a b",
        "a [REDACTED:S0] b",
    ),
    (
        "a4B871eA743838c0177E2196c292F24e7C61_phg",
        "[REDACTED:S0:reversed]",
    ),
    (
        "Z2hwXzE2QzdlNDJGMjkyYzY5MTJFNzcxMGM4MzgzNDdBZTE3OEI0YQ==",
        "[REDACTED:S0:base64]",
    ),
    (
        "6768705f313643376534324632393263363931324537373130633833383334374165313738423461",
        "[REDACTED:S0:hex]",
    ),
    (
        "6768705F313643376534324632393263363931324537373130633833383334374165313738423461",
        "[REDACTED:S0:hex]",
    ),
    (
        "ghp_16C7e42F292c6912E7710c838347Ae178B4aghp_16C7e42F292c6912E7710c838347Ae178B4a",
        "[REDACTED:S0]",
    ),
    (
        "no secret here, \u{1f511} and bytes",
        "no secret here, \u{1f511} and bytes",
    ),
];

#[test]
fn exact_markers() {
    let s = scrubber();
    for (input, want) in EXACT {
        let out = s.scrub(input.as_bytes());
        assert_eq!(String::from_utf8_lossy(&out), *want, "input {input:?}");
    }
}
