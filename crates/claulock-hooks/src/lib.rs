//! claulock-hooks: the Claude Code hook adapter.
//!
//! **Not implemented yet.** This crate is reserved in the workspace so that
//! the architecture is visible from the start; it exports nothing. It is
//! specified in the project's issue tracker ("Claude Code integration").
#![forbid(unsafe_code)]
