//! Copies a worker process's output, line by line, to its node's log and the
//! workflow log, keeping the last lines for the error text.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::thread::JoinHandle;

use super::task::Job;

/// Whether the file at `path` ends without a line break (never true for a
/// missing or empty file, or in-memory storage).
fn log_ends_mid_line(path: &Path) -> bool {
    use std::io::{Seek, SeekFrom};
    let Ok(mut file) = std::fs::File::open(path) else {
        return false;
    };
    let mut last = [0u8; 1];
    file.seek(SeekFrom::End(-1)).is_ok() && file.read_exact(&mut last).is_ok() && last[0] != b'\n'
}

/// Copies a process stream, line by line, to the node's log file and to the
/// workflow log (prefixed with the location); returns the last `keep` lines.
pub(crate) fn pump(
    stream: impl Read + Send + 'static,
    job: &Job,
    node_log: &Path,
    keep: usize,
) -> JoinHandle<VecDeque<String>> {
    let storage = job.storage.clone();
    let node_log = node_log.to_path_buf();
    let workflow_log = storage.logs_path();
    let prefix = format!("[{}] ", job.loc);
    std::thread::spawn(move || {
        let mut tail = VecDeque::new();
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        let mut warned = false;
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            if !line.ends_with(b"\n") {
                line.push(b'\n');
            }
            if log_ends_mid_line(&node_log) {
                // The worker wrote the log itself (the reference's
                // `write_error` replaces it with text and no line break).
                line.insert(0, b'\n');
            }
            let mut prefixed = prefix.clone().into_bytes();
            prefixed.extend_from_slice(&line);
            let r = storage
                .append(&node_log, &line)
                .and_then(|()| storage.append(&workflow_log, &prefixed));
            if let Err(e) = r {
                if !warned {
                    tracing::warn!(log = %node_log.display(), error = %e, "cannot write worker output");
                    warned = true;
                }
            }
            if keep > 0 {
                if tail.len() == keep {
                    tail.pop_front();
                }
                tail.push_back(String::from_utf8_lossy(&line).trim_end().to_string());
            }
        }
        tail
    })
}
