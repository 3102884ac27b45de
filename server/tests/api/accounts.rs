//! Signing in and out by e-mail link, sessions and request safety, over HTTP on both backends. Mail goes to a real
//! SMTP server where delivery is what is tested, and to the mail directory elsewhere.

use std::time::Duration;

use crate::helpers::{Backend, Browser, TestApp, TestOptions, eventually, location};
use crate::on_both_backends;
use crate::peers::{SmtpSink, TestCertificates};

on_both_backends!(
    an_email_link_arrives_over_smtp_and_works_once,
    mail_queued_while_smtp_is_down_is_delivered_when_it_is_back,
    an_expired_link_is_refused,
    the_answer_is_the_same_for_known_and_unknown_addresses,
    a_bad_address_gets_a_message_next_to_the_field,
    link_requests_are_rate_limited_per_address,
    sign_in_issues_a_new_session_id,
    sign_out_ends_this_session_and_sign_out_everywhere_ends_all,
    idle_and_absolute_timeouts_end_sessions,
    state_changing_requests_from_other_sites_are_refused,
    pages_carry_security_headers_and_a_nonce_the_scripts_use,
    configured_admins_get_the_role_at_sign_in,
    changed_terms_are_accepted_again_with_the_profile_kept,
);

async fn an_email_link_arrives_over_smtp_and_works_once(backend: Backend) {
    let sink = SmtpSink::start().await;
    let app = TestApp::spawn_with(backend, TestOptions { mail_url: Some(sink.mail_url()), ..Default::default() }).await;
    let browser = app.browser();

    let asked = browser.post("/auth/email", &[("email", "Ada@Example.org")]).await;
    assert_eq!(location(&asked), "/signin/sent");
    let mail = sink.wait_for(1, Duration::from_secs(10)).await.remove(0);
    assert_eq!(mail["rcpt_tos"], serde_json::json!(["ada@example.org"]));
    assert_eq!(mail["subject"], "Your sign-in link for Berth");
    assert!(mail["message_id"].as_str().unwrap().starts_with("<outbox-"), "{mail}");
    let text = mail["text"].as_str().expect("a text part");
    let html = mail["html"].as_str().expect("an HTML part");
    let token = crate::helpers::token_in(text).expect("the text part has the link");
    assert!(text.contains(&format!("{}/signin/link?token={token}", app.address)));
    assert!(html.contains(&token) && html.contains("<a href="), "{html}");
    let stored = app.scalar("SELECT token_hash FROM sign_in_links").await.unwrap();
    assert_ne!(stored, token, "only a hash of the token is stored");

    // The link opens a confirmation page (mail scanners that follow links do not use it up).
    let confirm = browser.page(&format!("/signin/link?token={token}")).await;
    assert!(confirm.contains(r#"action="/auth/email/verify""#));
    let used = browser.post("/auth/email/verify", &[("token", &token)]).await;
    assert_eq!(location(&used), "/signup", "a new account completes sign-up first");
    let signup = browser.page("/signup").await;
    assert!(signup.contains("Complete your sign-up") && signup.contains(r#"href="/terms""#));
    assert!(browser.page("/terms").await.contains("Version 2026-11"), "the terms it links to exist");
    let refused = browser
        .submit("/signup", "/api/complete_sign_up", &[("name", "Ada Lovelace"), ("organisation", "Analytical Engines")])
        .await;
    let back = location(&refused);
    assert!(back.contains("/signup?") && back.contains("__err="), "the form comes back with its error: {back}");
    let shown = browser.page(back.trim_start_matches(&app.address)).await;
    assert!(shown.contains("You need to accept the terms of use"), "the message is shown next to the checkbox");
    let done = browser
        .submit(
            "/signup",
            "/api/complete_sign_up",
            &[("name", "Ada Lovelace"), ("organisation", "Analytical Engines"), ("accept_terms", "yes")],
        )
        .await;
    assert_eq!(location(&done), "/account");
    let account = browser.page("/account").await;
    for expected in ["Ada Lovelace", "Analytical Engines", "ada@example.org", "E-mail link", "(this browser)"] {
        assert!(account.contains(expected), "the account page lacks {expected:?}");
    }
    assert!(account.contains("version 2026-11, accepted"), "the terms' version and time are shown");

    // Used once, the link is spent, in this browser or any other.
    let again = Browser::new(&app.address).post("/auth/email/verify", &[("token", &token)]).await;
    let target = location(&again);
    assert_eq!(target, "/signin?error=link_expired", "a code, never free text, in the URL");
    assert!(browser.page(&target).await.contains("has already been used"), "the page says it in words");

    let actions = app.scalar("SELECT COUNT(*) || '' FROM audit_log WHERE action IN ('user.sign_up', 'user.sign_in', 'user.sign_up_complete', 'sign_in_link.request')").await;
    assert_eq!(actions.as_deref(), Some("4"), "each step is in the audit trail");
}

async fn mail_queued_while_smtp_is_down_is_delivered_when_it_is_back(backend: Backend) {
    let mut sink = SmtpSink::start().await;
    let app = TestApp::spawn_with(backend, TestOptions { mail_url: Some(sink.mail_url()), ..Default::default() }).await;
    sink.stop().await;

    let asked = app.browser().post("/auth/email", &[("email", "grace@example.org")]).await;
    assert_eq!(location(&asked), "/signin/sent", "the visitor is not told about the outage");
    let failed = eventually(Duration::from_secs(10), || async {
        app.scalar("SELECT last_error FROM jobs WHERE kind = 'send_mail'").await.is_some()
    })
    .await;
    assert!(failed, "the delivery attempt failed and was recorded");
    assert!(app.scalar("SELECT sent_at FROM outbox").await.is_none());

    sink.restart().await;
    let mail = sink.wait_for(1, Duration::from_secs(30)).await;
    assert_eq!(mail[0]["rcpt_tos"], serde_json::json!(["grace@example.org"]));
    let done = eventually(Duration::from_secs(5), || async {
        app.scalar("SELECT CASE WHEN done_at IS NOT NULL AND last_error IS NULL THEN 'done' END FROM jobs WHERE kind = 'send_mail'")
            .await
            .is_some()
    })
    .await;
    assert!(done, "the job is done once the mail is delivered");
    assert!(app.scalar("SELECT CASE WHEN sent_at IS NOT NULL THEN 'sent' END FROM outbox").await.is_some());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sink.messages().len(), 1, "delivered exactly once");
}

/// Mail over STARTTLS with a login, to a server whose certificate comes from a CA Berth is told to trust; and no
/// mail at all to the same server when Berth does not trust it. (Delivery does not depend on the database, so this
/// runs on SQLite only.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_goes_over_starttls_with_a_login_and_only_to_a_trusted_certificate() {
    let certificates = TestCertificates::new();
    let (cert, key) = (certificates.cert.display().to_string(), certificates.key.display().to_string());
    let sink = SmtpSink::start_with(&["--tls", &cert, &key, "--auth", "berth:s3cret pass"]).await;
    let mail_url = format!("smtp://berth:s3cret%20pass@127.0.0.1:{}", sink.port);

    let untrusting = TestOptions { mail_url: Some(mail_url.clone()), ..Default::default() };
    let app = TestApp::spawn_with(Backend::Sqlite, untrusting).await;
    app.browser().post("/auth/email", &[("email", "tls@example.org")]).await;
    let failed = eventually(Duration::from_secs(10), || async {
        app.scalar("SELECT last_error FROM jobs WHERE kind = 'send_mail'")
            .await
            .is_some_and(|error| error.contains("certificate"))
    })
    .await;
    assert!(
        failed,
        "an unknown certificate is refused: {:?}",
        app.scalar("SELECT last_error FROM jobs WHERE kind = 'send_mail'").await
    );
    assert!(sink.messages().is_empty());

    let trusting =
        TestOptions { mail_url: Some(mail_url), mail_ca_file: Some(certificates.ca.clone()), ..Default::default() };
    let app = TestApp::spawn_with(Backend::Sqlite, trusting).await;
    app.browser().post("/auth/email", &[("email", "tls@example.org")]).await;
    let mail = sink.wait_for(1, Duration::from_secs(10)).await.remove(0);
    assert_eq!(mail["tls"], true, "STARTTLS was used");
    assert_eq!(mail["authenticated"], true, "the login was accepted");
    assert_eq!(mail["rcpt_tos"], serde_json::json!(["tls@example.org"]));
}

async fn an_expired_link_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let browser = app.browser();
    browser.post("/auth/email", &[("email", "late@example.org")]).await;
    let token = app.wait_for_token(1).await;
    // Move the link's expiry into the past instead of waiting 15 minutes.
    assert_eq!(app.execute("UPDATE sign_in_links SET expires_at = '2000-01-01T00:00:00+00:00'").await, 1);
    let used = browser.post("/auth/email/verify", &[("token", &token)]).await;
    assert_eq!(location(&used), "/signin?error=link_expired");
    assert!(browser.page("/signin?error=link_expired").await.contains("has expired"));
    assert_eq!(location(&browser.get("/account").await), "/signin", "not signed in");
}

async fn the_answer_is_the_same_for_known_and_unknown_addresses(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.sign_in(&app.browser(), "known@example.org").await;
    let known = app.browser().post("/auth/email", &[("email", "known@example.org")]).await;
    let unknown = app.browser().post("/auth/email", &[("email", "unknown@example.org")]).await;
    assert_eq!((known.status(), location(&known)), (unknown.status(), location(&unknown)));
}

async fn a_bad_address_gets_a_message_next_to_the_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let browser = app.browser();
    let asked = browser.post("/auth/email", &[("email", "not an address")]).await;
    let target = location(&asked);
    assert!(target.starts_with("/signin?error="), "{target}");
    let page = browser.page(&target).await;
    assert!(page.contains(r#"id="email-error" class="field-error""#), "the message is next to the field");
    assert!(page.contains(r#"aria-invalid="true""#));
    assert!(page.contains(r#"value="not an address""#), "what was typed is kept");
    assert!(app.mail_files().is_empty());
}

async fn link_requests_are_rate_limited_per_address(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let browser = app.browser();
    for _ in 0..5 {
        assert_eq!(location(&browser.post("/auth/email", &[("email", "busy@example.org")]).await), "/signin/sent");
    }
    let refused = location(&browser.post("/auth/email", &[("email", "busy@example.org")]).await);
    assert!(refused.starts_with("/signin?error=rate_limited&wait="), "{refused}");
    assert!(browser.page(&refused).await.contains("Too many attempts"), "{refused}");
    let other = browser.post("/auth/email", &[("email", "calm@example.org")]).await;
    assert_eq!(location(&other), "/signin/sent", "other addresses are counted apart");
}

async fn sign_in_issues_a_new_session_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let browser = app.browser();
    app.sign_in(&browser, "first@example.org").await;
    let before = browser.session_cookie().expect("a session cookie");
    // Signing in again in a browser that already holds a session id (as a planted one would be) replaces it.
    app.sign_in(&browser, "second@example.org").await;
    let after = browser.session_cookie().expect("a session cookie");
    assert_ne!(before, after, "the session id changes at sign-in");
    let live = app.scalar("SELECT COUNT(*) || '' FROM user_sessions").await;
    assert_eq!(live.as_deref(), Some("1"), "the replaced session was ended, not left behind");
    assert!(browser.page("/account").await.contains("second@example.org"));
    let planted = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let response = planted
        .get(format!("{}/account", app.address))
        .header("cookie", format!("berth_session={before}"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), "/signin", "the old id signs nobody in");
}

async fn sign_out_ends_this_session_and_sign_out_everywhere_ends_all(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (laptop, phone) = (app.browser(), app.browser());
    app.sign_in(&laptop, "multi@example.org").await;
    app.sign_in(&phone, "multi@example.org").await;
    let sessions = laptop.page("/account").await;
    assert_eq!(sessions.matches("Sign out there").count(), 1, "the other session can be signed out from here");

    assert_eq!(location(&laptop.post("/auth/signout", &[]).await), "/");
    assert_eq!(location(&laptop.get("/account").await), "/signin");
    assert!(phone.page("/account").await.contains("multi@example.org"), "the other session lives on");

    app.sign_in(&laptop, "multi@example.org").await;
    assert_eq!(location(&phone.post("/auth/signout-everywhere", &[]).await), "/");
    assert_eq!(location(&laptop.get("/account").await), "/signin");
    assert_eq!(location(&phone.get("/account").await), "/signin");
    let ends =
        app.scalar("SELECT COUNT(*) || '' FROM audit_log WHERE action IN ('session.end', 'session.end_all')").await;
    assert_eq!(ends.as_deref(), Some("2"));
}

async fn idle_and_absolute_timeouts_end_sessions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let browser = app.browser();
    app.sign_in(&browser, "sleepy@example.org").await;
    assert!(browser.page("/account").await.contains("sleepy@example.org"));
    app.execute("UPDATE user_sessions SET last_seen_at = '2000-01-01T00:00:00+00:00'").await;
    assert_eq!(location(&browser.get("/account").await), "/signin", "idle too long");

    app.sign_in(&browser, "sleepy@example.org").await;
    assert!(browser.page("/account").await.contains("sleepy@example.org"));
    app.execute("UPDATE user_sessions SET expires_at = '2000-01-01T00:00:00+00:00'").await;
    assert_eq!(location(&browser.get("/account").await), "/signin", "past the absolute lifetime");
}

async fn state_changing_requests_from_other_sites_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let browser = app.browser();
    app.sign_in(&browser, "target@example.org").await;
    let cookie = format!("berth_session={}", browser.session_cookie().unwrap());
    let plain = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for (path, origin) in [
        ("/auth/signout", None),
        ("/auth/signout", Some("https://evil.example")),
        ("/auth/signout-everywhere", Some("null")),
        ("/api/end_session", None),
        ("/api/complete_sign_up", Some("http://127.0.0.1:1")),
    ] {
        let mut request = plain.post(format!("{}{path}", app.address)).header("cookie", &cookie).form(&[("x", "y")]);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 403, "POST {path} from {origin:?}");
    }
    let referer_only = plain
        .post(format!("{}/auth/email", app.address))
        .header("referer", format!("{}/signin", app.address))
        .form(&[("email", "x@example.org")])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&referer_only), "/signin/sent", "a same-site Referer is enough when Origin is missing");
    assert!(browser.page("/account").await.contains("target@example.org"), "still signed in");
}

async fn pages_carry_security_headers_and_a_nonce_the_scripts_use(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for path in ["/", "/status", "/signin", "/status.json", "/healthz", "/no-such-page"] {
        let response = app.get(path).await;
        let headers = response.headers().clone();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "strict-origin-when-cross-origin", "{path}");
        assert!(headers.get("strict-transport-security").is_none(), "no HSTS on plain http: {path}");
        let csp = headers["content-security-policy"].to_str().unwrap().to_owned();
        assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"), "{path}: {csp}");
        let body = response.text().await.unwrap();
        if body.contains("<script") {
            let nonce = csp.split("'nonce-").nth(1).and_then(|rest| rest.split('\'').next()).expect("a nonce");
            let scripts = body.matches("<script").count();
            let with_nonce = body.matches(&format!("nonce=\"{nonce}\"")).count();
            assert!(with_nonce >= scripts, "{path}: {scripts} scripts, {with_nonce} with the policy's nonce");
        }
    }
}

async fn configured_admins_get_the_role_at_sign_in(backend: Backend) {
    let options = TestOptions { admin_emails: vec!["boss@example.org".into()], ..Default::default() };
    let app = TestApp::spawn_with(backend, options).await;
    let browser = app.browser();
    app.sign_in(&browser, "boss@example.org").await;
    let account = browser.page("/account").await;
    assert!(account.contains("<dd>admin</dd>"), "the account page shows the role");
    let grant = app.scalar("SELECT actor FROM audit_log WHERE action = 'user.role_grant'").await;
    assert_eq!(grant.as_deref(), Some("system"));
    let plain = app.browser();
    app.sign_in(&plain, "worker@example.org").await;
    assert!(plain.page("/account").await.contains("<dd>user</dd>"));
}

async fn changed_terms_are_accepted_again_with_the_profile_kept(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let browser = app.browser();
    assert_eq!(app.sign_in(&browser, "long-time@example.org").await, "/signup");
    assert_eq!(app.sign_in(&browser, "long-time@example.org").await, "/account", "accepted once is enough");
    // The person accepted an older version of the terms.
    app.execute("UPDATE users SET terms_version = '2020-01'").await;
    let again = app.browser();
    assert_eq!(app.sign_in(&again, "long-time@example.org").await, "/signup");
    let form = again.page("/signup").await;
    assert!(form.contains(r#"value="Test Person""#) && form.contains(r#"value="Test Org""#), "the profile is kept");
    let version = app.scalar("SELECT terms_version FROM users").await;
    assert_eq!(version.as_deref(), Some("2026-11"), "the current version is recorded");
}
