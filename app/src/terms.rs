//! `/terms`: the terms of use that sign-up asks people to accept, with their version.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::auth::model::TERMS_VERSION;

/// The terms of use. Changing their substance means a new [`TERMS_VERSION`].
#[component]
pub fn TermsPage() -> impl IntoView {
    view! {
        <Title text="Terms of use"/>
        <h1>"Terms of use"</h1>
        <p class="lede">{format!("Version {TERMS_VERSION}. Sign-up records which version you accepted, and when.")}</p>
        <section class="card" aria-labelledby="terms-account">
            <h2 id="terms-account">"Your account"</h2>
            <p>"Your account is personal. Sign in only as yourself, keep the e-mail address and the organisation \
                you give us up to date, and tell us if you think someone else has used your account."</p>
        </section>
        <section class="card" aria-labelledby="terms-use">
            <h2 id="terms-use">"Using the service"</h2>
            <p>"Use the projects you are given for the purpose stated in their application. Do not attack, \
                probe or overload the service or other projects, and do not run anything that breaks the law or \
                the rules of your organisation."</p>
            <p>"Projects consume billing units (BU) according to their quota and usage. The project's owner is \
                responsible for the billing details given in the application."</p>
        </section>
        <section class="card" aria-labelledby="terms-data">
            <h2 id="terms-data">"Your data"</h2>
            <p>"We keep your name, e-mail address, organisation, the ways you sign in, your sessions and an audit \
                trail of what you change, to run the service and to answer questions about who did what. Admins \
                of the service can see them."</p>
            <p>"The service is not yet in production; its "<a href="/status">"status page"</a>" lists what is \
                missing. Keep your own copies of anything important."</p>
        </section>
        <section class="card" aria-labelledby="terms-ending">
            <h2 id="terms-ending">"Ending"</h2>
            <p>"Admins may disable an account that breaks these terms. When the terms change, you will be asked \
                to accept the new version."</p>
        </section>
    }
}
