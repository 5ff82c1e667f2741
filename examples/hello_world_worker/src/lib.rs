//! The Tierkreis hello world worker in Rust, the twin of the reference
//! tutorial's Python `hello_world_worker`: one task,
//! `greet(greeting: str, subject: str) -> str`.

use schemars::JsonSchema;
use serde::Deserialize;
use tierkreis_worker::Worker;

/// The inputs of `greet`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct GreetIn {
    pub greeting: String,
    pub subject: String,
}

/// `greeting` followed by `subject`.
pub fn greet(i: GreetIn) -> Result<String, std::convert::Infallible> {
    Ok(i.greeting + &i.subject)
}

/// The worker, named `hello_world_worker`.
pub fn worker() -> Worker {
    let mut w = Worker::new("hello_world_worker");
    w.task("greet", greet);
    w
}
