//! The integration tests of claulock-core, in one binary.

// A failing test should stop with a message; helpers may unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bash_roundtrip;
mod grammar;
mod policy_cases;
mod proptests;
mod regressions;
