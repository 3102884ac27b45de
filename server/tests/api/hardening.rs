//! The fixes of the sign-in security review, each proven over HTTP on both backends: secrets that leave no copy in
//! the database, sessions that live while used, rate limits behind a proxy, the CSRF check, bounded metrics,
//! `no-store` on personal pages, sessions signed out from elsewhere, and status documents that follow changes.

use std::time::Duration;

use crate::helpers::{Backend, Browser, TestApp, TestOptions, location};
use crate::on_both_backends;

on_both_backends!(
    no_table_keeps_the_raw_token_of_a_delivered_link,
    a_successful_sign_in_ends_the_other_links_of_the_address,
    an_active_session_outlives_the_idle_limit_and_ends_when_left_idle,
    an_active_session_ends_at_its_absolute_lifetime,
    behind_a_trusted_proxy_one_abusive_client_is_limited_and_others_are_not,
    a_junk_token_flood_does_not_stop_anyone_asking_for_a_link,
    origins_are_compared_whole_and_null_is_cross_site,
    invented_methods_leave_the_metrics_small,
    personal_pages_are_never_stored,
    signing_out_there_ends_only_ones_own_other_session,
    a_status_change_reaches_every_document_with_a_new_etag,
);

/// Every row of every table in the app's database, as text (one string per row); binary columns (session data)
/// appear in hexadecimal.
async fn all_rows(app: &TestApp) -> Vec<String> {
    if app.db.url().starts_with("postgres") {
        let tables: Vec<String> = crate::on_test_pool!(app.db.url(), |pool| sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'"
        )
        .fetch_all(&pool)
        .await
        .unwrap());
        let mut rows = Vec::new();
        for table in tables {
            let sql = format!("SELECT CAST(t AS TEXT) FROM \"{table}\" t");
            let found: Vec<String> =
                crate::on_test_pool!(app.db.url(), |pool| sqlx::query_scalar(&sql).fetch_all(&pool).await.unwrap());
            rows.extend(found.into_iter().map(|row| format!("{table}: {row}")));
        }
        rows
    } else {
        let tables: Vec<String> = crate::on_test_pool!(app.db.url(), |pool| sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
        .fetch_all(&pool)
        .await
        .unwrap());
        let mut rows = Vec::new();
        for table in tables {
            let columns: Vec<String> = crate::on_test_pool!(app.db.url(), |pool| sqlx::query_scalar(&format!(
                "SELECT name FROM pragma_table_info('{table}')"
            ))
            .fetch_all(&pool)
            .await
            .unwrap());
            let row = columns
                .iter()
                .map(|column| {
                    format!(
                        "COALESCE(CASE WHEN typeof(\"{column}\") = 'blob' THEN hex(\"{column}\") \
                         ELSE CAST(\"{column}\" AS TEXT) END, '')"
                    )
                })
                .collect::<Vec<_>>()
                .join(" || '|' || ");
            let sql = format!("SELECT {row} FROM \"{table}\"");
            let found: Vec<String> =
                crate::on_test_pool!(app.db.url(), |pool| sqlx::query_scalar(&sql).fetch_all(&pool).await.unwrap());
            rows.extend(found.into_iter().map(|row| format!("{table}: {row}")));
        }
        rows
    }
}

async fn no_table_keeps_the_raw_token_of_a_delivered_link(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let browser = app.browser();
    browser.post("/auth/email", &[("email", "secret@example.org")]).await;
    let token = app.wait_for_token(1).await;
    let delivered = crate::helpers::eventually(Duration::from_secs(10), || async {
        app.scalar("SELECT CASE WHEN sent_at IS NOT NULL THEN 'sent' END FROM outbox").await.is_some()
    })
    .await;
    assert!(delivered, "the message was delivered");
    let rows = all_rows(&app).await;
    assert!(rows.iter().any(|row| row.starts_with("outbox:")), "the scan sees the outbox");
    assert!(rows.iter().any(|row| row.starts_with("sign_in_links:")), "and the links");
    for row in &rows {
        assert!(!contains_secret(row, &token), "the raw token is readable in the database: {row}");
    }
    assert_eq!(app.scalar("SELECT text_body FROM outbox").await.as_deref(), Some(""), "the body was erased");
    assert_eq!(
        app.scalar("SELECT subject FROM outbox").await.as_deref(),
        Some("Your sign-in link for Berth"),
        "what was sent, and when, is kept"
    );

    // Used, the link leaves no copy either (sessions and audit rows included).
    assert_eq!(location(&browser.post("/auth/email/verify", &[("token", &token)]).await), "/signup");
    for row in all_rows(&app).await {
        assert!(!contains_secret(&row, &token), "the raw token is readable in the database: {row}");
    }
}

/// Whether `row` holds `secret` as text or, in a binary column, as its bytes in hexadecimal.
fn contains_secret(row: &str, secret: &str) -> bool {
    let hex: String = secret.bytes().map(|byte| format!("{byte:02x}")).collect();
    row.contains(secret) || row.to_ascii_lowercase().contains(&hex)
}

async fn a_successful_sign_in_ends_the_other_links_of_the_address(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let browser = app.browser();
    browser.post("/auth/email", &[("email", "twice@example.org")]).await;
    let first = app.wait_for_token(1).await;
    browser.post("/auth/email", &[("email", "twice@example.org")]).await;
    let second = app.wait_for_token(2).await;
    assert!(app.mail_files()[0].contains("within 10 minutes"), "links last 10 minutes");
    assert_eq!(location(&browser.post("/auth/email/verify", &[("token", &second)]).await), "/signup");
    let stale = app.browser().post("/auth/email/verify", &[("token", &first)]).await;
    assert_eq!(location(&stale), "/signin?error=link_expired", "the other link was ended by the sign-in");
}

/// Signs in with the short session settings and returns the browser.
async fn short_lived(backend: Backend, idle: Duration, lifetime: Duration) -> (TestApp, Browser) {
    let app =
        TestApp::spawn_with(backend, TestOptions { sessions: Some((idle, lifetime)), ..Default::default() }).await;
    let browser = app.browser();
    app.sign_in(&browser, "busy@example.org").await;
    (app, browser)
}

async fn an_active_session_outlives_the_idle_limit_and_ends_when_left_idle(backend: Backend) {
    let idle = Duration::from_secs(3);
    let (app, browser) = short_lived(backend, idle, Duration::from_secs(3600)).await;
    // Keep using the site for twice the idle limit: the session stays.
    let until = tokio::time::Instant::now() + idle * 2;
    while tokio::time::Instant::now() < until {
        let response = browser.get("/account").await;
        assert_eq!(
            response.status(),
            200,
            "signed out while active, {:?} before the end",
            until - tokio::time::Instant::now()
        );
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    // Then stop for longer than the limit: it ends.
    tokio::time::sleep(idle + Duration::from_secs(1)).await;
    assert_eq!(location(&browser.get("/account").await), "/signin", "the idle limit counts from the last request");
    drop(app);
}

async fn an_active_session_ends_at_its_absolute_lifetime(backend: Backend) {
    let lifetime = Duration::from_secs(4);
    let started = tokio::time::Instant::now();
    let (_app, browser) = short_lived(backend, Duration::from_secs(3), lifetime).await;
    let mut ended_after = None;
    while started.elapsed() < lifetime * 2 {
        let response = browser.get("/account").await;
        if response.status().is_redirection() {
            ended_after = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let ended_after = ended_after.expect("the session ended, however active");
    assert!(ended_after >= lifetime - Duration::from_millis(500), "not before its lifetime: {ended_after:?}");
}

/// Posts a link request as a client behind the proxy: the test client is the proxy (127.0.0.1), and the header
/// names the client.
async fn link_request_via_proxy(browser: &Browser, client: &str, email: &str) -> String {
    let response = browser
        .client
        .post(format!("{}/auth/email", browser.address))
        .header("x-forwarded-for", format!("203.0.113.250, {client}"))
        .form(&[("email", email)])
        .send()
        .await
        .unwrap();
    location(&response)
}

async fn behind_a_trusted_proxy_one_abusive_client_is_limited_and_others_are_not(backend: Backend) {
    let options = TestOptions { trusted_proxies: vec!["127.0.0.1/32".into()], ..Default::default() };
    let app = TestApp::spawn_with(backend, options).await;
    let browser = app.browser();
    // One client asks for links to many addresses: the per-client budget stops it, whatever the addresses.
    let mut limited_at = None;
    for n in 0..40 {
        let target = link_request_via_proxy(&browser, "198.51.100.66", &format!("victim{n}@example.org")).await;
        if target.starts_with("/signin?error=rate_limited") {
            limited_at = Some(n);
            break;
        }
        assert_eq!(target, "/signin/sent");
    }
    assert_eq!(limited_at, Some(20), "20 link requests per client, then a wait");
    // Everyone else behind the same proxy is not affected.
    assert_eq!(link_request_via_proxy(&browser, "198.51.100.77", "calm@example.org").await, "/signin/sent");
    // IPv6 clients are keyed by their /64: another address of the same /64 is the same client.
    for n in 0..20 {
        let target = link_request_via_proxy(&browser, "2001:db8:5:6::1", &format!("v6-{n}@example.org")).await;
        assert_eq!(target, "/signin/sent");
    }
    let same_64 = link_request_via_proxy(&browser, "2001:db8:5:6:ffff::9", "other@example.org").await;
    assert!(same_64.starts_with("/signin?error=rate_limited"), "{same_64}");
    let next_64 = link_request_via_proxy(&browser, "2001:db8:5:7::1", "other@example.org").await;
    assert_eq!(next_64, "/signin/sent");
    let audited =
        app.scalar("SELECT ip FROM audit_log WHERE action = 'sign_in_link.request' ORDER BY id LIMIT 1").await;
    assert_eq!(audited.as_deref(), Some("198.51.100.66"), "the audit trail records the client, not the proxy");
}

async fn a_junk_token_flood_does_not_stop_anyone_asking_for_a_link(backend: Backend) {
    let options = TestOptions { trusted_proxies: vec!["127.0.0.1/32".into()], ..Default::default() };
    let app = TestApp::spawn_with(backend, options).await;
    let flooder = app.browser();
    let post_token = |client: &'static str, token: String| {
        let request = flooder
            .client
            .post(format!("{}/auth/email/verify", app.address))
            .header("x-forwarded-for", client)
            .form(&[("token", token)]);
        async move { location(&request.send().await.unwrap()) }
    };
    let mut refused = 0;
    for n in 0..30 {
        let target = post_token("198.51.100.66", format!("junk-{n}")).await;
        if target.starts_with("/signin?error=rate_limited") {
            refused += 1;
        } else {
            assert_eq!(target, "/signin?error=link_expired");
        }
    }
    assert_eq!(refused, 10, "20 failed uses per client, then a wait");
    // The flooding client may still ask for a link (a separate budget) ...
    assert_eq!(link_request_via_proxy(&flooder, "198.51.100.66", "flooder@example.org").await, "/signin/sent");
    // ... and anyone else uses theirs.
    assert_eq!(link_request_via_proxy(&flooder, "198.51.100.77", "honest@example.org").await, "/signin/sent");
    let token = app.wait_for_token(2).await;
    assert_eq!(post_token("198.51.100.77", token).await, "/signup");
}

async fn origins_are_compared_whole_and_null_is_cross_site(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let browser = app.browser();
    app.sign_in(&browser, "csrf@example.org").await;
    let cookie = format!("berth_session={}", browser.session_cookie().unwrap());
    let plain = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let https_twin = app.address.replacen("http://", "https://", 1);
    let cases: [(&str, Option<&str>); 3] = [
        (&https_twin, None),          // the right host, the wrong scheme
        ("null", Some(&app.address)), // null, whatever the Referer says
        ("null", None),
    ];
    for (origin, referer) in cases {
        let mut request =
            plain.post(format!("{}/auth/signout", app.address)).header("cookie", &cookie).header("origin", origin);
        if let Some(referer) = referer {
            request = request.header("referer", format!("{referer}/account"));
        }
        assert_eq!(request.send().await.unwrap().status(), 403, "Origin {origin} with Referer {referer:?}");
    }
    assert!(browser.page("/account").await.contains("csrf@example.org"), "still signed in");
}

async fn invented_methods_leave_the_metrics_small(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let before = app.get("/metrics").await.text().await.unwrap().len();
    for n in 0..10_000 {
        let method = reqwest::Method::from_bytes(format!("BREW{n}").as_bytes()).unwrap();
        let response = app.client.request(method, format!("{}/status", app.address)).send().await.unwrap();
        assert!(response.status().is_client_error(), "{}", response.status());
    }
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("method=\"OTHER\""), "invented methods are counted as OTHER");
    assert!(!metrics.contains("BREW"), "no invented method is a label");
    assert!(metrics.len() < before + 20_000, "the metrics grew from {before} to {} bytes", metrics.len());
}

async fn personal_pages_are_never_stored(backend: Backend) {
    let options = TestOptions { admin_emails: vec!["boss@example.org".into()], ..Default::default() };
    let app = TestApp::spawn_with(backend, options).await;
    let browser = app.browser();
    app.sign_in(&browser, "boss@example.org").await;
    browser.post("/auth/email", &[("email", "boss@example.org")]).await;
    let token = app.wait_for_token(2).await;
    for path in ["/account", "/admin", "/admin/users", "/admin/audit", &format!("/signin/link?token={token}")] {
        let response = browser.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["cache-control"], "no-store", "{path}");
    }
    let api = browser.client.post(format!("{}/api/viewer", app.address)).send().await.unwrap();
    assert_eq!(api.headers()["cache-control"], "no-store", "/api/viewer");
    assert_eq!(app.get("/status").await.headers()["cache-control"], "public, no-cache", "public pages still cache");
}

async fn signing_out_there_ends_only_ones_own_other_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (laptop, phone, stranger) = (app.browser(), app.browser(), app.browser());
    app.sign_in(&laptop, "owner@example.org").await;
    app.sign_in(&phone, "owner@example.org").await;
    app.sign_in(&stranger, "stranger@example.org").await;
    let session_of = |email: &'static str, newest: bool| {
        let order = if newest { "DESC" } else { "ASC" };
        format!(
            "SELECT s.id FROM user_sessions s JOIN users u ON u.id = s.user_id WHERE u.email = '{email}' \
             ORDER BY s.created_at {order} LIMIT 1"
        )
    };
    let phone_session = app.scalar(&session_of("owner@example.org", true)).await.unwrap();
    let stranger_session = app.scalar(&session_of("stranger@example.org", true)).await.unwrap();
    let ends = "SELECT COUNT(*) || '' FROM audit_log WHERE action = 'session.end'";

    // Another user's session id does nothing, and writes nothing.
    let foreign = laptop.submit("/account", "/api/end_session", &[("session_id", &stranger_session)]).await;
    assert!(foreign.status().is_redirection() || foreign.status().is_success(), "{}", foreign.status());
    assert!(stranger.page("/account").await.contains("stranger@example.org"), "the stranger is still signed in");
    assert_eq!(app.scalar(ends).await.as_deref(), Some("0"));

    // The owner's other session ends, with an audit row.
    laptop.submit("/account", "/api/end_session", &[("session_id", &phone_session)]).await;
    assert_eq!(location(&phone.get("/account").await), "/signin", "the phone was signed out");
    assert!(laptop.page("/account").await.contains("owner@example.org"), "this browser stays signed in");
    assert_eq!(app.scalar(ends).await.as_deref(), Some("1"));
}

async fn a_status_change_reaches_every_document_with_a_new_etag(backend: Backend) {
    let options = TestOptions { status_refresh_seconds: Some(1), ..Default::default() };
    let app = TestApp::spawn_with(backend, options).await;
    let documents = ["/status", "/status.json", "/status/feed.atom"];
    let mut before = Vec::new();
    for path in documents {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        let etag = response.headers()["etag"].to_str().unwrap().to_owned();
        before.push((etag, response.text().await.unwrap()));
    }
    // Another process changes the content: a renamed known issue and a new stage, with a new revision last (as a
    // writer moves it in the change's transaction: PostgreSQL tells the other processes when it moves).
    app.execute("UPDATE known_issues SET title = 'Renamed by another process'").await;
    app.execute("UPDATE status_meta SET revision = revision + 1, stage = 'Production'").await;
    let changed = crate::helpers::eventually(Duration::from_secs(10), || async {
        app.get("/status.json").await.text().await.unwrap().contains("Production")
    })
    .await;
    assert!(changed, "the change was picked up within the refresh period");
    for (path, (etag, body)) in documents.iter().zip(before) {
        let response = app.get(path).await;
        let new_etag = response.headers()["etag"].to_str().unwrap().to_owned();
        assert_ne!(new_etag, etag, "{path} has a new ETag");
        let new_body = response.text().await.unwrap();
        assert_ne!(new_body, body, "{path} has a new body");
        assert!(new_body.contains("Renamed by another process"), "{path} shows the change");
        let stale = app.get_with(path, &[("if-none-match", &etag)]).await;
        assert_eq!(stale.status(), 200, "{path}: the old ETag no longer matches");
    }
}
