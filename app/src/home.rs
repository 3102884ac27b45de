//! The home page.

use leptos::prelude::*;
use leptos_meta::Title;

/// `/`: what Berth is and where to go.
#[component]
pub fn HomePage() -> impl IntoView {
    view! {
        <Title text="Welcome"/>
        <h1>"Self-service access to the container cloud"</h1>
        <p class="lede">
            "Berth is where you apply for a project on the container cloud, follow your application, "
            "and see your project's quota and billing."
        </p>
        <section aria-labelledby="status-heading" class="card">
            <h2 id="status-heading">"Is the service up?"</h2>
            <p>
                "The " <a href="/status">"service status page"</a>
                " shows how mature each part of the service is, what is left before production, "
                "and the known issues with their workarounds."
            </p>
        </section>
    }
}
