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
pub mod feedback;
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
use leptos_router::{ChooseView, ParamSegment, SsrMode, StaticSegment};

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
                    // The rest are loaded when first visited, an area at a time (see `lazy_areas!`).
                    <Route path=(StaticSegment("signin"), StaticSegment("link-account")) view=AccountArea::LinkAccount ssr=SsrMode::Async/>
                    <Route path=StaticSegment("signup") view=AccountArea::SignUp ssr=SsrMode::Async/>
                    <Route path=StaticSegment("terms") view=AccountArea::Terms ssr=SsrMode::Async/>
                    <Route path=StaticSegment("account") view=AccountArea::Account ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("account"), StaticSegment("link")) view=AccountArea::LinkProvider ssr=SsrMode::Async/>
                    <Route path=StaticSegment("feedback") view=AccountArea::Feedback ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("admin"), StaticSegment("feedback")) view=AdminArea::Feedback ssr=SsrMode::Async/>
                    <Route path=StaticSegment("admin") view=AdminArea::Home ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("admin"), StaticSegment("users")) view=AdminArea::Users ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("admin"), StaticSegment("audit")) view=AdminArea::Audit ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("admin"), StaticSegment("applications")) view=AdminArea::Queue ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("admin"), StaticSegment("applications"), ParamSegment("id")) view=AdminArea::Application ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("admin"), StaticSegment("jobs")) view=AdminArea::Jobs ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("admin"), StaticSegment("requests")) view=AdminArea::Requests ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("admin"), StaticSegment("status")) view=AdminArea::Status ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("admin"), StaticSegment("status"), StaticSegment("content")) view=AdminArea::StatusContent ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("admin"), StaticSegment("status"), StaticSegment("revisions")) view=AdminArea::StatusRevisions ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("admin"), StaticSegment("status"), StaticSegment("revisions"), ParamSegment("revision")) view=AdminArea::StatusRevision ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("status"), StaticSegment("incidents")) view=HistoryArea::Incidents ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("status"), StaticSegment("subscribe")) view=HistoryArea::Subscribe ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("status"), StaticSegment("subscribe"), StaticSegment("confirm")) view=HistoryArea::ConfirmSubscription ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("status"), StaticSegment("unsubscribe")) view=HistoryArea::Unsubscribe ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("admin"), StaticSegment("status"), StaticSegment("webhooks")) view=AdminArea::StatusWebhooks ssr=SsrMode::Async/>
                    <Route path=StaticSegment("applications") view=ApplicationsArea::Mine ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("applications"), StaticSegment("new")) view=ApplicationsArea::New ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("applications"), ParamSegment("id")) view=ApplicationsArea::One ssr=SsrMode::Async/>
                    <Route path=StaticSegment("projects") view=ProjectsArea::List ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("projects"), ParamSegment("name")) view=ProjectsArea::One ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("invitations"), StaticSegment("accept")) view=ProjectsArea::Invitation ssr=SsrMode::Async/>
                    <Route path=StaticSegment("billing") view=BillingArea::Accounts ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("billing"), StaticSegment("statement")) view=BillingArea::Statement ssr=SsrMode::Async/>
                </Routes>
            </Layout>
        </Router>
    }
}

/// Areas of pages whose views live in one WebAssembly chunk per area, fetched the first time one of the area's pages
/// is shown (with `cargo leptos build --split`; without it they are ordinary views). The pages a first-time visitor
/// sees (home, status, sign-in) stay in the main chunk, so that their first load stays small. An area rather than a
/// page per chunk: every lazily loaded view costs the main chunk its loader and its table entries, and the pages of
/// an area are visited together.
macro_rules! lazy_areas {
    ($($(#[$doc:meta])* $area:ident via $view:ident, $preload:ident { $($(#[$page_doc:meta])* $page:ident => $component:path),* $(,)? })*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $area {
            $($(#[$page_doc])* $page),*
        }

        /// The area's views, in the area's own chunk (`#[lazy]` also makes `$preload`, which fetches it).
        #[allow(non_snake_case)]
        #[leptos::lazy]
        fn $view(page: $area) -> AnyView {
            match page {
                $($area::$page => view! { <$component/> }.into_any()),*
            }
        }

        impl ChooseView for $area {
            async fn choose(self) -> AnyView {
                $view(self).await
            }

            // The router awaits this before it hydrates a page: the chunk must be there by then.
            async fn preload(&self) {
                #[cfg(feature = "hydrate")]
                $preload().await;
            }
        }
    )*};
}

lazy_areas! {
    /// Signing up, the terms, the account page and linking sign-in methods.
    AccountArea via account_area_view, __preload_account_area_view {
        /// `/signin/link-account`
        LinkAccount => auth::LinkAccountPage,
        /// `/signup`
        SignUp => auth::SignUpPage,
        /// `/terms`
        Terms => terms::TermsPage,
        /// `/account`
        Account => auth::AccountPage,
        /// `/account/link`
        LinkProvider => auth::LinkProviderPage,
        /// `/feedback`
        Feedback => feedback::FeedbackPageView,
    }
    /// The admins' pages.
    AdminArea via admin_area_view, __preload_admin_area_view {
        /// `/admin`
        Home => admin::AdminHomePage,
        /// `/admin/users`
        Users => admin::AdminUsersPage,
        /// `/admin/audit`
        Audit => admin::AdminAuditPage,
        /// `/admin/applications`
        Queue => applications::admin::AdminQueuePage,
        /// `/admin/applications/:id`
        Application => applications::admin::AdminApplicationPage,
        /// `/admin/jobs`
        Jobs => jobs::pages::AdminJobsPage,
        /// `/admin/requests`
        Requests => projects::request_pages::AdminRequestsPage,
        /// `/admin/status`
        Status => status::admin::AdminStatusPage,
        /// `/admin/feedback`
        Feedback => feedback::AdminFeedbackPage,
        /// `/admin/status/webhooks`
        StatusWebhooks => status::notifications::WebhooksPage,
        /// `/admin/status/content`
        StatusContent => status::editor::StatusContentPage,
        /// `/admin/status/revisions`
        StatusRevisions => status::editor::StatusRevisionsPage,
        /// `/admin/status/revisions/:revision`
        StatusRevision => status::editor::StatusRevisionPage,
    }
    /// The public pages beside the status page: the incident history, subscribing and unsubscribing.
    HistoryArea via history_area_view, __preload_history_area_view {
        /// `/status/incidents`
        Incidents => status::history::IncidentHistoryPage,
        /// `/status/subscribe`
        Subscribe => status::notifications::SubscribePage,
        /// `/status/subscribe/confirm`
        ConfirmSubscription => status::notifications::ConfirmSubscriptionPage,
        /// `/status/unsubscribe`
        Unsubscribe => status::notifications::UnsubscribePage,
    }
    /// The applicant's pages.
    ApplicationsArea via applications_area_view, __preload_applications_area_view {
        /// `/applications`
        Mine => applications::pages::MyApplicationsPage,
        /// `/applications/new`
        New => applications::pages::NewApplicationPage,
        /// `/applications/:id`
        One => applications::pages::ApplicationPage,
    }
    /// Projects and invitations to them.
    ProjectsArea via projects_area_view, __preload_projects_area_view {
        /// `/projects`
        List => projects::pages::ProjectsPage,
        /// `/projects/:name`
        One => projects::pages::ProjectPage,
        /// `/invitations/accept`
        Invitation => projects::member_pages::InvitationPage,
    }
    /// Billing accounts and statements.
    BillingArea via billing_area_view, __preload_billing_area_view {
        /// `/billing`
        Accounts => billing::views::BillingPage,
        /// `/billing/statement`
        Statement => billing::views::StatementPage,
    }
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
