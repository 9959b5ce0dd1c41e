//! The operating system's random generator, for the vault.

/// Random bytes from `getrandom(2)`.
pub struct OsRandom;

impl claulock_vault::Random for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        let mut done = 0;
        while done < buf.len() {
            match rustix::rand::getrandom(&mut buf[done..], rustix::rand::GetRandomFlags::empty()) {
                Ok(n) => done += n,
                Err(rustix::io::Errno::INTR) => {}
                // Without randomness no key or nonce is safe: stop at once.
                Err(e) => {
                    let _ = std::io::Write::write_all(
                        &mut std::io::stderr(),
                        format!("claulock: the OS random generator failed ({e}); stopping\n")
                            .as_bytes(),
                    );
                    std::process::abort();
                }
            }
        }
    }
}
