//! The Tierkreis controller: runs a workflow graph to completion.
//!
//! `scheduler` is the pure core: it decides what runs next and talks to the
//! world only through the `ControllerStorage` trait and an outbox of tasks.
//! `runtime` drives it: it hands tasks to executors and feeds completions back.
//! `builtins` are the bodies of the reference's built-in tasks;
//! `executor::builtin_executor` runs them in-process.
//! `timeline` records when and where each task ran, off the scheduling path.
//! `engine` holds a run's settings and assembles the executor stack from them
//! (for the CLI, the Python package and the server's restarts alike);
//! `embedded` runs a workflow end to end in one call, for embedders.

pub mod builtins;
pub mod cache;
pub mod embedded;
pub mod engine;
pub mod executor;
pub mod retry;
pub mod runtime;
pub mod scheduler;
pub mod timeline;
