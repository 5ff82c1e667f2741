//! `tkr cache ls|clear|stats`: the result cache under `$TKR_DIR/.cache`,
//! for people (what is cached, from which run, whether it can still be
//! served) and for cleaning up.

use anyhow::Context;
use clap::{Args, Subcommand};
use tierkreis_storage::result_cache::ResultCacheStore;

use crate::exit;
use crate::inspect::Folder;

pub const HELP: &str = "\
The cache maps a task's function, worker identity and input bytes to the
node that computed its outputs. `tkr clean RUN` removes that run's entries.

Examples:
  tkr cache ls
  tkr cache stats
  tkr cache clear";

#[derive(Debug, Args)]
pub struct CacheArgs {
    #[command(subcommand)]
    action: Action,
    #[command(flatten)]
    folder: Folder,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// One line per entry: key, task, source run and node, and whether its
    /// outputs are intact ("ok") or it will be recomputed ("broken: why").
    Ls,
    /// Remove every entry (workflow folders are not touched).
    Clear,
    /// How many entries, how many intact, and the bytes of their outputs.
    Stats,
}

pub fn run(a: &CacheArgs) -> u8 {
    match inner(a) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", crate::output::error_text(&e));
            exit::INTERNAL
        }
    }
}

fn inner(a: &CacheArgs) -> anyhow::Result<u8> {
    let dir = a.folder.dir();
    let store = ResultCacheStore::new(&dir);
    match a.action {
        Action::Ls => {
            for entry in store.entries().context("cannot list the result cache")? {
                match entry {
                    Ok(e) => {
                        let state = match store.verify(&e) {
                            Ok(()) => "ok".to_string(),
                            Err(why) => format!("broken: {why}"),
                        };
                        println!(
                            "{}  {}  {} {}  {}  {}",
                            e.key.get(..16).unwrap_or(&e.key),
                            e.task,
                            e.run,
                            e.loc,
                            e.created,
                            state
                        );
                    }
                    Err(err) => println!("unreadable entry: {err}"),
                }
            }
        }
        Action::Clear => {
            let n = store.clear().context("cannot clear the result cache")?;
            println!("removed {n} cache entr{}", if n == 1 { "y" } else { "ies" });
        }
        Action::Stats => {
            let entries = store.entries().context("cannot list the result cache")?;
            let total = entries.len();
            let mut intact = 0;
            let mut bytes = 0u64;
            for e in entries.iter().flatten() {
                if store.verify(e).is_ok() {
                    intact += 1;
                    bytes += e.outputs.iter().map(|o| o.size).sum::<u64>();
                }
            }
            println!(
                "{total} entries, {intact} intact, {} broken; {bytes} bytes of outputs; {}",
                total - intact,
                store.dir().display()
            );
        }
    }
    Ok(exit::OK)
}
