//! Building the application from a configuration and a bound listener, and running it until a shutdown signal.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use app::applications::ssr::ApplicationService;
use app::auth::model::ProviderLink;
use app::auth::ssr::{AuthService, AuthSettings};
use app::error::StoreError;
use app::ssr::AppState;
use app::status::ssr::StatusService;
use app::{App, shell};
use axum::Router;
use axum::extract::FromRef;
use axum::middleware;
use axum::routing::{get, post};
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{AxumRouteListing, LeptosRoutes as _, file_and_error_handler_with_context, generate_route_list};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;

use crate::config::Config;
use crate::config::ProvisionerConfig;
use crate::http::security::SiteOrigin;
use crate::http::status::StatusPages;
use crate::http::{assets, auth, cache, client_ip, health, metrics, request_id, security, statements, status, usage};
use crate::jobs::{JobRunner, Provisioning};
use crate::mail::{MailSetupError, Mailer, TemplateRenderer};
use crate::oidc::OidcProviders;
use crate::provision::kubernetes::{KubeSetupError, KubernetesProvisioner};
use crate::provision::{SharedProvisioner, gitops::GitOpsProvisioner, webhook::WebhookProvisioner};
use crate::storage::{self, OpenError, Store};
use crate::{seed, sessions};

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// First-start content could not be written.
    #[error("cannot seed the status content")]
    Seed(#[source] StoreError),
    /// The Leptos site settings (`LEPTOS_*` variables) are invalid.
    #[error("invalid Leptos site settings")]
    Leptos(#[source] leptos::config::errors::LeptosConfigError),
    /// The mail transport cannot be set up.
    #[error(transparent)]
    Mail(#[from] MailSetupError),
    /// The Kubernetes backend cannot be set up.
    #[error(transparent)]
    Kubernetes(#[from] KubeSetupError),
    /// The listener has no local address.
    #[error("cannot read the listening address")]
    Listener(#[source] std::io::Error),
    /// The HTTP client for webhooks cannot be built.
    #[error("cannot build the HTTP client for webhooks")]
    HttpClient(#[source] reqwest::Error),
}

/// State of the axum routes. Axum clones a route's whole stack, state included, for every request: behind one `Arc`
/// that is one reference count, not one per service (measured with `.ci/bench-status`).
#[derive(Clone, Debug)]
struct ServerState(Arc<Services>);

/// What the routes share.
#[derive(Debug)]
struct Services {
    leptos: LeptosOptions,
    pages: Arc<StatusPages>,
    store: Arc<dyn Store>,
    metrics: Arc<metrics::Metrics>,
    auth: Arc<AuthService>,
    oidc: Arc<OidcProviders>,
    billing: Arc<app::billing::ssr::BillingService>,
}

impl FromRef<ServerState> for Arc<app::billing::ssr::BillingService> {
    fn from_ref(state: &ServerState) -> Self {
        Arc::clone(&state.0.billing)
    }
}

impl FromRef<ServerState> for Arc<OidcProviders> {
    fn from_ref(state: &ServerState) -> Self {
        Arc::clone(&state.0.oidc)
    }
}

impl FromRef<ServerState> for Arc<AuthService> {
    fn from_ref(state: &ServerState) -> Self {
        Arc::clone(&state.0.auth)
    }
}

impl FromRef<ServerState> for LeptosOptions {
    fn from_ref(state: &ServerState) -> Self {
        state.0.leptos.clone()
    }
}

impl FromRef<ServerState> for Arc<StatusPages> {
    fn from_ref(state: &ServerState) -> Self {
        Arc::clone(&state.0.pages)
    }
}

impl FromRef<ServerState> for Arc<dyn Store> {
    fn from_ref(state: &ServerState) -> Self {
        Arc::clone(&state.0.store)
    }
}

impl FromRef<ServerState> for Arc<metrics::Metrics> {
    fn from_ref(state: &ServerState) -> Self {
        Arc::clone(&state.0.metrics)
    }
}

/// A built application, ready to serve on its listener.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    local_addr: SocketAddr,
    router: Router,
    store: Arc<dyn Store>,
    tasks: Vec<JoinHandle<()>>,
}

impl Application {
    /// Opens and migrates the database, seeds first-start content, and builds the routes. Tests pass a listener
    /// bound to port 0.
    pub async fn build(config: Config, listener: TcpListener) -> Result<Self, StartupError> {
        let local_addr = listener.local_addr().map_err(StartupError::Listener)?;
        let store = storage::open(&config.database_url).await?;
        tracing::info!(backend = store.backend().as_str(), database = %config.database_url, "database ready");
        seed::seed_status(store.as_ref()).await.map_err(StartupError::Seed)?;
        let mailer = Arc::new(Mailer::new(&config.mail, &config.base_url)?);
        if let crate::config::MailUrl::Directory(dir) = &config.mail.url {
            tracing::info!(directory = %dir.display(), "mail is written to a directory, not sent");
        }

        let status = Arc::new(StatusService::new(store.clone(), config.service_level.clone()));
        let auth = Arc::new(AuthService::new(
            store.clone(),
            Arc::new(TemplateRenderer::new(&config.base_url)),
            AuthSettings {
                base_url: config.base_url.as_str().trim_end_matches('/').to_owned(),
                admin_emails: config.admin_emails.clone(),
                link_lifetime: LINK_LIFETIME,
                session_lifetime: config.sessions.lifetime,
                session_idle: config.sessions.idle,
            },
        ));
        let providers = config
            .oidc_providers
            .iter()
            .map(|provider| ProviderLink { id: provider.id.clone(), display_name: provider.display_name.clone() })
            .collect();
        let applications = Arc::new(ApplicationService::new(
            store.clone(),
            Arc::new(TemplateRenderer::new(&config.base_url)),
            config.applications.clone(),
        ));
        let projects = Arc::new(app::projects::ssr::ProjectService::new(
            store.clone(),
            store.clone(),
            Arc::new(TemplateRenderer::new(&config.base_url)),
            config.projects.clone(),
        ));
        let mut billing = app::billing::ssr::BillingService::new(
            store.clone(),
            Arc::clone(&projects),
            Arc::new(TemplateRenderer::new(&config.base_url)),
            config.billing.clone(),
        );
        if let Some(prometheus) = &config.prometheus {
            tracing::info!(url = %prometheus.url, "hourly usage is read from Prometheus");
            billing = billing.with_source(Arc::new(crate::prometheus::PrometheusSource::new(prometheus.clone())));
        }
        let billing = Arc::new(billing);
        let feedback = Arc::new(app::feedback::ssr::FeedbackService::new(
            store.clone(),
            Arc::clone(&status),
            Arc::new(TemplateRenderer::new(&config.base_url)),
        ));
        let notifications = Arc::new(app::status::notifications::ssr::NotificationService::new(
            store.clone(),
            Arc::clone(&status),
            Arc::new(TemplateRenderer::new(&config.base_url)),
        ));
        let app_state = AppState {
            notifications,
            status: Arc::clone(&status),
            feedback,
            auth: Arc::clone(&auth),
            applications: Arc::clone(&applications),
            projects: Arc::clone(&projects),
            billing: Arc::clone(&billing),
            jobs: Arc::new(app::jobs::ssr::JobAdminService::new(store.clone())),
            providers,
        };
        let leptos = site_options()?;

        let renderer =
            leptos_router(&leptos, &app_state, &provider_origins(&config.oidc_providers), generate_route_list(App));
        let pages = Arc::new(StatusPages::new(Arc::clone(&status), renderer, config.base_url.clone()));
        let metrics = Arc::new(metrics::Metrics::new(store.clone()));
        let metrics_for_jobs = Arc::clone(&metrics);
        let site = SiteOrigin::new(&config.base_url);
        let front = Arc::new(status::FrontPage {
            pages: Arc::clone(&pages),
            metrics: Arc::clone(&metrics),
            site: site.clone(),
        });
        let state = ServerState(Arc::new(Services {
            leptos: leptos.clone(),
            pages: Arc::clone(&pages),
            store: store.clone(),
            metrics: metrics.clone(),
            auth: Arc::clone(&auth),
            oidc: Arc::new(OidcProviders::new(&config.oidc_providers, &config.base_url)),
            billing: Arc::clone(&billing),
        }));

        let form_targets = provider_origins(&config.oidc_providers);
        let context = leptos_context(&app_state, &form_targets);
        let pkg_dir = std::path::Path::new(leptos.site_root.as_ref()).join(leptos.site_pkg_dir.as_ref());
        // Pages and the routes that sign people in and out know who is signed in; the session record is loaded
        // only for them, not for assets, feeds or probes.
        let people = Router::new()
            .route("/auth/email", post(auth::request_link))
            .route("/auth/email/verify", post(auth::use_link))
            .route("/auth/signout", post(auth::sign_out))
            .route("/auth/signout-everywhere", post(auth::sign_out_everywhere))
            .route("/auth/oidc/{id}/start", post(auth::oidc_start))
            .route("/auth/oidc/{id}/callback", get(auth::oidc_callback))
            .route("/billing/statement.csv", get(statements::csv))
            .route("/billing/consumption.csv", get(statements::consumption_csv))
            .leptos_routes_with_context(&state, generate_route_list(App), context.clone(), {
                // Behind an `Arc`: axum clones this closure with its route for every request.
                let leptos = Arc::new(leptos.clone());
                move || shell((*leptos).clone())
            })
            .fallback(file_and_error_handler_with_context::<ServerState, _>(context, shell))
            .with_state(state.clone())
            .layer(middleware::from_fn_with_state(Arc::clone(&auth), auth::resolve_user))
            .layer(sessions::layer(store.session_store(), config.is_https(), config.sessions.idle));
        // Collectors authenticate with a bearer token, not a cookie, and mail clients' one-click unsubscribe
        // (RFC 8058) with the token in its URL: no cross-site check applies to them.
        let collectors = Router::new()
            .route("/status/unsubscribe/one-click", post(status::one_click_unsubscribe))
            .route("/api/v1/usage", post(usage::push))
            .layer(axum::extract::DefaultBodyLimit::max(usage::BODY_LIMIT))
            .with_state(state.clone());
        let router = Router::new()
            .route("/status.json", get(status::json))
            .route("/status/feed.atom", get(status::atom))
            .route("/status/incidents.atom", get(status::incidents_atom))
            .route("/status/maintenance.atom", get(status::maintenance_atom))
            .route("/healthz", get(health::live))
            .route("/readyz", get(health::ready))
            .route("/metrics", get(metrics::serve))
            .with_state(state)
            .merge(people)
            .merge(assets::pkg_router(&format!("/{}", leptos.site_pkg_dir), pkg_dir.clone(), leptos.hash_files))
            .layer(middleware::from_fn_with_state(site.clone(), security::refuse_cross_site))
            .merge(collectors)
            .layer(middleware::from_fn_with_state(site, security::headers))
            .layer(middleware::from_fn(cache::default_cache_control))
            .layer(middleware::from_fn_with_state(
                client_ip::TrustedProxies::new(config.trusted_proxies.clone()),
                client_ip::resolve,
            ))
            .layer(CompressionLayer::new())
            .layer(middleware::from_fn_with_state(metrics, metrics::track));
        // Outside the router, so they cost no clone of a route's stack: the request id and the request's log span
        // (for every request), and the anonymous status page answered from memory.
        let router = Router::new()
            .fallback_service(router)
            .layer(middleware::from_fn_with_state(front, status::answer_before_routing))
            .layer(TraceLayer::new_for_http().make_span_with(request_id::span::<axum::body::Body>))
            .layer(middleware::from_fn(request_id::assign));

        let runner = JobRunner::new(
            store.clone(),
            mailer,
            Provisioning {
                backend: provisioner(&config.provisioner).await?,
                cluster: config.cluster.clone(),
                mail: Arc::new(TemplateRenderer::new(&config.base_url)),
                metrics: metrics_for_jobs,
            },
            Arc::clone(&projects),
            Arc::clone(&billing),
            crate::jobs::Notifier {
                mail: Arc::new(TemplateRenderer::new(&config.base_url)),
                base_url: config.base_url.as_str().trim_end_matches('/').to_owned(),
                client: reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .map_err(StartupError::HttpClient)?,
            },
            config.jobs,
        );
        tracing::info!(backend = runner.backend(), "provisioning backend ready");
        let mut tasks = vec![
            tokio::spawn(sessions::delete_expired_forever(store.session_store())),
            tokio::spawn(keep_status_fresh(status, config.status_refresh, store.status_changes())),
            tokio::spawn(precompress_assets(pkg_dir)),
            // The admins' daily digest, and the daily sweep of projects (expiry reminders, expiry, deletion after
            // the grace period).
            tokio::spawn(queue_daily("the admins' daily digest", move |now| {
                let applications = Arc::clone(&applications);
                async move { applications.send_daily_digest(now).await }
            })),
            tokio::spawn(queue_daily("the daily sweep of projects", move |now| {
                let projects = Arc::clone(&projects);
                async move { projects.schedule_lifecycle(now).await }
            })),
            tokio::spawn(queue_daily("the hourly usage rollup", move |now| {
                let billing = Arc::clone(&billing);
                async move { billing.schedule_rollup(now).await }
            })),
        ];
        if let Some(period) = config.jobs.drift_check {
            tasks.push(tokio::spawn(runner.clone().check_drift_forever(period)));
        }
        tasks.push(tokio::spawn(runner.run_forever()));
        if let Some(wakeups) = store.job_wakeups() {
            tasks.push(tokio::spawn(wakeups));
        }
        Ok(Self { listener, local_addr, router, store, tasks })
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until SIGINT or SIGTERM, then lets in-flight requests finish. The signals are caught from the moment
    /// this is called (before the returned future first runs), so that announcing the address after it is safe.
    pub fn run_until_stopped(self) -> impl Future<Output = std::io::Result<()>> {
        let signal = shutdown_signal();
        self.run_until(signal)
    }

    /// Serves until `signal` completes, then lets in-flight requests finish and closes the database.
    pub async fn run_until(self, signal: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let service = self.router.into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(self.listener, service).with_graceful_shutdown(signal).await;
        for task in &self.tasks {
            task.abort();
        }
        self.store.close().await;
        tracing::info!("stopped");
        served
    }
}

/// The Leptos site settings from `LEPTOS_*` variables. A release build made by cargo-leptos leaves the asset hashes
/// in `hash.txt` beside the binary; when it is there, hashed file names are used even without `LEPTOS_HASH_FILES`,
/// so the binary can be started directly.
fn site_options() -> Result<LeptosOptions, StartupError> {
    let mut leptos = leptos::config::get_configuration(None).map_err(StartupError::Leptos)?.leptos_options;
    if !leptos.hash_files {
        let beside_binary =
            std::env::current_exe().ok().and_then(|exe| exe.parent().map(|dir| dir.join(leptos.hash_file.as_ref())));
        leptos.hash_files = beside_binary.is_some_and(|path| path.is_file());
    }
    Ok(leptos)
}

/// How long an e-mail sign-in link works (ASVS 2.7.2: at most 10 minutes).
pub const LINK_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// Context for every render and server function: the app state, and the page's Content-Security-Policy with the
/// nonce Leptos put on its inline scripts.
fn leptos_context(app_state: &AppState, form_targets: &str) -> impl Fn() + Clone + Send + Sync + 'static {
    // Captured behind `Arc`s: axum clones this closure with its route for every request, rendered or not.
    let app_state = Arc::new(app_state.clone());
    let form_targets: Arc<str> = Arc::from(form_targets);
    move || {
        provide_context((*app_state).clone());
        if let (Some(nonce), Some(response)) =
            (leptos::nonce::use_nonce(), leptos::prelude::use_context::<leptos_axum::ResponseOptions>())
            && let Ok(policy) = axum::http::HeaderValue::try_from(security::page_csp(&nonce, &form_targets))
        {
            response.insert_header(axum::http::header::CONTENT_SECURITY_POLICY, policy);
        }
    }
}

/// The origins of the providers' issuers, space-separated, for the pages' `form-action`: a provider sign-in is a
/// form post that Berth redirects to the provider. (Providers serve their authorization endpoint from the
/// issuer's origin; `oidc` warns at discovery when one does not.)
fn provider_origins(providers: &[crate::config::OidcProviderConfig]) -> String {
    let mut origins: Vec<String> =
        providers.iter().map(|provider| provider.issuer_url.origin().ascii_serialization()).collect();
    origins.sort();
    origins.dedup();
    origins.join(" ")
}

/// A router that renders every Leptos route, for rendering pages into caches.
fn leptos_router(
    leptos: &LeptosOptions,
    app_state: &AppState,
    form_targets: &str,
    routes: Vec<AxumRouteListing>,
) -> Router {
    let shell_options = Arc::new(leptos.clone());
    let context = leptos_context(app_state, form_targets);
    Router::new()
        .leptos_routes_with_context(leptos, routes, context, move || shell((*shell_options).clone()))
        .with_state(leptos.clone())
}

/// Picks up status changes made by other processes, at once when the database tells (`changed`) and every `every`
/// otherwise; logs an outage once, and the recovery.
async fn keep_status_fresh(status: Arc<StatusService>, every: Duration, changed: Arc<tokio::sync::Notify>) {
    // The first check waits a period: the first request loads the content anyway.
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = changed.notified() => {}
        }
        match status.sync().await {
            Ok(_) if failing => {
                failing = false;
                tracing::info!("status content can be read again");
            }
            Ok(_) => {}
            Err(error) if !failing => {
                failing = true;
                tracing::warn!(error = %app::error::cause_chain(&error), "cannot check the status content; serving the last copy");
            }
            Err(_) => {}
        }
    }
}

async fn precompress_assets(dir: std::path::PathBuf) {
    match tokio::task::spawn_blocking(move || assets::precompress_dir(&dir)).await {
        // Logged also when nothing was written: `.ci/bench-status` waits for it before measuring idle memory.
        Ok(Ok(written)) => tracing::info!(files = written, "pre-compressed site assets"),
        Ok(Err(error)) => tracing::warn!(error = %error, "cannot pre-compress site assets; serving them as they are"),
        Err(error) => tracing::warn!(error = %error, "pre-compressing site assets failed"),
    }
}

/// Completes at SIGINT or SIGTERM; both are caught from the call on.
fn shutdown_signal() -> impl Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt());
    let mut terminate = signal(SignalKind::terminate());
    async move {
        let interrupt = async {
            match interrupt.as_mut() {
                Ok(stream) => {
                    stream.recv().await;
                }
                Err(error) => {
                    tracing::error!(%error, "cannot listen for SIGINT");
                    std::future::pending::<()>().await;
                }
            }
        };
        let terminate = async {
            match terminate.as_mut() {
                Ok(stream) => {
                    stream.recv().await;
                }
                Err(error) => {
                    tracing::error!(%error, "cannot listen for SIGTERM");
                    std::future::pending::<()>().await;
                }
            }
        };
        tokio::select! {
            () = interrupt => tracing::info!("SIGINT received; finishing requests in flight"),
            () = terminate => tracing::info!("SIGTERM received; finishing requests in flight"),
        }
    }
}

/// The configured provisioning backend.
async fn provisioner(config: &ProvisionerConfig) -> Result<SharedProvisioner, StartupError> {
    Ok(match config {
        ProvisionerConfig::GitOps { dir, commit } => Arc::new(GitOpsProvisioner::new(dir.clone(), *commit)),
        ProvisionerConfig::Kubernetes { source, timeout } => {
            Arc::new(KubernetesProvisioner::connect(source, *timeout).await?)
        }
        ProvisionerConfig::Webhook { url, secret, timeout } => {
            Arc::new(WebhookProvisioner::new(url.clone(), secret.clone(), *timeout))
        }
    })
}

/// Once a minute, forever, asks `queue` to queue the work `what` that is done once a period (a day, an hour) by
/// whichever Berth process gets there first (`queue` answers whether this process did).
async fn queue_daily<F, Fut>(what: &'static str, queue: F)
where
    F: Fn(chrono::DateTime<chrono::Utc>) -> Fut,
    Fut: std::future::Future<Output = Result<bool, app::error::AppError>>,
{
    let mut ticks = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        ticks.tick().await;
        match queue(chrono::Utc::now()).await {
            Ok(true) => tracing::info!("queued {what}"),
            Ok(false) => {}
            Err(error) => tracing::warn!(%error, "cannot queue {what}; will retry"),
        }
    }
}
