//! `tkr report RUN`: where a run's time went, as one self-contained HTML
//! file (inline CSS and SVG, no script, no reference to any other host: it
//! works offline, on a login node and as an attachment) or as JSON with
//! the same data. The figures come from
//! [`tierkreis_storage::run_report`], which the web view uses too.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use tierkreis_storage::run_report::{workflow_report, RunReport};
use tierkreis_storage::timeline::AttemptOutcome;

use crate::exit;

pub const HELP: &str = "\
The report holds a timeline of every task (one lane per worker process or
batch job, with queued, started and finished times, retries and cache hits),
each warm process's start-up time, per-function statistics, and a summary:
wall time, CPU busy (the tasks' running time added up), and task coverage,
the share of the wall time during which at least one task was running.

Runs made by the Python reference have no recorded timeline: their report
is built from the node files' times and says what is missing.

Examples:
  tkr report 1c0a9d2e                  # writes tkr-report-1c0a9d2e.html
  tkr report my_run -o report.html
  tkr report --run-id 7 --json > report.json";

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    target: crate::target::RunTarget,
    #[command(flatten)]
    folder: crate::inspect::Folder,
    /// Print the report's data as one JSON object on stdout instead.
    #[arg(long)]
    json: bool,
    /// Where to write the HTML (`-`: stdout; default
    /// tkr-report-<first 8 digits of the id>.html in the current folder).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

pub fn run(a: &ReportArgs) -> u8 {
    match report(a) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", crate::output::error_text(&e));
            exit::USAGE
        }
    }
}

fn report(a: &ReportArgs) -> anyhow::Result<u8> {
    let dir = a.folder.dir();
    let opened = crate::inspect::open(&dir, a.target.run.as_deref(), a.target.run_id)?;
    let data = workflow_report(&opened.storage)?;
    if a.json {
        let text = serde_json::to_string(&data).context("cannot write the report as JSON")?;
        println!("{text}");
        return Ok(exit::OK);
    }
    let html = render_html(&data);
    let path = a.output.clone().unwrap_or_else(|| {
        PathBuf::from(format!(
            "tkr-report-{}.html",
            &data.workflow_id[..8.min(data.workflow_id.len())]
        ))
    });
    if path.as_os_str() == "-" {
        print!("{html}");
        return Ok(exit::OK);
    }
    let tmp = path.with_extension("html.tmp");
    std::fs::write(&tmp, html.as_bytes())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &path)
        .with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))?;
    println!("{}", path.display());
    Ok(exit::OK)
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Seconds for people: `0.012 s`, `3.40 s`, `125 s`.
fn secs(s: f64) -> String {
    if s < 0.1 {
        format!("{s:.3} s")
    } else if s < 100.0 {
        format!("{s:.2} s")
    } else {
        format!("{s:.0} s")
    }
}

/// A colour per function, stable for a name.
fn colour(function: &str) -> String {
    let hash = function.bytes().fold(2166136261u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(16777619)
    });
    format!("hsl({},55%,55%)", hash % 360)
}

/// One bar of the timeline.
struct Bar {
    lane: String,
    queued: u64,
    started: u64,
    finished: Option<u64>,
    function: String,
    title: String,
    failed: bool,
    cache_hit: bool,
}

/// The lanes and their bars: recorded lanes as they are; attempts without
/// a lane packed into as few "unrecorded" rows as overlap allows.
fn lanes_and_bars(r: &RunReport) -> (Vec<String>, Vec<Bar>) {
    let mut bars = Vec::new();
    let mut free_rows: Vec<u64> = Vec::new();
    let mut attempts: Vec<_> = r
        .timeline
        .tasks
        .iter()
        .flat_map(|t| t.attempts.iter().map(move |a| (t, a)))
        .collect();
    attempts.sort_by_key(|(_, a)| a.started_us);
    for (t, a) in attempts {
        let lane = match &a.lane {
            Some(lane) => lane.clone(),
            None => {
                let end = a.finished_us.unwrap_or(u64::MAX);
                let row = match free_rows.iter().position(|free| *free <= a.started_us) {
                    Some(i) => {
                        free_rows[i] = end;
                        i
                    }
                    None => {
                        free_rows.push(end);
                        free_rows.len() - 1
                    }
                };
                format!("unrecorded lane {}", row + 1)
            }
        };
        let ran = a.finished_us.map(|f| f.saturating_sub(a.started_us));
        let title = format!(
            "{} {} attempt {}: waited {}, ran {}, {}{}",
            t.loc,
            t.function,
            a.number,
            secs(a.started_us.saturating_sub(a.queued_us) as f64 / 1e6),
            ran.map_or("still running".to_string(), |us| secs(us as f64 / 1e6)),
            match a.outcome {
                AttemptOutcome::Done => "done",
                AttemptOutcome::Failed => "failed",
                AttemptOutcome::Unfinished => "unfinished",
            },
            a.failure
                .as_deref()
                .map(|f| format!(" ({f})"))
                .unwrap_or_default()
        );
        bars.push(Bar {
            lane,
            queued: a.queued_us,
            started: a.started_us,
            finished: a.finished_us,
            function: t.function.clone(),
            title,
            failed: a.outcome == AttemptOutcome::Failed,
            cache_hit: false,
        });
    }
    for t in &r.timeline.tasks {
        if let (Some(at), Some(from)) = (t.cache_hit_us, &t.cache_hit_from) {
            bars.push(Bar {
                lane: "result cache".to_string(),
                queued: at,
                started: at,
                finished: Some(at),
                function: t.function.clone(),
                title: format!("{} {}: cache hit from {from}", t.loc, t.function),
                failed: false,
                cache_hit: true,
            });
        }
    }
    // Lanes in the order of their first start.
    let mut first: BTreeMap<&str, u64> = BTreeMap::new();
    for b in &bars {
        let e = first.entry(&b.lane).or_insert(b.started);
        *e = (*e).min(b.started);
    }
    for p in &r.timeline.process_startups {
        let e = first.entry(&p.lane).or_insert(p.spawned_us);
        *e = (*e).min(p.spawned_us);
    }
    let mut lanes: Vec<(u64, String)> =
        first.into_iter().map(|(l, t)| (t, l.to_string())).collect();
    lanes.sort();
    (lanes.into_iter().map(|(_, l)| l).collect(), bars)
}

/// The timeline as inline SVG (no namespace URL: HTML5 needs none).
fn timeline_svg(r: &RunReport) -> String {
    let (lanes, bars) = lanes_and_bars(r);
    let start = r
        .timeline
        .run_started_us
        .or_else(|| bars.iter().map(|b| b.queued).min())
        .unwrap_or(0);
    let span = ((r.summary.wall_time_s * 1e6) as u64).max(1);
    let (label_w, plot_w, row_h, top) = (260.0, 900.0, 16.0, 24.0);
    let x = |t: u64| label_w + (t.saturating_sub(start) as f64 / span as f64).min(1.0) * plot_w;
    let height = top + row_h * lanes.len() as f64 + 8.0;
    let row: BTreeMap<&str, usize> = lanes
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i))
        .collect();
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="timeline" width="{}" height="{height}" viewBox="0 0 {} {height}" role="img" aria-label="timeline">"#,
        label_w + plot_w + 20.0,
        label_w + plot_w + 20.0
    );
    for i in 0..=10 {
        let t = span as f64 * f64::from(i) / 10.0;
        let px = label_w + plot_w * f64::from(i) / 10.0;
        let _ = write!(
            svg,
            r##"<line x1="{px:.1}" y1="{}" x2="{px:.1}" y2="{height}" stroke="#ddd"/><text x="{px:.1}" y="14" font-size="10" text-anchor="middle">{}</text>"##,
            top - 4.0,
            secs(t / 1e6)
        );
    }
    for (i, lane) in lanes.iter().enumerate() {
        let y = top + row_h * i as f64;
        let _ = write!(
            svg,
            r#"<text x="{}" y="{:.1}" font-size="11" text-anchor="end">{}</text>"#,
            label_w - 6.0,
            y + row_h - 4.0,
            esc(lane)
        );
    }
    for p in &r.timeline.process_startups {
        let Some(i) = row.get(p.lane.as_str()) else {
            continue;
        };
        let y = top + row_h * *i as f64;
        let _ = write!(
            svg,
            r##"<rect class="startup" x="{:.1}" y="{:.1}" width="{:.1}" height="{}" fill="#bbb"><title>{} start-up: {}</title></rect>"##,
            x(p.spawned_us),
            y + 2.0,
            (x(p.ready_us) - x(p.spawned_us)).max(1.0),
            row_h - 4.0,
            esc(&p.lane),
            secs(p.ready_us.saturating_sub(p.spawned_us) as f64 / 1e6)
        );
    }
    let now = start + span;
    for b in &bars {
        let Some(i) = row.get(b.lane.as_str()) else {
            continue;
        };
        let y = top + row_h * *i as f64;
        if b.cache_hit {
            let cx = x(b.started);
            let _ = write!(
                svg,
                r##"<path class="cache-hit" d="M{cx:.1} {:.1} l5 6 l-5 6 l-5 -6 z" fill="#2a9d8f"><title>{}</title></path>"##,
                y + 2.0,
                esc(&b.title)
            );
            continue;
        }
        if b.started > b.queued {
            let _ = write!(
                svg,
                r##"<line class="wait" x1="{:.1}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#999" stroke-dasharray="2 2"/>"##,
                x(b.queued),
                x(b.started),
                y + row_h / 2.0,
                y + row_h / 2.0
            );
        }
        let end = b.finished.unwrap_or(now);
        let _ = write!(
            svg,
            r#"<rect class="attempt" x="{:.1}" y="{:.1}" width="{:.1}" height="{}" fill="{}"{}><title>{}</title></rect>"#,
            x(b.started),
            y + 2.0,
            (x(end) - x(b.started)).max(1.0),
            row_h - 4.0,
            colour(&b.function),
            if b.failed {
                r##" stroke="#c00" stroke-width="2""##
            } else {
                ""
            },
            esc(&b.title)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The whole page.
pub fn render_html(r: &RunReport) -> String {
    let s = &r.summary;
    let mut h = String::new();
    let title = format!(
        "tkr report: {}{}",
        r.workflow_id,
        r.name
            .as_deref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default()
    );
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>\
body{{font-family:sans-serif;margin:1.5em;color:#222}}table{{border-collapse:collapse;margin:.5em 0 1.5em}}\
td,th{{border:1px solid #ccc;padding:2px 8px;text-align:right}}td:first-child,th:first-child{{text-align:left}}\
.figure{{font-size:1.3em;font-weight:bold}}.missing{{background:#fff4d6;padding:.5em 1em;border:1px solid #e0c060}}\
.timeline text{{font-family:monospace}}</style></head><body>\n<h1>{}</h1>\n",
        esc(&title),
        esc(&title)
    );
    if !r.timeline.missing.is_empty() {
        h.push_str("<div class=\"missing\"><b>Not in this run's folder:</b><ul>");
        for m in &r.timeline.missing {
            let _ = write!(h, "<li>{}</li>", esc(m));
        }
        h.push_str("</ul></div>\n");
    }
    let _ = write!(
        h,
        "<h2>Summary</h2><p class=\"figure\">Task coverage: {:.1}%</p>\
<p>Task coverage is the share of the wall time during which at least one task was running: \
100% means the run took no longer than its tasks kept something busy; the rest went to the \
controller, start-ups and waits with nothing running.</p><table>\
<tr><td>wall time</td><td>{}</td></tr>\
<tr><td>CPU busy (task running time, added up)</td><td>{}</td></tr>\
<tr><td>tasks running at once, on average</td><td>{:.2}</td></tr>\
<tr><td>wall time with a task running</td><td>{}</td></tr>\
<tr><td>queue wait, added up</td><td>{}</td></tr>\
<tr><td>warm process start-ups, added up</td><td>{}</td></tr>\
<tr><td>tasks / attempts</td><td>{} / {}</td></tr>\
<tr><td>retries</td><td>{}</td></tr><tr><td>failed tasks</td><td>{}</td></tr>\
<tr><td>cache hits</td><td>{}</td></tr><tr><td>lanes (processes, batch jobs)</td><td>{}</td></tr></table>",
        s.task_coverage * 100.0,
        secs(s.wall_time_s),
        secs(s.cpu_busy_s),
        s.mean_busy_tasks,
        secs(s.task_busy_wall_s),
        secs(s.queue_wait_s),
        secs(s.startup_s),
        s.tasks,
        s.attempts,
        s.retries,
        s.failures,
        s.cache_hits,
        s.lanes
    );
    h.push('\n');
    h.push_str(
        "<h2>Timeline</h2><p>One row per worker process or batch job. Bars: a task attempt \
running (colour per function; red outline: failed); dashed: waiting in the queue; grey: a warm \
process starting up; diamonds: cache hits. Hover for details.</p>\n",
    );
    h.push_str(&timeline_svg(r));
    h.push_str(
        "\n<h2>Per function</h2><table><tr><th>function</th><th>count</th><th>total</th>\
<th>mean</th><th>max</th><th>failures</th><th>retries</th><th>cache hits</th></tr>",
    );
    for f in &r.functions {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&f.function),
            f.count,
            secs(f.total_s),
            secs(f.mean_s),
            secs(f.max_s),
            f.failures,
            f.retries,
            f.cache_hits
        );
    }
    h.push_str("</table>\n<h2>Warm process start-up</h2>");
    if r.process_startups.is_empty() {
        h.push_str("<p>No warm process recorded a start-up.</p>");
    } else {
        h.push_str("<table><tr><th>process</th><th>start-up (import)</th></tr>");
        for p in &r.process_startups {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td></tr>",
                esc(&p.lane),
                secs(p.startup_s)
            );
        }
        h.push_str("</table>");
    }
    h.push_str("\n<h2>Lanes</h2><table><tr><th>lane</th><th>attempts</th><th>busy</th></tr>");
    for l in &r.lanes {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&l.lane),
            l.attempts,
            secs(l.busy_s)
        );
    }
    h.push_str("</table>\n</body></html>\n");
    h
}
