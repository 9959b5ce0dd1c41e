//! Writes the committed test vectors into a directory, deterministically
//! (a counter stands in for the random generator: test use only).
//!
//! `cargo run -p claulock-vault --example make_vectors -- crates/claulock-vault/tests/vectors`

// An example program stops on bad arguments.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use claulock_vault::{KdfParams, Metadata, Random, Secret, SecretValue, Vault};

/// Deterministic bytes. Never use outside test vectors.
struct Counter(u32);
impl Random for Counter {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self.0.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            *b = (self.0 >> 16) as u8;
        }
    }
}

fn main() {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).expect("usage: make_vectors DIR"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = Counter(1);
    let mut v = Vault::create(b"correct horse battery staple", KdfParams::MIN, &mut rng).unwrap();
    v.insert(
        Secret {
            name: "GITHUB_TOKEN".into(),
            value: SecretValue::new(b"ghp_VECTORvectorVECTORvector0123456789".to_vec()),
            meta: Metadata {
                created: 1_764_288_000,
                tags: vec!["ci".into()],
                allow_hosts: vec!["api.github.com".into()],
                allow_programs: vec!["curl".into(), "gh".into()],
                ..Metadata::default()
            },
            superseded: vec![],
        },
        &mut rng,
    )
    .unwrap();
    v.insert(
        Secret {
            name: "NPM_TOKEN".into(),
            value: SecretValue::new(b"npm_VECTORvectorVECTORvector0123456789".to_vec()),
            meta: Metadata {
                created: 1_764_288_001,
                expires: Some(1_900_000_000),
                ..Metadata::default()
            },
            superseded: vec![],
        },
        &mut rng,
    )
    .unwrap();
    v.rotate(
        "NPM_TOKEN",
        SecretValue::new(b"npm_ROTATEDrotatedROTATED0123456789".to_vec()),
        1_764_288_002,
    )
    .unwrap();
    let ok = v.to_bytes(&mut rng);
    let magic = claulock_vault::MAGIC.len();
    let write = |name: &str, bytes: &[u8], expect: &str| {
        std::fs::write(dir.join(format!("{name}.vault")), bytes).unwrap();
        std::fs::write(dir.join(format!("{name}.expect")), format!("{expect}\n")).unwrap();
    };
    let with = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = ok.clone();
        f(&mut b);
        b
    };
    write("ok", &ok, "ok GITHUB_TOKEN NPM_TOKEN");
    write("wrong-passphrase", &ok, "decryption passphrase=wrong");
    write("not-a-vault", b"hello, world\n", "header");
    write(
        "unknown-version",
        &with(&|b| b[15] = b'9'),
        "header version",
    );
    write("truncated-header", &ok[..magic + 40], "header");
    write("unknown-kdf", &with(&|b| b[magic] = 7), "header");
    write(
        "kdf-memory-too-large",
        &with(&|b| b[magic + 1..magic + 5].copy_from_slice(&(64u32 << 20).to_le_bytes())),
        "kdf-bounds",
    );
    write(
        "kdf-zero-passes",
        &with(&|b| b[magic + 5..magic + 9].copy_from_slice(&0u32.to_le_bytes())),
        "kdf-bounds",
    );
    write(
        "kdf-cheaper-than-written",
        &with(&|b| b[magic + 5..magic + 9].copy_from_slice(&2u32.to_le_bytes())),
        "decryption",
    );
    write("flipped-salt", &with(&|b| b[magic + 13] ^= 1), "decryption");
    write(
        "flipped-vault-id",
        &with(&|b| b[magic + 29] ^= 1),
        "decryption",
    );
    write(
        "flipped-wrapped-key",
        &with(&|b| b[magic + 70] ^= 1),
        "decryption",
    );
    write(
        "flipped-body-nonce",
        &with(&|b| b[magic + 110] ^= 1),
        "decryption",
    );
    write(
        "flipped-body-byte",
        &with(&|b| {
            let n = b.len();
            b[n - 100] ^= 0x80;
        }),
        "decryption",
    );
    write("truncated-body", &ok[..ok.len() - 1], "decryption");
    write("appended-byte", &with(&|b| b.push(0)), "decryption");
}
