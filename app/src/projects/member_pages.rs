//! The members part of the project page (invite, resend, revoke, change roles, remove, leave), the project's history,
//! and the invitation page `/invitations/accept?token=…`. Every form posts without JavaScript too.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::api::{
    AcceptInvitation, ChangeMemberRole, InviteMember, RemoveMember, ResendInvitation, RevokeInvitation, get_invitation,
};
use super::members::{InvitationStatus, ProjectEventView};
use super::model::MemberRole;
use super::view::ProjectView;
use crate::components::ErrorNotice;
use crate::error::AppError;

/// The actions of the members section; the page reloads the project after each.
#[derive(Clone, Copy)]
#[allow(missing_debug_implementations)] // Server actions have no Debug.
pub struct MemberActions {
    /// Invite by e-mail.
    pub invite: ServerAction<InviteMember>,
    /// Send an invitation again.
    pub resend: ServerAction<ResendInvitation>,
    /// Revoke an invitation.
    pub revoke: ServerAction<RevokeInvitation>,
    /// Change a member's role.
    pub role: ServerAction<ChangeMemberRole>,
    /// Remove a member, or leave.
    pub remove: ServerAction<RemoveMember>,
}

impl MemberActions {
    /// New actions.
    pub fn new() -> Self {
        Self {
            invite: ServerAction::new(),
            resend: ServerAction::new(),
            revoke: ServerAction::new(),
            role: ServerAction::new(),
            remove: ServerAction::new(),
        }
    }

    /// Changes whenever one of them completes.
    pub fn versions(&self) -> (usize, usize, usize, usize, usize) {
        (
            self.invite.version().get(),
            self.resend.version().get(),
            self.revoke.version().get(),
            self.role.version().get(),
            self.remove.version().get(),
        )
    }

    /// The error of the last member change other than an invitation's fields, if any.
    fn error(&self) -> Option<AppError> {
        [self.resend.value().get(), self.revoke.value().get(), self.role.value().get(), self.remove.value().get()]
            .into_iter()
            .flatten()
            .find_map(Result::err)
    }
}

impl Default for MemberActions {
    fn default() -> Self {
        Self::new()
    }
}

/// Members with their roles; for managers and admins also the forms that change them and the open invitations.
#[component]
pub fn MembersSection(project: ProjectView, actions: MemberActions) -> impl IntoView {
    let manages = project.viewer_manages();
    let name = project.name.clone();
    let viewer_id = project.viewer_id;
    let invite_error = move || actions.invite.value().get().and_then(Result::err);
    let field_error = move |field: &'static str| move || invite_error().and_then(|error| error.for_field(field));
    let other_invite_error =
        move || invite_error().filter(|error| error.for_field("email").is_none() && error.for_field("role").is_none());
    let invited = move || matches!(actions.invite.value().get(), Some(Ok(())));
    let members = project
        .members
        .clone()
        .into_iter()
        .map(|member| {
            let who =
                member.name.clone().map_or_else(|| member.email.clone(), |name| format!("{name} <{}>", member.email));
            let is_viewer = member.user_id == viewer_id;
            let user_id = member.user_id.to_string();
            let change = if manages {
                let (name, user_id, label, current) =
                    (name.clone(), user_id.clone(), format!("Role of {who}"), member.role);
                Some(view! {
                    <ActionForm action=actions.role attr:class="inline">
                        <input type="hidden" name="name" value=name/>
                        <input type="hidden" name="user_id" value=user_id.clone()/>
                        <label class="visually-hidden" for=format!("role-{user_id}")>{label}</label>
                        <select id=format!("role-{user_id}") name="role">
                            {MemberRole::ALL.into_iter().map(|role| view! {
                                <option value=role.as_str() selected=role == current>{role.label()}</option>
                            }).collect_view()}
                        </select>
                        <button type="submit" class="secondary">"Change role"</button>
                    </ActionForm>
                })
            } else {
                None
            };
            let remove = if manages || is_viewer {
                let (name, user_id) = (name.clone(), user_id.clone());
                let label = if is_viewer { "Leave the project" } else { "Remove" };
                Some(view! {
                    <ActionForm action=actions.remove attr:class="inline">
                        <input type="hidden" name="name" value=name/>
                        <input type="hidden" name="user_id" value=user_id/>
                        <button type="submit" class="secondary">{label}</button>
                    </ActionForm>
                })
            } else {
                None
            };
            view! {
                <tr>
                    <td data-label="Member">{who} {is_viewer.then_some(" (you)")}</td>
                    <td data-label="Role">{member.role.label()}</td>
                    <td data-label="Cluster role"><code>{member.role.cluster_role()}</code></td>
                    <td data-label="Since">{member.since.format("%Y-%m-%d").to_string()}</td>
                    <td data-label="Actions" class="actions">{change}{remove}</td>
                </tr>
            }
        })
        .collect_view();
    let invitations = if manages && !project.invitations.is_empty() {
        let rows = project
            .invitations
            .clone()
            .into_iter()
            .map(|invitation| {
                let expired = invitation.expired;
                let (resend_name, revoke_name) = (name.clone(), name.clone());
                let (resend_id, revoke_id) = (invitation.id.to_string(), invitation.id.to_string());
                view! {
                    <tr>
                        <td data-label="Address">{invitation.email}</td>
                        <td data-label="Role">{invitation.role.label()}</td>
                        <td data-label="Invited by">{invitation.invited_by}</td>
                        <td data-label="Link works until">
                            {invitation.expires_at.format("%Y-%m-%d %H:%M UTC").to_string()}
                            {expired.then(|| view! { " " <span class="badge expired">"expired"</span> })}
                        </td>
                        <td data-label="Actions" class="actions">
                            <ActionForm action=actions.resend attr:class="inline">
                                <input type="hidden" name="name" value=resend_name/>
                                <input type="hidden" name="invitation_id" value=resend_id/>
                                <button type="submit" class="secondary">"Send again"</button>
                            </ActionForm>
                            <ActionForm action=actions.revoke attr:class="inline">
                                <input type="hidden" name="name" value=revoke_name/>
                                <input type="hidden" name="invitation_id" value=revoke_id/>
                                <button type="submit" class="secondary">"Revoke"</button>
                            </ActionForm>
                        </td>
                    </tr>
                }
            })
            .collect_view();
        Some(view! {
            <h3>"Open invitations"</h3>
            <table class="data stacked">
                <thead><tr>
                    <th scope="col">"Address"</th><th scope="col">"Role"</th><th scope="col">"Invited by"</th>
                    <th scope="col">"Link works until"</th><th scope="col">"Actions"</th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
        })
    } else {
        None
    };
    let invite_form = manages.then(move || view! {
        <h3>"Invite somebody"</h3>
        {move || other_invite_error().map(|error| view! { <ErrorNotice error/> })}
        {move || invited().then(|| view! { <div class="notice" role="status"><p>"The invitation is on its way."</p></div> })}
        <ActionForm action=actions.invite attr:class="stack">
            <input type="hidden" name="name" value=name.clone()/>
            <label for="invite-email">"E-mail address"</label>
            <input id="invite-email" name="email" type="email" autocomplete="off" required=true maxlength="254"
                aria-invalid=move || field_error("email")().map(|_| "true")
                aria-describedby="invite-email-error"/>
            {move || field_error("email")().map(|message| view! { <p id="invite-email-error" class="field-error">{message}</p> })}
            <label for="invite-role">"Role"</label>
            <select id="invite-role" name="role" aria-describedby="invite-role-error">
                {MemberRole::ALL.into_iter().map(|role| view! {
                    <option value=role.as_str() selected=role == MemberRole::Member>
                        {format!("{} ({} in the namespace)", role.label(), role.cluster_role())}
                    </option>
                }).collect_view()}
            </select>
            {move || field_error("role")().map(|message| view! { <p id="invite-role-error" class="field-error">{message}</p> })}
            <button type="submit">"Send the invitation"</button>
        </ActionForm>
        <p class="hint">"The link works once, for the invited address only, for a limited time."</p>
    });
    view! {
        <section class="card" aria-labelledby="members-heading">
            <h2 id="members-heading">"Members"</h2>
            {move || actions.error().map(|error| view! { <ErrorNotice error/> })}
            <table class="data stacked">
                <thead><tr>
                    <th scope="col">"Member"</th><th scope="col">"Role"</th><th scope="col">"Cluster role"</th>
                    <th scope="col">"Since"</th><th scope="col">"Actions"</th>
                </tr></thead>
                <tbody>{members}</tbody>
            </table>
            {invitations}
            {invite_form}
        </section>
    }
}

/// The project's history, newest first.
#[component]
pub fn HistorySection(events: Vec<ProjectEventView>) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="events-heading">
            <h2 id="events-heading">"History"</h2>
            {if events.is_empty() {
                view! { <p>"Nothing has changed since the approval."</p> }.into_any()
            } else {
                view! {
                    <ol class="timeline">
                        {events.into_iter().map(|event| view! {
                            <li>
                                <time datetime=event.at.to_rfc3339()>{event.at.format("%Y-%m-%d %H:%M UTC").to_string()}</time>
                                " " {event.actor} ": " {event.summary}
                            </li>
                        }).collect_view()}
                    </ol>
                }.into_any()
            }}
        </section>
    }
}

/// `/invitations/accept?token=…`: what the invitation is, and a button to accept it when the invited person is
/// signed in.
#[component]
pub fn InvitationPage() -> impl IntoView {
    let query = use_query_map();
    let token = move || query.read().get("token").unwrap_or_default();
    let accept = ServerAction::<AcceptInvitation>::new();
    let preview = Resource::new_blocking(token, get_invitation);
    let accept_error = move || accept.value().get().and_then(Result::err);
    view! {
        <Title text="Invitation"/>
        <h1>"Invitation"</h1>
        {move || accept_error().map(|error| view! { <ErrorNotice error/> })}
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let preview = match preview.await {
                    Ok(preview) => preview,
                    Err(AppError::NotFound) => return view! {
                        <p>"This invitation link is not valid. Check that you opened the whole link from the e-mail."</p>
                    }.into_any(),
                    Err(error) => return view! { <ErrorNotice error/> }.into_any(),
                };
                let what = view! {
                    <p>{preview.invited_by.clone()} " invites " {preview.invited.clone()} " to the project "
                        <strong>{preview.project.clone()}</strong> " (" {preview.title.clone()} ") as "
                        {preview.role.label().to_lowercase()} ", which gives the " <code>{preview.role.cluster_role()}</code>
                        " role in its namespace."</p>
                };
                let next = match preview.status {
                    InvitationStatus::Expired => view! {
                        <p>"This invitation has expired. Ask a manager of the project to send it again."</p>
                    }.into_any(),
                    InvitationStatus::Used => view! {
                        <p>"This invitation was used already: each link works once. "
                            <a href=format!("/projects/{}", preview.project)>"Open the project"</a> " if you joined."</p>
                    }.into_any(),
                    InvitationStatus::Revoked => view! {
                        <p>"This invitation was revoked by a manager of the project."</p>
                    }.into_any(),
                    InvitationStatus::Open if !preview.signed_in => view! {
                        <p>"To accept, " <a href="/signin">"sign in or sign up"</a> " as the invited address in this browser: you come back here once you are signed in."</p>
                    }.into_any(),
                    InvitationStatus::Open if !preview.for_viewer => view! {
                        <div class="notice notice-error" role="alert">
                            <p>"This invitation is for " {preview.invited.clone()} ", and you are signed in as "
                                {preview.viewer.clone().unwrap_or_default()} ". Sign out, then sign in with the invited address to accept it."</p>
                        </div>
                    }.into_any(),
                    InvitationStatus::Open => view! {
                        <p>"The link works until " {preview.expires_at.format("%Y-%m-%d %H:%M UTC").to_string()} "."</p>
                        <ActionForm action=accept>
                            <input type="hidden" name="token" value=token()/>
                            <button type="submit">{format!("Join {}", preview.project)}</button>
                        </ActionForm>
                    }.into_any(),
                };
                view! { {what} {next} }.into_any()
            })}
        </Suspense>
    }
}
