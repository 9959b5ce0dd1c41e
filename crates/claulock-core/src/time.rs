//! Timestamps. The crate never reads the clock: callers pass "now" in.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point in time, in whole seconds since the Unix epoch (UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// A timestamp that is not RFC 3339.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimestampError(String);

impl fmt::Display for TimestampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not an RFC 3339 time such as 2030-01-01T00:00:00Z",
            self.0
        )
    }
}

impl std::error::Error for TimestampError {}

impl Timestamp {
    /// The timestamp `secs` seconds after the epoch.
    pub const fn from_unix(secs: i64) -> Self {
        Timestamp(secs)
    }

    /// Seconds since the epoch.
    pub const fn unix(self) -> i64 {
        self.0
    }

    /// Parses an RFC 3339 time in UTC (`2030-01-01T00:00:00Z`).
    ///
    /// # Errors
    ///
    /// When `s` is not such a time.
    pub fn parse_rfc3339(s: &str) -> Result<Self, TimestampError> {
        let t = humantime::parse_rfc3339_weak(s.trim_end_matches('Z').trim_end_matches('z'))
            .map_err(|_| TimestampError(s.to_owned()))?;
        Ok(Self::from(t))
    }
}

impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Self {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Timestamp(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
            Err(e) => Timestamp(-i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX)),
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = if self.0 >= 0 {
            UNIX_EPOCH.checked_add(Duration::from_secs(self.0.unsigned_abs()))
        } else {
            UNIX_EPOCH.checked_sub(Duration::from_secs(self.0.unsigned_abs()))
        };
        match t {
            Some(t) => write!(f, "{}", humantime::format_rfc3339_seconds(t)),
            None => write!(f, "@{}", self.0),
        }
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let t = Timestamp::parse_rfc3339("2030-01-01T00:00:00Z").unwrap();
        assert_eq!(t.unix(), 1_893_456_000);
        assert_eq!(t.to_string(), "2030-01-01T00:00:00Z");
        assert!(Timestamp::parse_rfc3339("tomorrow").is_err());
    }
}
