//! Request safety: cross-site request forgery is refused by an Origin check on every state-changing request, and
//! every response carries the security headers.
//!
//! CSRF: a browser sends `Origin` (or at least `Referer`) with every POST, form or fetch; a request that changes
//! state is accepted only when that origin is Berth's own (its base URL, or the host the request was sent to).
//! Together with `SameSite=Lax` session cookies this needs no token in forms, so forms work without JavaScript and
//! server functions work unchanged.

use axum::extract::{Request, State};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use url::Url;

/// Berth's own origin, as browsers write it in `Origin`.
#[derive(Debug, Clone)]
pub struct SiteOrigin {
    origin: String,
    scheme: String,
    https: bool,
}

impl SiteOrigin {
    /// The origin of `base_url`.
    pub fn new(base_url: &Url) -> Self {
        Self {
            origin: base_url.origin().ascii_serialization(),
            scheme: base_url.scheme().to_owned(),
            https: base_url.scheme() == "https",
        }
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE)
}

/// Whether `origin` (`scheme://host[:port]`) is the site's, compared whole: its configured origin, or the base
/// URL's scheme with the `Host` the request was addressed to (which a cross-site page cannot choose). An `http`
/// page cannot post to an `https` site, nor the other way round.
fn same_site(origin: &str, site: &SiteOrigin, host: Option<&str>) -> bool {
    if origin == site.origin {
        return true;
    }
    let Some((scheme, authority)) = origin.split_once("://") else { return false };
    scheme == site.scheme && host.is_some_and(|host| host.eq_ignore_ascii_case(authority))
}

/// Middleware: refuses a state-changing request whose `Origin` (or, lacking that, `Referer`) is not Berth's with
/// 403.
pub async fn refuse_cross_site(State(site): State<SiteOrigin>, request: Request, next: Next) -> Response {
    if is_safe(request.method()) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let host = headers.get(header::HOST).and_then(|value| value.to_str().ok());
    // `Origin: null` comes from sandboxed frames, data: pages and some redirects: cross-site, whatever the Referer.
    let origin = match headers.get(header::ORIGIN) {
        Some(origin) => origin.to_str().ok().filter(|origin| *origin != "null").map(str::to_owned),
        None => headers
            .get(header::REFERER)
            .and_then(|value| value.to_str().ok())
            .and_then(|referer| Url::parse(referer).ok())
            .map(|referer| referer.origin().ascii_serialization()),
    };
    match origin {
        Some(origin) if same_site(&origin, &site, host) => next.run(request).await,
        origin => {
            // Debug-quoted: nothing a client sends can start a line of its own in the log.
            tracing::warn!(
                method = ?request.method().as_str(),
                path = ?request.uri().path(),
                origin = ?origin.as_deref().unwrap_or("(none)"),
                "refused a state-changing request from another site"
            );
            forbidden_page()
        }
    }
}

fn forbidden_page() -> Response {
    let body = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Request refused · Berth</title>\
        </head><body><h1>Request refused</h1><p>This request did not come from a Berth page, so it was not carried \
        out. If you followed a link or a form from Berth itself, go back, reload the page and try again.</p>\
        <p><a href=\"/\">Go to the home page</a></p></body></html>";
    let mut response = (StatusCode::FORBIDDEN, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The policy for responses that did not set their own: no scripts at all, except from Berth itself.
pub const DEFAULT_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// The policy for a page rendered by Leptos with per-response `nonce`: its inline hydration scripts carry it.
/// `'wasm-unsafe-eval'` lets the browser compile the app's WebAssembly; it does not allow `eval` of JavaScript.
/// `form_targets` are further origins a form may end up at: browsers apply `form-action` to the redirects after a
/// form post too, and the buttons that start a provider sign-in post to Berth, which redirects to the provider.
pub fn page_csp(nonce: &str, form_targets: &str) -> String {
    let separator = if form_targets.is_empty() { "" } else { " " };
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self' \
         'nonce-{nonce}'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'{separator}{form_targets}; frame-ancestors 'none'"
    )
}

/// Middleware: adds the security headers to every response (a page's own Content-Security-Policy is kept).
pub async fn headers(State(site): State<SiteOrigin>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    add_headers(&site, response.headers_mut());
    response
}

/// Adds the security headers to a response's `headers`, keeping a Content-Security-Policy it has.
pub fn add_headers(site: &SiteOrigin, headers: &mut HeaderMap) {
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(DEFAULT_CSP));
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("strict-origin-when-cross-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin"));
    if site.https {
        headers
            .insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=63072000; includeSubDomains"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_sites_own_origin_is_same_site() {
        let site = SiteOrigin::new(&Url::parse("https://berth.example.org/").unwrap());
        assert!(same_site("https://berth.example.org", &site, None));
        assert!(same_site("https://127.0.0.1:3000", &site, Some("127.0.0.1:3000")), "the request's own host");
        assert!(!same_site("http://127.0.0.1:3000", &site, Some("127.0.0.1:3000")), "with the base URL's scheme only");
        assert!(!same_site("http://berth.example.org", &site, Some("berth.example.org")), "the scheme counts");
        assert!(!same_site("https://evil.example", &site, Some("berth.example.org")));
        assert!(!same_site("https://berth.example.org.evil.example", &site, Some("berth.example.org")));
        assert!(!same_site("garbage", &site, Some("garbage")));
    }

    async fn headers_for(base_url: &str) -> axum::http::HeaderMap {
        use tower::ServiceExt as _;
        let site = SiteOrigin::new(&Url::parse(base_url).unwrap());
        let app = axum::Router::new()
            .route("/", axum::routing::get(|| async { "hello" }))
            .layer(axum::middleware::from_fn_with_state(site, headers));
        let request = axum::http::Request::get("/").body(axum::body::Body::empty()).unwrap();
        app.oneshot(request).await.unwrap().headers().clone()
    }

    #[tokio::test]
    async fn hsts_is_sent_only_when_the_site_is_https() {
        let https = headers_for("https://berth.example.org").await;
        assert_eq!(https["strict-transport-security"], "max-age=63072000; includeSubDomains");
        assert_eq!(https["content-security-policy"], DEFAULT_CSP);
        assert_eq!(https["x-frame-options"], "DENY");
        assert!(headers_for("http://127.0.0.1:3000").await.get("strict-transport-security").is_none());
    }

    #[test]
    fn the_page_policy_carries_the_nonce_and_forbids_framing() {
        let csp = page_csp("abc", "");
        assert!(csp.contains("'nonce-abc'") && csp.contains("frame-ancestors 'none'"));
        assert!(csp.contains("form-action 'self';"));
        assert!(page_csp("abc", "https://idp.example").contains("form-action 'self' https://idp.example;"));
        assert!(!csp.contains("unsafe-inline"));
        assert!(DEFAULT_CSP.contains("frame-ancestors 'none'"));
    }
}
