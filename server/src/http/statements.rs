//! `GET /billing/statement.csv?project=NAME&month=YYYY-MM` (or `account=ID`): a monthly statement as CSV, for the
//! people who may see its page. One line per project and resource: hours, average request, average usage, BU.

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
    let Some(current) = parts.extensions.get::<Authenticated>() else {
        return (StatusCode::UNAUTHORIZED, "Please sign in first.\n").into_response();
    };
    let query = StatementQuery { project: params.project, account: params.account, month: params.month };
    let data = match billing.statement_data(&current.user, &query).await {
        Ok(data) => data,
        Err(error) => return plain_error(&error),
    };
    match to_csv(&data) {
        Ok(body) => {
            let name = format!("berth-{}-{}.csv", data.scope.replace('=', "-"), data.month.format("%Y-%m"));
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
        Err(error) => plain_error(&app::error::report_internal(&error)),
    }
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
