//! An example Tierkreis worker in Rust, `numerics_worker`, showing each kind
//! of task the SDK supports: big integers (`fibonacci`), several named
//! outputs and an optional input (`stats`), lists (`primes_below`) and a
//! primitive task over a dynamic set of input ports (`sum_inputs`). `square`
//! is the trivial task `tkr-bench`'s `map_worker` workload calls once per
//! element, to measure the cost of a worker process.

use num_bigint::BigInt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tierkreis_core::{Value, WorkerCallArgs};
use tierkreis_storage::{StorageError, WorkerStorage};
use tierkreis_worker::Worker;

/// Why a numerics task refused its inputs.
#[derive(Debug, thiserror::Error)]
pub enum NumericsError {
    #[error("fibonacci of a negative number ({n}) is not defined")]
    NegativeFibonacci { n: i64 },
    #[error("{n} is too large for primes_below (at most {max})")]
    TooManyPrimes { n: u64, max: u64 },
    #[error("stats needs at least {needed} value(s), got {got}")]
    TooFewValues { needed: usize, got: usize },
    #[error("sum_inputs: input `{port}` is a {found}, not a number")]
    NotANumber { port: String, found: &'static str },
    #[error("sum_inputs: the call arguments have no output port `value`")]
    NoValuePort,
    #[error("sum_inputs: {source}")]
    Storage {
        #[from]
        source: StorageError,
    },
}

/// The inputs of `fibonacci`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct FibonacciIn {
    pub n: i64,
}

/// The `n`th Fibonacci number (F(0) = 0, F(1) = 1), of any size.
pub fn fibonacci(i: FibonacciIn) -> Result<tierkreis_worker::BigInt, NumericsError> {
    let n = u64::try_from(i.n).map_err(|_| NumericsError::NegativeFibonacci { n: i.n })?;
    let (mut a, mut b) = (BigInt::from(0), BigInt::from(1));
    for _ in 0..n {
        let next = &a + &b;
        a = std::mem::replace(&mut b, next);
    }
    Ok(a.into())
}

/// The inputs of `square`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SquareIn {
    pub x: tierkreis_worker::BigInt,
}

/// `x * x`, of any size: next to no work, so a `square` task costs what
/// starting the worker process and its file I/O cost.
pub fn square(i: SquareIn) -> Result<tierkreis_worker::BigInt, std::convert::Infallible> {
    Ok((&i.x.0 * &i.x.0).into())
}

/// The inputs of `stats`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct StatsIn {
    pub values: Vec<f64>,
    /// Sample (n - 1) rather than population standard deviation; optional,
    /// `false` when not given.
    #[serde(default)]
    pub sample: bool,
}

/// The outputs of `stats`: one port each.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Stats {
    pub mean: f64,
    pub stdev: f64,
}

/// Mean and standard deviation of `values`.
pub fn stats(i: StatsIn) -> Result<Stats, NumericsError> {
    let needed = if i.sample { 2 } else { 1 };
    if i.values.len() < needed {
        return Err(NumericsError::TooFewValues {
            needed,
            got: i.values.len(),
        });
    }
    let n = i.values.len() as f64;
    let mean = i.values.iter().sum::<f64>() / n;
    let squares = i.values.iter().map(|v| (v - mean).powi(2)).sum::<f64>();
    let divisor = if i.sample { n - 1.0 } else { n };
    Ok(Stats {
        mean,
        stdev: (squares / divisor).sqrt(),
    })
}

/// The inputs of `primes_below`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct PrimesBelowIn {
    pub n: u64,
}

/// The largest `n` `primes_below` accepts, to bound its memory.
pub const MAX_PRIMES_BELOW: u64 = 100_000_000;

/// The primes less than `n`, by the sieve of Eratosthenes.
pub fn primes_below(i: PrimesBelowIn) -> Result<Vec<u64>, NumericsError> {
    if i.n > MAX_PRIMES_BELOW {
        return Err(NumericsError::TooManyPrimes {
            n: i.n,
            max: MAX_PRIMES_BELOW,
        });
    }
    let n = usize::try_from(i.n).unwrap_or(usize::MAX);
    let mut composite = vec![false; n];
    let mut primes = Vec::new();
    for k in 2..n {
        if composite[k] {
            continue;
        }
        primes.push(k as u64);
        let mut m = k.saturating_mul(k);
        while m < n {
            composite[m] = true;
            m += k;
        }
    }
    Ok(primes)
}

/// A primitive task: the sum of every input, whatever the ports are
/// called, written to the output `value` (an `int` if every input is an
/// `int`, else a `float`).
pub fn sum_inputs(args: &WorkerCallArgs, storage: &dyn WorkerStorage) -> Result<(), NumericsError> {
    let mut int_sum = BigInt::from(0);
    let mut float_sum = 0.0;
    let mut all_ints = true;
    for (port, path) in &args.inputs {
        match Value::from_bytes(&storage.read_input(path)?) {
            Value::Int(i) => int_sum += i,
            Value::Float(f) => {
                all_ints = false;
                float_sum += f;
            }
            other => {
                return Err(NumericsError::NotANumber {
                    port: port.clone(),
                    found: other.type_name(),
                })
            }
        }
    }
    let total = if all_ints {
        Value::Int(int_sum)
    } else {
        Value::Float(float_sum + Value::Int(int_sum).as_f64().unwrap_or(f64::NAN))
    };
    let out = args
        .outputs
        .get("value")
        .ok_or(NumericsError::NoValuePort)?;
    storage.write_output(out, &total.to_bytes())?;
    Ok(())
}

/// The worker, named `numerics_worker`.
pub fn worker() -> Worker {
    let mut w = Worker::new("numerics_worker");
    w.task("fibonacci", fibonacci)
        .task_multi("stats", stats)
        .task("primes_below", primes_below)
        .primitive_task("sum_inputs", sum_inputs)
        .task("square", square);
    w
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn fibonacci_numbers() {
        let f = |n| fibonacci(FibonacciIn { n }).unwrap().0;
        assert_eq!(f(0), BigInt::from(0));
        assert_eq!(f(1), BigInt::from(1));
        assert_eq!(f(10), BigInt::from(55));
        // F(100), beyond 64 bits.
        assert_eq!(f(100).to_string(), "354224848179261915075");
        assert!(fibonacci(FibonacciIn { n: -1 }).is_err());
    }

    #[test]
    fn squares() {
        let sq = |x: BigInt| square(SquareIn { x: x.into() }).unwrap().0;
        assert_eq!(sq(BigInt::from(0)), BigInt::from(0));
        assert_eq!(sq(BigInt::from(-7)), BigInt::from(49));
        // Beyond 64 bits: (2^40)^2 = 2^80.
        assert_eq!(sq(BigInt::from(1u64 << 40)), BigInt::from(2).pow(80));
    }

    #[test]
    fn stats_population_and_sample() {
        let s = stats(StatsIn {
            values: vec![2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0],
            sample: false,
        })
        .unwrap();
        assert_eq!((s.mean, s.stdev), (5.0, 2.0));
        let s = stats(StatsIn {
            values: vec![1.0, 3.0],
            sample: true,
        })
        .unwrap();
        assert_eq!(s.stdev, 2f64.sqrt());
        assert!(stats(StatsIn {
            values: vec![1.0],
            sample: true
        })
        .is_err());
        assert!(stats(StatsIn {
            values: vec![],
            sample: false
        })
        .is_err());
    }

    #[test]
    fn primes() {
        assert_eq!(
            primes_below(PrimesBelowIn { n: 20 }).unwrap(),
            [2, 3, 5, 7, 11, 13, 17, 19]
        );
        assert!(primes_below(PrimesBelowIn { n: 2 }).unwrap().is_empty());
        assert_eq!(
            primes_below(PrimesBelowIn { n: 10_000 }).unwrap().len(),
            1229
        );
        assert!(primes_below(PrimesBelowIn {
            n: MAX_PRIMES_BELOW + 1
        })
        .is_err());
    }
}
