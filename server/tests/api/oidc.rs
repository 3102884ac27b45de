//! Sign-in through a real OpenID Connect provider (npm `oidc-provider`, which enforces PKCE S256 and single-use
//! codes), on both backends.

use tokio::net::TcpListener;

use crate::helpers::{Backend, Browser, TestApp, TestOptions, location};
use crate::on_both_backends;
use crate::peers::{OidcProvider, ProviderUser};

on_both_backends!(
    the_code_flow_with_pkce_signs_in_and_creates_the_account,
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

/// Starts a provider sign-in in `browser`; returns the provider's authorization URL.
async fn start(browser: &Browser, id: &str) -> String {
    location(&browser.get(&format!("/auth/oidc/{id}/start")).await)
}

/// The path and query of a callback URL, to request from Berth.
fn path_of(url: &str) -> String {
    let url = url::Url::parse(url).unwrap();
    format!("{}?{}", url.path(), url.query().unwrap_or_default())
}

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
    assert!(error_of(&location(&refused)).contains("not started in this browser"));
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
    assert!(error_of(&location(&again)).contains("not started in this browser"));

    // The code with a state of its own, in another browser: the provider refuses a used code.
    let attacker = app.browser();
    let own = start(&attacker, "test").await;
    let own_state = url::Url::parse(&own).unwrap().query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
    let code = url::Url::parse(&callback).unwrap().query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
    let mut forged = url::Url::parse(&format!("{}/auth/oidc/test/callback", app.address)).unwrap();
    forged.query_pairs_mut().append_pair("code", &code).append_pair("state", &own_state);
    let refused = attacker.get(&path_of(forged.as_str())).await;
    assert!(error_of(&location(&refused)).contains("did not complete"));
    assert_eq!(location(&attacker.get("/account").await), "/signin");
}

async fn a_cancelled_sign_in_is_explained(backend: Backend) {
    let (app, _provider) = berth_with_provider(backend).await;
    let browser = app.browser();
    let authorize = start(&browser, "test").await;
    let state = url::Url::parse(&authorize).unwrap().query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
    let back = browser.get(&format!("/auth/oidc/test/callback?error=access_denied&state={state}")).await;
    let message = error_of(&location(&back));
    assert!(message.contains("Sign-in with Test Provider was cancelled"), "{message}");
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
    let target = location(&browser.get("/auth/oidc/down/start").await);
    let message = error_of(&target);
    assert!(message.contains("Sign-in with Down Provider is not available right now"), "{message}");
    let page = browser.page(&target).await;
    assert!(page.contains("is not available right now") && !page.contains("Connection refused"), "no raw error text");
    let unknown = location(&browser.get("/auth/oidc/nope/start").await);
    assert!(error_of(&unknown).contains("no such way to sign in"));
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

    // Alpha vouches for the same address: Berth asks before joining the accounts.
    let callback = alpha.login(&start(&browser, "alpha").await, ADA.username, ADA.password).await;
    let ask = location(&browser.get(&path_of(&callback)).await);
    assert!(ask.starts_with("/signin/link-account?"), "{ask}");
    let page = browser.page(&ask).await;
    assert!(page.contains("ada@uni.example") && page.contains(r#"action="/auth/oidc/link""#));
    let joined = browser.post("/auth/oidc/link", &[]).await;
    assert_eq!(location(&joined), "/account");

    // Signed in, Ada links Beta from the account page.
    let account = browser.page("/account").await;
    assert!(account.contains(r#"href="/auth/oidc/beta/start""#), "unlinked providers are offered");
    let callback = beta.login(&start(&browser, "beta").await, ADA.username, ADA.password).await;
    let linked = location(&browser.get(&path_of(&callback)).await);
    assert!(linked.starts_with("/account?notice="), "{linked}");
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
