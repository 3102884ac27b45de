//! Row shapes shared by both backends and their conversion into domain types.

use app::error::StoreError;
use app::status::model::{
    Health, IssueStatus, KnownIssue, MaturityIndicator, RatedValue, STATUS_SCHEMA_VERSION, ServiceSummary,
    StatusReport, WorkArea,
};
use chrono::{DateTime, Utc};

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct MetaRow {
    pub revision: i64,
    pub stage: String,
    pub service_level: String,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct MaturityRow {
    pub indicator: String,
    pub current_value: String,
    pub current_health: String,
    pub best_value: String,
    pub best_health: String,
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct WorkAreaRow {
    pub area: String,
    pub description: String,
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct KnownIssueRow {
    pub id: i64,
    pub title: String,
    pub description: String,
    pub status: String,
    pub workaround: Option<String>,
    pub opened_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn corrupt(error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(error.to_string())
}

/// Puts the rows of one consistent read together into a report.
pub(crate) fn status_report(
    meta: Option<MetaRow>,
    maturity: Vec<MaturityRow>,
    areas: Vec<WorkAreaRow>,
    issues: Vec<KnownIssueRow>,
) -> Result<StatusReport, StoreError> {
    let meta = meta.ok_or_else(|| StoreError::Corrupt("the status summary row is missing".into()))?;
    let maturity = maturity
        .into_iter()
        .map(|row| {
            Ok(MaturityIndicator {
                indicator: row.indicator,
                current: RatedValue {
                    value: row.current_value,
                    state: Health::parse(&row.current_health).map_err(corrupt)?,
                },
                best_feasible: RatedValue {
                    value: row.best_value,
                    state: Health::parse(&row.best_health).map_err(corrupt)?,
                },
            })
        })
        .collect::<Result<_, StoreError>>()?;
    let known_issues = issues
        .into_iter()
        .map(|row| {
            Ok(KnownIssue {
                id: row.id,
                title: row.title,
                description: row.description,
                status: IssueStatus::parse(&row.status).map_err(corrupt)?,
                workaround: row.workaround,
                opened_at: row.opened_at,
                updated_at: row.updated_at,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(StatusReport {
        schema_version: STATUS_SCHEMA_VERSION,
        revision: meta.revision,
        updated_at: meta.updated_at,
        service: ServiceSummary { stage: meta.stage, service_level: meta.service_level },
        maturity,
        work_remaining: areas
            .into_iter()
            .map(|row| WorkArea { area: row.area, description: row.description })
            .collect(),
        known_issues,
    })
}
