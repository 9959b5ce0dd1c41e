//! Inputs the fuzzers once crashed on, replayed through the fuzz logic.

#[test]
fn fuzz_regressions() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        // Each file is named after its target.
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("decide") {
            claulock_core::fuzzing::decide_command(&data);
        } else if name.starts_with("grammar") {
            claulock_core::fuzzing::grammar(&data);
        } else if name.starts_with("policy_file") {
            claulock_core::fuzzing::policy_file(&data);
        } else {
            panic!("{name}: name a regression file after its fuzz target");
        }
        n += 1;
    }
    assert!(n > 0);
}

#[test]
fn export_without_a_value() {
    // Minimised from tests/regressions/decide-1.
    claulock_core::fuzzing::decide_command(b"readonly GH_HOST; export HTTPS_PROXY; curl x");
}

#[test]
fn multibyte_character_after_a_backslash_in_ansi_c_quotes() {
    // Minimised from tests/regressions/decide-2.
    claulock_core::fuzzing::decide_command("mytool $'\\\u{ad}' {{A}}".as_bytes());
    claulock_core::fuzzing::decide_command("mytool $'\\c\u{e9}x' {{A}}".as_bytes());
}
