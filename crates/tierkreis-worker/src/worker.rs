//! The [`Worker`]: a named set of tasks, the runner that executes one task
//! call through a [`WorkerStorage`] (read call arguments and inputs, run,
//! write outputs, mark done or write the error), and the command line entry
//! point the controller's executors invoke.

use std::ffi::OsString;
use std::fmt::Display;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tierkreis_core::{Value, WorkerCallArgs};
use tierkreis_storage::{FileWorkerStorage, StorageError, WorkerStorage};

use crate::bridge::{from_value, to_value, ValueError};
use crate::signature::{signature_of, PyType, SignatureError, TaskSignature};

/// Why a task call failed. The text written to the call's error file is
/// [`WorkerError::error_text`].
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The call arguments could not be read: there is nowhere to report
    /// the error but the exit status.
    #[error("could not read the worker call arguments at {}: {source}", path.display())]
    CallArgs {
        path: PathBuf,
        #[source]
        source: Box<StorageError>,
    },
    /// The worker has no task of that name (the reference's message).
    #[error("{worker}: function name\n{function} not found")]
    UnknownFunction { worker: String, function: String },
    /// A required input was never written (the reference's message).
    #[error("Input {port} not found at {}.", path.display())]
    InputNotFound { port: String, path: PathBuf },
    /// A required input port is not in the call arguments at all.
    #[error("{function}: missing required input port `{port}`")]
    MissingInput { function: String, port: String },
    /// The inputs do not convert to the task's input type.
    #[error("{function}: invalid input: {source}")]
    BadInput {
        function: String,
        #[source]
        source: ValueError,
    },
    /// The task's result does not convert to a value.
    #[error("{function}: invalid output: {source}")]
    BadOutput {
        function: String,
        #[source]
        source: ValueError,
    },
    /// A multi-output task returned something that is not a struct.
    #[error("{function}: outputs must be a struct with one field per port, got a {found}")]
    OutputsNotAMap {
        function: String,
        found: &'static str,
    },
    /// The call arguments ask for an output port the task did not produce.
    #[error("{function}: no output port `{port}` (the task produced: {produced})")]
    MissingOutput {
        function: String,
        port: String,
        produced: String,
    },
    /// The task's types cannot describe ports.
    #[error("{function}: {source}")]
    Signature {
        function: String,
        #[source]
        source: SignatureError,
    },
    /// The task returned an error.
    #[error("{function} failed: {message}")]
    Task { function: String, message: String },
    /// The task panicked.
    #[error("{function} panicked: {message}")]
    Panicked { function: String, message: String },
    /// Reading an input or writing an output, the done marker or the error.
    #[error("{function}: storage: {source}")]
    Storage {
        function: String,
        #[source]
        source: Box<StorageError>,
    },
    /// The stubs could not be written.
    #[error("could not write stubs to {}: {source}", path.display())]
    WriteStubs {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl WorkerError {
    /// The text for the call's error file: the task's own message for
    /// [`WorkerError::Task`] (like the reference's `str(err)`), the full
    /// description otherwise.
    pub fn error_text(&self) -> String {
        match self {
            WorkerError::Task { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }
}

type TaskFn =
    Box<dyn Fn(&WorkerCallArgs, &dyn WorkerStorage) -> Result<(), WorkerError> + Send + Sync>;

struct Registered {
    run: TaskFn,
    /// `None` for primitive tasks, which have no stubs.
    signature: Option<Result<Arc<TaskSignature>, SignatureError>>,
}

/// A Tierkreis worker: a namespace of tasks. See the crate documentation.
pub struct Worker {
    name: String,
    tasks: IndexMap<String, Registered>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("name", &self.name)
            .field("tasks", &self.tasks.keys().collect::<Vec<_>>())
            .finish()
    }
}

const USAGE: &str =
    "usage: {program} <call-args path>   run the task named in a worker call arguments file
       {program} --stubs-path FILE    write Python stubs for this worker to FILE
Relative paths are resolved against $TKR_DIR (default ~/.tierkreis/checkpoints).";

impl Worker {
    /// A worker with no tasks; `name` is its namespace in graphs
    /// (`name.task`).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            tasks: IndexMap::new(),
        }
    }

    /// The worker's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The names of the registered tasks, in registration order.
    pub fn task_names(&self) -> impl Iterator<Item = &str> {
        self.tasks.keys().map(String::as_str)
    }

    /// The signature of the typed task `name` (`None` for unknown and
    /// primitive tasks).
    pub fn signature(&self, name: &str) -> Option<Result<&TaskSignature, &SignatureError>> {
        self.tasks
            .get(name)?
            .signature
            .as_ref()
            .map(|s| s.as_ref().map(|s| s.as_ref()))
    }

    /// Register `f` as the task `name` with one output port, `value`.
    ///
    /// `I` is a struct whose fields are the input ports; fields with
    /// `#[serde(default)]` or of type `Option` are optional inputs.
    /// Registering a name again replaces the task.
    pub fn task<I, O, E, F>(&mut self, name: &str, f: F) -> &mut Self
    where
        I: DeserializeOwned + JsonSchema,
        O: Serialize + JsonSchema,
        E: Display,
        F: Fn(I) -> Result<O, E> + Send + Sync + 'static,
    {
        self.typed(name, false, f)
    }

    /// Register `f` as the task `name` with one output port per field of
    /// the struct `O` (the reference's `@portmapping` return type).
    pub fn task_multi<I, O, E, F>(&mut self, name: &str, f: F) -> &mut Self
    where
        I: DeserializeOwned + JsonSchema,
        O: Serialize + JsonSchema,
        E: Display,
        F: Fn(I) -> Result<O, E> + Send + Sync + 'static,
    {
        self.typed(name, true, f)
    }

    /// Register a primitive task: it gets the call arguments and the
    /// storage and reads and writes what it likes. The runner marks it done
    /// (or writes its error) afterwards. Primitive tasks have no stubs.
    pub fn primitive_task<E, F>(&mut self, name: &str, f: F) -> &mut Self
    where
        E: Display,
        F: Fn(&WorkerCallArgs, &dyn WorkerStorage) -> Result<(), E> + Send + Sync + 'static,
    {
        let function = name.to_string();
        let run: TaskFn = Box::new(move |args, storage| {
            f(args, storage).map_err(|e| WorkerError::Task {
                function: function.clone(),
                message: e.to_string(),
            })
        });
        self.tasks.insert(
            name.to_string(),
            Registered {
                run,
                signature: None,
            },
        );
        self
    }

    fn typed<I, O, E, F>(&mut self, name: &str, multi: bool, f: F) -> &mut Self
    where
        I: DeserializeOwned + JsonSchema,
        O: Serialize + JsonSchema,
        E: Display,
        F: Fn(I) -> Result<O, E> + Send + Sync + 'static,
    {
        let signature = signature_of::<I, O>(multi).map(Arc::new);
        let sig = signature.clone();
        let function = name.to_string();
        let run: TaskFn = Box::new(move |args, storage| {
            let sig = sig.as_ref().map_err(|e| WorkerError::Signature {
                function: function.clone(),
                source: e.clone(),
            })?;
            let inputs = read_inputs(&function, sig, args, storage)?;
            let input: I = from_value(&inputs).map_err(|e| match e {
                ValueError::MissingField { field } => WorkerError::MissingInput {
                    function: function.clone(),
                    port: field.to_string(),
                },
                source => WorkerError::BadInput {
                    function: function.clone(),
                    source,
                },
            })?;
            let output = f(input).map_err(|e| WorkerError::Task {
                function: function.clone(),
                message: e.to_string(),
            })?;
            let value = to_value(&output).map_err(|source| WorkerError::BadOutput {
                function: function.clone(),
                source,
            })?;
            let ports = if multi {
                match value {
                    Value::Map(m) => m,
                    other => {
                        return Err(WorkerError::OutputsNotAMap {
                            function: function.clone(),
                            found: other.type_name(),
                        })
                    }
                }
            } else {
                IndexMap::from([("value".to_string(), value)])
            };
            write_outputs(&function, &ports, args, storage)
        });
        self.tasks.insert(
            name.to_string(),
            Registered {
                run,
                signature: Some(signature),
            },
        );
        self
    }

    /// Run the task named in the call arguments at `call_args_path`: read
    /// its inputs, run it, write its outputs and mark it done. On failure
    /// (an error or a panic) write [`WorkerError::error_text`] to the error
    /// path and return the error.
    pub fn run(
        &self,
        storage: &dyn WorkerStorage,
        call_args_path: &Path,
    ) -> Result<(), WorkerError> {
        let args =
            storage
                .read_call_args(call_args_path)
                .map_err(|source| WorkerError::CallArgs {
                    path: call_args_path.to_path_buf(),
                    source: Box::new(source),
                })?;
        let function = args.function_name.clone();
        let result = match self.tasks.get(&function) {
            None => Err(WorkerError::UnknownFunction {
                worker: self.name.clone(),
                function: function.clone(),
            }),
            Some(task) => catch_unwind(AssertUnwindSafe(|| (task.run)(&args, storage)))
                .unwrap_or_else(|payload| {
                    Err(WorkerError::Panicked {
                        function: function.clone(),
                        message: panic_message(payload.as_ref()),
                    })
                }),
        };
        let result = result.and_then(|()| {
            storage
                .mark_done(&args.done_path)
                .map_err(|source| WorkerError::Storage {
                    function: function.clone(),
                    source: Box::new(source),
                })
        });
        if let Err(err) = &result {
            if let Err(source) = storage.append_error(&args.error_path, &err.error_text()) {
                return Err(WorkerError::Storage {
                    function,
                    source: Box::new(source),
                });
            }
        }
        result
    }

    /// The Python stubs of this worker, as the reference generates them.
    /// Errors if a typed task's types cannot describe its ports.
    pub fn stubs(&self) -> Result<String, WorkerError> {
        let mut tasks = Vec::new();
        for (name, task) in &self.tasks {
            match &task.signature {
                None => {}
                Some(Ok(sig)) => tasks.push((name.as_str(), sig.as_ref())),
                Some(Err(e)) => {
                    return Err(WorkerError::Signature {
                        function: name.clone(),
                        source: e.clone(),
                    })
                }
            }
        }
        Ok(crate::stubs::render(&self.name, tasks))
    }

    /// Write [`Worker::stubs`] to `path`, creating its folder.
    pub fn write_stubs(&self, path: &Path) -> Result<(), WorkerError> {
        let text = self.stubs()?;
        let io = |source| WorkerError::WriteStubs {
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::write(path, text).map_err(io)
    }

    /// The command line entry point, like the reference's `Worker.app`:
    /// `PROGRAM <call-args path>` runs a task with
    /// [`FileWorkerStorage::from_env`]; `PROGRAM --stubs-path FILE` writes
    /// stubs; no argument (or `--help`) prints usage and succeeds.
    /// `args` includes the program name, as `std::env::args()` does.
    pub fn app<A, S>(&self, args: A) -> ExitCode
    where
        A: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let program = args
            .first()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.name.clone());
        let usage = USAGE.replace("{program}", &program);
        let Some(first) = args.get(1) else {
            eprintln!("No arguments provided to invoke worker {}", self.name);
            eprintln!("{usage}");
            return ExitCode::SUCCESS;
        };
        match first.to_str() {
            Some("-h" | "--help") => {
                println!("{usage}");
                ExitCode::SUCCESS
            }
            Some("--stubs-path") => {
                let Some(path) = args.get(2) else {
                    eprintln!("--stubs-path needs a file path\n{usage}");
                    return ExitCode::from(2);
                };
                match self.write_stubs(Path::new(path)) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!("{e}");
                        ExitCode::FAILURE
                    }
                }
            }
            _ => {
                let storage = FileWorkerStorage::from_env();
                match self.run(&storage, Path::new(first)) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!(
                            "Worker {} encountered an error running the call at {}: {e}",
                            self.name,
                            Path::new(first).display()
                        );
                        ExitCode::FAILURE
                    }
                }
            }
        }
    }

    /// [`Worker::app`] with the process's arguments; or, when a controller
    /// started this process as a warm worker (see
    /// [`tierkreis_storage::warm`]), serving many calls until stdin ends.
    pub fn run_main(&self) -> ExitCode {
        if crate::warm::requested() {
            return crate::warm::serve(self);
        }
        self.app(std::env::args_os())
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

fn read_inputs(
    function: &str,
    sig: &TaskSignature,
    args: &WorkerCallArgs,
    storage: &dyn WorkerStorage,
) -> Result<Value, WorkerError> {
    let mut ports = IndexMap::new();
    for (port, path) in &args.inputs {
        let declared = sig.input(port);
        let bytes = match storage.read_input(path) {
            Ok(b) => b,
            Err(StorageError::NotFound { .. }) if declared.is_none_or(|p| p.has_default) => {
                continue
            }
            Err(StorageError::NotFound { .. }) => {
                return Err(WorkerError::InputNotFound {
                    port: port.clone(),
                    path: path.clone(),
                })
            }
            Err(source) => {
                return Err(WorkerError::Storage {
                    function: function.to_string(),
                    source: Box::new(source),
                })
            }
        };
        // A `bytes` port takes the file as it is, like the reference.
        let value = match declared.map(|p| &p.ty) {
            Some(PyType::Bytes) => Value::Bytes(bytes),
            _ => Value::from_bytes(&bytes),
        };
        ports.insert(port.clone(), value);
    }
    Ok(Value::Map(ports))
}

fn write_outputs(
    function: &str,
    ports: &IndexMap<String, Value>,
    args: &WorkerCallArgs,
    storage: &dyn WorkerStorage,
) -> Result<(), WorkerError> {
    for (port, path) in &args.outputs {
        let Some(value) = ports.get(port) else {
            return Err(WorkerError::MissingOutput {
                function: function.to_string(),
                port: port.clone(),
                produced: ports.keys().cloned().collect::<Vec<_>>().join(", "),
            });
        };
        storage
            .write_output(path, &value.to_bytes())
            .map_err(|source| WorkerError::Storage {
                function: function.to_string(),
                source: Box::new(source),
            })?;
    }
    Ok(())
}
