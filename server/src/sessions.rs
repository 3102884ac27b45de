//! Browser sessions: tower-sessions over the same database as everything else.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::{PgPool, SqlitePool};
use tower_sessions::cookie::SameSite;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};
use tower_sessions::{Expiry, SessionManagerLayer};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

/// Name of the session cookie.
pub const COOKIE_NAME: &str = "berth_session";
/// How often expired sessions are deleted.
pub const CLEANUP_PERIOD: Duration = Duration::from_secs(10 * 60);
/// The table migrations create for sessions (see `migrations/*/…_status_and_sessions.sql`).
const TABLE: &str = "sessions";

/// The session store of the configured backend.
#[derive(Debug, Clone)]
pub enum SessionBackend {
    /// Sessions in SQLite.
    Sqlite(SqliteStore),
    /// Sessions in PostgreSQL.
    Postgres(PostgresStore),
}

impl SessionBackend {
    /// Sessions in the `sessions` table of an SQLite database.
    pub fn sqlite(pool: SqlitePool) -> Self {
        Self::Sqlite(SqliteStore::new(pool).with_table_name(TABLE).expect("`sessions` is a valid table name"))
    }

    /// Sessions in the `public.sessions` table of a PostgreSQL database.
    pub fn postgres(pool: PgPool) -> Self {
        Self::Postgres(
            PostgresStore::new(pool)
                .with_schema_name("public")
                .and_then(|store| store.with_table_name(TABLE))
                .expect("`public.sessions` is a valid table name"),
        )
    }
}

#[async_trait]
impl SessionStore for SessionBackend {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            Self::Sqlite(store) => store.create(record).await,
            Self::Postgres(store) => store.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            Self::Sqlite(store) => store.save(record).await,
            Self::Postgres(store) => store.save(record).await,
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            Self::Sqlite(store) => store.load(id).await,
            Self::Postgres(store) => store.load(id).await,
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match self {
            Self::Sqlite(store) => store.delete(id).await,
            Self::Postgres(store) => store.delete(id).await,
        }
    }
}

#[async_trait]
impl ExpiredDeletion for SessionBackend {
    async fn delete_expired(&self) -> session_store::Result<()> {
        match self {
            Self::Sqlite(store) => store.delete_expired().await,
            Self::Postgres(store) => store.delete_expired().await,
        }
    }
}

/// The session layer: HttpOnly, SameSite=Lax, Secure when the site is served over https, expiry after `idle`
/// without a request.
pub fn layer<S: SessionStore + Clone>(store: S, secure: bool, idle: Duration) -> SessionManagerLayer<S> {
    SessionManagerLayer::new(store)
        .with_name(COOKIE_NAME)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(cookie_duration(idle)))
}

/// `idle` as the cookie library's duration.
pub fn cookie_duration(idle: Duration) -> tower_sessions::cookie::time::Duration {
    tower_sessions::cookie::time::Duration::try_from(idle).unwrap_or(tower_sessions::cookie::time::Duration::HOUR)
}

/// Deletes expired sessions every [`CLEANUP_PERIOD`] until the task is aborted.
pub async fn delete_expired_forever(store: SessionBackend) {
    let mut ticks = tokio::time::interval(CLEANUP_PERIOD);
    loop {
        ticks.tick().await;
        match store.delete_expired().await {
            Ok(()) => tracing::debug!("expired sessions deleted"),
            Err(error) => tracing::warn!(error = %error, "deleting expired sessions failed; will retry"),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;
    use tower_sessions::{MemoryStore, Session};

    async fn set_cookie_for(secure: bool) -> String {
        // The in-memory store stands in for the database here: this checks only the cookie flags, which do not
        // depend on the store. The database stores are tested against both backends in tests/api.
        let layer = super::layer(MemoryStore::default(), secure, std::time::Duration::from_secs(3600));
        let app = Router::new()
            .route(
                "/",
                get(|session: Session| async move { session.insert("k", 1).await.map_err(|_| 500u16.to_string()) }),
            )
            .layer(layer);
        let response = app.oneshot(axum::http::Request::get("/").body(Body::empty()).unwrap()).await.unwrap();
        response.headers()["set-cookie"].to_str().unwrap().to_owned()
    }

    #[tokio::test]
    async fn cookies_are_http_only_and_lax_and_secure_only_on_https() {
        let plain = set_cookie_for(false).await;
        assert!(plain.starts_with("berth_session="), "{plain}");
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Lax"), "{plain}");
        assert!(!plain.contains("Secure"), "{plain}");
        assert!(set_cookie_for(true).await.contains("Secure"));
    }
}
