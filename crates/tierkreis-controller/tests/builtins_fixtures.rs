//! Runs every row of `testdata/fixtures/builtins.json` (recorded from the
//! reference) through the in-process builtins and compares output bytes or
//! error text exactly; plus the primitive tasks the fixtures leave out.

use std::path::PathBuf;
use std::sync::Arc;

use indexmap::IndexMap;
use tierkreis_controller::builtins;
use tierkreis_core::Value;

fn fixtures_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/fixtures/builtins.json")
}

/// The fixtures show bytes as latin-1 text: each char is one byte.
fn latin1(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| u8::try_from(u32::from(c)).expect("latin-1 char"))
        .collect()
}

fn inputs(pairs: &[(&str, &[u8])]) -> IndexMap<String, Arc<[u8]>> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Arc::from(*v)))
        .collect()
}

#[test]
fn every_recorded_builtin_call_matches() {
    let text = std::fs::read_to_string(fixtures_path()).expect("read builtins.json");
    let rows = tierkreis_core::json::parse(text.as_bytes()).expect("parse builtins.json");
    let Value::List(rows) = rows else {
        panic!("builtins.json is not a list")
    };
    assert_eq!(rows.len(), 120);
    let text_of = |v: &Value| latin1(v.as_str().expect("a string"));
    let mut failures = Vec::new();
    for (n, row) in rows.iter().enumerate() {
        let row = row.as_map().expect("a row object");
        let function = row["function"].as_str().expect("function");
        let ins: IndexMap<String, Arc<[u8]>> = row["inputs"]
            .as_map()
            .expect("inputs")
            .iter()
            .map(|(k, v)| (k.clone(), Arc::from(text_of(v))))
            .collect();
        let result = if let Some(outs) = row.get("outputs") {
            let outs = outs.as_map().expect("outputs");
            let ports: Vec<String> = outs.keys().cloned().collect();
            let expected: Vec<(String, Vec<u8>)> =
                outs.iter().map(|(k, v)| (k.clone(), text_of(v))).collect();
            match builtins::run(function, &ins, &ports) {
                Ok(got) if got == expected => Ok(()),
                other => Err(format!("expected outputs {expected:?}, got {other:?}")),
            }
        } else {
            let expected = row["error"].as_str().expect("error");
            match builtins::run(function, &ins, &["value".to_string()]) {
                Err(e) if e.to_string() == expected => Ok(()),
                other => Err(format!("expected error {expected:?}, got {other:?}")),
            }
        };
        if let Err(msg) = result {
            failures.push(format!(
                "row {n} ({function} {:?}): {msg}",
                row["inputs"].python_repr()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn fold_values_orders_by_index_number() {
    // value-10 must come after value-9 (numeric, not lexicographic, order),
    // whatever order the inputs arrive in.
    let mut pairs: Vec<(String, Vec<u8>)> = (0..12)
        .map(|i| (format!("value-{i}"), i.to_string().into_bytes()))
        .collect();
    pairs.reverse();
    pairs.swap(0, 5);
    let ins: IndexMap<String, Arc<[u8]>> = pairs
        .iter()
        .map(|(k, v)| (k.clone(), Arc::from(v.as_slice())))
        .collect();
    let out = builtins::run("fold_values", &ins, &["value".to_string()]).expect("fold");
    let expected: Vec<String> = (0..12).map(|i| format!("  {i}")).collect();
    let expected = format!("[\n{}\n]", expected.join(",\n"));
    assert_eq!(out, vec![("value".to_string(), expected.into_bytes())]);
}

#[test]
fn fold_values_keeps_raw_bytes_as_tkr_bytes() {
    // A non-JSON element is bytes; inside the list the reference writes it
    // as {"__tkr_bytes__": true, "bytes": <base64>}.
    let ins = inputs(&[("value-1", b"\xff"), ("value-0", b"\"a\"")]);
    let out = builtins::run("fold_values", &ins, &[]).expect("fold");
    assert_eq!(
        out,
        vec![(
            "value".to_string(),
            b"[\n  \"a\",\n  {\n    \"__tkr_bytes__\": true,\n    \"bytes\": \"/w==\"\n  }\n]"
                .to_vec()
        )]
    );
}

#[test]
fn fold_values_of_nothing_is_an_empty_list() {
    let out = builtins::run("fold_values", &inputs(&[]), &[]).expect("fold");
    assert_eq!(out, vec![("value".to_string(), b"[]".to_vec())]);
}

#[test]
fn unfold_values_writes_one_output_per_element() {
    let ins = inputs(&[("value", b"[\"a\", [1, 2], null]")]);
    let out = builtins::run("unfold_values", &ins, &[]).expect("unfold");
    assert_eq!(
        out,
        vec![
            ("0".to_string(), b"\"a\"".to_vec()),
            ("1".to_string(), b"[\n  1,\n  2\n]".to_vec()),
            ("2".to_string(), b"null".to_vec()),
        ]
    );
    // A string is a Python sequence: one output per character.
    let out =
        builtins::run("unfold_values", &inputs(&[("value", b"\"ab\"")]), &[]).expect("unfold str");
    assert_eq!(
        out,
        vec![
            ("0".to_string(), b"\"a\"".to_vec()),
            ("1".to_string(), b"\"b\"".to_vec()),
        ]
    );
    // A dict is not: the reference's message uses Python's str().
    let err = builtins::run(
        "unfold_values",
        &inputs(&[("value", b"{\"k\": true}")]),
        &[],
    )
    .map_err(|e| e.to_string());
    assert_eq!(err, Err("Expected list found {'k': True}".to_string()));
    let err = builtins::run("unfold_values", &inputs(&[]), &[]).map_err(|e| e.to_string());
    assert_eq!(err, Err("'value'".to_string()));
}
