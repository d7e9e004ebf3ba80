//! Unix seconds to the civil (proleptic Gregorian, UTC) date and time, and back.
//!
//! Written here, rather than taken from the `time` crate, to keep `time` (and the four
//! crates it brings) out of the minimal build: `X-Sdk-Date` and the times in messages only
//! need this conversion, and only the credential documents' RFC 3339 expiry, behind the
//! `sources` feature, needs a real date parser. The two conversions are Howard Hinnant's
//! `days_from_civil` and `civil_from_days`
//! (<https://howardhinnant.github.io/date_algorithms.html>), with 400-year eras so that
//! every step stays in range; a test compares them with `time` over 1970..=9999.

/// A civil date and time of day, in UTC, to the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Civil {
    pub(crate) year: i64,
    /// 1..=12.
    pub(crate) month: u8,
    /// 1..=31, a day the month has.
    pub(crate) day: u8,
    /// 0..=23.
    pub(crate) hour: u8,
    /// 0..=59.
    pub(crate) minute: u8,
    /// 0..=59 (no leap seconds: Unix time has none).
    pub(crate) second: u8,
}

const SECS_PER_DAY: i64 = 86_400;
/// Days in a 400-year era of the Gregorian calendar.
const DAYS_PER_ERA: i64 = 146_097;
/// Days from 0000-03-01 (the start of era 0, years beginning in March) to 1970-01-01.
const EPOCH_SHIFT: i64 = 719_468;

/// The number of days in `month` of `year`, or `None` for a month outside 1..=12.
pub(crate) fn days_in_month(year: i64, month: u8) -> Option<u8> {
    let leap = year.rem_euclid(4) == 0 && (year.rem_euclid(100) != 0 || year.rem_euclid(400) == 0);
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => Some(31),
        4 | 6 | 9 | 11 => Some(30),
        2 if leap => Some(29),
        2 => Some(28),
        _ => None,
    }
}

/// Days from 1970-01-01 to `year-month-day` (negative before), or `None` when the date
/// does not exist (month 13, February 30th) or `year` is beyond ±10^9 (so no step can overflow).
pub(crate) fn days_from_civil(year: i64, month: u8, day: u8) -> Option<i64> {
    if !(1..=days_in_month(year, month)?).contains(&day) || year.unsigned_abs() > 1_000_000_000 {
        return None;
    }
    // Years start in March, so that the leap day is the last of its year.
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400); // 0..=399
    let month_from_march = (i64::from(month) + 9) % 12; // March 0, ..., February 11
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1; // 0..=365
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Some(era * DAYS_PER_ERA + day_of_era - EPOCH_SHIFT)
}

/// The civil date `days` after 1970-01-01: (year, month 1..=12, day 1..=31).
fn civil_from_days(days: i64) -> (i64, u8, u8) {
    // `days` comes from seconds divided by 86 400, so the shift cannot overflow.
    let days = days + EPOCH_SHIFT;
    let era = days.div_euclid(DAYS_PER_ERA);
    let day_of_era = days.rem_euclid(DAYS_PER_ERA); // 0..=146_096
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365; // 0..=399
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100); // 0..=365
    let month_from_march = (5 * day_of_year + 2) / 153; // 0..=11
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1; // 1..=31
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    }; // 1..=12
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, small(month), small(day))
}

/// A value the arithmetic above keeps below 256.
fn small(value: i64) -> u8 {
    u8::try_from(value).unwrap_or(u8::MAX)
}

impl Civil {
    /// The civil time `unix` seconds after 1970-01-01T00:00:00Z (before it when negative).
    pub(crate) fn from_unix(unix: i64) -> Self {
        let days = unix.div_euclid(SECS_PER_DAY);
        let second_of_day = unix.rem_euclid(SECS_PER_DAY); // 0..=86_399
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: small(second_of_day / 3600),
            minute: small(second_of_day / 60 % 60),
            second: small(second_of_day % 60),
        }
    }

    /// Seconds since 1970-01-01T00:00:00Z, or `None` when the date does not exist or a
    /// time field is out of range (hour 24, minute 60, second 60).
    pub(crate) fn to_unix(self) -> Option<i64> {
        if self.hour > 23 || self.minute > 59 || self.second > 59 {
            return None;
        }
        let days = days_from_civil(self.year, self.month, self.day)?;
        Some(
            days * SECS_PER_DAY
                + i64::from(self.hour) * 3600
                + i64::from(self.minute) * 60
                + i64::from(self.second),
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// The same instant as `time` sees it.
    fn by_time(unix: i64) -> Civil {
        let t = time::OffsetDateTime::from_unix_timestamp(unix).unwrap();
        Civil {
            year: i64::from(t.year()),
            month: u8::from(t.month()),
            day: t.day(),
            hour: t.hour(),
            minute: t.minute(),
            second: t.second(),
        }
    }

    /// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z: `time`'s range without its
    /// `large-dates` feature (year -9999 on), cut to what the tests need.
    const FIRST: i64 = -62_167_219_200;
    const LAST: i64 = 253_402_300_799;

    #[test]
    fn known_instants() {
        for (unix, text) in [
            (0, (1970, 1, 1, 0, 0, 0)),
            (-1, (1969, 12, 31, 23, 59, 59)),
            (951_782_400, (2000, 2, 29, 0, 0, 0)),
            (1_795_334_400, (2026, 11, 22, 8, 0, 0)),
            (LAST, (9999, 12, 31, 23, 59, 59)),
            (FIRST, (0, 1, 1, 0, 0, 0)),
        ] {
            let (year, month, day, hour, minute, second) = text;
            let civil = Civil {
                year,
                month,
                day,
                hour,
                minute,
                second,
            };
            assert_eq!(Civil::from_unix(unix), civil, "{unix}");
            assert_eq!(civil.to_unix(), Some(unix), "{civil:?}");
        }
    }

    #[test]
    fn refuses_dates_and_times_that_do_not_exist() {
        let valid = Civil::from_unix(0);
        for bad in [
            Civil { month: 0, ..valid },
            Civil { month: 13, ..valid },
            Civil { day: 0, ..valid },
            Civil { day: 32, ..valid },
            Civil {
                year: 2026,
                month: 2,
                day: 29,
                ..valid
            },
            Civil {
                year: 1900,
                month: 2,
                day: 29,
                ..valid
            },
            Civil {
                month: 4,
                day: 31,
                ..valid
            },
            Civil { hour: 24, ..valid },
            Civil {
                minute: 60,
                ..valid
            },
            Civil {
                second: 60,
                ..valid
            },
            Civil {
                year: i64::MAX,
                ..valid
            },
            Civil {
                year: i64::MIN,
                ..valid
            },
        ] {
            assert_eq!(bad.to_unix(), None, "{bad:?}");
        }
        let leap = Civil {
            year: 2000,
            month: 2,
            day: 29,
            ..valid
        };
        assert_eq!(leap.to_unix(), Some(951_782_400));
    }

    #[test]
    fn extreme_seconds_do_not_panic() {
        for unix in [i64::MIN, i64::MIN + 1, i64::MAX, i64::MAX - 1] {
            let civil = Civil::from_unix(unix);
            assert!((1..=12).contains(&civil.month), "{civil:?}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]

        /// Every second from 1970 to the end of 9999, as `time` converts it, both ways.
        #[test]
        fn agrees_with_time_from_1970_to_9999(unix in 0i64..=LAST) {
            let civil = Civil::from_unix(unix);
            proptest::prop_assert_eq!(civil, by_time(unix));
            proptest::prop_assert_eq!(civil.to_unix(), Some(unix));
        }

        /// And before 1970, which only messages show.
        #[test]
        fn agrees_with_time_before_1970(unix in FIRST..0i64) {
            let civil = Civil::from_unix(unix);
            proptest::prop_assert_eq!(civil, by_time(unix));
            proptest::prop_assert_eq!(civil.to_unix(), Some(unix));
        }

        /// Any field values: a date `time` accepts is one this accepts, at the same second.
        #[test]
        fn accepts_the_dates_time_accepts(
            year in 1970i64..=9999,
            month in 0u8..=13,
            day in 0u8..=32,
            hour in 0u8..=24,
            minute in 0u8..=60,
            second in 0u8..=60,
        ) {
            let civil = Civil { year, month, day, hour, minute, second };
            let expected = time::Month::try_from(month)
                .ok()
                .and_then(|m| {
                    time::Date::from_calendar_date(i32::try_from(year).ok()?, m, day).ok()
                })
                .and_then(|d| d.with_hms(hour, minute, second).ok())
                .map(|t| t.assume_utc().unix_timestamp());
            proptest::prop_assert_eq!(civil.to_unix(), expected);
        }
    }

    /// Every day boundary in 1970..=9999, exhaustively (about 2.9 million days).
    #[test]
    fn every_day_from_1970_to_9999() {
        let mut date = time::Date::from_calendar_date(1970, time::Month::January, 1).unwrap();
        let mut days = 0i64;
        loop {
            let civil = Civil::from_unix(days * SECS_PER_DAY);
            let expected = (i64::from(date.year()), u8::from(date.month()), date.day());
            assert_eq!((civil.year, civil.month, civil.day), expected, "day {days}");
            assert_eq!(
                days_from_civil(civil.year, civil.month, civil.day),
                Some(days)
            );
            match date.next_day() {
                Some(next) if next.year() <= 9999 => date = next,
                _ => break,
            }
            days += 1;
        }
        assert_eq!(days, LAST / SECS_PER_DAY);
    }
}
