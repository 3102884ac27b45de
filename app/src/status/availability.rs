//! Components' status over time, and availability against the service level: pure functions of the stored
//! incidents and maintenance windows, so that the page, `/status.json` and the tests agree.
//!
//! What counts: time inside service hours (for Rahti's JHS 174 level A, weekdays 08:00–16:00 local time), minus
//! announced maintenance. Within that, a component is unavailable while an incident gives it a partial or a major
//! outage; degraded performance counts as available.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

use super::model::ComponentStatus;

/// A span of time, `from` included, `to` excluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Start.
    pub from: DateTime<Utc>,
    /// End (not included).
    pub to: DateTime<Utc>,
}

impl Span {
    /// The span from `from` to `to`; empty when `to` is not after `from`.
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        Self { from, to: to.max(from) }
    }

    fn length(self) -> Duration {
        self.to - self.from
    }

    fn intersect(self, other: Span) -> Option<Span> {
        let span = Span { from: self.from.max(other.from), to: self.to.min(other.to) };
        (span.from < span.to).then_some(span)
    }
}

/// When the service level applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceHours {
    /// All the time.
    Always,
    /// On the given weekdays, from `start` to `end` local time in `zone`.
    Weekly {
        /// The days (Monday first) on which the hours apply.
        days: [bool; 7],
        /// Start of the day's hours, local time.
        start: NaiveTime,
        /// End of the day's hours, local time (after `start`).
        end: NaiveTime,
        /// The time zone the hours are in.
        zone: Tz,
    },
}

impl ServiceHours {
    /// Rahti's hours (JHS 174 level A): weekdays 08:00–16:00 in Helsinki.
    pub fn rahti() -> Self {
        ServiceHours::Weekly {
            days: [true, true, true, true, true, false, false],
            start: NaiveTime::from_hms_opt(8, 0, 0).unwrap_or(NaiveTime::MIN),
            end: NaiveTime::from_hms_opt(16, 0, 0).unwrap_or(NaiveTime::MIN),
            zone: chrono_tz::Europe::Helsinki,
        }
    }

    /// Reads `days` ("mon-fri", "mon,wed,fri", "all"), `hours` ("08:00-16:00") and `zone` ("Europe/Helsinki"); the
    /// message says what is wrong.
    pub fn parse(days: &str, hours: &str, zone: &str) -> Result<Self, String> {
        let zone: Tz = zone.trim().parse().map_err(|_| format!("{zone:?} is not a time zone name"))?;
        let (start, end) = hours
            .split_once('-')
            .and_then(|(start, end)| {
                Some((
                    NaiveTime::parse_from_str(start.trim(), "%H:%M").ok()?,
                    NaiveTime::parse_from_str(end.trim(), "%H:%M").ok()?,
                ))
            })
            .ok_or_else(|| format!("{hours:?} is not a span of hours such as 08:00-16:00"))?;
        if end <= start {
            return Err(format!("the service hours {hours:?} end before they start"));
        }
        Ok(ServiceHours::Weekly { days: parse_days(days)?, start, end, zone })
    }

    /// The service hours that fall within `period`, in order.
    pub fn spans(&self, period: Span) -> Vec<Span> {
        let ServiceHours::Weekly { days, start, end, zone } = self else {
            return if period.length() > Duration::zero() { vec![period] } else { Vec::new() };
        };
        let mut spans = Vec::new();
        // Local days overlapping the period, with a day's margin on each side for the zone's offset.
        let mut day = period.from.with_timezone(zone).date_naive() - Duration::days(1);
        let last = period.to.with_timezone(zone).date_naive() + Duration::days(1);
        while day <= last {
            if days[day.weekday().num_days_from_monday() as usize]
                && let (Some(from), Some(to)) = (local(zone, day, *start), local(zone, day, *end))
                && let Some(span) = Span::new(from, to).intersect(period)
            {
                spans.push(span);
            }
            day += Duration::days(1);
        }
        spans
    }

    /// The hours in words, for the page ("Weekdays 08:00–16:00, Europe/Helsinki time").
    pub fn describe(&self) -> String {
        match self {
            ServiceHours::Always => "Around the clock".to_owned(),
            ServiceHours::Weekly { days, start, end, zone } => {
                let days = match days {
                    [true, true, true, true, true, false, false] => "Weekdays".to_owned(),
                    [true, true, true, true, true, true, true] => "Every day".to_owned(),
                    _ => WEEKDAYS
                        .iter()
                        .zip(days)
                        .filter(|(_, on)| **on)
                        .map(|(day, _)| format!("{day:?}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                };
                format!("{days} {}–{}, {zone} time", start.format("%H:%M"), end.format("%H:%M"))
            }
        }
    }
}

const WEEKDAYS: [Weekday; 7] =
    [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun];

fn parse_days(text: &str) -> Result<[bool; 7], String> {
    let day = |name: &str| {
        WEEKDAYS
            .iter()
            .position(|day| format!("{day:?}").eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| format!("{name:?} is not a day (mon, tue, …, sun)"))
    };
    let text = text.trim();
    if text.eq_ignore_ascii_case("all") {
        return Ok([true; 7]);
    }
    let mut days = [false; 7];
    for part in text.split(',') {
        match part.split_once('-') {
            Some((first, last)) => {
                let (first, last) = (day(first)?, day(last)?);
                if last < first {
                    return Err(format!("{part:?} runs backwards"));
                }
                days[first..=last].iter_mut().for_each(|on| *on = true);
            }
            None => days[day(part)?] = true,
        }
    }
    Ok(days)
}

/// `time` on `day` in `zone` as UTC: the earlier instant when the clock goes back, the first instant after the gap
/// when it goes forward.
fn local(zone: &Tz, day: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
    let naive = day.and_time(time);
    zone.from_local_datetime(&naive)
        .earliest()
        .or_else(|| zone.from_local_datetime(&(naive + Duration::hours(1))).earliest())
        .map(|at| at.with_timezone(&Utc))
}

/// How much of a period counted, and how much of that the component was unavailable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Availability {
    /// Service hours in the period, less announced maintenance.
    pub counted: Duration,
    /// The part of `counted` with an outage.
    pub unavailable: Duration,
}

impl Availability {
    /// Available share of the counted time in thousandths of a percent (99.95% is 99,950); `None` when nothing
    /// counted.
    pub fn milli_percent(&self) -> Option<i64> {
        let counted = self.counted.num_seconds();
        (counted > 0).then(|| {
            let available = counted - self.unavailable.num_seconds();
            // Rounded down: a level is met only when it really was.
            available * 100_000 / counted
        })
    }

    /// The percentage with up to three decimals ("99.95", "100").
    pub fn percent_text(&self) -> Option<String> {
        self.milli_percent().map(milli_percent_text)
    }

    /// Whether the available share reaches `target` (thousandths of a percent); true when nothing counted.
    pub fn meets(&self, target_milli_percent: i64) -> bool {
        self.milli_percent().is_none_or(|share| share >= target_milli_percent)
    }
}

/// Thousandths of a percent as text, without trailing zeros ("97", "99.95").
pub fn milli_percent_text(value: i64) -> String {
    let text = format!("{}.{:03}", value / 1000, value % 1000);
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Availability over `period`: service hours minus `maintenance`, and within that the time covered by `outages`.
pub fn availability(period: Span, hours: &ServiceHours, maintenance: &[Span], outages: &[Span]) -> Availability {
    let counted = subtract(&hours.spans(period), &union(maintenance));
    let outages = union(outages);
    let mut unavailable = Duration::zero();
    for span in &counted {
        for outage in &outages {
            if let Some(overlap) = span.intersect(*outage) {
                unavailable += overlap.length();
            }
        }
    }
    Availability { counted: counted.iter().map(|span| span.length()).sum(), unavailable }
}

/// The spans sorted, with overlapping and touching ones merged.
fn union(spans: &[Span]) -> Vec<Span> {
    let mut sorted: Vec<Span> = spans.iter().copied().filter(|span| span.from < span.to).collect();
    sorted.sort_by_key(|span| span.from);
    let mut merged: Vec<Span> = Vec::new();
    for span in sorted {
        match merged.last_mut() {
            Some(last) if span.from <= last.to => last.to = last.to.max(span.to),
            _ => merged.push(span),
        }
    }
    merged
}

/// `spans` (sorted, disjoint) less `holes` (sorted, disjoint).
fn subtract(spans: &[Span], holes: &[Span]) -> Vec<Span> {
    let mut result = Vec::new();
    for span in spans {
        let mut from = span.from;
        for hole in holes {
            if hole.to <= from || hole.from >= span.to {
                continue;
            }
            if hole.from > from {
                result.push(Span { from, to: hole.from });
            }
            from = from.max(hole.to);
        }
        if from < span.to {
            result.push(Span { from, to: span.to });
        }
    }
    result
}

/// What one incident did to one component over time: `(from, impact)` in time order; the last impact lasts until
/// `until` (the incident's resolution, or now).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImpactHistory {
    /// The impacts and when each began, in time order.
    pub changes: Vec<(DateTime<Utc>, ComponentStatus)>,
    /// When the last one ended; `None` while the incident is open.
    pub until: Option<DateTime<Utc>>,
}

impl ImpactHistory {
    /// The spans with each impact, cut at `now` for an open incident.
    pub fn spans(&self, now: DateTime<Utc>) -> Vec<(Span, ComponentStatus)> {
        let end = self.until.unwrap_or(now);
        self.changes
            .iter()
            .enumerate()
            .map(|(index, (from, impact))| {
                let to = self.changes.get(index + 1).map_or(end, |(next, _)| *next).min(end);
                (Span::new(*from, to), *impact)
            })
            .filter(|(span, impact)| span.from < span.to && *impact != ComponentStatus::Operational)
            .collect()
    }

    /// The impact at `at`, if the incident affected the component then.
    pub fn at(&self, at: DateTime<Utc>) -> Option<ComponentStatus> {
        if self.until.is_some_and(|until| at >= until) {
            return None;
        }
        self.changes.iter().rev().find(|(from, _)| *from <= at).map(|(_, impact)| *impact)
    }
}

/// A component's status at `at`: the worst impact of the incidents on it then, else "under maintenance" inside a
/// window, else operational.
pub fn status_at(at: DateTime<Utc>, impacts: &[ImpactHistory], maintenance: &[Span]) -> ComponentStatus {
    let incident = impacts.iter().filter_map(|history| history.at(at)).max().unwrap_or(ComponentStatus::Operational);
    let in_window = maintenance.iter().any(|window| window.from <= at && at < window.to);
    if incident == ComponentStatus::Operational && in_window { ComponentStatus::UnderMaintenance } else { incident }
}

/// The worst status of each of the `days` local days (in the service hours' zone, or UTC) up to and including
/// today, oldest first: what the 90-day bars show.
pub fn daily_worst(
    now: DateTime<Utc>,
    days: u32,
    zone: Option<&Tz>,
    impacts: &[ImpactHistory],
    maintenance: &[Span],
) -> Vec<ComponentStatus> {
    let spans: Vec<(Span, ComponentStatus)> = impacts.iter().flat_map(|history| history.spans(now)).collect();
    let today = match zone {
        Some(zone) => now.with_timezone(zone).date_naive(),
        None => now.date_naive(),
    };
    (0..i64::from(days))
        .rev()
        .map(|back| {
            let day = today - Duration::days(back);
            let start = |day: NaiveDate| match zone {
                Some(zone) => local(zone, day, NaiveTime::MIN),
                None => Some(Utc.from_utc_datetime(&day.and_time(NaiveTime::MIN))),
            };
            let (Some(from), Some(to)) = (start(day), start(day + Duration::days(1))) else {
                return ComponentStatus::Operational;
            };
            let span = Span::new(from, to.min(now.max(from)));
            let incident = spans
                .iter()
                .filter(|(other, _)| other.intersect(span).is_some())
                .map(|(_, impact)| *impact)
                .max()
                .unwrap_or(ComponentStatus::Operational);
            if incident == ComponentStatus::Operational
                && maintenance.iter().any(|window| window.intersect(span).is_some())
            {
                ComponentStatus::UnderMaintenance
            } else {
                incident
            }
        })
        .collect()
}

/// The spans in which `impacts` give an outage (partial or major), for [`availability`].
pub fn outages(impacts: &[ImpactHistory], now: DateTime<Utc>) -> Vec<Span> {
    impacts
        .iter()
        .flat_map(|history| history.spans(now))
        .filter(|(_, impact)| impact.is_outage())
        .map(|(span, _)| span)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).expect("a valid instant").with_timezone(&Utc)
    }

    fn span(from: &str, to: &str) -> Span {
        Span::new(at(from), at(to))
    }

    fn in_hours(duration: Duration) -> f64 {
        duration.num_minutes() as f64 / 60.0
    }

    #[test]
    fn rahti_hours_are_weekdays_eight_to_four_in_helsinki_across_daylight_saving() {
        // Monday 2026-12-07 to Monday 2026-12-14: five days of 8 hours; Helsinki is UTC+2 in winter.
        let week = span("2026-12-07T00:00:00Z", "2026-12-14T00:00:00Z");
        let spans = ServiceHours::rahti().spans(week);
        assert_eq!(spans.len(), 5);
        assert_eq!(spans[0], span("2026-12-07T06:00:00Z", "2026-12-07T14:00:00Z"));
        assert_eq!(spans.iter().map(|span| span.length()).sum::<Duration>(), Duration::hours(40));
        // In summer (UTC+3) the same hours start an hour earlier in UTC.
        let summer = ServiceHours::rahti().spans(span("2026-06-01T00:00:00Z", "2026-06-02T00:00:00Z"));
        assert_eq!(summer, vec![span("2026-06-01T05:00:00Z", "2026-06-01T13:00:00Z")]);
        // The Monday the clocks go forward (29 March 2026 is a Sunday): still 8 hours, at the new offset.
        let spring = ServiceHours::rahti().spans(span("2026-03-30T00:00:00Z", "2026-03-31T00:00:00Z"));
        assert_eq!(spring, vec![span("2026-03-30T05:00:00Z", "2026-03-30T13:00:00Z")]);
    }

    #[test]
    fn a_period_that_starts_or_ends_inside_the_hours_counts_only_its_part() {
        let hours = ServiceHours::rahti();
        // Tuesday 10:00 to Wednesday 10:00 Helsinki: 6 hours on Tuesday and 2 on Wednesday.
        let period = span("2026-12-08T08:00:00Z", "2026-12-09T08:00:00Z");
        let counted: Duration = hours.spans(period).iter().map(|span| span.length()).sum();
        assert_eq!(counted, Duration::hours(8));
        // A weekend counts nothing: no availability figure at all.
        let weekend = span("2026-12-12T00:00:00Z", "2026-12-14T00:00:00Z");
        assert_eq!(availability(weekend, &hours, &[], &[weekend]).milli_percent(), None);
    }

    #[test]
    fn an_outage_counts_only_inside_service_hours_and_outside_maintenance() {
        let hours = ServiceHours::rahti();
        let week = span("2026-12-07T00:00:00Z", "2026-12-14T00:00:00Z");
        // Monday 15:00–19:00 Helsinki: only the hour to 16:00 counts.
        let evening = span("2026-12-07T13:00:00Z", "2026-12-07T17:00:00Z");
        let result = availability(week, &hours, &[], &[evening]);
        assert_eq!((in_hours(result.counted), in_hours(result.unavailable)), (40.0, 1.0));
        assert_eq!(result.percent_text().as_deref(), Some("97.5"));
        assert!(result.meets(97_000));
        // Saturday's outage does not count at all.
        let saturday = span("2026-12-12T08:00:00Z", "2026-12-12T12:00:00Z");
        assert_eq!(availability(week, &hours, &[], &[saturday]).unavailable, Duration::zero());
        // An announced window on Tuesday 10:00–12:00 Helsinki takes those hours out, outage or not.
        let window = span("2026-12-08T08:00:00Z", "2026-12-08T10:00:00Z");
        let tuesday = span("2026-12-08T07:00:00Z", "2026-12-08T11:00:00Z");
        let result = availability(week, &hours, &[window], &[tuesday]);
        assert_eq!((in_hours(result.counted), in_hours(result.unavailable)), (38.0, 2.0));
        // Overlapping outages count once.
        let result = availability(week, &hours, &[], &[tuesday, tuesday, evening]);
        assert_eq!(in_hours(result.unavailable), 5.0);
        assert_eq!(result.milli_percent(), Some(87_500));
        assert!(!result.meets(97_000));
    }

    #[test]
    fn around_the_clock_counts_every_minute() {
        let day = span("2026-12-07T00:00:00Z", "2026-12-08T00:00:00Z");
        let result =
            availability(day, &ServiceHours::Always, &[], &[span("2026-12-07T23:00:00Z", "2026-12-08T02:00:00Z")]);
        assert_eq!(result.milli_percent(), Some(95_833));
        assert_eq!(result.percent_text().as_deref(), Some("95.833"));
    }

    #[test]
    fn hours_days_and_zones_read_from_settings_or_are_refused() {
        assert_eq!(ServiceHours::parse("mon-fri", "08:00-16:00", "Europe/Helsinki"), Ok(ServiceHours::rahti()));
        let Ok(ServiceHours::Weekly { days, .. }) = ServiceHours::parse("mon, wed,fri", "09:00-17:00", "UTC") else {
            panic!("a valid setting");
        };
        assert_eq!(days, [true, false, true, false, true, false, false]);
        assert!(ServiceHours::parse("mon-fri", "16:00-08:00", "UTC").unwrap_err().contains("end before"));
        assert!(ServiceHours::parse("mon-fri", "8-16", "UTC").unwrap_err().contains("span of hours"));
        assert!(ServiceHours::parse("fri-mon", "08:00-16:00", "UTC").unwrap_err().contains("backwards"));
        assert!(ServiceHours::parse("moon", "08:00-16:00", "UTC").unwrap_err().contains("not a day"));
        assert!(ServiceHours::parse("all", "08:00-16:00", "Mars/Olympus").unwrap_err().contains("time zone"));
        assert_eq!(ServiceHours::rahti().describe(), "Weekdays 08:00–16:00, Europe/Helsinki time");
    }

    #[test]
    fn a_components_status_is_its_worst_open_impact_else_maintenance() {
        let incident = ImpactHistory {
            changes: vec![
                (at("2026-12-07T10:00:00Z"), ComponentStatus::Degraded),
                (at("2026-12-07T11:00:00Z"), ComponentStatus::MajorOutage),
            ],
            until: Some(at("2026-12-07T12:00:00Z")),
        };
        let other =
            ImpactHistory { changes: vec![(at("2026-12-07T10:30:00Z"), ComponentStatus::PartialOutage)], until: None };
        let window = [span("2026-12-07T09:00:00Z", "2026-12-07T13:00:00Z")];
        let impacts = [incident.clone(), other];
        assert_eq!(status_at(at("2026-12-07T09:30:00Z"), &impacts, &window), ComponentStatus::UnderMaintenance);
        assert_eq!(status_at(at("2026-12-07T10:15:00Z"), &impacts, &window), ComponentStatus::Degraded);
        assert_eq!(status_at(at("2026-12-07T10:45:00Z"), &impacts, &window), ComponentStatus::PartialOutage);
        assert_eq!(status_at(at("2026-12-07T11:30:00Z"), &impacts, &window), ComponentStatus::MajorOutage);
        // Resolving the first restores what the second gives.
        assert_eq!(status_at(at("2026-12-07T12:00:00Z"), &impacts, &window), ComponentStatus::PartialOutage);
        assert_eq!(status_at(at("2026-12-07T12:00:00Z"), &[incident], &[]), ComponentStatus::Operational);
        // The outage spans of the first: only its major hour.
        let now = at("2026-12-08T00:00:00Z");
        assert_eq!(outages(&impacts[..1], now), vec![span("2026-12-07T11:00:00Z", "2026-12-07T12:00:00Z")]);
    }

    #[test]
    fn the_daily_bars_show_each_days_worst() {
        let now = at("2026-12-07T12:00:00Z");
        let yesterday = ImpactHistory {
            changes: vec![(at("2026-12-06T10:00:00Z"), ComponentStatus::MajorOutage)],
            until: Some(at("2026-12-06T10:30:00Z")),
        };
        let window = [span("2026-12-04T22:30:00Z", "2026-12-04T23:30:00Z")];
        let days = daily_worst(now, 5, None, std::slice::from_ref(&yesterday), &window);
        use ComponentStatus::*;
        assert_eq!(days, vec![Operational, UnderMaintenance, Operational, MajorOutage, Operational]);
        // In Helsinki (two hours ahead) the window falls on the 5th.
        let days = daily_worst(now, 5, Some(&chrono_tz::Europe::Helsinki), &[yesterday], &window);
        assert_eq!(days, vec![Operational, Operational, UnderMaintenance, MajorOutage, Operational]);
    }
}
