//! The warm-worker protocol: the few shared definitions that let one worker
//! process serve many calls. The controller (`tierkreis-controller`) and the
//! Rust worker SDK (`tierkreis-worker`) both use these, so neither depends on
//! the other; the Python loader shipped in `tkr` speaks the same lines.
//!
//! The storage protocol does not change: for every call the worker still
//! reads the call args and inputs from files and writes its outputs, `_done`
//! or `_error` itself. Only *which process* runs the call changes.
//!
//! 1. The controller starts the worker with [`WARM_ENV`] set to
//!    [`WARM_MARKER`] and no call-args argument. A Rust SDK binary contains
//!    [`WARM_MARKER`] (its entry point compares the variable with it), which
//!    is how the controller knows, by reading the file, that a binary speaks
//!    the protocol without running it.
//! 2. The worker answers one [`WarmReply`] line on stdout: `ready`, or
//!    `refused` with the reason (then it exits).
//! 3. For each call the controller writes one [`WarmCall`] line on stdin; the
//!    worker sends its fds 1 and 2 to the call's log file for the call, runs
//!    it as its one-shot entry point would, and answers one `finished` or
//!    `raised` line on its original stdout.
//! 4. End of stdin means "exit now".

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The environment variable that asks a worker to serve calls warm.
pub const WARM_ENV: &str = "TKR_WARM_PROTOCOL";

/// The value of [`WARM_ENV`], and the bytes whose presence in an executable
/// says it was built with a Rust SDK that serves calls warm.
pub const WARM_MARKER: &str = "tierkreis-rs-warm-worker-protocol-1";

/// One call, as one JSON line on the worker's stdin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WarmCall {
    /// The call-args path, as the one-shot worker gets it (relative to `TKR_DIR`).
    pub call_args: PathBuf,
    /// The node's log file (absolute): fds 1 and 2 go there during the call.
    pub log: PathBuf,
}

/// One answer of the worker, as one JSON line on its stdout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "lowercase")]
pub enum WarmReply {
    /// The worker is loaded and waits for calls.
    Ready {
        /// The serving process.
        pid: u32,
        /// The worker's own name.
        worker: String,
    },
    /// The worker cannot serve warm; the controller runs it one process per call.
    Refused { reason: String },
    /// The call returned (its markers say how it went).
    Finished,
    /// The call raised past the worker's own error handling (an exception,
    /// or `sys.exit`).
    Raised {
        message: String,
        /// The exit status the one-shot process would have ended with
        /// (Python: `sys.exit(N)` gives N, any other exception 1); absent
        /// means 1. The controller classifies the call as that exit, so a
        /// task fails the same way warm or not.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit_status: Option<i32>,
    },
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The Python loader writes these lines by hand; they must stay as here.
    #[test]
    fn reply_lines_are_the_ones_the_python_loader_writes() {
        let ready: WarmReply =
            serde_json::from_str(r#"{"reply": "ready", "pid": 7, "worker": "w"}"#).unwrap();
        assert_eq!(
            ready,
            WarmReply::Ready {
                pid: 7,
                worker: "w".into()
            }
        );
        let raised: WarmReply =
            serde_json::from_str(r#"{"reply": "raised", "message": "boom"}"#).unwrap();
        assert_eq!(
            raised,
            WarmReply::Raised {
                message: "boom".into(),
                exit_status: None,
            }
        );
        let exited: WarmReply = serde_json::from_str(
            r#"{"reply": "raised", "message": "SystemExit: 3", "exit_status": 3}"#,
        )
        .unwrap();
        assert_eq!(
            exited,
            WarmReply::Raised {
                message: "SystemExit: 3".into(),
                exit_status: Some(3),
            }
        );
        let call = WarmCall {
            call_args: "a/b".into(),
            log: "/l".into(),
        };
        assert_eq!(
            serde_json::to_string(&call).unwrap(),
            r#"{"call_args":"a/b","log":"/l"}"#
        );
    }
}
