//! Liveness and readiness.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::storage::Store;

/// How long readiness waits for the database.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// Probe answers are never cached: each one is a fresh observation.
const NO_STORE: [(axum::http::HeaderName, HeaderValue); 1] = [(CACHE_CONTROL, HeaderValue::from_static("no-store"))];

/// `GET /healthz`: the process is alive.
pub async fn live() -> Response {
    (NO_STORE, "ok\n").into_response()
}

/// `GET /readyz`: 200 when the database answers, 503 otherwise.
pub async fn ready(State(store): State<Arc<dyn Store>>) -> Response {
    let (status, body) = match tokio::time::timeout(READY_TIMEOUT, store.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready\n"),
        Ok(Err(error)) => {
            tracing::warn!(error = %app::error::cause_chain(&error), "not ready: database unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n")
        }
        Err(_) => {
            tracing::warn!("not ready: database did not answer in time");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n")
        }
    };
    (status, NO_STORE, body).into_response()
}
