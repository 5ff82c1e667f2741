//! Waiting in tests for something another process or thread does, with a
//! limit that names what never happened (one poll loop for every test that
//! waits on a condition alone).

use std::time::{Duration, Instant};

/// Polls `condition` every 20 ms until it holds; panics naming `what` once
/// `limit` has passed.
pub fn wait_until(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
