//! A default `Cache-Control` for responses whose handler did not choose one.

use axum::extract::Request;
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

/// Pages rendered per request may later depend on who is signed in, so shared caches must not keep them and
/// browsers must revalidate.
const PAGE_DEFAULT: HeaderValue = HeaderValue::from_static("private, no-cache");
/// Error answers describe a moment, not a resource.
const ERROR_DEFAULT: HeaderValue = HeaderValue::from_static("no-store");

/// Adds [`PAGE_DEFAULT`] (or [`ERROR_DEFAULT`] for server errors) when the response has no `Cache-Control`.
pub async fn default_cache_control(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if !response.headers().contains_key(CACHE_CONTROL) {
        let value = if response.status().is_server_error() || response.status() == StatusCode::TOO_MANY_REQUESTS {
            ERROR_DEFAULT
        } else {
            PAGE_DEFAULT
        };
        response.headers_mut().insert(CACHE_CONTROL, value);
    }
    response
}
