//! Routes that change who is signed in (they rotate the session id, which server functions cannot), and the
//! middleware that finds the signed-in user of each request and guards the pages that need one.

use std::sync::Arc;

use app::auth::ssr::{AuthService, User, UserSession};
use app::error::AppError;
use app::ssr::{Authenticated, request_info_from};
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

/// Session record key of the signed-in session's id (a `user_sessions` row).
pub const USER_SESSION_KEY: &str = "user_session";
/// Session record key of the role the session id was issued for; a different role rotates the id.
pub const ROLE_KEY: &str = "role";

/// Pages only signed-in users may see; anonymous visitors are sent to sign in. Admin pages also check the role in
/// their server functions, which answer 403 to other users.
const SIGNED_IN_PREFIXES: &[&str] = &["/account", "/signup", "/admin"];

fn needs_sign_in(path: &str) -> bool {
    SIGNED_IN_PREFIXES
        .iter()
        .any(|prefix| path.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/')))
}

/// `/signin` with a message for the visitor, keeping what they typed.
fn back_to_sign_in(message: &str, email: Option<&str>) -> Response {
    let mut target = url::form_urlencoded::Serializer::new(String::new());
    target.append_pair("error", message);
    if let Some(email) = email {
        target.append_pair("email", email);
    }
    Redirect::to(&format!("/signin?{}", target.finish())).into_response()
}

/// The message a visitor sees for `error`; server faults were already logged with their reference.
fn visitor_message(error: &AppError) -> String {
    match error {
        AppError::Invalid { message, .. } => message.clone(),
        other => other.to_string(),
    }
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
    Redirect::to(if user.terms.is_none() { "/signup" } else { "/account" })
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
        return back_to_sign_in("Enter your e-mail address.", None);
    };
    match auth.request_link(&form.email, &request_info_from(&parts)).await {
        Ok(()) => Redirect::to("/signin/sent").into_response(),
        Err(error) => back_to_sign_in(&visitor_message(&error), Some(form.email.trim())),
    }
}

/// Form of `POST /auth/email/verify`.
#[derive(Debug, Deserialize)]
pub struct TokenForm {
    token: String,
}

/// `POST /auth/email/verify`: uses a sign-in link and signs the browser in.
pub async fn use_link(
    State(auth): State<Arc<AuthService>>,
    session: Session,
    parts: Parts,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return back_to_sign_in("This sign-in link is incomplete. Ask for a new one.", None);
    };
    let signed_in = auth.sign_in_with_link(&form.token, &request_info_from(&parts)).await;
    let (user, user_session, _) = match signed_in {
        Ok(signed_in) => signed_in,
        Err(error) => return back_to_sign_in(&visitor_message(&error), None),
    };
    match start_session(&session, &user, &user_session).await {
        Ok(()) => after_sign_in(&user).into_response(),
        Err(error) => back_to_sign_in(&visitor_message(&error), None),
    }
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
        return back_to_sign_in(&visitor_message(&error), None);
    }
    if let Err(error) = session.flush().await {
        tracing::warn!(error = %error, "cannot delete the session record");
    }
    Redirect::to("/").into_response()
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
            tracing::warn!(error = %error, "cannot load the session record; treating the visitor as anonymous");
            None
        }
    };
    if let Some(session_id) = session_id {
        match auth.session_user(&session_id).await {
            Ok(Some((user, user_session))) => {
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
                tracing::warn!(error = %app::error::cause_chain(&error), "cannot check the session; treating the visitor as anonymous");
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
