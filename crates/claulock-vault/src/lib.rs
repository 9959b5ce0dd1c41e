//! claulock-vault: the encrypted vault file format.
//!
//! **Not implemented yet.** This crate is reserved in the workspace so that
//! the architecture is visible from the start; it exports nothing. The vault
//! is specified in the project's issue tracker ("claulock-vault and the agent
//! daemon").
#![forbid(unsafe_code)]
