//! Status operations: components, incidents from opening to resolution, maintenance windows; what `/status`,
//! `/status.json` (schema 2) and the Atom feeds show; conflicting updates; who may do what; bad input.

use serde_json::Value;

use crate::applications::call;
use crate::helpers::{Backend, Browser, TestApp, TestOptions};
use crate::on_both_backends;

on_both_backends!(
    an_incident_sets_its_components_status_takes_updates_and_resolving_restores_them,
    an_update_made_on_an_older_version_is_refused_with_who_changed_it,
    maintenance_windows_put_components_under_maintenance_and_can_be_cancelled,
    components_are_added_renamed_and_names_stay_unique,
    only_admins_run_the_status_and_everyone_reads_it,
    bad_input_gets_a_message_next_to_its_field_and_html_is_shown_as_text,
    the_history_pages_through_incidents_and_availability_is_measured_over_a_chosen_period,
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

async fn status_json(app: &TestApp) -> Value {
    let response = app.get("/status.json").await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn component<'a>(json: &'a Value, name: &str) -> &'a Value {
    json["components"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("{json}"))
}

async fn component_id(app: &TestApp, name: &str) -> String {
    app.scalar(&format!("SELECT CAST(id AS TEXT) FROM status_components WHERE name = '{name}'")).await.unwrap()
}

async fn open(admin: &Browser, title: &str, impacts: &[(&str, &str)], message: &str) -> (u16, String) {
    let mut form = vec![("form[title]", title.to_owned()), ("form[status]", "investigating".to_owned())];
    form.push(("form[message]", message.to_owned()));
    let keys: Vec<String> = impacts.iter().map(|(id, _)| format!("form[impacts][{id}]")).collect();
    let mut fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    for (key, (_, impact)) in keys.iter().zip(impacts) {
        fields.push((key.as_str(), impact));
    }
    call(admin, "admin_incident_open", &fields).await
}

async fn update(
    admin: &Browser,
    id: &str,
    version: &str,
    status: &str,
    impacts: &[(&str, &str)],
    message: &str,
) -> (u16, String) {
    let keys: Vec<String> = impacts.iter().map(|(id, _)| format!("form[impacts][{id}]")).collect();
    let mut fields = vec![("id", id), ("version", version), ("form[status]", status), ("form[message]", message)];
    for (key, (_, impact)) in keys.iter().zip(impacts) {
        fields.push((key.as_str(), impact));
    }
    call(admin, "admin_incident_update", &fields).await
}

async fn an_incident_sets_its_components_status_takes_updates_and_resolving_restores_them(backend: Backend) {
    let (app, admin) = admin_app(backend).await;
    // The first start seeds the usual components, all operational.
    let json = status_json(&app).await;
    assert_eq!(json["schema_version"], 2);
    assert_eq!(json["overall"], "operational");
    assert_eq!(json["components"].as_array().unwrap().len(), 5, "{json}");
    assert!(json["maturity"].is_array() && json["known_issues"].is_array(), "version 1's fields are kept");
    // The anonymous page is cached: load it first, so that the change below must reach the cache.
    assert!(app.get("/status").await.text().await.unwrap().contains("All components are operational."));

    let api = component_id(&app, "API").await;
    let storage = component_id(&app, "Storage").await;
    let (status, body) = open(
        &admin,
        "API errors for some users",
        &[(&api, "major_outage"), (&storage, "degraded")],
        "Requests to the API fail with 503.",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let id = app.scalar("SELECT CAST(MAX(id) AS TEXT) FROM incidents").await.unwrap();

    // Every view has it at once: the JSON, the cached page, the incidents feed.
    let json = status_json(&app).await;
    assert_eq!(json["overall"], "major_outage");
    assert_eq!(component(&json, "API")["status"], "major_outage");
    assert_eq!(component(&json, "Storage")["status"], "degraded");
    assert_eq!(component(&json, "Routers")["status"], "operational");
    let incident = &json["incidents"][0];
    assert_eq!(incident["title"], "API errors for some users");
    assert_eq!(incident["status"], "investigating");
    assert_eq!(incident["updates"][0]["message"], "Requests to the API fail with 503.");
    let page = app.get("/status").await.text().await.unwrap();
    assert!(page.contains("Some components have a major outage.") && page.contains("API errors for some users"));
    let feed = app.get("/status/incidents.atom").await.text().await.unwrap();
    assert!(feed.contains("API errors for some users (Investigating)") && feed.contains("API: Major outage"), "{feed}");

    // An update: the cause is known, the API is only degraded now.
    let (status, body) =
        update(&admin, &id, "1", "identified", &[(&api, "degraded")], "A bad node; traffic moved away.").await;
    assert_eq!(status, 200, "{body}");
    let json = status_json(&app).await;
    assert_eq!(json["overall"], "degraded");
    assert_eq!(json["incidents"][0]["status"], "identified");
    assert_eq!(json["incidents"][0]["updates"].as_array().unwrap().len(), 2);
    assert_eq!(json["incidents"][0]["updates"][0]["message"], "A bad node; traffic moved away.", "newest first");

    // Resolved: the components are restored; the incident stays listed as resolved for a while.
    let (status, body) = update(&admin, &id, "2", "resolved", &[], "Fixed.").await;
    assert_eq!(status, 200, "{body}");
    let json = status_json(&app).await;
    assert_eq!(json["overall"], "operational");
    assert_eq!(component(&json, "API")["status"], "operational");
    assert_eq!(json["incidents"][0]["status"], "resolved");
    assert!(json["incidents"][0]["resolved_at"].is_string());
    let page = app.get("/status").await.text().await.unwrap();
    assert!(page.contains("All components are operational.") && !page.contains("Open incidents"), "{page}");
    // The 90 days' bars show today's outage, and the figure counts it only inside service hours.
    assert!(
        page.contains(": Major outage\" class=\"x\"></i>"),
        "today was a major outage, with the day in words: {page}"
    );
    let history = app.get("/status/incidents").await.text().await.unwrap();
    assert!(history.contains("API errors for some users") && history.contains("Fixed."), "{history}");

    // Audited, every step.
    let audited = app
        .scalar(&format!(
            "SELECT CAST(COUNT(*) AS TEXT) FROM audit_log WHERE target = 'incident:{id}' \
             AND action IN ('incident.open', 'incident.update')"
        ))
        .await;
    assert_eq!(audited.as_deref(), Some("3"));
}

async fn an_update_made_on_an_older_version_is_refused_with_who_changed_it(backend: Backend) {
    let (app, admin) = admin_app(backend).await;
    let routers = component_id(&app, "Routers").await;
    let (status, _) = open(&admin, "Slow routes", &[(&routers, "degraded")], "Looking.").await;
    assert_eq!(status, 200);
    let id = app.scalar("SELECT CAST(id AS TEXT) FROM incidents").await.unwrap();
    // Two admins opened the incident at version 1; the first update wins, the second is told.
    let (first, second) = tokio::join!(
        update(&admin, &id, "1", "identified", &[], "Found it."),
        update(&admin, &id, "1", "monitoring", &[], "Watching."),
    );
    let mut codes = [first.0, second.0];
    codes.sort_unstable();
    assert_eq!(codes, [200, 409], "{first:?} {second:?}");
    let refused = if first.0 == 409 { first.1 } else { second.1 };
    assert!(refused.contains("changed after this page was opened"), "{refused}");
    assert_eq!(app.scalar("SELECT CAST(version AS TEXT) FROM incidents").await.as_deref(), Some("2"));
    assert_eq!(app.scalar("SELECT CAST(COUNT(*) AS TEXT) FROM incident_updates").await.as_deref(), Some("2"));
    // Once resolved, no more updates: open a new incident instead.
    let (status, _) = update(&admin, &id, "2", "resolved", &[], "Done.").await;
    assert_eq!(status, 200);
    let (status, body) = update(&admin, &id, "3", "investigating", &[], "Back?").await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("was resolved on"), "{body}");
    let (status, _) = update(&admin, "999999", "1", "monitoring", &[], "Nothing here.").await;
    assert_eq!(status, 404);
}

async fn maintenance_windows_put_components_under_maintenance_and_can_be_cancelled(backend: Backend) {
    let (app, admin) = admin_app(backend).await;
    let registry = component_id(&app, "Image registry").await;
    let zone = chrono_tz::Europe::Helsinki;
    let local = |minutes: i64| {
        (chrono::Utc::now() + chrono::Duration::minutes(minutes))
            .with_timezone(&zone)
            .format("%Y-%m-%dT%H:%M")
            .to_string()
    };
    let key = format!("form[components][{registry}]");
    let window = |starts: String, ends: String| {
        vec![
            ("form[title]".to_owned(), "Registry upgrade".to_owned()),
            ("form[description]".to_owned(), "Pushes fail while it restarts.".to_owned()),
            ("form[starts]".to_owned(), starts),
            ("form[ends]".to_owned(), ends),
            (key.clone(), "on".to_owned()),
        ]
    };
    let post = |fields: Vec<(String, String)>| {
        let admin = &admin;
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            call(admin, "admin_maintenance_schedule", &fields).await
        }
    };
    // Now, for an hour: the registry is under maintenance.
    let (status, body) = post(window(local(-5), local(60))).await;
    assert_eq!(status, 200, "{body}");
    let json = status_json(&app).await;
    assert_eq!(component(&json, "Image registry")["status"], "under_maintenance");
    assert_eq!(json["overall"], "under_maintenance");
    assert_eq!(json["maintenance"][0]["title"], "Registry upgrade");
    assert_eq!(json["maintenance"][0]["components"], serde_json::json!(["Image registry"]));
    // Tomorrow: announced, not yet in force.
    let (status, _) = post(window(local(24 * 60), local(25 * 60))).await;
    assert_eq!(status, 200);
    assert_eq!(status_json(&app).await["maintenance"].as_array().unwrap().len(), 2);
    let feed = app.get("/status/maintenance.atom").await.text().await.unwrap();
    assert!(feed.contains("Maintenance: Registry upgrade"), "{feed}");
    let page = app.get("/status").await.text().await.unwrap();
    assert!(page.contains("In progress") && page.contains("Announced"), "{page}");

    // Bad windows are refused, each error next to its field.
    let (status, body) = post(window(local(60), local(30))).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("The end must come after the start."), "{body}");
    let (status, body) = post(window(local(-120), local(-60))).await;
    assert_eq!(status, 400);
    assert!(body.contains("The window is over already."), "{body}");
    let mut none = window(local(10), local(20));
    none.pop();
    let (status, body) = post(none).await;
    assert_eq!(status, 400);
    assert!(body.contains("Choose the components"), "{body}");

    // Cancelled, the registry is back; cancelling twice is a 404.
    let first = app.scalar("SELECT CAST(MIN(id) AS TEXT) FROM maintenance_windows").await.unwrap();
    let (status, _) = call(&admin, "admin_maintenance_cancel", &[("id", &first)]).await;
    assert_eq!(status, 200);
    let json = status_json(&app).await;
    assert_eq!(component(&json, "Image registry")["status"], "operational");
    assert_eq!(json["maintenance"].as_array().unwrap().len(), 1);
    let (status, _) = call(&admin, "admin_maintenance_cancel", &[("id", &first)]).await;
    assert_eq!(status, 404);
    let audited = app.scalar("SELECT CAST(COUNT(*) AS TEXT) FROM audit_log WHERE action LIKE 'maintenance.%'").await;
    assert_eq!(audited.as_deref(), Some("3"));
}

async fn components_are_added_renamed_and_names_stay_unique(backend: Backend) {
    let (app, admin) = admin_app(backend).await;
    let save = |fields: Vec<(&'static str, String)>| {
        let admin = &admin;
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            call(admin, "admin_component_save", &fields).await
        }
    };
    let (status, body) =
        save(vec![("name", "Object storage".into()), ("description", "S3 buckets.".into()), ("position", "5".into())])
            .await;
    assert_eq!(status, 200, "{body}");
    let json = status_json(&app).await;
    assert_eq!(json["components"][1]["name"], "Object storage", "ordered by position: {json}");
    let (status, body) =
        save(vec![("name", "API".into()), ("description", String::new()), ("position", "1".into())]).await;
    assert_eq!(status, 400);
    assert!(body.contains("exists already"), "{body}");
    let id = component_id(&app, "Object storage").await;
    let (status, body) = save(vec![
        ("id", id.clone()),
        ("name", "Routers".into()),
        ("description", String::new()),
        ("position", "5".into()),
    ])
    .await;
    assert_eq!(status, 400, "another component's name: {body}");
    let (status, body) = save(vec![
        ("id", id.clone()),
        ("name", "Buckets".into()),
        ("description", String::new()),
        ("position", "x".into()),
    ])
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("whole number"), "{body}");
    let (status, _) =
        save(vec![("id", id), ("name", "Buckets".into()), ("description", "S3.".into()), ("position", "900".into())])
            .await;
    assert_eq!(status, 200);
    let json = status_json(&app).await;
    assert_eq!(json["components"].as_array().unwrap().last().unwrap()["name"], "Buckets");
}

async fn only_admins_run_the_status_and_everyone_reads_it(backend: Backend) {
    let (app, admin) = admin_app(backend).await;
    let user = app.browser();
    app.sign_in(&user, "someone@example.org").await;
    let anonymous = app.browser();
    let functions: [(&str, &[(&str, &str)]); 6] = [
        ("admin_status", &[]),
        ("admin_incident_open", &[("form[title]", "x"), ("form[status]", "investigating"), ("form[message]", "x")]),
        (
            "admin_incident_update",
            &[("id", "1"), ("version", "1"), ("form[status]", "resolved"), ("form[message]", "x")],
        ),
        ("admin_maintenance_schedule", &[("form[title]", "x")]),
        ("admin_maintenance_cancel", &[("id", "1")]),
        ("admin_component_save", &[("name", "x"), ("description", ""), ("position", "1")]),
    ];
    for (function, form) in functions {
        assert_eq!(call(&anonymous, function, form).await.0, 401, "{function} for an anonymous visitor");
        assert_eq!(call(&user, function, form).await.0, 403, "{function} for a plain user");
    }
    assert_eq!(app.scalar("SELECT CAST(COUNT(*) AS TEXT) FROM incidents").await.as_deref(), Some("0"));
    // The admins' page: a sign-in for visitors, refused to users, the forms for admins.
    let response = anonymous.get("/admin/status").await;
    assert_eq!(crate::helpers::location(&response), "/signin");
    let refused = user.get("/admin/status").await;
    assert_eq!(refused.status(), 403);
    assert!(!refused.text().await.unwrap().contains("Open the incident"));
    assert!(admin.page("/admin/status").await.contains("Open the incident"));
    // Everyone reads the status, the history and availability.
    for path in ["/status", "/status.json", "/status/incidents", "/status/incidents.atom", "/status/maintenance.atom"] {
        assert_eq!(anonymous.get(path).await.status(), 200, "{path}");
    }
    assert_eq!(call(&anonymous, "status_availability", &[("from", ""), ("to", "")]).await.0, 200);
}

async fn bad_input_gets_a_message_next_to_its_field_and_html_is_shown_as_text(backend: Backend) {
    let (app, admin) = admin_app(backend).await;
    let api = component_id(&app, "API").await;
    let long = "x".repeat(201);
    let (status, body) = open(&admin, &long, &[(&api, "degraded")], "").await;
    assert_eq!(status, 400);
    assert!(body.contains("at most 200 characters") && body.contains("cannot be empty"), "both fields: {body}");
    let (status, body) = open(&admin, "Bell\u{7}", &[(&api, "degraded")], "x").await;
    assert_eq!(status, 400);
    assert!(body.contains("control characters"), "{body}");
    let (status, body) = open(&admin, "No components", &[], "x").await;
    assert_eq!(status, 400);
    assert!(body.contains("at least one component"), "{body}");
    let (status, body) = open(&admin, "Odd impact", &[(&api, "exploded")], "x").await;
    assert_eq!(status, 400);
    assert!(body.contains("impact from the list"), "{body}");
    let (status, body) = open(&admin, "Gone", &[("424242", "degraded")], "x").await;
    assert_eq!(status, 400);
    assert!(body.contains("not known"), "{body}");
    let (status, body) = call(
        &admin,
        "admin_incident_open",
        &[
            ("form[title]", "x"),
            ("form[status]", "resolved"),
            ("form[message]", "x"),
            (&format!("form[impacts][{api}]"), "degraded"),
        ],
    )
    .await;
    assert_eq!(status, 400, "an incident does not open resolved: {body}");

    // Markup, right-to-left and emoji are kept as text and shown escaped.
    let title = "<script>alert(1)</script> مرحبا 🚒";
    let (status, body) = open(&admin, title, &[(&api, "partial_outage")], "<b>not bold</b>").await;
    assert_eq!(status, 200, "{body}");
    let page = app.get("/status").await.text().await.unwrap();
    assert!(!page.contains("<script>alert(1)"), "never markup");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt; مرحبا 🚒"), "{page}");
    assert!(page.contains("&lt;b&gt;not bold&lt;/b&gt;"));
    let json = status_json(&app).await;
    assert_eq!(json["incidents"][0]["title"], title);
    // Without JavaScript, a refused form comes back to the page instead of a bare error.
    let response = admin
        .submit(
            "/admin/status",
            "/api/admin_incident_open",
            &[("form[title]", ""), ("form[status]", "investigating"), ("form[message]", "")],
        )
        .await;
    assert!(response.status().is_redirection(), "{}", response.status());
    assert!(crate::helpers::location(&response).contains("/admin/status"));
}

async fn the_history_pages_through_incidents_and_availability_is_measured_over_a_chosen_period(backend: Backend) {
    let (app, admin) = admin_app(backend).await;
    let api = component_id(&app, "API").await;
    for number in 1..=23 {
        let (status, _) = open(&admin, &format!("Incident number {number}"), &[(&api, "degraded")], "x").await;
        assert_eq!(status, 200);
    }
    let first = admin.page("/status/incidents").await;
    assert!(first.contains("Incident number 23") && first.contains("Incident number 4"), "newest first");
    assert!(!first.contains("Incident number 3<"), "twenty a page");
    let older = first.split("/status/incidents?before=").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let second = admin.page(&format!("/status/incidents?before={older}")).await;
    assert!(second.contains("Incident number 3") && second.contains("Incident number 1<"), "{second}");
    assert!(!second.contains("Older incidents"));

    // The figures over a period (exact arithmetic is unit-tested with the service hours): a row per component,
    // against the target.
    let today = chrono::Utc::now().date_naive().to_string();
    let (status, body) = call(&admin, "status_availability", &[("from", &today), ("to", &today)]).await;
    assert_eq!(status, 200, "{body}");
    let view: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(view["target"], "97%");
    assert_eq!(view["rows"].as_array().unwrap().len(), 5, "{view}");
    let routers = view["rows"].as_array().unwrap().iter().find(|row| row[0] == "Routers").unwrap();
    assert_eq!(routers[4], true, "no outage, target met: {view}");
    // Bad periods are refused next to their fields.
    let (status, body) = call(&admin, "status_availability", &[("from", "yesterday"), ("to", "")]).await;
    assert_eq!(status, 400);
    assert!(body.contains("YYYY-MM-DD"), "{body}");
    let (status, body) = call(&admin, "status_availability", &[("from", "2026-12-05"), ("to", "2026-12-01")]).await;
    assert_eq!(status, 400);
    assert!(body.contains("must not come before"), "{body}");
    let page = app.get("/status/incidents?from=2026-12-05&to=2026-12-01").await;
    assert_eq!(page.status(), 400, "a bad query: the page comes with the message next to the field");
    assert!(page.text().await.unwrap().contains("must not come before"));
}
