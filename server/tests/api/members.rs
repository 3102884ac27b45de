//! Project members on SQLite and on PostgreSQL: invitations by e-mail (single use, for the invited address only,
//! expiring, sent again with a new link, revoked), role changes and removals by managers and admins, leaving, the
//! last-manager rule, each visitor's rights, and the role bindings that follow through the provisioning job.

use std::time::Duration;

use crate::application_store::approved_project;
use crate::applications::call;
use crate::helpers::{Backend, Browser, TestApp, TestOptions, eventually, location};
use crate::on_both_backends;
use crate::provisioning::wait_for_state;

on_both_backends!(
    an_invitation_works_once_for_the_invited_address_until_it_expires,
    a_visitor_who_opens_an_invitation_signed_out_comes_back_to_it_after_signing_in_or_up,
    invitations_are_sent_again_with_a_new_link_or_revoked_by_managers_only,
    managers_change_roles_and_remove_members_and_a_project_keeps_a_manager,
);

/// A project `climate` of ada's, active, with ada signed in; and the admin boss signed in.
pub(crate) async fn project(backend: Backend) -> (TestApp, i64, Browser, Browser) {
    project_with(backend, TestOptions::default()).await
}

/// [`project`] in an app started with `options` (boss is added to its admins).
pub(crate) async fn project_with(backend: Backend, mut options: TestOptions) -> (TestApp, i64, Browser, Browser) {
    options.admin_emails.push("boss@example.org".into());
    let app = TestApp::spawn_with(backend, options).await;
    let store = app.db.open().await;
    let project_id = approved_project(&store, "ada@example.org", "climate").await;
    wait_for_state(&app.db, project_id, "active", Duration::from_secs(10)).await;
    let (ada, boss) = (app.browser(), app.browser());
    app.sign_in(&ada, "ada@example.org").await;
    app.sign_in(&boss, "boss@example.org").await;
    (app, project_id, ada, boss)
}

/// The token of the newest invitation mailed to `address`, once it is not `except`.
async fn invitation_token(app: &TestApp, address: &str, except: Option<&str>) -> String {
    let mut token = None;
    let arrived = eventually(Duration::from_secs(10), || {
        token = app
            .mail_files()
            .iter()
            .rev()
            .filter(|mail| mail.contains(&format!("To: {address}")) && mail.contains("invites you to join"))
            .find_map(|mail| {
                let start = mail.find("/invitations/accept?token=")? + "/invitations/accept?token=".len();
                Some(
                    mail[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect(),
                )
            });
        std::future::ready(token.is_some() && token.as_deref() != except)
    })
    .await;
    assert!(arrived, "an invitation reached {address}");
    token.unwrap()
}

async fn invite(app: &TestApp, manager: &Browser, address: &str, role: &str) -> String {
    let before = app.mail_files().len();
    let (status, body) =
        call(manager, "project_invite", &[("name", "climate"), ("email", address), ("role", role)]).await;
    assert_eq!(status, 200, "{body}");
    assert!(eventually(Duration::from_secs(10), || std::future::ready(app.mail_files().len() > before)).await);
    invitation_token(app, &address.to_lowercase(), None).await
}

async fn member_role(app: &TestApp, project_id: i64, address: &str) -> Option<String> {
    app.scalar(&format!(
        "SELECT m.role FROM project_members m JOIN users u ON u.id = m.user_id \
         WHERE m.project_id = {project_id} AND u.email = '{address}'"
    ))
    .await
}

/// Waits until the project's GitOps file binds `address` (or, with `bound` false, no longer does).
async fn binding_follows(app: &TestApp, address: &str, bound: bool) {
    let file = app.gitops_dir.join("climate.yaml");
    let subject = format!("name: {address}");
    assert!(
        eventually(Duration::from_secs(10), || std::future::ready(
            std::fs::read_to_string(&file).is_ok_and(|text| text.contains(&subject) == bound)
        ))
        .await,
        "the role binding of {address} {} the project's file",
        if bound { "reached" } else { "left" }
    );
}

async fn an_invitation_works_once_for_the_invited_address_until_it_expires(backend: Backend) {
    let (app, project_id, ada, _boss) = project(backend).await;
    let token = invite(&app, &ada, "Bob@Example.org", "member").await;
    let stored =
        app.scalar(&format!("SELECT COUNT(*) || '' FROM project_invitations WHERE token_hash = '{token}'")).await;
    assert_eq!(stored.as_deref(), Some("0"), "only the token's hash is stored");
    let link = format!("/invitations/accept?token={token}");

    // Anybody with the link sees what it is; the address is partly hidden from all but the invited person.
    let anonymous = app.browser();
    let page = anonymous.page(&link).await;
    assert!(page.contains("to the project <strong>climate</strong>") && page.contains("b…@example.org"), "{page}");
    assert!(page.contains("sign in or sign up") && !page.contains("bob@example.org"));
    let (status, _) = call(&anonymous, "invitation_accept", &[("token", &token)]).await;
    assert_eq!(status, 401);

    // Somebody else who is signed in is refused, with a clear message.
    let eve = app.browser();
    app.sign_in(&eve, "eve@example.org").await;
    assert!(eve.page(&link).await.contains("you are signed in as eve@example.org"));
    let (status, body) = call(&eve, "invitation_accept", &[("token", &token)]).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body.contains(
            "This invitation is for b…@example.org, and you are signed in as eve@example.org. Sign out, then sign in \
             with the invited address to accept it."
        ),
        "{body}"
    );
    assert_eq!(member_role(&app, project_id, "eve@example.org").await, None);

    // Bob accepts: he is a member, his binding follows, the history and the audit trail have it.
    let bob = app.browser();
    app.sign_in(&bob, "bob@example.org").await;
    assert!(bob.page(&link).await.contains("Join climate"));
    let (status, body) = call(&bob, "invitation_accept", &[("token", &token)]).await;
    assert!(status == 200 || status == 302, "{status} {body}");
    assert_eq!(member_role(&app, project_id, "bob@example.org").await.as_deref(), Some("member"));
    binding_follows(&app, "bob@example.org", true).await;
    let page = bob.page("/projects/climate").await;
    assert!(page.contains("bob@example.org joined as member") && page.contains("invited bob@example.org as member"));
    assert!(!page.contains("Send the invitation"), "members do not invite");
    let audited =
        app.scalar("SELECT COUNT(*) || '' FROM audit_log WHERE action IN ('project.invite', 'project.join')").await;
    assert_eq!(audited.as_deref(), Some("2"));

    // The link works once.
    let (status, body) = call(&bob, "invitation_accept", &[("token", &token)]).await;
    assert_eq!(status, 409);
    assert!(body.contains("used already"), "{body}");
    assert!(bob.page(&link).await.contains("used already"));

    // An expired link is refused; the invitation can be sent again.
    let carol_token = invite(&app, &ada, "carol@example.org", "viewer").await;
    app.execute("UPDATE project_invitations SET expires_at = '2020-01-01T00:00:00Z' WHERE email = 'carol@example.org'")
        .await;
    let carol = app.browser();
    app.sign_in(&carol, "carol@example.org").await;
    assert!(carol.page(&format!("/invitations/accept?token={carol_token}")).await.contains("has expired"));
    let (status, body) = call(&carol, "invitation_accept", &[("token", &carol_token)]).await;
    assert_eq!(status, 409);
    assert!(body.contains("expired"), "{body}");
    assert_eq!(member_role(&app, project_id, "carol@example.org").await, None);

    // A link that is not one answers 404 with a page that says so.
    let unknown = anonymous.get("/invitations/accept?token=nonsense").await;
    assert_eq!(unknown.status(), 404);
    assert!(unknown.text().await.unwrap().contains("This invitation link is not valid"));
    let (status, _) = call(&carol, "invitation_accept", &[("token", "nonsense")]).await;
    assert_eq!(status, 404);
}

async fn invitations_are_sent_again_with_a_new_link_or_revoked_by_managers_only(backend: Backend) {
    let (app, project_id, ada, boss) = project(backend).await;
    let old = invite(&app, &ada, "bob@example.org", "member").await;
    let id = app.scalar("SELECT id || '' FROM project_invitations WHERE email = 'bob@example.org'").await.unwrap();

    // A second invitation of the same address is refused next to the field; so is a member's address.
    let (status, body) =
        call(&ada, "project_invite", &[("name", "climate"), ("email", "bob@example.org"), ("role", "viewer")]).await;
    assert_eq!(status, 400);
    assert!(body.contains("open invitation already"), "{body}");
    let (status, body) =
        call(&ada, "project_invite", &[("name", "climate"), ("email", "ada@example.org"), ("role", "viewer")]).await;
    assert_eq!(status, 400);
    assert!(body.contains("a member of climate already"), "{body}");
    for (email, role, field) in [("not an address", "member", "email"), ("x@example.org", "owner", "role")] {
        let (status, body) =
            call(&ada, "project_invite", &[("name", "climate"), ("email", email), ("role", role)]).await;
        assert_eq!(status, 400, "{email} {role}");
        assert!(body.contains(field), "{body}");
    }

    // Sending again makes a new link; the old one stops working.
    let ada_page = ada.page("/projects/climate").await;
    assert!(ada_page.contains("Open invitations") && ada_page.contains("bob@example.org"));
    let (status, _) = call(&ada, "project_invitation_resend", &[("name", "climate"), ("invitation_id", &id)]).await;
    assert_eq!(status, 200);
    let new = invitation_token(&app, "bob@example.org", Some(&old)).await;
    assert_ne!(new, old);
    let bob = app.browser();
    app.sign_in(&bob, "bob@example.org").await;
    let (status, _) = call(&bob, "invitation_accept", &[("token", &old)]).await;
    assert_eq!(status, 404, "the old link no longer exists");

    // Who may send again or revoke: the manager and admins; a member 403, anybody else 404, anonymous 401.
    let (status, _) = call(&bob, "project_invitation_revoke", &[("name", "climate"), ("invitation_id", &id)]).await;
    assert_eq!(status, 404, "bob is not a member yet");
    let (status, _) =
        call(&app.browser(), "project_invitation_revoke", &[("name", "climate"), ("invitation_id", &id)]).await;
    assert_eq!(status, 401);
    let (status, _) = call(&boss, "project_invitation_revoke", &[("name", "climate"), ("invitation_id", &id)]).await;
    assert_eq!(status, 200, "an admin revokes");
    let (status, body) = call(&bob, "invitation_accept", &[("token", &new)]).await;
    assert_eq!(status, 409);
    assert!(body.contains("revoked"), "{body}");
    assert!(!ada.page("/projects/climate").await.contains("Open invitations"));
    let (status, _) = call(&ada, "project_invitation_resend", &[("name", "climate"), ("invitation_id", &id)]).await;
    assert_eq!(status, 404, "a revoked invitation is not sent again");

    // A member (not a manager) may not invite.
    let token = invite(&app, &ada, "dan@example.org", "member").await;
    let dan = app.browser();
    app.sign_in(&dan, "dan@example.org").await;
    let (status, _) = call(&dan, "invitation_accept", &[("token", &token)]).await;
    assert!(status == 200 || status == 302);
    let (status, _) =
        call(&dan, "project_invite", &[("name", "climate"), ("email", "x@example.org"), ("role", "viewer")]).await;
    assert_eq!(status, 403);
    let revoked = app
        .scalar(&format!(
            "SELECT COUNT(*) || '' FROM project_invitations WHERE project_id = {project_id} AND revoked_at IS NOT NULL"
        ))
        .await;
    assert_eq!(revoked.as_deref(), Some("1"));
}

async fn managers_change_roles_and_remove_members_and_a_project_keeps_a_manager(backend: Backend) {
    let (app, project_id, ada, boss) = project(backend).await;
    let token = invite(&app, &ada, "bob@example.org", "member").await;
    let bob = app.browser();
    app.sign_in(&bob, "bob@example.org").await;
    call(&bob, "invitation_accept", &[("token", &token)]).await;
    binding_follows(&app, "bob@example.org", true).await;
    let id_of = |address: &'static str| {
        let app = &app;
        async move { app.scalar(&format!("SELECT id || '' FROM users WHERE email = '{address}'")).await.unwrap() }
    };
    let (ada_id, bob_id) = (id_of("ada@example.org").await, id_of("bob@example.org").await);
    let eve = app.browser();
    app.sign_in(&eve, "eve@example.org").await;
    // A member may not change roles or remove others; somebody else gets 404; anonymous 401.
    assert_eq!(
        call(&bob, "project_member_role", &[("name", "climate"), ("user_id", &ada_id), ("role", "viewer")]).await.0,
        403
    );
    assert_eq!(call(&bob, "project_member_remove", &[("name", "climate"), ("user_id", &ada_id)]).await.0, 403);
    assert_eq!(
        call(&eve, "project_member_role", &[("name", "climate"), ("user_id", &bob_id), ("role", "viewer")]).await.0,
        404
    );
    assert_eq!(
        call(&app.browser(), "project_member_role", &[("name", "climate"), ("user_id", &bob_id), ("role", "viewer")])
            .await
            .0,
        401
    );

    // The last manager can neither step down nor leave.
    let (status, body) =
        call(&ada, "project_member_role", &[("name", "climate"), ("user_id", &ada_id), ("role", "member")]).await;
    assert_eq!(status, 409);
    assert!(body.contains("at least one manager"), "{body}");
    let (status, body) = call(&ada, "project_member_remove", &[("name", "climate"), ("user_id", &ada_id)]).await;
    assert_eq!(status, 409, "{body}");
    let (status, body) =
        call(&ada, "project_member_role", &[("name", "climate"), ("user_id", &bob_id), ("role", "owner")]).await;
    assert_eq!(status, 400, "{body}");

    // An admin makes bob a viewer: his binding changes to `view`.
    assert_eq!(
        call(&boss, "project_member_role", &[("name", "climate"), ("user_id", &bob_id), ("role", "viewer")]).await.0,
        200
    );
    assert_eq!(member_role(&app, project_id, "bob@example.org").await.as_deref(), Some("viewer"));
    let file = app.gitops_dir.join("climate.yaml");
    let view_binding = format!("berth-view-{bob_id}");
    assert!(
        eventually(Duration::from_secs(10), || std::future::ready(
            std::fs::read_to_string(&file)
                .is_ok_and(|text| text.contains(&view_binding) && !text.contains(&format!("berth-edit-{bob_id}")))
        ))
        .await,
        "the binding follows the role"
    );

    // Ada makes bob a manager, then leaves; she no longer sees the project and her binding goes.
    assert_eq!(
        call(&ada, "project_member_role", &[("name", "climate"), ("user_id", &bob_id), ("role", "manager")]).await.0,
        200
    );
    let (status, body) = call(&ada, "project_member_remove", &[("name", "climate"), ("user_id", &ada_id)]).await;
    assert!(status == 200 || status == 302, "{status} {body}");
    assert_eq!(member_role(&app, project_id, "ada@example.org").await, None);
    assert_eq!(ada.get("/projects/climate").await.status(), 404);
    binding_follows(&app, "ada@example.org", false).await;

    // Bob, now the only manager, removes nobody he cannot: removing a non-member is 404.
    assert_eq!(call(&bob, "project_member_remove", &[("name", "climate"), ("user_id", &ada_id)]).await.0, 404);
    let page = bob.page("/projects/climate").await;
    for expected in ["left the project", "made bob@example.org manager", "made bob@example.org viewer"] {
        assert!(page.contains(expected), "the history lacks {expected:?}");
    }
    let generations =
        app.scalar(&format!("SELECT generation || '' FROM projects WHERE id = {project_id}")).await.unwrap();
    assert_eq!(generations, "5", "approval, join, two role changes and the leave: one generation each");
}

async fn a_visitor_who_opens_an_invitation_signed_out_comes_back_to_it_after_signing_in_or_up(backend: Backend) {
    let (app, project_id, ada, _boss) = project(backend).await;

    // Bob has an account already: signing in takes him straight back to the invitation.
    app.sign_in(&app.browser(), "bob@example.org").await;
    let token = invite(&app, &ada, "bob@example.org", "member").await;
    let link = format!("/invitations/accept?token={token}");
    let bob = app.browser();
    assert!(bob.page(&link).await.contains("sign in or sign up"));
    assert_eq!(app.sign_in(&bob, "bob@example.org").await, link);
    assert!(bob.page(&link).await.contains("Join climate"));
    let (status, _) = call(&bob, "invitation_accept", &[("token", &token)]).await;
    assert!(status == 200 || status == 302);
    // Once is enough: the next sign-in goes to the account page as usual.
    assert_eq!(app.sign_in(&bob, "bob@example.org").await, "/account");

    // Carol is new: she signs up first, then comes back to it.
    let token = invite(&app, &ada, "carol@example.org", "viewer").await;
    let link = format!("/invitations/accept?token={token}");
    let carol = app.browser();
    carol.page(&link).await;
    let before = app.mail_files().len();
    carol.post("/auth/email", &[("email", "carol@example.org")]).await;
    let sign_in = app.wait_for_token(before + 1).await;
    let verified = carol.post("/auth/email/verify", &[("token", &sign_in)]).await;
    assert_eq!(location(&verified), "/signup", "sign-up comes first");
    let signed_up = carol
        .submit(
            "/signup",
            "/api/complete_sign_up",
            &[("name", "Carol"), ("organisation", "Uni"), ("accept_terms", "yes")],
        )
        .await;
    assert_eq!(location(&signed_up), link, "then the invitation");
    let (status, _) = call(&carol, "invitation_accept", &[("token", &token)]).await;
    assert!(status == 200 || status == 302);
    assert_eq!(member_role(&app, project_id, "carol@example.org").await.as_deref(), Some("viewer"));
}
