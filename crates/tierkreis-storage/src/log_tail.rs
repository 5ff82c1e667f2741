//! "The last N lines of a log", computed once: the controller's failure
//! messages (a batch job's output files, a warm call's log, a worker job's
//! output), `tkr logs --tail`, `tkr errors` and the CLI's own error texts
//! all cut logs here, so they agree on what the last lines are.

/// The last `n` lines of `text`, trailing blank lines left out (a log that
/// ends in a newline or blank lines ends at its last written line).
pub fn last_lines(text: &str, n: usize) -> Vec<&str> {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    lines[lines.len().saturating_sub(n)..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::last_lines;

    #[test]
    fn last_lines_ignore_trailing_blank_lines() {
        assert_eq!(last_lines("a\nb\nc\n", 2), vec!["b", "c"]);
        assert_eq!(last_lines("a\n\nb\n\n\n", 2), vec!["", "b"]);
        assert_eq!(last_lines("a\nb", 5), vec!["a", "b"]);
        assert!(last_lines("", 3).is_empty());
        assert!(last_lines("\n\n", 3).is_empty());
        assert!(last_lines("a\nb", 0).is_empty());
    }
}
