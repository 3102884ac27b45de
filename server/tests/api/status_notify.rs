//! Being told about incidents: e-mail subscriptions (double opt-in, a filter by component, RFC 8058 one-click
//! unsubscribe) and webhooks (signed JSON, retried until a 2xx answer, every attempt logged). The webhook receiver is
//! a real HTTP server in the test.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::applications::call;
use crate::helpers::{Backend, Browser, TestApp, TestOptions, eventually};
use crate::on_both_backends;
use crate::peers::SmtpSink;

on_both_backends!(
    a_visitor_confirms_hears_of_their_components_and_unsubscribes_in_one_click,
    webhooks_get_signed_json_and_failed_deliveries_are_retried_and_logged,
);

async fn admin_app(backend: Backend) -> (TestApp, Browser) {
    let app = TestApp::spawn_with(
        backend,
        TestOptions { admin_emails: vec!["oncall@example.org".into()], ..Default::default() },
    )
    .await;
    let admin = app.browser();
    app.sign_in(&admin, "oncall@example.org").await;
    (app, admin)
}

async fn component_id(app: &TestApp, name: &str) -> String {
    app.scalar(&format!("SELECT CAST(id AS TEXT) FROM status_components WHERE name = '{name}'")).await.unwrap()
}

async fn open_incident(admin: &Browser, title: &str, component: &str) {
    let impact = format!("form[impacts][{component}]");
    let form = [
        ("form[title]", title),
        ("form[status]", "investigating"),
        ("form[message]", "Looking into it."),
        (impact.as_str(), "major_outage"),
    ];
    let (status, body) = call(admin, "admin_incident_open", &form).await;
    assert_eq!(status, 200, "{body}");
}

/// The messages to `to` whose subject or text contains `text`, as the sink decoded them (subject and text).
fn mails(sink: &SmtpSink, to: &str, text: &str) -> Vec<String> {
    sink.messages()
        .into_iter()
        .filter(|mail| mail["rcpt_tos"].as_array().is_some_and(|tos| tos.iter().any(|rcpt| rcpt == to)))
        .map(|mail| {
            format!("{}\n{}", mail["subject"].as_str().unwrap_or_default(), mail["text"].as_str().unwrap_or_default())
        })
        .filter(|mail| mail.contains(text))
        .collect()
}

async fn wait_for_mail(sink: &SmtpSink, to: &str, text: &str) -> String {
    let mut found = None;
    let arrived = eventually(Duration::from_secs(10), || {
        found = mails(sink, to, text).pop();
        std::future::ready(found.is_some())
    })
    .await;
    assert!(arrived, "no message to {to} with {text:?}: {:?}", sink.messages());
    found.unwrap()
}

fn token_after(mail: &str, marker: &str) -> String {
    let start = mail.find(marker).unwrap_or_else(|| panic!("{marker} in {mail}")) + marker.len();
    mail[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect()
}

async fn subscribe(app: &TestApp, sink: &SmtpSink, email: &str, components: &[&str]) -> String {
    let visitor = app.browser();
    let keys: Vec<String> = components.iter().map(|id| format!("form[components][{id}]")).collect();
    let mut form = vec![("form[email]", email)];
    form.extend(keys.iter().map(|key| (key.as_str(), "on")));
    let (status, body) = call(&visitor, "status_subscribe", &form).await;
    assert_eq!(status, 200, "{body}");
    let mail = wait_for_mail(sink, email, "Confirm your status subscription").await;
    token_after(&mail, "subscribe/confirm?token=")
}

async fn a_visitor_confirms_hears_of_their_components_and_unsubscribes_in_one_click(backend: Backend) {
    // Mail goes to a real SMTP server here, headers and all.
    let sink = SmtpSink::start().await;
    let options = TestOptions {
        mail_url: Some(sink.mail_url()),
        admin_emails: vec!["oncall@example.org".into()],
        ..Default::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    let admin = app.browser();
    crate::applications::sign_in(&app, &sink, &admin, "oncall@example.org").await;
    let (api, storage) = (component_id(&app, "API").await, component_id(&app, "Storage").await);
    let everything = subscribe(&app, &sink, "all@example.org", &[]).await;
    let storage_only = subscribe(&app, &sink, "storage@example.org", &[&storage]).await;
    // Unconfirmed: nothing is sent.
    open_incident(&admin, "Early incident", &api).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(mails(&sink, "all@example.org", "Early incident").is_empty());

    let visitor = app.browser();
    for token in [&everything, &storage_only] {
        let (status, body) = call(&visitor, "status_subscription_confirm", &[("token", token)]).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, _) = call(&visitor, "status_subscription_confirm", &[("token", "not-a-token")]).await;
    assert_eq!(status, 409);
    // Asking again once subscribed sends nothing, and says the same.
    let (status, _) = call(&visitor, "status_subscribe", &[("form[email]", "all@example.org")]).await;
    assert_eq!(status, 200);
    let (status, body) = call(&visitor, "status_subscribe", &[("form[email]", "not an address")]).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("\"email\""), "{body}");

    open_incident(&admin, "API errors", &api).await;
    let mail = wait_for_mail(&sink, "all@example.org", "Incident: API errors (investigating)").await;
    assert!(mail.contains("Affects: API."), "{mail}");
    let one_click = format!("/status/unsubscribe/one-click?token={everything}");
    let raw = sink.raw_messages().into_iter().find(|raw| raw.contains("Subject: Incident: API errors")).unwrap();
    assert!(raw.contains(&format!("List-Unsubscribe: <{}{one_click}>", app.address)), "{raw}");
    assert!(raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"), "{raw}");
    assert!(mail.contains(&format!("/status/unsubscribe?token={everything}")), "a link too: {mail}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(mails(&sink, "storage@example.org", "API errors").is_empty(), "storage only");

    // A mail client's one-click POST carries no Origin: it is taken on the token alone.
    let response = crate::helpers::client()
        .post(format!("{}{one_click}", app.address))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = crate::helpers::client()
        .post(format!("{}/status/unsubscribe/one-click?token=wrong", app.address))
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);

    open_incident(&admin, "Storage slow", &storage).await;
    wait_for_mail(&sink, "storage@example.org", "Incident: Storage slow").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(mails(&sink, "all@example.org", "Storage slow").is_empty(), "unsubscribed");
    // The unsubscribe page works without a mail client too.
    let (status, _) = call(&visitor, "status_unsubscribe", &[("token", &storage_only)]).await;
    assert_eq!(status, 200);
    let active =
        app.scalar("SELECT CAST(COUNT(*) AS TEXT) FROM status_subscribers WHERE unsubscribed_at IS NULL").await;
    assert_eq!(active.as_deref(), Some("0"));
}

/// What the receiver saw: headers and body of each request.
type Seen = Arc<Mutex<Vec<(HeaderMap, String)>>>;

/// A webhook receiver on loopback that answers 500 to the first request and 204 afterwards.
async fn receiver() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post({
            let seen = Arc::clone(&seen);
            move |headers: HeaderMap, body: String| async move {
                let mut seen = seen.lock().unwrap();
                seen.push((headers, body));
                if seen.len() == 1 { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::NO_CONTENT }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{address}/hook"), seen)
}

async fn webhooks_get_signed_json_and_failed_deliveries_are_retried_and_logged(backend: Backend) {
    let (app, admin) = admin_app(backend).await;
    let (url, seen) = receiver().await;
    let (status, body) = call(&admin, "admin_webhook_add", &[("form[url]", &url), ("form[description]", "Chat")]).await;
    assert_eq!(status, 200, "{body}");
    let secret: String = serde_json::from_str(&body).unwrap();
    assert!(secret.len() >= 40, "{secret}");

    let api = component_id(&app, "API").await;
    open_incident(&admin, "Webhook test", &api).await;
    let delivered = eventually(Duration::from_secs(15), || std::future::ready(seen.lock().unwrap().len() >= 2)).await;
    assert!(delivered, "retried after the 500: {:?}", seen.lock().unwrap().len());
    let (headers, body) = seen.lock().unwrap()[1].clone();
    assert_eq!(headers["berth-event"], "incident.opened");
    assert_eq!(headers["content-type"], "application/json");
    let signature = headers["berth-signature"].to_str().unwrap().to_owned();
    let (t, v1) = signature.strip_prefix("t=").and_then(|rest| rest.split_once(",v1=")).expect("t=…,v1=…");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(v1, expected, "the signature checks out with the secret");
    let age = chrono::Utc::now().timestamp() - t.parse::<i64>().unwrap();
    assert!((0..60).contains(&age), "a fresh timestamp: {age}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["type"], "incident.opened");
    assert_eq!(json["incident"]["title"], "Webhook test");
    assert_eq!(json["incident"]["components"], serde_json::json!(["API"]));

    // Each attempt is logged with its answer.
    let delivered_at = eventually(Duration::from_secs(5), || async {
        app.scalar("SELECT CAST(COUNT(*) AS TEXT) FROM webhook_deliveries WHERE delivered_at IS NOT NULL")
            .await
            .as_deref()
            == Some("1")
    })
    .await;
    assert!(delivered_at);
    let codes = app
        .scalar("SELECT CAST(MIN(status_code) AS TEXT) || ',' || CAST(MAX(status_code) AS TEXT) FROM webhook_attempts")
        .await;
    assert_eq!(codes.as_deref(), Some("204,500"));
    let page = admin.page("/admin/status/webhooks").await;
    assert!(page.contains("HTTP 204") && page.contains("incident.opened"), "{page}");

    // Removed, it hears no more; only admins register webhooks, with a usable URL.
    let id = app.scalar("SELECT CAST(id AS TEXT) FROM webhooks").await.unwrap();
    assert_eq!(call(&admin, "admin_webhook_remove", &[("id", &id)]).await.0, 200);
    open_incident(&admin, "After removal", &api).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(seen.lock().unwrap().len(), 2);
    let (status, body) =
        call(&admin, "admin_webhook_add", &[("form[url]", "ftp://x"), ("form[description]", "")]).await;
    assert_eq!(status, 400, "{body}");
    let user = app.browser();
    app.sign_in(&user, "user@example.org").await;
    assert_eq!(call(&user, "admin_webhook_add", &[("form[url]", &url), ("form[description]", "")]).await.0, 403);
}
