//! Serving many calls from one process (the warm-worker protocol of
//! [`tierkreis_storage::warm`]), reached through [`crate::Worker::run_main`]
//! when the controller asks for it, with no change to the worker's code.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::process::ExitCode;

use nix::sys::signal::Signal;
use nix::unistd::dup2;
use tierkreis_storage::warm::{WarmCall, WarmReply, WARM_ENV, WARM_MARKER};
use tierkreis_storage::FileWorkerStorage;

use crate::Worker;

/// Whether the controller started this process to serve calls warm: the
/// environment holds [`WARM_MARKER`] under [`WARM_ENV`]. Reading the marker
/// through `black_box` keeps its bytes in every SDK binary, which is how the
/// controller recognises one without running it.
pub(crate) fn requested() -> bool {
    let marker: &str = std::hint::black_box(WARM_MARKER);
    std::env::var_os(WARM_ENV).is_some_and(|v| v.as_encoded_bytes() == marker.as_bytes())
}

fn reply(out: &mut File, r: &WarmReply) -> std::io::Result<()> {
    let mut line = serde_json::to_string(r).map_err(std::io::Error::other)?;
    line.push('\n');
    out.write_all(line.as_bytes())
}

/// Serves calls until stdin ends: each call's fds 1 and 2 go to its log, it
/// runs as [`Worker::app`] would run it, and one reply line follows.
pub(crate) fn serve(worker: &Worker) -> ExitCode {
    // No orphan when the controller dies mid-call; stdin's end covers the rest.
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    let channels = (|| -> std::io::Result<(File, File, File)> {
        let commands = File::from(std::io::stdin().as_fd().try_clone_to_owned()?);
        let replies = File::from(std::io::stdout().as_fd().try_clone_to_owned()?);
        let saved_err = File::from(std::io::stderr().as_fd().try_clone_to_owned()?);
        // Stray output between calls goes to stderr; nothing reads our stdin.
        dup2(2, 1)?;
        let null = File::open("/dev/null")?;
        dup2(null.as_raw_fd(), 0)?;
        Ok((commands, replies, saved_err))
    })();
    let (commands, mut replies, saved_err) = match channels {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot set up warm serving: {e}");
            return ExitCode::FAILURE;
        }
    };
    let ready = WarmReply::Ready {
        pid: std::process::id(),
        worker: worker.name().to_string(),
    };
    if reply(&mut replies, &ready).is_err() {
        return ExitCode::FAILURE;
    }
    let storage = FileWorkerStorage::from_env();
    for line in BufReader::new(commands).lines() {
        let Ok(line) = line else { break };
        let answer = match serde_json::from_str::<WarmCall>(&line) {
            Err(e) => WarmReply::Raised {
                message: format!("not a warm call ({e}): {line:?}"),
                exit_status: None,
            },
            Ok(call) => run_call(worker, &storage, &call, &saved_err),
        };
        if reply(&mut replies, &answer).is_err() {
            break;
        }
    }
    ExitCode::SUCCESS
}

/// One call with fds 1 and 2 in the call's log.
fn run_call(
    worker: &Worker,
    storage: &FileWorkerStorage,
    call: &WarmCall,
    saved_err: &File,
) -> WarmReply {
    let log = match OpenOptions::new().create(true).append(true).open(&call.log) {
        Ok(f) => f,
        Err(e) => {
            return WarmReply::Raised {
                message: format!("cannot open the log {}: {e}", call.log.display()),
                exit_status: None,
            }
        }
    };
    let _ = std::io::stdout().flush();
    let redirected = dup2(log.as_raw_fd(), 1).and_then(|_| dup2(log.as_raw_fd(), 2));
    let result = worker.run(storage, &call.call_args);
    if let Err(e) = &result {
        // As the one-shot command line reports it.
        eprintln!(
            "Worker {} encountered an error running the call at {}: {e}",
            worker.name(),
            call.call_args.display()
        );
    }
    let _ = std::io::stdout().flush();
    let _ = dup2(saved_err.as_raw_fd(), 1);
    let _ = dup2(saved_err.as_raw_fd(), 2);
    match (redirected, result) {
        (Err(e), _) => WarmReply::Raised {
            message: format!("cannot send output to {}: {e}", call.log.display()),
            exit_status: None,
        },
        (Ok(_), Ok(())) => WarmReply::Finished,
        (Ok(_), Err(e)) => WarmReply::Raised {
            message: e.to_string(),
            exit_status: None,
        },
    }
}
