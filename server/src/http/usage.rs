//! `POST /api/v1/usage`: usage samples pushed by collectors, each with a bearer token an admin created.
//!
//! The body is `{"samples": [{"project": "name", "resource": "cpu" | "memory" | "storage", "value": 1.5,
//! "time": "2026-12-02T10:00:00Z"}, …]}`, values in cores or GiB. The answer is 200 with
//! `{"accepted": n, "duplicates": n, "rejected": [{"index": i, "error": "…"}]}`: bad samples are reported and the rest
//! of the batch is kept. 401 without a valid token, 413 for a batch too large, 400 for a body that is not such JSON.

use std::sync::Arc;

use app::billing::ssr::{BillingService, IngestError, UsageBatch};
use app::error::AppError;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The largest body accepted (about 5,000 samples).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// Stores a batch of samples.
pub async fn push(
    State(billing): State<Arc<BillingService>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return error(rejection.status(), &rejection.body_text()),
    };
    let batch: UsageBatch = match serde_json::from_slice(&body) {
        Ok(batch) => batch,
        Err(reason) => return error(StatusCode::BAD_REQUEST, &format!("the body is not a batch of samples: {reason}")),
    };
    match billing.ingest(token, batch, chrono::Utc::now()).await {
        Ok(report) => (StatusCode::OK, Json(report)).into_response(),
        Err(IngestError::Unauthorised) => {
            let mut response = error(StatusCode::UNAUTHORIZED, "a valid collector token is needed");
            response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
            response
        }
        Err(too_large @ IngestError::TooLarge(_)) => error(StatusCode::PAYLOAD_TOO_LARGE, &too_large.to_string()),
        // The conversion logs the cause chain under the reference the collector is given.
        Err(IngestError::Store(store)) => match AppError::from(store) {
            AppError::Unavailable { reference } => error(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("the database is unavailable; try again (reference {reference})"),
            ),
            failure => error(StatusCode::INTERNAL_SERVER_ERROR, &format!("the samples could not be stored: {failure}")),
        },
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}
