//! Berth's user interface: the Leptos app rendered on the server and hydrated in the browser, the domain types both
//! sides share, and the server functions that connect them.
#![forbid(unsafe_code)]

pub mod admin;
pub mod applications;
pub mod auth;
pub mod billing;
pub mod components;
pub mod email;
pub mod error;
pub mod home;
pub mod jobs;
pub mod projects;
#[cfg(feature = "ssr")]
pub mod ssr;
pub mod status;
pub mod terms;

use leptos::prelude::*;
use leptos_meta::{HashedStylesheet, MetaTags, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{Lazy, LazyRoute, ParamSegment, SsrMode, StaticSegment, lazy_route};

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
                    // Async: the whole page is rendered before the first byte, so it can be cached, gets a proper
                    // status code when the data cannot be loaded, and shows its data without JavaScript (streamed
                    // Suspense content needs a script to take the fallback's place).
                    <Route path=StaticSegment("") view=home::HomePage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("status") view=status::StatusPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("signin") view=auth::SignInPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("signin"), StaticSegment("sent")) view=auth::LinkSentPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("signin"), StaticSegment("link")) view=auth::ConfirmLinkPage ssr=SsrMode::Async/>
                    // The rest are loaded when first visited (see `lazy_pages!`).
                    <Route path=(StaticSegment("signin"), StaticSegment("link-account")) view={Lazy::<LinkAccountRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=StaticSegment("signup") view={Lazy::<SignUpRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=StaticSegment("terms") view={Lazy::<TermsRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=StaticSegment("account") view={Lazy::<AccountRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("account"), StaticSegment("link")) view={Lazy::<LinkProviderRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=StaticSegment("admin") view={Lazy::<AdminHomeRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("admin"), StaticSegment("users")) view={Lazy::<AdminUsersRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("admin"), StaticSegment("audit")) view={Lazy::<AdminAuditRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=StaticSegment("applications") view={Lazy::<MyApplicationsRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("applications"), StaticSegment("new")) view={Lazy::<NewApplicationRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("applications"), ParamSegment("id")) view={Lazy::<ApplicationRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("admin"), StaticSegment("applications")) view={Lazy::<AdminQueueRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("admin"), StaticSegment("applications"), ParamSegment("id")) view={Lazy::<AdminApplicationRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("admin"), StaticSegment("jobs")) view={Lazy::<AdminJobsRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=StaticSegment("projects") view={Lazy::<ProjectsRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("projects"), ParamSegment("name")) view={Lazy::<ProjectRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("invitations"), StaticSegment("accept")) view={Lazy::<InvitationRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("admin"), StaticSegment("requests")) view={Lazy::<AdminRequestsRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=StaticSegment("billing") view={Lazy::<BillingRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("billing"), StaticSegment("statement")) view={Lazy::<StatementRoute>::new()} ssr=SsrMode::Async/>
                </Routes>
            </Layout>
        </Router>
    }
}

/// Route types whose views live in their own WebAssembly chunk, fetched the first time one of their pages is shown
/// (with `cargo leptos build --split`; without it they are ordinary routes). The pages a first-time visitor sees
/// (home, status, sign-in) stay in the main chunk, so that their first load stays small.
macro_rules! lazy_pages {
    ($($route:ident => $page:path),* $(,)?) => {$(
        #[doc = concat!("The lazily loaded route of [`", stringify!($page), "`].")]
        #[derive(Debug)]
        pub struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                Self
            }

            fn view(this: Self) -> AnyView {
                let _ = this;
                view! { <$page/> }.into_any()
            }
        }
    )*};
}

lazy_pages! {
    LinkAccountRoute => auth::LinkAccountPage,
    SignUpRoute => auth::SignUpPage,
    TermsRoute => terms::TermsPage,
    AccountRoute => auth::AccountPage,
    LinkProviderRoute => auth::LinkProviderPage,
    AdminHomeRoute => admin::AdminHomePage,
    AdminUsersRoute => admin::AdminUsersPage,
    AdminAuditRoute => admin::AdminAuditPage,
    MyApplicationsRoute => applications::pages::MyApplicationsPage,
    NewApplicationRoute => applications::pages::NewApplicationPage,
    ApplicationRoute => applications::pages::ApplicationPage,
    AdminQueueRoute => applications::admin::AdminQueuePage,
    AdminApplicationRoute => applications::admin::AdminApplicationPage,
    AdminJobsRoute => jobs::pages::AdminJobsPage,
    ProjectsRoute => projects::pages::ProjectsPage,
    ProjectRoute => projects::pages::ProjectPage,
    InvitationRoute => projects::member_pages::InvitationPage,
    AdminRequestsRoute => projects::request_pages::AdminRequestsPage,
    BillingRoute => billing::views::BillingPage,
    StatementRoute => billing::views::StatementPage,
}

/// Browser entry point: hydrates the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Waits for the chunk of a lazily loaded page before hydrating it.
    let _ = any_spawner::Executor::init_wasm_bindgen();
    leptos::task::spawn_local(async {
        let owner = leptos::mount::hydrate_from_async(leptos::prelude::document().body().expect("a body"), App).await;
        owner.forget();
        // Marks the document once hydration has run, for people debugging and for the end-to-end tests.
        if let Some(root) = leptos::prelude::document().document_element() {
            let _ = root.set_attribute("data-hydrated", "true");
        }
    });
}
