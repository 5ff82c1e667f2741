//! A Rust twin of `data/demo_worker.py`, the Python worker whose reference
//! stubs are `data/demo_worker_stubs.py`, shared by the stub tests.

use std::collections::HashMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tierkreis_worker::{Bytes, Worker};

#[derive(Deserialize, JsonSchema)]
pub struct GreetIn {
    pub greeting: String,
    pub subject: String,
}

fn default_scale() -> f64 {
    1.0
}

#[derive(Deserialize, JsonSchema)]
pub struct StatsIn {
    pub values: Vec<f64>,
    #[serde(default = "default_scale")]
    pub scale: f64,
}

#[derive(Serialize, JsonSchema)]
pub struct Stats {
    pub mean: f64,
    pub stdev: f64,
}

#[derive(Deserialize, JsonSchema)]
#[allow(dead_code)]
pub struct MiscIn {
    pub a: i64,
    pub b: Bytes,
    pub c: HashMap<String, Vec<i64>>,
    pub d: Option<bool>,
    #[serde(default)]
    pub e: Option<i64>,
}

#[derive(Deserialize, JsonSchema)]
#[allow(dead_code)]
pub struct NothingIn {
    pub a: i64,
}

/// The demo worker: the same tasks, ports and types as `data/demo_worker.py`.
pub fn demo_worker() -> Worker {
    let mut w = Worker::new("demo_worker");
    w.task("greet", |i: GreetIn| {
        Ok::<_, String>(i.greeting + &i.subject)
    });
    w.task_multi("stats", |i: StatsIn| {
        let n = i.values.len() as f64;
        let mean = i.values.iter().sum::<f64>() / n;
        let var = i.values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        Ok::<_, String>(Stats {
            mean: mean * i.scale,
            stdev: var.sqrt() * i.scale,
        })
    });
    w.task("misc", |i: MiscIn| {
        Ok::<_, String>(vec![i.b.clone(), Bytes(i.a.to_string().into_bytes())])
    });
    w.task("nothing", |_: NothingIn| Ok::<_, String>(()));
    w
}
