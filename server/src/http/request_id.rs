//! A request id on every request: taken from a sane `x-request-id` header or made up, put in the tracing span of
//! the request (so every log line it causes carries it) and echoed in the response.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::http::header::HeaderName;
use axum::middleware::Next;
use axum::response::Response;

/// The header carrying the id.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the current request.
#[derive(Debug, Clone)]
pub struct RequestId(pub HeaderValue);

fn acceptable(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 64
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
}

/// Middleware: assigns the id before anything else sees the request.
pub async fn assign(mut request: Request, next: Next) -> Response {
    let id = match request.headers().get(&X_REQUEST_ID) {
        Some(given) if acceptable(given) => given.clone(),
        _ => {
            let id = HeaderValue::try_from(uuid::Uuid::new_v4().simple().to_string()).expect("hex is a valid header");
            request.headers_mut().insert(X_REQUEST_ID.clone(), id.clone());
            id
        }
    };
    request.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(request).await;
    response.headers_mut().insert(X_REQUEST_ID.clone(), id);
    response
}

/// The span every request's log lines are recorded in.
pub fn span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    let id = request.extensions().get::<RequestId>().and_then(|id| id.0.to_str().ok()).unwrap_or("-");
    // Written as is: a parsed URI path holds no control characters (the HTTP parser refuses them; percent-escapes
    // stay escaped), so it cannot break a log line.
    tracing::info_span!("request", id = %id, method = %request.method(), path = %request.uri().path())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_plain_ids_are_taken_from_the_client() {
        assert!(acceptable(&HeaderValue::from_static("abc-123_DEF")));
        assert!(!acceptable(&HeaderValue::from_static("")));
        assert!(!acceptable(&HeaderValue::from_static("has space")));
        assert!(!acceptable(&HeaderValue::from_str(&"a".repeat(65)).unwrap()));
    }
}
