//! A database that goes away at run time, and a graceful shutdown with a request in flight. PostgreSQL only:
//! an embedded SQLite file cannot become unreachable the way a database server can.

use std::time::{Duration, Instant};

use crate::helpers::{Backend, ProxyMode, TcpProxy, TestApp, TestDatabase, eventually};

async fn app_behind_proxy() -> (TestApp, TcpProxy) {
    let db = TestDatabase::new(Backend::Postgres).await;
    let proxy = TcpProxy::start(db.postgres_addr().expect("a PostgreSQL address")).await;
    let url = db.url_via(proxy.addr);
    (TestApp::spawn_on(db, &url).await, proxy)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_gives_503_readiness_and_a_friendly_page_then_recovers_by_itself() {
    let (app, proxy) = app_behind_proxy().await;
    assert_eq!(app.get("/readyz").await.status(), 200);

    proxy.set(ProxyMode::Down).await;
    assert_eq!(app.get("/readyz").await.status(), 503);
    // Nothing is loaded yet, so the status page needs the database and must say, kindly, that it is away.
    let page = app.get("/status").await;
    assert_eq!(page.status(), 503);
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    assert!(html.contains("cannot reach its database right now"), "{html}");
    assert!(html.contains("Reference "), "the page gives a reference for support");
    assert!(html.contains(r#"<nav aria-label="Main">"#), "the error page keeps the layout");
    assert!(!html.to_lowercase().contains("pool"), "no driver detail leaks: {html}");
    let json = app.get("/status.json").await;
    assert_eq!(json.status(), 503);
    let body: serde_json::Value = json.json().await.unwrap();
    assert!(body["error"]["Unavailable"]["reference"].is_string(), "{body}");
    assert_eq!(app.get("/healthz").await.status(), 200, "the process stays alive");

    proxy.set(ProxyMode::Up).await;
    assert!(eventually(Duration::from_secs(15), || async { app.get("/readyz").await.status() == 200 }).await);
    let page = app.get("/status").await;
    assert_eq!(page.status(), 200, "recovered without a restart");
    assert!(page.text().await.unwrap().contains("OpenShift version"));

    // Once rendered, the status page outlives another outage: it is what people read during one.
    proxy.set(ProxyMode::Down).await;
    assert_eq!(app.get("/readyz").await.status(), 503);
    assert_eq!(app.get("/status").await.status(), 200);
    assert_eq!(app.get("/status.json").await.status(), 200);
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_shutdown_lets_the_request_in_flight_finish() {
    let (mut app, proxy) = app_behind_proxy().await;
    assert_eq!(app.get("/readyz").await.status(), 200);
    proxy.set(ProxyMode::Slow(Duration::from_millis(400))).await;

    let started = Instant::now();
    let in_flight = tokio::spawn({
        let request = app.client.get(format!("{}/readyz", app.address));
        async move { request.send().await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    app.begin_stop();

    let response = in_flight.await.unwrap().expect("the request in flight gets its answer");
    assert_eq!(response.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(350), "the request really was in flight");
    app.stopped().await.expect("the server stopped cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_in_people_are_told_about_an_outage_and_stay_signed_in() {
    let (app, proxy) = app_behind_proxy().await;
    let browser = app.browser();
    app.sign_in(&browser, "patient@example.org").await;
    assert!(browser.page("/account").await.contains("patient@example.org"));

    proxy.set(ProxyMode::Down).await;
    let page = browser.get("/account").await;
    assert_eq!(page.status(), 503, "not a redirect to sign in: that would not help");
    let html = page.text().await.unwrap();
    assert!(html.contains("cannot reach its database right now") && html.contains("Reference "), "{html}");
    let asked = browser.post("/auth/email", &[("email", "patient@example.org")]).await;
    let target = crate::helpers::location(&asked);
    assert!(target.starts_with("/signin?error=unavailable&ref="), "a clear message instead of a 500: {target}");

    proxy.set(ProxyMode::Up).await;
    let back = eventually(Duration::from_secs(15), || async { browser.get("/account").await.status() == 200 }).await;
    assert!(back, "the session survived the outage");
    app.stop().await.unwrap();
}
