//! What server functions read from the request context, and how they turn errors into responses.

use std::net::SocketAddr;
use std::sync::Arc;

use leptos::prelude::use_context;

use crate::auth::model::{AccountView, IdentityView, ProviderLink, SessionView};
use crate::auth::ssr::{AuthService, RequestInfo, User, UserSession};
use crate::error::{AppError, report_internal};
use crate::status::ssr::StatusService;

/// Services shared by every request; provided to server functions through Leptos context.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The public status content.
    pub status: Arc<StatusService>,
    /// Status subscriptions and webhooks.
    pub notifications: Arc<crate::status::notifications::ssr::NotificationService>,
    /// Feedback from users.
    pub feedback: Arc<crate::feedback::ssr::FeedbackService>,
    /// Accounts and sign-in.
    pub auth: Arc<AuthService>,
    /// Access applications and the admins' queue.
    pub applications: Arc<crate::applications::ssr::ApplicationService>,
    /// Projects and their provisioning.
    pub projects: Arc<crate::projects::ssr::ProjectService>,
    /// Usage, the ledger and what projects cost.
    pub billing: Arc<crate::billing::ssr::BillingService>,
    /// The admins' view of background jobs.
    pub jobs: Arc<crate::jobs::ssr::JobAdminService>,
    /// Identity providers offered on the sign-in page.
    pub providers: Vec<ProviderLink>,
}

/// The signed-in user of a request and their session; the server's session middleware puts it in the request's
/// extensions after checking the session against the database.
#[derive(Clone, Debug)]
pub struct Authenticated {
    /// Who.
    pub user: User,
    /// Which session.
    pub session: UserSession,
}

/// Put in a request's extensions when the signed-in user could not be looked up (the database is away): pages
/// that need a user then say so instead of asking the visitor to sign in.
#[derive(Clone, Debug)]
pub struct SessionCheckFailed(pub AppError);

#[derive(Debug, thiserror::Error)]
#[error("AppState is missing from the Leptos context")]
struct MissingAppState;

/// The [`AppState`] of this request.
pub fn app_state() -> Result<AppState, AppError> {
    use_context::<AppState>().ok_or_else(|| report_internal(&MissingAppState))
}

/// The signed-in user of this request, if any.
pub fn authenticated() -> Option<Authenticated> {
    use_context::<http::request::Parts>().and_then(|parts| parts.extensions.get::<Authenticated>().cloned())
}

/// The client's address, as the server's proxy-aware middleware found it (from `X-Forwarded-For` or `Forwarded`
/// when the request came through a trusted proxy, else the socket's peer); put in each request's extensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddress(pub std::net::IpAddr);

/// Client address and browser of this request.
pub fn request_info() -> RequestInfo {
    let Some(parts) = use_context::<http::request::Parts>() else { return RequestInfo::default() };
    request_info_from(&parts)
}

/// Client address and browser from request parts.
pub fn request_info_from(parts: &http::request::Parts) -> RequestInfo {
    RequestInfo {
        ip: parts
            .extensions
            .get::<ClientAddress>()
            .map(|client| client.0)
            .or_else(|| parts.extensions.get::<axum::extract::ConnectInfo<SocketAddr>>().map(|info| info.0.ip())),
        user_agent: parts
            .headers
            .get(http::header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned),
    }
}

/// State, user and request of a server function that needs a signed-in user; answers 401 otherwise (or 503 when
/// the user could not be looked up).
pub fn signed_in() -> Result<(AppState, Authenticated, RequestInfo), AppError> {
    let state = app_state()?;
    let auth = authenticated().ok_or_else(|| {
        let failed = use_context::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<SessionCheckFailed>().map(|failed| failed.0.clone()));
        respond_with_error(failed.unwrap_or(AppError::Unauthenticated))
    })?;
    Ok((state, auth, request_info()))
}

/// Like [`signed_in`], for admins only: answers 403 to other users.
pub fn signed_in_admin() -> Result<(AppState, Authenticated, RequestInfo), AppError> {
    let (state, auth, request) = signed_in()?;
    crate::auth::ssr::require_admin(&auth.user).map_err(respond_with_error)?;
    Ok((state, auth, request))
}

/// The display name of provider `id` (`E-mail link` for `email`, the id itself for a provider no longer
/// configured).
pub fn provider_name(state: &AppState, id: &str) -> String {
    if id == "email" {
        return "E-mail link".to_owned();
    }
    state.providers.iter().find(|p| p.id == id).map_or_else(|| id.to_owned(), |p| p.display_name.clone())
}

/// The provider sign-in of this request's browser session that waits for its e-mail proof, if any.
pub async fn pending_join() -> Option<crate::auth::ssr::PendingJoin> {
    browser_session()?.get(crate::auth::ssr::PENDING_JOIN_KEY).await.ok().flatten()
}

/// Remembers `path` (a path on this site) as the page this browser goes to once it has signed in.
pub async fn return_after_sign_in(path: &str) {
    if let (Some(session), Some(path)) = (browser_session(), crate::auth::ssr::local_path(path))
        && let Err(error) = session.insert(crate::auth::ssr::RETURN_TO_KEY, path).await
    {
        tracing::warn!(%error, "cannot remember where to go after sign-in");
    }
}

/// The page remembered by [`return_after_sign_in`], forgotten as it is read.
pub async fn take_return_path() -> Option<String> {
    crate::auth::ssr::take_return_path(&browser_session()?).await
}

/// This request's browser session (the server's session layer puts it in the request's extensions).
pub fn browser_session() -> Option<tower_sessions::Session> {
    let parts = use_context::<http::request::Parts>()?;
    parts.extensions.get::<tower_sessions::Session>().cloned()
}

/// The account page's data.
pub async fn account_view(state: &AppState, auth: &Authenticated) -> Result<AccountView, AppError> {
    let store = state.auth.store();
    let identities = store.identities(auth.user.id).await?;
    let sessions = store.user_sessions(auth.user.id).await?;
    let provider_name = |id: &str| provider_name(state, id);
    Ok(AccountView {
        viewer: auth.user.viewer(),
        organisation: auth.user.organisation.clone(),
        terms: auth.user.terms.clone(),
        identities: identities
            .into_iter()
            .map(|identity| IdentityView {
                provider_name: provider_name(&identity.provider),
                provider: identity.provider,
                email: identity.email,
                last_sign_in_at: identity.last_sign_in_at,
            })
            .collect(),
        sessions: sessions
            .into_iter()
            .map(|session| SessionView {
                current: session.id == auth.session.id,
                id: session.id,
                created_at: session.created_at,
                last_seen_at: session.last_seen_at,
                ip: session.ip,
                user_agent: session.user_agent,
            })
            .collect(),
    })
}

/// Converts `error` into the user-facing error and sets the response status to match, except for a form posted
/// without JavaScript: that one is answered with a redirect back to the form, carrying the error, which a status
/// set here would replace.
pub fn respond_with_error(error: impl Into<AppError>) -> AppError {
    let error = error.into();
    if is_plain_form_post() {
        return error;
    }
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        let status = http::StatusCode::from_u16(error.status_code()).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        response.set_status(status);
    }
    error
}

/// Whether this request is a form posted by the browser itself (without JavaScript): it is answered with a redirect.
pub fn is_plain_form_post() -> bool {
    use_context::<http::request::Parts>().is_some_and(|parts| {
        parts.method == http::Method::POST
            && parts
                .headers
                .get(http::header::ACCEPT)
                .and_then(|accept| accept.to_str().ok())
                .is_some_and(|accept| accept.contains("text/html"))
    })
}
