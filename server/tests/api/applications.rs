//! Access applications over HTTP, as browsers without JavaScript and as the hydrated pages use them: the whole
//! lifecycle with its mail (through the real SMTP sink) and audit rows, every route against four visitors, bad
//! input, and two admins deciding the same application.

use std::time::Duration;

use crate::helpers::{Backend, Browser, TestApp, TestOptions, location, token_in};
use crate::on_both_backends;
use crate::peers::SmtpSink;

on_both_backends!(
    an_application_goes_from_draft_to_project_with_mail_and_audit,
    every_route_answers_each_visitor_as_it_should,
    bad_input_gets_a_message_next_to_its_field_and_text_is_shown_as_text,
    the_admin_who_comes_second_is_told_who_decided,
);

const ADMIN: &str = "boss@example.org";

/// Signs `browser` in as `email` with the link that arrives at `sink`, and completes sign-up.
pub(crate) async fn sign_in(app: &TestApp, sink: &SmtpSink, browser: &Browser, email: &str) {
    let before = sink.messages().len();
    let asked = browser.post("/auth/email", &[("email", email)]).await;
    assert_eq!(location(&asked), "/signin/sent");
    let mail = sink.wait_for(before + 1, Duration::from_secs(10)).await;
    let token = token_in(mail[before]["text"].as_str().unwrap()).expect("a sign-in link");
    let used = browser.post("/auth/email/verify", &[("token", &token)]).await;
    if location(&used) == "/signup" {
        let done = browser
            .post("/api/complete_sign_up", &[("name", "Test Person"), ("organisation", "CSC"), ("accept_terms", "yes")])
            .await;
        assert!(done.status().is_redirection(), "sign-up: {}", done.status());
    }
    let _ = app;
}

/// Calls a server function as the hydrated page does (no redirect: the status and the JSON error).
pub(crate) async fn call(browser: &Browser, endpoint: &str, form: &[(&str, &str)]) -> (u16, String) {
    let response = browser
        .client
        .post(format!("{}/api/{endpoint}", browser.address))
        .header("accept", "application/json")
        .form(form)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The hidden `name` value of the page's form.
fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker).unwrap_or_else(|| panic!("no {name} in the page")) + marker.len();
    page[start..].chars().take_while(|c| *c != '"').collect()
}

/// A complete form for project `name` with `quota` (cpu, memory, storage, pods, gpus).
pub(crate) fn form<'a>(
    key: &'a str,
    intent: &'a str,
    name: &'a str,
    title: &'a str,
    quota: [&'a str; 5],
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("form[draft_key]", key),
        ("form[intent]", intent),
        ("form[project_name]", name),
        ("form[title]", title),
        ("form[purpose]", "Training models on open data."),
        ("form[organisation]", "CSC"),
        ("form[end_date]", "2027-06-30"),
        ("form[cpu_cores]", quota[0]),
        ("form[memory_gib]", quota[1]),
        ("form[storage_gib]", quota[2]),
        ("form[pods]", quota[3]),
        ("form[gpus]", quota[4]),
        ("form[quota_justification]", "Bigger models need more cores."),
        ("form[billing]", "new"),
        ("form[billing_justification]", "Our group has no account yet."),
        ("form[accept_terms]", "yes"),
    ]
}

const STANDARD: [&str; 5] = ["4", "16", "100", "50", "0"];

/// The id in `/applications/{id}?notice=…`.
fn saved_id(target: &str) -> i64 {
    let path = target.split('?').next().unwrap();
    path.rsplit('/').next().unwrap().parse().unwrap_or_else(|_| panic!("not an application page: {target}"))
}

async fn an_application_goes_from_draft_to_project_with_mail_and_audit(backend: Backend) {
    let sink = SmtpSink::start().await;
    let options =
        TestOptions { mail_url: Some(sink.mail_url()), admin_emails: vec![ADMIN.into()], ..Default::default() };
    let app = TestApp::spawn_with(backend, options).await;
    let (ada, admin) = (app.browser(), app.browser());
    sign_in(&app, &sink, &admin, ADMIN).await;
    sign_in(&app, &sink, &ada, "ada@example.org").await;
    let mails_before = sink.messages().len();

    // A draft, saved twice from the same form: one application.
    let page = ada.page("/applications/new").await;
    assert!(page.contains("Apply for a project") && page.contains("value=\"CSC\""), "the organisation is filled in");
    let key = hidden(&page, "form[draft_key]");
    let mut draft = form(&key, "save", "ml-lab", "Machine learning lab", ["8", "16", "100", "50", "0"]);
    draft.retain(|(field, _)| *field != "form[accept_terms]");
    let first = ada.submit("/applications/new", "/api/application_save", &draft).await;
    let id = saved_id(&location(&first));
    let second = ada.submit("/applications/new", "/api/application_save", &draft).await;
    assert_eq!(saved_id(&location(&second)), id, "saving the same form again saves the same draft");
    assert_eq!(app.scalar("SELECT COUNT(*) || '' FROM applications").await.as_deref(), Some("1"));
    let shown = ada.page(&format!("/applications/{id}?notice=saved")).await;
    assert!(shown.contains("Saved.") && shown.contains("Draft"), "the page shows the draft");

    // Submitted from its page: the admins hear of it.
    let version = hidden(&shown, "form[version]");
    let id_text = id.to_string();
    let mut submit = form("", "submit", "ml-lab", "Machine learning lab", ["8", "16", "100", "50", "0"]);
    submit.extend([("form[id]", id_text.as_str()), ("form[version]", version.as_str())]);
    let submitted = ada.submit(&format!("/applications/{id}"), "/api/application_save", &submit).await;
    assert_eq!(location(&submitted), format!("/applications/{id}?notice=submitted"));
    let mail = sink.wait_for(mails_before + 1, Duration::from_secs(10)).await;
    let to_admin = &mail[mails_before];
    assert_eq!(to_admin["rcpt_tos"], serde_json::json!([ADMIN]));
    assert_eq!(to_admin["subject"], "New application: ml-lab");
    assert!(to_admin["text"].as_str().unwrap().contains(&format!("{}/admin/applications/{id}", app.address)));

    // The queue, the count in the navigation, the review page.
    let queue = admin.page("/admin/applications").await;
    assert!(queue.contains("ml-lab") && queue.contains("ada@example.org") && queue.contains("more CPU cores"));
    assert!(queue.contains("1 waiting"), "the navigation shows how many wait");
    let review = admin.page(&format!("/admin/applications/{id}")).await;
    assert!(review.contains("above standard") && review.contains("Approve") && review.contains("Request changes"));
    let version = hidden(&review, "version");
    let taken = admin.submit("/admin/applications", "/api/admin_take", &[("id", &id_text)]).await;
    assert!(taken.status().is_redirection());
    assert!(admin.page("/admin/applications").await.contains(ADMIN), "shown as assigned");

    // Changes requested; the applicant edits and resubmits.
    let asked = admin
        .submit(
            &format!("/admin/applications/{id}"),
            "/api/admin_request_changes",
            &[("id", &id_text), ("version", &version), ("message", "Please explain the GPU plans.")],
        )
        .await;
    assert!(!location(&asked).contains("__err"), "{}", location(&asked));
    let mail = sink.wait_for(mails_before + 2, Duration::from_secs(10)).await;
    assert_eq!(mail[mails_before + 1]["subject"], "Changes requested: ml-lab");
    assert!(mail[mails_before + 1]["text"].as_str().unwrap().contains("Please explain the GPU plans."));
    let page = ada.page(&format!("/applications/{id}")).await;
    assert!(page.contains("Changes requested") && page.contains("Resubmit for review"));
    let version = hidden(&page, "form[version]");
    let mut resubmit = form("", "submit", "ml-lab", "Machine learning lab", ["8", "32", "100", "50", "1"]);
    resubmit.extend([("form[id]", id_text.as_str()), ("form[version]", version.as_str())]);
    let resubmitted = ada.submit(&format!("/applications/{id}"), "/api/application_save", &resubmit).await;
    assert_eq!(location(&resubmitted), format!("/applications/{id}?notice=submitted"));
    let mail = sink.wait_for(mails_before + 3, Duration::from_secs(10)).await;
    assert_eq!(mail[mails_before + 2]["subject"], "Resubmitted application: ml-lab");

    // Approved with less than asked: a reason is needed, and the applicant sees both quotas.
    let review = admin.page(&format!("/admin/applications/{id}")).await;
    let version = hidden(&review, "version");
    let mut approval = vec![
        ("id", id_text.as_str()),
        ("version", version.as_str()),
        ("cpu_cores", "6"),
        ("memory_gib", "32"),
        ("storage_gib", "100"),
        ("pods", "50"),
        ("gpus", "1"),
        ("reason", ""),
    ];
    let (status, body) = call(&admin, "admin_approve", &approval).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("granted quota differs"), "{body}");
    approval.pop();
    approval.push(("reason", "Six cores is what the pilot allows."));
    let (status, body) = call(&admin, "admin_approve", &approval).await;
    assert_eq!(status, 200, "{body}");
    let mail = sink.wait_for(mails_before + 4, Duration::from_secs(10)).await;
    let approved = &mail[mails_before + 3];
    assert_eq!(approved["subject"], "Approved: ml-lab");
    assert_eq!(approved["rcpt_tos"], serde_json::json!(["ada@example.org"]));
    let text = approved["text"].as_str().unwrap();
    assert!(text.contains("You asked for: 8 CPU cores") && text.contains("Granted: 6 CPU cores"), "{text}");
    assert!(text.contains("Six cores is what the pilot allows."));
    let page = ada.page(&format!("/applications/{id}")).await;
    for expected in ["Approved", "Six cores is what the pilot allows.", "/projects/ml-lab", "changed"] {
        assert!(page.contains(expected), "the applicant's page lacks {expected:?}");
    }

    // The project and its manager exist, and its provisioning job makes it active.
    let manager = app.scalar("SELECT role FROM project_members").await;
    assert_eq!(manager.as_deref(), Some("manager"));
    let active = crate::helpers::eventually(Duration::from_secs(10), || async {
        app.scalar("SELECT name || ' ' || state || ' ' || cpu_cores FROM projects").await.as_deref()
            == Some("ml-lab active 6")
    })
    .await;
    assert!(active, "the project becomes active with the granted quota");
    let job = app.scalar("SELECT kind || ' ' || outcome FROM jobs WHERE kind = 'provision_project'").await;
    assert_eq!(job.as_deref(), Some("provision_project done"));
    let page = ada.page(&format!("/applications/{id}")).await;
    let project = &page[page.find("id=\"project\"").expect("the project paragraph")..];
    assert!(project[..project.find("</p>").unwrap()].contains("active"), "the page shows the project's state");

    // Each change is in the audit trail.
    for action in [
        "application.save",
        "application.submit",
        "application.take",
        "application.request_changes",
        "application.approve",
    ] {
        let count = app.scalar(&format!("SELECT COUNT(*) || '' FROM audit_log WHERE action = '{action}'")).await;
        assert_ne!(count.as_deref(), Some("0"), "no audit row for {action}");
    }
    let events = app.scalar("SELECT COUNT(*) || '' FROM application_events").await;
    assert_eq!(events.as_deref(), Some("7"), "created, saved, submit, take, request_changes, submit, approve");
}

async fn every_route_answers_each_visitor_as_it_should(backend: Backend) {
    let sink = SmtpSink::start().await;
    let options =
        TestOptions { mail_url: Some(sink.mail_url()), admin_emails: vec![ADMIN.into()], ..Default::default() };
    let app = TestApp::spawn_with(backend, options).await;
    let (anonymous, owner, other, admin) = (app.browser(), app.browser(), app.browser(), app.browser());
    sign_in(&app, &sink, &owner, "owner@example.org").await;
    sign_in(&app, &sink, &other, "other@example.org").await;
    sign_in(&app, &sink, &admin, ADMIN).await;
    let page = owner.page("/applications/new").await;
    let key = hidden(&page, "form[draft_key]");
    let saved = owner
        .submit("/applications/new", "/api/application_save", &form(&key, "submit", "owned", "Owned", STANDARD))
        .await;
    let id = saved_id(&location(&saved)).to_string();
    let version = app.scalar(&format!("SELECT version || '' FROM applications WHERE id = {id}")).await.unwrap();

    // Pages: (path, [anonymous, owner, other, admin]); anonymous visitors are sent to sign in.
    let pages = [
        ("/applications".to_owned(), [303, 200, 200, 200]),
        ("/applications/new".to_owned(), [303, 200, 200, 200]),
        (format!("/applications/{id}"), [303, 200, 404, 200]),
        ("/applications/99999".to_owned(), [303, 404, 404, 404]),
        ("/applications/nope".to_owned(), [303, 404, 404, 404]),
        ("/admin/applications".to_owned(), [303, 403, 403, 200]),
        (format!("/admin/applications/{id}"), [303, 403, 403, 200]),
    ];
    for (path, expected) in pages {
        let statuses = [
            anonymous.get(&path).await.status().as_u16(),
            owner.get(&path).await.status().as_u16(),
            other.get(&path).await.status().as_u16(),
            admin.get(&path).await.status().as_u16(),
        ];
        assert_eq!(statuses, expected, "GET {path} as anonymous, owner, other, admin");
    }
    let owner_page = owner.page("/applications").await;
    assert!(owner_page.contains("owned"));
    assert!(!other.page("/applications").await.contains("owned"), "another user's list does not show it");

    // Server functions: (endpoint, form, anonymous, other, admin); the owner's own come last.
    type Call<'a> = (&'a str, Vec<(&'a str, &'a str)>, [u16; 3]);
    let calls: Vec<Call> = vec![
        ("application", vec![("id", &id)], [401, 404, 200]),
        ("admin_application", vec![("id", &id)], [401, 403, 200]),
        ("application_comment", vec![("id", &id), ("message", "hello")], [401, 404, 200]),
        ("application_withdraw", vec![("id", &id), ("version", &version)], [401, 404, 404]),
        ("admin_queue", vec![("query[sort]", "age")], [401, 403, 200]),
        ("admin_take", vec![("id", &id)], [401, 403, 200]),
        ("admin_reject", vec![("id", &id), ("version", "1"), ("reason", "x")], [401, 403, 409]),
        ("admin_request_changes", vec![("id", &id), ("version", "1"), ("message", "x")], [401, 403, 409]),
        ("waiting_count", vec![], [200, 200, 200]),
        ("digest_choice_set", vec![("mail", "daily")], [401, 403, 200]),
    ];
    for (endpoint, fields, expected) in calls {
        let got = [
            call(&anonymous, endpoint, &fields).await.0,
            call(&other, endpoint, &fields).await.0,
            call(&admin, endpoint, &fields).await.0,
        ];
        assert_eq!(got, expected, "POST /api/{endpoint} as anonymous, other, admin");
    }
    let (_, count) = call(&other, "waiting_count", &[]).await;
    assert_eq!(count, "null", "only admins learn how many wait");
    let (status, body) = call(&owner, "application_comment", &[("id", &id), ("message", "a question")]).await;
    assert_eq!(status, 200, "{body}");
    let version = app.scalar(&format!("SELECT version || '' FROM applications WHERE id = {id}")).await.unwrap();
    let (status, body) = call(&owner, "application_withdraw", &[("id", &id), ("version", &version)]).await;
    assert_eq!(status, 200, "{body}");
    let state = app.scalar(&format!("SELECT state FROM applications WHERE id = {id}")).await;
    assert_eq!(state.as_deref(), Some("withdrawn"));
    let (status, _) = call(
        &owner,
        "admin_approve",
        &[
            ("id", &id),
            ("version", &version),
            ("cpu_cores", "4"),
            ("memory_gib", "16"),
            ("storage_gib", "100"),
            ("pods", "50"),
            ("gpus", "0"),
            ("reason", ""),
        ],
    )
    .await;
    assert_eq!(status, 403, "applicants do not decide");
}

async fn bad_input_gets_a_message_next_to_its_field_and_text_is_shown_as_text(backend: Backend) {
    let sink = SmtpSink::start().await;
    let options = TestOptions { mail_url: Some(sink.mail_url()), ..Default::default() };
    let app = TestApp::spawn_with(backend, options).await;
    let (ada, bob) = (app.browser(), app.browser());
    sign_in(&app, &sink, &ada, "ada@example.org").await;
    sign_in(&app, &sink, &bob, "bob@example.org").await;
    let key = hidden(&ada.page("/applications/new").await, "form[draft_key]");

    let long_title = "x".repeat(101);
    let cases: Vec<(&str, &str, &str)> = vec![
        ("form[title]", long_title.as_str(), "At most 100 characters"),
        ("form[title]", "bell\u{7}", "invisible control characters"),
        ("form[purpose]", "right-to-left override \u{202e}txt.exe", "invisible control characters"),
        ("form[project_name]", "ML-Lab", "lower-case letters only, for example \\\"ml-lab\\\""),
        ("form[project_name]", "kube-system", "reserved"),
        ("form[project_name]", "ml_lab", "not allowed"),
        ("form[end_date]", "2020-01-01", "in the future"),
        ("form[end_date]", "2099-01-01", "at most 24 months"),
        ("form[cpu_cores]", "1e9", "whole number"),
        ("form[cpu_cores]", "100000", "At most 64"),
        ("form[gpus]", "-1", "whole number"),
    ];
    for (field, value, message) in cases {
        let mut fields = form(&key, "submit", "fine-name", "Fine", STANDARD);
        fields.retain(|(name, _)| *name != field);
        fields.push((field, value));
        let (status, body) = call(&ada, "application_save", &fields).await;
        assert_eq!(status, 400, "{field}={value:?}: {body}");
        assert!(body.contains(message), "{field}={value:?}: expected {message:?} in {body}");
    }
    let (status, body) =
        call(&ada, "application_save", &[("form[draft_key]", key.as_str()), ("form[intent]", "submit")]).await;
    assert_eq!(status, 400, "an empty submission names every missing field: {body}");
    assert!(body.contains("accept the terms") && body.contains("Enter a project name"), "{body}");
    let (status, body) = call(&ada, "application_save", &[("nonsense", "1")]).await;
    assert_eq!(status, 400, "a post that is not the form is the sender's fault: {body}");

    // Right-to-left and emoji text is kept; HTML is shown as text, never run.
    let title = "<script>alert('x')</script> مختبر 🚀";
    let saved = ada
        .submit("/applications/new", "/api/application_save", &form(&key, "submit", "ml-lab", title, STANDARD))
        .await;
    let id = saved_id(&location(&saved));
    let page = ada.page(&format!("/applications/{id}")).await;
    assert!(!page.contains("<script>alert('x')</script>"), "markup is escaped");
    assert!(
        page.contains("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; مختبر 🚀")
            || page.contains("&lt;script&gt;alert('x')&lt;/script&gt; مختبر 🚀")
    );

    // A name held by an open application, in any case, is refused to another applicant.
    let other_key = hidden(&bob.page("/applications/new").await, "form[draft_key]");
    let (status, body) = call(&bob, "application_save", &form(&other_key, "submit", "ml-lab", "Mine", STANDARD)).await;
    assert_eq!(status, 400);
    assert!(body.contains("is taken"), "{body}");
    let (status, body) = call(&bob, "application_save", &form(&other_key, "submit", "ML-LAB", "Mine", STANDARD)).await;
    assert_eq!(status, 400);
    assert!(body.contains("lower-case"), "{body}");

    // Without JavaScript, a refused form comes back with what was typed and the message next to the field.
    let mut fields = form(&other_key, "submit", "bobs-lab", "Bob's lab", STANDARD);
    fields.retain(|(name, _)| *name != "form[end_date]");
    fields.push(("form[end_date]", "yesterday"));
    let refused = bob.submit("/applications/new", "/api/application_save", &fields).await;
    let back = location(&refused);
    assert!(back.contains("/applications/new?") && back.contains("__err="), "{back}");
    let shown = bob.page(back.trim_start_matches(&app.address)).await;
    assert!(shown.contains("Enter a date as YYYY-MM-DD."), "the message is shown");
    assert!(shown.contains("value=\"bobs-lab\""), "what was typed is kept");
    assert!(shown.contains("Bob&#x27;s lab") || shown.contains("Bob's lab"), "all of it");
    assert!(shown.contains(&format!("value=\"{other_key}\"")), "and the same form key, so a retry saves one draft");
}

async fn the_admin_who_comes_second_is_told_who_decided(backend: Backend) {
    let sink = SmtpSink::start().await;
    let options = TestOptions {
        mail_url: Some(sink.mail_url()),
        admin_emails: vec![ADMIN.into(), "deputy@example.org".into()],
        ..Default::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    let (ada, boss, deputy) = (app.browser(), app.browser(), app.browser());
    sign_in(&app, &sink, &ada, "ada@example.org").await;
    sign_in(&app, &sink, &boss, ADMIN).await;
    sign_in(&app, &sink, &deputy, "deputy@example.org").await;
    let key = hidden(&ada.page("/applications/new").await, "form[draft_key]");
    let saved =
        ada.submit("/applications/new", "/api/application_save", &form(&key, "submit", "race", "Race", STANDARD)).await;
    let id = saved_id(&location(&saved)).to_string();
    let version = hidden(&deputy.page(&format!("/admin/applications/{id}")).await, "version");
    let (status, _) =
        call(&boss, "admin_reject", &[("id", &id), ("version", &version), ("reason", "Duplicate of another project.")])
            .await;
    assert_eq!(status, 200);
    let approve = [
        ("id", id.as_str()),
        ("version", version.as_str()),
        ("cpu_cores", "4"),
        ("memory_gib", "16"),
        ("storage_gib", "100"),
        ("pods", "50"),
        ("gpus", "0"),
        ("reason", ""),
    ];
    let (status, body) = call(&deputy, "admin_approve", &approve).await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("already rejected by boss@example.org on"), "{body}");
    assert_eq!(app.scalar("SELECT COUNT(*) || '' FROM projects").await.as_deref(), Some("0"));

    // The applicant's edit made on an old version is refused too, not lost silently.
    let (status, body) = call(&ada, "application_withdraw", &[("id", &id), ("version", &version)]).await;
    assert_eq!(status, 409, "{body}");
}
