//! Times one Argon2id derivation at the given cost, to calibrate
//! `KdfParams::DEFAULT` on a machine: `kdf_cost M_MIB T`.

// An example program reports on the terminal and stops on bad arguments.
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use claulock_vault::{KdfParams, Random, Vault};

struct Counter(u8);
impl Random for Counter {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u32>().unwrap());
    let m = args.next().unwrap_or(256);
    let t = args.next().unwrap_or(3);
    let kdf = KdfParams {
        m_kib: m * 1024,
        t,
        p: 1,
    };
    let bytes = Vault::create(b"pw", kdf, &mut Counter(0))
        .unwrap()
        .to_bytes(&mut Counter(9));
    let start = std::time::Instant::now();
    Vault::open(&bytes, b"pw").unwrap();
    println!(
        "m={m} MiB t={t}: unlock in {:.3} s",
        start.elapsed().as_secs_f64()
    );
}
