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
use model::{AccountNotice, AccountView, LinkPreview, PendingJoinView, ProviderLink, SignInError, Viewer};

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

/// What the page behind an e-mail link shows before it is used; `None` when the link cannot be used.
#[server(prefix = "/api", endpoint = "link_preview")]
pub async fn get_link_preview(token: String) -> Result<Option<LinkPreview>, AppError> {
    let state = crate::ssr::app_state()?;
    let preview = state.auth.link_preview(&token).await.map_err(crate::ssr::respond_with_error)?;
    Ok(preview.map(|(masked_email, joins)| LinkPreview {
        masked_email,
        joins_provider: joins.map(|id| crate::ssr::provider_name(&state, &id)),
    }))
}

/// The provider sign-in of this browser that waits for its e-mail proof, if any.
#[server(prefix = "/api", endpoint = "pending_join")]
pub async fn get_pending_join() -> Result<Option<PendingJoinView>, AppError> {
    let state = crate::ssr::app_state()?;
    let pending = crate::ssr::pending_join().await;
    Ok(pending.map(|pending| PendingJoinView {
        provider: crate::ssr::provider_name(&state, &pending.provider),
        masked_email: model::mask_email(&pending.email),
    }))
}

/// Completes sign-up for the signed-in user, then goes to the account page (or back to the invitation that brought
/// them).
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
    // Back to the invitation that brought them here, if one did.
    let target = crate::ssr::take_return_path().await.unwrap_or_else(|| "/account".to_owned());
    leptos_axum::redirect(&target);
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

/// How long a sign-in link works, as pages say it.
pub const LINK_MINUTES: u32 = 10;

/// The sign-in error in the current query, if any (codes only; see [`SignInError`]).
fn query_error() -> impl Fn() -> Option<SignInError> + Copy {
    let query = use_query_map();
    move || query.with(|query| SignInError::from_query(|key| query.get(key)))
}

/// `/signin`: e-mail link form and provider buttons.
#[component]
pub fn SignInPage() -> impl IntoView {
    let query = use_query_map();
    let error = query_error();
    let email = move || query.read().get("email").unwrap_or_default();
    let providers = Resource::new_blocking(|| (), |()| get_providers());
    let message = move |list: &[ProviderLink]| {
        error().map(|error| error.message(|id| list.iter().find(|p| p.id == id).map(|p| p.display_name.clone())))
    };
    let field_error = move || error().filter(SignInError::is_about_the_email_field);
    view! {
        <Title text="Sign in"/>
        <h1>"Sign in or sign up"</h1>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let list = providers.await.unwrap_or_default();
                error()
                    .filter(|error| !error.is_about_the_email_field())
                    .and_then(|_| message(&list))
                    .map(|message| view! { <div class="notice notice-error" role="alert"><p>{message}</p></div> })
            })}
        </Suspense>
        <section aria-labelledby="email-heading" class="card">
            <h2 id="email-heading">"With an e-mail link"</h2>
            <p>{format!("We will send you a link that signs you in. It works once, for {LINK_MINUTES} minutes. New here? The same link creates your account.")}</p>
            <form method="post" action="/auth/email" class="stack">
                <label for="email">"E-mail address"</label>
                <input id="email" name="email" type="email" autocomplete="email" required=true
                    value=email
                    aria-invalid=move || field_error().map(|_| "true")
                    aria-describedby=move || field_error().map(|_| "email-error")/>
                {move || field_error().map(|error| view! {
                    <p id="email-error" class="field-error">{error.message(|_| None)}</p>
                })}
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
                                    // A POST, so that no other site can start a sign-in in this browser.
                                    <li><form method="post" action=format!("/auth/oidc/{}/start", provider.id)>
                                        <button type="submit">{format!("Sign in with {}", provider.display_name)}</button>
                                    </form></li>
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
        <p>{format!("If the address can receive mail, a sign-in link is on its way. It works once, for {LINK_MINUTES} minutes.")}</p>
        <p>"Nothing arrived? Check your spam folder, or " <a href="/signin">"ask for a new link"</a> "."</p>
    }
}

/// `/signin/link?token=…`: shows which address the link signs in (masked), and asks before using it, so that mail
/// scanners that open links cannot use it up and a link someone else sent is noticed.
#[component]
pub fn ConfirmLinkPage() -> impl IntoView {
    let query = use_query_map();
    let token = move || query.read().get("token").unwrap_or_default();
    let preview = Resource::new_blocking(token, get_link_preview);
    view! {
        <Title text="Sign in"/>
        <h1>"Sign in to Berth"</h1>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match preview.await {
                    Ok(Some(preview)) => view! {
                        <p>
                            "This link signs you in as " <strong class="masked-email">{preview.masked_email}</strong>
                            {preview.joins_provider.map(|provider| format!(
                                " and links your {provider} sign-in to that account"
                            ))}
                            ". If you did not ask for it, close this page: nothing happens."
                        </p>
                        <form method="post" action="/auth/email/verify" class="stack">
                            <input type="hidden" name="token" value=token/>
                            <button type="submit">"Sign in"</button>
                        </form>
                    }.into_any(),
                    Ok(None) => view! {
                        <div class="notice notice-error" role="alert">
                            <p>{SignInError::LinkExpired.message(|_| None)}</p>
                        </div>
                    }.into_any(),
                    Err(error) => view! { <ErrorNotice error/> }.into_any(),
                }
            })}
        </Suspense>
        <p><a href="/signin">"Ask for a new link"</a></p>
    }
}

/// `/signin/link-account`: a provider vouched for an address that already has an account. Nobody joins a sign-in
/// to an account without proving they hold it, so a link went to that address; opened in this browser, it links
/// the provider and signs in. (What waits is in this browser's session; the URL carries nothing.)
#[component]
pub fn LinkAccountPage() -> impl IntoView {
    let pending = Resource::new_blocking(|| (), |()| get_pending_join());
    view! {
        <Title text="Confirm by e-mail"/>
        <h1>"You already have an account"</h1>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match pending.await {
                    Ok(Some(pending)) => view! {
                        <p>
                            "A Berth account with the address " <strong class="masked-email">{pending.masked_email}</strong>
                            " already exists. To link your " {pending.provider.clone()} " sign-in to it, prove that "
                            "the account is yours: we sent a link to that address."
                        </p>
                        <p>{format!("Open the link in this browser within {LINK_MINUTES} minutes. It links {} to your account and signs you in.", pending.provider)}</p>
                    }.into_any(),
                    Ok(None) => view! {
                        <div class="notice notice-error" role="alert">
                            <p>{SignInError::FlowExpired.message(|_| None)}</p>
                        </div>
                    }.into_any(),
                    Err(error) => view! { <ErrorNotice error/> }.into_any(),
                }
            })}
        </Suspense>
        <p><a href="/signin">"Back to sign-in"</a></p>
    }
}

/// `/account/link?provider=ID`: asks before sending a signed-in user to a provider to link it to their account.
#[component]
pub fn LinkProviderPage() -> impl IntoView {
    let query = use_query_map();
    let id = move || query.read().get("provider").unwrap_or_default();
    let providers = Resource::new_blocking(|| (), |()| get_providers());
    view! {
        <Title text="Link a way to sign in"/>
        <h1>"Link a way to sign in"</h1>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let list = providers.await.unwrap_or_default();
                match list.into_iter().find(|provider| provider.id == id()) {
                    Some(provider) => view! {
                        <p>{format!(
                            "Link {0} to your Berth account? You will sign in at {0}; after that, you can sign in to \
                             Berth with it too.", provider.display_name
                        )}</p>
                        <form method="post" action=format!("/auth/oidc/{}/start", provider.id) class="stack">
                            <input type="hidden" name="intent" value="link"/>
                            <button type="submit">{format!("Yes, link {}", provider.display_name)}</button>
                        </form>
                    }.into_any(),
                    None => view! {
                        <div class="notice notice-error" role="alert">
                            <p>{SignInError::ProviderUnknown.message(|_| None)}</p>
                        </div>
                    }.into_any(),
                }
            })}
        </Suspense>
        <p><a href="/account">"No, back to your account"</a></p>
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
    let notice = move || query.read().get("notice").and_then(|code| AccountNotice::parse(&code));
    let notice_provider = move || query.read().get("provider").unwrap_or_default();
    view! {
        <Title text="Your account"/>
        <h1>"Your account"</h1>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let providers = providers.await.unwrap_or_default();
                let notice = notice().map(|notice| {
                    let id = notice_provider();
                    let name = providers.iter().find(|p| p.id == id).map_or("The provider", |p| p.display_name.as_str());
                    view! { <div class="notice" role="status"><p>{notice.message(name)}</p></div> }
                });
                match account.await {
                    Ok(account) => view! { {notice} <AccountDetails account end profile providers/> }.into_any(),
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
    let viewer_role = viewer.role;
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
        {(viewer_role == model::Role::Admin).then(|| view! { <DigestChoice/> })}
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
                        <li><a class="button" href=format!("/account/link?provider={}", provider.id)>
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

/// For admins: a message for each new application, or one daily digest.
#[component]
fn DigestChoice() -> impl IntoView {
    use crate::applications::api::{SetDigestChoice, get_digest_choice};
    let choose = ServerAction::<SetDigestChoice>::new();
    let daily = Resource::new_blocking(move || choose.version().get(), |_| get_digest_choice());
    view! {
        <section aria-labelledby="digest-heading" class="card">
            <h2 id="digest-heading">"Mail about applications"</h2>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let daily = daily.await.unwrap_or(false);
                    view! {
                        <ActionForm action=choose attr:class="stack">
                            <fieldset>
                                <legend>"When an application is submitted or resubmitted"</legend>
                                <div class="checkbox">
                                    <input type="radio" id="mail-each" name="mail" value="each" checked=!daily/>
                                    <label for="mail-each">"Send me a message for each one"</label>
                                </div>
                                <div class="checkbox">
                                    <input type="radio" id="mail-daily" name="mail" value="daily" checked=daily/>
                                    <label for="mail-daily">"Send me one daily digest instead"</label>
                                </div>
                            </fieldset>
                            <button type="submit">"Save mail choice"</button>
                            {move || matches!(choose.value().get(), Some(Ok(()))).then(|| view! { <p role="status">"Saved."</p> })}
                        </ActionForm>
                    }
                })}
            </Suspense>
        </section>
    }
}

/// The header's sign-in link, or the signed-in user with a sign-out button.
#[component]
pub fn ViewerMenu() -> impl IntoView {
    // Asked again after each navigation: completing sign-up or editing the profile changes what it shows.
    let pathname = leptos_router::hooks::use_location().pathname;
    let viewer = Resource::new_blocking(move || pathname.get(), |_| get_viewer());
    let waiting = Resource::new_blocking(move || pathname.get(), |_| crate::applications::api::get_waiting_count());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let waiting = waiting.await.ok().flatten();
                match viewer.await {
                    Ok(Some(viewer)) => view! {
                        <a href="/projects" class="viewer">"Projects"</a>
                        <a href="/applications" class="viewer">"My applications"</a>
                        {waiting.map(|count| {
                            let (shown, label) = crate::applications::view::waiting_label(count);
                            view! {
                                <a href="/admin/applications" class="viewer">
                                    "Queue " <span class="count" aria-label=label>{shown}</span>
                                </a>
                            }
                        })}
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
