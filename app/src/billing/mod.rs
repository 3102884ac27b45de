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
use model::{BilledResource, MilliBu};

#[cfg(feature = "ssr")]
use crate::ssr::{respond_with_error, signed_in, signed_in_admin};

/// A project's cost as its page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectBilling {
    /// BU this calendar month (UTC) so far.
    pub this_month: MilliBu,
    /// BU last month.
    pub last_month: MilliBu,
    /// "December 2026".
    pub this_month_label: String,
    /// What the quota costs per hour when it is not exceeded.
    pub reserved_per_hour: MilliBu,
    /// And per average month.
    pub reserved_per_month: MilliBu,
    /// Quota against usage, per billed resource.
    pub usage: Vec<UsageBar>,
    /// The hour the usage is from ("2026-12-02 14:00 UTC"), if any came.
    pub usage_at: Option<String>,
}

/// One resource's quota against its latest usage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageBar {
    /// Which.
    pub resource: BilledResource,
    /// "4 cores".
    pub quota: String,
    /// "1.5 cores", if known.
    pub used: Option<String>,
    /// Usage as a percentage of the quota (may pass 100), if known.
    pub percent: Option<u16>,
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
