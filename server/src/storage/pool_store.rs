//! The parts of [`Store`](super::Store) that are the same for every sqlx pool.

/// Implements `Store` for a type with a `pool` field: `impl_store!(Type, Backend::X, SessionBackend::x, MAX)`.
macro_rules! impl_store {
    ($store:ty, $backend:expr, $sessions:path, $max_connections:expr, $wakeups:expr) => {
        #[async_trait::async_trait]
        impl $crate::storage::Store for $store {
            fn backend(&self) -> $crate::storage::Backend {
                $backend
            }

            async fn ping(&self) -> Result<(), app::error::StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await.map_err($crate::storage::store_error)?;
                Ok(())
            }

            fn pool_stats(&self) -> $crate::storage::PoolStats {
                $crate::storage::PoolStats {
                    size: self.pool.size(),
                    idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
                    max: $max_connections,
                }
            }

            fn session_store(&self) -> $crate::sessions::SessionBackend {
                $sessions(self.pool.clone())
            }

            async fn close(&self) {
                self.pool.close().await;
            }

            fn status_changes(&self) -> std::sync::Arc<tokio::sync::Notify> {
                std::sync::Arc::clone(&self.status_waker)
            }

            fn job_wakeups(&self) -> Option<futures_util::future::BoxFuture<'static, ()>> {
                let wakeups: fn(&Self) -> Option<futures_util::future::BoxFuture<'static, ()>> = $wakeups;
                wakeups(self)
            }
        }
    };
}

pub(crate) use impl_store;
