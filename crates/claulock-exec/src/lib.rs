//! Running a model's command under ClauLock.
//!
//! - [`run`] is the exec wrapper: it asks the agent for the command's plan,
//!   runs it in bash, hands the command's output pipes (or its
//!   pseudo-terminal) to the agent to scrub, forwards signals, kills what
//!   the command left behind if the wrapper dies, and drains the output
//!   for a bounded time after the command exits.
//! - [`deliver`] is the deliverer the plan starts for each program that
//!   receives a value: it asks the agent for the values of that one
//!   invocation and becomes the program.
//!
//! # No value in the wrapper or the shell
//!
//! The plan holds markers, never values ([`claulock_core::substitute::delivery_plan`]),
//! and the wrapper never receives a value or the vault's dictionary: the
//! agent scrubs the output with the scrubber it keeps. A value exists only
//! in the agent and, for its lifetime, in the one program that needs it.
//! Both processes make themselves non-dumpable once the agent has answered
//! (it inspects them through `/proc` first, which a non-dumpable process
//! does not allow an agent without root).
//!
//! # Why a crate of its own
//!
//! A runtime that embeds ClauLock runs its shell tool with [`run`] instead
//! of copying the process plumbing; the `claulock` binary's `exec` and
//! `deliver` commands are thin frontends over it.

mod deliver;
mod forward;
mod process;
mod run;

pub use deliver::deliver;
pub use run::{run, run_with, shell_join};

/// The exit status of a refused command (nothing ran).
pub const REFUSED: u8 = 125;

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The command ran and exited with this status (128+N for signal N).
    Exited(i32),
    /// Nothing ran: why, one line per reason.
    Refused(String),
}
