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

/// A running Berth on port 0.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// A client that does not follow redirects or decompress.
    pub client: reqwest::Client,
    /// The database behind it, removed when the app is dropped.
    _db: TestDatabase,
    stop: Option<oneshot::Sender<()>>,
    served: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    /// Berth over a fresh database on `backend`.
    pub async fn spawn(backend: Backend) -> Self {
        let db = TestDatabase::new(backend).await;
        let url = db.url().to_owned();
        Self::spawn_on(db, &url).await
    }

    /// Berth over `db`, connecting through `url` (which may point at a proxy in front of `db`).
    pub async fn spawn_on(db: TestDatabase, url: &str) -> Self {
        let config = test_config(url);
        let listener = TcpListener::bind(config.listen).await.expect("port 0 binds");
        let app = Application::build(config, listener).await.expect("the app builds");
        let address = format!("http://{}", app.local_addr());
        let (stop, stopped) = oneshot::channel();
        let served = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        Self { address, client: client(), _db: db, stop: Some(stop), served: Some(served) }
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

/// The configuration tests use: port 0 and the given database.
pub fn test_config(database_url: &str) -> Config {
    Config::from_args(SettingsArgs {
        listen: Some("127.0.0.1:0".to_owned()),
        database_url: Some(database_url.to_owned()),
        // Tests decide when content is loaded; a background refresh would race with them.
        status_refresh_seconds: Some(86_400),
        ..SettingsArgs::default()
    })
    .expect("the test configuration is valid")
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
