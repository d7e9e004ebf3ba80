//! The `X-Sdk-Date` timestamp: `YYYYMMDDTHHMMSSZ` in UTC.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

use crate::input_error::{Input, InvalidInput, Problem};

/// A signing time as written in `X-Sdk-Date` (`20261122T080000Z`), whole seconds, UTC.
///
/// Stored inline, so formatting one allocates nothing.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SdkDate([u8; 16]);

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
        let since_epoch = time::Duration::try_from(Duration::from_secs(since_epoch.as_secs()))
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
        Ok(SdkDate(buf))
    }

    /// Parses an `X-Sdk-Date` value. Only the exact form `YYYYMMDDTHHMMSSZ` with a real
    /// calendar date from 1970 on is accepted.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes: [u8; 16] = text.as_bytes().try_into().ok()?;
        let digit_positions = (0..8).chain(9..15);
        let shape_ok = bytes[8] == b'T'
            && bytes[15] == b'Z'
            && digit_positions
                .clone()
                .all(|i| bytes.get(i).is_some_and(u8::is_ascii_digit));
        if !shape_ok {
            return None;
        }
        let date = SdkDate(bytes);
        date.to_primitive().filter(|t| t.year() >= 1970)?;
        Some(date)
    }

    /// The time as a `SystemTime`.
    pub fn to_system_time(self) -> SystemTime {
        let secs = self
            .to_primitive()
            .map(|t| t.assume_utc().unix_timestamp())
            .and_then(|s| u64::try_from(s).ok())
            .unwrap_or(0);
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    /// The text, `YYYYMMDDTHHMMSSZ`.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits, 'T' and 'Z' are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("19700101T000000Z")
    }

    fn to_primitive(self) -> Option<PrimitiveDateTime> {
        let num = |range: std::ops::Range<usize>| -> Option<u32> {
            self.0.get(range)?.iter().try_fold(0u32, |acc, &b| {
                b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
            })
        };
        let year = i32::try_from(num(0..4)?).ok()?;
        let month = Month::try_from(u8::try_from(num(4..6)?).ok()?).ok()?;
        let day = u8::try_from(num(6..8)?).ok()?;
        let date = Date::from_calendar_date(year, month, day).ok()?;
        let time = Time::from_hms(
            u8::try_from(num(9..11)?).ok()?,
            u8::try_from(num(11..13)?).ok()?,
            u8::try_from(num(13..15)?).ok()?,
        )
        .ok()?;
        Some(PrimitiveDateTime::new(date, time))
    }
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
