//! Property tests of what reads untrusted bytes: the JSON reader and writer
//! (`parse(write(v)) == v` for any value, no panic on any input) and the
//! graph loader on structurally mutated conformance graphs (no panic, and
//! an error that says where: a field path or a JSON position).

use proptest::prelude::*;
use tierkreis_core::json::{parse, to_string_compact, to_string_pretty};
use tierkreis_core::{GraphData, Value};

/// Keys the value encoding reserves (`__tkr_bytes__`, `__tkr_complex__`):
/// an object holding them reads back as bytes or a complex number, by design.
fn plain_key() -> impl Strategy<Value = String> {
    any::<String>().prop_filter("reserved by the encoding", |k| !k.starts_with("__tkr_"))
}

/// Any value that compares equal to itself (no NaN), nested a few levels.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::int),
        any::<i128>().prop_map(|i| Value::Int(i.into())),
        any::<f64>()
            .prop_filter("NaN is not equal to itself", |f| !f.is_nan())
            .prop_map(Value::Float),
        any::<String>().prop_map(Value::Str),
        proptest::collection::vec(any::<u8>(), 0..24).prop_map(Value::Bytes),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::List),
            proptest::collection::vec((plain_key(), inner), 0..6)
                .prop_map(|entries| Value::Map(entries.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn json_written_either_way_reads_back_as_the_same_value(v in value()) {
        prop_assert_eq!(parse(to_string_pretty(&v).as_bytes()).expect("pretty parses"), v.clone());
        prop_assert_eq!(parse(to_string_compact(&v).as_bytes()).expect("compact parses"), v);
    }

    #[test]
    fn the_file_encoding_reads_back_as_the_same_value(v in value()) {
        // A top-level bytes value is written raw, and raw bytes that happen
        // to be JSON read as that JSON: only nested bytes round-trip.
        prop_assume!(!matches!(v, Value::Bytes(_)));
        prop_assert_eq!(Value::from_bytes(&v.to_bytes()), v);
    }

    #[test]
    fn any_bytes_parse_or_fail_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        if let Err(e) = parse(&bytes) {
            prop_assert!(e.to_string().contains("at line"), "{}", e);
        }
        let _ = Value::from_bytes(&bytes);
    }

    #[test]
    fn json_like_text_parses_or_fails_without_panicking(
        text in proptest::collection::vec(
            proptest::sample::select(vec![
                "{", "}", "[", "]", "\"", ":", ",", "0", "-1", "1e999", ".5", "e", "true",
                "null", "NaN", "-Infinity", "\\u", "d800", "\\", " ", "\"a\"", "{\"__tkr_bytes__\": true, \"bytes\": ",
            ]),
            0..64,
        )
    ) {
        let text: String = text.concat();
        let _ = parse(text.as_bytes());
        let _ = GraphData::from_json(text.as_bytes());
    }
}

/// Every conformance case's graph, as a JSON value.
fn conformance_graphs() -> Vec<(String, Value)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/fixtures/conformance");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir)
        .expect("conformance folder")
        .flatten()
    {
        let graph = entry.path().join("graph.json");
        if let Ok(bytes) = std::fs::read(&graph) {
            let v = parse(&bytes).expect("recorded graphs parse");
            out.push((entry.file_name().to_string_lossy().into_owned(), v));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(
        out.len() > 20,
        "conformance graphs expected in {}",
        dir.display()
    );
    out
}

/// How many places (values) `v` has, in pre-order.
fn count_places(v: &Value) -> usize {
    1 + match v {
        Value::List(items) => items.iter().map(count_places).sum(),
        Value::Map(m) => m.values().map(count_places).sum(),
        _ => 0,
    }
}

/// One structural change at the `target`-th place of `v` (pre-order).
#[derive(Debug, Clone)]
enum Mutation {
    Replace(Value),
    /// Removes the `n`-th entry of an object or list (else replaces by null).
    Remove(usize),
    /// Repeats the `n`-th entry of a list.
    Duplicate(usize),
}

fn mutate(v: &mut Value, target: &mut usize, m: &Mutation) -> bool {
    if *target == 0 {
        match (m, &mut *v) {
            (Mutation::Replace(new), _) => *v = new.clone(),
            (Mutation::Remove(n), Value::List(items)) if !items.is_empty() => {
                items.remove(n % items.len());
            }
            (Mutation::Remove(n), Value::Map(map)) if !map.is_empty() => {
                let i = n % map.len();
                map.shift_remove_index(i);
            }
            (Mutation::Duplicate(n), Value::List(items)) if !items.is_empty() => {
                let item = items[n % items.len()].clone();
                items.push(item);
            }
            _ => *v = Value::Null,
        }
        return true;
    }
    *target -= 1;
    match v {
        Value::List(items) => items.iter_mut().any(|i| mutate(i, target, m)),
        Value::Map(map) => map.values_mut().any(|i| mutate(i, target, m)),
        _ => false,
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        prop_oneof![
            Just(Value::Null),
            Just(Value::int(-1)),
            Just(Value::int(-7)),
            Just(Value::int(0)),
            Just(Value::int(1)),
            Just(Value::int(3)),
            Just(Value::Int(i128::MAX.into())),
            Just(Value::Float(1.5)),
            Just(Value::from("x")),
            Just(Value::from("-.N1")),
            Just(Value::List(vec![])),
            Just(Value::List(vec![Value::int(0), Value::from("value")])),
            Just(Value::Map(Default::default())),
        ]
        .prop_map(Mutation::Replace),
        any::<usize>().prop_map(Mutation::Remove),
        any::<usize>().prop_map(Mutation::Duplicate),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Up to three structural changes anywhere in a recorded graph: loading
    /// and validating never panics, and an error says where (a field path
    /// `at nodes[3].inputs.a`, or a JSON position).
    #[test]
    fn mutated_graphs_load_or_fail_saying_where(
        case in any::<proptest::sample::Index>(),
        changes in proptest::collection::vec((any::<proptest::sample::Index>(), mutation()), 1..4),
    ) {
        let graphs = conformance_graphs();
        let (name, original) = &graphs[case.index(graphs.len())];
        let mut graph = original.clone();
        for (place, m) in &changes {
            let mut target = place.index(count_places(&graph));
            mutate(&mut graph, &mut target, m);
        }
        let text = to_string_compact(&graph);
        let loaded = GraphData::from_json(text.as_bytes()).and_then(|g| g.validate().map(|()| g));
        if let Err(e) = loaded {
            let message = e.to_string();
            prop_assert!(
                message.starts_with("at ") || message.contains(" at ") || message.contains("at line"),
                "{}: {:?}: {}", name, changes, message
            );
        }
    }
}
