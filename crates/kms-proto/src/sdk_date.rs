//! The `X-Sdk-Date` timestamp: `YYYYMMDDTHHMMSSZ` in UTC.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;

use crate::input_error::{Input, InvalidInput, Problem};

/// A signing time as written in `X-Sdk-Date` (`20261122T080000Z`), whole seconds, UTC.
///
/// Stored inline, so formatting one allocates nothing.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SdkDate {
    text: [u8; 16],
    /// Seconds since 1970, computed once: the verifier needs them for every request.
    unix: u64,
}

impl SdkDate {
    /// Formats `time`, dropping sub-second precision.
    ///
    /// # Errors
    /// [`Problem::TimeOutOfRange`] for a time before 1970 or after 9999.
    pub fn from_system_time(time: SystemTime) -> Result<Self, InvalidInput> {
        let out_of_range = || InvalidInput::new(Input::SigningTime, Problem::TimeOutOfRange);
        let since_epoch = time
            .duration_since(UNIX_EPOCH)
            .map_err(|_| out_of_range())?;
        let since_epoch_secs = since_epoch.as_secs();
        let since_epoch = time::Duration::try_from(Duration::from_secs(since_epoch_secs))
            .map_err(|_| out_of_range())?;
        let utc = OffsetDateTime::UNIX_EPOCH
            .checked_add(since_epoch)
            .filter(|t| t.year() <= 9999)
            .ok_or_else(out_of_range)?;
        let mut buf = *b"00000000T000000Z";
        // Year is 1970..=9999 here, so every field fits its digits.
        let fields: [(usize, usize, u32); 6] = [
            (0, 4, utc.year().unsigned_abs()),
            (4, 2, u8::from(utc.month()).into()),
            (6, 2, utc.day().into()),
            (9, 2, utc.hour().into()),
            (11, 2, utc.minute().into()),
            (13, 2, utc.second().into()),
        ];
        for (start, width, mut value) in fields {
            for i in (start..start + width).rev() {
                if let Some(slot) = buf.get_mut(i) {
                    // `value % 10` is below 10, so the cast cannot truncate.
                    *slot = b'0' + (value % 10) as u8;
                }
                value /= 10;
            }
        }
        Ok(SdkDate {
            text: buf,
            unix: since_epoch_secs,
        })
    }

    /// Parses an `X-Sdk-Date` value. Only the exact form `YYYYMMDDTHHMMSSZ` with a real
    /// calendar date from 1970 on is accepted.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes: [u8; 16] = text.as_bytes().try_into().ok()?;
        if bytes[8] != b'T' || bytes[15] != b'Z' {
            return None;
        }
        let unix = unix_seconds(&bytes)?;
        Some(SdkDate { text: bytes, unix })
    }

    /// The time as a `SystemTime`.
    pub fn to_system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.unix)
    }

    /// The text, `YYYYMMDDTHHMMSSZ`.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits, 'T' and 'Z' are ever stored.
        std::str::from_utf8(&self.text).unwrap_or("19700101T000000Z")
    }
}

/// Seconds since 1970 of `YYYYMMDDTHHMMSSZ` (the `T` and `Z` already checked), or `None`
/// for a field that is not digits or not a real calendar time from 1970 on.
fn unix_seconds(b: &[u8; 16]) -> Option<u64> {
    let num = |range: std::ops::Range<usize>| -> Option<u64> {
        b.get(range)?.iter().try_fold(0u64, |acc, &d| {
            d.is_ascii_digit().then(|| acc * 10 + u64::from(d - b'0'))
        })
    };
    let (year, month, day) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hour, minute, second) = (num(9..11)?, num(11..13)?, num(13..15)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if year < 1970 || day == 0 || day > days_in_month || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    // Days from 1970-01-01 to the date (Howard Hinnant's days_from_civil, for years >= 1).
    let y = if month <= 2 { year - 1 } else { year };
    let (era, year_of_era) = (y / 400, y % 400);
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = (era * 146_097 + day_of_era).checked_sub(719_468)?;
    Some(days * 86_400 + hour * 3_600 + minute * 60 + second)
}

impl fmt::Display for SdkDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for SdkDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SdkDate({})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn formats_known_instants() {
        let cases = [
            (0, "19700101T000000Z"),
            (1_795_334_400, "20261122T080000Z"),
            (1_798_761_599, "20261231T235959Z"),
            (951_782_400, "20000229T000000Z"),
            (253_402_300_799, "99991231T235959Z"),
        ];
        for (secs, text) in cases {
            let date = SdkDate::from_system_time(at(secs)).unwrap();
            assert_eq!(date.as_str(), text);
            assert_eq!(SdkDate::parse(text), Some(date));
            assert_eq!(date.to_system_time(), at(secs));
        }
        // Sub-second precision is dropped, not rounded.
        let date = SdkDate::from_system_time(at(0) + Duration::from_millis(999)).unwrap();
        assert_eq!(date.as_str(), "19700101T000000Z");
    }

    #[test]
    fn refuses_times_that_cannot_be_written() {
        for t in [UNIX_EPOCH - Duration::from_secs(1), at(253_402_300_800)] {
            let err = SdkDate::from_system_time(t).unwrap_err();
            assert_eq!(err.problem(), &Problem::TimeOutOfRange);
        }
    }

    proptest::proptest! {
        #[test]
        fn formatting_and_parsing_agree(secs in 0u64..253_402_300_800) {
            let date = SdkDate::from_system_time(at(secs)).unwrap();
            proptest::prop_assert_eq!(SdkDate::parse(date.as_str()), Some(date));
            proptest::prop_assert_eq!(date.to_system_time(), at(secs));
        }
    }

    #[test]
    fn parse_is_strict() {
        for bad in [
            "",
            "20261122T080000",
            "20261122t080000Z",
            "20261122T080000z",
            "2026-11-22T08:00Z",
            "20261131T080000Z",
            "20261122T250000Z",
            "19691231T235959Z",
            "2026112xT080000Z",
            "20261122T080000Z ",
            "２0261122T080000Z",
        ] {
            assert_eq!(SdkDate::parse(bad), None, "{bad:?}");
        }
    }
}
