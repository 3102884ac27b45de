//! The server side of usage and billing: the store contract, usage pushed by collectors, the hourly rollup into the
//! ledger, and what a project's page shows of its cost.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Datelike, Duration, DurationRound, NaiveDate, TimeZone, Utc};
use serde::Deserialize;

pub use super::model::format_milli;
use super::model::{BilledResource, Milli, MilliBu, RateSchedule, charge, usage_milli};
use super::{
    AccountSummary, AccountView, AccountsPage, CollectorView, ConsumptionPage, CostBasis, GrantView, ProjectAccount,
    ProjectBilling, Statement, StatementLine, UsageBar,
};
use crate::auth::model::Role;
use crate::auth::ssr::{
    MailNotice, MailRenderer, NewAuditEntry, OutgoingMail, RequestInfo, User, new_token, require_admin, token_hash,
};
use crate::email::EmailAddress;
use crate::error::{AppError, StoreError};
use crate::projects::ssr::ProjectService;

/// A usage sample ready to store: its project found, its value in thousandths of the unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSample {
    /// The project.
    pub project_id: i64,
    /// What was measured.
    pub resource: BilledResource,
    /// When.
    pub at: DateTime<Utc>,
    /// How much, in thousandths of the resource's unit.
    pub value: Milli,
}

/// The usage of one resource of one project in one hour, as the samples summed up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HourUsage {
    /// Samples received for the hour.
    pub samples: i64,
    /// Their sum, in thousandths of the unit.
    pub total: Milli,
}

impl HourUsage {
    /// The hour's usage: the mean of its samples, rounded to the nearest thousandth, halves up.
    pub fn mean(self) -> Option<Milli> {
        (self.samples > 0).then(|| (self.total + self.samples / 2) / self.samples)
    }
}

/// What the rollup needs to price one project's hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourInput {
    /// The project.
    pub project_id: i64,
    /// The account it draws on now, if any.
    pub account_id: Option<i64>,
    /// The most it reserved during the hour, per resource in [`BilledResource::ALL`] order, in thousandths.
    pub request: [Milli; 3],
    /// What it used, per resource, where samples came.
    pub usage: [Option<HourUsage>; 3],
}

/// One line the rollup writes to the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerCharge {
    /// The project.
    pub project_id: i64,
    /// The account charged.
    pub account_id: Option<i64>,
    /// The resource.
    pub resource: BilledResource,
    /// The hour (its start).
    pub hour: DateTime<Utc>,
    /// What was reserved, in thousandths of the unit.
    pub request: Milli,
    /// What was used, if known.
    pub usage: Option<Milli>,
    /// Samples behind `usage` (the rollup marks them accounted for).
    pub samples: i64,
    /// The rate applied.
    pub rate: MilliBu,
    /// BU charged for the hour.
    pub amount: MilliBu,
}

/// An hour of one project and resource whose samples changed after the rollup wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaleHour {
    /// The project.
    pub project_id: i64,
    /// The resource.
    pub resource: BilledResource,
    /// The hour.
    pub hour: DateTime<Utc>,
    /// The samples the ledger has accounted for so far.
    pub rolled_samples: i64,
}

/// What a project's page shows, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectCost {
    /// BU this calendar month (UTC) so far.
    pub this_month: MilliBu,
    /// BU last month.
    pub last_month: MilliBu,
    /// The latest hour with usage, and each resource's usage then.
    pub latest_usage: Option<(DateTime<Utc>, [Option<Milli>; 3])>,
    /// The account it draws on.
    pub account_id: Option<i64>,
}

/// A billing account as stored, with its sums.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecord {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// The owner's user id.
    pub owner_id: i64,
    /// The owner's address.
    pub owner: String,
    /// All grants together.
    pub granted: MilliBu,
    /// Everything the ledger charged to it.
    pub consumed: MilliBu,
    /// What the ledger charged to it since the `since` the store was asked about.
    pub recent: MilliBu,
    /// The newest grant.
    pub latest_grant_id: Option<i64>,
    /// The highest threshold (80, 100) alerted for the newest grant.
    pub alerted: Option<i64>,
    /// Grants, newest first.
    pub grants: Vec<GrantView>,
    /// Projects that draw on it, by name.
    pub projects: Vec<String>,
}

impl AccountRecord {
    /// Percentage of the granted BU consumed, if any was granted.
    pub fn percent_used(&self) -> Option<i64> {
        (self.granted.0 > 0).then(|| self.consumed.0.saturating_mul(100) / self.granted.0)
    }

    /// Granted less consumed.
    pub fn balance(&self) -> MilliBu {
        self.granted - self.consumed
    }

    /// "112.208 BU (37%)".
    fn consumed_text(&self) -> String {
        match self.percent_used() {
            Some(percent) => format!("{} ({percent}%)", self.consumed),
            None => self.consumed.to_string(),
        }
    }

    /// How long the balance lasts at the last [`RUNWAY_BASIS_DAYS`] days' rate, in words.
    fn runway(&self) -> String {
        if self.balance() <= MilliBu::ZERO {
            return "The balance is used up.".to_owned();
        }
        match super::model::runway_days(self.balance(), MilliBu(self.recent.0 / RUNWAY_BASIS_DAYS)) {
            Some(1) => "At the last week's rate the balance lasts 1 day.".to_owned(),
            Some(days) => format!("At the last week's rate the balance lasts {days} days."),
            None => "Nothing was spent in the last week.".to_owned(),
        }
    }

    /// The alert that went out for the newest grant, in words.
    fn alert(&self) -> Option<String> {
        self.alerted.map(|threshold| {
            if threshold >= 100 {
                "All the BU granted are used.".to_owned()
            } else {
                format!("{threshold}% of the BU granted are used.")
            }
        })
    }

    /// The figures the accounts page shows; `recent` covers [`RUNWAY_BASIS_DAYS`] days.
    pub fn summary(&self) -> AccountSummary {
        AccountSummary {
            id: self.id,
            name: self.name.clone(),
            owner: self.owner.clone(),
            granted: self.granted.to_string(),
            consumed: self.consumed_text(),
            balance: self.balance().to_string(),
            runway: self.runway(),
            alert: self.alert(),
        }
    }

    /// The figures the project page shows.
    pub fn for_project(&self) -> ProjectAccount {
        ProjectAccount {
            name: self.name.clone(),
            figures: format!(
                "{} granted, {} consumed, {} left. {}",
                self.granted,
                self.consumed_text(),
                self.balance(),
                self.runway()
            ),
            alert: self.alert(),
        }
    }
}

/// One line of a statement as stored: a project's resource over the month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementRow {
    /// The project's name.
    pub project: String,
    /// The resource.
    pub resource: BilledResource,
    /// Hours charged.
    pub hours: i64,
    /// The sum over those hours of what was reserved, in thousandths of the unit.
    pub request_total: Milli,
    /// The sum of the usage over the hours it is known for, and how many hours that is.
    pub usage_total: Milli,
    /// Hours with usage known.
    pub usage_hours: i64,
    /// BU, corrections included.
    pub amount: MilliBu,
}

impl StatementRow {
    /// The mean reserved per hour, in thousandths (rounded half up).
    pub fn average_request(&self) -> Milli {
        if self.hours == 0 { 0 } else { (self.request_total + self.hours / 2) / self.hours }
    }

    /// The mean usage over the hours it is known for.
    pub fn average_usage(&self) -> Option<Milli> {
        (self.usage_hours > 0).then(|| (self.usage_total + self.usage_hours / 2) / self.usage_hours)
    }
}

/// What a statement is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementScope {
    /// A project, by id.
    Project(i64),
    /// An account, by id.
    Account(i64),
}

/// A statement as asked for: of a project (by name) or an account (by id), for a month (YYYY-MM).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatementQuery {
    /// A project's name.
    pub project: Option<String>,
    /// An account's id.
    pub account: Option<i64>,
    /// YYYY-MM.
    pub month: String,
}

/// A statement with its figures, for the page and the CSV download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementData {
    /// "Project climate".
    pub title: String,
    /// `project=climate`, `account=3`.
    pub scope: String,
    /// The month's first day.
    pub month: NaiveDate,
    /// The lines.
    pub rows: Vec<StatementRow>,
}

impl StatementData {
    /// The total, corrections included.
    pub fn total(&self) -> MilliBu {
        self.rows.iter().map(|row| row.amount).sum()
    }
}

/// The days of spending the runway is computed from.
pub const RUNWAY_BASIS_DAYS: i64 = 7;
/// The consumption thresholds, in percent of the granted BU, at which the owner is told.
pub const ALERT_THRESHOLDS: [i64; 2] = [80, 100];

/// Usage, collectors and the ledger.
#[async_trait]
pub trait BillingStore: Send + Sync + 'static {
    /// Adds a collector with the hash of its token.
    async fn create_collector(&self, name: &str, token_hash: &str, audit: &NewAuditEntry) -> Result<i64, StoreError>;

    /// Revokes a collector; false when there is no such collector or it was already revoked.
    async fn revoke_collector(&self, id: i64, audit: &NewAuditEntry) -> Result<bool, StoreError>;

    /// Every collector, newest first.
    async fn collectors(&self) -> Result<Vec<CollectorView>, StoreError>;

    /// The collector whose token has this hash, unless revoked.
    async fn collector_by_token(&self, token_hash: &str) -> Result<Option<i64>, StoreError>;

    /// The ids of the projects among `names` that exist and are not deleted.
    async fn project_ids(&self, names: &[String]) -> Result<HashMap<String, i64>, StoreError>;

    /// Stores samples from `source`, skipping any already stored, and records that `collector` (if they came from
    /// one) was used at `received_at`, in one transaction; returns how many samples were new.
    async fn record_samples(
        &self,
        source: &str,
        collector: Option<i64>,
        samples: &[StoredSample],
        received_at: DateTime<Utc>,
    ) -> Result<u64, StoreError>;

    /// The last hour the rollup wrote.
    async fn rollup_watermark(&self) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// The earliest moment anything could be charged (a reservation or a sample).
    async fn first_billable_at(&self) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// What every project that reserved or used anything in the hour from `hour` needs to be priced.
    async fn hour_inputs(&self, hour: DateTime<Utc>, project_id: Option<i64>) -> Result<Vec<HourInput>, StoreError>;

    /// Writes the charges of the hours up to `last` (those already written are kept as they are) and moves the
    /// watermark to `last`, in one transaction.
    async fn write_hours(&self, last: DateTime<Utc>, charges: &[LedgerCharge]) -> Result<(), StoreError>;

    /// Hours up to `up_to` whose samples changed after they were rolled up, oldest first, at most `limit`.
    async fn stale_hours(&self, up_to: DateTime<Utc>, limit: u32) -> Result<Vec<StaleHour>, StoreError>;

    /// Brings the ledger of a stale hour to `expected`: adds a correction for the difference, unless another run
    /// already did (then nothing is written); returns whether a correction row was written.
    async fn correct_hour(
        &self,
        stale: &StaleHour,
        expected: &LedgerCharge,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// A project's BU from `last_month` to `this_month` and from `this_month` on, and its latest usage.
    async fn project_cost(
        &self,
        project_id: i64,
        this_month: DateTime<Utc>,
        last_month: DateTime<Utc>,
    ) -> Result<ProjectCost, StoreError>;

    /// Queues the rollup of the hours up to `hour`, once per hour whichever process asks first; false if it was.
    async fn schedule_rollup(&self, hour: DateTime<Utc>) -> Result<bool, StoreError>;

    /// Accounts owned by `owner_id` (every account when `None`), with what was charged since `since`.
    async fn accounts(&self, owner_id: Option<i64>, since: DateTime<Utc>) -> Result<Vec<AccountRecord>, StoreError>;

    /// One account.
    async fn account(&self, id: i64, since: DateTime<Utc>) -> Result<Option<AccountRecord>, StoreError>;

    /// Adds a grant to an account with its audit row; false when there is no such account.
    async fn grant(
        &self,
        account_id: i64,
        amount: MilliBu,
        reason: &str,
        audit: &NewAuditEntry,
    ) -> Result<bool, StoreError>;

    /// Makes a project draw on an account from now on, with the project's event and the audit row.
    async fn set_project_account(
        &self,
        project_id: i64,
        account: &AccountRecord,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError>;

    /// What each project that is not deleted consumed over [`from`, `to`): (project, account name, BU).
    async fn consumption(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(String, String, MilliBu)>, StoreError>;

    /// The BU charged to a project per month (YYYY-MM, UTC) from `from` on.
    async fn project_months(&self, project_id: i64, from: DateTime<Utc>) -> Result<Vec<(String, MilliBu)>, StoreError>;

    /// The lines of a statement over [`from`, `to`): per project and resource, the newest ledger row of each hour
    /// giving the usage, every row of it the amount.
    async fn statement_rows(
        &self,
        scope: StatementScope,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<StatementRow>, StoreError>;

    /// Records that the alert at `threshold` (and any lower one) went out for the grant, with its mail; false when
    /// it had already gone out.
    async fn record_alert(
        &self,
        account_id: i64,
        grant_id: i64,
        threshold: i64,
        mail: &[OutgoingMail],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
}

/// Settings of usage and billing.
#[derive(Debug, Clone)]
pub struct BillingSettings {
    /// The rates, with the day each takes effect.
    pub rates: RateSchedule,
    /// The most samples one push may carry.
    pub max_batch: usize,
    /// How far in the future a sample may be dated (clocks differ a little).
    pub clock_skew: Duration,
    /// How old a sample may be (later ones would reopen statements long sent).
    pub max_sample_age: Duration,
    /// Whether the projects of an account that has used all its BU are suspended.
    pub suspend_when_spent: bool,
}

impl Default for BillingSettings {
    fn default() -> Self {
        Self {
            rates: RateSchedule::default(),
            max_batch: MAX_BATCH,
            clock_skew: Duration::minutes(5),
            max_sample_age: Duration::days(60),
            suspend_when_spent: false,
        }
    }
}

/// The most samples one push may carry, by default.
pub const MAX_BATCH: usize = 5_000;
/// The longest collector name.
pub const COLLECTOR_NAME_MAX: usize = 100;
/// The longest reason for a grant.
pub const GRANT_REASON_MAX: usize = 1_000;
/// Stale hours corrected per round of the rollup.
const STALE_BATCH: u32 = 500;
/// Ledger rows the rollup writes per transaction (whole hours: a batch ends with the hour that reaches this). Large
/// enough that a catch-up rewrites each index page rarely, small enough that other writers wait a fraction of a
/// second for the write lock.
const ROLLUP_BATCH_ROWS: usize = 10_000;

/// A batch of samples, as `POST /api/v1/usage` receives it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageBatch {
    /// The samples.
    pub samples: Vec<PushedSample>,
}

/// One pushed sample, before it is checked.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushedSample {
    /// The project's name.
    pub project: String,
    /// `cpu`, `memory` or `storage`.
    pub resource: String,
    /// In the resource's unit: cores, GiB.
    pub value: f64,
    /// When it was measured (RFC 3339).
    pub time: DateTime<Utc>,
}

/// What became of a push.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IngestReport {
    /// New samples stored.
    pub accepted: u64,
    /// Samples that were already stored (sent before).
    pub duplicates: u64,
    /// Samples refused, with why.
    pub rejected: Vec<RejectedSample>,
}

/// A sample refused from a batch.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RejectedSample {
    /// Its position in the batch, from 0.
    pub index: usize,
    /// Why.
    pub error: String,
}

/// Why a push was refused as a whole.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// No token, or one that is unknown or revoked.
    #[error("a valid collector token is needed")]
    Unauthorised,
    /// More samples than allowed.
    #[error("a batch may carry at most {0} samples")]
    TooLarge(usize),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a rollup run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RollupReport {
    /// Hours written.
    pub hours: u64,
    /// Charge rows written.
    pub charges: u64,
    /// Correction rows written.
    pub corrections: u64,
    /// Budget alerts sent.
    pub alerts: u64,
    /// Samples read from the pull sources.
    pub pulled: u64,
}

/// Why a rollup stopped.
#[derive(Debug, thiserror::Error)]
pub enum RollupError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A pull source could not be read.
    #[error(transparent)]
    Source(SourceError),
}

/// Why a pull source could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read usage from {source_name}: {reason}")]
pub struct SourceError {
    /// Which source.
    pub source_name: &'static str,
    /// What went wrong.
    pub reason: String,
}

/// One reading of a pull source: a project's mean usage of a resource over an hour, in the resource's unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// The project (its namespace).
    pub project: String,
    /// The resource.
    pub resource: BilledResource,
    /// Cores or GiB.
    pub value: f64,
}

/// A source Berth reads usage from once per hour (Prometheus); its readings are stored as samples at the hour's
/// start, with the source's name.
#[async_trait]
pub trait UsageSource: Send + Sync + 'static {
    /// The name its samples are stored under.
    fn name(&self) -> &'static str;

    /// Each project's mean usage over the hour from `hour`, as known at `until` (the hour's end, or now).
    async fn hour_usage(&self, hour: DateTime<Utc>, until: DateTime<Utc>) -> Result<Vec<Reading>, SourceError>;
}

/// How far back the pull sources are read (Prometheus keeps 15 days by default).
pub const PULL_WINDOW: Duration = Duration::days(14);

/// Usage and billing.
pub struct BillingService {
    store: Arc<dyn BillingStore>,
    projects: Arc<ProjectService>,
    mail: Arc<dyn MailRenderer>,
    sources: Vec<Arc<dyn UsageSource>>,
    settings: BillingSettings,
}

impl std::fmt::Debug for BillingService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BillingService").field("settings", &self.settings).finish_non_exhaustive()
    }
}

/// The start of the hour `at` is in.
pub fn hour_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(Duration::hours(1)).unwrap_or(at)
}

/// The first moment of the month `at` is in, and of the month before it (UTC).
fn month_starts(at: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let first = NaiveDate::from_ymd_opt(at.year(), at.month(), 1).unwrap_or(at.date_naive());
    let previous = first.pred_opt().map_or(first, |last_day| last_day.with_day(1).unwrap_or(last_day));
    let midnight = |day: NaiveDate| Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default());
    (midnight(first), midnight(previous))
}

impl BillingService {
    /// The service over `store`, checking access to projects through `projects` and mailing through `mail`.
    pub fn new(
        store: Arc<dyn BillingStore>,
        projects: Arc<ProjectService>,
        mail: Arc<dyn MailRenderer>,
        settings: BillingSettings,
    ) -> Self {
        Self { store, projects, mail, sources: Vec::new(), settings }
    }

    /// The service, reading usage from `source` too.
    pub fn with_source(mut self, source: Arc<dyn UsageSource>) -> Self {
        self.sources.push(source);
        self
    }

    /// The settings in force.
    pub fn settings(&self) -> &BillingSettings {
        &self.settings
    }

    /// An admin adds a collector; its token is returned once and never stored.
    pub async fn create_collector(
        &self,
        admin: &User,
        name: &str,
        request: &RequestInfo,
    ) -> Result<(i64, String), AppError> {
        require_admin(admin)?;
        let name = crate::applications::model::required_text(name, COLLECTOR_NAME_MAX, false)
            .map_err(|error| AppError::Invalid { field: "name".into(), message: error.to_string() })?;
        let token = format!("berth_collector_{}", new_token());
        let mut audit = NewAuditEntry::by(admin, "collector.create", String::new(), request);
        audit.details = serde_json::json!({ "name": name });
        let id = self.store.create_collector(&name, &token_hash(&token), &audit).await?;
        Ok((id, token))
    }

    /// An admin revokes a collector: its token stops working at once.
    pub async fn revoke_collector(&self, admin: &User, id: i64, request: &RequestInfo) -> Result<(), AppError> {
        require_admin(admin)?;
        let audit = NewAuditEntry::by(admin, "collector.revoke", format!("collector:{id}"), request);
        if self.store.revoke_collector(id, &audit).await? { Ok(()) } else { Err(AppError::NotFound) }
    }

    /// The collectors (admins only).
    pub async fn collectors(&self, admin: &User) -> Result<Vec<CollectorView>, AppError> {
        require_admin(admin)?;
        Ok(self.store.collectors().await?)
    }

    /// Stores a pushed batch from the collector whose token is `token`: every sample is checked on its own, the
    /// good ones are kept (a sample sent before counts once) and each bad one is reported with its position.
    pub async fn ingest(
        &self,
        token: Option<&str>,
        batch: UsageBatch,
        now: DateTime<Utc>,
    ) -> Result<IngestReport, IngestError> {
        let token = token.filter(|token| !token.is_empty()).ok_or(IngestError::Unauthorised)?;
        let collector = self.store.collector_by_token(&token_hash(token)).await?.ok_or(IngestError::Unauthorised)?;
        if batch.samples.len() > self.settings.max_batch {
            return Err(IngestError::TooLarge(self.settings.max_batch));
        }
        let mut names: Vec<String> = batch.samples.iter().map(|sample| sample.project.clone()).collect();
        names.sort();
        names.dedup();
        let projects = self.store.project_ids(&names).await?;
        let mut rejected = Vec::new();
        let mut good = Vec::with_capacity(batch.samples.len());
        for (index, sample) in batch.samples.into_iter().enumerate() {
            match self.check_sample(&sample, &projects, now) {
                Ok(stored) => good.push(stored),
                Err(error) => rejected.push(RejectedSample { index, error }),
            }
        }
        // One batch may repeat a sample: it counts once, like one sent again later.
        let sent = good.len() as u64;
        good.sort_by_key(|sample| (sample.project_id, sample.resource, sample.at));
        good.dedup_by_key(|sample| (sample.project_id, sample.resource, sample.at));
        let accepted =
            self.store.record_samples(&format!("collector:{collector}"), Some(collector), &good, now).await?;
        Ok(IngestReport { accepted, duplicates: sent - accepted, rejected })
    }

    fn check_sample(
        &self,
        sample: &PushedSample,
        projects: &HashMap<String, i64>,
        now: DateTime<Utc>,
    ) -> Result<StoredSample, String> {
        let project_id =
            *projects.get(&sample.project).ok_or_else(|| format!("there is no project {:?}", sample.project))?;
        let resource = BilledResource::parse(&sample.resource)
            .ok_or_else(|| format!("unknown resource {:?}: use cpu, memory or storage", sample.resource))?;
        let value = usage_milli(sample.value).map_err(str::to_owned)?;
        if sample.time > now + self.settings.clock_skew {
            return Err("the time is in the future".to_owned());
        }
        if sample.time < now - self.settings.max_sample_age {
            return Err(format!("the time is more than {} days ago", self.settings.max_sample_age.num_days()));
        }
        Ok(StoredSample { project_id, resource, at: sample.time, value })
    }

    /// Queues the rollup of every complete hour before `now`, once per hour across processes.
    pub async fn schedule_rollup(&self, now: DateTime<Utc>) -> Result<bool, AppError> {
        Ok(self.store.schedule_rollup(hour_of(now) - Duration::hours(1)).await?)
    }

    /// Prices one project's hour with the rates of that hour.
    fn price(&self, hour: DateTime<Utc>, input: &HourInput) -> Vec<LedgerCharge> {
        let rates = self.settings.rates.at(hour);
        BilledResource::ALL
            .into_iter()
            .enumerate()
            .map(|(index, resource)| {
                let usage = input.usage[index];
                let mean = usage.and_then(HourUsage::mean);
                let rate = rates.get(resource);
                LedgerCharge {
                    project_id: input.project_id,
                    account_id: input.account_id,
                    resource,
                    hour,
                    request: input.request[index],
                    usage: mean,
                    samples: usage.map_or(0, |usage| usage.samples),
                    rate,
                    amount: charge(resource, input.request[index], mean, 1, rate),
                }
            })
            .collect()
    }

    /// Writes the ledger up to the hour that starts at `up_to`: every hour after the last one written (so a gap left
    /// by downtime is filled), then a correction for each hour whose samples arrived after it was written. Running
    /// it again writes nothing new.
    /// Each hour's usage from the pull sources (Prometheus) is read and stored first, once per hour: an hour is
    /// pulled when it is written, and a source that cannot be read stops the run (the job retries), so that no hour
    /// is charged without the usage that was there to read.
    pub async fn rollup(&self, up_to: DateTime<Utc>) -> Result<RollupReport, RollupError> {
        let up_to = hour_of(up_to);
        let mut report = RollupReport::default();
        let next = match self.store.rollup_watermark().await? {
            Some(last) => last + Duration::hours(1),
            None => match self.store.first_billable_at().await? {
                Some(first) => hour_of(first),
                None => return Ok(report),
            },
        };
        let mut hour = next;
        // Hours are written a batch at a time: one transaction rewrites each index page it touches once, where an
        // hour at a time rewrote the same pages for every hour (a year's catch-up went from an hour to minutes).
        let mut charges: Vec<LedgerCharge> = Vec::new();
        while hour <= up_to {
            if hour >= hour_of(Utc::now()) - PULL_WINDOW {
                report.pulled += self.pull(hour).await?;
            }
            let inputs = self.store.hour_inputs(hour, None).await?;
            charges.extend(
                inputs
                    .iter()
                    .flat_map(|input| self.price(hour, input))
                    .filter(|line| line.amount > MilliBu::ZERO || line.usage.is_some()),
            );
            report.hours += 1;
            if charges.len() >= ROLLUP_BATCH_ROWS || hour == up_to {
                self.store.write_hours(hour, &charges).await?;
                report.charges += charges.len() as u64;
                charges.clear();
            }
            hour += Duration::hours(1);
        }
        let Some(watermark) = self.store.rollup_watermark().await? else { return Ok(report) };
        loop {
            let stale = self.store.stale_hours(watermark, STALE_BATCH).await?;
            for hour in &stale {
                let inputs = self.store.hour_inputs(hour.hour, Some(hour.project_id)).await?;
                let Some(input) = inputs.first() else { continue };
                let Some(expected) =
                    self.price(hour.hour, input).into_iter().find(|line| line.resource == hour.resource)
                else {
                    continue;
                };
                if self.store.correct_hour(hour, &expected, Utc::now()).await? {
                    report.corrections += 1;
                }
            }
            if stale.len() < STALE_BATCH as usize {
                break;
            }
        }
        report.alerts = self.check_budgets(Utc::now()).await?;
        Ok(report)
    }

    /// Suspends the account's active projects; a project that cannot be suspended now is logged, not retried (the
    /// alert is sent once), and an admin sees it on the account page.
    async fn suspend_projects(&self, account: &AccountRecord) {
        for name in &account.projects {
            match self.projects.suspend_for_budget(name, &account.name).await {
                Ok(true) => tracing::info!(project = %name, account = %account.name, "suspended: no BU left"),
                Ok(false) => {}
                Err(error) => tracing::warn!(project = %name, %error, "cannot suspend a project whose BU ran out"),
            }
        }
    }

    /// Reads the hour from `hour` from every pull source and stores what it says about known projects; returns how
    /// many samples were new.
    pub async fn pull(&self, hour: DateTime<Utc>) -> Result<u64, RollupError> {
        let mut stored = 0;
        for source in &self.sources {
            let until = (hour + Duration::hours(1)).min(Utc::now());
            let readings = source.hour_usage(hour, until).await.map_err(RollupError::Source)?;
            let mut names: Vec<String> = readings.iter().map(|reading| reading.project.clone()).collect();
            names.sort();
            names.dedup();
            let projects = self.store.project_ids(&names).await?;
            let samples: Vec<StoredSample> = readings
                .iter()
                .filter_map(|reading| {
                    let project_id = *projects.get(&reading.project)?;
                    let value = usage_milli(reading.value).ok()?;
                    Some(StoredSample { project_id, resource: reading.resource, at: hour, value })
                })
                .collect();
            stored += self.store.record_samples(source.name(), None, &samples, Utc::now()).await?;
        }
        Ok(stored)
    }

    /// Tells each account's owner once per grant when 80% and when all of the BU granted are used.
    async fn check_budgets(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut sent = 0;
        for account in self.store.accounts(None, now).await? {
            let (Some(grant_id), Some(percent)) = (account.latest_grant_id, account.percent_used()) else { continue };
            let Some(threshold) = ALERT_THRESHOLDS.into_iter().rev().find(|threshold| percent >= *threshold) else {
                continue;
            };
            if account.alerted.is_some_and(|alerted| alerted >= threshold) {
                continue;
            }
            let notice = MailNotice {
                subject: if threshold >= 100 {
                    format!("Billing account {}: all BU used", account.name)
                } else {
                    format!("Billing account {}: {threshold}% of its BU used", account.name)
                },
                paragraphs: vec![
                    format!(
                        "The billing account {} has used {} of the {} granted to it ({}%); {} are left.",
                        account.name,
                        account.consumed,
                        account.granted,
                        percent,
                        account.balance()
                    ),
                    format!("Projects drawing on it: {}.", account.projects.join(", ")),
                    "Ask the admins for a new grant before it runs out, or lower the projects' quotas.".to_owned(),
                ],
                path: "/billing".to_owned(),
                link_label: "See the account".to_owned(),
            };
            let mail: Vec<OutgoingMail> = EmailAddress::parse(&account.owner)
                .ok()
                .map(|owner| self.mail.notice(&owner, &notice))
                .into_iter()
                .collect();
            if self.store.record_alert(account.id, grant_id, threshold, &mail, now).await? {
                sent += 1;
                if threshold >= 100 && self.settings.suspend_when_spent {
                    self.suspend_projects(&account).await;
                }
            }
        }
        Ok(sent)
    }

    /// What a project costs, for its members and admins (404 to anyone else).
    pub async fn project_billing(&self, user: &User, name: &str) -> Result<ProjectBilling, AppError> {
        let project = self.projects.view(user, name).await?;
        let now = Utc::now();
        let (this_month_start, last_month_start) = month_starts(now);
        let cost = self.store.project_cost(project.id, this_month_start, last_month_start).await?;
        let account = match cost.account_id {
            Some(id) => self.store.account(id, now - Duration::days(RUNWAY_BASIS_DAYS)).await?,
            None => None,
        };
        let rates = self.settings.rates.at(now);
        let reserved = super::model::preview(&project.quota, &rates);
        let usage = BilledResource::ALL
            .into_iter()
            .enumerate()
            .map(|(index, resource)| {
                let quota = resource.of_quota(&project.quota);
                let used = cost.latest_usage.as_ref().and_then(|(_, values)| values[index]);
                UsageBar {
                    label: resource.label().to_owned(),
                    quota: format!("{} {}", quota / 1000, resource.unit()),
                    used: used.map(|used| format!("{} {}", format_milli(used), resource.unit())),
                    percent: used.map(|used| if quota > 0 { (used * 100 / quota).clamp(0, 999) as u16 } else { 0 }),
                }
            })
            .collect();
        Ok(ProjectBilling {
            this_month: cost.this_month.to_string(),
            last_month: cost.last_month.to_string(),
            this_month_label: this_month_start.format("%B %Y").to_string(),
            reserved: format!("{} per hour, {} per month", reserved.per_hour, reserved.per_month),
            usage,
            usage_at: cost.latest_usage.map(|(hour, _)| hour.format("%Y-%m-%d %H:00 UTC").to_string()),
            basis: CostBasis { rates, balance: account.as_ref().map(AccountRecord::balance) },
            account: account.map(|account| account.for_project()),
            months: self.months(project.id, this_month_start).await?,
            statement_months: (
                this_month_start.format("%Y-%m").to_string(),
                last_month_start.format("%Y-%m").to_string(),
            ),
        })
    }

    /// BU per month over the twelve months that end with the one starting at `this_month`, oldest first.
    async fn months(&self, project_id: i64, this_month: DateTime<Utc>) -> Result<Vec<(String, String, u8)>, AppError> {
        let mut starts = vec![this_month];
        for _ in 1..12 {
            let (_, previous) = month_starts(starts[starts.len() - 1]);
            starts.push(previous);
        }
        starts.reverse();
        let stored: HashMap<String, MilliBu> =
            self.store.project_months(project_id, starts[0]).await?.into_iter().collect();
        let amounts: Vec<(DateTime<Utc>, MilliBu)> = starts
            .into_iter()
            .map(|start| (start, stored.get(&start.format("%Y-%m").to_string()).copied().unwrap_or_default()))
            .collect();
        let largest = amounts.iter().map(|(_, amount)| amount.0).max().unwrap_or(0).max(1);
        Ok(amounts
            .into_iter()
            .map(|(start, amount)| {
                let height = (amount.0.max(0) * 100 / largest).clamp(0, 100) as u8;
                (start.format("%b %Y").to_string(), amount.to_string(), height)
            })
            .collect())
    }

    /// A statement's figures, for those who may see it: a project's members and admins, an account's owner and
    /// admins (404 for anyone else; 400 for a month that cannot be read).
    pub async fn statement_data(&self, user: &User, query: &StatementQuery) -> Result<StatementData, AppError> {
        let month = super::model::parse_month(&query.month)
            .ok_or_else(|| AppError::invalid("month", "Give the month as YYYY-MM, such as 2026-11."))?;
        let from = Utc.from_utc_datetime(&month.and_hms_opt(0, 0, 0).unwrap_or_default());
        let to = Utc.from_utc_datetime(
            &month.checked_add_months(chrono::Months::new(1)).unwrap_or(month).and_hms_opt(0, 0, 0).unwrap_or_default(),
        );
        let (scope, title, scope_text) = match (&query.project, query.account) {
            (Some(name), None) => {
                let project = self.projects.view(user, name).await?;
                (
                    StatementScope::Project(project.id),
                    format!("Project {}", project.name),
                    format!("project={}", project.name),
                )
            }
            (None, Some(id)) => {
                let account = self.store.account(id, from).await?.ok_or(AppError::NotFound)?;
                if account.owner_id != user.id && user.role != Role::Admin {
                    return Err(AppError::NotFound);
                }
                (StatementScope::Account(id), format!("Billing account {}", account.name), format!("account={id}"))
            }
            _ => return Err(AppError::invalid("project", "Ask for the statement of one project or one account.")),
        };
        let rows = self.store.statement_rows(scope, from, to).await?;
        Ok(StatementData { title, scope: scope_text, month, rows })
    }

    /// The consumption of every project in `month` (YYYY-MM, or this month when empty), for admins, as numbers
    /// (for the CSV download).
    pub async fn consumption_rows(
        &self,
        admin: &User,
        month: &str,
        sort: &str,
    ) -> Result<(NaiveDate, Vec<(String, String, MilliBu)>), AppError> {
        require_admin(admin)?;
        let month = if month.trim().is_empty() {
            Utc::now().date_naive().with_day(1).unwrap_or(Utc::now().date_naive())
        } else {
            super::model::parse_month(month)
                .ok_or_else(|| AppError::invalid("month", "Give the month as YYYY-MM, such as 2026-11."))?
        };
        let from = Utc.from_utc_datetime(&month.and_hms_opt(0, 0, 0).unwrap_or_default());
        let next = month.checked_add_months(chrono::Months::new(1)).unwrap_or(month);
        let to = Utc.from_utc_datetime(&next.and_hms_opt(0, 0, 0).unwrap_or_default());
        let mut rows = self.store.consumption(from, to).await?;
        if sort == "name" {
            rows.sort_by(|a, b| a.0.cmp(&b.0));
        } else {
            rows.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
        }
        Ok((month, rows))
    }

    /// The admins' consumption page: every project's BU in a month, and the rate history.
    pub async fn consumption(&self, admin: &User, month: &str, sort: &str) -> Result<ConsumptionPage, AppError> {
        let (month, rows) = self.consumption_rows(admin, month, sort).await?;
        Ok(ConsumptionPage {
            month: month.format("%Y-%m").to_string(),
            month_label: month.format("%B %Y").to_string(),
            rows: rows.into_iter().map(|(project, account, amount)| (project, account, amount.to_string())).collect(),
            sort: if sort == "name" { "name".to_owned() } else { "bu".to_owned() },
            rates: self
                .settings
                .rates
                .entries()
                .iter()
                .map(|(from, rates)| {
                    (from.to_string(), rates.cpu.to_string(), rates.memory.to_string(), rates.storage.to_string())
                })
                .collect(),
        })
    }

    /// A statement as its page shows it.
    pub async fn statement(&self, user: &User, query: &StatementQuery) -> Result<Statement, AppError> {
        let data = self.statement_data(user, query).await?;
        let quantity = |value: Milli, resource: BilledResource| format!("{} {}", format_milli(value), resource.unit());
        let next =
            data.month.checked_add_months(chrono::Months::new(1)).filter(|next| *next <= Utc::now().date_naive());
        Ok(Statement {
            title: data.title.clone(),
            month_label: data.month.format("%B %Y").to_string(),
            total: data.total().to_string(),
            previous: data
                .month
                .checked_sub_months(chrono::Months::new(1))
                .unwrap_or(data.month)
                .format("%Y-%m")
                .to_string(),
            next: next.map(|next| next.format("%Y-%m").to_string()),
            month: data.month.format("%Y-%m").to_string(),
            scope: data.scope.clone(),
            lines: data
                .rows
                .iter()
                .map(|row| StatementLine {
                    project: row.project.clone(),
                    resource: row.resource.label().to_owned(),
                    hours: row.hours,
                    average_request: quantity(row.average_request(), row.resource),
                    average_usage: row
                        .average_usage()
                        .map_or_else(|| "not known".to_owned(), |usage| quantity(usage, row.resource)),
                    amount: row.amount.to_string(),
                })
                .collect(),
        })
    }

    /// The accounts page: the user's accounts, or every account for an admin.
    pub async fn accounts_page(&self, user: &User) -> Result<AccountsPage, AppError> {
        let is_admin = user.role == Role::Admin;
        let since = Utc::now() - Duration::days(RUNWAY_BASIS_DAYS);
        let accounts = self.store.accounts((!is_admin).then_some(user.id), since).await?;
        let managed = self.projects.managed_names(user).await?;
        Ok(AccountsPage {
            accounts: accounts
                .into_iter()
                .map(|account| AccountView {
                    summary: account.summary(),
                    viewer_owns: account.owner_id == user.id,
                    grants: account.grants,
                    projects: account.projects,
                })
                .collect(),
            viewer_is_admin: is_admin,
            managed_projects: managed,
            this_month: Utc::now().format("%Y-%m").to_string(),
        })
    }

    /// An admin grants BU to an account (audited; the alerts are armed again).
    pub async fn grant(
        &self,
        admin: &User,
        account_id: i64,
        amount: &str,
        reason: &str,
        request: &RequestInfo,
    ) -> Result<(), AppError> {
        require_admin(admin)?;
        let amount = MilliBu::parse(amount).map_err(|error| AppError::invalid("amount", error.to_string()))?;
        if amount <= MilliBu::ZERO {
            return Err(AppError::invalid("amount", "Grant more than 0 BU."));
        }
        let reason = crate::applications::model::required_text(reason, GRANT_REASON_MAX, true)
            .map_err(|error| AppError::invalid("reason", error.to_string()))?;
        let mut audit = NewAuditEntry::by(admin, "billing.grant", format!("billing_account:{account_id}"), request);
        audit.details = serde_json::json!({ "amount_mbu": amount.0, "reason": reason });
        if self.store.grant(account_id, amount, &reason, &audit).await? { Ok(()) } else { Err(AppError::NotFound) }
    }

    /// The owner of an account lets a project they manage draw on it from now on (admins may move any project).
    pub async fn attach_project(
        &self,
        user: &User,
        account_id: i64,
        project: &str,
        request: &RequestInfo,
    ) -> Result<(), AppError> {
        let since = Utc::now() - Duration::days(RUNWAY_BASIS_DAYS);
        let account = self.store.account(account_id, since).await?.ok_or(AppError::NotFound)?;
        let is_admin = user.role == Role::Admin;
        if account.owner_id != user.id && !is_admin {
            return Err(AppError::NotFound);
        }
        let project = self.projects.view(user, project).await.map_err(|error| match error {
            AppError::NotFound => AppError::invalid("project", "Choose one of the projects you manage."),
            other => other,
        })?;
        if !project.viewer_manages() {
            return Err(AppError::invalid("project", "Choose one of the projects you manage."));
        }
        let audit = NewAuditEntry::by(user, "project.billing_account", format!("project:{}", project.id), request);
        self.store.set_project_account(project.id, &account, &audit).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hours_usage_is_the_rounded_mean_of_its_samples() {
        assert_eq!(HourUsage { samples: 0, total: 0 }.mean(), None);
        assert_eq!(HourUsage { samples: 2, total: 3 }.mean(), Some(2), "1.5 rounds up");
        assert_eq!(HourUsage { samples: 3, total: 4000 }.mean(), Some(1333));
    }

    #[test]
    fn months_start_on_the_first_at_midnight_utc() {
        let at = Utc.with_ymd_and_hms(2026, 1, 15, 10, 30, 0).single().expect("a time");
        let (this, last) = month_starts(at);
        assert_eq!(this, Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().expect("a time"));
        assert_eq!(last, Utc.with_ymd_and_hms(2025, 12, 1, 0, 0, 0).single().expect("a time"));
        assert_eq!(hour_of(at), Utc.with_ymd_and_hms(2026, 1, 15, 10, 0, 0).single().expect("a time"));
    }

    #[test]
    fn thousandths_print_without_trailing_zeros() {
        assert_eq!(format_milli(1500), "1.5");
        assert_eq!(format_milli(16_000), "16");
        assert_eq!(format_milli(1), "0.001");
    }
}
