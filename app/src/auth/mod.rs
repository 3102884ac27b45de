//! Signing in and up, the account page, and who the visitor is.
//!
//! Forms that change the session (asking for an e-mail link, using it, signing out) post to plain routes in
//! `server` (`/auth/...`), because they rotate the session; forms that change data call server functions.
//! All of them work without JavaScript.

pub mod model;
#[cfg(feature = "ssr")]
pub mod ssr;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::components::ErrorNotice;
use crate::error::AppError;
use model::{AccountView, ProviderLink, Viewer};

/// The signed-in visitor, if any.
#[server(prefix = "/api", endpoint = "viewer")]
pub async fn get_viewer() -> Result<Option<Viewer>, AppError> {
    Ok(crate::ssr::authenticated().map(|auth| auth.user.viewer()))
}

/// The ways to sign in.
#[server(prefix = "/api", endpoint = "providers")]
pub async fn get_providers() -> Result<Vec<ProviderLink>, AppError> {
    Ok(crate::ssr::app_state()?.providers.clone())
}

/// Completes sign-up for the signed-in user, then goes to the account page.
#[server(prefix = "/api", endpoint = "complete_sign_up")]
pub async fn complete_sign_up(
    name: String,
    organisation: String,
    accept_terms: Option<String>,
) -> Result<(), AppError> {
    let (state, auth, request) = crate::ssr::signed_in()?;
    state
        .auth
        .complete_sign_up(&auth.user, &name, &organisation, accept_terms.is_some(), &request)
        .await
        .map_err(crate::ssr::respond_with_error)?;
    leptos_axum::redirect("/account");
    Ok(())
}

/// What the account page shows.
#[server(prefix = "/api", endpoint = "account")]
pub async fn get_account() -> Result<AccountView, AppError> {
    let (state, auth, _) = crate::ssr::signed_in()?;
    crate::ssr::account_view(&state, &auth).await.map_err(crate::ssr::respond_with_error)
}

/// Changes the signed-in user's name and organisation.
#[server(prefix = "/api", endpoint = "update_profile")]
pub async fn update_profile(name: String, organisation: String) -> Result<(), AppError> {
    let (state, auth, request) = crate::ssr::signed_in()?;
    state.auth.update_profile(&auth.user, &name, &organisation, &request).await.map_err(crate::ssr::respond_with_error)
}

/// Signs one of the user's other sessions out.
#[server(prefix = "/api", endpoint = "end_session")]
pub async fn end_session(session_id: String) -> Result<(), AppError> {
    let (state, auth, request) = crate::ssr::signed_in()?;
    state.auth.end_session(&auth.user, &session_id, &request).await.map_err(crate::ssr::respond_with_error)?;
    Ok(())
}

/// `/signin`: e-mail link form and provider buttons.
#[component]
pub fn SignInPage() -> impl IntoView {
    let query = use_query_map();
    let error = move || query.read().get("error");
    let email = move || query.read().get("email").unwrap_or_default();
    let providers = Resource::new_blocking(|| (), |()| get_providers());
    view! {
        <Title text="Sign in"/>
        <h1>"Sign in or sign up"</h1>
        <section aria-labelledby="email-heading" class="card">
            <h2 id="email-heading">"With an e-mail link"</h2>
            <p>"We will send you a link that signs you in. It works once, for 15 minutes. New here? The same link creates your account."</p>
            <form method="post" action="/auth/email" class="stack">
                <label for="email">"E-mail address"</label>
                <input id="email" name="email" type="email" autocomplete="email" required=true
                    value=email
                    aria-invalid=move || error().map(|_| "true")
                    aria-describedby=move || error().map(|_| "email-error")/>
                {move || error().map(|message| view! { <p id="email-error" class="field-error">{message}</p> })}
                <button type="submit">"Send me a sign-in link"</button>
            </form>
        </section>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match providers.await {
                    Ok(list) if !list.is_empty() => view! {
                        <section aria-labelledby="providers-heading" class="card">
                            <h2 id="providers-heading">"With your organisation's account"</h2>
                            <ul class="providers">
                                {list.into_iter().map(|provider| view! {
                                    <li><a class="button" rel="external" href=format!("/auth/oidc/{}/start", provider.id)>
                                        {format!("Sign in with {}", provider.display_name)}
                                    </a></li>
                                }).collect_view()}
                            </ul>
                        </section>
                    }.into_any(),
                    Ok(_) => ().into_any(),
                    Err(error) => view! { <ErrorNotice error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// `/signin/sent`: the link is on its way.
#[component]
pub fn LinkSentPage() -> impl IntoView {
    view! {
        <Title text="Check your e-mail"/>
        <h1>"Check your e-mail"</h1>
        <p>"If the address can receive mail, a sign-in link is on its way. It works once, for 15 minutes."</p>
        <p>"Nothing arrived? Check your spam folder, or " <a href="/signin">"ask for a new link"</a> "."</p>
    }
}

/// `/signin/link?token=…`: confirms before using the link, so that mail scanners that open links cannot use it up.
#[component]
pub fn ConfirmLinkPage() -> impl IntoView {
    let query = use_query_map();
    let token = move || query.read().get("token").unwrap_or_default();
    let error = move || query.read().get("error");
    view! {
        <Title text="Sign in"/>
        <h1>"Sign in to Berth"</h1>
        {move || error().map(|message| view! { <div class="notice notice-error" role="alert"><p>{message}</p></div> })}
        <form method="post" action="/auth/email/verify" class="stack">
            <input type="hidden" name="token" value=token/>
            <button type="submit">"Sign in"</button>
        </form>
        <p><a href="/signin">"Ask for a new link"</a></p>
    }
}

/// `/signin/link-account?provider=…&email=…`: a provider vouched for an address that already has an account; asks
/// before joining them. (The identity itself waits in the session; the query only names it.)
#[component]
pub fn LinkAccountPage() -> impl IntoView {
    let query = use_query_map();
    let provider = move || query.read().get("provider").unwrap_or_else(|| "your provider".into());
    let email = move || query.read().get("email").unwrap_or_default();
    view! {
        <Title text="Link your sign-in"/>
        <h1>"You already have an account"</h1>
        <p>
            "A Berth account with the address " <strong>{email}</strong> " already exists. " {provider}
            " confirmed that this address is yours. Do you want to sign in to that account with " {provider}
            " from now on?"
        </p>
        <form method="post" action="/auth/oidc/link" class="stack">
            <button type="submit">"Yes, link and sign in"</button>
        </form>
        <p><a href="/signin">"No, go back"</a></p>
    }
}

/// `/signup`: name, organisation and the terms of use, asked once after the first sign-in.
#[component]
pub fn SignUpPage() -> impl IntoView {
    let action = ServerAction::<CompleteSignUp>::new();
    // Someone accepting changed terms has a name and organisation already.
    let account = Resource::new_blocking(|| (), |()| get_account());
    let error = move || action.value().get().and_then(Result::err);
    let field_error = move |field: &'static str| move || error().and_then(|error| error.for_field(field));
    let other_error = move || {
        error().filter(|error| !["name", "organisation", "accept_terms"].iter().any(|f| error.for_field(f).is_some()))
    };
    view! {
        <Title text="Complete your sign-up"/>
        <h1>"Complete your sign-up"</h1>
        <p>"Tell us who you are. Admins see this when they review your applications."</p>
        {move || other_error().map(|error| view! { <ErrorNotice error/> })}
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let (name, organisation) = account
                    .await
                    .map(|account| {
                        (account.viewer.display_name.unwrap_or_default(), account.organisation.unwrap_or_default())
                    })
                    .unwrap_or_default();
                view! {
                    <ActionForm action attr:class="stack">
                        <Field name="name" label="Your name" autocomplete="name" value=name
                            error=Signal::derive(field_error("name"))/>
                        <Field name="organisation" label="Organisation" autocomplete="organization" value=organisation
                            error=Signal::derive(field_error("organisation"))/>
                        <div class="checkbox">
                            <input id="accept_terms" name="accept_terms" type="checkbox" value="yes"
                                aria-describedby="accept_terms-error"/>
                            <label for="accept_terms">
                                "I accept the " <a href="/terms">"terms of use"</a>
                                {format!(" (version {})", model::TERMS_VERSION)}
                            </label>
                        </div>
                        {move || field_error("accept_terms")().map(|message| view! {
                            <p id="accept_terms-error" class="field-error">{message}</p>
                        })}
                        <button type="submit">"Continue"</button>
                    </ActionForm>
                }
            })}
        </Suspense>
    }
}

#[component]
fn Field(
    name: &'static str,
    label: &'static str,
    autocomplete: &'static str,
    #[prop(into)] error: Signal<Option<String>>,
    #[prop(optional, into)] value: String,
) -> impl IntoView {
    let error_id = format!("{name}-error");
    view! {
        <label for=name>{label}</label>
        <input id=name name=name type="text" autocomplete=autocomplete required=true maxlength="100" value=value
            aria-invalid=move || error.get().map(|_| "true")
            aria-describedby=error_id.clone()/>
        {move || error.get().map(|message| view! { <p id=error_id.clone() class="field-error">{message}</p> })}
    }
}

/// `/account`: profile, linked identities and sessions.
#[component]
pub fn AccountPage() -> impl IntoView {
    let end = ServerAction::<EndSession>::new();
    let profile = ServerAction::<UpdateProfile>::new();
    let account = Resource::new_blocking(move || (end.version().get(), profile.version().get()), |_| get_account());
    let providers = Resource::new_blocking(|| (), |()| get_providers());
    let query = use_query_map();
    let notice = move || query.read().get("notice");
    view! {
        <Title text="Your account"/>
        <h1>"Your account"</h1>
        {move || notice().map(|notice| view! { <div class="notice" role="status"><p>{notice}</p></div> })}
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let providers = providers.await.unwrap_or_default();
                match account.await {
                    Ok(account) => view! { <AccountDetails account end profile providers/> }.into_any(),
                    Err(error) => view! { <ErrorNotice error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn AccountDetails(
    account: AccountView,
    end: ServerAction<EndSession>,
    profile: ServerAction<UpdateProfile>,
    providers: Vec<ProviderLink>,
) -> impl IntoView {
    let AccountView { viewer, organisation, terms, identities, sessions } = account;
    let error = move || profile.value().get().and_then(Result::err);
    let field_error = move |field: &'static str| move || error().and_then(|error| error.for_field(field));
    let saved = move || matches!(profile.value().get(), Some(Ok(())));
    let unlinked: Vec<ProviderLink> =
        providers.into_iter().filter(|p| !identities.iter().any(|identity| identity.provider == p.id)).collect();
    view! {
        <section aria-labelledby="profile-heading" class="card">
            <h2 id="profile-heading">"Profile"</h2>
            <dl class="facts">
                <dt>"E-mail"</dt><dd>{viewer.email.unwrap_or_else(|| "—".into())}</dd>
                <dt>"Role"</dt><dd>{viewer.role.as_str()}</dd>
                <dt>"Terms of use"</dt>
                <dd>{terms.map_or_else(|| "not accepted".to_owned(), |(version, at)| format!("version {version}, accepted {}", at.format("%-d %B %Y")))}</dd>
            </dl>
            <ActionForm action=profile attr:class="stack">
                <Field name="name" label="Name" autocomplete="name" value=viewer.display_name.unwrap_or_default()
                    error=Signal::derive(field_error("name"))/>
                <Field name="organisation" label="Organisation" autocomplete="organization"
                    value=organisation.unwrap_or_default() error=Signal::derive(field_error("organisation"))/>
                <button type="submit">"Save profile"</button>
                {move || saved().then(|| view! { <p role="status">"Saved."</p> })}
            </ActionForm>
        </section>
        <section aria-labelledby="identities-heading" class="card">
            <h2 id="identities-heading">"Ways to sign in"</h2>
            <ul>
                {identities.into_iter().map(|identity| view! {
                    <li>{identity.provider_name} {identity.email.map(|email| format!(" ({email})"))}</li>
                }).collect_view()}
            </ul>
            {(!unlinked.is_empty()).then(|| view! {
                <p>"Add another way to sign in:"</p>
                <ul class="providers">
                    {unlinked.into_iter().map(|provider| view! {
                        <li><a class="button" rel="external" href=format!("/auth/oidc/{}/start", provider.id)>
                            {format!("Link {}", provider.display_name)}
                        </a></li>
                    }).collect_view()}
                </ul>
            })}
        </section>
        <section aria-labelledby="sessions-heading" class="card">
            <h2 id="sessions-heading">"Where you are signed in"</h2>
            <ul class="sessions">
                {sessions.into_iter().map(|session| {
                    let id = session.id.clone();
                    view! {
                        <li>
                            <span>{session.user_agent.unwrap_or_else(|| "Unknown browser".into())}</span>
                            " · " {session.ip.unwrap_or_default()}
                            " · since " {session.created_at.format("%-d %B %Y %H:%M UTC").to_string()}
                            {if session.current {
                                view! { <strong>" (this browser)"</strong> }.into_any()
                            } else {
                                view! {
                                    <ActionForm action=end attr:class="inline">
                                        <input type="hidden" name="session_id" value=id/>
                                        <button type="submit">"Sign out there"</button>
                                    </ActionForm>
                                }.into_any()
                            }}
                        </li>
                    }
                }).collect_view()}
            </ul>
            <form method="post" action="/auth/signout-everywhere">
                <button type="submit">"Sign out everywhere"</button>
            </form>
        </section>
    }
}

/// The header's sign-in link, or the signed-in user with a sign-out button.
#[component]
pub fn ViewerMenu() -> impl IntoView {
    // Asked again after each navigation: completing sign-up or editing the profile changes what it shows.
    let pathname = leptos_router::hooks::use_location().pathname;
    let viewer = Resource::new_blocking(move || pathname.get(), |_| get_viewer());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match viewer.await {
                    Ok(Some(viewer)) => view! {
                        {(viewer.role == model::Role::Admin).then(|| view! { <a href="/admin" class="viewer">"Admin"</a> })}
                        <a href="/account" class="viewer">{viewer.display_name.or(viewer.email).unwrap_or_else(|| "Account".into())}</a>
                        <form method="post" action="/auth/signout" class="inline">
                            <button type="submit" class="link-button">"Sign out"</button>
                        </form>
                    }.into_any(),
                    _ => view! { <a href="/signin" class="viewer">"Sign in"</a> }.into_any(),
                }
            })}
        </Suspense>
    }
}
