//! Python sequences and iterables: `+` and `*` on sequences, `len`,
//! `max`/`min`, `sorted` (in CPython's comparison order), slice bounds and
//! `range`.

use num_bigint::BigInt;
use num_traits::{Signed, ToPrimitive, Zero};
use tierkreis_core::Value;

use super::*;

pub(super) fn seq_add(a: &Value, b: &Value) -> PyResult<Value> {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => Ok(Value::Str(format!("{x}{y}"))),
        (Value::List(x), Value::List(y)) => {
            Ok(Value::List(x.iter().chain(y.iter()).cloned().collect()))
        }
        (Value::Bytes(x), Value::Bytes(y)) => {
            Ok(Value::Bytes(x.iter().chain(y.iter()).copied().collect()))
        }
        (Value::Str(_), other) => Err(PyErr::type_error(format!(
            "can only concatenate str (not \"{}\") to str",
            other.type_name()
        ))),
        (Value::List(_), other) => Err(PyErr::type_error(format!(
            "can only concatenate list (not \"{}\") to list",
            other.type_name()
        ))),
        (Value::Bytes(_), other) => Err(PyErr::type_error(format!(
            "can't concat {} to bytes",
            other.type_name()
        ))),
        _ => Err(unsupported(Op::Add, a, b)),
    }
}

fn is_sequence(v: &Value) -> bool {
    matches!(v, Value::Str(_) | Value::List(_) | Value::Bytes(_))
}

pub(super) fn seq_mul(a: &Value, b: &Value) -> PyResult<Value> {
    let (seq, count) = match (is_sequence(a), is_sequence(b)) {
        (true, _) => (a, b),
        (false, true) => (b, a),
        (false, false) => return Err(unsupported(Op::Mul, a, b)),
    };
    let n = match count {
        Value::Int(_) | Value::Bool(_) => index(count)?,
        other => {
            return Err(PyErr::type_error(format!(
                "can't multiply sequence by non-int of type '{}'",
                other.type_name()
            )))
        }
    };
    let times = if n.is_negative() {
        0
    } else {
        n.to_usize()
            .ok_or_else(|| PyErr::overflow("cannot fit 'int' into an index-sized integer"))?
    };
    let len = match seq {
        Value::Str(s) => s.len(),
        Value::List(l) => l.len(),
        Value::Bytes(b) => b.len(),
        _ => 0,
    };
    if len
        .checked_mul(times)
        .is_none_or(|total| total > isize::MAX as usize)
    {
        return Err(match seq {
            Value::Str(_) => PyErr::overflow("repeated string is too long"),
            Value::Bytes(_) => PyErr::overflow("repeated bytes are too long"),
            _ => PyErr::memory(),
        });
    }
    if len.saturating_mul(times) > MAX_ELEMENTS {
        return Err(PyErr::memory());
    }
    Ok(match seq {
        Value::Str(s) => Value::Str(s.repeat(times)),
        Value::Bytes(b) => Value::Bytes(b.repeat(times)),
        Value::List(l) => Value::List((0..times).flat_map(|_| l.iter().cloned()).collect()),
        other => other.clone(),
    })
}

/// `len(v)`.
pub(crate) fn len(v: &Value) -> PyResult<usize> {
    match v {
        Value::Str(s) => Ok(s.chars().count()),
        Value::Bytes(b) => Ok(b.len()),
        Value::List(l) => Ok(l.len()),
        Value::Map(m) => Ok(m.len()),
        other => Err(PyErr::type_error(format!(
            "object of type '{}' has no len()",
            other.type_name()
        ))),
    }
}

/// `max(items)` (`is_max`) or `min(items)`: the first extreme item.
pub(crate) fn extreme(items: &[Value], is_max: bool) -> PyResult<Value> {
    let name = if is_max { "max" } else { "min" };
    let op = if is_max { Cmp::Gt } else { Cmp::Lt };
    let mut it = items.iter();
    let Some(first) = it.next() else {
        return Err(PyErr::value_error(format!(
            "{name}() iterable argument is empty"
        )));
    };
    let mut best = first;
    for item in it {
        if compare(op, item, best)? {
            best = item;
        }
    }
    Ok(best.clone())
}

/// `sorted(items)`: stable, using only `<`, in CPython 3.13's order.
///
/// Lists shorter than 64 are sorted exactly as CPython's timsort sorts them
/// (an initial run, then binary insertion), so even inconsistent orders
/// (NaN) and type errors come out the same. Longer lists are cut into runs
/// as timsort cuts them (each natural run, extended to `minrun` by binary
/// insertion) and the runs are merged pairwise, stably: O(n log n)
/// comparisons and moves. For any consistent order the result is CPython's
/// (a stable sort has one answer); the first comparison is CPython's first
/// one too, and the first comparison that raises is the error returned.
pub(crate) fn sorted(items: &[Value]) -> PyResult<Vec<Value>> {
    stable_sort_by_less_than(items.to_vec(), &|left, right| compare(Cmp::Lt, left, right))
}

/// The sort behind [`sorted`], for any item type and a fallible `<`.
fn stable_sort_by_less_than<T>(
    mut items: Vec<T>,
    less_than: &impl Fn(&T, &T) -> PyResult<bool>,
) -> PyResult<Vec<T>> {
    let total = items.len();
    if total < 2 {
        return Ok(items);
    }
    let min_run = timsort_min_run(total);
    // Cut into runs, each sorted in place, as timsort does.
    let mut run_lengths = Vec::new();
    let mut start = 0;
    while start < total {
        let rest = &mut items[start..];
        let natural = count_run(rest, less_than)?;
        let run = if natural < min_run {
            let forced = min_run.min(rest.len());
            binary_insertion_sort(&mut rest[..forced], natural, less_than)?;
            forced
        } else {
            natural
        };
        run_lengths.push(run);
        start += run;
    }
    if run_lengths.len() == 1 {
        return Ok(items);
    }
    // Merge adjacent runs pairwise until one is left.
    let mut runs: Vec<Vec<T>> = Vec::with_capacity(run_lengths.len());
    let mut remaining = items.into_iter();
    for length in run_lengths {
        runs.push(remaining.by_ref().take(length).collect());
    }
    while runs.len() > 1 {
        let mut merged = Vec::with_capacity(runs.len().div_ceil(2));
        let mut pairs = runs.into_iter();
        while let Some(left) = pairs.next() {
            match pairs.next() {
                Some(right) => merged.push(merge_runs(left, right, less_than)?),
                None => merged.push(left),
            }
        }
        runs = merged;
    }
    Ok(runs.pop().unwrap_or_default())
}

/// CPython's `merge_compute_minrun`: `total` itself below 64, else a length
/// between 32 and 64 that splits `total` into a power of two of runs or a
/// little fewer.
fn timsort_min_run(mut total: usize) -> usize {
    let mut any_bit_shifted_out = 0;
    while total >= 64 {
        any_bit_shifted_out |= total & 1;
        total >>= 1;
    }
    total + any_bit_shifted_out
}

/// CPython's `binarysort`: `run[..sorted_prefix]` is sorted; inserts each
/// later item after the last item not greater than it (so stably).
fn binary_insertion_sort<T>(
    run: &mut [T],
    sorted_prefix: usize,
    less_than: &impl Fn(&T, &T) -> PyResult<bool>,
) -> PyResult<()> {
    for next in sorted_prefix.max(1)..run.len() {
        let (mut low, mut high) = (0, next);
        while low < high {
            let middle = low + ((high - low) >> 1);
            if less_than(&run[next], &run[middle])? {
                high = middle;
            } else {
                low = middle + 1;
            }
        }
        run[low..=next].rotate_right(1);
    }
    Ok(())
}

/// Merges two sorted runs, `left` coming first in the list: an item of
/// `right` goes first only if it is less than the item of `left` (stable).
fn merge_runs<T>(
    left: Vec<T>,
    right: Vec<T>,
    less_than: &impl Fn(&T, &T) -> PyResult<bool>,
) -> PyResult<Vec<T>> {
    let mut merged = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    while let (Some(left_item), Some(right_item)) = (left.peek(), right.peek()) {
        let next = if less_than(right_item, left_item)? {
            right.next()
        } else {
            left.next()
        };
        merged.extend(next);
    }
    merged.extend(left);
    merged.extend(right);
    Ok(merged)
}

/// CPython 3.13's `count_run`: the length of the initial run of `v`, made
/// ascending in place (descending runs are reversed, keeping equal
/// elements stable).
fn count_run<T>(v: &mut [T], lt: &impl Fn(&T, &T) -> PyResult<bool>) -> PyResult<usize> {
    let total = v.len();
    let mut n = 1;
    while n < total {
        if lt(&v[n], &v[n - 1])? {
            break;
        }
        n += 1;
    }
    if n == total {
        return Ok(n);
    }
    if n > 1 {
        if lt(&v[0], &v[n - 1])? {
            return Ok(n);
        }
        v[..n].reverse();
    }
    n += 1;
    let mut neq = 0;
    let reverse_last_neq = |v: &mut [T], n: usize, neq: &mut usize| {
        if *neq > 0 {
            let k = *neq + 1;
            v[n - k..n].reverse();
            *neq = 0;
        }
    };
    while n < total {
        if lt(&v[n], &v[n - 1])? {
            reverse_last_neq(v, n, &mut neq);
        } else if lt(&v[n - 1], &v[n])? {
            break;
        } else {
            neq += 1;
        }
        n += 1;
    }
    reverse_last_neq(v, n, &mut neq);
    v[..n].reverse();
    while n < total {
        if lt(&v[n], &v[n - 1])? {
            break;
        }
        n += 1;
    }
    Ok(n)
}

/// Python's `list[start:stop]` bounds for an index value that is an int
/// or `None` (`None` gives `default`).
pub(crate) fn slice_bound(n: &Value, len: usize, default: usize) -> PyResult<usize> {
    let i = match n {
        Value::Null => return Ok(default),
        Value::Int(_) | Value::Bool(_) => index(n)?,
        _ => {
            return Err(PyErr::type_error(
                "slice indices must be integers or None or have an __index__ method",
            ))
        }
    };
    let len_big = BigInt::from(len);
    let adjusted = if i.is_negative() { i + &len_big } else { i };
    Ok(if adjusted.is_negative() {
        0
    } else if adjusted > len_big {
        len
    } else {
        adjusted.to_usize().unwrap_or(len)
    })
}

/// Python's `range(start, stop, step)` as a list.
pub(crate) fn range(start: &Value, stop: &Value, step: &Value) -> PyResult<Vec<Value>> {
    let start = index(start)?;
    let stop = index(stop)?;
    let step = index(step)?;
    if step.is_zero() {
        return Err(PyErr::value_error("range() arg 3 must not be zero"));
    }
    let span = if step.is_positive() {
        &stop - &start
    } else {
        &start - &stop
    };
    let step_abs = step.abs();
    let count = if span.is_positive() {
        (span + &step_abs - 1u8) / &step_abs
    } else {
        BigInt::zero()
    };
    let count = count
        .to_usize()
        .filter(|&c| c <= MAX_ELEMENTS)
        .ok_or_else(PyErr::memory)?;
    let mut out = Vec::with_capacity(count);
    let mut x = start;
    for _ in 0..count {
        out.push(Value::Int(x.clone()));
        x += &step;
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::cell::Cell;

    use super::*;

    /// A deterministic xorshift sequence, so the lists are the same every run.
    fn pseudo_random(count: usize, seed: u64) -> Vec<u64> {
        let mut state = seed;
        (0..count)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state
            })
            .collect()
    }

    /// 10,000 numbers with many equal keys written as `int`, `float` or
    /// `bool` (equal in Python, distinct as values): `sorted` orders them
    /// and keeps equal ones in their original order, as CPython's stable
    /// sort does; checked against Rust's stable sort on the numeric key.
    #[test]
    fn sorting_ten_thousand_equal_keyed_numbers_is_ordered_and_stable() {
        let keys: Vec<u64> = pseudo_random(10_000, 0x9E37_79B9_7F4A_7C15)
            .into_iter()
            .map(|random| random % 300)
            .collect();
        let items: Vec<Value> = keys
            .iter()
            .enumerate()
            .map(|(position, &key)| match (position % 3, key) {
                (0, 0 | 1) => Value::Bool(key == 1),
                (1, _) => Value::Float(key as f64),
                _ => Value::int(key as i64),
            })
            .collect();
        let mut expected: Vec<(u64, Value)> = keys.iter().copied().zip(items.clone()).collect();
        expected.sort_by_key(|(key, _)| *key);
        let expected: Vec<Value> = expected.into_iter().map(|(_, item)| item).collect();
        assert_eq!(sorted(&items).unwrap(), expected);
    }

    /// Random, ascending, descending and sawtooth lists of 10,000: the right
    /// order with at most n·log2(n) + n comparisons (the insertion sort this
    /// replaced made as few comparisons but O(n²) moves).
    #[test]
    fn sorting_ten_thousand_items_takes_n_log_n_comparisons() {
        let total = 10_000usize;
        let bound = total * (total as f64).log2().ceil() as usize + total;
        let random = pseudo_random(total, 7);
        let inputs: Vec<(&str, Vec<u64>)> = vec![
            ("random", random),
            ("ascending", (0..total as u64).collect()),
            ("descending", (0..total as u64).rev().collect()),
            ("sawtooth", (0..total as u64).map(|i| i % 100).collect()),
        ];
        for (name, input) in inputs {
            let comparisons = Cell::new(0usize);
            let result = stable_sort_by_less_than(input.clone(), &|left: &u64, right: &u64| {
                comparisons.set(comparisons.get() + 1);
                Ok(left < right)
            })
            .unwrap();
            let mut expected = input;
            expected.sort();
            assert_eq!(result, expected, "{name}");
            assert!(
                comparisons.get() <= bound,
                "{name}: {} comparisons, more than {bound}",
                comparisons.get()
            );
        }
    }

    /// A string among 10,000 integers: Python's `TypeError`, from the first
    /// comparison that raises, which is CPython's (checked against 3.13 with
    /// the same xorshift list); nothing after it is compared.
    #[test]
    fn a_long_list_with_an_incomparable_item_fails_at_the_first_bad_comparison() {
        let mut items: Vec<Value> = pseudo_random(10_000, 3)
            .into_iter()
            .map(|random| Value::int((random % 1000) as i64))
            .collect();
        items[5_000] = Value::Str("five thousand".into());
        let error = sorted(&items).unwrap_err();
        assert_eq!(error.exception, "TypeError");
        // CPython 3.13 gives this message for this very list (the string
        // starts a run, so the first comparison that raises is `int < str`).
        assert_eq!(
            error.message,
            "'<' not supported between instances of 'int' and 'str'"
        );
        let comparisons = Cell::new(0usize);
        let failed = stable_sort_by_less_than(items, &|left: &Value, right: &Value| {
            comparisons.set(comparisons.get() + 1);
            compare(Cmp::Lt, left, right)
        });
        assert!(failed.is_err());
        let after_first_error = comparisons.get();
        assert!(
            after_first_error < 10_000 * 14,
            "stopped at the first error, after {after_first_error} comparisons"
        );
    }
}
