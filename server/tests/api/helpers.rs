//! The `TestApp` helper: a Berth server on port 0 over a fresh database per test, on SQLite or PostgreSQL.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use server::Application;
use server::config::{Config, DatabaseUrl, SettingsArgs};
use server::storage::{self, Store};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

/// Names the PostgreSQL server the tests create their databases on; `.ci/test` sets it.
pub const POSTGRES_URL_VAR: &str = "BERTH_TEST_POSTGRES_URL";

/// The storage backends every contract case runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named `async fn(Backend)` as two tests, `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            )*
        }
    };
}

/// Installs a log subscriber for the test process when `BERTH_TEST_LOG` names a filter (e.g. `debug`).
fn init_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if let Ok(filter) = std::env::var("BERTH_TEST_LOG") {
            let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
        }
    });
}

/// A database of its own for one test; removed when dropped.
#[derive(Debug)]
pub struct TestDatabase {
    url: String,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    /// A new empty database on `backend`.
    pub async fn new(backend: Backend) -> Self {
        init_logs();
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let url = format!("sqlite://{}", dir.path().join("berth.db").display());
                Self { url, _dir: Some(dir), postgres: None }
            }
            Backend::Postgres => {
                let server = postgres_server_url();
                let name = format!("t_{}", uuid::Uuid::new_v4().simple());
                let admin = sqlx::PgPool::connect(&server).await.unwrap_or_else(|error| {
                    panic!("cannot connect to the PostgreSQL server in {POSTGRES_URL_VAR} ({server}): {error}")
                });
                sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.expect("CREATE DATABASE");
                admin.close().await;
                let url = with_database(&server, &name);
                Self { url, _dir: None, postgres: Some((server, name)) }
            }
        }
    }

    /// The first column of the first row of `sql`, as text.
    pub async fn scalar(&self, sql: &str) -> Option<String> {
        crate::on_test_pool!(self.url(), |pool| sqlx::query_scalar::<_, Option<String>>(sql)
            .fetch_optional(&pool)
            .await
            .expect("the query runs")
            .flatten())
    }

    /// The database URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL, parsed as Berth parses it.
    pub fn database_url(&self) -> DatabaseUrl {
        DatabaseUrl::parse(&self.url).expect("test URLs are valid")
    }

    /// Opens and migrates the store, as startup does.
    pub async fn open(&self) -> Arc<dyn Store> {
        storage::open(&self.database_url()).await.expect("the test database opens")
    }

    /// Host and port of the PostgreSQL server, if this is a PostgreSQL database.
    pub fn postgres_addr(&self) -> Option<SocketAddr> {
        let url = url::Url::parse(&self.url).ok()?;
        if url.scheme() != "postgres" {
            return None;
        }
        let host = url.host_str()?;
        let port = url.port().unwrap_or(5432);
        std::net::ToSocketAddrs::to_socket_addrs(&(host, port)).ok()?.next()
    }

    /// This database's URL with its host and port replaced by `addr`.
    pub fn url_via(&self, addr: SocketAddr) -> String {
        let mut url = url::Url::parse(&self.url).expect("a valid URL");
        url.set_ip_host(addr.ip()).expect("an IP host");
        url.set_port(Some(addr.port())).expect("a port");
        url.to_string()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((server, name)) = self.postgres.take() else { return };
        // Drop runs outside async context guarantees, so the cleanup gets a runtime of its own.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
            runtime.block_on(async move {
                if let Ok(admin) = sqlx::PgPool::connect(&server).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&admin).await;
                    admin.close().await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// The PostgreSQL server the tests use. Never skips: without one, the PostgreSQL half of the suite fails.
pub fn postgres_server_url() -> String {
    std::env::var(POSTGRES_URL_VAR).unwrap_or_else(|_| {
        panic!(
            "{POSTGRES_URL_VAR} is not set. The storage tests run on PostgreSQL too; run `.ci/test`, which starts a \
             throwaway server, or set {POSTGRES_URL_VAR}=postgres://USER@HOST:PORT/postgres"
        )
    })
}

fn with_database(server: &str, name: &str) -> String {
    let mut url = url::Url::parse(server).expect("a valid PostgreSQL URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// Settings a test may change; everything else is the test default.
#[derive(Debug, Default, Clone)]
pub struct TestOptions {
    /// Mail transport; default a temporary mail directory ([`TestApp::mail_dir`]).
    pub mail_url: Option<String>,
    /// Extra root certificates for SMTP over TLS.
    pub mail_ca_file: Option<PathBuf>,
    /// Administrators by address.
    pub admin_emails: Vec<String>,
    /// Extra TOML for the settings file (e.g. `[[oidc_providers]]` tables).
    pub config_toml: Option<String>,
    /// Session idle timeout and absolute lifetime, shorter than the settings allow (for timeout tests).
    pub sessions: Option<(Duration, Duration)>,
    /// Reverse proxies to trust (`trusted_proxies`).
    pub trusted_proxies: Vec<String>,
    /// How often the status content is checked for changes (default: a day, so tests decide when).
    pub status_refresh_seconds: Option<u64>,
    /// The webhook provisioner at this URL with this secret, instead of GitOps files in [`TestApp::gitops_dir`].
    pub webhook: Option<(String, String)>,
    /// Seconds to wait for the webhook.
    pub webhook_timeout_seconds: Option<u64>,
    /// Commit the GitOps files to git.
    pub gitops_commit: bool,
    /// Job attempts before failing for good (default 10).
    pub job_max_attempts: Option<u32>,
    /// First retry delay, seconds (default: 1, so that retries can be watched).
    pub job_first_retry_seconds: Option<u64>,
    /// Job lease, seconds.
    pub job_lease_seconds: Option<u64>,
    /// The Kubernetes provisioner with this kubeconfig, instead of GitOps files.
    pub kubeconfig: Option<PathBuf>,
    /// How often to check active projects for drift, shorter than the settings allow (default: the settings').
    pub drift_check: Option<Duration>,
}

/// Runs `$body` with `$pool` bound to a fresh pool of the backend `$url` names, then closes it.
#[macro_export]
macro_rules! on_test_pool {
    ($url:expr, |$pool:ident| $body:expr) => {{
        let url = $url;
        if url.starts_with("postgres") {
            let $pool = sqlx::PgPool::connect(url).await.expect("the database");
            let result = $body;
            $pool.close().await;
            result
        } else {
            let $pool = sqlx::SqlitePool::connect(url).await.expect("the database");
            let result = $body;
            $pool.close().await;
            result
        }
    }};
}

/// A running Berth on port 0.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// A client that does not follow redirects or decompress.
    pub client: reqwest::Client,
    /// Where mail goes when no other transport was chosen.
    pub mail_dir: PathBuf,
    /// Where the GitOps provisioner writes project files (unless a webhook was chosen).
    pub gitops_dir: PathBuf,
    /// The database behind it, removed when the app is dropped.
    pub db: TestDatabase,
    _files: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    served: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    /// Berth over a fresh database on `backend`.
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, TestOptions::default()).await
    }

    /// Berth over a fresh database on `backend`, with `options`.
    pub async fn spawn_with(backend: Backend, options: TestOptions) -> Self {
        let db = TestDatabase::new(backend).await;
        let url = db.url().to_owned();
        Self::start(db, &url, options).await
    }

    /// Berth over `db`, connecting through `url` (which may point at a proxy in front of `db`).
    pub async fn spawn_on(db: TestDatabase, url: &str) -> Self {
        Self::start(db, url, TestOptions::default()).await
    }

    /// Berth over a fresh database on `backend`, serving on `listener` (bound first, so that peers can be told
    /// Berth's address before it starts).
    pub async fn spawn_bound(backend: Backend, listener: TcpListener, options: TestOptions) -> Self {
        let db = TestDatabase::new(backend).await;
        let url = db.url().to_owned();
        Self::start_on(db, &url, listener, options).await
    }

    async fn start(db: TestDatabase, url: &str, options: TestOptions) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("port 0 binds");
        Self::start_on(db, url, listener, options).await
    }

    async fn start_on(db: TestDatabase, url: &str, listener: TcpListener, options: TestOptions) -> Self {
        let files = tempfile::tempdir().expect("a temporary directory");
        let mail_dir = files.path().join("mail");
        let gitops_dir = files.path().join("gitops");
        let address = format!("http://{}", listener.local_addr().expect("a local address"));
        let config_file = options.config_toml.as_ref().map(|toml| {
            let path = files.path().join("berth.toml");
            std::fs::write(&path, toml).expect("the settings file is written");
            path
        });
        let mut config = Config::from_args(SettingsArgs {
            config: config_file,
            base_url: Some(address.clone()),
            mail_url: Some(options.mail_url.clone().unwrap_or_else(|| format!("file:{}", mail_dir.display()))),
            mail_ca_file: options.mail_ca_file.clone(),
            admin_emails: Some(options.admin_emails.clone()),
            trusted_proxies: Some(options.trusted_proxies.clone()),
            status_refresh_seconds: options.status_refresh_seconds.or(Some(86_400)),
            provisioner: Some(if options.webhook.is_some() {
                server::config::ProvisionerKind::Webhook
            } else if options.kubeconfig.is_some() {
                server::config::ProvisionerKind::Kubernetes
            } else {
                server::config::ProvisionerKind::Gitops
            }),
            kubeconfig: options.kubeconfig.clone(),
            gitops_dir: Some(gitops_dir.clone()),
            gitops_commit: Some(options.gitops_commit),
            webhook_url: options.webhook.as_ref().map(|(url, _)| url.clone()),
            webhook_secret: options.webhook.as_ref().map(|(_, secret)| secret.clone()),
            webhook_timeout_seconds: options.webhook_timeout_seconds,
            job_max_attempts: options.job_max_attempts,
            job_first_retry_seconds: options.job_first_retry_seconds.or(Some(1)),
            job_lease_seconds: options.job_lease_seconds,
            ..test_args(url)
        })
        .expect("the test configuration is valid");
        if let Some((idle, lifetime)) = options.sessions {
            // Below the settings' minimum (minutes and hours), so that timeouts can be watched in real time.
            config.sessions = server::config::SessionSettings { idle, lifetime };
        }
        if let Some(period) = options.drift_check {
            // Below the settings' minimum (a minute), so that a drift check can be watched.
            config.jobs.drift_check = Some(period);
        }
        let app = Application::build(config, listener).await.expect("the app builds");
        let (stop, stopped) = oneshot::channel();
        let served = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        Self {
            address,
            client: client(),
            mail_dir,
            gitops_dir,
            db,
            _files: files,
            stop: Some(stop),
            served: Some(served),
        }
    }

    /// A browser: keeps cookies, sends this site's `Origin` as browsers do on every POST, follows no redirects.
    pub fn browser(&self) -> Browser {
        Browser::new(&self.address)
    }

    /// `GET` of a path.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(format!("{}{path}", self.address)).send().await.expect("the request completes")
    }

    /// `GET` of a path with extra headers.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self.client.get(format!("{}{path}", self.address));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("the request completes")
    }

    /// Starts a graceful shutdown and waits until the server has stopped.
    pub async fn stop(mut self) -> std::io::Result<()> {
        self.begin_stop();
        self.served.take().expect("not yet stopped").await.expect("the server task did not panic")
    }

    /// Sends the shutdown signal without waiting.
    pub fn begin_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Waits for the server task after [`TestApp::begin_stop`].
    pub async fn stopped(mut self) -> std::io::Result<()> {
        self.served.take().expect("not yet awaited").await.expect("the server task did not panic")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(served) = &self.served {
            served.abort();
        }
    }
}

/// The settings tests use: port 0 and the given database.
pub fn test_args(database_url: &str) -> SettingsArgs {
    SettingsArgs {
        listen: Some("127.0.0.1:0".to_owned()),
        database_url: Some(database_url.to_owned()),
        // Tests decide when content is loaded; a background refresh would race with them.
        status_refresh_seconds: Some(86_400),
        ..SettingsArgs::default()
    }
}

/// An HTTP client that shows responses as they are: no redirects followed, no decompression.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a client")
}

/// What a [`TcpProxy`] does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyMode {
    /// Forwards both ways.
    Up,
    /// Refuses new connections and has cut the open ones: the database looks unreachable.
    Down,
    /// Forwards, but holds every answer from upstream for this long: a slow database.
    Slow(Duration),
}

/// A TCP proxy in front of the database, to cut or slow it at will. (No real network fault can be injected
/// between two loopback processes here, so this stands in for one.) Down, it stops listening, so connections are
/// refused as they are by a stopped server, and the open ones are cut.
pub struct TcpProxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    upstream: SocketAddr,
    mode: Arc<Mutex<ProxyMode>>,
    connections: Arc<Mutex<JoinSet<()>>>,
    accept: Mutex<Option<JoinHandle<()>>>,
}

impl TcpProxy {
    /// A proxy to `upstream`, initially up.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("the proxy binds");
        let addr = listener.local_addr().expect("a local address");
        let proxy = Self {
            addr,
            upstream,
            mode: Arc::new(Mutex::new(ProxyMode::Up)),
            connections: Arc::new(Mutex::new(JoinSet::new())),
            accept: Mutex::new(None),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: TcpListener) {
        let (mode, connections, upstream) = (Arc::clone(&self.mode), Arc::clone(&self.connections), self.upstream);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                connections.lock().expect("connections lock").spawn(forward(client, upstream, Arc::clone(&mode)));
            }
        });
        *self.accept.lock().expect("accept lock") = Some(task);
    }

    /// Changes the mode; going down closes the listener and cuts every open connection.
    pub async fn set(&self, mode: ProxyMode) {
        let was = std::mem::replace(&mut *self.mode.lock().expect("mode lock"), mode);
        match (was, mode) {
            (ProxyMode::Down, ProxyMode::Down) => {}
            (_, ProxyMode::Down) => {
                let task = self.accept.lock().expect("accept lock").take();
                if let Some(task) = task {
                    task.abort();
                    let _ = task.await;
                }
                self.connections.lock().expect("connections lock").abort_all();
            }
            (ProxyMode::Down, _) => {
                let listener = TcpListener::bind(self.addr).await.expect("the proxy binds its port again");
                self.serve(listener);
            }
            _ => {}
        }
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        if let Ok(mut accept) = self.accept.lock()
            && let Some(task) = accept.take()
        {
            task.abort();
        }
        if let Ok(mut connections) = self.connections.lock() {
            connections.abort_all();
        }
    }
}

async fn forward(client: TcpStream, upstream: SocketAddr, mode: Arc<Mutex<ProxyMode>>) {
    let Ok(server) = TcpStream::connect(upstream).await else { return };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upward = async {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
    };
    let downward = async {
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            let read = match server_read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(read) => read,
            };
            let delay = match *mode.lock().expect("mode lock") {
                ProxyMode::Slow(delay) => Some(delay),
                _ => None,
            };
            if let Some(delay) = delay {
                tokio::time::sleep(delay).await;
            }
            if client_write.write_all(&buffer[..read]).await.is_err() {
                break;
            }
        }
    };
    tokio::select! {
        () = upward => {}
        () = downward => {}
    }
}

/// Polls `probe` every 100 ms until it returns true or `within` passes; returns whether it did.
pub async fn eventually<F, Fut>(within: Duration, mut probe: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if probe().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The path of the built `berth` binary.
pub fn berth_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_berth"))
}

/// A browser stand-in: a cookie jar, this site's `Origin` on every request (as browsers send on POSTs), no
/// redirects followed.
pub struct Browser {
    /// The site.
    pub address: String,
    /// Cookies.
    pub jar: Arc<reqwest::cookie::Jar>,
    /// The client.
    pub client: reqwest::Client,
}

impl Browser {
    /// A browser with no cookies.
    pub fn new(address: &str) -> Self {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("origin", address.parse().expect("an origin header"));
        headers.insert("accept", "text/html,application/xhtml+xml".parse().expect("an accept header"));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_provider(Arc::clone(&jar))
            .default_headers(headers)
            .timeout(Duration::from_secs(30))
            .build()
            .expect("a client");
        Self { address: address.to_owned(), jar, client }
    }

    /// `GET` of a path.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(format!("{}{path}", self.address)).send().await.expect("the request completes")
    }

    /// The text of the page at `path`, which must answer 200.
    pub async fn page(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        without_markers(&response.text().await.expect("a body"))
    }

    /// Posts a form to `path`.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client.post(format!("{}{path}", self.address)).form(form).send().await.expect("the request completes")
    }

    /// Submits a form shown on page `from` to `action`, as a browser without JavaScript does (with `Referer`).
    pub async fn submit(&self, from: &str, action: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(format!("{}{action}", self.address))
            .header("referer", format!("{}{from}", self.address))
            .form(form)
            .send()
            .await
            .expect("the request completes")
    }

    /// The session cookie's value, if the browser has one.
    pub fn session_cookie(&self) -> Option<String> {
        use reqwest::cookie::CookieStore as _;
        let url = self.address.parse().expect("a URL");
        let cookies = self.jar.cookies(&url)?;
        cookies
            .to_str()
            .ok()?
            .split(';')
            .map(str::trim)
            .find_map(|cookie| cookie.strip_prefix("berth_session=").map(str::to_owned))
    }
}

/// The `Location` of a redirect.
pub fn location(response: &reqwest::Response) -> String {
    assert!(response.status().is_redirection(), "expected a redirect, got {}", response.status());
    response.headers()["location"].to_str().expect("an ASCII location").to_owned()
}

/// The sign-in token in a message's text.
pub fn token_in(text: &str) -> Option<String> {
    let start = text.find("/signin/link?token=")? + "/signin/link?token=".len();
    let token: String =
        text[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
    (!token.is_empty()).then_some(token)
}

/// Undoes quoted-printable encoding (soft line breaks and `=XX`), enough to read links in `.eml` files.
pub fn decode_quoted_printable(text: &str) -> String {
    let joined = text.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = (bytes[i] == b'=').then(|| bytes.get(i + 1..i + 3)).flatten();
        match hex.and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()) {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl TestApp {
    /// The messages written to the mail directory so far, oldest first, decoded.
    pub fn mail_files(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.mail_dir) else { return Vec::new() };
        let mut files: Vec<_> = entries
            .filter_map(Result::ok)
            .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "eml"))
            .map(|entry| (entry.metadata().and_then(|m| m.modified()).ok(), entry.path()))
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|(_, path)| decode_quoted_printable(&std::fs::read_to_string(path).unwrap_or_default()))
            .collect()
    }

    /// Waits for the `n`th message in the mail directory and returns the sign-in token in it.
    pub async fn wait_for_token(&self, n: usize) -> String {
        let mut token = None;
        let arrived = eventually(Duration::from_secs(10), || {
            let files = self.mail_files();
            token = files.get(n - 1).and_then(|mail| token_in(mail));
            std::future::ready(token.is_some())
        })
        .await;
        assert!(arrived, "message {n} with a sign-in link did not arrive in {}", self.mail_dir.display());
        token.expect("a token")
    }

    /// Signs `browser` in by e-mail link as `email` (mail to the mail directory) and completes sign-up when it is
    /// asked for. Returns where the sign-in redirected.
    pub async fn sign_in(&self, browser: &Browser, email: &str) -> String {
        let before = self.mail_files().len();
        let asked = browser.post("/auth/email", &[("email", email)]).await;
        assert_eq!(location(&asked), "/signin/sent");
        // Other mail (an alert, a notice) may arrive meanwhile: the link is in the new message to this address.
        let mut token = None;
        let arrived = eventually(Duration::from_secs(10), || {
            let files = self.mail_files();
            token = files
                .get(before..)
                .unwrap_or_default()
                .iter()
                .filter(|mail| mail.contains(&format!("To: {email}")))
                .find_map(|mail| token_in(mail));
            std::future::ready(token.is_some())
        })
        .await;
        assert!(arrived, "no sign-in link for {email} arrived in {}", self.mail_dir.display());
        let token = token.expect("a token");
        let used = browser.post("/auth/email/verify", &[("token", &token)]).await;
        let target = location(&used);
        if target == "/signup" {
            let done = browser
                .post(
                    "/api/complete_sign_up",
                    &[("name", "Test Person"), ("organisation", "Test Org"), ("accept_terms", "yes")],
                )
                .await;
            assert!(done.status().is_redirection() || done.status().is_success(), "sign-up: {}", done.status());
        }
        target
    }

    /// Runs one SQL statement on the app's database (to move time, or to look behind the app's back).
    pub async fn execute(&self, sql: &str) -> u64 {
        crate::on_test_pool!(self.db.url(), |pool| sqlx::query(sql)
            .execute(&pool)
            .await
            .expect("the statement runs")
            .rows_affected())
    }

    /// The first column of the first row of `sql`, as text.
    pub async fn scalar(&self, sql: &str) -> Option<String> {
        self.db.scalar(sql).await
    }
}

/// A signed-in session record `id` that starts at `now` and lasts an hour (its user is set by the store).
pub fn user_session(id: &str, now: chrono::DateTime<chrono::Utc>) -> app::auth::ssr::UserSession {
    app::auth::ssr::UserSession {
        id: id.into(),
        user_id: 0,
        created_at: now,
        last_seen_at: now,
        expires_at: now + chrono::Duration::hours(1),
        ip: None,
        user_agent: None,
    }
}

/// The end of a lease of the default length that starts at `at`.
pub fn leased(at: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    at + chrono::Duration::from_std(server::jobs::LEASE).expect("a short lease")
}

/// `html` without the empty comments (`<!>`) that mark where views start and end for hydration, so that tests can
/// look for the markup people see.
pub fn without_markers(html: &str) -> String {
    html.replace("<!>", "")
}
