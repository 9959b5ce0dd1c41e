//! The integration tests of claulock-vault.

// A failing test should stop with a message; helpers may unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use claulock_vault::{
    Delivery, KdfParams, Metadata, OpenError, Random, Secret, SecretValue, Stage, Vault,
};
use proptest::prelude::*;

/// Deterministic bytes for tests (never for real vaults).
struct Counter(u64);
impl Random for Counter {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            *b = (self.0 >> 33) as u8;
        }
    }
}

const PASS: &[u8] = b"correct horse battery staple";

#[test]
fn committed_vectors() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "vault") {
            continue;
        }
        n += 1;
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        let expect = std::fs::read_to_string(path.with_extension("expect")).unwrap();
        let mut words = expect.split_whitespace();
        let stage = words.next().unwrap();
        let pass: &[u8] = if expect.contains("passphrase=wrong") {
            b"not it"
        } else {
            PASS
        };
        let result = Vault::open(&bytes, pass);
        match (stage, &result) {
            ("ok", Ok(v)) => {
                let names: Vec<_> = v.secrets().map(|s| s.name.as_str()).collect();
                assert_eq!(names, words.collect::<Vec<_>>(), "{name}");
                let npm = v.get("NPM_TOKEN").unwrap();
                assert_eq!(npm.value.expose(), b"npm_ROTATEDrotatedROTATED0123456789");
                assert_eq!(npm.superseded.len(), 1);
                assert_eq!(
                    v.get("GITHUB_TOKEN").unwrap().meta.allow_hosts,
                    ["api.github.com"]
                );
            }
            (want, Err(e)) => {
                let got = match e.stage() {
                    Stage::Header => "header",
                    Stage::KdfBounds => "kdf-bounds",
                    Stage::Decryption => "decryption",
                    _ => "other",
                };
                assert_eq!(got, want, "{name}: {e}");
                if expect.contains("version") {
                    assert!(e.to_string().contains("upgrade claulock"), "{e}");
                }
            }
            (want, Ok(_)) => panic!("{name}: opened, but {want} should fail"),
        }
    }
    assert!(n >= 15, "only {n} vectors");
}

#[test]
fn wrong_passphrase_and_tampering_look_the_same() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let ok = std::fs::read(dir.join("ok.vault")).unwrap();
    let tampered = std::fs::read(dir.join("flipped-body-byte.vault")).unwrap();
    let a = Vault::open(&ok, b"wrong").unwrap_err();
    let b = Vault::open(&tampered, PASS).unwrap_err();
    assert_eq!(a, b);
    assert_eq!(
        a.to_string(),
        "cannot open the vault: wrong passphrase, or the file was modified"
    );
}

fn secret(name: &str, value: &[u8]) -> Secret {
    Secret {
        name: name.into(),
        value: SecretValue::new(value.to_vec()),
        meta: Metadata {
            created: 1,
            tags: vec!["tag-canary".into()],
            allow_hosts: vec!["host-canary.example".into()],
            ..Metadata::default()
        },
        superseded: vec![],
    }
}

#[test]
fn the_file_shows_no_name_value_or_metadata() {
    let mut rng = Counter(7);
    let mut v = Vault::create(PASS, KdfParams::MIN, &mut rng).unwrap();
    v.insert(secret("NAME_CANARY", b"value-canary-0123456789"), &mut rng)
        .unwrap();
    let bytes = v.to_bytes(&mut rng);
    for needle in [
        &b"NAME_CANARY"[..],
        b"value-canary",
        b"tag-canary",
        b"host-canary",
    ] {
        assert!(!bytes.windows(needle.len()).any(|w| w == needle));
    }
    // Lengths are padded: one more short secret does not change the size.
    let before = bytes.len();
    v.insert(secret("B", b"short-value-1"), &mut rng).unwrap();
    assert_eq!(v.to_bytes(&mut rng).len(), before);
}

#[test]
fn rotate_keeps_superseded_and_remove_removes() {
    let mut rng = Counter(9);
    let mut v = Vault::create(PASS, KdfParams::MIN, &mut rng).unwrap();
    v.insert(secret("T", b"first-value-0123"), &mut rng)
        .unwrap();
    v.rotate("T", SecretValue::new(b"second-value-0123".to_vec()), 100)
        .unwrap();
    let v2 = Vault::open(&v.to_bytes(&mut rng), PASS).unwrap();
    let t = v2.get("T").unwrap();
    assert_eq!(t.value.expose(), b"second-value-0123");
    assert_eq!(t.superseded[0].value.expose(), b"first-value-0123");
    assert_eq!(
        (t.superseded[0].superseded_at, t.meta.rotated),
        (100, Some(100))
    );
    v.remove("T").unwrap();
    let v3 = Vault::open(&v.to_bytes(&mut rng), PASS).unwrap();
    assert!(v3.get("T").is_none());
    assert_eq!(
        v.remove("T").unwrap_err().to_string(),
        "there is no secret named T; `claulock list` shows the names"
    );
    assert!(v.insert(secret("9BAD", b"xxxxxxxxxx"), &mut rng).is_err());
}

#[test]
fn delivery_defaults_by_hosts_and_survives_a_round_trip() {
    let mut rng = Counter(11);
    let mut v = Vault::create(PASS, KdfParams::MIN, &mut rng).unwrap();
    let mut set = secret("SET", b"set-value-0123456");
    set.meta.deliver = Some(Delivery::Env);
    set.meta.allow_in_body = true;
    let mut local = secret("LOCAL", b"local-value-012345");
    local.meta.allow_hosts.clear();
    v.insert(set, &mut rng).unwrap();
    v.insert(local, &mut rng).unwrap();
    v.insert(secret("WEB", b"web-value-0123456"), &mut rng)
        .unwrap();
    let back = Vault::open(&v.to_bytes(&mut rng), PASS).unwrap();
    let meta = |n: &str| back.get(n).unwrap().meta.clone();
    assert_eq!(meta("SET").delivery(), Delivery::Env, "set explicitly");
    assert!(meta("SET").allow_in_body);
    assert_eq!(meta("LOCAL").delivery(), Delivery::Env, "no hosts: env");
    assert_eq!(meta("WEB").delivery(), Delivery::Proxy, "hosts: proxy");
    assert!(!meta("WEB").allow_in_body);
}

#[test]
fn change_passphrase_rewraps_the_key() {
    let mut rng = Counter(3);
    let mut v = Vault::create(PASS, KdfParams::MIN, &mut rng).unwrap();
    v.insert(secret("T", b"value-0123456789"), &mut rng)
        .unwrap();
    v.change_passphrase(b"new passphrase", KdfParams::MIN, &mut rng)
        .unwrap();
    let bytes = v.to_bytes(&mut rng);
    assert_eq!(
        Vault::open(&bytes, PASS).unwrap_err().stage(),
        Stage::Decryption
    );
    assert_eq!(
        Vault::open(&bytes, b"new passphrase")
            .unwrap()
            .get("T")
            .unwrap()
            .value
            .expose(),
        b"value-0123456789"
    );
}

#[test]
fn debug_output_holds_no_value() {
    let mut rng = Counter(5);
    let mut v = Vault::create(PASS, KdfParams::MIN, &mut rng).unwrap();
    v.insert(secret("T", b"debug-canary-0123"), &mut rng)
        .unwrap();
    let shown = format!("{v:?} {:?}", v.get("T").unwrap());
    assert!(!shown.contains("debug-canary"), "{shown}");
}

#[test]
fn kdf_bounds_are_checked_before_argon2() {
    let mut rng = Counter(1);
    let huge = KdfParams {
        m_kib: u32::MAX,
        t: 1,
        p: 1,
    };
    let e: OpenError = Vault::create(PASS, huge, &mut rng).unwrap_err();
    assert_eq!(e.stage(), Stage::KdfBounds);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn round_trip(
        secrets in prop::collection::vec(("[A-Z_][A-Z0-9_]{0,20}", prop::collection::vec(any::<u8>(), 1..200), prop::collection::vec("[ -~]{0,20}", 0..4), any::<Option<i64>>()), 0..6),
        seed in any::<u64>(),
    ) {
        let mut rng = Counter(seed);
        let mut v = Vault::create(PASS, KdfParams::MIN, &mut rng).unwrap();
        let mut names = Vec::new();
        for (name, value, tags, expires) in &secrets {
            let s = Secret {
                name: name.clone(),
                value: SecretValue::new(value.clone()),
                meta: Metadata { created: 5, tags: tags.clone(), allow_programs: tags.clone(), expires: *expires, ..Metadata::default() },
                superseded: vec![],
            };
            if v.insert(s, &mut rng).is_ok() {
                names.push(name.clone());
            }
        }
        let back = Vault::open(&v.to_bytes(&mut rng), PASS).unwrap();
        prop_assert_eq!(back.secrets().map(|s| s.name.clone()).collect::<Vec<_>>(), names);
        for s in v.secrets() {
            prop_assert_eq!(back.get(&s.name).unwrap(), s);
        }
    }

    #[test]
    fn opening_garbage_never_panics(data in prop::collection::vec(any::<u8>(), 0..400)) {
        let mut d = claulock_vault::MAGIC.to_vec();
        d.extend_from_slice(&data);
        claulock_vault::fuzzing::open(&d);
    }
}

/// A vault with a source and a secret read from it round-trips; the source
/// is no secret (no name lookup finds it, whatever its name), and the
/// committed vectors of older vaults still open (`committed_vectors`).
#[test]
fn sources_and_remote_values_round_trip_and_stay_apart() {
    use claulock_vault::{Remote, Source, SourceKind};
    let mut rng = Counter(7);
    let mut v = Vault::create(PASS, KdfParams::MIN, &mut rng).unwrap();
    let token = b"s.team-token-canary-0123456789".to_vec();
    v.insert_source(
        Source {
            name: "TEAM".into(),
            kind: SourceKind::OpenBao,
            url: "https://bao.example.com:8200".into(),
            namespace: Some("eng".into()),
            ca_pem: Some("-----BEGIN CERTIFICATE-----\n...".into()),
            token: SecretValue::new(token.clone()),
            approle_role_id: None,
            created: 9,
        },
        &mut rng,
    )
    .unwrap();
    let remote = Remote {
        source: "TEAM".into(),
        path: "secret/app".into(),
        field: "password".into(),
        ttl_secs: 300,
    };
    v.insert(
        Secret {
            name: "DB_PASSWORD".into(),
            value: SecretValue::new(Vec::new()),
            meta: Metadata {
                created: 10,
                remote: Some(remote.clone()),
                ..Metadata::default()
            },
            superseded: vec![],
        },
        &mut rng,
    )
    .unwrap();
    // A source and a secret may share a name: they are looked up apart.
    assert!(
        v.insert_source(
            Source {
                name: "DB_PASSWORD".into(),
                kind: SourceKind::Vault,
                url: "https://vault.example.com".into(),
                namespace: None,
                ca_pem: None,
                token: SecretValue::new(b"t2-0123456789".to_vec()),
                approle_role_id: None,
                created: 11,
            },
            &mut rng,
        )
        .is_ok()
    );
    let bytes = v.to_bytes(&mut rng);
    assert!(!bytes.windows(token.len()).any(|w| w == token), "leaked");
    let back = Vault::open(&bytes, PASS).unwrap();
    assert_eq!(back.secrets().count(), 1);
    assert_eq!(back.get("DB_PASSWORD").unwrap().meta.remote, Some(remote));
    assert!(back.get("TEAM").is_none());
    let team = back.source("TEAM").unwrap();
    assert_eq!(team.token.expose(), &token[..]);
    assert_eq!(team.namespace.as_deref(), Some("eng"));
    assert_eq!(team.kind, SourceKind::OpenBao);
    assert_eq!(back.sources().count(), 2);
    assert!(!format!("{team:?}").contains("canary"), "leaked");
    let mut back = back;
    back.remove_source("TEAM").unwrap();
    assert!(back.source("TEAM").is_none());
    assert_eq!(back.secrets().count(), 1);
}
