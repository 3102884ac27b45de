//! Routes that change who is signed in (they rotate the session id, which server functions cannot), and the
//! middleware that finds the signed-in user of each request and guards the pages that need one.

use std::sync::Arc;

use app::auth::model::{AccountNotice, SignInError};
use app::auth::ssr::{ActiveSession, AuthService, LinkOutcome, PENDING_JOIN_KEY, PendingJoin, User, UserSession};
use app::email::{EmailAddress, EmailError};
use app::error::{AppError, StoreError};
use app::ssr::{Authenticated, SessionCheckFailed, request_info_from};
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::{Expiry, Session};

use crate::oidc::{CallbackParams, OidcProviders, PendingFlow};

/// Session record key of the signed-in session's id (a `user_sessions` row).
pub const USER_SESSION_KEY: &str = "user_session";
/// Session record key of the role the session id was issued for; a different role rotates the id.
pub const ROLE_KEY: &str = "role";

/// Pages only signed-in users may see; anonymous visitors are sent to sign in. Admin pages also check the role in
/// their server functions, which answer 403 to other users.
const SIGNED_IN_PREFIXES: &[&str] = &["/account", "/signup", "/admin", "/applications", "/projects"];

fn needs_sign_in(path: &str) -> bool {
    SIGNED_IN_PREFIXES
        .iter()
        .any(|prefix| path.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/')))
}

/// `/signin` with an error for the visitor (a code the page turns into words), keeping what they typed.
fn back_to_sign_in(error: &SignInError, email: Option<&str>) -> Response {
    let mut target = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in error.to_query() {
        target.append_pair(key, &value);
    }
    if let Some(email) = email {
        target.append_pair("email", email);
    }
    Redirect::to(&format!("/signin?{}", target.finish())).into_response()
}

/// Records `user` as signed in on this browser: a new session id (so an id planted before sign-in is worthless),
/// holding the `user_sessions` row's id and the role.
pub async fn start_session(session: &Session, user: &User, user_session: &UserSession) -> Result<(), AppError> {
    let failed = |error: tower_sessions::session::Error| app::error::report_internal(&error);
    session.cycle_id().await.map_err(failed)?;
    session.insert(USER_SESSION_KEY, &user_session.id).await.map_err(failed)?;
    session.insert(ROLE_KEY, user.role.as_str()).await.map_err(failed)?;
    Ok(())
}

/// Where a newly signed-in user goes.
pub fn after_sign_in(user: &User) -> Redirect {
    Redirect::to(if user.needs_sign_up() { "/signup" } else { "/account" })
}

/// Form of `POST /auth/email`.
#[derive(Debug, Deserialize)]
pub struct EmailForm {
    email: String,
}

/// `POST /auth/email`: sends a sign-in link. Answers the same whether or not the address has an account.
pub async fn request_link(
    State(auth): State<Arc<AuthService>>,
    parts: Parts,
    form: Result<Form<EmailForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return back_to_sign_in(&SignInError::EmailMissing, None);
    };
    let typed = form.email.trim();
    let email = match EmailAddress::parse(typed) {
        Ok(email) => email,
        Err(EmailError::Empty) => return back_to_sign_in(&SignInError::EmailMissing, None),
        Err(EmailError::TooLong) => return back_to_sign_in(&SignInError::EmailTooLong, None),
        Err(EmailError::Malformed(_)) => return back_to_sign_in(&SignInError::EmailInvalid, Some(typed)),
    };
    match auth.request_link(&email, &request_info_from(&parts)).await {
        Ok(()) => Redirect::to("/signin/sent").into_response(),
        Err(error) => back_to_sign_in(&error, Some(typed)),
    }
}

/// Form of `POST /auth/email/verify`. `Debug` hides the token.
#[derive(Deserialize)]
pub struct TokenForm {
    token: String,
}

impl std::fmt::Debug for TokenForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenForm").field("token", &"********").finish()
    }
}

/// `POST /auth/email/verify`: uses a sign-in link and signs the browser in. A link that joins a provider identity
/// works only in the browser session that started that provider sign-in.
pub async fn use_link(
    State(auth): State<Arc<AuthService>>,
    session: Session,
    parts: Parts,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return back_to_sign_in(&SignInError::LinkIncomplete, None);
    };
    let pending = session.get::<PendingJoin>(PENDING_JOIN_KEY).await.ok().flatten();
    let signed_in = auth.sign_in_with_link(&form.token, pending.as_ref(), &request_info_from(&parts)).await;
    let (user, user_session, _) = match signed_in {
        Ok(signed_in) => signed_in,
        Err(error) => return back_to_sign_in(&error, None),
    };
    if pending.is_some() {
        let _ = session.remove::<PendingJoin>(PENDING_JOIN_KEY).await;
    }
    finish_sign_in(&auth, &parts, &session, &user, &user_session).await
}

/// `POST /auth/signout`: ends this browser's session.
pub async fn sign_out(State(auth): State<Arc<AuthService>>, session: Session, parts: Parts) -> Response {
    if let Some(current) = parts.extensions.get::<Authenticated>()
        && let Err(error) = auth.end_session(&current.user, &current.session.id, &request_info_from(&parts)).await
    {
        tracing::warn!(error = %app::error::cause_chain(&error), "cannot end the session row; the cookie is cleared anyway");
    }
    if let Err(error) = session.flush().await {
        tracing::warn!(error = %error, "cannot delete the session record");
    }
    Redirect::to("/").into_response()
}

/// `POST /auth/signout-everywhere`: ends every session of the signed-in user.
pub async fn sign_out_everywhere(State(auth): State<Arc<AuthService>>, session: Session, parts: Parts) -> Response {
    let Some(current) = parts.extensions.get::<Authenticated>() else { return Redirect::to("/signin").into_response() };
    if let Err(error) = auth.end_all_sessions(&current.user, &request_info_from(&parts)).await {
        return back_to_sign_in(&SignInError::from(error), None);
    }
    if let Err(error) = session.flush().await {
        tracing::warn!(error = %error, "cannot delete the session record");
    }
    Redirect::to("/").into_response()
}

/// Session record key of a provider sign-in in progress.
pub const FLOW_KEY: &str = "oidc_flow";

/// Form of `POST /auth/oidc/{id}/start`.
#[derive(Debug, Default, Deserialize)]
pub struct StartForm {
    /// `link` to link the provider to the signed-in account; otherwise a sign-in.
    #[serde(default)]
    intent: Option<String>,
}

/// `POST /auth/oidc/{id}/start`: sends the browser to the provider. A POST (checked for its origin like every
/// other) so that no other site can start a sign-in or a linking in this browser.
pub async fn oidc_start(
    State(oidc): State<Arc<OidcProviders>>,
    State(auth): State<Arc<AuthService>>,
    Path(id): Path<String>,
    session: Session,
    parts: Parts,
    form: Result<Form<StartForm>, FormRejection>,
) -> Response {
    let intent = form.map(|Form(form)| form).unwrap_or_default().intent;
    let link_user = match intent.as_deref() {
        Some("link") => match parts.extensions.get::<Authenticated>() {
            Some(current) => Some(current.user.id),
            None => return Redirect::to("/signin").into_response(),
        },
        _ => None,
    };
    if let Err(error) = auth.check_oidc_start(&request_info_from(&parts)) {
        return back_to_sign_in(&error, None);
    }
    match oidc.start(&id, link_user).await {
        Ok((url, flow)) => match session.insert(FLOW_KEY, flow).await {
            Ok(()) => Redirect::to(url.as_str()).into_response(),
            Err(error) => back_to_sign_in(&app::error::report_internal(&error).into(), None),
        },
        Err(error) => {
            tracing::warn!(provider = ?id, error = %app::error::cause_chain(&error), "cannot start a provider sign-in");
            back_to_sign_in(&error.sign_in_error(&id), None)
        }
    }
}

/// `GET /auth/oidc/{id}/callback`: the provider sends the browser back here.
pub async fn oidc_callback(
    State(oidc): State<Arc<OidcProviders>>,
    State(auth): State<Arc<AuthService>>,
    Path(id): Path<String>,
    Query(callback): Query<CallbackParams>,
    session: Session,
    parts: Parts,
) -> Response {
    // One use only: a replayed callback finds no flow.
    let flow = session.remove::<PendingFlow>(FLOW_KEY).await.ok().flatten();
    let link_user = flow.as_ref().and_then(|flow| flow.link_user);
    let identity = match oidc.finish(&id, flow, &callback).await {
        Ok(identity) => identity,
        Err(error) => {
            tracing::warn!(provider = ?id, error = %app::error::cause_chain(&error), "provider sign-in failed");
            return back_to_sign_in(&error.sign_in_error(&id), None);
        }
    };
    let request = request_info_from(&parts);
    if let Some(link_user) = link_user {
        // Linking was asked for (and confirmed) by this user, in this browser.
        let Some(current) = parts.extensions.get::<Authenticated>().filter(|current| current.user.id == link_user)
        else {
            return back_to_sign_in(&SignInError::FlowExpired, None);
        };
        let notice = match auth.link_identity(&current.user, &identity, &request).await {
            Ok(LinkOutcome::Linked) => AccountNotice::Linked,
            Ok(LinkOutcome::AlreadyLinked) => AccountNotice::AlreadyLinked,
            Ok(LinkOutcome::OwnedByAnother) => AccountNotice::OwnedByAnother,
            Err(error) => return back_to_sign_in(&error.into(), None),
        };
        return to_account_with(notice, &id);
    }
    match auth.try_sign_in(&identity, &request).await {
        Ok(Some((user, user_session, _))) => finish_sign_in(&auth, &parts, &session, &user, &user_session).await,
        Ok(None) => {
            // The verified address belongs to another account: only proof of that account may join them.
            let pending = match auth.request_join_link(&identity, oidc.display_name(&id), &request).await {
                Ok(pending) => pending,
                Err(error) => return back_to_sign_in(&error, None),
            };
            if let Err(error) = session.insert(PENDING_JOIN_KEY, &pending).await {
                return back_to_sign_in(&app::error::report_internal(&error).into(), None);
            }
            Redirect::to("/signin/link-account").into_response()
        }
        Err(error) => back_to_sign_in(&error, None),
    }
}

/// Starts the new session in this browser; a session the browser already had is ended, not left behind.
async fn finish_sign_in(
    auth: &AuthService,
    parts: &Parts,
    session: &Session,
    user: &User,
    user_session: &UserSession,
) -> Response {
    if let Some(previous) = parts.extensions.get::<Authenticated>()
        && let Err(error) = auth.end_session(&previous.user, &previous.session.id, &request_info_from(parts)).await
    {
        tracing::warn!(error = %app::error::cause_chain(&error), "cannot end the session this sign-in replaces");
    }
    match start_session(session, user, user_session).await {
        // Somebody who still has to sign up keeps the page to return to until sign-up is complete.
        Ok(()) if !user.needs_sign_up() => match app::auth::ssr::take_return_path(session).await {
            Some(path) => Redirect::to(&path).into_response(),
            None => after_sign_in(user).into_response(),
        },
        Ok(()) => after_sign_in(user).into_response(),
        Err(error) => back_to_sign_in(&error.into(), None),
    }
}

fn to_account_with(notice: AccountNotice, provider: &str) -> Response {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("notice", notice.code()).append_pair("provider", provider);
    Redirect::to(&format!("/account?{}", query.finish())).into_response()
}

/// Middleware: puts the signed-in user of the request (if any) into its extensions as [`Authenticated`], rotates
/// the session id when the user's role changed since it was issued, and sends anonymous visitors of pages that
/// need a user to `/signin`.
pub async fn resolve_user(
    State(auth): State<Arc<AuthService>>,
    session: Session,
    mut request: Request,
    next: Next,
) -> Response {
    let session_id = match session.get::<String>(USER_SESSION_KEY).await {
        Ok(id) => id,
        Err(error) => {
            // Most likely the database is away; pages that need a user say so (with a reference in the log).
            let error = AppError::from(StoreError::Unavailable(Box::new(error)));
            request.extensions_mut().insert(SessionCheckFailed(error));
            return next.run(request).await;
        }
    };
    if let Some(session_id) = session_id {
        match auth.session_user(&session_id).await {
            Ok(Some(ActiveSession { user, session: user_session, touched })) => {
                if touched {
                    // The browser session's expiry counts from the last request, not from sign-in: re-saving the
                    // record moves it (and re-sends the cookie with a fresh Max-Age).
                    session
                        .set_expiry(Some(Expiry::OnInactivity(crate::sessions::cookie_duration(auth.session_idle()))));
                }
                let issued_for = session.get::<String>(ROLE_KEY).await.ok().flatten();
                if issued_for.as_deref() != Some(user.role.as_str()) {
                    // Privileges changed since sign-in: a fresh id, so any copy of the old one gains nothing.
                    let rotated = async {
                        session.cycle_id().await?;
                        session.insert(ROLE_KEY, user.role.as_str()).await
                    };
                    if let Err(error) = rotated.await {
                        tracing::warn!(error = %error, "cannot rotate the session id after a role change");
                    }
                }
                request.extensions_mut().insert(Authenticated { user, session: user_session });
            }
            Ok(None) => {
                // Ended elsewhere, expired, or the account was disabled.
                let _ = session.flush().await;
            }
            Err(error) => {
                // Sending them to sign in would not help; the page itself explains the outage.
                request.extensions_mut().insert(SessionCheckFailed(error));
                return next.run(request).await;
            }
        }
    }
    let anonymous = request.extensions().get::<Authenticated>().is_none();
    if anonymous && needs_sign_in(request.uri().path()) && request.method() == axum::http::Method::GET {
        return Redirect::to("/signin").into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guarded_paths_match_whole_segments() {
        assert!(needs_sign_in("/account"));
        assert!(needs_sign_in("/admin/users"));
        assert!(!needs_sign_in("/accounts-help"));
        assert!(!needs_sign_in("/status"));
        assert!(!needs_sign_in("/signin"));
    }
}
