//! claulock-scrub: the streaming scrubber.
//!
//! **Not implemented yet.** This crate is reserved in the workspace so that
//! the architecture is visible from the start; it exports nothing. The
//! scrubber is specified in the project's issue tracker ("claulock-scrub: a
//! streaming scrubber that catches a secret in any common form").
#![forbid(unsafe_code)]
