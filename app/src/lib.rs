//! Berth's user interface: the Leptos app rendered on the server and hydrated in the browser, the domain types both
//! sides share, and the server functions that connect them.
#![forbid(unsafe_code)]

pub mod admin;
pub mod applications;
pub mod auth;
pub mod components;
pub mod email;
pub mod error;
pub mod home;
#[cfg(feature = "ssr")]
pub mod ssr;
pub mod status;
pub mod terms;

use leptos::prelude::*;
use leptos_meta::{HashedStylesheet, MetaTags, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{ParamSegment, SsrMode, StaticSegment};

use components::{Layout, NotFound};

/// The HTML document around the app; rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <HashedStylesheet options=options.clone() id="leptos"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The app: layout and routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title formatter=|title: String| format!("{title} · Berth")/>
        <Router>
            <Layout>
                <Routes fallback=NotFound>
                    <Route path=StaticSegment("") view=home::HomePage ssr=SsrMode::Async/>
                    // Async: the whole page is rendered before the first byte, so it can be cached, gets a proper
                    // status code when the data cannot be loaded, and shows its data without JavaScript (streamed
                    // Suspense content needs a script to take the fallback's place).
                    <Route path=StaticSegment("status") view=status::StatusPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("signin") view=auth::SignInPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("signin"), StaticSegment("sent")) view=auth::LinkSentPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("signin"), StaticSegment("link")) view=auth::ConfirmLinkPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("signin"), StaticSegment("link-account")) view=auth::LinkAccountPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("signup") view=auth::SignUpPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("terms") view=terms::TermsPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("account") view=auth::AccountPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("account"), StaticSegment("link")) view=auth::LinkProviderPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("admin") view=admin::AdminHomePage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("admin"), StaticSegment("users")) view=admin::AdminUsersPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("admin"), StaticSegment("audit")) view=admin::AdminAuditPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("applications") view=applications::pages::MyApplicationsPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("applications"), StaticSegment("new")) view=applications::pages::NewApplicationPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("applications"), ParamSegment("id")) view=applications::pages::ApplicationPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("admin"), StaticSegment("applications")) view=applications::admin::AdminQueuePage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("admin"), StaticSegment("applications"), ParamSegment("id")) view=applications::admin::AdminApplicationPage ssr=SsrMode::Async/>
                </Routes>
            </Layout>
        </Router>
    }
}

/// Browser entry point: hydrates the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
    // Marks the document once hydration has run, for people debugging and for the end-to-end tests.
    if let Some(root) = leptos::prelude::document().document_element() {
        let _ = root.set_attribute("data-hydrated", "true");
    }
}
