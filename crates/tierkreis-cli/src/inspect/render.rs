//! Small renderings shared by the inspection commands: values on one line,
//! durations, times, log tails and JSON objects.

use std::time::SystemTime;

use indexmap::IndexMap;
use tierkreis_core::Value;

/// Seconds since 1970 of a naive ISO 8601 time, read as if it were UTC
/// (see [`tierkreis_storage::timestamps::naive_iso_seconds`]). Both
/// implementations write start and completion times in the same zone, so
/// differences are right.
pub fn parse_naive_iso(s: &str) -> Option<f64> {
    tierkreis_storage::timestamps::naive_iso_seconds(s)
}

/// A naive ISO time for people: `YYYY-MM-DD HH:MM:SS` (fraction dropped).
pub fn short_time(iso: &str) -> String {
    let s = iso.replacen('T', " ", 1);
    let s = s.split('.').next().unwrap_or(&s).to_string();
    s.split('+').next().unwrap_or(&s).to_string()
}

/// A duration for people, one word: `850µs`, `12ms`, `1.3s`, `2m03s`, `1h02m`.
pub fn duration(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "?".to_string();
    }
    if secs < 0.001 {
        format!("{}µs", (secs * 1e6).round() as u64)
    } else if secs < 1.0 {
        format!("{}ms", (secs * 1e3).round() as u64)
    } else if secs < 60.0 {
        format!("{secs:.1}s")
    } else if secs < 3600.0 {
        let s = secs.round() as u64;
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        let m = (secs / 60.0).round() as u64;
        format!("{}h{:02}m", m / 60, m % 60)
    }
}

/// Seconds between two instants, if in order.
pub fn between(start: Option<SystemTime>, end: Option<SystemTime>) -> Option<f64> {
    Some(end?.duration_since(start?).ok()?.as_secs_f64())
}

/// An instant as ISO 8601 UTC, like the reference's `read_started_time`.
pub fn iso(t: Option<SystemTime>) -> Value {
    t.map_or(Value::Null, |t| {
        Value::from(tierkreis_storage::controller::iso_utc(t))
    })
}

/// Whether `v` is a serialised graph (a `const` holding a graph).
pub fn is_graph(v: &Value) -> bool {
    v.as_map()
        .is_some_and(|m| m.contains_key("nodes") && m.contains_key("graph_output_idx"))
}

/// A value on one line, at most `max` characters: compact JSON, a graph as
/// `<graph: N nodes>`, bytes as `<N bytes>`, cut with `…`.
pub fn value_short(v: &Value, max: usize) -> String {
    let text = match v {
        Value::Bytes(b) => format!("<{} bytes>", b.len()),
        v if is_graph(v) => {
            let n = v
                .as_map()
                .and_then(|m| m.get("nodes"))
                .and_then(Value::as_list)
                .map_or(0, <[Value]>::len);
            format!("<graph: {n} nodes>")
        }
        v => tierkreis_core::json::to_string_compact(v),
    };
    truncate(&text, max)
}

/// `text` cut to at most `max` characters, ending with `…` when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The last non-empty line of `text` (an error's message, usually).
pub fn last_line(text: &str) -> &str {
    text.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
}

/// The line of a node's error text that names the cause, for a headline:
/// a worker that was not found, a signal, a timeout or the memory limit
/// (the controller's own words); else the exception a Python traceback
/// ends in, the first of a chain (the original error, not the worker's
/// wrapper); else the controller's line on how the task ended; else the
/// last non-empty line.
pub fn cause_line(text: &str) -> &str {
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    let controller_line = |l: &str| l.starts_with("worker \"") && l.contains(" at -");
    if let Some(at) = lines
        .iter()
        .find_map(|l| l.find("no worker \"").map(|at| &l[at..]))
    {
        return at.trim().trim_end_matches("; searched:");
    }
    let decisive = ["killed by signal", "timed out after", "past memory_limit"];
    if let Some(l) = lines
        .iter()
        .rev()
        .find(|l| controller_line(l) && decisive.iter().any(|d| l.contains(d)))
    {
        return l.trim();
    }
    if let Some(at) = lines
        .iter()
        .position(|l| l.trim_start() == "Traceback (most recent call last):")
    {
        // The exception line: the first unindented line after the frames.
        if let Some(l) = lines[at + 1..]
            .iter()
            .find(|l| !l.is_empty() && !l.starts_with(char::is_whitespace))
        {
            return l.trim();
        }
    }
    if let Some(l) = lines.iter().rev().find(|l| controller_line(l)) {
        return l.trim();
    }
    last_line(text)
}

#[cfg(test)]
mod cause_line_tests {
    use super::cause_line;

    #[test]
    fn the_cause_is_headlined_not_the_last_line() {
        let segfault = "tkr: running warm: call 1 of process 7 (worker \"pyw\")\n\
Fatal Python error: Segmentation fault\n\n\
worker \"pyw\" (python-warm at -.N1): its warm process 7 was killed by signal 11 (SIGSEGV) while running this task\n\
last lines of its log:\n\
  File \"/tmp/x/warm-loader-1.py\", line 183 in <module>\n";
        assert_eq!(
            cause_line(segfault),
            "worker \"pyw\" (python-warm at -.N1): its warm process 7 was killed by signal 11 (SIGSEGV) while running this task"
        );
        let missing = "(add a registry with --registry DIR)\nstarting worker \"slow\" for -.N1 failed: no worker \"slow\" found; searched:\n  - PATH\n(add a registry with --registry DIR or `registries` in tkr.toml, or set [workers.NAME] command)\n";
        assert_eq!(cause_line(missing), "no worker \"slow\" found");
        let raised = "boom on element 3\nTraceback (most recent call last):\n  File \"w.py\", line 8, in boom\n    raise ValueError(x)\nValueError: boom on element 3\n\nThe above exception was the direct cause of the following exception:\n\nTraceback (most recent call last):\n  File \"x\", line 1\nTierkreisWorkerError: Worker pyw encountered error when executing boom.\nworker \"pyw\" (python at -.N1) exited with status 1\n";
        assert_eq!(cause_line(raised), "ValueError: boom on element 3");
        let memory = "tkr: running warm: call 2 of process 9 (worker \"pyw\")\n\
worker \"pyw\" (python-warm at -.N3): its warm process 9 grew to 700 MiB, past memory_limit 512 MiB, while running this task, and was stopped\n";
        assert!(cause_line(memory).contains("past memory_limit 512 MiB"));
        assert_eq!(cause_line("plain\nlast words\n\n"), "last words");
    }
}

/// A JSON object built from `(key, value)` pairs, in order.
pub fn obj<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    Value::Map(
        pairs
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<IndexMap<_, _>>(),
    )
}

/// An optional string as JSON.
pub fn opt_str(s: Option<&str>) -> Value {
    s.map_or(Value::Null, Value::from)
}

/// An optional number of seconds as JSON.
pub fn opt_f64(f: Option<f64>) -> Value {
    f.map_or(Value::Null, Value::Float)
}

/// Prints a JSON value (pretty) on stdout.
pub fn print_json(v: &Value) {
    let mut text = tierkreis_core::json::to_string_pretty(v);
    text.push('\n');
    emit(&text);
}

/// Writes `text` to stdout. A closed pipe (`tkr show | head`) ends the
/// output quietly instead of panicking like `print!`.
pub fn emit(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to stdout: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn naive_iso_times_parse_and_subtract() {
        let a = parse_naive_iso("2026-11-25T06:59:34.081502").expect("parses");
        let b = parse_naive_iso("2026-11-25T06:59:36.658424").expect("parses");
        assert!((b - a - 2.576922).abs() < 1e-6);
        assert_eq!(parse_naive_iso("1970-01-01T00:00:00"), Some(0.0));
        assert_eq!(parse_naive_iso("1970-01-02T00:00:00+00:00"), Some(86_400.0));
        assert_eq!(parse_naive_iso("not a time"), None);
    }

    #[test]
    fn durations_and_values_are_short() {
        assert_eq!(duration(0.0005), "500µs");
        assert_eq!(duration(0.012), "12ms");
        assert_eq!(duration(2.576), "2.6s");
        assert_eq!(duration(123.0), "2m03s");
        assert_eq!(duration(3720.0), "1h02m");
        assert_eq!(
            short_time("2026-11-25T06:59:34.081502"),
            "2026-11-25 06:59:34"
        );
        let v = Value::List((0..100).map(Value::int).collect());
        let s = value_short(&v, 20);
        assert_eq!(s.chars().count(), 20);
        assert!(s.starts_with("[0, 1, 2") && s.ends_with('…'), "{s}");
        assert_eq!(value_short(&Value::Bytes(vec![1, 2]), 20), "<2 bytes>");
        assert_eq!(
            last_line("Traceback\n  x\nTypeError: bad\n\n"),
            "TypeError: bad"
        );
    }
}
