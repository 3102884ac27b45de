//! `/status`, `/status.json` and `/status/feed.atom`, rendered once per change of the status content and served
//! from memory with ETag, Last-Modified and pre-compressed bodies.
//!
//! The cached `/status` is the anonymous view of the page; once pages show who is signed in, signed-in visitors
//! must be rendered per request (or the personal parts loaded after hydration).

use std::io::Write as _;
use std::sync::Arc;

use app::error::AppError;
use app::status::model::StatusReport;
use app::status::ssr::StatusService;
use arc_swap::ArcSwapOption;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http_body_util::BodyExt as _;
use sha2::{Digest, Sha256};
use tower::ServiceExt as _;
use url::Url;

use super::encoding::{Encoding, preferred_encoding};

/// Pages and feeds may be stored by caches but must be revalidated (cheaply, with 304) before each use.
const REVALIDATE: HeaderValue = HeaderValue::from_static("public, no-cache");

/// A failure to build the cached status documents.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The page renderer answered with an error status.
    #[error("rendering /status answered {0}")]
    Status(StatusCode),
    /// Reading the rendered body failed.
    #[error("reading the rendered /status body failed")]
    Body(#[source] axum::Error),
    /// Serialising the JSON document failed.
    #[error("serialising /status.json failed")]
    Json(#[source] serde_json::Error),
}

/// One representation of a document in every encoding, with its validators.
#[derive(Debug)]
pub struct Document {
    content_type: HeaderValue,
    /// The Content-Security-Policy the page was rendered with (its inline scripts carry that policy's nonce).
    csp: Option<HeaderValue>,
    etag: String,
    /// `etag` as the header of each encoding (identity, gzip, brotli), made once rather than per response.
    etag_headers: [HeaderValue; 3],
    identity: Bytes,
    gzip: Bytes,
    brotli: Bytes,
}

/// The status documents of one report (a revision of the content, as computed at one moment).
#[derive(Debug)]
pub struct Snapshot {
    /// The report these documents show.
    report: Arc<StatusReport>,
    last_modified: LastModified,
    /// `/status`.
    pub html: Document,
    /// `/status.json`.
    pub json: Document,
    /// `/status/feed.atom`: known issues.
    pub atom: Document,
    /// `/status/incidents.atom`.
    pub incidents: Document,
    /// `/status/maintenance.atom`.
    pub maintenance: Document,
}

/// Builds status documents on demand and keeps the latest in memory.
pub struct StatusPages {
    status: Arc<StatusService>,
    renderer: Router,
    base_url: Url,
    snapshot: ArcSwapOption<Snapshot>,
    rebuild: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for StatusPages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let revision = self.snapshot.load().as_ref().map(|snapshot| snapshot.report.revision);
        f.debug_struct("StatusPages").field("revision", &revision).finish_non_exhaustive()
    }
}

impl StatusPages {
    /// `renderer` is a router that renders the Leptos app (including `/status`) with the app state in context.
    pub fn new(status: Arc<StatusService>, renderer: Router, base_url: Url) -> Self {
        Self { status, renderer, base_url, snapshot: ArcSwapOption::empty(), rebuild: tokio::sync::Mutex::new(()) }
    }

    /// The documents for the current report, built now if the report changed since they were last built.
    pub async fn current(&self) -> Result<Arc<Snapshot>, AppError> {
        let report = self.status.report().await?;
        if let Some(snapshot) = self.fresh(&report) {
            return Ok(snapshot);
        }
        let _guard = self.rebuild.lock().await;
        if let Some(snapshot) = self.fresh(&report) {
            return Ok(snapshot);
        }
        let snapshot =
            Arc::new(self.build(Arc::clone(&report)).await.map_err(|error| app::error::report_internal(&error))?);
        self.snapshot.store(Some(Arc::clone(&snapshot)));
        tracing::debug!(revision = snapshot.report.revision, "status documents rendered");
        Ok(snapshot)
    }

    fn fresh(&self, report: &Arc<StatusReport>) -> Option<Arc<Snapshot>> {
        self.snapshot.load_full().filter(|snapshot| Arc::ptr_eq(&snapshot.report, report))
    }

    async fn build(&self, report: Arc<StatusReport>) -> Result<Snapshot, RenderError> {
        let (html, csp) = self.render_html().await?;
        let json = serde_json::to_vec_pretty(&*report).map_err(RenderError::Json)?;
        let atom = super::feed::known_issues_feed(&report, &self.base_url);
        let incidents = super::feed::incidents_feed(&report, &self.base_url);
        let maintenance = super::feed::maintenance_feed(&report, &self.base_url);
        let feed = |body: String| Document::new("application/atom+xml; charset=utf-8", Bytes::from(body));
        Ok(Snapshot {
            last_modified: LastModified::new(report.updated_at),
            html: Document { csp, ..Document::new("text/html; charset=utf-8", html) },
            json: Document::new("application/json", Bytes::from(json)),
            atom: feed(atom),
            incidents: feed(incidents),
            maintenance: feed(maintenance),
            report,
        })
    }

    async fn render_html(&self) -> Result<(Bytes, Option<HeaderValue>), RenderError> {
        let request = Request::get("/status").header(header::ACCEPT, "text/html").body(Body::empty());
        let request = request.expect("a static request is valid");
        let response = self.renderer.clone().oneshot(request).await.unwrap_or_else(|never| match never {});
        if response.status() != StatusCode::OK {
            return Err(RenderError::Status(response.status()));
        }
        let csp = response.headers().get(header::CONTENT_SECURITY_POLICY).cloned();
        Ok((response.into_body().collect().await.map_err(RenderError::Body)?.to_bytes(), csp))
    }
}

impl Document {
    fn new(content_type: &'static str, identity: Bytes) -> Self {
        let hash = Sha256::digest(&identity);
        let etag = hash.iter().take(12).map(|byte| format!("{byte:02x}")).collect::<String>();
        let etag_header = |suffix: &str| {
            HeaderValue::try_from(format!("\"{etag}{suffix}\"")).expect("hex digits make a valid header")
        };
        Self {
            content_type: HeaderValue::from_static(content_type),
            csp: None,
            etag_headers: [etag_header(""), etag_header("-gz"), etag_header("-br")],
            etag,
            gzip: gzip(&identity),
            brotli: brotli(&identity),
            identity,
        }
    }

    fn etag_for(&self, encoding: Encoding) -> HeaderValue {
        let index = match encoding {
            Encoding::Identity => 0,
            Encoding::Gzip => 1,
            Encoding::Brotli => 2,
        };
        self.etag_headers[index].clone()
    }

    /// Whether `If-None-Match` names any encoding of this document: the content is the same.
    fn matches(&self, if_none_match: &HeaderValue) -> bool {
        let Ok(tags) = if_none_match.to_str() else { return false };
        tags.split(',').map(str::trim).any(|tag| {
            let tag = tag.strip_prefix("W/").unwrap_or(tag).trim_matches('"');
            tag == "*" || tag.strip_suffix("-gz").or_else(|| tag.strip_suffix("-br")).unwrap_or(tag) == self.etag
        })
    }

    /// The response for a GET with `headers`: 304 when the client's copy is current, else the body in the best
    /// encoding the client accepts.
    pub fn respond(&self, headers: &HeaderMap, last_modified: &LastModified) -> Response {
        let encoding = preferred_encoding(headers);
        let not_modified = match headers.get(header::IF_NONE_MATCH) {
            Some(tags) => self.matches(tags),
            None => headers
                .get(header::IF_MODIFIED_SINCE)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| DateTime::parse_from_rfc2822(value).ok())
                .is_some_and(|since| last_modified.at.timestamp() <= since.timestamp()),
        };
        let mut response = if not_modified {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            let body = match encoding {
                Encoding::Identity => self.identity.clone(),
                Encoding::Gzip => self.gzip.clone(),
                Encoding::Brotli => self.brotli.clone(),
            };
            let mut response = Body::from(body).into_response();
            response.headers_mut().insert(header::CONTENT_TYPE, self.content_type.clone());
            if let Some(csp) = &self.csp {
                response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, csp.clone());
            }
            if let Some(name) = encoding.header_value() {
                response.headers_mut().insert(header::CONTENT_ENCODING, name);
            }
            response
        };
        let headers = response.headers_mut();
        headers.insert(header::ETAG, self.etag_for(encoding));
        headers.insert(header::LAST_MODIFIED, last_modified.header.clone());
        headers.insert(header::CACHE_CONTROL, REVALIDATE);
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        response
    }
}

/// When a snapshot's content last changed, with its `Last-Modified` header made once.
#[derive(Debug)]
pub struct LastModified {
    at: DateTime<Utc>,
    header: HeaderValue,
}

impl LastModified {
    fn new(at: DateTime<Utc>) -> Self {
        let header = at.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        Self { at, header: HeaderValue::try_from(header).expect("a date is a valid header") }
    }
}

fn gzip(bytes: &[u8]) -> Bytes {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).expect("writing to memory cannot fail");
    Bytes::from(encoder.finish().expect("writing to memory cannot fail"))
}

fn brotli(bytes: &[u8]) -> Bytes {
    let mut output = Vec::new();
    {
        let mut encoder = brotli::CompressorWriter::new(&mut output, 4096, 11, 22);
        encoder.write_all(bytes).expect("writing to memory cannot fail");
    }
    Bytes::from(output)
}

/// What answering the anonymous `/status` before routing needs: the page, and what the layers of the routed stack
/// would have added to its response.
#[derive(Debug)]
pub struct FrontPage {
    /// The cached documents.
    pub pages: Arc<StatusPages>,
    /// Request counts and latency.
    pub metrics: Arc<super::metrics::Metrics>,
    /// For the security headers.
    pub site: super::security::SiteOrigin,
}

/// Middleware outside the router (inside the request id and the log span): answers `GET /status` from the cache for
/// visitors without a session cookie, before routing. Axum clones a route's whole stack of layers and handler for
/// every request it routes; the status page is the page that takes load in an incident, and skipping that took it
/// from about 31,000 to 41,000–48,000 requests/s on two cores (`.ci/bench-status`, 2026-12-07). The response
/// carries what the router's layers would add: the security headers, and the request in the metrics under the
/// `/status` route. Signed-in visitors get the page rendered for them (it shows who is signed in), and when the
/// cache cannot be had the router renders the error page.
pub async fn answer_before_routing(
    State(front): State<Arc<FrontPage>>,
    request: Request<Body>,
    next: axum::middleware::Next,
) -> Response {
    let is_status_page = request.uri().path() == "/status" && matches!(*request.method(), Method::GET | Method::HEAD);
    if !is_status_page || has_session_cookie(request.headers()) {
        return next.run(request).await;
    }
    let started = std::time::Instant::now();
    let Ok(snapshot) = front.pages.current().await else {
        return next.run(request).await;
    };
    let mut response = snapshot.html.respond(request.headers(), &snapshot.last_modified);
    super::security::add_headers(&front.site, response.headers_mut());
    front.metrics.observe_request(request.method(), "/status", response.status(), started);
    response
}

fn has_session_cookie(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .filter_map(|cookie| cookie.trim().strip_prefix(crate::sessions::COOKIE_NAME))
        .any(|rest| rest.starts_with('='))
}

/// `GET /status.json`.
pub async fn json(State(pages): State<Arc<StatusPages>>, headers: HeaderMap) -> Response {
    match pages.current().await {
        Ok(snapshot) => snapshot.json.respond(&headers, &snapshot.last_modified),
        Err(error) => error_response(&error, "application/json", serde_json::json!({ "error": error }).to_string()),
    }
}

/// `GET /status/feed.atom`: known issues.
pub async fn atom(State(pages): State<Arc<StatusPages>>, headers: HeaderMap) -> Response {
    feed(&pages, &headers, |snapshot| &snapshot.atom).await
}

/// `GET /status/incidents.atom`.
pub async fn incidents_atom(State(pages): State<Arc<StatusPages>>, headers: HeaderMap) -> Response {
    feed(&pages, &headers, |snapshot| &snapshot.incidents).await
}

/// `GET /status/maintenance.atom`.
pub async fn maintenance_atom(State(pages): State<Arc<StatusPages>>, headers: HeaderMap) -> Response {
    feed(&pages, &headers, |snapshot| &snapshot.maintenance).await
}

async fn feed(pages: &StatusPages, headers: &HeaderMap, document: fn(&Snapshot) -> &Document) -> Response {
    match pages.current().await {
        Ok(snapshot) => document(&snapshot).respond(headers, &snapshot.last_modified),
        Err(error) => error_response(&error, "text/plain; charset=utf-8", error.to_string()),
    }
}

fn error_response(error: &AppError, content_type: &'static str, body: String) -> Response {
    let status = StatusCode::from_u16(error.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document() -> Document {
        Document::new("text/plain", Bytes::from_static(b"hello hello hello hello"))
    }

    fn get(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn compressed_bodies_decompress_to_the_original() {
        use std::io::Read as _;
        let doc = document();
        let mut text = String::new();
        flate2::read::GzDecoder::new(&doc.gzip[..]).read_to_string(&mut text).unwrap();
        assert_eq!(text.as_bytes(), &doc.identity[..]);
        let mut text = Vec::new();
        brotli::Decompressor::new(&doc.brotli[..], 4096).read_to_end(&mut text).unwrap();
        assert_eq!(text, doc.identity);
    }

    #[test]
    fn a_matching_etag_of_any_encoding_gives_304() {
        let doc = document();
        let now = LastModified::new(Utc::now());
        let first = doc.respond(&get(&[("accept-encoding", "gzip")]), &now);
        assert_eq!(first.status(), StatusCode::OK);
        assert_eq!(first.headers()["content-encoding"], "gzip");
        let etag = first.headers()["etag"].to_str().unwrap().to_owned();
        assert!(etag.ends_with("-gz\""), "{etag}");
        for tag in [etag.clone(), format!("W/{etag}"), format!("\"x\", {etag}"), "*".into()] {
            let again = doc.respond(&get(&[("accept-encoding", "br"), ("if-none-match", &tag)]), &now);
            assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{tag}");
        }
        let other = doc.respond(&get(&[("if-none-match", "\"0123\"")]), &now);
        assert_eq!(other.status(), StatusCode::OK);
        assert!(other.headers().get("content-encoding").is_none());
    }

    #[test]
    fn if_modified_since_is_honoured_without_if_none_match() {
        let doc = document();
        let changed =
            LastModified::new(DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z").unwrap().with_timezone(&Utc));
        let same = doc.respond(&get(&[("if-modified-since", "Tue, 24 Nov 2026 10:00:00 GMT")]), &changed);
        assert_eq!(same.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(same.headers()["last-modified"], "Tue, 24 Nov 2026 10:00:00 GMT");
        let older = doc.respond(&get(&[("if-modified-since", "Tue, 24 Nov 2026 09:59:59 GMT")]), &changed);
        assert_eq!(older.status(), StatusCode::OK);
    }
}

/// Query of the one-click unsubscribe URL.
#[derive(Debug, serde::Deserialize)]
pub struct UnsubscribeQuery {
    token: String,
}

/// `POST /status/unsubscribe/one-click?token=…`: RFC 8058 one-click unsubscribe, which mail clients send (with the
/// body `List-Unsubscribe=One-Click`) when the reader chooses "unsubscribe". The token is the credential; it works
/// once or many times alike.
pub async fn one_click_unsubscribe(
    State(store): State<Arc<dyn crate::storage::Store>>,
    axum::extract::Query(query): axum::extract::Query<UnsubscribeQuery>,
) -> Response {
    match app::status::notifications::ssr::NotificationStore::unsubscribe(
        store.as_ref(),
        query.token.trim(),
        Utc::now(),
    )
    .await
    {
        Ok(true) => (StatusCode::OK, "Unsubscribed.\n").into_response(),
        Ok(false) => (StatusCode::NOT_FOUND, "This unsubscribe link is not valid.\n").into_response(),
        Err(error) => {
            let error = AppError::from(error);
            tracing::error!(error = %app::error::cause_chain(&error), "cannot unsubscribe");
            (StatusCode::SERVICE_UNAVAILABLE, error.to_string()).into_response()
        }
    }
}
