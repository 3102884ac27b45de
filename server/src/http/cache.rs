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

/// Paths whose answers carry personal data or secrets: the account, admin pages, server functions, sign-up, the
/// page behind a sign-in link and the sign-in routes. They get `no-store`.
const PERSONAL_PREFIXES: &[&str] = &["/account", "/admin", "/api", "/signup", "/signin/link", "/auth"];

/// Whether `path` is one of [`PERSONAL_PREFIXES`] (whole segments).
pub fn is_personal(path: &str) -> bool {
    PERSONAL_PREFIXES.iter().any(|prefix| {
        path.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/') || rest.starts_with('-'))
    })
}

/// Adds [`PAGE_DEFAULT`] (or [`ERROR_DEFAULT`] for server errors) when the response has no `Cache-Control`.
pub async fn default_cache_control(request: Request, next: Next) -> Response {
    let personal = is_personal(request.uri().path());
    let mut response = next.run(request).await;
    if personal {
        // Whatever the handler chose: these must not stay in any cache, the browser's included.
        response.headers_mut().insert(CACHE_CONTROL, ERROR_DEFAULT);
    } else if !response.headers().contains_key(CACHE_CONTROL) {
        let value = if response.status().is_server_error() || response.status() == StatusCode::TOO_MANY_REQUESTS {
            ERROR_DEFAULT
        } else {
            PAGE_DEFAULT
        };
        response.headers_mut().insert(CACHE_CONTROL, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::is_personal;

    #[test]
    fn personal_pages_are_matched_by_whole_segments() {
        for path in ["/account", "/account/link", "/admin/users", "/api/viewer", "/signin/link", "/signin/link-account"]
        {
            assert!(is_personal(path), "{path}");
        }
        for path in ["/", "/status", "/signin", "/accounts-help", "/status.json", "/pkg/berth.js"] {
            assert!(!is_personal(path), "{path}");
        }
    }
}
