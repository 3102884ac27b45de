//! Billing units (BU), shared by the browser and the server: exact amounts, the billed resources, the rates with the
//! dates they take effect, and the one function that prices a resource for some hours (Rahti's formula). Charges,
//! cost previews and statements all go through [`charge`].
//!
//! **Rounding.** Amounts are integers of thousandths of a BU ([`MilliBu`]); quantities are integers of thousandths of
//! the resource's unit ([`Milli`]). A charge is computed exactly (in 128-bit integers) and rounded once, to the
//! nearest thousandth of a BU, halves up. Totals are sums of rounded charges, so a statement adds up to its lines.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::applications::model::Quota;

/// Thousandths of a resource's unit: millicores, or thousandths of a GiB.
pub type Milli = i64;

/// An amount of billing units, exact: thousandths of a BU.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MilliBu(pub i64);

/// Why an amount of BU cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// Not a decimal number.
    #[error("Write a number such as 1.05 or 2000.")]
    NotANumber,
    /// More than three decimals.
    #[error("Use at most three decimals.")]
    TooPrecise,
    /// Larger than any sensible amount.
    #[error("That amount is too large.")]
    TooLarge,
}

impl MilliBu {
    /// Zero.
    pub const ZERO: MilliBu = MilliBu(0);

    /// Reads a decimal amount of BU with at most three decimals ("1.05", "2000", "-3.5").
    pub fn parse(text: &str) -> Result<Self, AmountError> {
        let text = text.trim();
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
        if whole.is_empty() && fraction.is_empty() || !all_digits(whole) || !all_digits(fraction) {
            return Err(AmountError::NotANumber);
        }
        if fraction.len() > 3 {
            return Err(AmountError::TooPrecise);
        }
        if whole.len() > 15 {
            return Err(AmountError::TooLarge);
        }
        let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| AmountError::NotANumber)? };
        let fraction: i64 = format!("{fraction:0<3}").parse().map_err(|_| AmountError::NotANumber)?;
        let amount = whole * 1000 + fraction;
        Ok(MilliBu(if negative { -amount } else { amount }))
    }

    /// The amount in BU, for charts and ratios only (never for sums).
    pub fn as_bu(self) -> f64 {
        self.0 as f64 / 1000.0
    }
}

impl fmt::Display for MilliBu {
    /// "1234.567 BU"; trailing zero decimals are dropped ("2 BU", "1.05 BU").
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} BU", format_milli(self.0))
    }
}

/// Thousandths as a decimal without trailing zeros: 1500 → "1.5", 16000 → "16", -1 → "-0.001".
pub fn format_milli(value: i64) -> String {
    let sign = if value < 0 { "-" } else { "" };
    let magnitude = value.unsigned_abs();
    let (whole, fraction) = (magnitude / 1000, magnitude % 1000);
    if fraction == 0 {
        format!("{sign}{whole}")
    } else {
        let decimals = format!("{fraction:03}");
        format!("{sign}{whole}.{}", decimals.trim_end_matches('0'))
    }
}

impl std::ops::Add for MilliBu {
    type Output = MilliBu;
    fn add(self, other: MilliBu) -> MilliBu {
        MilliBu(self.0 + other.0)
    }
}

impl std::ops::Sub for MilliBu {
    type Output = MilliBu;
    fn sub(self, other: MilliBu) -> MilliBu {
        MilliBu(self.0 - other.0)
    }
}

impl std::iter::Sum for MilliBu {
    fn sum<I: Iterator<Item = MilliBu>>(iter: I) -> MilliBu {
        MilliBu(iter.map(|amount| amount.0).sum())
    }
}

/// A resource that costs BU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BilledResource {
    /// CPU cores.
    Cpu,
    /// Memory, GiB.
    Memory,
    /// Storage, GiB (priced per TiB).
    Storage,
}

impl BilledResource {
    /// Every billed resource, in the order statements list them.
    pub const ALL: [Self; 3] = [Self::Cpu, Self::Memory, Self::Storage];

    /// The stored and API form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Memory => "memory",
            Self::Storage => "storage",
        }
    }

    /// Reads the stored and API form.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|resource| resource.as_str() == text)
    }

    /// What people read.
    pub fn label(self) -> &'static str {
        match self {
            Self::Cpu => "CPU",
            Self::Memory => "Memory",
            Self::Storage => "Storage",
        }
    }

    /// The unit quantities are counted in (usage samples are sent in it).
    pub fn unit(self) -> &'static str {
        match self {
            Self::Cpu => "cores",
            Self::Memory | Self::Storage => "GiB",
        }
    }

    /// The unit its rate is quoted per.
    pub fn rate_unit(self) -> &'static str {
        match self {
            Self::Cpu => "core-hour",
            Self::Memory => "GiB-hour",
            Self::Storage => "TiB-hour",
        }
    }

    /// How many of [`unit`](Self::unit) make one rate unit (storage is counted in GiB, priced per TiB).
    fn units_per_rate_unit(self) -> i128 {
        match self {
            Self::Cpu | Self::Memory => 1,
            Self::Storage => 1024,
        }
    }

    /// The amount of this resource in a quota, in thousandths of its unit.
    pub fn of_quota(self, quota: &Quota) -> Milli {
        let whole = match self {
            Self::Cpu => quota.cpu_cores,
            Self::Memory => quota.memory_gib,
            Self::Storage => quota.storage_gib,
        };
        i64::from(whole) * 1000
    }
}

/// BU per rate unit per hour, for each billed resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rates {
    /// Per core-hour.
    pub cpu: MilliBu,
    /// Per GiB-hour of memory.
    pub memory: MilliBu,
    /// Per TiB-hour of storage.
    pub storage: MilliBu,
}

impl Rates {
    /// Rahti's 2026 rates: 1.05 BU per core-hour, 1.6 BU per GiB-hour of memory, 3.6 BU per TiB-hour of storage.
    pub const RAHTI_2026: Rates = Rates { cpu: MilliBu(1050), memory: MilliBu(1600), storage: MilliBu(3600) };

    /// The rate of `resource`.
    pub fn get(&self, resource: BilledResource) -> MilliBu {
        match resource {
            BilledResource::Cpu => self.cpu,
            BilledResource::Memory => self.memory,
            BilledResource::Storage => self.storage,
        }
    }
}

/// Rates with the day (00:00 UTC) each takes effect, oldest first. Past hours keep the rates that applied to them;
/// the oldest entry also prices any hour before its day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateSchedule(Vec<(NaiveDate, Rates)>);

/// Why a rate schedule is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateScheduleError {
    /// No entries.
    #[error("at least one set of rates is needed")]
    Empty,
    /// Two entries for one day.
    #[error("two sets of rates take effect on {0}")]
    SameDay(NaiveDate),
    /// A negative rate.
    #[error("the rates that take effect on {0} include a negative one")]
    Negative(NaiveDate),
}

impl RateSchedule {
    /// A schedule from its entries in any order.
    pub fn new(mut entries: Vec<(NaiveDate, Rates)>) -> Result<Self, RateScheduleError> {
        entries.sort_by_key(|(from, _)| *from);
        if entries.is_empty() {
            return Err(RateScheduleError::Empty);
        }
        for pair in entries.windows(2) {
            if pair[0].0 == pair[1].0 {
                return Err(RateScheduleError::SameDay(pair[0].0));
            }
        }
        if let Some((from, _)) =
            entries.iter().find(|(_, rates)| BilledResource::ALL.iter().any(|r| rates.get(*r).0 < 0))
        {
            return Err(RateScheduleError::Negative(*from));
        }
        Ok(Self(entries))
    }

    /// The rates in effect at `at`.
    pub fn at(&self, at: DateTime<Utc>) -> Rates {
        let day = at.date_naive();
        self.0.iter().rev().find(|(from, _)| *from <= day).unwrap_or(&self.0[0]).1
    }

    /// Every entry, oldest first.
    pub fn entries(&self) -> &[(NaiveDate, Rates)] {
        &self.0
    }
}

impl Default for RateSchedule {
    /// Rahti's 2026 rates, for every hour.
    fn default() -> Self {
        Self(vec![(NaiveDate::from_ymd_opt(2026, 1, 1).expect("a date"), Rates::RAHTI_2026)])
    }
}

/// Rahti's formula for one resource: max(usage, request) × rate × hours, where an unknown usage charges the request
/// alone; rounded to the nearest thousandth of a BU, halves up (the module's rounding rule).
pub fn charge(resource: BilledResource, request: Milli, usage: Option<Milli>, hours: i64, rate: MilliBu) -> MilliBu {
    let quantity = usage.map_or(request, |usage| usage.max(request)).max(0);
    let denominator = 1000 * resource.units_per_rate_unit();
    let rounded = i128::from(quantity)
        .checked_mul(i128::from(rate.0))
        .and_then(|amount| amount.checked_mul(i128::from(hours.max(0))))
        .map(|numerator| (numerator + denominator / 2) / denominator);
    MilliBu(rounded.and_then(|rounded| i64::try_from(rounded).ok()).unwrap_or(i64::MAX))
}

/// Hours in the average month that previews quote (365 × 24 / 12).
pub const HOURS_PER_MONTH: i64 = 730;

/// What a quota costs when it is reserved and not exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostPreview {
    /// BU per hour.
    pub per_hour: MilliBu,
    /// BU per average month ([`HOURS_PER_MONTH`]).
    pub per_month: MilliBu,
}

/// The cost of reserving `quota` at `rates`.
pub fn preview(quota: &Quota, rates: &Rates) -> CostPreview {
    let over = |hours| {
        BilledResource::ALL
            .into_iter()
            .map(|resource| charge(resource, resource.of_quota(quota), None, hours, rates.get(resource)))
            .sum()
    };
    CostPreview { per_hour: over(1), per_month: over(HOURS_PER_MONTH) }
}

/// How many whole days `balance` lasts at `per_day`; `None` when nothing is spent (it lasts for ever).
pub fn runway_days(balance: MilliBu, per_day: MilliBu) -> Option<i64> {
    if per_day.0 <= 0 {
        return None;
    }
    Some(balance.0.max(0) / per_day.0)
}

/// The cost preview's sentence, as the application form and the quota change form show it: what `quota` costs at
/// `rates`, and how long `balance` (the account's, when one is chosen) lasts at that.
pub fn describe_preview(quota: &Quota, rates: &Rates, balance: Option<MilliBu>) -> String {
    let cost = preview(quota, rates);
    let runway = match balance.and_then(|balance| runway_days(balance, MilliBu(cost.per_hour.0.saturating_mul(24)))) {
        Some(1) => " The account's balance lasts about 1 day at that.".to_owned(),
        Some(days) => format!(" The account's balance lasts about {days} days at that."),
        None => String::new(),
    };
    format!("At today's rates this quota costs {} per hour, {} per month.{runway}", cost.per_hour, cost.per_month)
}

/// Reads a month as `YYYY-MM` into its first day.
pub fn parse_month(text: &str) -> Option<NaiveDate> {
    let (year, month) = text.trim().split_once('-')?;
    if year.len() != 4 || month.len() != 2 {
        return None;
    }
    NaiveDate::from_ymd_opt(year.parse().ok()?, month.parse().ok()?, 1)
}

/// Reads a usage value as sent (a number of the resource's unit) into thousandths of the unit, rounded to the
/// nearest, halves away from zero; refuses what no meter reports.
pub fn usage_milli(value: f64) -> Result<Milli, &'static str> {
    if !value.is_finite() {
        return Err("the value is not a number");
    }
    if value < 0.0 {
        return Err("the value is negative");
    }
    if value > 1e12 {
        return Err("the value is too large");
    }
    Ok((value * 1000.0).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CPU: BilledResource = BilledResource::Cpu;
    const MEMORY: BilledResource = BilledResource::Memory;
    const STORAGE: BilledResource = BilledResource::Storage;

    #[test]
    fn each_resource_is_priced_per_its_rate_unit() {
        let rates = Rates::RAHTI_2026;
        // 4 cores for an hour: 4 × 1.05.
        assert_eq!(charge(CPU, 4000, None, 1, rates.cpu), MilliBu(4200));
        // 16 GiB for an hour: 16 × 1.6.
        assert_eq!(charge(MEMORY, 16_000, None, 1, rates.memory), MilliBu(25_600));
        // 1 TiB (1024 GiB) for an hour: 3.6; 100 GiB: 100 / 1024 × 3.6 = 0.3515625 → 0.352.
        assert_eq!(charge(STORAGE, 1_024_000, None, 1, rates.storage), MilliBu(3600));
        assert_eq!(charge(STORAGE, 100_000, None, 1, rates.storage), MilliBu(352));
    }

    #[test]
    fn the_larger_of_usage_and_request_is_charged() {
        let rate = Rates::RAHTI_2026.cpu;
        assert_eq!(charge(CPU, 2000, Some(3500), 1, rate), MilliBu(3675), "usage above the request");
        assert_eq!(charge(CPU, 2000, Some(2000), 1, rate), MilliBu(2100), "usage equal to the request");
        assert_eq!(charge(CPU, 2000, Some(500), 1, rate), MilliBu(2100), "usage below the request");
        assert_eq!(charge(CPU, 2000, None, 1, rate), MilliBu(2100), "no usage known: the request alone");
        assert_eq!(charge(CPU, 0, Some(250), 1, rate), MilliBu(263), "usage with nothing reserved");
        assert_eq!(charge(CPU, 0, None, 1, rate), MilliBu::ZERO);
    }

    #[test]
    fn rounding_is_to_the_nearest_thousandth_halves_up() {
        // 1 millicore at 1.05 BU per core-hour is 0.00105 BU: rounds to 0.001.
        assert_eq!(charge(CPU, 1, None, 1, MilliBu(1050)), MilliBu(1));
        // 0.0005 BU exactly (1 millicore at 0.5 BU) rounds up; 0.0004 (at 0.4 BU) down.
        assert_eq!(charge(CPU, 1, None, 1, MilliBu(500)), MilliBu(1));
        assert_eq!(charge(CPU, 1, None, 1, MilliBu(400)), MilliBu(0));
        // 1 GiB of storage for an hour is 3.6 / 1024 = 0.003515625 BU → 0.004; for 1024 hours exactly 3.6.
        assert_eq!(charge(STORAGE, 1000, None, 1, MilliBu(3600)), MilliBu(4));
        assert_eq!(charge(STORAGE, 1000, None, 1024, MilliBu(3600)), MilliBu(3600));
        // Huge quantities neither overflow nor wrap.
        assert_eq!(charge(CPU, i64::MAX, None, i64::MAX, MilliBu(1050)), MilliBu(i64::MAX));
    }

    #[test]
    fn a_preview_prices_the_quota_for_an_hour_and_an_average_month() {
        let preview = preview(&Quota::STANDARD, &Rates::RAHTI_2026);
        // 4 × 1.05 + 16 × 1.6 + 100 / 1024 × 3.6 = 4.2 + 25.6 + 0.3515625.
        assert_eq!(preview.per_hour, MilliBu(30_152));
        // The month is priced in one charge per resource (storage: 256.640625 → 256.641), not as 730 rounded hours.
        assert_eq!(preview.per_month, MilliBu(3_066_000 + 18_688_000 + 256_641));
        assert_eq!(preview.per_month.to_string(), "22010.641 BU");
    }

    #[test]
    fn rates_apply_from_their_day_and_past_hours_keep_theirs() {
        let day = |d| NaiveDate::from_ymd_opt(2026, 6, d).expect("a date");
        let new = Rates { cpu: MilliBu(2000), ..Rates::RAHTI_2026 };
        let schedule = RateSchedule::new(vec![(day(15), new), (day(1), Rates::RAHTI_2026)]).expect("valid");
        let at = |d, h| day(d).and_hms_opt(h, 0, 0).expect("a time").and_utc();
        assert_eq!(schedule.at(at(14, 23)), Rates::RAHTI_2026);
        assert_eq!(schedule.at(at(15, 0)), new);
        assert_eq!(schedule.at(at(30, 12)), new);
        assert_eq!(schedule.at(at(1, 0) - chrono::Duration::days(400)), Rates::RAHTI_2026, "before the first entry");
        // A month that straddles the change: 14 days × 24 h at the old rate, 16 × 24 at the new.
        let hours = (1..=30).flat_map(|d| (0..24).map(move |h| at(d, h)));
        let total: MilliBu = hours.map(|hour| charge(CPU, 1000, None, 1, schedule.at(hour).cpu)).sum();
        assert_eq!(total, MilliBu(14 * 24 * 1050 + 16 * 24 * 2000));
    }

    #[test]
    fn bad_schedules_are_refused() {
        let day = NaiveDate::from_ymd_opt(2026, 1, 1).expect("a date");
        assert_eq!(RateSchedule::new(vec![]), Err(RateScheduleError::Empty));
        assert_eq!(
            RateSchedule::new(vec![(day, Rates::RAHTI_2026), (day, Rates::RAHTI_2026)]),
            Err(RateScheduleError::SameDay(day))
        );
        let negative = Rates { memory: MilliBu(-1), ..Rates::RAHTI_2026 };
        assert_eq!(RateSchedule::new(vec![(day, negative)]), Err(RateScheduleError::Negative(day)));
    }

    #[test]
    fn amounts_read_and_print_exactly() {
        assert_eq!(MilliBu::parse("1.05"), Ok(MilliBu(1050)));
        assert_eq!(MilliBu::parse(" 2000 "), Ok(MilliBu(2_000_000)));
        assert_eq!(MilliBu::parse("-3.5"), Ok(MilliBu(-3500)));
        assert_eq!(MilliBu::parse(".25"), Ok(MilliBu(250)));
        assert_eq!(MilliBu::parse("1.0005"), Err(AmountError::TooPrecise));
        for junk in ["", ".", "1,5", "1e3", "one", "--1", "1.2.3"] {
            assert_eq!(MilliBu::parse(junk), Err(AmountError::NotANumber), "{junk:?}");
        }
        assert_eq!(MilliBu::parse("1234567890123456"), Err(AmountError::TooLarge));
        assert_eq!(MilliBu(1050).to_string(), "1.05 BU");
        assert_eq!(MilliBu(2_000_000).to_string(), "2000 BU");
        assert_eq!(MilliBu(-1).to_string(), "-0.001 BU");
        assert_eq!(MilliBu(30_152).to_string(), "30.152 BU");
        assert_eq!(format_milli(-1500), "-1.5", "a negative amount (a correction) keeps its sign");
        assert_eq!(format_milli(-2000), "-2");
    }

    #[test]
    fn the_preview_sentence_gives_the_runway_only_against_an_account() {
        let quota = Quota::STANDARD;
        assert_eq!(
            describe_preview(&quota, &Rates::RAHTI_2026, None),
            "At today's rates this quota costs 30.152 BU per hour, 22010.641 BU per month."
        );
        // 30.152 BU an hour is 723.648 a day: 1,000 BU last one whole day.
        assert!(
            describe_preview(&quota, &Rates::RAHTI_2026, Some(MilliBu(1_000_000)))
                .ends_with(" The account's balance lasts about 1 day at that.")
        );
        assert!(
            describe_preview(&quota, &Rates::RAHTI_2026, Some(MilliBu(0)))
                .ends_with(" The account's balance lasts about 0 days at that.")
        );
    }

    #[test]
    fn runway_is_whole_days_left() {
        assert_eq!(runway_days(MilliBu(10_000), MilliBu(3000)), Some(3));
        assert_eq!(runway_days(MilliBu(-5), MilliBu(3000)), Some(0));
        assert_eq!(runway_days(MilliBu(10_000), MilliBu::ZERO), None);
    }

    #[test]
    fn months_read_as_their_first_day() {
        assert_eq!(parse_month("2026-11"), NaiveDate::from_ymd_opt(2026, 11, 1));
        for junk in ["2026-13", "2026-1", "26-11", "2026/11", "", "2026-11-01"] {
            assert_eq!(parse_month(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn usage_values_become_thousandths() {
        assert_eq!(usage_milli(0.3754), Ok(375));
        assert_eq!(usage_milli(0.0005), Ok(1));
        assert_eq!(usage_milli(16.0), Ok(16_000));
        assert!(usage_milli(-0.1).is_err());
        assert!(usage_milli(f64::NAN).is_err());
        assert!(usage_milli(f64::INFINITY).is_err());
        assert!(usage_milli(1e13).is_err());
    }
}
