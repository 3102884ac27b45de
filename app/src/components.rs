//! Pieces shared by every page: the layout, error notices and the not-found page.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_location;

use crate::error::AppError;

/// The link to the feedback form, carrying the page it was followed from.
fn feedback_link() -> String {
    let path = use_location().pathname.get();
    let mut encoded = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("/feedback?from={encoded}")
}

/// The frame around every page: skip link, header with navigation, main landmark and footer.
#[component]
pub fn Layout(children: Children) -> impl IntoView {
    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <header class="site-header">
            <div class="wrap header-inner">
                <a class="brand" href="/">"Berth"</a>
                <nav aria-label="Main">
                    <ul>
                        <li><A href="/" exact=true>"Home"</A></li>
                        <li><A href="/status">"Status"</A></li>
                    </ul>
                </nav>
                <div class="viewer-menu"><crate::auth::ViewerMenu/></div>
            </div>
        </header>
        <main id="main" class="wrap" tabindex="-1">{children()}</main>
        <footer class="site-footer">
            <div class="wrap">
                <p>"Berth: self-service access to the container cloud."</p>
                <p><a href=feedback_link>"Report a problem or make a suggestion"</a></p>
            </div>
        </footer>
    }
}

/// A user-facing error: what happened and, for server faults, the reference to quote to support.
#[component]
pub fn ErrorNotice(error: AppError) -> impl IntoView {
    view! {
        <div class="notice notice-error" role="alert">
            <h2>"Sorry, this did not work"</h2>
            <p>{error.to_string()}</p>
        </div>
    }
}

/// The page for any address Berth does not know. Answers 404.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Page not found"/>
        <h1>"Page not found"</h1>
        <p>"There is nothing at this address. It may have moved, or the link may be mistyped."</p>
        <p><a href="/">"Go to the home page"</a> " or " <a href="/status">"see the service status"</a> "."</p>
    }
}

/// The error of `action`'s last run when it is not about one field.
pub fn other_error<A>(action: ServerAction<A>) -> impl Fn() -> Option<AppError> + Copy
where
    A: leptos::server_fn::ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    A::Output: Clone + Send + Sync + 'static,
{
    move || {
        action
            .value()
            .get()
            .and_then(Result::err)
            .filter(|error| !matches!(error, AppError::Invalid { .. } | AppError::InvalidFields { .. }))
    }
}

/// The error of `action`'s last run for the field named `name`, as a signal for [`FieldError`].
pub fn field_message<A>(action: ServerAction<A>, name: impl Into<String>) -> Signal<Option<String>>
where
    A: leptos::server_fn::ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    A::Output: Clone + Send + Sync + 'static,
{
    let name = name.into();
    Signal::derive(move || action.value().get().and_then(Result::err).and_then(|error| error.for_field(&name)))
}

/// A field's error message, announced when it appears; `id` is what the field's `aria-describedby` names.
#[component]
pub fn FieldError(id: String, message: Signal<Option<String>>) -> impl IntoView {
    view! { <p class="field-error" id=id role="alert">{move || message.get()}</p> }
}
