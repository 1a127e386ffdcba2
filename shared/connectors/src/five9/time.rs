//! Five9 report times: local wall-clock values without an offset, in the domain's time zone.
//!
//! Converting them to UTC is ambiguous in the hour repeated when DST ends. The connector avoids the ambiguity by
//! never letting one report span a backward transition (see [`backward_transitions`]): every report window lies
//! entirely before or entirely after it, so exactly one of the two candidate instants falls inside the window (a
//! report ending at the transition asks up to the second before it, [`criteria_end`]: Five9 includes the end).
//! Should both candidates still fall inside a window, row order decides: the earliest candidate not before the
//! previous row of the same ordered sequence.

use std::sync::LazyLock;

use chrono::format::{Item, Parsed, StrftimeItems};
use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use acd_domain::TimeWindow as Window;

/// Report timestamp formats: `Mon, 25 Nov 2024 13:05:10` (documented) and two plain forms seen in custom reports.
const TIMESTAMP_FORMATS: [&str; 3] = ["%a, %d %b %Y %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M:%S"];
const DATE_FORMATS: [&str; 3] = ["%a, %d %b %Y", "%Y/%m/%d", "%Y-%m-%d"];

/// The formats above as chrono's parsed items, made once: `parse_from_str` would take each format string apart
/// again for every value (a report has one or two timestamps per row, hundreds of thousands of rows).
static TIMESTAMP_ITEMS: LazyLock<[Vec<Item<'static>>; 3]> = LazyLock::new(|| TIMESTAMP_FORMATS.map(items));
static DATE_ITEMS: LazyLock<[Vec<Item<'static>>; 3]> = LazyLock::new(|| DATE_FORMATS.map(items));
static TIME_ITEMS: LazyLock<Vec<Item<'static>>> = LazyLock::new(|| items("%H:%M:%S"));

fn items(format: &'static str) -> Vec<Item<'static>> {
    StrftimeItems::new(format).parse().expect("a valid strftime format")
}

/// What chrono's `parse_from_str` does, with the format's items made once.
fn parsed(raw: &str, items: &[Item<'static>]) -> Option<Parsed> {
    let mut parsed = Parsed::new();
    chrono::format::parse(&mut parsed, raw, items.iter()).ok()?;
    Some(parsed)
}

pub fn parse_timestamp(raw: &str) -> Option<NaiveDateTime> {
    let raw = raw.trim();
    documented_timestamp(raw)
        .or_else(|| TIMESTAMP_ITEMS.iter().find_map(|f| parsed(raw, f)?.to_naive_datetime_with_offset(0).ok()))
}

const WEEKDAYS: [&[u8; 3]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];
const MONTHS: [&[u8; 3]; 12] =
    [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"];

/// The documented form exactly as Five9 writes it (`Mon, 25 Nov 2024 13:05:10`: two-digit day, names as written
/// here, a weekday that matches the date), read without chrono's general parser, which spent ≈ 1,700 instructions
/// on each (two per Agent State row). `None` for anything else, which then goes through chrono: this never
/// accepts a value chrono would refuse or read differently (a test compares the two).
fn documented_timestamp(raw: &str) -> Option<NaiveDateTime> {
    let b: &[u8; 25] = raw.as_bytes().try_into().ok()?;
    let punctuation = [(3, b','), (4, b' '), (7, b' '), (11, b' '), (16, b' '), (19, b':'), (22, b':')];
    if punctuation.iter().any(|&(i, c)| b[i] != c) {
        return None;
    }
    let number = |range: std::ops::Range<usize>| {
        b[range].iter().try_fold(0u32, |n, d| d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0')))
    };
    let weekday = WEEKDAYS.iter().position(|w| b[..3] == w[..])?;
    let month = MONTHS.iter().position(|m| b[8..11] == m[..])?;
    let date = chrono::NaiveDate::from_ymd_opt(i32::try_from(number(12..16)?).ok()?, month as u32 + 1, number(5..7)?)?;
    if date.weekday().num_days_from_monday() as usize != weekday {
        return None;
    }
    // An hour of 24 or a second of 60 (a leap second, which chrono reads its own way) is left to chrono.
    date.and_hms_opt(number(17..19)?, number(20..22)?, number(23..25)?)
}

/// A `DATE` column value plus a `TIME` column value (reports that split the timestamp).
pub fn parse_date_and_time(date: &str, time: &str) -> Option<NaiveDateTime> {
    let date = DATE_ITEMS.iter().find_map(|f| parsed(date.trim(), f)?.to_naive_date().ok())?;
    let time = parsed(time.trim(), &TIME_ITEMS)?.to_naive_time().ok()?;
    Some(date.and_time(time))
}

const MAX_DURATION_HOURS: u64 = 24 * 366;

/// `HH:MM:SS` (hours may exceed 24) → seconds; anything else is `None`, an empty value and `-` included. five9.md
/// documents durations as `HH:MM:SS` only (an abandoned call's TALK TIME is `00:00:00`; `-` is a boolean's false): a
/// blank duration is the mark of a cut or corrupt row, as for the report's booleans, and read as zero it would turn
/// a handled call into one only offered and drop an agent state as zero-length, in a window taken as complete.
pub fn parse_duration_secs(raw: &str) -> Option<u64> {
    let raw = raw.trim().as_bytes();
    // Byte by byte (two values per Call Log or Agent State row): what `split(':')` and `u64::from_str` on each of
    // exactly three parts accept, without their iterator and searcher.
    let mut parts = raw.splitn(4, |b| *b == b':');
    let (h, m, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let (h, m, s) = (unsigned(h)?, unsigned(m)?, unsigned(s)?);
    // Beyond a year a value is corrupt (and large ones would overflow the arithmetic downstream).
    if m >= 60 || s >= 60 || h > MAX_DURATION_HOURS {
        return None;
    }
    Some(h * 3600 + m * 60 + s)
}

/// What `u64::from_str` accepts: an optional `+`, then one or more ASCII digits, no overflow.
fn unsigned(text: &[u8]) -> Option<u64> {
    let digits = text.strip_prefix(b"+").unwrap_or(text);
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, d| {
        if d.is_ascii_digit() { n.checked_mul(10)?.checked_add(u64::from(d - b'0')) } else { None }
    })
}

/// Formats an instant as the `xs:dateTime` Five9 receives: local wall time of the domain with its explicit
/// offset, e.g. `2024-11-03T01:30:00.000-08:00`. The offset makes the value unambiguous even in the repeated hour;
/// a server that ignored it would still read the right wall time outside that hour.
pub fn format_criteria_time(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string()
}

/// The last instant a report over a window ending at `end` asks Five9 for (its criteria end, which Five9 includes):
/// `end`, or a second before it when `end` is a backward transition. There `end`'s wall time is also the first
/// instant of the repeated hour, an hour earlier, so a row at `end` — the next report's, which starts there — could
/// not be told from one at that hour's start when the report holds no row in between. Five9 writes whole seconds:
/// a second before `end` loses nothing.
pub fn criteria_end(end: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
    let second_before = end - Duration::seconds(1);
    if utc_offset(tz, end) < utc_offset(tz, second_before) { second_before } else { end }
}

/// The zone's offset from UTC at `t`, in seconds.
fn utc_offset(tz: Tz, t: DateTime<Utc>) -> i32 {
    tz.offset_from_utc_datetime(&t.naive_utc()).fix().local_minus_utc()
}

/// Instants within `(start, end)` at which the zone's UTC offset decreases (local time repeats).
pub fn backward_transitions(tz: Tz, start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let offset = |t| utc_offset(tz, t);
    let mut out = Vec::new();
    let step = Duration::hours(1);
    let mut t = start;
    while t < end {
        let next = (t + step).min(end);
        if offset(next) < offset(t) {
            // Binary search the first second with the new offset.
            let (mut lo, mut hi) = (t, next);
            while hi - lo > Duration::seconds(1) {
                let mid = lo + (hi - lo) / 2;
                if offset(mid) < offset(t) { hi = mid } else { lo = mid }
            }
            if hi > start && hi < end {
                out.push(hi);
            }
        }
        t = next;
    }
    out
}

/// Converts report wall times to UTC for one report window.
#[derive(Debug, Clone, Copy)]
pub struct LocalResolver {
    tz: Tz,
    start: DateTime<Utc>,
    /// The last instant the report asked for ([`criteria_end`]).
    last: DateTime<Utc>,
}

impl LocalResolver {
    pub fn new(tz: Tz, window: Window) -> Self {
        Self { tz, start: window.start, last: criteria_end(window.end, tz) }
    }

    /// The UTC instant of a local wall time. A wall time of the repeated hour is read as the instant inside the
    /// window; when both are, as the later one if the earlier is before `prev` (the previous row of the same
    /// time-ordered sequence); when neither is (a row outside the hours asked for), as the one nearer the window: a
    /// row a little outside it is skipped and warned about, never taken an hour farther out (which would fail the
    /// read as one in a wrong time zone, [`super::report::OUTSIDE_TOLERANCE`]).
    pub fn resolve(&self, local: NaiveDateTime, prev: Option<DateTime<Utc>>) -> DateTime<Utc> {
        match self.tz.from_local_datetime(&local) {
            LocalResult::Single(t) => t.with_timezone(&Utc),
            LocalResult::Ambiguous(a, b) => {
                let (a, b) = (a.with_timezone(&Utc), b.with_timezone(&Utc));
                let (early, late) = if a <= b { (a, b) } else { (b, a) };
                // Five9's criteria end is treated as inclusive.
                let inside = |t: DateTime<Utc>| self.start <= t && t <= self.last;
                match (inside(early), inside(late)) {
                    (true, false) => early,
                    (false, true) => late,
                    (true, true) => match prev {
                        Some(p) if early < p => late,
                        _ => early,
                    },
                    (false, false) => {
                        let off = |t: DateTime<Utc>| if t < self.start { self.start - t } else { t - self.last };
                        if off(late) < off(early) { late } else { early }
                    }
                }
            }
            // A wall time inside the spring-forward gap does not exist; Five9 should never write one. Read it
            // leniently with the offset in force just before the gap (as java.util.Calendar does), i.e. it lands
            // just after the transition.
            LocalResult::None => {
                let before = local.checked_sub_signed(Duration::hours(3)).unwrap_or(local);
                let offset = match self.tz.from_local_datetime(&before) {
                    LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.offset().fix(),
                    LocalResult::None => Utc.fix(),
                };
                let utc = local.checked_sub_signed(Duration::seconds(offset.local_minus_utc().into())).unwrap_or(local);
                DateTime::<Utc>::from_naive_utc_and_offset(utc, Utc)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, NaiveTime};
    use chrono_tz::America::Los_Angeles;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn parses_five9_values() {
        let t = parse_timestamp("Mon, 25 Nov 2024 13:05:10").unwrap();
        assert_eq!(t.to_string(), "2024-11-25 13:05:10");
        assert_eq!(parse_date_and_time("Mon, 25 Nov 2024", "13:05:10"), Some(t));
        assert_eq!(parse_duration_secs("01:02:03"), Some(3723));
        assert_eq!(parse_duration_secs("125:00:01"), Some(450_001));
        assert_eq!(parse_duration_secs("00:00:00"), Some(0));
        assert_eq!(parse_duration_secs("1:2"), None);
        assert_eq!(parse_duration_secs("00:61:00"), None);
        assert_eq!(parse_duration_secs("18446744073709551615:00:00"), None);
        assert_eq!(parse_timestamp("25/11/2024 13:05"), None);
    }

    #[test]
    fn the_prepared_formats_read_exactly_what_parse_from_str_reads() {
        // The items made once must accept and refuse the same values as chrono's own per-call parsing.
        let reference =
            |raw: &str| TIMESTAMP_FORMATS.iter().find_map(|f| NaiveDateTime::parse_from_str(raw.trim(), f).ok());
        let reference_split = |date: &str, time: &str| {
            let date = DATE_FORMATS.iter().find_map(|f| NaiveDate::parse_from_str(date.trim(), f).ok())?;
            Some(date.and_time(NaiveTime::parse_from_str(time.trim(), "%H:%M:%S").ok()?))
        };
        let values = [
            "Mon, 25 Nov 2024 13:05:10",
            " Mon, 25 Nov 2024 13:05:10 ",
            "Tue, 25 Nov 2024 13:05:10", // the wrong weekday
            "Mon, 31 Feb 2025 00:00:00",
            "Sun, 03 Nov 2024 01:30:00",
            "2024/11/25 13:05:10",
            "2024-11-25 13:05:10",
            "2024-11-25 24:00:00",
            "2024-11-25 13:05",
            "2024-11-25 13:05:10 extra",
            "2024-11-25T13:05:10",
            "25/11/2024 13:05",
            "",
            "-",
        ];
        for raw in values {
            assert_eq!(parse_timestamp(raw), reference(raw), "{raw:?}");
        }
        for (date, time) in [
            ("Mon, 25 Nov 2024", "13:05:10"),
            ("2024/11/25", " 00:00:00"),
            ("2024-11-25", "23:59:59"),
            ("2024-11-25", "23:60:00"),
            ("2024-13-01", "10:00:00"),
            ("Mon, 25 Nov 2024", ""),
            ("", "10:00:00"),
        ] {
            assert_eq!(parse_date_and_time(date, time), reference_split(date, time), "{date:?} {time:?}");
        }
        assert!(parse_timestamp("2024-11-25 13:05:10").is_some());
    }

    #[test]
    fn the_documented_form_is_read_as_chrono_reads_it() {
        let reference =
            |raw: &str| TIMESTAMP_FORMATS.iter().find_map(|f| NaiveDateTime::parse_from_str(raw.trim(), f).ok());
        let mut values: Vec<String> = [
            "Mon, 25 Nov 2024 13:05:10",
            "mon, 25 nov 2024 13:05:10", // other case: chrono's
            "MON, 25 NOV 2024 13:05:10",
            "Monday, 25 Nov 2024 13:05:10",
            "Mon, 25 November 2024 13:05:10",
            "Mon, 5 Nov 2024 13:05:10",
            "Mon,  5 Nov 2024 13:05:10",
            "Mon, 25 Nov 2024 24:00:00",
            "Mon, 25 Nov 2024 23:60:00",
            "Mon, 25 Nov 2024 23:59:60", // a leap second
            "Mon, 25 Nov 2024 23:59:61",
            "Mon, 25 Nov 2024 1:05:10",
            "Mon, 25 Nov 2024 13:05:1x",
            "Mon, 25 Nov +024 13:05:10",
            "Mon, 25 Nov 2024T13:05:10",
            "Mon; 25 Nov 2024 13:05:10",
            "Mon, 00 Nov 2024 13:05:10",
            "Sat, 29 Feb 2020 00:00:00",
            "Sun, 29 Feb 2021 00:00:00",
            "Sat, 01 Jan 0000 00:00:00",
            "Mon, 25 Nov 2024 13:05:10 ",
            "Mon, 25 Nov 2024 13:05:1",
            "Mon, 25 Nóv 2024 13:05",
        ]
        .map(str::to_owned)
        .into();
        // Every day of two years at a few times, with its weekday and with the next one (wrong).
        let first = NaiveDate::from_ymd_opt(2023, 12, 30).unwrap();
        for day in 0..732 {
            let date = first + chrono::Days::new(day);
            for time in ["00:00:00", "09:07:05", "23:59:59"] {
                let right = date.format("%a, %d %b %Y").to_string();
                let wrong = format!("{}{}", (date + chrono::Days::new(1)).format("%a"), &right[3..]);
                values.push(format!("{right} {time}"));
                values.push(format!("{wrong} {time}"));
            }
        }
        let mut documented = 0;
        for raw in &values {
            let fast = documented_timestamp(raw.trim());
            if let Some(t) = fast {
                documented += 1;
                assert_eq!(Some(t), reference(raw), "{raw:?}: read by the fast path");
            }
            assert_eq!(parse_timestamp(raw), reference(raw), "{raw:?}");
        }
        // The documented values (and only those) took the fast path: one per day and time, the two plain ones.
        assert_eq!(documented, 732 * 3 + 4, "values read without chrono");
    }

    #[test]
    fn durations_are_read_as_split_and_from_str_read_them() {
        let reference = |raw: &str| -> Option<u64> {
            let mut parts = raw.trim().split(':');
            let (h, m, s) = (parts.next()?, parts.next()?, parts.next()?);
            if parts.next().is_some() {
                return None;
            }
            let (h, m, s): (u64, u64, u64) = (h.parse().ok()?, m.parse().ok()?, s.parse().ok()?);
            if m >= 60 || s >= 60 || h > MAX_DURATION_HOURS {
                return None;
            }
            Some(h * 3600 + m * 60 + s)
        };
        for raw in [
            "",
            " ",
            "-",
            " - ",
            "--",
            "0:0:0",
            "00:00:00",
            "01:02:03",
            " 01:02:03 ",
            "125:00:01",
            "8784:00:00",
            "8785:00:00",
            "1:2",
            "1:2:3:4",
            "::",
            "1::3",
            ":2:3",
            "1:2:",
            "+1:+2:+3",
            "+:2:3",
            "-1:2:3",
            "1:60:00",
            "1:59:59",
            "1:5x:00",
            "١:02:03",
            "18446744073709551615:00:00",
            "18446744073709551616:00:00",
            "0000000000000000000000001:00:00",
            "00:00:60",
            "1 :2:3",
            "1:2:3\n",
            "1:2:3\t",
        ] {
            assert_eq!(parse_duration_secs(raw), reference(raw), "{raw:?}");
        }
    }

    #[test]
    fn a_blank_or_dash_duration_is_unreadable_never_zero() {
        // five9.md: durations are `HH:MM:SS` (an abandoned call's TALK TIME `00:00:00`), `-` only a boolean's false.
        // Read as zero, a blank TALK TIME made a handled call one only offered, a blank AGENT STATE TIME dropped the
        // state as zero-length, and the window was taken as complete.
        for raw in ["", " ", "\t", "-", " - ", "--"] {
            assert_eq!(parse_duration_secs(raw), None, "{raw:?}");
        }
        assert_eq!(parse_duration_secs("00:00:00"), Some(0));
        assert_eq!(parse_duration_secs(" 00:00:00 "), Some(0));
    }

    #[test]
    fn criteria_carry_the_offset() {
        assert_eq!(format_criteria_time(utc("2024-11-03T08:30:00Z"), Los_Angeles), "2024-11-03T01:30:00.000-07:00");
        assert_eq!(format_criteria_time(utc("2024-11-03T09:30:00Z"), Los_Angeles), "2024-11-03T01:30:00.000-08:00");
    }

    #[test]
    fn a_report_ending_at_the_fall_back_instant_asks_up_to_a_second_before_it() {
        let fall_back = utc("2024-11-03T09:00:00Z");
        assert_eq!(criteria_end(fall_back, Los_Angeles), utc("2024-11-03T08:59:59Z"));
        assert_eq!(
            format_criteria_time(criteria_end(fall_back, Los_Angeles), Los_Angeles),
            "2024-11-03T01:59:59.000-07:00"
        );
        // Any other end, the spring-forward instant included, is asked for as it is.
        for end in ["2024-11-03T08:59:59Z", "2024-11-03T09:00:01Z", "2024-11-03T10:00:00Z", "2024-03-10T10:00:00Z"] {
            assert_eq!(criteria_end(utc(end), Los_Angeles), utc(end), "{end}");
        }
    }

    #[test]
    fn finds_the_fall_back_instant_only() {
        let t = backward_transitions(Los_Angeles, utc("2024-11-03T00:00:00Z"), utc("2024-11-04T00:00:00Z"));
        assert_eq!(t, vec![utc("2024-11-03T09:00:00Z")]);
        let spring = backward_transitions(Los_Angeles, utc("2024-03-10T00:00:00Z"), utc("2024-03-11T00:00:00Z"));
        assert!(spring.is_empty());
    }

    #[test]
    fn repeated_hour_resolves_by_window_then_row_order() {
        let local = NaiveDateTime::parse_from_str("2024-11-03 01:30:00", "%Y-%m-%d %H:%M:%S").unwrap();
        let before = Window { start: utc("2024-11-03T07:00:00Z"), end: utc("2024-11-03T09:00:00Z") };
        let after = Window { start: utc("2024-11-03T09:00:00Z"), end: utc("2024-11-04T08:00:00Z") };
        assert_eq!(LocalResolver::new(Los_Angeles, before).resolve(local, None), utc("2024-11-03T08:30:00Z"));
        assert_eq!(LocalResolver::new(Los_Angeles, after).resolve(local, None), utc("2024-11-03T09:30:00Z"));
        let both = Window { start: utc("2024-11-03T07:00:00Z"), end: utc("2024-11-04T08:00:00Z") };
        let r = LocalResolver::new(Los_Angeles, both);
        assert_eq!(r.resolve(local, Some(utc("2024-11-03T08:10:00Z"))), utc("2024-11-03T08:30:00Z"));
        assert_eq!(r.resolve(local, Some(utc("2024-11-03T08:50:00Z"))), utc("2024-11-03T09:30:00Z"));
        // Spring-forward gap: 02:30 does not exist; read with the PST offset.
        let gap = NaiveDateTime::parse_from_str("2024-03-10 02:30:00", "%Y-%m-%d %H:%M:%S").unwrap();
        assert_eq!(r.resolve(gap, None), utc("2024-03-10T10:30:00Z"));
    }

    #[test]
    fn a_repeated_hour_time_outside_the_window_is_read_as_the_instant_nearer_it() {
        // A report over the second 01:15–01:30 of the fall-back day, whose first row is 2 s before it: 01:14:58 is
        // 08:14:58Z (PDT) or 09:14:58Z (PST), neither inside. The nearer is 2 s out, the other an hour.
        let local = NaiveDateTime::parse_from_str("2024-11-03 01:14:58", "%Y-%m-%d %H:%M:%S").unwrap();
        let second = Window { start: utc("2024-11-03T09:15:00Z"), end: utc("2024-11-03T09:30:00Z") };
        let r = LocalResolver::new(Los_Angeles, second);
        assert_eq!(r.resolve(local, None), utc("2024-11-03T09:14:58Z"));
        assert_eq!(r.resolve(local, Some(utc("2024-11-03T09:20:00Z"))), utc("2024-11-03T09:14:58Z"));
        // Over the first 01:15–01:30, a row at 01:30:02 is 2 s after it (08:30:02Z), not an hour (09:30:02Z).
        let first = Window { start: utc("2024-11-03T08:15:00Z"), end: utc("2024-11-03T08:30:00Z") };
        let after = NaiveDateTime::parse_from_str("2024-11-03 01:30:02", "%Y-%m-%d %H:%M:%S").unwrap();
        assert_eq!(LocalResolver::new(Los_Angeles, first).resolve(after, None), utc("2024-11-03T08:30:02Z"));
    }
}
