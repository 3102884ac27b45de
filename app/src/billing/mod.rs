//! Usage and billing units (BU): `model` holds the exact amounts, the rates and Rahti's formula both sides share,
//! `views` what the project page and the admins' page show; the server side (`ssr`) holds the store contract, the
//! push API's checks and the hourly rollup into the ledger.

pub mod model;
#[cfg(feature = "ssr")]
pub mod ssr;
pub mod views;

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[cfg(feature = "ssr")]
use crate::ssr::{respond_with_error, signed_in, signed_in_admin};

/// A project's cost as its page shows it. Amounts arrive as text ("28.052 BU"): the browser carries no code to
/// format them, which keeps the pages that share this type small.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectBilling {
    /// BU this calendar month (UTC) so far.
    pub this_month: String,
    /// BU last month.
    pub last_month: String,
    /// "December 2026".
    pub this_month_label: String,
    /// What the quota costs when it is not exceeded: "28.052 BU per hour, 20477.96 BU per month".
    pub reserved: String,
    /// Quota against usage, per billed resource.
    pub usage: Vec<UsageBar>,
    /// The hour the usage is from ("2026-12-02 14:00 UTC"), if any came.
    pub usage_at: Option<String>,
    /// The account it draws on, if any.
    pub account: Option<ProjectAccount>,
    /// BU per month over the last twelve months, oldest first: ("Jan 2026", "1234.5 BU", height in percent of the
    /// largest month).
    pub months: Vec<(String, String, u8)>,
    /// This month and last (YYYY-MM), for the statement links.
    pub statement_months: (String, String),
    /// What the quota change form's cost preview computes from.
    pub basis: CostBasis,
}

/// What a cost preview is computed from in the browser as the user types: today's rates and the balance of the
/// account the cost would draw on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostBasis {
    /// The rates in force now.
    pub rates: model::Rates,
    /// The account's balance, if the project draws on one.
    pub balance: Option<model::MilliBu>,
}

/// The account a project draws on, as its page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectAccount {
    /// Name.
    pub name: String,
    /// "300 BU granted, 112.208 BU consumed (37%), 187.792 BU left. At the last week's rate that lasts 11 days."
    pub figures: String,
    /// The latest alert, if one went out for the latest grant.
    pub alert: Option<String>,
}

/// One resource's quota against its latest usage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageBar {
    /// "CPU".
    pub label: String,
    /// "4 cores".
    pub quota: String,
    /// "1.5 cores", if known.
    pub used: Option<String>,
    /// Usage as a percentage of the quota (may pass 100), if known.
    pub percent: Option<u16>,
}

/// A billing account's figures, as the accounts page shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSummary {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Who owns it.
    pub owner: String,
    /// "300 BU", all grants together.
    pub granted: String,
    /// "112.208 BU (37%)".
    pub consumed: String,
    /// Granted less consumed (negative once overspent).
    pub balance: String,
    /// "At the last week's rate the balance lasts 11 days."
    pub runway: String,
    /// "80% of the BU granted are used." once an alert went out for the latest grant.
    pub alert: Option<String>,
}

/// One grant of BU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantView {
    /// "100 BU".
    pub amount: String,
    /// Why.
    pub reason: String,
    /// By which admin.
    pub granted_by: String,
    /// When ("2026-12-02 14:05 UTC").
    pub at: String,
}

/// A billing account on the accounts page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountView {
    /// Its figures.
    pub summary: AccountSummary,
    /// Its grants, newest first.
    pub grants: Vec<GrantView>,
    /// The projects that draw on it.
    pub projects: Vec<String>,
    /// Whether the viewer owns it (and may move their projects onto it).
    pub viewer_owns: bool,
}

/// The accounts page: the viewer's accounts (every account for an admin).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountsPage {
    /// The accounts.
    pub accounts: Vec<AccountView>,
    /// Whether the viewer is an admin (and may grant BU).
    pub viewer_is_admin: bool,
    /// The projects the viewer manages, which they may move onto an account of theirs.
    pub managed_projects: Vec<String>,
    /// The current month, YYYY-MM, for the statement links.
    pub this_month: String,
}

/// A monthly statement of a project or of an account, as its page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    /// "Project climate", "Billing account lab".
    pub title: String,
    /// "November 2026".
    pub month_label: String,
    /// A line per project and resource.
    pub lines: Vec<StatementLine>,
    /// "1234.567 BU".
    pub total: String,
    /// The month before and the month after (YYYY-MM; none after the current month).
    pub previous: String,
    /// The month after, unless it is in the future.
    pub next: Option<String>,
    /// What the statement is of, as a query: `project=climate` or `account=3`.
    pub scope: String,
    /// This month, YYYY-MM.
    pub month: String,
}

/// One line of a statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementLine {
    /// The project.
    pub project: String,
    /// "CPU".
    pub resource: String,
    /// Hours charged.
    pub hours: i64,
    /// "4 cores".
    pub average_request: String,
    /// "1.25 cores", or "not known".
    pub average_usage: String,
    /// "123.45 BU".
    pub amount: String,
}

/// The admins' view of what every project consumed in a month, and the rates over time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumptionPage {
    /// YYYY-MM.
    pub month: String,
    /// "November 2026".
    pub month_label: String,
    /// (project, account, "123.4 BU"), in the order asked for.
    pub rows: Vec<(String, String, String)>,
    /// "bu" (largest first) or "name".
    pub sort: String,
    /// The rate history: (from, per core-hour, per GiB-hour, per TiB-hour), oldest first.
    pub rates: Vec<(String, String, String, String)>,
}

/// A usage collector as the admins' page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectorView {
    /// Id.
    pub id: i64,
    /// What it is ("prometheus-federation in cluster A").
    pub name: String,
    /// Who added it.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When it last pushed.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What a project costs (its members and admins; 404 for anyone else).
#[server(prefix = "/api", endpoint = "project_billing")]
pub async fn get_project_billing(name: String) -> Result<ProjectBilling, AppError> {
    let (state, auth, _) = signed_in()?;
    state.billing.project_billing(&auth.user, &name).await.map_err(respond_with_error)
}

/// The viewer's billing accounts (every account for an admin).
#[server(prefix = "/api", endpoint = "billing_accounts")]
pub async fn get_accounts() -> Result<AccountsPage, AppError> {
    let (state, auth, _) = signed_in()?;
    state.billing.accounts_page(&auth.user).await.map_err(respond_with_error)
}

/// An admin grants BU to an account, with a reason.
#[server(prefix = "/api", endpoint = "billing_grant")]
pub async fn grant_bu(account_id: i64, amount: String, reason: String) -> Result<(), AppError> {
    let (state, auth, request) = signed_in_admin()?;
    state.billing.grant(&auth.user, account_id, &amount, &reason, &request).await.map_err(respond_with_error)
}

/// An account's owner lets a project they manage draw on it.
#[server(prefix = "/api", endpoint = "billing_attach")]
pub async fn attach_project(account_id: i64, project: String) -> Result<(), AppError> {
    let (state, auth, request) = signed_in()?;
    state.billing.attach_project(&auth.user, account_id, &project, &request).await.map_err(respond_with_error)
}

/// A monthly statement (YYYY-MM) of a project (its members and admins) or of an account (its owner and admins).
#[server(prefix = "/api", endpoint = "billing_statement")]
pub async fn get_statement(
    project: Option<String>,
    account: Option<i64>,
    month: String,
) -> Result<Statement, AppError> {
    let (state, auth, _) = signed_in()?;
    let query = ssr::StatementQuery { project, account, month };
    state.billing.statement(&auth.user, &query).await.map_err(respond_with_error)
}

/// What every project consumed in a month (YYYY-MM; this month when empty), sorted by BU or by name (admins only).
#[server(prefix = "/api", endpoint = "billing_consumption")]
pub async fn get_consumption(month: String, sort: String) -> Result<ConsumptionPage, AppError> {
    let (state, auth, _) = signed_in_admin()?;
    state.billing.consumption(&auth.user, &month, &sort).await.map_err(respond_with_error)
}

/// The usage collectors (admins only).
#[server(prefix = "/api", endpoint = "admin_collectors")]
pub async fn get_collectors() -> Result<Vec<CollectorView>, AppError> {
    let (state, auth, _) = signed_in_admin()?;
    state.billing.collectors(&auth.user).await.map_err(respond_with_error)
}

/// An admin adds a usage collector; the answer carries its token, shown once.
#[server(prefix = "/api", endpoint = "admin_collector_create")]
pub async fn create_collector(name: String) -> Result<String, AppError> {
    let (state, auth, request) = signed_in_admin()?;
    let (_, token) = state.billing.create_collector(&auth.user, &name, &request).await.map_err(respond_with_error)?;
    Ok(token)
}

/// An admin revokes a usage collector's token.
#[server(prefix = "/api", endpoint = "admin_collector_revoke")]
pub async fn revoke_collector(id: i64) -> Result<(), AppError> {
    let (state, auth, request) = signed_in_admin()?;
    state.billing.revoke_collector(&auth.user, id, &request).await.map_err(respond_with_error)
}
