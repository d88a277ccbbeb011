//! Wire time values. Two distinct types because the wire uses two distinct encodings:
//! epoch **seconds** as numbers (`expirationDate`, JWT `exp`) and ISO-8601 strings
//! (`channel.time`, date picker slots). Mixing them up is a classic factor-1000 bug.

use serde::{Deserialize, Deserializer, Serialize};

use crate::time::UnixMillis;

/// Seconds since the Unix epoch, as sent in `expirationDate` and `exp`.
///
/// Decoding accepts an integer, a float (truncated) or a numeric string, because `SessionResponse`
/// documents these as "number" and echo metadata carries them as strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct EpochSeconds(pub i64);

impl EpochSeconds {
    /// The same instant in wall-clock milliseconds; `None` before 1970.
    pub fn to_unix_millis(self) -> Option<UnixMillis> {
        u64::try_from(self.0).ok().map(UnixMillis::from_secs)
    }

    /// Whole seconds of a wall-clock instant (rounded down).
    pub fn from_unix_millis(millis: UnixMillis) -> Self {
        Self(i64::try_from(millis.as_secs()).unwrap_or(i64::MAX))
    }

    /// Parses a decimal string such as metadata `"1778145600"`.
    pub fn parse(text: &str) -> Option<Self> {
        text.trim().parse::<i64>().ok().map(Self)
    }
}

impl<'de> Deserialize<'de> for EpochSeconds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        crate::protocol::lenient::value_as_i64(&value)
            .map(Self)
            .ok_or_else(|| serde::de::Error::custom(format!("expected epoch seconds, got {value}")))
    }
}

/// An ISO-8601 timestamp string such as `"2026-05-04T09:15:27.412Z"`.
///
/// The original text is kept verbatim (so re-encoding is lossless); [`IsoTime::to_unix_millis`]
/// parses it on demand. Equality is textual; compare instants via `to_unix_millis`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IsoTime(pub String);

impl IsoTime {
    /// Wraps a string without checking it (the wire is not trusted to be well formed anyway).
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The original text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Milliseconds since the Unix epoch, or `None` if the text is not a supported ISO-8601
    /// date-time or lies before 1970. See [`parse_iso8601_millis`] for the accepted forms.
    pub fn to_unix_millis(&self) -> Option<u64> {
        parse_iso8601_millis(&self.0)
    }

    /// Formats a wall-clock instant as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC, millisecond precision),
    /// the form the server uses for `channel.time`.
    pub fn from_unix_millis(millis: u64) -> Self {
        Self(format_iso8601_millis(millis))
    }
}

impl std::fmt::Display for IsoTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<UnixMillis> for IsoTime {
    fn from(millis: UnixMillis) -> Self {
        Self::from_unix_millis(millis.0)
    }
}

const MILLIS_PER_DAY: i64 = 86_400_000;

/// Parses `YYYY-MM-DD[T| ]HH:MM[:SS[.fraction]][Z|±HH:MM|±HHMM|±HH]` to Unix milliseconds.
///
/// `T`/`Z` may be lower case; a missing offset is read as UTC (the server always sends `Z`);
/// fractions beyond milliseconds are truncated; a leap second `:60` is accepted and carries into
/// the next minute. Returns `None` for anything else, for invalid calendar dates and for instants
/// before 1970. Runs in time linear in the input and never panics.
pub fn parse_iso8601_millis(text: &str) -> Option<u64> {
    let mut cursor = Cursor {
        bytes: text.trim().as_bytes(),
        position: 0,
    };
    let year = cursor.digits(4)? as i64;
    cursor.expect(b'-')?;
    let month = cursor.digits(2)?;
    cursor.expect(b'-')?;
    let day = cursor.digits(2)?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    match cursor.next()? {
        b'T' | b't' | b' ' => {}
        _ => return None,
    }
    let hour = cursor.digits(2)?;
    cursor.expect(b':')?;
    let minute = cursor.digits(2)?;
    let mut second = 0;
    let mut millis = 0;
    if cursor.peek() == Some(b':') {
        cursor.position += 1;
        second = cursor.digits(2)?;
        if matches!(cursor.peek(), Some(b'.' | b',')) {
            cursor.position += 1;
            let mut scale = 100;
            let mut seen_digit = false;
            while let Some(digit) = cursor.peek().filter(u8::is_ascii_digit) {
                millis += u32::from(digit - b'0') * scale;
                scale /= 10;
                seen_digit = true;
                cursor.position += 1;
            }
            if !seen_digit {
                return None;
            }
        }
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let offset_minutes: i64 = match cursor.next() {
        None => 0,
        Some(b'Z' | b'z') => 0,
        Some(sign @ (b'+' | b'-')) => {
            let hours = cursor.digits(2)?;
            if cursor.peek() == Some(b':') {
                cursor.position += 1;
            }
            let minutes = if cursor.at_end() {
                0
            } else {
                cursor.digits(2)?
            };
            if hours > 23 || minutes > 59 {
                return None;
            }
            let total = i64::from(hours * 60 + minutes);
            if sign == b'+' {
                total
            } else {
                -total
            }
        }
        Some(_) => return None,
    };
    if !cursor.at_end() {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let local_millis = days * MILLIS_PER_DAY
        + i64::from(hour) * 3_600_000
        + i64::from(minute) * 60_000
        + i64::from(second) * 1_000
        + i64::from(millis);
    let utc_millis = local_millis - offset_minutes * 60_000;
    u64::try_from(utc_millis).ok()
}

/// Formats Unix milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn format_iso8601_millis(millis: u64) -> String {
    // u64 millis / MILLIS_PER_DAY always fits in i64.
    let days = (millis / MILLIS_PER_DAY as u64) as i64;
    let rest = millis % MILLIS_PER_DAY as u64;
    let (year, month, day) = civil_from_days(days);
    let hour = rest / 3_600_000;
    let minute = rest / 60_000 % 60;
    let second = rest / 1_000 % 60;
    let milli = rest % 1_000;
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{milli:03}Z")
}

struct Cursor<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.position).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.position += 1;
        Some(byte)
    }

    fn at_end(&self) -> bool {
        self.position >= self.bytes.len()
    }

    fn expect(&mut self, wanted: u8) -> Option<()> {
        (self.next()? == wanted).then_some(())
    }

    /// Exactly `count` ASCII digits as a number.
    fn digits(&mut self, count: usize) -> Option<u32> {
        let mut number = 0u32;
        for _ in 0..count {
            let byte = self.next().filter(u8::is_ascii_digit)?;
            number = number * 10 + u32::from(byte - b'0');
        }
        Some(number)
    }
}

fn is_leap_year(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Inverse of [`days_from_civil`] for non-negative day counts.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}
