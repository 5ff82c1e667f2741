//! One task's worker process, as both the one-shot and the warm executors
//! run it: its command line and environment ([`command`]), the task record
//! ([`task`]), its output ([`output_pump`]) and how it ended ([`outcome`]).
//! Below [`super::process`] (the pool) and [`super::warm`] (the warm
//! protocol), which both build on it.

pub(crate) mod command;
pub(crate) mod outcome;
pub(crate) mod output_pump;
pub(crate) mod task;

pub(crate) use command::{build_spec, quote_for_display, shell_quote, Spec, WarmFlavour, WarmKey};
pub(crate) use outcome::STDERR_TAIL_LINES;
pub(crate) use task::{write_debug_data, Job, ServedInWorkerJob};
