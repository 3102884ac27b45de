//! The HTTP surface, started on port 0 over each backend.

use std::io::Read as _;

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    the_status_page_shows_matrix_service_level_work_and_issues,
    the_status_page_is_cached_with_validators_and_answers_304,
    the_status_page_is_served_compressed_when_asked,
    status_json_follows_the_documented_schema,
    the_atom_feed_is_valid_and_lists_known_issues,
    health_and_readiness_answer,
    metrics_count_requests_by_route_and_status_and_show_the_pool,
    an_unknown_route_gets_the_404_page,
    the_home_page_links_to_the_status_page,
    every_response_carries_a_request_id_and_a_cache_policy,
    the_status_page_answered_before_routing_has_the_headers_of_routed_pages,
    a_missing_asset_is_not_cached_for_long,
);

async fn the_status_page_shows_matrix_service_level_work_and_issues(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app.get("/status").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/html; charset=utf-8");
    let html = crate::helpers::without_markers(&response.text().await.unwrap());
    for expected in [
        "<h1>Service status</h1>",
        "OpenShift version",
        "GlusterFS storage class",
        // State is shown by text as well as by colour.
        r#"class="rated rated-warn"><span class="badge">Caution</span>"#,
        r#"class="rated rated-ok"><span class="badge">OK</span>"#,
        "Level A: 97% availability",
        "Work remaining before production",
        "<h3>Storage</h3>",
        "<h3>Networking</h3>",
        "<h3>Billing</h3>",
        "<h3>Customer processes</h3>",
        "Clusters take a long time to deploy",
        "15–25 minutes",
        "<dt>Workaround</dt>",
        "<dt>Opened</dt>",
        "<dt>Updated</dt>",
        r#"<nav aria-label="Main">"#,
        r#"<main id="main""#,
    ] {
        assert!(html.contains(expected), "the status page lacks {expected:?}");
    }
}

async fn the_status_page_is_cached_with_validators_and_answers_304(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let first = app.get("/status").await;
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let last_modified = first.headers()["last-modified"].to_str().unwrap().to_owned();
    assert_eq!(first.headers()["cache-control"], "public, no-cache");
    assert!(first.headers()["vary"].to_str().unwrap().contains("accept-encoding"));
    let body = first.bytes().await.unwrap();

    let second = app.get("/status").await;
    assert_eq!(second.headers()["etag"], etag.as_str(), "rendered once, served the same");
    assert_eq!(second.bytes().await.unwrap(), body);

    let revalidated = app.get_with("/status", &[("if-none-match", &etag)]).await;
    assert_eq!(revalidated.status(), 304);
    assert_eq!(revalidated.headers()["etag"], etag.as_str());
    assert!(revalidated.bytes().await.unwrap().is_empty());

    let listed = app.get_with("/status", &[("if-none-match", &format!("\"other\", {etag}"))]).await;
    assert_eq!(listed.status(), 304, "a list of tags containing ours matches");
    assert_eq!(app.get_with("/status", &[("if-none-match", "*")]).await.status(), 304);

    let stale = app.get_with("/status", &[("if-none-match", "\"something-else\"")]).await;
    assert_eq!(stale.status(), 200);

    let by_date = app.get_with("/status", &[("if-modified-since", &last_modified)]).await;
    assert_eq!(by_date.status(), 304);
    let long_ago = app.get_with("/status", &[("if-modified-since", "Thu, 01 Jan 2015 00:00:00 GMT")]).await;
    assert_eq!(long_ago.status(), 200);
}

async fn the_status_page_is_served_compressed_when_asked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let plain = app.get("/status").await.bytes().await.unwrap();

    let gzip = app.get_with("/status", &[("accept-encoding", "gzip")]).await;
    assert_eq!(gzip.headers()["content-encoding"], "gzip");
    let gzip_etag = gzip.headers()["etag"].to_str().unwrap().to_owned();
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&gzip.bytes().await.unwrap()[..]).read_to_end(&mut unzipped).unwrap();
    assert_eq!(unzipped, plain);

    let brotli = app.get_with("/status", &[("accept-encoding", "gzip, deflate, br")]).await;
    assert_eq!(brotli.headers()["content-encoding"], "br");
    let compressed = brotli.bytes().await.unwrap();
    assert!(compressed.len() < plain.len() / 2, "brotli shrinks the page: {} of {}", compressed.len(), plain.len());
    let mut unbrotli = Vec::new();
    brotli::Decompressor::new(&compressed[..], 4096).read_to_end(&mut unbrotli).unwrap();
    assert_eq!(unbrotli, plain);

    let revalidated = app.get_with("/status", &[("accept-encoding", "gzip"), ("if-none-match", &gzip_etag)]).await;
    assert_eq!(revalidated.status(), 304);
}

async fn status_json_follows_the_documented_schema(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app.get("/status.json").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert!(response.headers().contains_key("etag"));
    let json: serde_json::Value = response.json().await.unwrap();
    assert_eq!(json["schema_version"], 2);
    assert_eq!(json["revision"], 1);
    // Version 2: the components (seeded on first start), open and recent incidents, maintenance.
    assert_eq!(json["overall"], "operational");
    let components = json["components"].as_array().unwrap();
    assert_eq!(components.len(), 5);
    assert_eq!(components[0]["name"], "Web console");
    assert!(components[0]["id"].is_i64() && components[0]["description"].is_string());
    assert_eq!(components[0]["status"], "operational");
    assert!(components[0].as_object().unwrap().contains_key("availability_90_days"));
    assert!(!components[0].as_object().unwrap().contains_key("last_90_days"), "the bars are the page's");
    assert_eq!(json["incidents"], serde_json::json!([]));
    assert_eq!(json["maintenance"], serde_json::json!([]));
    assert!(json["updated_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(json["service"]["stage"], "Beta");
    assert!(json["service"]["service_level"].as_str().unwrap().contains("97%"));
    let first = &json["maturity"][0];
    assert_eq!(first["indicator"], "OpenShift version");
    assert_eq!(first["current"]["state"], "ok");
    assert!(first["best_feasible"]["value"].is_string());
    assert_eq!(json["maturity"][2]["current"]["state"], "warn");
    assert_eq!(json["work_remaining"].as_array().unwrap().len(), 4);
    assert!(json["work_remaining"][0]["description"].is_string());
    let issue = &json["known_issues"][0];
    assert!(issue["id"].is_i64());
    assert_eq!(issue["status"], "identified");
    assert!(issue["workaround"].is_null());
    assert!(issue["opened_at"].is_string() && issue["updated_at"].is_string());

    // Typed clients read it back into the same model.
    let typed: app::status::model::StatusReport = serde_json::from_value(json).unwrap();
    assert_eq!(typed.known_issues.len(), 1);
}

async fn the_atom_feed_is_valid_and_lists_known_issues(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app.get("/status/feed.atom").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/atom+xml; charset=utf-8");
    let text = response.text().await.unwrap();
    let feed = atom_syndication::Feed::read_from(text.as_bytes()).expect("valid Atom");
    assert_eq!(feed.entries().len(), 1);
    let entry = &feed.entries()[0];
    assert_eq!(entry.title().as_str(), "Clusters take a long time to deploy");
    assert!(entry.id().starts_with(&format!("{}/status#issue-", app.address)), "{}", entry.id());
    assert!(entry.links().iter().any(|link| link.href().ends_with(&format!("/status#issue-{}", 1))));
}

async fn health_and_readiness_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let live = app.get("/healthz").await;
    assert_eq!(live.status(), 200);
    assert_eq!(live.headers()["cache-control"], "no-store");
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.text().await.unwrap(), "ready\n");
}

async fn metrics_count_requests_by_route_and_status_and_show_the_pool(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.get("/status").await;
    app.get("/status").await;
    app.get("/no/such/page").await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    let text = response.text().await.unwrap();
    assert!(text.contains(r#"berth_http_requests_total{method="GET",route="/status",status="200"} 2"#), "{text}");
    assert!(text.contains(r#"berth_http_requests_total{method="GET",route="(unmatched)",status="404"} 1"#), "{text}");
    assert!(
        text.contains(
            r#"berth_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/status",status="200"} 2"#
        ),
        "{text}"
    );
    assert!(text.contains("berth_db_pool_connections_open"), "{text}");
    assert!(text.contains("berth_db_pool_connections_max"), "{text}");
    assert!(text.contains("berth_jobs_pending 0"), "{text}");
    assert!(text.trim_end().ends_with("# EOF"));
}

async fn an_unknown_route_gets_the_404_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app.get("/no/such/page").await;
    assert_eq!(response.status(), 404);
    let html = crate::helpers::without_markers(&response.text().await.unwrap());
    assert!(html.contains("<h1>Page not found</h1>"));
    assert!(html.contains(r#"<nav aria-label="Main">"#), "the 404 page has the layout");
    assert!(html.contains("Page not found · Berth</title>"));
}

async fn the_home_page_links_to_the_status_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app.get("/").await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains(r#"<a href="/status">service status page</a>"#));
    assert!(html.contains("<html lang=\"en\""));
}

async fn every_response_carries_a_request_id_and_a_cache_policy(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let page = app.get("/").await;
    assert_eq!(page.headers()["x-request-id"].len(), 32);
    assert_eq!(page.headers()["cache-control"], "private, no-cache");
    let given = app.get_with("/healthz", &[("x-request-id", "trace-me-42")]).await;
    assert_eq!(given.headers()["x-request-id"], "trace-me-42");
    let refused = app.get_with("/healthz", &[("x-request-id", "not acceptable!")]).await;
    assert_ne!(refused.headers()["x-request-id"], "not acceptable!");
}

/// The anonymous `/status` is answered before routing, past the layers that add headers to every other response:
/// it must still carry them.
async fn the_status_page_answered_before_routing_has_the_headers_of_routed_pages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let routed = app.get("/").await;
    let status = app.get("/status").await;
    assert_eq!(status.status(), 200);
    for name in ["x-content-type-options", "referrer-policy", "x-frame-options", "cross-origin-opener-policy"] {
        assert_eq!(status.headers().get(name), routed.headers().get(name), "{name}");
        assert!(status.headers().contains_key(name), "{name}");
    }
    let policy = status.headers()["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("'nonce-") && policy.contains("frame-ancestors 'none'"), "{policy}");
    assert_eq!(status.headers()["cache-control"], "public, no-cache");
    assert_eq!(status.headers()["x-request-id"].len(), 32);
    assert_ne!(status.headers()["x-request-id"], app.get("/status").await.headers()["x-request-id"]);
    let given = app.get_with("/status", &[("x-request-id", "incident-7")]).await;
    assert_eq!(given.headers()["x-request-id"], "incident-7");
    // With a session cookie (here one that names no session) the page is rendered by the routed stack, with the
    // same headers.
    let rendered = app.get_with("/status", &[("cookie", "berth_session=nothing")]).await;
    assert_eq!(rendered.status(), 200);
    for name in ["x-content-type-options", "x-frame-options", "x-request-id"] {
        assert!(rendered.headers().contains_key(name), "{name}");
    }
    assert_eq!(rendered.headers()["cache-control"], "private, no-cache");
}

async fn a_missing_asset_is_not_cached_for_long(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app.get("/pkg/no-such-file.js").await;
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["cache-control"], "no-store");
}
