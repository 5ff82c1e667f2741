//! `tkr ls`, `show`, `logs`, `outputs`, `errors`, `trace` and `clean`: reading
//! checkpoint folders (ours or the Python reference's, same layout) for people
//! and scripts. Nothing here writes, except `clean`, which deletes.

/// `print!` to stdout, quiet when the reader has gone (see [`render::emit`]).
macro_rules! out {
    ($($t:tt)*) => { $crate::inspect::render::emit(&format!($($t)*)) };
}

/// `println!` to stdout, quiet when the reader has gone.
macro_rules! outln {
    () => { $crate::inspect::render::emit("\n") };
    ($($t:tt)*) => {{
        let mut s = format!($($t)*);
        s.push('\n');
        $crate::inspect::render::emit(&s)
    }};
}

mod clean;
mod errors;
mod logs;
mod ls;
mod outputs;
mod render;
mod show;
mod trace;
pub mod workflows;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use tierkreis_core::Loc;
use tierkreis_storage::{ControllerStorage, FileControllerStorage};
use uuid::Uuid;

use crate::exit;

/// The inspection commands, flattened into `tkr`'s own.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the workflows in the checkpoint folder, newest first.
    #[command(after_help = ls::HELP)]
    Ls(ls::LsArgs),
    /// Show the nodes of a run (or of one scope) as a tree, with status,
    /// timing and outputs.
    #[command(after_help = show::HELP)]
    Show(show::ShowArgs),
    /// Print the workflow's log, or one node's log (worker output, error text).
    #[command(after_help = logs::HELP)]
    Logs(logs::LogsArgs),
    /// Print the outputs of a run or of one node, decoded (or raw with --raw).
    #[command(after_help = outputs::HELP)]
    Outputs(outputs::OutputsArgs),
    /// List every failed node of a run with its function, message and log tail.
    #[command(after_help = errors::HELP)]
    Errors(errors::ErrorsArgs),
    /// The value of a named loop's outputs at each iteration.
    #[command(after_help = trace::HELP)]
    Trace(trace::TraceArgs),
    /// Delete workflow folders (never one whose controller is running).
    #[command(after_help = clean::HELP)]
    Clean(clean::CleanArgs),
}

/// Runs one inspection command; returns the exit code.
pub fn run(c: Command) -> u8 {
    let result = match c {
        Command::Ls(a) => ls::run(&a),
        Command::Show(a) => show::run(a),
        Command::Logs(a) => logs::run(a),
        Command::Outputs(a) => outputs::run(a),
        Command::Errors(a) => errors::run(&a),
        Command::Trace(a) => trace::run(a),
        Command::Clean(a) => clean::run(&a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", crate::output::error_text(&e));
            exit::USAGE
        }
    }
}

/// Where the checkpoints are.
#[derive(Debug, Args)]
pub struct Folder {
    /// The checkpoint folder (default: $TKR_DIR, else ~/.tierkreis/checkpoints).
    #[arg(long, value_name = "DIR")]
    checkpoints: Option<PathBuf>,
}

impl Folder {
    /// `--checkpoints`, else `$TKR_DIR`, else `~/.tierkreis/checkpoints`.
    pub fn dir(&self) -> PathBuf {
        if let Some(d) = &self.checkpoints {
            return d.clone();
        }
        match std::env::var_os("TKR_DIR") {
            Some(d) if !d.is_empty() => PathBuf::from(d),
            _ => FileControllerStorage::default_tkr_dir(),
        }
    }
}

/// A run and optional words after it: `RUN [LOC] [WORD]`, or with
/// `--run-id N` just `[LOC] [WORD]`. A word starting with `-` is a location.
#[derive(Debug, Args)]
pub struct RunAndLoc {
    /// The workflow with the UUID whose integer value is N (then RUN is omitted).
    #[arg(long, value_name = "N")]
    run_id: Option<u128>,
    #[command(flatten)]
    folder: Folder,
}

/// The positional words of a command, split into run, location and rest.
#[derive(Debug)]
pub struct Positionals {
    pub run: Option<String>,
    pub loc: Option<Loc>,
    pub rest: Vec<String>,
}

/// A location written without its leading `-.` (`N5`, `N3.M2.N1`), as
/// `tkr show` prints the steps: the full location, else `None`.
pub fn location_without_root(word: &str) -> Option<Loc> {
    let steps_only = !word.is_empty()
        && word.split('.').all(|step| {
            let mut chars = step.chars();
            matches!(chars.next(), Some('N' | 'L' | 'M')) && chars.as_str().parse::<u64>().is_ok()
        });
    if !steps_only {
        return None;
    }
    Loc::parse(&format!("-.{word}")).ok()
}

/// Splits `words` as `RUN [LOC] [REST...]` (no RUN when `--run-id` is given);
/// the location is the first word after RUN that starts with `-`, or that
/// is a location without its `-.` (`N5`).
pub fn split_positionals(words: &[String], has_run_id: bool) -> anyhow::Result<Positionals> {
    let mut words = words.iter();
    let run = if has_run_id {
        None
    } else {
        match words.next() {
            Some(w) => Some(w.clone()),
            None => bail!("name a workflow: a UUID, a unique prefix, a name, or --run-id N"),
        }
    };
    let mut loc = None;
    let mut rest = Vec::new();
    for w in words {
        if w.starts_with('-') && loc.is_none() && rest.is_empty() {
            loc = Some(Loc::parse(w).with_context(|| {
                format!("{w:?} is not a node location (like -, -.N3, -.N2.L0.N1, -.N4.M7)")
            })?);
        } else if let Some(l) =
            location_without_root(w).filter(|_| loc.is_none() && rest.is_empty())
        {
            loc = Some(l);
        } else {
            rest.push(w.clone());
        }
    }
    Ok(Positionals { run, loc, rest })
}

/// Moves options written after a location back among the options.
///
/// A location starts with `-`, so the positional words accept hyphen values,
/// and clap then hands everything after the first word to them, options
/// included (`tkr show RUN -.N2 --json`). Those words are always the tail of
/// the command line; this parses the command line again with such options
/// moved before a `--`, so they mean what they say wherever they are written.
pub fn reparse<A>(args: A, words: impl Fn(&A) -> &[String]) -> anyhow::Result<A>
where
    A: Args + clap::FromArgMatches,
{
    let tail = words(&args);
    if !tail.iter().any(|w| w.starts_with("--")) {
        return Ok(args);
    }
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.len() < tail.len() + 1 || argv[argv.len() - tail.len()..] != *tail {
        bail!(
            "put options before RUN and LOC (found {:?} among them)",
            tail.iter().find(|w| w.starts_with("--"))
        );
    }
    let cmd = A::augment_args(clap::Command::new("tkr").bin_name(format!("tkr {}", argv[0])));
    let mut opts = Vec::new();
    let mut positional = Vec::new();
    let mut it = tail.iter();
    while let Some(w) = it.next() {
        let Some(long) = w.strip_prefix("--") else {
            positional.push(w.clone());
            continue;
        };
        let (name, inline) = match long.split_once('=') {
            Some((n, _)) => (n, true),
            None => (long, false),
        };
        let takes_value = cmd
            .get_arguments()
            .find(|a| a.get_long() == Some(name))
            .is_some_and(|a| a.get_action().takes_values());
        opts.push(w.clone());
        if takes_value && !inline {
            if let Some(v) = it.next() {
                opts.push(v.clone());
            }
        }
    }
    let head = &argv[..argv.len() - tail.len()];
    let new_argv = head
        .iter()
        .chain(&opts)
        .chain(std::iter::once(&"--".to_string()))
        .chain(&positional)
        .cloned()
        .collect::<Vec<_>>();
    let matches = cmd
        .try_get_matches_from(new_argv)
        .unwrap_or_else(|e| e.exit());
    Ok(A::from_arg_matches(&matches)?)
}

/// An opened workflow: its id and storage.
pub struct Opened {
    pub storage: FileControllerStorage,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("workflow_id", &self.storage.workflow_id())
            .finish()
    }
}

/// Resolves the run (id, prefix or name) and checks its folder exists.
pub fn open(tkr_dir: &Path, run: Option<&str>, run_id: Option<u128>) -> anyhow::Result<Opened> {
    let id: Uuid = crate::target::resolve(run, run_id, tkr_dir)?;
    let storage = FileControllerStorage::new(tkr_dir, id, None);
    if !storage.workflow_dir().is_dir() {
        bail!(
            "no workflow {id} in {} (`tkr ls --checkpoints {}` lists them)",
            tkr_dir.display(),
            tkr_dir.display()
        );
    }
    Ok(Opened { storage })
}

impl RunAndLoc {
    /// The checkpoint folder.
    pub fn dir(&self) -> PathBuf {
        self.folder.dir()
    }
    /// Resolves the positional words and opens the run.
    pub fn open(&self, words: &[String]) -> anyhow::Result<(Opened, Positionals)> {
        let pos = split_positionals(words, self.run_id.is_some())?;
        let opened = open(&self.dir(), pos.run.as_deref(), self.run_id)?;
        Ok((opened, pos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn positionals_split_run_loc_and_rest() {
        let p = split_positionals(&words(&["abc", "-.N3", "value"]), false).expect("splits");
        assert_eq!(p.run.as_deref(), Some("abc"));
        assert_eq!(p.loc.as_ref().map(Loc::as_str), Some("-.N3"));
        assert_eq!(p.rest, vec!["value"]);
        let p = split_positionals(&words(&["value"]), true).expect("splits");
        assert!(p.run.is_none() && p.loc.is_none());
        assert_eq!(p.rest, vec!["value"]);
        let err = split_positionals(&words(&["abc", "-.X3"]), false).expect_err("bad loc");
        assert!(
            format!("{err:#}").contains("not a node location"),
            "{err:#}"
        );
        assert!(split_positionals(&[], false).is_err());
    }
}
