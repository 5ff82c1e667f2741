//! The Tierkreis worker SDK: write a worker in Rust that a Tierkreis
//! controller (Python `tierkreis` 2.1.1 or this workspace's) can run, and
//! generate the Python stubs graph builders import to call it.
//!
//! The protocol this SDK implements (call arguments, environment, order of
//! writes, markers, value encoding, failures) is specified in the
//! repository's `docs/worker-protocol.md`, for workers in any language.
//!
//! A worker is a named set of tasks. A typed task is a plain Rust function
//! from an input struct (one field per input port) to an output; values are
//! converted to and from the reference's file encoding by a serde bridge
//! ([`to_value`], [`from_value`]), and port types for the stubs come from
//! `schemars::JsonSchema` derives.
//!
//! ```
//! use schemars::JsonSchema;
//! use serde::{Deserialize, Serialize};
//! use tierkreis_worker::Worker;
//!
//! #[derive(Deserialize, JsonSchema)]
//! struct GreetIn {
//!     greeting: String,
//!     subject: String,
//! }
//!
//! #[derive(Deserialize, JsonSchema)]
//! struct StatsIn {
//!     values: Vec<f64>,
//!     /// Optional input: a missing input file means "use the default".
//!     #[serde(default)]
//!     sample: bool,
//! }
//!
//! /// Several outputs: one port per field.
//! #[derive(Serialize, JsonSchema)]
//! struct Stats {
//!     mean: f64,
//!     count: usize,
//! }
//!
//! let mut worker = Worker::new("demo_worker");
//! // One output port, `value`.
//! worker.task("greet", |i: GreetIn| -> Result<String, std::convert::Infallible> {
//!     Ok(i.greeting + &i.subject)
//! });
//! worker.task_multi("stats", |i: StatsIn| -> Result<Stats, String> {
//!     if i.values.is_empty() {
//!         return Err("no values".into());
//!     }
//!     let mean = i.values.iter().sum::<f64>() / i.values.len() as f64;
//!     Ok(Stats { mean, count: i.values.len() })
//! });
//! // A primitive task reads and writes through the storage itself.
//! worker.primitive_task("touch_outputs", |args, storage| {
//!     for path in args.outputs.values() {
//!         storage.write_output(path, b"null")?;
//!     }
//!     Ok::<_, tierkreis_storage::StorageError>(())
//! });
//!
//! let stubs = worker.stubs().unwrap();
//! assert!(stubs.contains("class greet(NamedTuple):\n    greeting: TKR[str]\n    subject: TKR[str]\n"));
//! assert!(stubs.contains("    sample: TKR[bool] | None = None \n"));
//! assert!(stubs.contains("class Stats(NamedTuple):\n    count: TKR[int]\n    mean: TKR[float]\n"));
//!
//! // In a binary: `fn main() -> std::process::ExitCode { worker.run_main() }`,
//! // which handles `<call-args path>` and `--stubs-path FILE`.
//! ```
//!
//! Running a call in process (what [`Worker::app`] does with
//! [`tierkreis_storage::FileWorkerStorage::from_env`]):
//!
//! ```
//! # use tierkreis_worker::Worker;
//! # #[derive(serde::Deserialize, schemars::JsonSchema)]
//! # struct GreetIn { greeting: String, subject: String }
//! use std::path::Path;
//! use tierkreis_storage::{FileWorkerStorage, WorkerStorage};
//!
//! let mut worker = Worker::new("hello_world_worker");
//! worker.task("greet", |i: GreetIn| Ok::<_, String>(i.greeting + &i.subject));
//!
//! let dir = tempfile::tempdir().unwrap();
//! let storage = FileWorkerStorage::new(dir.path());
//! storage.write_output(Path::new("n/definition"), br#"{"function_name":"greet",
//!     "inputs":{"greeting":"n/g","subject":"n/s"},"outputs":{"value":"n/out"},
//!     "output_dir":"n","done_path":"n/_done","error_path":"n/errors","logs_path":null}"#).unwrap();
//! storage.write_output(Path::new("n/g"), br#""hello ""#).unwrap();
//! storage.write_output(Path::new("n/s"), br#""world""#).unwrap();
//!
//! worker.run(&storage, Path::new("n/definition")).unwrap();
//! assert_eq!(storage.read_input(Path::new("n/out")).unwrap(), br#""hello world""#);
//! assert!(dir.path().join("n/_done").exists());
//! ```
//!
//! Types: integers are Python `int` (use [`BigInt`] beyond 128 bits),
//! floats `float`, `String` `str`, `bool` `bool`, [`Bytes`] `bytes` (read
//! raw when it is a whole input, like the reference), `Vec<T>` `list[T]`,
//! maps with string keys `dict[str, T]`, `Option<T>` `Union[T, NoneType]`.
//! Types the stubs cannot name (nested structs, tagged enums, tuples,
//! `serde_json::Value`) are `PType` in the stubs and still travel as values.

pub mod bridge;
pub mod signature;
mod stubs;
pub mod types;
mod warm;
pub mod worker;

pub use bridge::{from_value, to_value, ValueDeserializer, ValueError, ValueSerializer};
pub use signature::{Outputs, Port, PyType, SignatureError, TaskSignature};
pub use tierkreis_core::{Value, WorkerCallArgs};
pub use tierkreis_storage::{StorageError, WorkerStorage};
pub use types::{BigInt, Bytes};
pub use worker::{Worker, WorkerError};
