//! CSV downloads: `GET /billing/statement.csv?project=NAME&month=YYYY-MM` (or `account=ID`), a monthly statement for
//! the people who may see its page (one line per project and resource: hours, average request, average usage, BU);
//! and `GET /billing/consumption.csv?month=YYYY-MM`, every project's BU in a month, for admins.

use std::sync::Arc;

use app::billing::ssr::{BillingService, StatementData, StatementQuery, format_milli};
use app::error::AppError;
use app::ssr::Authenticated;
use axum::extract::{Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// The query of a statement download.
#[derive(Debug, Deserialize)]
pub struct StatementParams {
    project: Option<String>,
    account: Option<i64>,
    #[serde(default)]
    month: String,
}

/// The statement as a CSV download.
pub async fn csv(
    State(billing): State<Arc<BillingService>>,
    Query(params): Query<StatementParams>,
    parts: Parts,
) -> Response {
    let Some(user) = signed_in(&parts) else { return unauthenticated() };
    let query = StatementQuery { project: params.project, account: params.account, month: params.month };
    match billing.statement_data(user, &query).await {
        Ok(data) => {
            let name = format!("berth-{}-{}.csv", data.scope.replace('=', "-"), data.month.format("%Y-%m"));
            csv_response(&name, to_csv(&data))
        }
        Err(error) => plain_error(&error),
    }
}

/// The query of the consumption download.
#[derive(Debug, Deserialize)]
pub struct ConsumptionParams {
    #[serde(default)]
    month: String,
    #[serde(default)]
    sort: String,
}

/// Every project's consumption in a month as a CSV download (admins only).
pub async fn consumption_csv(
    State(billing): State<Arc<BillingService>>,
    Query(params): Query<ConsumptionParams>,
    parts: Parts,
) -> Response {
    let Some(user) = signed_in(&parts) else { return unauthenticated() };
    match billing.consumption_rows(user, &params.month, &params.sort).await {
        Ok((month, rows)) => {
            let month = month.format("%Y-%m").to_string();
            let written = (|| {
                let mut writer = csv::Writer::from_writer(Vec::new());
                writer.write_record(["month", "project", "account", "bu"])?;
                for (project, account, amount) in &rows {
                    writer.write_record([month.as_str(), project, account, &format_milli(amount.0)])?;
                }
                writer.into_inner().map_err(|error| csv::Error::from(error.into_error()))
            })();
            csv_response(&format!("berth-consumption-{month}.csv"), written)
        }
        Err(error) => plain_error(&error),
    }
}

/// The signed-in user, if any.
fn signed_in(parts: &Parts) -> Option<&app::auth::ssr::User> {
    parts.extensions.get::<Authenticated>().map(|current| &current.user)
}

fn unauthenticated() -> Response {
    (StatusCode::UNAUTHORIZED, "Please sign in first.\n").into_response()
}

/// A CSV file to download as `name`, or the opaque error of a failure to write it.
fn csv_response(name: &str, body: Result<Vec<u8>, csv::Error>) -> Response {
    match body {
        Ok(body) => download(name, body),
        Err(error) => plain_error(&app::error::report_internal(&error)),
    }
}

fn download(name: &str, body: Vec<u8>) -> Response {
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .unwrap_or(HeaderValue::from_static("attachment"));
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response()
}

/// The statement's lines as CSV, with a header row and a total row.
pub fn to_csv(data: &StatementData) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(["month", "project", "resource", "unit", "hours", "average_request", "average_usage", "bu"])?;
    let month = data.month.format("%Y-%m").to_string();
    for row in &data.rows {
        writer.write_record([
            month.as_str(),
            row.project.as_str(),
            row.resource.as_str(),
            row.resource.unit(),
            &row.hours.to_string(),
            &format_milli(row.average_request()),
            &row.average_usage().map(format_milli).unwrap_or_default(),
            &format_milli(row.amount.0),
        ])?;
    }
    writer.write_record([month.as_str(), "", "total", "", "", "", "", &format_milli(data.total().0)])?;
    writer.into_inner().map_err(|error| csv::Error::from(error.into_error()))
}

fn plain_error(error: &AppError) -> Response {
    let status = StatusCode::from_u16(error.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, format!("{error}\n")).into_response()
}
