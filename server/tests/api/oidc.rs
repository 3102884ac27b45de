//! Sign-in through a real OpenID Connect provider (npm `oidc-provider`, which enforces PKCE S256 and single-use
//! codes), on both backends.

use tokio::net::TcpListener;

use crate::helpers::{Backend, Browser, TestApp, TestOptions, location};
use crate::on_both_backends;
use crate::peers::{OidcProvider, ProviderUser};

on_both_backends!(
    the_code_flow_with_pkce_signs_in_and_creates_the_account,
    a_provider_vouching_for_an_existing_address_needs_the_email_proof_to_join,
    the_email_proof_works_only_in_the_browser_that_started_the_sign_in,
    a_provider_claim_never_makes_an_admin,
    starting_a_provider_sign_in_is_a_post_and_linking_asks_first,
    a_tampered_state_is_refused,
    a_replayed_code_is_refused,
    a_cancelled_sign_in_is_explained,
    an_unreachable_provider_is_explained_without_an_error_page,
    two_providers_and_an_email_link_join_one_account,
    an_unverified_address_never_joins_an_existing_account,
);

const ADA: ProviderUser =
    ProviderUser { username: "ada", password: "ada-pw", sub: "ada-1", email: "ada@uni.example", email_verified: true };
const EVE: ProviderUser =
    ProviderUser { username: "eve", password: "eve-pw", sub: "eve-9", email: "ada@uni.example", email_verified: false };

/// Berth with one provider, `test`, that knows Ada and Eve.
async fn berth_with_provider(backend: Backend) -> (TestApp, OidcProvider) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let provider = OidcProvider::start(&address, "test", &[ADA, EVE]).await;
    let options =
        TestOptions { config_toml: Some(provider.config_toml("test", "Test Provider")), ..Default::default() };
    (TestApp::spawn_bound(backend, listener, options).await, provider)
}

/// Starts a provider sign-in in `browser` (a POST, as the sign-in page's button sends); returns the provider's
/// authorization URL.
async fn start(browser: &Browser, id: &str) -> String {
    location(&browser.post(&format!("/auth/oidc/{id}/start"), &[]).await)
}

/// Starts linking provider `id` to the signed-in account of `browser`, as the confirmation page's button does.
async fn start_linking(browser: &Browser, id: &str) -> String {
    location(&browser.post(&format!("/auth/oidc/{id}/start"), &[("intent", "link")]).await)
}

/// The path and query of a callback URL, to request from Berth.
fn path_of(url: &str) -> String {
    let url = url::Url::parse(url).unwrap();
    format!("{}?{}", url.path(), url.query().unwrap_or_default())
}

/// The error code of a redirect to the sign-in page.
fn error_of(target: &str) -> String {
    assert!(target.starts_with("/signin?error="), "expected the sign-in page with an error, got {target}");
    url::form_urlencoded::parse(target.trim_start_matches("/signin?").as_bytes())
        .find(|(key, _)| key == "error")
        .map(|(_, value)| value.into_owned())
        .unwrap()
}

async fn the_code_flow_with_pkce_signs_in_and_creates_the_account(backend: Backend) {
    let (app, provider) = berth_with_provider(backend).await;
    let browser = app.browser();
    assert!(browser.page("/signin").await.contains("Sign in with Test Provider"));

    let authorize = start(&browser, "test").await;
    assert!(authorize.starts_with(&format!("{}/auth?", provider.issuer)), "{authorize}");
    for part in ["code_challenge_method=S256", "code_challenge=", "state=", "response_type=code", "scope=openid"] {
        assert!(authorize.contains(part), "the authorization request lacks {part}: {authorize}");
    }
    let before = browser.session_cookie().expect("the started sign-in lives in a session");

    let callback = provider.login(&authorize, ADA.username, ADA.password).await;
    assert!(callback.contains("code=") && callback.contains("state="), "{callback}");
    let signed_in = browser.get(&path_of(&callback)).await;
    assert_eq!(location(&signed_in), "/signup");
    let after = browser.session_cookie().expect("a session cookie");
    assert_ne!(before, after, "the session id is rotated at sign-in");

    let done = browser
        .submit(
            "/signup",
            "/api/complete_sign_up",
            &[("name", "Ada"), ("organisation", "Uni"), ("accept_terms", "yes")],
        )
        .await;
    assert_eq!(location(&done), "/account");
    let account = browser.page("/account").await;
    assert!(account.contains("Test Provider") && account.contains("ada@uni.example"), "{account}");
    let audit = app.scalar("SELECT details FROM audit_log WHERE action = 'user.sign_in'").await.unwrap();
    assert!(audit.contains("\"provider\":\"test\""), "{audit}");

    let planted = Browser::new(&app.address);
    let response = planted
        .client
        .get(format!("{}/account", app.address))
        .header("cookie", format!("berth_session={before}"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), "/signin", "the pre-sign-in session id signs nobody in");
}

async fn a_tampered_state_is_refused(backend: Backend) {
    let (app, provider) = berth_with_provider(backend).await;
    let browser = app.browser();
    let authorize = start(&browser, "test").await;
    let callback = provider.login(&authorize, ADA.username, ADA.password).await;
    let mut url = url::Url::parse(&callback).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(key, value)| {
            let value = if key == "state" { format!("{value}x") } else { value.into_owned() };
            (key.into_owned(), value)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    let refused = browser.get(&path_of(url.as_str())).await;
    assert_eq!(error_of(&location(&refused)), "flow_expired");
    assert!(browser.page(&location(&refused)).await.contains("not started in this browser"));
    assert_eq!(location(&browser.get("/account").await), "/signin", "not signed in");
    assert!(app.scalar("SELECT email FROM users").await.is_none(), "no account was created");
}

async fn a_replayed_code_is_refused(backend: Backend) {
    let (app, provider) = berth_with_provider(backend).await;
    let first = app.browser();
    let authorize = start(&first, "test").await;
    let callback = provider.login(&authorize, ADA.username, ADA.password).await;
    assert_eq!(location(&first.get(&path_of(&callback)).await), "/signup");

    // The same callback again in the same browser: the started sign-in was used up.
    let again = first.get(&path_of(&callback)).await;
    assert_eq!(error_of(&location(&again)), "flow_expired");

    // The code with a state of its own, in another browser: the provider refuses a used code.
    let attacker = app.browser();
    let own = start(&attacker, "test").await;
    let own_state = url::Url::parse(&own).unwrap().query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
    let code = url::Url::parse(&callback).unwrap().query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
    let mut forged = url::Url::parse(&format!("{}/auth/oidc/test/callback", app.address)).unwrap();
    forged.query_pairs_mut().append_pair("code", &code).append_pair("state", &own_state);
    let refused = attacker.get(&path_of(forged.as_str())).await;
    assert_eq!(error_of(&location(&refused)), "provider_failed");
    assert!(attacker.page(&location(&refused)).await.contains("Sign-in with Test Provider did not complete"));
    assert_eq!(location(&attacker.get("/account").await), "/signin");
}

async fn a_cancelled_sign_in_is_explained(backend: Backend) {
    let (app, _provider) = berth_with_provider(backend).await;
    let browser = app.browser();
    let authorize = start(&browser, "test").await;
    let state = url::Url::parse(&authorize).unwrap().query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
    let back = browser.get(&format!("/auth/oidc/test/callback?error=access_denied&state={state}")).await;
    assert_eq!(error_of(&location(&back)), "provider_cancelled");
    let page = browser.page(&location(&back)).await;
    assert!(page.contains("Sign-in with Test Provider was cancelled"), "{page}");
}

async fn an_unreachable_provider_is_explained_without_an_error_page(backend: Backend) {
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let toml = format!(
        "[[oidc_providers]]\nid = \"down\"\ndisplay_name = \"Down Provider\"\nissuer_url = \"http://127.0.0.1:{port}\"\n\
         client_id = \"berth\"\nclient_secret = \"x\"\n"
    );
    let app = TestApp::spawn_with(backend, TestOptions { config_toml: Some(toml), ..Default::default() }).await;
    let browser = app.browser();
    let target = start(&browser, "down").await;
    assert_eq!(error_of(&target), "provider_unavailable");
    let page = browser.page(&target).await;
    assert!(page.contains("Sign-in with Down Provider is not available right now"), "{page}");
    assert!(!page.contains("Connection refused"), "no raw error text");
    let unknown = start(&browser, "nope").await;
    assert_eq!(error_of(&unknown), "provider_unknown");
    assert!(browser.page(&unknown).await.contains("no such way to sign in"));
}

async fn two_providers_and_an_email_link_join_one_account(backend: Backend) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let alpha = OidcProvider::start(&address, "alpha", &[ADA]).await;
    let beta_ada = ProviderUser { sub: "ada-at-beta", ..ADA };
    let beta = OidcProvider::start(&address, "beta", &[beta_ada]).await;
    let toml = format!("{}{}", alpha.config_toml("alpha", "Alpha"), beta.config_toml("beta", "Beta"));
    let app =
        TestApp::spawn_bound(backend, listener, TestOptions { config_toml: Some(toml), ..Default::default() }).await;

    // Ada first signs up with an e-mail link.
    let browser = app.browser();
    app.sign_in(&browser, ADA.email).await;
    browser.post("/auth/signout", &[]).await;

    // Alpha vouches for the same address: Berth links them only once a link sent to that address is used here.
    let callback = alpha.login(&start(&browser, "alpha").await, ADA.username, ADA.password).await;
    let ask = location(&browser.get(&path_of(&callback)).await);
    assert_eq!(ask, "/signin/link-account");
    let page = browser.page(&ask).await;
    assert!(page.contains("a\u{2022}\u{2022}\u{2022}@uni.example") && page.contains("Alpha"), "{page}");
    let token = app.wait_for_token(2).await;
    let joined = browser.post("/auth/email/verify", &[("token", &token)]).await;
    assert_eq!(location(&joined), "/account");

    // Signed in, Ada links Beta from the account page, after confirming.
    let account = browser.page("/account").await;
    assert!(account.contains(r#"href="/account/link?provider=beta""#), "unlinked providers are offered");
    let confirm = browser.page("/account/link?provider=beta").await;
    assert!(confirm.contains(r#"action="/auth/oidc/beta/start""#) && confirm.contains(r#"value="link""#));
    let callback = beta.login(&start_linking(&browser, "beta").await, ADA.username, ADA.password).await;
    let linked = location(&browser.get(&path_of(&callback)).await);
    assert_eq!(linked, "/account?notice=linked&provider=beta");
    let account = browser.page(&linked).await;
    assert!(account.contains("Beta is now linked to your account."));
    for way in ["E-mail link", "Alpha", "Beta"] {
        assert!(account.contains(way), "the account page lists {way}");
    }

    // Later, Beta alone signs in to the same account.
    browser.post("/auth/signout", &[]).await;
    let callback = beta.login(&start(&browser, "beta").await, ADA.username, ADA.password).await;
    assert_eq!(location(&browser.get(&path_of(&callback)).await), "/account");
    assert_eq!(app.scalar("SELECT COUNT(*) || '' FROM users").await.as_deref(), Some("1"));
    assert_eq!(app.scalar("SELECT COUNT(*) || '' FROM identities").await.as_deref(), Some("3"));
}

async fn an_unverified_address_never_joins_an_existing_account(backend: Backend) {
    let (app, provider) = berth_with_provider(backend).await;
    app.sign_in(&app.browser(), ADA.email).await;
    let browser = app.browser();
    let callback = provider.login(&start(&browser, "test").await, EVE.username, EVE.password).await;
    assert_eq!(location(&browser.get(&path_of(&callback)).await), "/signup", "a separate, new account");
    let account = browser.page("/account").await;
    assert!(!account.contains("ada@uni.example"), "the unverified address is not taken over");
    assert_eq!(app.scalar("SELECT COUNT(*) || '' FROM users").await.as_deref(), Some("2"));
}

/// A provider that vouches for an address (a federation proxy, a brokered realm with "trust email") is not proof of
/// the Berth account with that address: signing in with it sends a link to that address instead, and only the link
/// joins the two.
async fn a_provider_vouching_for_an_existing_address_needs_the_email_proof_to_join(backend: Backend) {
    let (app, provider) = berth_with_provider(backend).await;
    app.sign_in(&app.browser(), ADA.email).await;
    let browser = app.browser();
    let callback = provider.login(&start(&browser, "test").await, ADA.username, ADA.password).await;
    assert_eq!(location(&browser.get(&path_of(&callback)).await), "/signin/link-account");
    assert_eq!(location(&browser.get("/account").await), "/signin", "not signed in without the proof");
    assert_eq!(app.scalar("SELECT COUNT(*) || '' FROM identities").await.as_deref(), Some("1"), "nothing joined");
    assert_eq!(browser.post("/auth/oidc/link", &[]).await.status(), 404, "the one-click join is gone");

    let token = app.wait_for_token(2).await;
    let mail = app.mail_files().pop().unwrap();
    assert!(mail.contains("Link Test Provider to your Berth account?") && mail.contains("ada@uni.example"));
    let confirm = browser.page(&format!("/signin/link?token={token}")).await;
    assert!(confirm.contains("a\u{2022}\u{2022}\u{2022}@uni.example"), "the page shows the masked address");
    assert!(confirm.contains("links your Test Provider sign-in"), "and what the link does");
    assert_eq!(location(&browser.post("/auth/email/verify", &[("token", &token)]).await), "/account");
    assert_eq!(app.scalar("SELECT COUNT(*) || '' FROM identities").await.as_deref(), Some("2"));
    let audit = app.scalar("SELECT details FROM audit_log WHERE action = 'identity.link'").await.unwrap();
    assert!(audit.contains("e-mail link"), "{audit}");

    // From now on the provider alone signs in to that account.
    browser.post("/auth/signout", &[]).await;
    let callback = provider.login(&start(&browser, "test").await, ADA.username, ADA.password).await;
    assert_eq!(location(&browser.get(&path_of(&callback)).await), "/account");
    assert_eq!(app.scalar("SELECT COUNT(*) || '' FROM users").await.as_deref(), Some("1"));
}

async fn the_email_proof_works_only_in_the_browser_that_started_the_sign_in(backend: Backend) {
    let (app, provider) = berth_with_provider(backend).await;
    let victim = app.browser();
    app.sign_in(&victim, ADA.email).await;
    let attacker = app.browser();
    let callback = provider.login(&start(&attacker, "test").await, ADA.username, ADA.password).await;
    assert_eq!(location(&attacker.get(&path_of(&callback)).await), "/signin/link-account");

    // The victim, signed in or not, follows the link they did not ask for: nothing is joined.
    let token = app.wait_for_token(2).await;
    let used = victim.post("/auth/email/verify", &[("token", &token)]).await;
    assert_eq!(location(&used), "/signin?error=link_other_browser");
    assert!(victim.page("/signin?error=link_other_browser").await.contains("started in another browser"));
    assert_eq!(app.scalar("SELECT COUNT(*) || '' FROM identities").await.as_deref(), Some("1"));
    assert!(app.scalar("SELECT action FROM audit_log WHERE action = 'identity.join_refused'").await.is_some());
    // And the spent link is of no use to the attacker either.
    let late = attacker.post("/auth/email/verify", &[("token", &token)]).await;
    assert_eq!(location(&late), "/signin?error=link_expired");
    assert_eq!(location(&attacker.get("/account").await), "/signin");
}

async fn a_provider_claim_never_makes_an_admin(backend: Backend) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    const BOSS: ProviderUser = ProviderUser {
        username: "boss",
        password: "boss-pw",
        sub: "boss-1",
        email: "boss@uni.example",
        email_verified: true,
    };
    let provider = OidcProvider::start(&address, "test", &[BOSS]).await;
    let options = TestOptions {
        admin_emails: vec![BOSS.email.into()],
        config_toml: Some(provider.config_toml("test", "Test Provider")),
        ..Default::default()
    };
    let app = TestApp::spawn_bound(backend, listener, options).await;
    let browser = app.browser();
    let callback = provider.login(&start(&browser, "test").await, BOSS.username, BOSS.password).await;
    assert_eq!(location(&browser.get(&path_of(&callback)).await), "/signup");
    assert_eq!(app.scalar("SELECT role FROM users").await.as_deref(), Some("user"), "a provider's word is not enough");

    // The address proven by an e-mail link: now the configured role applies.
    app.sign_in(&app.browser(), BOSS.email).await;
    assert_eq!(app.scalar("SELECT role FROM users").await.as_deref(), Some("admin"));
    assert_eq!(app.scalar("SELECT role_source FROM users").await.as_deref(), Some("config"));
}

async fn starting_a_provider_sign_in_is_a_post_and_linking_asks_first(backend: Backend) {
    let (app, _provider) = berth_with_provider(backend).await;
    let browser = app.browser();
    assert_eq!(browser.get("/auth/oidc/test/start").await.status(), 405, "a link on another site cannot start one");
    let signin = browser.page("/signin").await;
    assert!(signin.contains(r#"<form method="post" action="/auth/oidc/test/start">"#), "{signin}");
    let cross_site = browser
        .client
        .post(format!("{}/auth/oidc/test/start", app.address))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
    // Linking needs a signed-in user; anonymous visitors are sent to sign in.
    assert_eq!(location(&browser.post("/auth/oidc/test/start", &[("intent", "link")]).await), "/signin");
    app.sign_in(&browser, "linker@example.org").await;
    let confirm = browser.page("/account/link?provider=test").await;
    assert!(confirm.contains("Link Test Provider to your Berth account?"), "{confirm}");
    assert!(browser.page("/account/link?provider=nope").await.contains("no such way to sign in"));
}
