//! Storage: one implementation per backend, chosen by the database URL's scheme, behind the domain-level store
//! traits that `app` defines. Migrations are embedded and run at startup.

mod accounts_sql;
mod applications_sql;
mod billing_sql;
mod feedback_sql;
mod jobs_sql;
mod lifecycle_sql;
mod notify_sql;
mod pool_store;
mod postgres;
mod projects_sql;
mod rows;
mod sqlite;
mod status_sql;

use std::sync::Arc;
use std::time::Duration;

use app::applications::ssr::ApplicationStore;
use app::auth::ssr::AccountStore;
use app::error::StoreError;
use app::projects::ssr::ProjectStore;
use app::status::ssr::StatusStore;
use async_trait::async_trait;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use crate::config::DatabaseUrl;

/// The write transaction a backend's `begin_write` returns; it dereferences to the backend's connection.
pub(crate) trait WriteTransactions {
    /// The transaction type.
    type Write;
}

/// How long a request waits for a database connection before it gives up (and the page says so).
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// Which database engine a store uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Backend {
    /// Lower-case name, for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Connection pool figures, for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Connections open now.
    pub size: u32,
    /// Of those, idle.
    pub idle: u32,
    /// The most the pool may open.
    pub max: u32,
}

/// Everything Berth stores, for every backend.
#[async_trait]
pub trait Store:
    StatusStore
    + app::feedback::ssr::FeedbackStore
    + app::status::notifications::ssr::NotificationStore
    + crate::notify::NotifyStore
    + AccountStore
    + ApplicationStore
    + ProjectStore
    + app::projects::ssr::lifecycle::LifecycleStore
    + app::billing::ssr::BillingStore
    + app::jobs::ssr::JobAdminStore
    + crate::jobs::JobStore
    + crate::provision::ProvisioningStore
    + std::fmt::Debug
{
    /// The engine behind this store.
    fn backend(&self) -> Backend;

    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Pool figures.
    fn pool_stats(&self) -> PoolStats;

    /// The session store over the same database.
    fn session_store(&self) -> crate::sessions::SessionBackend;

    /// Closes the pool, waiting for connections in use to be returned.
    async fn close(&self);

    /// A task that wakes this process's job runner when another process queues a job, and its status page when
    /// another process changes the status content (PostgreSQL's `LISTEN/NOTIFY`); `None` where one process is all
    /// there is (SQLite), which wakes both itself.
    fn job_wakeups(&self) -> Option<futures_util::future::BoxFuture<'static, ()>>;

    /// Notified when another process changed the status content.
    fn status_changes(&self) -> Arc<tokio::sync::Notify>;
}

/// A failure to open the database at startup.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The database cannot be reached or opened.
    #[error("cannot open the database at {url}")]
    Connect {
        /// The URL, with any password hidden.
        url: String,
        /// Why.
        #[source]
        source: sqlx::Error,
    },
    /// The data directory cannot be created.
    #[error("cannot create the data directory {path}")]
    DataDir {
        /// The directory.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The lock that makes starting processes take turns could not be taken.
    #[error("cannot lock {path} while opening the database")]
    Lock {
        /// The lock file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Migrations failed.
    #[error("cannot migrate the database at {url}")]
    Migrate {
        /// The URL, with any password hidden.
        url: String,
        /// Why.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
}

/// Opens the database `url` names, runs pending migrations and returns its store.
pub async fn open(url: &DatabaseUrl) -> Result<Arc<dyn Store>, OpenError> {
    match url {
        DatabaseUrl::Sqlite(_) => Ok(Arc::new(SqliteStore::open(url).await?)),
        DatabaseUrl::Postgres(_) => Ok(Arc::new(PostgresStore::open(url).await?)),
    }
}

/// Maps a driver error onto the domain's storage error, telling outages apart from faults.
pub(crate) fn store_error(error: sqlx::Error) -> StoreError {
    let unavailable = match &error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        // PostgreSQL: connection exceptions (08…) and operator intervention such as a shutdown (57P…).
        sqlx::Error::Database(db) => db.code().is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
        _ => false,
    };
    if unavailable { StoreError::Unavailable(Box::new(error)) } else { StoreError::Query(Box::new(error)) }
}
