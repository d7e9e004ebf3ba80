//! The `X-Sdk-Date` timestamp: `YYYYMMDDTHHMMSSZ` in UTC.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::civil::Civil;
use crate::input::{Input, InvalidInput, Problem};

/// A signing time as written in `X-Sdk-Date` (`20261122T080000Z`), whole seconds, UTC.
///
/// Stored inline, so formatting one allocates nothing.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SdkDate {
    /// `YYYYMMDDTHHMMSSZ`: only ASCII digits, `T` and `Z`, as both constructors ensure.
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
        let unix = time
            .duration_since(UNIX_EPOCH)
            .map_err(|_| out_of_range())?
            .as_secs();
        let utc = i64::try_from(unix)
            .ok()
            .map(Civil::from_unix)
            // `YYYY` holds no year past 9999.
            .filter(|t| t.year <= 9999)
            .ok_or_else(out_of_range)?;
        // 1970..=9999, so the year has four digits.
        let [y0, y1, y2, y3] = digits(u32::try_from(utc.year).map_err(|_| out_of_range())?);
        let [mo0, mo1] = digits(utc.month.into());
        let [d0, d1] = digits(utc.day.into());
        let [h0, h1] = digits(utc.hour.into());
        let [mi0, mi1] = digits(utc.minute.into());
        let [s0, s1] = digits(utc.second.into());
        Ok(SdkDate {
            text: [
                y0, y1, y2, y3, mo0, mo1, d0, d1, b'T', h0, h1, mi0, mi1, s0, s1, b'Z',
            ],
            unix,
        })
    }

    /// Parses an `X-Sdk-Date` value. Only the exact form `YYYYMMDDTHHMMSSZ` with a real
    /// calendar date from 1970 on is accepted.
    pub fn parse(text: &str) -> Option<Self> {
        let text: [u8; 16] = text.as_bytes().try_into().ok()?;
        let [day @ .., b'T', h0, h1, mi0, mi1, s0, s1, b'Z'] = text else {
            return None;
        };
        let [y0, y1, y2, y3, mo0, mo1, d0, d1] = day;
        // Each of the other 14 bytes goes through `two_digits` before a date is made, so
        // a parsed date holds only digits, 'T' and 'Z', as `as_str` relies on.
        let at = Civil {
            year: i64::from(two_digits(y0, y1)?) * 100 + i64::from(two_digits(y2, y3)?),
            month: two_digits(mo0, mo1)?,
            day: two_digits(d0, d1)?,
            hour: two_digits(h0, h1)?,
            minute: two_digits(mi0, mi1)?,
            second: two_digits(s0, s1)?,
        };
        // Negative before 1970, which is refused.
        let unix = u64::try_from(at.to_unix()?).ok()?;
        Some(SdkDate { text, unix })
    }

    /// The time as a `SystemTime`.
    pub fn to_system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.unix)
    }

    /// The text, `YYYYMMDDTHHMMSSZ`.
    #[allow(
        clippy::expect_used,
        reason = "both constructors store only ASCII digits, 'T' and 'Z', which are UTF-8"
    )]
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.text)
            .expect("SdkDate holds only ASCII digits, 'T' and 'Z' (checked by both constructors)")
    }

    /// The text as bytes, for hashing: no UTF-8 check needed.
    pub(crate) fn as_bytes(&self) -> &[u8; 16] {
        &self.text
    }
}

/// The last `N` decimal digits of `value`, as ASCII.
fn digits<const N: usize>(mut value: u32) -> [u8; N] {
    let mut out = [b'0'; N];
    for slot in out.iter_mut().rev() {
        // `value % 10` is below 10, so the cast cannot truncate.
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
    out
}

/// The number two ASCII digits write, or `None` if either is not a digit.
fn two_digits(tens: u8, ones: u8) -> Option<u8> {
    let digit = |b: u8| b.is_ascii_digit().then(|| b - b'0');
    Some(digit(tens)? * 10 + digit(ones)?)
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

        /// The text is what `time` writes for the same second (the conversion is
        /// `crate::civil`'s, written by hand to keep `time` out of the minimal build).
        #[test]
        fn formats_as_time_does(secs in 0i64..253_402_300_800) {
            let t = time::OffsetDateTime::from_unix_timestamp(secs).unwrap();
            let expected = format!(
                "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            );
            let date = SdkDate::from_system_time(at(secs.unsigned_abs())).unwrap();
            proptest::prop_assert_eq!(date.as_str(), expected.as_str());
            proptest::prop_assert_eq!(SdkDate::parse(&expected), Some(date));
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
