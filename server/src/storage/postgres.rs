//! The production store: PostgreSQL.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};

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

/// Embedded migrations for PostgreSQL. sqlx holds an advisory lock while migrating, so several processes starting
/// at once against one database migrate it exactly once.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

const MAX_CONNECTIONS: u32 = 10;

/// A store on a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pub(crate) jobs_waker: std::sync::Arc<tokio::sync::Notify>,
    pub(crate) status_waker: std::sync::Arc<tokio::sync::Notify>,
    pub(crate) pool: PgPool,
}

impl super::WriteTransactions for PostgresStore {
    type Write = Transaction<'static, Postgres>;
}

impl PostgresStore {
    /// Connects to the database `url` names and migrates it.
    pub async fn open(url: &DatabaseUrl) -> Result<Self, OpenError> {
        let connect_error = |source| OpenError::Connect { url: url.to_string(), source };
        let options = PgConnectOptions::from_str(url.expose()).map_err(connect_error)?.application_name("berth");
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(connect_error)?;
        MIGRATOR.run(&pool).await.map_err(|source| OpenError::Migrate { url: url.to_string(), source })?;
        Ok(Self { pool, jobs_waker: std::sync::Arc::default(), status_waker: std::sync::Arc::default() })
    }

    /// The pool, for tests that inspect tables directly.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn begin_snapshot(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        self.pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY").await
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        self.pool.begin().await
    }

    /// Listens on the `berth_jobs` channel (a trigger on `jobs` notifies it when a job is queued) and wakes this
    /// process's runner, and on `berth_status` (a trigger on `status_meta` when the revision moves) and wakes its
    /// status page; reconnects after a lost connection. Never returns.
    async fn listen_for_changes(
        pool: PgPool,
        waker: std::sync::Arc<tokio::sync::Notify>,
        status: std::sync::Arc<tokio::sync::Notify>,
    ) {
        let mut failing = false;
        loop {
            let mut listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
                Ok(listener) => listener,
                Err(error) => {
                    if !failing {
                        tracing::warn!(error = %app::error::cause_chain(&error), "cannot listen for new jobs; polling meanwhile");
                    }
                    failing = true;
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    continue;
                }
            };
            if let Err(error) = listener.listen_all([JOBS_CHANNEL, STATUS_CHANNEL]).await {
                tracing::warn!(error = %app::error::cause_chain(&error), "cannot listen for new jobs; polling meanwhile");
                failing = true;
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
            if failing {
                tracing::info!("listening for new jobs again");
                failing = false;
            }
            // Whatever was queued or changed while nobody listened is found by the next claim and the next check.
            waker.notify_one();
            status.notify_one();
            loop {
                match listener.try_recv().await {
                    Ok(Some(notification)) if notification.channel() == STATUS_CHANNEL => status.notify_one(),
                    Ok(Some(_)) => waker.notify_one(),
                    // The connection was lost: listen again on a new one.
                    Ok(None) => break,
                    Err(error) => {
                        tracing::warn!(error = %app::error::cause_chain(&error), "lost the job notifications; reconnecting");
                        break;
                    }
                }
            }
        }
    }
}

/// The channel the `jobs_notify` trigger notifies.
const JOBS_CHANNEL: &str = "berth_jobs";
/// The channel the `status_notify` trigger notifies.
const STATUS_CHANNEL: &str = "berth_status";

impl_status_store!(PostgresStore, sqlx::Postgres);

impl_account_store!(PostgresStore, sqlx::Postgres);

impl_application_store!(PostgresStore, sqlx::Postgres);

impl_feedback_store!(PostgresStore);

impl_notify_store!(PostgresStore, sqlx::Postgres);

impl_job_store!(PostgresStore, jobs_sql::CLAIM_JOB_POSTGRES);

impl_job_admin_store!(PostgresStore, sqlx::Postgres);

impl_project_store!(PostgresStore, sqlx::Postgres, " FOR UPDATE");

impl_lifecycle_store!(PostgresStore, sqlx::Postgres);

impl_billing_store!(PostgresStore, sqlx::Postgres);

impl_store!(PostgresStore, Backend::Postgres, SessionBackend::postgres, MAX_CONNECTIONS, |store| Some(Box::pin(
    PostgresStore::listen_for_changes(
        store.pool.clone(),
        std::sync::Arc::clone(&store.jobs_waker),
        std::sync::Arc::clone(&store.status_waker)
    )
)));
