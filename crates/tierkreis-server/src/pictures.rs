//! Pictures of values for the web view: recognises a stored value's shape (a
//! pytket `BackendResult`, a pytket `Circuit` as its `to_dict` JSON, a list of
//! numbers, a loop's trace) and works out here, where it is unit-tested, all
//! the page needs to draw it: outcome counts and the register's width, the
//! circuit's wires, gate layout, gate counts and depth, the plotted series.
//! Anything else is [`Picture::Json`]: the page shows the value as text.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde::Serialize;
use tierkreis_core::graph::NodeKind;
use tierkreis_core::{Loc, Value};
use tierkreis_storage::ControllerStorage;

use crate::error::ApiError;

/// At most this many bars in a histogram: the most frequent outcomes; the
/// rest are summed into `other_count`.
pub const MAX_BARS: usize = 64;
/// At most this many commands of a circuit are laid out for drawing (counts
/// and depth always cover the whole circuit).
pub const MAX_DRAWN_GATES: usize = 2_000;
/// At most this many items of a list of results or circuits are drawn.
pub const MAX_ITEMS: usize = 32;
/// At most this many points per plotted list of numbers.
pub const MAX_POINTS: usize = 100_000;
/// At most this many iterations of a loop's trace are read (three files
/// each per port, again on every live update of the loop's view).
pub const MAX_TRACE_ITERATIONS: usize = 5_000;

/// What the page draws for a value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Picture {
    /// Shot outcomes of a `BackendResult`.
    Histogram(Histogram),
    /// A pytket circuit.
    Circuit(CircuitPicture),
    /// Numbers against their index (a list of numbers, a loop's trace).
    Plot(Plot),
    /// A list whose every item has a picture (e.g. one result per circuit).
    List {
        items: Vec<Picture>,
        /// How many items the list holds (more than `items` when cut).
        total: usize,
    },
    /// No picture: the page shows the value as JSON.
    Json,
}

/// Counts per outcome of a `BackendResult`, bits in pytket's default order
/// (`get_counts()`: bits sorted by register name, then index).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Histogram {
    /// The number of classical bits read out.
    pub width: usize,
    /// The bits' names in the order of each outcome's characters.
    pub bits: Vec<String>,
    /// The number of shots.
    pub shots: u64,
    /// The outcomes drawn, sorted by bitstring.
    pub outcomes: Vec<Outcome>,
    /// How many distinct outcomes there are in all.
    pub distinct: usize,
    /// The shots of the outcomes not drawn (beyond [`MAX_BARS`]).
    pub other_count: u64,
}

/// One bar of a histogram.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub bits: String,
    pub count: u64,
}

/// A circuit laid out for drawing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CircuitPicture {
    /// Qubit names (`q[0]`), one wire each, top to bottom.
    pub qubits: Vec<String>,
    /// Classical bit names (`c[0]`), one wire each, below the qubits.
    pub bits: Vec<String>,
    /// The gates drawn, in command order.
    pub gates: Vec<Gate>,
    /// How many columns the drawn gates take.
    pub columns: usize,
    /// The number of commands (pytket's `n_gates`).
    pub n_gates: usize,
    /// Commands per operation type, as pytket names them.
    pub counts: BTreeMap<String, usize>,
    /// pytket's `depth()`: the longest chain of operations sharing a wire
    /// (barriers order but are not counted).
    pub depth: usize,
    /// Whether only the first [`MAX_DRAWN_GATES`] commands are in `gates`.
    pub truncated: bool,
}

/// One command of a circuit, placed in a column.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gate {
    /// The operation type (`CX`, `Rz`, `Measure`, `Barrier`, ...).
    pub name: String,
    /// The text in its box: the type with its parameters, `Rz(0.2)`.
    pub label: String,
    /// The wires it acts on, in argument order: indices into qubits, then
    /// bits (bit `i` is wire `qubits.len() + i`).
    pub wires: Vec<usize>,
    /// The column it is drawn in; gates spanning wires (from the lowest to
    /// the highest of `wires`) never share a column with a gate in the span.
    pub column: usize,
}

/// Series of numbers against their index.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plot {
    pub series: Vec<Series>,
}

/// One plotted line; `None` where a point is missing (not a number, or an
/// iteration that has not produced it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    pub name: String,
    pub points: Vec<Option<f64>>,
}

/// The picture of a stored value's bytes.
pub fn picture_of_bytes(bytes: &[u8]) -> Picture {
    picture(&Value::from_bytes(bytes))
}

/// The picture of `value`.
pub fn picture(value: &Value) -> Picture {
    if let Some(h) = histogram(value) {
        return Picture::Histogram(h);
    }
    if let Some(c) = circuit(value) {
        return Picture::Circuit(c);
    }
    if let Some(points) = numbers(value) {
        return Picture::Plot(Plot {
            series: vec![Series {
                name: "value".to_string(),
                points: points.into_iter().map(Some).collect(),
            }],
        });
    }
    if let Some(items) = value.as_list().filter(|l| !l.is_empty()) {
        // A list of results or circuits: each item drawn, if all have one.
        let drawn: Vec<Picture> = items
            .iter()
            .take(MAX_ITEMS)
            .map(|v| {
                histogram(v)
                    .map(Picture::Histogram)
                    .or_else(|| circuit(v).map(Picture::Circuit))
            })
            .collect::<Option<_>>()
            .unwrap_or_default();
        if !drawn.is_empty() {
            return Picture::List {
                items: drawn,
                total: items.len(),
            };
        }
    }
    Picture::Json
}

/// A list of at least two numbers (integers or floats, not booleans), as floats.
fn numbers(value: &Value) -> Option<Vec<f64>> {
    let items = value.as_list().filter(|l| l.len() >= 2)?;
    items.iter().take(MAX_POINTS).map(number).collect()
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Int(_) | Value::Float(_) => v.as_f64().filter(|f| f.is_finite()),
        _ => None,
    }
}

/// A pytket unit id as stored: `[register name, [index, ...]]`.
fn unit_id(v: &Value) -> Option<(String, Vec<u64>)> {
    let [name, index] = v.as_list()? else {
        return None;
    };
    let index = index
        .as_list()?
        .iter()
        .map(|i| i.as_int().and_then(|i| u64::try_from(i).ok()))
        .collect::<Option<Vec<u64>>>()?;
    Some((name.as_str()?.to_string(), index))
}

/// `c[0]`, `q[1, 2]`, or the bare name of a register without indices.
fn unit_name((name, index): &(String, Vec<u64>)) -> String {
    if index.is_empty() {
        return name.clone();
    }
    let index: Vec<String> = index.iter().map(u64::to_string).collect();
    format!("{name}[{}]", index.join(", "))
}

fn unit_ids(v: Option<&Value>) -> Option<Vec<(String, Vec<u64>)>> {
    v?.as_list()?.iter().map(unit_id).collect()
}

/// The readouts of an `OutcomeArray` (`{"width": w, "array": [[byte, ..], ..]}`,
/// each row's bits packed big-endian, as numpy's `packbits`).
fn readouts(v: &Value) -> Option<(usize, Vec<Vec<u8>>)> {
    let m = v.as_map()?;
    let width = usize::try_from(m.get("width")?.as_int()?).ok()?;
    let rows = m.get("array")?.as_list()?;
    let rows = rows
        .iter()
        .map(|row| {
            let bytes = row
                .as_list()?
                .iter()
                .map(|b| b.as_int().and_then(|b| u8::try_from(b).ok()))
                .collect::<Option<Vec<u8>>>()?;
            (bytes.len() * 8 >= width).then(|| {
                (0..width)
                    .map(|j| (bytes[j / 8] >> (7 - j % 8)) & 1)
                    .collect()
            })
        })
        .collect::<Option<Vec<Vec<u8>>>>()?;
    Some((width, rows))
}

/// The histogram of a pytket `BackendResult.to_dict()` holding shots or
/// counts; `None` for anything else (a result holding only a state vector
/// too).
fn histogram(value: &Value) -> Option<Histogram> {
    let m = value.as_map()?;
    unit_ids(m.get("qubits"))?;
    let bits = unit_ids(m.get("bits"))?;
    if bits.is_empty() {
        return None;
    }
    // Outcome rows (in stored bit order) with their multiplicity.
    let mut rows: Vec<(Vec<u8>, u64)> = Vec::new();
    if let Some(shots) = m.get("shots") {
        let (width, readouts) = readouts(shots)?;
        if width != bits.len() {
            return None;
        }
        rows.extend(readouts.into_iter().map(|r| (r, 1)));
    } else if let Some(counts) = m.get("counts") {
        for entry in counts.as_list()? {
            let e = entry.as_map()?;
            let count = u64::try_from(e.get("count")?.as_int()?).ok()?;
            let (width, readouts) = readouts(e.get("outcome")?)?;
            if width != bits.len() {
                return None;
            }
            rows.extend(readouts.into_iter().map(|r| (r, count)));
        }
    } else {
        return None;
    }
    // pytket's default order: bits sorted (register name, then index).
    let mut order: Vec<usize> = (0..bits.len()).collect();
    order.sort_by(|&a, &b| bits[a].cmp(&bits[b]));
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut shots = 0u64;
    for (row, n) in rows {
        let key: String = order
            .iter()
            .map(|&i| if row[i] == 1 { '1' } else { '0' })
            .collect();
        *counts.entry(key).or_default() += n;
        shots += n;
    }
    let distinct = counts.len();
    let mut outcomes: Vec<Outcome> = counts
        .into_iter()
        .map(|(bits, count)| Outcome { bits, count })
        .collect();
    let mut other_count = 0;
    if outcomes.len() > MAX_BARS {
        // Keep the most frequent, then sort them back by bitstring.
        outcomes.sort_by(|a, b| b.count.cmp(&a.count).then(a.bits.cmp(&b.bits)));
        other_count = outcomes[MAX_BARS..].iter().map(|o| o.count).sum();
        outcomes.truncate(MAX_BARS);
        outcomes.sort_by(|a, b| a.bits.cmp(&b.bits));
    }
    Some(Histogram {
        width: bits.len(),
        bits: order.iter().map(|&i| unit_name(&bits[i])).collect(),
        shots,
        outcomes,
        distinct,
        other_count,
    })
}

/// The name of an operation: its type, or for a conditional operation
/// `if(<inner type>)`.
fn op_name(op: &IndexMap<String, Value>) -> Option<String> {
    let kind = op.get("type")?.as_str()?;
    if kind == "Conditional" {
        let inner = op
            .get("conditional")
            .and_then(Value::as_map)
            .and_then(|c| c.get("op"))
            .and_then(Value::as_map)
            .and_then(|o| o.get("type"))
            .and_then(Value::as_str);
        if let Some(inner) = inner {
            return Some(format!("if({inner})"));
        }
    }
    Some(kind.to_string())
}

/// The circuit of a pytket `Circuit.to_dict()`; `None` for anything else.
fn circuit(value: &Value) -> Option<CircuitPicture> {
    let m = value.as_map()?;
    let commands = m.get("commands")?.as_list()?;
    let qubits = unit_ids(m.get("qubits"))?;
    let bits = unit_ids(m.get("bits"))?;
    m.get("phase")?;
    // Wire of each unit: qubits first, then bits (a qubit wins a name that
    // both registers use).
    let mut wire_of: BTreeMap<&(String, Vec<u64>), usize> = BTreeMap::new();
    for (i, u) in qubits.iter().chain(bits.iter()).enumerate() {
        wire_of.entry(u).or_insert(i);
    }
    let n_wires = qubits.len() + bits.len();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut depth_at = vec![0usize; n_wires];
    let mut next_free = vec![0usize; n_wires];
    let mut gates = Vec::new();
    let mut columns = 0;
    for command in commands {
        let c = command.as_map()?;
        let op = c.get("op")?.as_map()?;
        let name = op_name(op)?;
        let args: Vec<(String, Vec<u64>)> = c
            .get("args")?
            .as_list()?
            .iter()
            .map(unit_id)
            .collect::<Option<_>>()?;
        // Units that are not wires of the circuit (WASM, RNG) are not drawn.
        let wires: Vec<usize> = args
            .iter()
            .filter_map(|a| wire_of.get(a).copied())
            .collect();
        *counts.entry(name.clone()).or_default() += 1;
        let before = wires.iter().map(|&w| depth_at[w]).max().unwrap_or(0);
        let level = if name == "Barrier" {
            before
        } else {
            before + 1
        };
        for &w in &wires {
            depth_at[w] = level;
        }
        if gates.len() < MAX_DRAWN_GATES && !wires.is_empty() {
            let (lo, hi) = wires
                .iter()
                .fold((usize::MAX, 0), |(lo, hi), &w| (lo.min(w), hi.max(w)));
            let column = (lo..=hi).map(|w| next_free[w]).max().unwrap_or(0);
            for slot in &mut next_free[lo..=hi] {
                *slot = column + 1;
            }
            columns = columns.max(column + 1);
            gates.push(Gate {
                label: gate_label(&name, op),
                name,
                wires,
                column,
            });
        }
    }
    Some(CircuitPicture {
        qubits: qubits.iter().map(unit_name).collect(),
        bits: bits.iter().map(unit_name).collect(),
        truncated: gates.len() < commands.len(),
        gates,
        columns,
        n_gates: commands.len(),
        counts,
        depth: depth_at.into_iter().max().unwrap_or(0),
    })
}

/// `Rz(0.2)`: the name with the operation's parameters (half-turns, as
/// pytket stores them).
fn gate_label(name: &str, op: &IndexMap<String, Value>) -> String {
    let params: Vec<String> = op
        .get("params")
        .and_then(Value::as_list)
        .map(|ps| {
            ps.iter()
                .map(|p| p.as_str().map_or_else(|| p.python_str(), str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if params.is_empty() {
        name.to_string()
    } else {
        format!("{name}({})", params.join(", "))
    }
}

/// A loop's trace (what `tkr trace` shows) as a plot: one series per output
/// port of the loop body holding numbers, one point per iteration started
/// (missing where an iteration has not produced the port yet).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trace {
    pub loc: String,
    /// The iterations read (at most [`MAX_TRACE_ITERATIONS`]).
    pub iterations: usize,
    /// Whether more iterations started than were read.
    pub truncated: bool,
    pub plot: Plot,
    /// Ports of the body that are not numbers (not plotted).
    pub other_ports: Vec<String>,
}

/// The trace of the loop at `loc`.
pub fn loop_trace(s: &dyn ControllerStorage, loc: &Loc) -> Result<Trace, ApiError> {
    let def = s.read_node_def(loc)?;
    if !matches!(def.kind, NodeKind::Loop { .. }) {
        return Err(ApiError::NotALoop {
            loc: loc.to_string(),
            node_type: def.type_name().to_string(),
        });
    }
    let mut iterations = Vec::new();
    while iterations.len() < MAX_TRACE_ITERATIONS
        && s.is_node_started(&loc.l(iterations.len() as u64))
    {
        iterations.push(loc.l(iterations.len() as u64));
    }
    let mut ports: Vec<String> = Vec::new();
    for it in &iterations {
        for p in s.read_output_ports(it).unwrap_or_default() {
            if !ports.contains(&p) {
                ports.push(p);
            }
        }
    }
    let mut series = Vec::new();
    let mut other_ports = Vec::new();
    for port in ports {
        let values: Vec<Option<Value>> = iterations
            .iter()
            .map(|it| s.read_output(it, &port).ok().map(|b| Value::from_bytes(&b)))
            .collect();
        let all_numbers = values.iter().flatten().all(|v| number(v).is_some());
        if all_numbers && values.iter().any(Option::is_some) {
            series.push(Series {
                name: port,
                points: values.iter().map(|v| v.as_ref().and_then(number)).collect(),
            });
        } else {
            other_ports.push(port);
        }
    }
    let truncated = s.is_node_started(&loc.l(iterations.len() as u64));
    Ok(Trace {
        loc: loc.to_string(),
        iterations: iterations.len(),
        truncated,
        plot: Plot { series },
        other_ports,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// Real outputs of the published workers (see testdata/pictures/README.md).
    fn recorded(name: &str) -> Vec<u8> {
        let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/pictures")
            .join(name);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    /// What pytket itself says about the recorded values.
    fn pytket_says() -> serde_json::Value {
        serde_json::from_slice(&recorded("pytket_answers.json")).expect("pytket_answers.json")
    }

    fn counts_of(h: &Histogram) -> serde_json::Value {
        h.outcomes
            .iter()
            .map(|o| (o.bits.clone(), serde_json::json!(o.count)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    }

    #[test]
    fn compile_simulate_results_are_histograms_with_pytkets_counts() {
        let Picture::List { items, total } = picture_of_bytes(&recorded("ghz_results.json")) else {
            panic!("a list of results");
        };
        let want = &pytket_says()["results"]["ghz_results.json"];
        assert_eq!(total, 3);
        assert_eq!(items.len(), 3);
        for (i, item) in items.iter().enumerate() {
            let Picture::Histogram(h) = item else {
                panic!("item {i}: {item:?}");
            };
            assert_eq!(serde_json::json!(h.width), want[i]["width"], "result {i}");
            assert_eq!(counts_of(h), want[i]["counts"], "result {i}");
            assert_eq!(h.shots, [10, 25, 40][i], "result {i}");
            assert_eq!(h.bits.len(), h.width);
            assert_eq!(h.bits[0], "c[0]");
        }
    }

    #[test]
    fn a_pauli_measurement_result_has_pytkets_counts() {
        let Picture::Histogram(h) = picture_of_bytes(&recorded("ansatz_shots.json")) else {
            panic!("a histogram");
        };
        let want = &pytket_says()["results"]["ansatz_shots.json"][0];
        assert_eq!(serde_json::json!(h.width), want["width"]);
        assert_eq!(counts_of(&h), want["counts"]);
        assert_eq!(h.shots, 200);
        assert_eq!(h.distinct, 8);
    }

    #[test]
    fn circuits_have_pytkets_depth_and_gate_counts() {
        let says = pytket_says();
        for name in [
            "ghz5_compiled.json",
            "ansatz_measured.json",
            "ansatz_optimised.json",
        ] {
            let Picture::Circuit(c) = picture_of_bytes(&recorded(name)) else {
                panic!("{name}: a circuit");
            };
            let want = &says["circuits"][name];
            assert_eq!(serde_json::json!(c.depth), want["depth"], "{name}: depth");
            assert_eq!(
                serde_json::json!(c.n_gates),
                want["n_gates"],
                "{name}: n_gates"
            );
            assert_eq!(
                serde_json::json!(c.qubits.len()),
                want["n_qubits"],
                "{name}"
            );
            assert_eq!(
                serde_json::json!(c.counts),
                want["counts"],
                "{name}: counts"
            );
            assert_eq!(c.gates.len(), c.n_gates, "{name}: every gate drawn");
            assert!(!c.truncated);
        }
    }

    #[test]
    fn gates_sharing_a_span_never_share_a_column() {
        let Picture::Circuit(c) = picture_of_bytes(&recorded("ghz5_compiled.json")) else {
            panic!("a circuit");
        };
        // TK1 on q0, then CX q0-q1 spanning it: the next column.
        assert_eq!(c.gates[0].label, "TK1(0.5, 0.5, 0.5)");
        assert_eq!((c.gates[0].wires.clone(), c.gates[0].column), (vec![0], 0));
        assert_eq!((c.gates[1].name.as_str(), c.gates[1].column), ("CX", 1));
        // Measure q1 -> c[1] spans wires 1..=6 (5 qubits, then bits).
        assert_eq!(c.gates[2].wires, vec![1, 6]);
        for (i, a) in c.gates.iter().enumerate() {
            for b in &c.gates[i + 1..] {
                let span = |g: &Gate| {
                    (
                        *g.wires.iter().min().unwrap_or(&0),
                        *g.wires.iter().max().unwrap_or(&0),
                    )
                };
                let ((a0, a1), (b0, b1)) = (span(a), span(b));
                if a0 <= b1 && b0 <= a1 {
                    assert!(b.column > a.column, "{a:?} and {b:?} overlap");
                }
            }
        }
        assert_eq!(
            c.columns,
            c.gates.iter().map(|g| g.column).max().unwrap_or(0) + 1
        );
    }

    #[test]
    fn a_barrier_orders_without_adding_depth() {
        // pytket: H q0; Barrier q0,q1; X q1; Measure q1 -> c0 has depth 3.
        let c = r#"{"bits": [["c", [0]]], "qubits": [["q", [0]], ["q", [1]]], "phase": "0.0",
          "commands": [
            {"args": [["q", [0]]], "op": {"type": "H"}},
            {"args": [["q", [0]], ["q", [1]]], "op": {"type": "Barrier", "data": "", "signature": ["Q", "Q"]}},
            {"args": [["q", [1]]], "op": {"type": "X"}},
            {"args": [["q", [1]], ["c", [0]]], "op": {"type": "Measure"}}]}"#;
        let Picture::Circuit(c) = picture_of_bytes(c.as_bytes()) else {
            panic!("a circuit");
        };
        assert_eq!((c.depth, c.n_gates), (3, 4));
    }

    #[test]
    fn counts_form_and_bit_order_follow_pytket() {
        // Bits stored as c[1], c[0]: outcomes are read in sorted order c[0] c[1].
        let r = r#"{"qubits": [], "bits": [["c", [1]], ["c", [0]]],
          "counts": [{"outcome": {"width": 2, "array": [[128]]}, "count": 7},
                     {"outcome": {"width": 2, "array": [[64]]}, "count": 3}]}"#;
        let Picture::Histogram(h) = picture_of_bytes(r.as_bytes()) else {
            panic!("a histogram");
        };
        assert_eq!(h.bits, ["c[0]", "c[1]"]);
        let got: Vec<(&str, u64)> = h
            .outcomes
            .iter()
            .map(|o| (o.bits.as_str(), o.count))
            .collect();
        assert_eq!(got, [("01", 7), ("10", 3)]);
        assert_eq!(h.shots, 10);
    }

    #[test]
    fn many_outcomes_keep_the_most_frequent_bars() {
        let rows: Vec<String> = (0..200u32)
            .flat_map(|i| std::iter::repeat_n(format!("[{i}]"), if i < 10 { 5 } else { 1 }))
            .collect();
        let r = format!(
            r#"{{"qubits": [], "bits": [{}], "shots": {{"width": 8, "array": [{}]}}}}"#,
            (0..8)
                .map(|i| format!(r#"["c", [{i}]]"#))
                .collect::<Vec<_>>()
                .join(","),
            rows.join(",")
        );
        let Picture::Histogram(h) = picture_of_bytes(r.as_bytes()) else {
            panic!("a histogram");
        };
        assert_eq!(
            (h.distinct, h.outcomes.len(), h.shots),
            (200, MAX_BARS, 240)
        );
        assert_eq!(
            h.other_count,
            240 - h.outcomes.iter().map(|o| o.count).sum::<u64>()
        );
        assert!(h.outcomes.iter().filter(|o| o.count == 5).count() == 10);
    }

    #[test]
    fn numbers_plot_and_everything_else_is_json() {
        let Picture::Plot(p) = picture_of_bytes(&recorded("sweep_energies.json")) else {
            panic!("a plot");
        };
        assert_eq!(
            p.series[0].points,
            [Some(-0.029000000000000026), Some(-0.06400000000000006)]
        );
        assert_eq!(
            picture_of_bytes(b"[1, 2.5, 3]"),
            Picture::Plot(Plot {
                series: vec![Series {
                    name: "value".into(),
                    points: vec![Some(1.0), Some(2.5), Some(3.0)]
                }]
            })
        );
        for other in [
            &b"[true, false]"[..],
            b"[1]",
            b"[1, \"a\"]",
            b"{\"a\": 1}",
            b"\"x\"",
            b"3",
            b"[]",
            b"[{\"qubits\": []}]",
        ] {
            assert_eq!(
                picture_of_bytes(other),
                Picture::Json,
                "{}",
                String::from_utf8_lossy(other)
            );
        }
        // A result holding only a state vector has no histogram.
        let state = br#"{"qubits": [["q", [0]]], "bits": [], "state": {"real": [[1.0], [0.0]], "imag": [[0.0], [0.0]]}}"#;
        assert_eq!(picture_of_bytes(state), Picture::Json);
    }
}
