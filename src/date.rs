//! Dates, written by hand: the HTTP `Date` header and the access log's timestamp.
//!
//! Stage: **send headers** (the `Date:` line of every response) and **finish** (the access log).
//!
//! Interface:
//! * [`http_date`] turns a [`SystemTime`] into an IMF-fixdate, the one format a sender may
//!   generate (RFC 9110 §5.6.7): `Sun, 06 Nov 1994 08:49:37 GMT`. A *recipient* must still
//!   accept all three formats of RFC 1945 §3.3 (IMF-fixdate, RFC 850, asctime); rgiref never
//!   reads a date from a request, so it has no parser for them.
//! * [`log_date`] turns one into the timestamp wsgiref's access log uses: `24/Nov/2026 20:01:39`.
//! * [`civil_from_unix`] is the calendar arithmetic both share, exposed so tests can check it.
//!
//! Both formats are in UTC. wsgiref's log uses *local* time, but std has no time-zone database,
//! and a log whose clock jumps with daylight saving is harder to read anyway.
//!
//! Why not a crate? Because the whole calendar is one function of 15 lines (below), and a
//! reader who has seen it will never again wonder how `Date:` headers are made.

use std::cell::RefCell;
use std::thread::LocalKey;
use std::time::{SystemTime, UNIX_EPOCH};

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A moment split into calendar fields (UTC), as [`civil_from_unix`] returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Civil {
    /// The year, e.g. 2026.
    pub(crate) year: i64,
    /// 1 = January … 12 = December.
    pub(crate) month: u32,
    /// 1 … 31.
    pub(crate) day: u32,
    /// 0 … 23.
    pub(crate) hour: u32,
    /// 0 … 59.
    pub(crate) minute: u32,
    /// 0 … 59 (Unix time has no leap seconds).
    pub(crate) second: u32,
    /// 0 = Monday … 6 = Sunday.
    pub(crate) weekday: u32,
}

/// Splits seconds since 1970-01-01T00:00:00Z into a UTC calendar date and time of day.
///
/// The date part is Howard Hinnant's `civil_from_days`: count in 400-year "eras" (every era has
/// exactly 146 097 days), and start each year on 1 March so that the leap day falls at the *end*
/// of the year, where it cannot disturb the month arithmetic.
pub(crate) fn civil_from_unix(seconds: i64) -> Civil {
    let days = seconds.div_euclid(86_400);
    let secs_of_day = seconds.rem_euclid(86_400);

    let z = days + 719_468; // days since 0000-03-01
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097); // [0, 146096]
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153; // 0 = March … 11 = February
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);

    Civil {
        year,
        month,
        day,
        hour: (secs_of_day / 3600) as u32,
        minute: (secs_of_day / 60 % 60) as u32,
        second: (secs_of_day % 60) as u32,
        // 1970-01-01 was a Thursday, index 3 when Monday is 0.
        weekday: (days + 3).rem_euclid(7) as u32,
    }
}

/// Formats `time` as an HTTP date (IMF-fixdate, RFC 9110 §5.6.7), the value of a `Date:` header.
pub(crate) fn http_date(time: SystemTime) -> String {
    let c = civil_from_unix(unix_seconds(time));
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        WEEKDAYS[c.weekday as usize],
        c.day,
        MONTHS[c.month as usize - 1],
        c.year,
        c.hour,
        c.minute,
        c.second
    )
}

/// Appends the current time as an HTTP date to `out`, formatting it at most once a second.
///
/// Every response carries a `Date`, but the text only changes once a second; busy servers
/// (nginx among them) cache it the same way. The cache is per thread, so it needs no lock.
pub(crate) fn push_http_date_now(out: &mut String) {
    thread_local! {
        static HTTP_DATE: RefCell<(i64, String)> = const { RefCell::new((i64::MIN, String::new())) };
    }
    push_cached(&HTTP_DATE, http_date, out);
}

/// Appends the current time as the access log writes it, formatting it at most once a second.
pub(crate) fn push_log_date_now(out: &mut String) {
    thread_local! {
        static LOG_DATE: RefCell<(i64, String)> = const { RefCell::new((i64::MIN, String::new())) };
    }
    push_cached(&LOG_DATE, log_date, out);
}

/// Appends `format(now)`, reusing the text in `cache` while the second has not changed.
fn push_cached(
    cache: &'static LocalKey<RefCell<(i64, String)>>,
    format: fn(SystemTime) -> String,
    out: &mut String,
) {
    let now = SystemTime::now();
    let second = unix_seconds(now);
    cache.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.0 != second {
            *cache = (second, format(now));
        }
        out.push_str(&cache.1);
    });
}

/// Formats `time` the way wsgiref's access log does (`%d/%b/%Y %H:%M:%S`), in UTC.
pub(crate) fn log_date(time: SystemTime) -> String {
    let c = civil_from_unix(unix_seconds(time));
    format!(
        "{:02}/{}/{:04} {:02}:{:02}:{:02}",
        c.day,
        MONTHS[c.month as usize - 1],
        c.year,
        c.hour,
        c.minute,
        c.second
    )
}

/// Whole seconds since the Unix epoch; a clock set before 1970 gives negative seconds, not a panic.
fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_secs() as i64,
        Err(before) => -(before.duration().as_secs_f64().ceil() as i64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn epoch_and_leap_days() {
        assert_eq!(civil_from_unix(0).year, 1970);
        assert_eq!((civil_from_unix(0).month, civil_from_unix(0).day), (1, 1));
        assert_eq!(civil_from_unix(0).weekday, 3); // Thursday
                                                   // 2000-02-29 (a leap day in a year divisible by 400)
        let c = civil_from_unix(951_782_400);
        assert_eq!((c.year, c.month, c.day), (2000, 2, 29));
        // 2100-03-01: 2100 is not a leap year, so the day before is 28 Feb.
        let c = civil_from_unix(4_107_542_400 - 86_400);
        assert_eq!((c.year, c.month, c.day), (2100, 2, 28));
        // One second before the epoch.
        let c = civil_from_unix(-1);
        assert_eq!(
            (c.year, c.month, c.day, c.hour, c.minute, c.second),
            (1969, 12, 31, 23, 59, 59)
        );
    }

    #[test]
    fn every_day_for_four_centuries_follows_the_previous_one() {
        // Walk day by day from 1900 to 2300 and check the calendar never skips or repeats.
        let mut previous = civil_from_unix(-2_208_988_800); // 1900-01-01
        assert_eq!((previous.year, previous.month, previous.day), (1900, 1, 1));
        for day in 1..146_097i64 {
            let c = civil_from_unix(-2_208_988_800 + day * 86_400);
            let next_day = previous.day + 1;
            let ok = (c.year == previous.year && c.month == previous.month && c.day == next_day)
                || (c.year == previous.year && c.month == previous.month + 1 && c.day == 1)
                || (c.year == previous.year + 1
                    && c.month == 1
                    && c.day == 1
                    && previous.month == 12);
            assert!(ok, "{previous:?} then {c:?}");
            assert_eq!(c.weekday, (previous.weekday + 1) % 7);
            previous = c;
        }
    }

    #[test]
    fn the_rfc_example_date() {
        // 784111777 is the example of RFC 9110 §5.6.7: Sun, 06 Nov 1994 08:49:37 GMT.
        let c = civil_from_unix(784_111_777);
        let expected = Civil {
            year: 1994,
            month: 11,
            day: 6,
            hour: 8,
            minute: 49,
            second: 37,
            weekday: 6,
        };
        assert_eq!(c, expected);
        let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(log_date(t), "06/Nov/1994 08:49:37");
    }

    #[test]
    fn the_cached_forms_have_the_right_shape() {
        let mut header = String::new();
        push_http_date_now(&mut header);
        assert!(header.ends_with(" GMT") && header.len() == 29, "{header}");
        let mut line = String::new();
        push_log_date_now(&mut line);
        assert_eq!(line.len(), "24/Nov/2026 20:01:39".len());
    }

    #[test]
    fn formats() {
        let t = UNIX_EPOCH + Duration::from_secs(1_795_550_499); // 2026-11-24 20:01:39 UTC
        assert_eq!(http_date(t), "Tue, 24 Nov 2026 20:01:39 GMT");
        assert_eq!(log_date(t), "24/Nov/2026 20:01:39");
    }
}
