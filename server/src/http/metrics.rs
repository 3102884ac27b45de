//! Prometheus metrics: request counts and latency by route and status, the database pool, and pending jobs.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::{CONTENT_TYPE, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::storage::Store;

/// Label of requests that matched no route (static files and 404s), so that unknown paths cannot blow up the
/// number of series.
const UNMATCHED: &str = "(unmatched)";

/// The label of a request method: the standard ones by name, anything else `OTHER`, so that clients cannot grow the
/// metrics without bound by inventing methods.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "OTHER",
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

fn latency_histogram() -> Histogram {
    // 0.1 ms to ~6.5 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 17))
}

/// The metrics of one running server.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RequestLabels, Histogram, fn() -> Histogram>,
    pool_open: Gauge,
    pool_idle: Gauge,
    pool_max: Gauge,
    jobs_pending: Gauge,
    jobs_by_kind: Family<JobLabels, Gauge>,
    approval_to_active: Histogram,
    store: Arc<dyn Store>,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    kind: String,
    state: String,
}

impl Metrics {
    /// Metrics that report on `store`'s pool.
    pub fn new(store: Arc<dyn Store>) -> Self {
        let mut registry = Registry::with_prefix("berth");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RequestLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        let (pool_open, pool_idle, pool_max) = (Gauge::default(), Gauge::default(), Gauge::default());
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register("http_request_duration_seconds", "Time to answer HTTP requests", latency.clone());
        registry.register("db_pool_connections_open", "Database connections open", pool_open.clone());
        registry.register("db_pool_connections_idle", "Database connections open and idle", pool_idle.clone());
        registry.register("db_pool_connections_max", "Most database connections the pool may open", pool_max.clone());
        let jobs_pending = Gauge::default();
        registry.register("jobs_pending", "Background jobs (such as mail) not yet done", jobs_pending.clone());
        let jobs_by_kind = Family::<JobLabels, Gauge>::default();
        registry.register(
            "jobs",
            "Background jobs waiting (pending) or failed for good (failed), by kind",
            jobs_by_kind.clone(),
        );
        // 50 ms to ~14 min.
        let approval_to_active = Histogram::new(exponential_buckets(0.05, 2.0, 15));
        registry.register(
            "project_approval_to_active_seconds",
            "Time from a project's approval until its objects were on the cluster",
            approval_to_active.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            pool_open,
            pool_idle,
            pool_max,
            jobs_pending,
            jobs_by_kind,
            approval_to_active,
            store,
        }
    }

    /// Records how long a project took from approval to active.
    pub fn observe_approval_to_active(&self, seconds: f64) {
        self.approval_to_active.observe(seconds);
    }

    /// Counts a request to `route` (its pattern, as axum matched it) and how long it took since `started`.
    pub fn observe_request(&self, method: &Method, route: &str, status: StatusCode, started: Instant) {
        let labels =
            RequestLabels { method: method_label(method).to_owned(), route: route.to_owned(), status: status.as_u16() };
        self.latency.get_or_create(&labels).observe(started.elapsed().as_secs_f64());
        self.requests.get_or_create(&labels).inc();
    }

    /// The Prometheus text exposition. The job count is the last one read when the database cannot be asked.
    pub async fn render(&self) -> String {
        if let Ok(pending) = self.store.pending_jobs().await {
            self.jobs_pending.set(pending);
        }
        if let Ok(counts) = self.store.job_counts().await {
            // Kinds and states that dropped to zero are reported as zero, not left at their last value.
            self.jobs_by_kind.clear();
            for (kind, state) in [
                ("send_mail", "pending"),
                ("send_mail", "failed"),
                ("provision_project", "pending"),
                ("provision_project", "failed"),
            ] {
                self.jobs_by_kind.get_or_create(&JobLabels { kind: kind.to_owned(), state: state.to_owned() }).set(0);
            }
            for (kind, state, count) in counts {
                self.jobs_by_kind.get_or_create(&JobLabels { kind, state }).set(count);
            }
        }
        let pool = self.store.pool_stats();
        self.pool_open.set(i64::from(pool.size));
        self.pool_idle.set(i64::from(pool.idle));
        self.pool_max.set(i64::from(pool.max));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }
}

/// Middleware that counts and times every request.
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().map_or(UNMATCHED, MatchedPath::as_str).to_owned();
    let response = next.run(request).await;
    metrics.observe_request(&method, &route, response.status(), started);
    response
}

/// `GET /metrics`.
pub async fn serve(State(metrics): State<Arc<Metrics>>) -> Response {
    let mut response = metrics.render().await.into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"));
    response.headers_mut().insert(axum::http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
