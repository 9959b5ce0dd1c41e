#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| claulock_vault::fuzzing::open(data));
