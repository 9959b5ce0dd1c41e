#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| claulock_scrub::fuzzing::scrub_structured(data));
