//! claulock-mcp: an MCP server that lets a model manage secrets it can
//! never read.
//!
//! # No tool returns a value
//!
//! There is no reveal, read or export tool, and no result type has a field
//! that could hold a value, its length, a prefix, a suffix or a hash: look
//! at [`backend`], the only source of data. New values are entered by the
//! human out of band — on a one-time loopback page served by the agent
//! (offered through URL-mode elicitation), or with `claulock add` in a
//! terminal — never through the MCP client: the MCP specification forbids
//! asking for secrets in form elicitation, so a client that offers only
//! forms gets a form that asks for *consent* only, with the page and the
//! command in its message.
//!
//! # Tools
//!
//! | tool | input | output | annotations |
//! |---|---|---|---|
//! | `secret_list` | `tag?` | `{secrets: [SecretInfo]}` | read-only |
//! | `secret_describe` | `name` | `SecretInfo` | read-only |
//! | `secret_check` | `command`, `cwd?` | `{allowed, refusals}` | read-only |
//! | `secret_tag` | `name`, `add?`, `remove?` | `SecretInfo` | idempotent, not destructive |
//! | `secret_request` | `name`, `allow_hosts?`, `allow_programs?`, `tags?` | `EntryOutcome` | not destructive |
//! | `secret_rotate` | `name` | `EntryOutcome` | destructive (replaces the value) |
//! | `secret_audit_log` | `secret?`, `action?`, `limit?` | `{events: [AuditEvent]}` | read-only |
//! | `secret_status` | | `Status` | read-only |
//! | `secret_run` | `command`, `cwd?`, `timeout_secs?` | `RunResult` | destructive, open world |
//!
//! `secret_run` is for clients whose shell tool ClauLock cannot hook
//! (Cursor, Windsurf, Cline, Continue, Aider): it runs a command with
//! placeholders under the same policy and delivery as a hooked shell and
//! returns `{refused, exit_code, stdout, stderr, timed_out, truncated}`,
//! the output already scrubbed. It is no reveal verb: a command that would
//! print, encode or send a value where it may not go is refused like a
//! hooked one, and what it prints is scrubbed like a hooked one's.
//!
//! `SecretInfo` (the agent protocol's own shape, from `claulock-proto`) is
//! `{name, tags, allow_hosts, allow_programs, allow_revealing,
//! allow_output_files, created, rotated, expires, project,
//! superseded_values}`; `EntryOutcome`
//! is `{name, state: stored|pending|declined|expired, message, url,
//! terminal_command}`. The full input and output JSON Schemas of every tool
//! are in [`tools`] (generated from the server; a test keeps them current).
//! Every tool has a JSON Schema for its input and
//! output (from [`schemars`]) and answers with `structuredContent`. Bad
//! arguments, unknown names and a locked vault are `isError` results whose
//! text says what to do next.
//!
//! # Protocol
//!
//! stdio, newline-delimited JSON-RPC, on [`rmcp`] 3.11 (pinned). The server
//! speaks protocol 2025-11-25 and 2025-06-18 (initialize handshake). A
//! client that probes with the 2026 `server/discover` first is told the
//! versions this server supports, and goes on with `initialize`.
#![forbid(unsafe_code)]

pub mod backend;
mod server;

#[doc = include_str!("../TOOLS.md")]
pub mod tools {}

pub use server::{
    AuditArgs, AuditLog, CheckArgs, Consent, EntryOutcome, ListArgs, NameArgs, NoArgs, RequestArgs,
    RunArgs, SecretList, SecretServer, TagArgs,
};

/// Serves `backend` over stdio until the client goes away. Protocol on
/// stdout only; nothing is logged to stdout.
///
/// # Errors
///
/// When the runtime cannot start or the transport fails.
pub fn serve_stdio(
    backend: std::sync::Arc<dyn backend::Backend>,
    cwd: String,
) -> Result<(), String> {
    use rmcp::ServiceExt;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async move {
        let service = SecretServer::new(backend, cwd)
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| format!("the MCP handshake failed: {e}"))?;
        service
            .waiting()
            .await
            .map_err(|e| format!("the MCP session ended with an error: {e}"))?;
        Ok(())
    })
}
