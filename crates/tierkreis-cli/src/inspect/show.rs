//! `tkr show`: the nodes of a run, or of one scope, as a tree with status,
//! timing and a short rendering of outputs. Works from the stored graphs
//! (`<scope>.N-1/outputs/body`) and the markers, so not-started nodes show too.

use std::collections::{BTreeSet, HashMap};
use std::time::SystemTime;

use anyhow::{bail, Context};
use clap::Args;
use indexmap::IndexMap;
use tierkreis_core::graph::{ConstValue, NodeKind};
use tierkreis_core::{GraphData, Loc, NodeDef, Step, Value};
use tierkreis_storage::{ControllerStorage, FileControllerStorage};

use super::render::{self, obj, opt_f64, opt_str};
use super::workflows::{self, Status};
use super::RunAndLoc;
use crate::exit;

pub const HELP: &str = "\
Each node shows its index in its graph (N3), its type and function, input
name, loop name or constant, its status (not started, running, done, failed;
interrupted when started but the workflow is no longer running), how long it
took, and its outputs, cut short. Loops list their iterations (L0, L1, ...) and
maps their elements (M0, M1, ...), each with the nodes of its body; more than
10 are collapsed (the first 3, failed ones, a count by status, the last one)
unless --all. A failed scope is one with a failed node inside.

Examples:
  tkr show 1c0a9d2e
  tkr show --run-id 7 -.N4.M3
  tkr show my_workflow --depth 1
  tkr show --run-id 7 --json";

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// `RUN [LOC]`: the workflow (UUID, unique prefix or name; omit with
    /// --run-id) and optionally the location of a node or scope (e.g. -.N3,
    /// -.N2.L1, -.N4.M0).
    #[arg(value_name = "RUN [LOC]", num_args = 0.., allow_hyphen_values = true)]
    words: Vec<String>,
    #[command(flatten)]
    target: RunAndLoc,
    /// Show every loop iteration and map element (no collapsing).
    #[arg(long)]
    all: bool,
    /// Show at most N levels of nesting below the first line.
    #[arg(long, value_name = "N")]
    depth: Option<usize>,
    /// Machine-readable output: the same tree as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Loops and maps with more items than this are collapsed.
const COLLAPSE_OVER: usize = 10;
/// How many leading items a collapsed list keeps.
const KEEP_FIRST: usize = 3;
/// How many failed or running items a collapsed list keeps besides.
const KEEP_NOTABLE: usize = 5;
/// Output values are cut to this many characters.
const VALUE_WIDTH: usize = 40;
/// Output ports shown on one line.
const PORTS_SHOWN: usize = 3;

pub fn run(a: ShowArgs) -> anyhow::Result<u8> {
    let a = &super::reparse(a, |a| &a.words)?;
    let (opened, pos) = a.target.open(&a.words)?;
    if let Some(extra) = pos.rest.first() {
        bail!("unexpected argument {extra:?}: give `RUN [LOC]` (a location starts with -)");
    }
    let st = &opened.storage;
    let summary = workflows::summarise(st.tkr_dir(), st.workflow_id());
    let ctx = Ctx::new(
        st,
        summary.status == Status::Running,
        a.all,
        a.depth,
        a.json,
    )?;
    let loc = pos.loc.unwrap_or_else(Loc::root);
    let view = ctx.view_at(&loc)?;
    let worker_jobs = tierkreis_storage::worker_jobs::worker_jobs(st.workflow_dir());
    if a.json {
        let jobs: Vec<Value> = worker_jobs
            .iter()
            .map(|j| {
                obj([
                    ("name", Value::from(j.name.as_str())),
                    ("worker", Value::from(j.worker.as_str())),
                    ("system", Value::from(j.system.as_str())),
                    ("job_id", Value::from(j.job_id.as_str())),
                    ("host", opt_str(j.host.as_deref())),
                    ("state", Value::from(j.state.as_str())),
                    ("ended", opt_str(j.ended.as_deref())),
                ])
            })
            .collect();
        render::print_json(&obj([
            ("workflow", super::ls::to_json(&summary)),
            ("tree", view.to_json()),
            ("worker_jobs", Value::List(jobs)),
        ]));
    } else {
        let mut head = format!("workflow {}", summary.id);
        if let Some(n) = &summary.name {
            head.push_str(&format!(" ({n})"));
        }
        head.push_str(&format!(
            ": {}, started {}",
            summary.status.as_str(),
            render::short_time(&summary.start_time)
        ));
        if let Some(d) = summary.duration {
            head.push_str(&format!(", took {}", render::duration(d)));
        }
        if summary.status == Status::Paused {
            let at: Vec<String> = tierkreis_storage::breakpoints::paused_locations(st)
                .iter()
                .map(ToString::to_string)
                .collect();
            head.push_str(&format!(
                ", at breakpoint {} (`tkr resume` continues)",
                at.join(", ")
            ));
        }
        outln!("{head}");
        let mut out = String::new();
        view.write(&mut out, "", "");
        out!("{out}");
        if !worker_jobs.is_empty() {
            outln!("worker jobs:");
            for j in &worker_jobs {
                let host = j
                    .host
                    .as_deref()
                    .map_or(String::new(), |h| format!(" on {h}"));
                let ended = j
                    .ended
                    .as_deref()
                    .map_or(String::new(), |e| format!(": {e}"));
                outln!(
                    "  {}  {} job {}{host}  {}{ended}",
                    j.name,
                    j.system,
                    j.job_id,
                    j.state
                );
            }
        }
    }
    Ok(exit::OK)
}

/// A node's state as `tkr show` shows it: storage's
/// [`tierkreis_storage::NodeStatus`], with a started node told apart as
/// running or interrupted, and a scope with a failed node inside failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum ShownNodeStatus {
    NotStarted,
    Running,
    Interrupted,
    Done,
    Failed,
}

impl ShownNodeStatus {
    fn as_str(self) -> &'static str {
        match self {
            ShownNodeStatus::NotStarted => "not started",
            ShownNodeStatus::Running => "running",
            ShownNodeStatus::Interrupted => "interrupted",
            ShownNodeStatus::Done => "done",
            ShownNodeStatus::Failed => "failed",
        }
    }
}

/// Everything read once per command.
struct Ctx<'a> {
    st: &'a FileControllerStorage,
    live: bool,
    all: bool,
    depth: Option<usize>,
    /// Read every output value (JSON) rather than the few shown.
    full_outputs: bool,
    /// The failed nodes ([`tierkreis_storage::failed_nodes`]).
    errors: BTreeSet<String>,
    /// Location -> its loop iterations or map elements present on disk.
    items: HashMap<String, Vec<Step>>,
}

/// One line of the tree and what is below it.
struct View {
    loc: Loc,
    label: String,
    kind: String,
    detail: String,
    status: ShownNodeStatus,
    started: Option<SystemTime>,
    finished: Option<SystemTime>,
    outputs: Vec<(String, Value)>,
    more_outputs: usize,
    children: Vec<Item>,
}

enum Item {
    Node(View),
    /// Iterations or elements left out: how many, by status.
    Collapsed {
        what: &'static str,
        count: usize,
        by_status: Vec<(ShownNodeStatus, usize)>,
    },
}

impl<'a> Ctx<'a> {
    fn new(
        st: &'a FileControllerStorage,
        live: bool,
        all: bool,
        depth: Option<usize>,
        full_outputs: bool,
    ) -> anyhow::Result<Ctx<'a>> {
        let mut items: HashMap<String, Vec<Step>> = HashMap::new();
        let dir = st.workflow_dir();
        let entries = std::fs::read_dir(dir)
            .with_context(|| format!("cannot list the workflow folder {}", dir.display()))?;
        let mut locs = Vec::new();
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Ok(loc) = Loc::parse(&name) else { continue };
            if let Some((step @ (Step::L(_) | Step::M(_)), parent)) = loc.pop_last() {
                items
                    .entry(parent.as_str().to_string())
                    .or_default()
                    .push(step);
            }
            locs.push(loc);
        }
        let errors: BTreeSet<String> =
            tierkreis_storage::workflow_status::failed_nodes_among(st, &locs)
                .iter()
                .map(|loc| loc.as_str().to_string())
                .collect();
        for v in items.values_mut() {
            v.sort_by_key(Step::index);
        }
        Ok(Ctx {
            st,
            live,
            all,
            depth,
            full_outputs,
            errors,
            items,
        })
    }

    /// Whether what is nested at `depth` is shown (`--depth`).
    fn within_depth(&self, depth: usize) -> bool {
        match self.depth {
            Some(d) => depth < d,
            None => true,
        }
    }

    fn status(&self, loc: &Loc) -> ShownNodeStatus {
        let prefix = format!("{}.", loc.as_str());
        let failed_inside = self
            .errors
            .range(prefix.clone()..)
            .next()
            .is_some_and(|e| e.starts_with(&prefix));
        match tierkreis_storage::node_status(self.st, loc) {
            tierkreis_storage::NodeStatus::Finished => ShownNodeStatus::Done,
            tierkreis_storage::NodeStatus::Failed => ShownNodeStatus::Failed,
            _ if failed_inside => ShownNodeStatus::Failed,
            tierkreis_storage::NodeStatus::Started if self.live => ShownNodeStatus::Running,
            tierkreis_storage::NodeStatus::Started => ShownNodeStatus::Interrupted,
            tierkreis_storage::NodeStatus::NotStarted => ShownNodeStatus::NotStarted,
        }
    }

    /// The view of the node or scope at `loc`, as the top of the tree.
    fn view_at(&self, loc: &Loc) -> anyhow::Result<View> {
        match loc.pop_last() {
            None => Ok(self.root()),
            Some((Step::N(_), _)) => {
                let def = match self.st.read_node_def(loc) {
                    Ok(def) => def,
                    Err(e) if e.is_not_found() => {
                        let parent = loc.parent().unwrap_or_else(Loc::root);
                        let in_graph = self.body(&[parent.n(-1)]).map(|g| {
                            usize::try_from(loc.peek_index()).is_ok_and(|k| k < g.nodes.len())
                        });
                        if in_graph == Some(false) {
                            bail!("no node {loc}: the graph of {parent} has no node {}; `tkr show RUN {parent}` lists its nodes", loc.last_step())
                        }
                        if self.st.node_dir(loc).exists() || self.st.is_node_started(&parent) {
                            bail!(
                                "node {loc} has not started (its definition is written when it starts); `tkr show RUN {parent}` shows its scope"
                            )
                        }
                        bail!("no node {loc} in this workflow; `tkr show RUN` lists its nodes")
                    }
                    Err(e) => return Err(e).with_context(|| format!("cannot read node {loc}")),
                };
                Ok(self.node(loc, loc.as_str().to_string(), &def, 0))
            }
            Some((step, _)) => {
                if !self.st.node_dir(loc).exists() {
                    bail!("no {} {loc} in this workflow", item_word(step));
                }
                Ok(self.item(loc, step, 0))
            }
        }
    }

    fn root(&self) -> View {
        let root = Loc::root();
        let mut v = self.base(&root, "-".to_string(), "graph", String::new());
        v.children = self.scope(&root, &[root.n(-1)], 0);
        v
    }

    fn base(&self, loc: &Loc, label: String, kind: &str, detail: String) -> View {
        let (outputs, more_outputs) = self.outputs(loc);
        View {
            loc: loc.clone(),
            label,
            kind: kind.to_string(),
            detail,
            status: self.status(loc),
            started: self.st.started_time(loc).ok().flatten(),
            finished: self.st.finished_time(loc).ok().flatten(),
            outputs,
            more_outputs,
            children: Vec::new(),
        }
    }

    fn outputs(&self, loc: &Loc) -> (Vec<(String, Value)>, usize) {
        let mut ports = self.st.read_output_ports(loc).unwrap_or_default();
        ports.sort_by(|a, b| natural_key(a).cmp(&natural_key(b)));
        let shown = if self.full_outputs {
            ports.len()
        } else {
            ports.len().min(PORTS_SHOWN)
        };
        let values = ports[..shown]
            .iter()
            .filter_map(|p| {
                let bytes = self.st.read_output(loc, p).ok()?;
                Some((p.clone(), Value::from_bytes(&bytes)))
            })
            .collect();
        (values, ports.len() - shown)
    }

    /// The graph stored at the first of `body_locs` that has one.
    fn body(&self, body_locs: &[Loc]) -> Option<GraphData> {
        body_locs.iter().find_map(|b| {
            let bytes = self.st.read_output(b, "body").ok()?;
            GraphData::from_json(&bytes).ok()
        })
    }

    /// The nodes of the graph run in scope `scope`, whose body is stored at
    /// the first of `body_locs` that has one.
    fn scope(&self, scope: &Loc, body_locs: &[Loc], depth: usize) -> Vec<Item> {
        if !self.within_depth(depth) {
            return Vec::new();
        }
        let Some(graph) = self.body(body_locs) else {
            return Vec::new();
        };
        graph
            .nodes
            .iter()
            .enumerate()
            .map(|(i, def)| {
                let loc = scope.n(i as i64);
                Item::Node(self.node(&loc, format!("N{i}"), def, depth + 1))
            })
            .collect()
    }

    fn node(&self, loc: &Loc, label: String, def: &NodeDef, depth: usize) -> View {
        let detail = match &def.kind {
            NodeKind::Function { function_name } => function_name.clone(),
            NodeKind::Input { name } => name.clone(),
            NodeKind::Const { value } => match value {
                ConstValue::Graph(g) => format!("<graph: {} nodes>", g.nodes.len()),
                ConstValue::Value(v) => render::value_short(v, VALUE_WIDTH),
            },
            NodeKind::Loop { name, .. } => name.clone().unwrap_or_default(),
            _ => String::new(),
        };
        let mut v = self.base(loc, label, def.type_name(), detail);
        if matches!(def.kind, NodeKind::Function { .. }) {
            if let Some((run, from)) = tierkreis_storage::result_cache::cache_source(self.st, loc) {
                v.detail = format!("{} [cached from {run} {from}]", v.detail);
            }
            if let Some(job) = self
                .st
                .read_executor_data(loc)
                .ok()
                .and_then(|d| batch_job_label(&d.executor, d.job_id.as_deref()?))
            {
                v.detail = format!("{} [{job}]", v.detail);
            }
            let failed = tierkreis_storage::attempts::failed_attempts(self.st, loc);
            if failed > 0 {
                v.detail = format!(
                    "{} [{failed} failed attempt{}, see {}/attempts]",
                    v.detail,
                    if failed == 1 { "" } else { "s" },
                    loc
                );
            }
        }
        match &def.kind {
            NodeKind::Eval { .. } => v.children = self.scope(loc, &[loc.n(-1)], depth),
            NodeKind::Loop { .. } | NodeKind::Map { .. } => {
                let what = if matches!(def.kind, NodeKind::Loop { .. }) {
                    "iterations"
                } else {
                    "elements"
                };
                let steps = self.items.get(loc.as_str()).cloned().unwrap_or_default();
                let steps: Vec<Step> = steps
                    .into_iter()
                    .filter(|s| {
                        matches!(
                            (s, what),
                            (Step::L(_), "iterations") | (Step::M(_), "elements")
                        )
                    })
                    .collect();
                let count = format!("{} {}", steps.len(), what);
                v.detail = if v.detail.is_empty() {
                    format!("({count})")
                } else {
                    format!("{} ({count})", v.detail)
                };
                if self.within_depth(depth) {
                    v.children = self.items_of(loc, &steps, what, depth);
                }
            }
            _ => {}
        }
        if matches!(def.kind, NodeKind::Eval { .. } | NodeKind::Map { .. }) {
            // A nested graph reused whole from the cache: no inner nodes here.
            if let Some((run, from)) = tierkreis_storage::result_cache::cache_source(self.st, loc) {
                v.detail = format!("[whole graph cached from {run} {from}]");
            }
        }
        v
    }

    fn items_of(&self, loc: &Loc, steps: &[Step], what: &'static str, depth: usize) -> Vec<Item> {
        let n = steps.len();
        let statuses: Vec<ShownNodeStatus> =
            steps.iter().map(|s| self.status(&loc.push(*s))).collect();
        let mut keep = vec![true; n];
        if !self.all && n > COLLAPSE_OVER {
            keep = (0..n).map(|i| i < KEEP_FIRST || i == n - 1).collect();
            let mut notable = 0;
            for i in KEEP_FIRST..n - 1 {
                if notable < KEEP_NOTABLE
                    && matches!(
                        statuses[i],
                        ShownNodeStatus::Failed | ShownNodeStatus::Running
                    )
                {
                    keep[i] = true;
                    notable += 1;
                }
            }
        }
        let mut out = Vec::new();
        let mut i = 0;
        while i < n {
            if keep[i] {
                out.push(Item::Node(self.item(
                    &loc.push(steps[i]),
                    steps[i],
                    depth + 1,
                )));
                i += 1;
                continue;
            }
            let mut counts: IndexMap<ShownNodeStatus, usize> = IndexMap::new();
            let start = i;
            while i < n && !keep[i] {
                *counts.entry(statuses[i]).or_default() += 1;
                i += 1;
            }
            let mut by_status: Vec<(ShownNodeStatus, usize)> = counts.into_iter().collect();
            by_status.sort();
            out.push(Item::Collapsed {
                what,
                count: i - start,
                by_status,
            });
        }
        out
    }

    /// A loop iteration or map element and the nodes of its body.
    fn item(&self, loc: &Loc, step: Step, depth: usize) -> View {
        let kind = item_word(step);
        let mut v = self.base(loc, step.to_string(), kind, String::new());
        let parent = loc.pop_last().map(|(_, p)| p).unwrap_or_else(Loc::root);
        v.children = self.scope(loc, &[loc.n(-1), parent.n(-1)], depth);
        v
    }
}

/// `slurm worker job 12` or `slurm job 12`: the batch job a task ran in,
/// from its executor record (`tierkreis-rs:slurm-worker-job:python-warm`,
/// `tierkreis-rs:slurm:binary`).
fn batch_job_label(executor: &str, job_id: &str) -> Option<String> {
    let first = executor.strip_prefix("tierkreis-rs:")?.split(':').next()?;
    match first.strip_suffix("-worker-job") {
        Some(system) => Some(format!("{system} worker job {job_id}")),
        None => ["slurm", "pbs", "pjsub"]
            .contains(&first)
            .then(|| format!("{first} job {job_id}")),
    }
}

fn item_word(step: Step) -> &'static str {
    match step {
        Step::L(_) => "iteration",
        Step::M(_) => "element",
        _ => "node",
    }
}

/// Sorts `value-10` after `value-9`.
fn natural_key(port: &str) -> (&str, u64) {
    let digits = port.len() - port.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let (head, tail) = port.split_at(port.len() - digits);
    (head, tail.parse().unwrap_or(0))
}

impl View {
    fn line(&self) -> String {
        let mut s = format!("{}  {}", self.label, self.kind);
        if !self.detail.is_empty() {
            s.push(' ');
            s.push_str(&self.detail);
        }
        s.push_str("  ");
        s.push_str(self.status.as_str());
        if let Some(d) = render::between(self.started, self.finished) {
            s.push(' ');
            s.push_str(&render::duration(d));
        }
        if !self.outputs.is_empty() {
            s.push_str("  ");
            let parts: Vec<String> = self
                .outputs
                .iter()
                .map(|(p, v)| format!("{p}={}", render::value_short(v, VALUE_WIDTH)))
                .collect();
            s.push_str(&parts.join(" "));
            if self.more_outputs > 0 {
                s.push_str(&format!(" (+{} more)", self.more_outputs));
            }
        }
        s
    }

    fn write(&self, out: &mut String, first: &str, rest: &str) {
        out.push_str(first);
        out.push_str(&self.line());
        out.push('\n');
        let n = self.children.len();
        for (i, child) in self.children.iter().enumerate() {
            let last = i + 1 == n;
            let (f, r) = if last {
                ("└─ ", "   ")
            } else {
                ("├─ ", "│  ")
            };
            let first = format!("{rest}{f}");
            let next = format!("{rest}{r}");
            match child {
                Item::Node(v) => v.write(out, &first, &next),
                Item::Collapsed {
                    what,
                    count,
                    by_status,
                } => {
                    let parts: Vec<String> = by_status
                        .iter()
                        .map(|(s, c)| format!("{c} {}", s.as_str()))
                        .collect();
                    out.push_str(&format!(
                        "{first}… {count} more {what}: {}\n",
                        parts.join(", ")
                    ));
                }
            }
        }
    }

    fn to_json(&self) -> Value {
        let outputs: IndexMap<String, Value> = self.outputs.iter().cloned().collect();
        let children: Vec<Value> = self
            .children
            .iter()
            .map(|c| match c {
                Item::Node(v) => v.to_json(),
                Item::Collapsed {
                    what,
                    count,
                    by_status,
                } => obj([
                    ("collapsed", Value::from(*what)),
                    ("count", Value::int(*count as i64)),
                    (
                        "statuses",
                        Value::Map(
                            by_status
                                .iter()
                                .map(|(s, c)| (s.as_str().to_string(), Value::int(*c as i64)))
                                .collect(),
                        ),
                    ),
                ]),
            })
            .collect();
        obj([
            ("loc", Value::from(self.loc.as_str())),
            ("label", Value::from(self.label.clone())),
            ("type", Value::from(self.kind.clone())),
            (
                "detail",
                opt_str(Some(self.detail.as_str()).filter(|d| !d.is_empty())),
            ),
            ("status", Value::from(self.status.as_str())),
            ("started", render::iso(self.started)),
            ("finished", render::iso(self.finished)),
            (
                "duration",
                opt_f64(render::between(self.started, self.finished)),
            ),
            ("outputs", Value::Map(outputs)),
            ("children", Value::List(children)),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_sort_naturally() {
        let mut p = vec!["value-10", "value-9", "value-0", "a"];
        p.sort_by(|a, b| natural_key(a).cmp(&natural_key(b)));
        assert_eq!(p, vec!["a", "value-0", "value-9", "value-10"]);
    }
}
