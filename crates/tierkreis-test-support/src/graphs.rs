//! Graph JSON that tests of more than one crate (or test file) run, written
//! once: a slow loop to catch a run while it works, and maps of one task
//! over a list.

/// `function(x = value)` at `-.N1`, its result the output `value`; `value`
/// is JSON.
pub fn one_task_graph(function: &str, value: &str) -> String {
    format!(
        r#"{{"nodes": [
        {{"type": "const", "value": {value}, "inputs": {{}}, "outputs": {{"value": [1]}}}},
        {{"type": "function", "function_name": "{function}", "inputs": {{"x": [0, "value"]}}, "outputs": {{"value": [2]}}}},
        {{"type": "output", "inputs": {{"value": [1, "value"]}}, "outputs": {{}}}}
      ], "fixed_inputs": {{}}, "graph_inputs": [], "graph_output_idx": 2, "named_nodes": {{}}, "node_metadata": {{}}}}"#
    )
}

/// `1 / 0` with the builtin `idivide`: the task `-.N2` fails.
pub const DIVIDE_BY_ZERO_GRAPH: &str = r#"{"nodes": [
  {"type": "const", "value": 1, "inputs": {}, "outputs": {"value": [2]}},
  {"type": "const", "value": 0, "inputs": {}, "outputs": {"value": [2]}},
  {"type": "function", "function_name": "builtins.idivide", "inputs": {"a": [0, "value"], "b": [1, "value"]}, "outputs": {"value": [3]}},
  {"type": "output", "inputs": {"value": [2, "value"]}, "outputs": {}}
], "fixed_inputs": {}, "graph_inputs": [], "graph_output_idx": 3, "named_nodes": {}, "node_metadata": {}}"#;

/// A loop of `n` iterations that sleeps `delay` seconds in each (with the
/// builtin `tkr_sleep`), counting up to `n`; the loop is `-.N4`, named
/// `counter`.
pub fn slow_loop_graph(n: i64, delay: f64) -> String {
    let body = r#"{"nodes": [
        {"type": "input", "name": "i", "inputs": {}, "outputs": {"i": [4]}},
        {"type": "input", "name": "n", "inputs": {}, "outputs": {"n": [5]}},
        {"type": "input", "name": "delay", "inputs": {}, "outputs": {"delay": [6]}},
        {"type": "const", "value": 1, "inputs": {}, "outputs": {"value": [4]}},
        {"type": "function", "function_name": "builtins.iadd", "inputs": {"a": [0, "i"], "b": [3, "value"]}, "outputs": {"value": [5, 7]}},
        {"type": "function", "function_name": "builtins.igt", "inputs": {"a": [1, "n"], "b": [4, "value"]}, "outputs": {"value": [7]}},
        {"type": "function", "function_name": "builtins.tkr_sleep", "inputs": {"delay_seconds": [2, "delay"]}, "outputs": {"value": [7]}},
        {"type": "output", "inputs": {"i": [4, "value"], "should_continue": [5, "value"], "slept": [6, "value"]}, "outputs": {}}
      ], "fixed_inputs": {}, "graph_inputs": ["i", "n", "delay"], "graph_output_idx": 7,
      "named_nodes": {}, "node_metadata": {}}"#;
    format!(
        r#"{{"nodes": [
        {{"type": "const", "value": 0, "inputs": {{}}, "outputs": {{"value": [4]}}}},
        {{"type": "const", "value": {n}, "inputs": {{}}, "outputs": {{"value": [4]}}}},
        {{"type": "const", "value": {delay:?}, "inputs": {{}}, "outputs": {{"value": [4]}}}},
        {{"type": "const", "value": {body}, "inputs": {{}}, "outputs": {{"value": [4]}}}},
        {{"type": "loop", "body": [3, "value"], "inputs": {{"i": [0, "value"], "n": [1, "value"], "delay": [2, "value"]}},
          "continue_port": "should_continue", "name": "counter", "outputs": {{"i": [5]}}}},
        {{"type": "output", "inputs": {{"value": [4, "i"]}}, "outputs": {{}}}}
      ], "fixed_inputs": {{}}, "graph_inputs": [], "graph_output_idx": 5,
      "named_nodes": {{"counter": 4}}, "node_metadata": {{}}}}"#
    )
}

/// `1 + 2`, then `+ 2` again `adds - 1` times, with the builtin `iadd`:
/// the constants are `-.N0` (1) and `-.N1` (2), addition `k` (from 0) is
/// `-.N<2 + k>`, and the output `value` is `1 + 2 * adds`. `breakpoints`
/// lists the node indices whose metadata has `has_breakpoint`.
pub fn iadd_chain_graph(adds: usize, breakpoints: &[usize]) -> String {
    let twos: Vec<String> = (2..2 + adds).map(|i| i.to_string()).collect();
    let mut nodes = vec![
        r#"{"type": "const", "value": 1, "inputs": {}, "outputs": {"value": [2]}}"#.to_string(),
        format!(
            r#"{{"type": "const", "value": 2, "inputs": {{}}, "outputs": {{"value": [{}]}}}}"#,
            twos.join(", ")
        ),
    ];
    for k in 0..adds {
        let a = if k == 0 { 0 } else { 1 + k };
        nodes.push(format!(
            r#"{{"type": "function", "function_name": "builtins.iadd", "inputs": {{"a": [{a}, "value"], "b": [1, "value"]}}, "outputs": {{"value": [{}]}}}}"#,
            3 + k
        ));
    }
    nodes.push(format!(
        r#"{{"type": "output", "inputs": {{"value": [{}, "value"]}}, "outputs": {{}}}}"#,
        1 + adds
    ));
    let meta: Vec<String> = breakpoints
        .iter()
        .map(|i| format!(r#""{i}": {{"has_breakpoint": true}}"#))
        .collect();
    format!(
        r#"{{"nodes": [{}], "fixed_inputs": {{}}, "graph_inputs": [], "graph_output_idx": {}, "named_nodes": {{}}, "node_metadata": {{{}}}}}"#,
        nodes.join(",\n"),
        2 + adds,
        meta.join(", ")
    )
}

/// A map of one task over a list: each element goes to `function` on
/// `element_port`, with `constants` (port, JSON value) as its other inputs;
/// the results are folded into one list.
#[derive(Debug, Clone, Copy)]
pub struct TaskMap<'a> {
    /// `worker.function`.
    pub function: &'a str,
    pub element_port: &'a str,
    /// The list's elements, as JSON.
    pub elements: &'a [String],
    /// The task's other inputs, the same in every call: (port, JSON value).
    pub constants: &'a [(&'a str, &'a str)],
}

impl TaskMap<'_> {
    /// The map's five nodes from index `first`: the list, its unfold, the
    /// body, the map (`first + 3`) and the fold (`first + 4`), whose `value`
    /// goes to node `out`. In the body, the element is node 0, the constants
    /// follow, then the task (node `1 + constants`) and the output.
    pub fn nodes(&self, first: usize, out: usize) -> Vec<String> {
        let (list, unfold, body, map, fold) = (first, first + 1, first + 2, first + 3, first + 4);
        let port = self.element_port;
        let task = 1 + self.constants.len();
        let mut body_nodes = vec![format!(
            r#"{{"type": "input", "name": "{port}", "inputs": {{}}, "outputs": {{"{port}": [{task}]}}}}"#
        )];
        let mut task_inputs = vec![format!(r#""{port}": [0, "{port}"]"#)];
        for (i, (constant_port, value)) in self.constants.iter().enumerate() {
            body_nodes.push(format!(
                r#"{{"type": "const", "value": {value}, "inputs": {{}}, "outputs": {{"value": [{task}]}}}}"#
            ));
            task_inputs.push(format!(r#""{constant_port}": [{}, "value"]"#, i + 1));
        }
        body_nodes.push(format!(
            r#"{{"type": "function", "function_name": "{}", "inputs": {{{}}}, "outputs": {{"value": [{}]}}}}"#,
            self.function,
            task_inputs.join(", "),
            task + 1
        ));
        body_nodes.push(format!(
            r#"{{"type": "output", "inputs": {{"out": [{task}, "value"]}}, "outputs": {{}}}}"#
        ));
        let body_graph = format!(
            r#"{{"nodes": [{}], "fixed_inputs": {{}}, "graph_inputs": ["{port}"], "graph_output_idx": {}, "named_nodes": {{}}, "node_metadata": {{}}}}"#,
            body_nodes.join(", "),
            task + 1
        );
        vec![
            format!(
                r#"{{"type": "const", "value": [{}], "inputs": {{}}, "outputs": {{"value": [{unfold}]}}}}"#,
                self.elements.join(", ")
            ),
            format!(
                r#"{{"type": "function", "function_name": "builtins.unfold_values", "inputs": {{"value": [{list}, "value"]}}, "outputs": {{"*": [{map}]}}}}"#
            ),
            format!(
                r#"{{"type": "const", "value": {body_graph}, "inputs": {{}}, "outputs": {{"value": [{map}]}}}}"#
            ),
            format!(
                r#"{{"type": "map", "body": [{body}, "value"], "inputs": {{"{port}": [{unfold}, "*"]}}, "outputs": {{"*": [{fold}]}}}}"#
            ),
            format!(
                r#"{{"type": "function", "function_name": "builtins.fold_values", "inputs": {{"values_glob": [{map}, "*"]}}, "outputs": {{"value": [{out}]}}}}"#
            ),
        ]
    }

    /// A graph of this map alone: the map is `-.N3`, each call
    /// `-.N3.M<i>.N<1 + constants>`, and the output `value` is the list of
    /// results.
    pub fn graph(&self) -> String {
        graph_of_nodes(self.nodes(0, 5), &[("value", 4)])
    }
}

/// A graph of `nodes` followed by its output node, which takes port `name`
/// from the `value` of node `from` for each `(name, from)` of `outputs`.
pub fn graph_of_nodes(mut nodes: Vec<String>, outputs: &[(&str, usize)]) -> String {
    let output_idx = nodes.len();
    let inputs: Vec<String> = outputs
        .iter()
        .map(|(name, from)| format!(r#""{name}": [{from}, "value"]"#))
        .collect();
    nodes.push(format!(
        r#"{{"type": "output", "inputs": {{{}}}, "outputs": {{}}}}"#,
        inputs.join(", ")
    ));
    format!(
        r#"{{"nodes": [{}], "fixed_inputs": {{}}, "graph_inputs": [], "graph_output_idx": {output_idx}, "named_nodes": {{}}, "node_metadata": {{}}}}"#,
        nodes.join(",\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The map graph as the worker-job tests wrote it by hand before, for
    /// `napper.nap` over 1, 2, 3 (no constants), parsed: the same graph.
    #[test]
    fn a_task_map_is_the_hand_written_graph() {
        let elements: Vec<String> = (1..=3).map(|i| i.to_string()).collect();
        let built = TaskMap {
            function: "napper.nap",
            element_port: "x",
            elements: &elements,
            constants: &[],
        }
        .graph();
        let body = r#"{"nodes": [{"type": "input", "name": "x", "inputs": {}, "outputs": {"x": [1]}}, {"type": "function", "function_name": "napper.nap", "inputs": {"x": [0, "x"]}, "outputs": {"value": [2]}}, {"type": "output", "inputs": {"out": [1, "value"]}, "outputs": {}}], "fixed_inputs": {}, "graph_inputs": ["x"], "graph_output_idx": 2, "named_nodes": {}, "node_metadata": {}}"#;
        let by_hand = format!(
            r#"{{"nodes": [
  {{"type": "const", "value": [1, 2, 3], "inputs": {{}}, "outputs": {{"value": [1]}}}},
  {{"type": "function", "function_name": "builtins.unfold_values", "inputs": {{"value": [0, "value"]}}, "outputs": {{"*": [3]}}}},
  {{"type": "const", "value": {body}, "inputs": {{}}, "outputs": {{"value": [3]}}}},
  {{"type": "map", "body": [2, "value"], "inputs": {{"x": [1, "*"]}}, "outputs": {{"*": [4]}}}},
  {{"type": "function", "function_name": "builtins.fold_values", "inputs": {{"values_glob": [3, "*"]}}, "outputs": {{"value": [5]}}}},
  {{"type": "output", "inputs": {{"value": [4, "value"]}}, "outputs": {{}}}}
], "fixed_inputs": {{}}, "graph_inputs": [], "graph_output_idx": 5, "named_nodes": {{}}, "node_metadata": {{}}}}"#
        );
        assert_eq!(without_white_space(&built), without_white_space(&by_hand));
    }

    /// The chain as the breakpoint tests wrote it by hand before: three
    /// additions, each a breakpoint.
    #[test]
    fn an_iadd_chain_is_the_hand_written_graph() {
        let by_hand = r#"{"nodes": [
 {"type": "const", "value": 1, "inputs": {}, "outputs": {"value": [2]}},
 {"type": "const", "value": 2, "inputs": {}, "outputs": {"value": [2, 3, 4]}},
 {"type": "function", "function_name": "builtins.iadd", "inputs": {"a": [0, "value"], "b": [1, "value"]}, "outputs": {"value": [3]}},
 {"type": "function", "function_name": "builtins.iadd", "inputs": {"a": [2, "value"], "b": [1, "value"]}, "outputs": {"value": [4]}},
 {"type": "function", "function_name": "builtins.iadd", "inputs": {"a": [3, "value"], "b": [1, "value"]}, "outputs": {"value": [5]}},
 {"type": "output", "inputs": {"value": [4, "value"]}, "outputs": {}}
], "fixed_inputs": {}, "graph_inputs": [], "graph_output_idx": 5, "named_nodes": {},
 "node_metadata": {"2": {"has_breakpoint": true}, "3": {"has_breakpoint": true}, "4": {"has_breakpoint": true}}}"#;
        assert_eq!(
            without_white_space(&iadd_chain_graph(3, &[2, 3, 4])),
            without_white_space(by_hand)
        );
    }

    fn without_white_space(s: &str) -> String {
        s.chars().filter(|c| !c.is_whitespace()).collect()
    }
}
