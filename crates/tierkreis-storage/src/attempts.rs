//! The failed attempts of a retried task, `<node>/attempts/<k>/` (k from
//! 1: `logs`, `reason`, `_error`, `executor`), as the controller's retries
//! write them and `tkr show` and the web view read them.

use tierkreis_core::Loc;

use crate::ControllerStorage;

/// `<node>/<this>/<k>/`: the traces of failed attempt k.
pub const ATTEMPTS_DIR: &str = "attempts";

/// `<node>/attempts`.
pub fn attempts_dir(storage: &dyn ControllerStorage, loc: &Loc) -> std::path::PathBuf {
    storage.node_dir(loc).join(ATTEMPTS_DIR)
}

/// How many failed attempts of the node at `loc` are recorded.
pub fn failed_attempts(storage: &dyn ControllerStorage, loc: &Loc) -> u32 {
    storage
        .list_subpaths(&attempts_dir(storage, loc))
        .map(|v| {
            v.iter()
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.parse::<u32>().is_ok())
                })
                .count() as u32
        })
        .unwrap_or(0)
}

/// One recorded failed attempt, for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub number: u32,
    /// The failure message.
    pub reason: String,
}

/// The failed attempts of `loc`, in order.
pub fn attempts(storage: &dyn ControllerStorage, loc: &Loc) -> Vec<Attempt> {
    let mut out: Vec<Attempt> = storage
        .list_subpaths(&attempts_dir(storage, loc))
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| {
            let number = p.file_name()?.to_str()?.parse::<u32>().ok()?;
            let reason = storage
                .read(&p.join("reason"))
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            Some(Attempt { number, reason })
        })
        .collect();
    out.sort_by_key(|a| a.number);
    out
}
