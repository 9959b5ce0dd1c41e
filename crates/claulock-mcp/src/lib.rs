//! claulock-mcp: the MCP server adapter.
//!
//! **Not implemented yet.** This crate is reserved in the workspace so that
//! the architecture is visible from the start; it exports nothing. It is
//! specified in the project's issue tracker ("claulock-mcp").
#![forbid(unsafe_code)]
