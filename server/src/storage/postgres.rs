//! The production store: PostgreSQL.

use std::str::FromStr;

use app::error::StoreError;
use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};

use super::status_sql::impl_status_store;
use super::{ACQUIRE_TIMEOUT, Backend, OpenError, PoolStats, Store, store_error};
use crate::config::DatabaseUrl;
use crate::sessions::SessionBackend;

/// Embedded migrations for PostgreSQL. sqlx holds an advisory lock while migrating, so several processes starting
/// at once against one database migrate it exactly once.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

const MAX_CONNECTIONS: u32 = 10;

/// A store on a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pub(crate) pool: PgPool,
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
        Ok(Self { pool })
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
}

impl_status_store!(PostgresStore);

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(store_error)?;
        Ok(())
    }

    fn pool_stats(&self) -> PoolStats {
        PoolStats {
            size: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            max: MAX_CONNECTIONS,
        }
    }

    fn session_store(&self) -> SessionBackend {
        SessionBackend::postgres(self.pool.clone())
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}
