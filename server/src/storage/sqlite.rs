//! The embedded default: SQLite in WAL mode with a busy timeout and foreign keys on.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, Transaction};

use super::accounts_sql::impl_account_store;
use super::applications_sql::impl_application_store;
use super::billing_sql::impl_billing_store;
use super::feedback_sql::impl_feedback_store;
use super::jobs_sql::{self, impl_job_admin_store, impl_job_store};
use super::lifecycle_sql::impl_lifecycle_store;
use super::notify_sql::impl_notify_store;
use super::pool_store::impl_store;
use super::projects_sql::impl_project_store;
use super::status_sql::impl_status_store;
use super::{ACQUIRE_TIMEOUT, Backend, OpenError};
use crate::config::DatabaseUrl;
use crate::sessions::SessionBackend;

/// Embedded migrations for SQLite.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

const MAX_CONNECTIONS: u32 = 8;

/// An exclusive lock on `<database>.lock`, held while a process opens and migrates the database; released on drop.
struct StartupLock(std::fs::File);

impl StartupLock {
    async fn acquire(database: &std::path::Path) -> Result<Self, OpenError> {
        let mut path = database.as_os_str().to_owned();
        path.push(".lock");
        let path = std::path::PathBuf::from(path);
        let lock_error = |source| OpenError::Lock { path: path.display().to_string(), source };
        let file =
            std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(lock_error)?;
        let locked = tokio::task::spawn_blocking(move || file.lock().map(|()| file))
            .await
            .map_err(|join| lock_error(std::io::Error::other(join)))?;
        Ok(Self(locked.map_err(lock_error)?))
    }
}

impl Drop for StartupLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

/// A store on an SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(crate) jobs_waker: std::sync::Arc<tokio::sync::Notify>,
    pub(crate) pool: SqlitePool,
    /// Never notified: one process changes the status content and reloads it itself.
    pub(crate) status_waker: std::sync::Arc<tokio::sync::Notify>,
    /// This process's writers take turns here, first come first served.
    write_turn: std::sync::Arc<tokio::sync::Mutex<()>>,
}

/// A write transaction on SQLite that holds this process's turn to write until it ends.
///
/// SQLite has one writer at a time; the others retry until their busy timeout, and under steady load a writer can
/// lose every retry until it times out (seen as collectors' pushes answered 500 with "database is locked" while
/// four large batches were being written). Taking turns in a fair queue first, a writer waits only for those ahead
/// of it. (Processes sharing the file still meet at SQLite's own lock, with its busy timeout.)
#[derive(Debug)]
pub(crate) struct SqliteWrite {
    tx: Transaction<'static, Sqlite>,
    _turn: tokio::sync::OwnedMutexGuard<()>,
}

impl SqliteWrite {
    /// Commits, then gives up the turn.
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    /// Rolls back, then gives up the turn.
    pub(crate) async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl std::ops::Deref for SqliteWrite {
    type Target = sqlx::SqliteConnection;

    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for SqliteWrite {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

impl super::WriteTransactions for SqliteStore {
    type Write = SqliteWrite;
}

impl SqliteStore {
    /// Opens (creating if missing) the database file `url` names and migrates it.
    pub async fn open(url: &DatabaseUrl) -> Result<Self, OpenError> {
        let connect_error = |source| OpenError::Connect { url: url.to_string(), source };
        let options = SqliteConnectOptions::from_str(url.expose())
            .map_err(connect_error)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let file = options.get_filename();
        if let Some(dir) = file.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|source| OpenError::DataDir { path: dir.display().to_string(), source })?;
        }
        // sqlx takes no lock around SQLite migrations, and switching a new file to WAL needs it to itself: processes
        // starting at once take turns through a lock file beside the database.
        let in_memory = file.as_os_str().is_empty() || file == std::path::Path::new(":memory:");
        let _turn = if in_memory { None } else { Some(StartupLock::acquire(file).await?) };
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(connect_error)?;
        MIGRATOR.run(&pool).await.map_err(|source| OpenError::Migrate { url: url.to_string(), source })?;
        Ok(Self {
            pool,
            jobs_waker: std::sync::Arc::default(),
            status_waker: std::sync::Arc::default(),
            write_turn: std::sync::Arc::default(),
        })
    }

    /// The pool, for tests that inspect tables directly.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn begin_snapshot(&self) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        // In WAL mode a read transaction sees one snapshot from its first read on.
        self.pool.begin().await
    }

    async fn begin_write(&self) -> Result<SqliteWrite, sqlx::Error> {
        let turn = std::sync::Arc::clone(&self.write_turn).lock_owned().await;
        // Take the write lock up front so that two writers queue instead of deadlocking.
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        Ok(SqliteWrite { tx, _turn: turn })
    }
}

impl_status_store!(SqliteStore, sqlx::Sqlite);

impl_account_store!(SqliteStore, sqlx::Sqlite);

impl_application_store!(SqliteStore, sqlx::Sqlite);

impl_feedback_store!(SqliteStore);

impl_notify_store!(SqliteStore, sqlx::Sqlite);

impl_job_store!(SqliteStore, jobs_sql::CLAIM_JOB_SQLITE);

impl_job_admin_store!(SqliteStore, sqlx::Sqlite);

impl_project_store!(SqliteStore, sqlx::Sqlite, "");

impl_lifecycle_store!(SqliteStore, sqlx::Sqlite);

impl_billing_store!(SqliteStore, sqlx::Sqlite);

impl_store!(SqliteStore, Backend::Sqlite, SessionBackend::sqlite, MAX_CONNECTIONS, |_| None);
