//! The integration tests of claulock-scrub, in one binary.

// A failing test should stop with a message; helpers may unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod dumps;
mod forms;
mod normalise;
mod oracle;
mod pending;
mod properties;
mod streams;
