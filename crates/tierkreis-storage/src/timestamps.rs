//! The time stamps written into checkpoints, in the text Python's
//! `datetime.isoformat()` gives, so files read the same whichever
//! implementation wrote them. Calendar arithmetic and time zones are `jiff`'s.
//!
//! The reference writes two kinds (`controller/storage/protocol.py`):
//! - a node's `_metadata` `start_time` (and the started/finished times it
//!   reports) is `datetime.now(UTC).isoformat()`: UTC with `+00:00`;
//! - the workflow's `start_time` and `completion_time` are
//!   `datetime.now().isoformat()`: the local wall-clock time, without an
//!   offset. [`iso_naive`] writes the same, in the system time zone (`TZ`,
//!   else `/etc/localtime`, else UTC).

use std::time::SystemTime;

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// `t` as Python's `datetime.fromtimestamp(t, UTC).isoformat()`:
/// `YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00` (microseconds only when non-zero).
pub fn iso_utc(t: SystemTime) -> String {
    let mut text = python_isoformat(civil_time(t, &TimeZone::UTC));
    text.push_str("+00:00");
    text
}

/// `t` as Python's naive `datetime.now().isoformat()`: the wall-clock time
/// in the system time zone, `YYYY-MM-DDTHH:MM:SS[.ffffff]`.
pub fn iso_naive(t: SystemTime) -> String {
    python_isoformat(civil_time(t, &TimeZone::system()))
}

/// Seconds since 1970 of a naive ISO 8601 time (`YYYY-MM-DD[T ]HH:MM[:SS[.f]]`),
/// read as if it were UTC; a trailing offset or `Z` is ignored. Two stamps
/// written in the same zone (as both implementations write a workflow's start
/// and completion times) so give the right difference.
pub fn naive_iso_seconds(text: &str) -> Option<f64> {
    let text = text.trim();
    let (date, time) = text.split_once(['T', 't', ' '])?;
    // Drop an offset (`+01:00`, `-05:00`) or `Z` after the time of day.
    let time = time
        .split(['+', 'Z', 'z'])
        .next()
        .map(|t| t.rsplit_once('-').map_or(t, |(before, _)| before))?;
    let date_time: DateTime = format!("{date}T{time}").parse().ok()?;
    let instant = TimeZone::UTC.to_timestamp(date_time).ok()?;
    Some(instant.as_second() as f64 + f64::from(instant.subsec_nanosecond()) / 1e9)
}

/// The wall-clock time of `t` in `zone`, to the microsecond (rounded down,
/// as Python keeps microseconds). Times beyond what `jiff` represents
/// (years outside -9999..=9999) are clamped to its range.
fn civil_time(t: SystemTime, zone: &TimeZone) -> DateTime {
    let instant = Timestamp::try_from(t).unwrap_or_else(|_| {
        if t < SystemTime::UNIX_EPOCH {
            Timestamp::MIN
        } else {
            Timestamp::MAX
        }
    });
    let micros = instant.as_microsecond();
    let instant = Timestamp::from_microsecond(micros).unwrap_or(instant);
    zone.to_datetime(instant)
}

/// Python's `datetime.isoformat()` of a naive date and time: the fraction
/// only when there are microseconds, always six digits.
fn python_isoformat(date_time: DateTime) -> String {
    let mut text = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        date_time.year(),
        date_time.month(),
        date_time.day(),
        date_time.hour(),
        date_time.minute(),
        date_time.second()
    );
    let micros = date_time.subsec_nanosecond() / 1_000;
    if micros != 0 {
        text.push_str(&format!(".{micros:06}"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn iso_utc_matches_python_isoformat() {
        // datetime.fromtimestamp(0, UTC).isoformat()
        assert_eq!(iso_utc(UNIX_EPOCH), "1970-01-01T00:00:00+00:00");
        // datetime.fromtimestamp(1700000000.123456, UTC).isoformat()
        let t = UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456);
        assert_eq!(iso_utc(t), "2023-11-14T22:13:20.123456+00:00");
        // Nanoseconds are dropped, not rounded, like Python's microseconds.
        let t = UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_999);
        assert_eq!(iso_utc(t), "2023-11-14T22:13:20.123456+00:00");
        // A leap day: datetime.fromtimestamp(951782400, UTC) is 2000-02-29.
        assert_eq!(
            iso_utc(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00+00:00"
        );
        // Before 1970: datetime.fromtimestamp(-0.5, UTC).isoformat().
        assert_eq!(
            iso_utc(UNIX_EPOCH - Duration::from_millis(500)),
            "1969-12-31T23:59:59.500000+00:00"
        );
    }

    #[test]
    fn iso_naive_is_the_wall_clock_time_of_the_system_zone_without_an_offset() {
        let t = UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456);
        let naive = iso_naive(t);
        let want = TimeZone::system().to_datetime(Timestamp::try_from(t).expect("in range"));
        assert_eq!(naive, python_isoformat(want));
        assert!(!naive.contains('+') && !naive.ends_with('Z'), "{naive}");
    }

    #[test]
    fn naive_iso_seconds_reads_what_both_implementations_write() {
        let a = naive_iso_seconds("2026-11-25T06:59:34.081502").expect("parses");
        let b = naive_iso_seconds("2026-11-25T06:59:36.658424").expect("parses");
        assert!((b - a - 2.576922).abs() < 1e-6);
        assert_eq!(naive_iso_seconds("1970-01-01T00:00:00"), Some(0.0));
        assert_eq!(naive_iso_seconds("1970-01-02 00:00:00"), Some(86_400.0));
        assert_eq!(
            naive_iso_seconds("1970-01-02T00:00:00+00:00"),
            Some(86_400.0)
        );
        assert_eq!(
            naive_iso_seconds("1970-01-02T00:00:00-05:00"),
            Some(86_400.0)
        );
        assert_eq!(naive_iso_seconds("1970-01-02T00:00:00Z"), Some(86_400.0));
        let utc = iso_utc(UNIX_EPOCH + Duration::from_secs(951_782_400));
        assert_eq!(naive_iso_seconds(&utc), Some(951_782_400.0));
        assert_eq!(naive_iso_seconds("not a time"), None);
        assert_eq!(naive_iso_seconds("2026-13-01T00:00:00"), None);
    }
}
