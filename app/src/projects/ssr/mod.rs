//! Server side of projects: the desired state on the cluster, the store contract of the project pages, and the
//! service that decides who sees what.

pub mod desired;
pub mod lifecycle;

use std::sync::Arc;

use async_trait::async_trait;

use chrono::{DateTime, Utc};

use super::members::{
    InvitationPreview, InvitationStatus, InvitationView, LAST_MANAGER, MemberAction, hide_address, keeps_a_manager, may,
};
use super::model::{MemberRole, ProjectState};
use super::view::{ProjectSummary, ProjectView};
use crate::auth::model::Role;
use crate::auth::ssr::{
    MailNotice, MailRenderer, NewAuditEntry, OutgoingMail, RequestInfo, User, new_token, token_hash,
};
use crate::email::EmailAddress;
use crate::error::{AppError, StoreError};

/// Storage of the project pages.
#[async_trait]
pub trait ProjectStore: Send + Sync + 'static {
    /// The projects `member_id` belongs to (with their role), or every project when `None`; by name.
    async fn projects(&self, member_id: Option<i64>) -> Result<Vec<ProjectSummary>, StoreError>;

    /// A project's page by name (`viewer_is_admin` left false), with `attempts` newest first, at most that many.
    async fn project_by_name(&self, name: &str, attempts: u32) -> Result<Option<ProjectView>, StoreError>;

    /// Queues the project's provisioning job again (a new generation), with its audit row; false when there is no
    /// such project.
    async fn reprovision(&self, project_id: i64, audit: &NewAuditEntry) -> Result<bool, StoreError>;

    /// Suspends an active project with `reason` (`Some`), or resumes a suspended one (`None`): the state, its
    /// event, the provisioning job that sets the quota to zero or back, `mail` and the audit row, in one
    /// transaction; false when the project is not in the state the change leaves.
    async fn set_suspended(
        &self,
        project_id: i64,
        reason: Option<&str>,
        mail: &[OutgoingMail],
        audit: &NewAuditEntry,
    ) -> Result<bool, StoreError>;

    /// Addresses of the project's managers whose accounts are not disabled.
    async fn manager_addresses(&self, project_id: i64) -> Result<Vec<String>, StoreError>;

    /// Records an invitation, queues its mail, and writes its event and audit row, in one transaction; unless the
    /// address already belongs to a member or has an open invitation.
    async fn invite(
        &self,
        invitation: &NewInvitation,
        mail: &OutgoingMail,
        audit: &NewAuditEntry,
    ) -> Result<InviteOutcome, StoreError>;

    /// Gives open invitation `invitation_id` of project `project_id` a new link (`token_hash`) that works until
    /// `expires_at`, and queues its mail; false when there is no such open invitation.
    async fn resend_invitation(
        &self,
        project_id: i64,
        invitation_id: i64,
        token_hash: &str,
        expires_at: DateTime<Utc>,
        mail: &OutgoingMail,
        audit: &NewAuditEntry,
    ) -> Result<bool, StoreError>;

    /// Revokes open invitation `invitation_id` of project `project_id`; false when there is no such open one.
    async fn revoke_invitation(
        &self,
        project_id: i64,
        invitation_id: i64,
        audit: &NewAuditEntry,
    ) -> Result<bool, StoreError>;

    /// The invitation whose link's token hashes to `token_hash`, in whatever state.
    async fn invitation(&self, token_hash: &str) -> Result<Option<InvitationRecord>, StoreError>;

    /// Makes `user_id` a member through invitation `invitation_id`, if it is still open at `audit.at`: the
    /// invitation is used up, the membership made, the provisioning job queued (a new generation), with the event
    /// and audit row, in one transaction.
    async fn accept_invitation(
        &self,
        invitation_id: i64,
        user_id: i64,
        audit: &NewAuditEntry,
    ) -> Result<AcceptOutcome, StoreError>;

    /// Changes a member's role or removes them, keeping at least one manager (checked in the transaction that
    /// makes the change), and queues the provisioning job that changes their role binding.
    async fn change_member(&self, change: &MemberChange, audit: &NewAuditEntry) -> Result<MemberOutcome, StoreError>;
}

/// An invitation to record.
#[derive(Debug, Clone)]
pub struct NewInvitation {
    /// The project.
    pub project_id: i64,
    /// The address invited (lower-cased).
    pub email: String,
    /// The role it grants.
    pub role: MemberRole,
    /// The link's token, hashed.
    pub token_hash: String,
    /// Who invites.
    pub invited_by: i64,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
}

/// What recording an invitation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteOutcome {
    /// Recorded; its mail is queued.
    Invited,
    /// The address belongs to a member already.
    AlreadyMember,
    /// The address has an open invitation (send that one again instead).
    AlreadyInvited,
}

/// A stored invitation, as the invitation page and its acceptance need it.
#[derive(Debug, Clone)]
pub struct InvitationRecord {
    /// Id.
    pub id: i64,
    /// The project.
    pub project_id: i64,
    /// Its name.
    pub project: String,
    /// Its title.
    pub title: String,
    /// Its state.
    pub project_state: ProjectState,
    /// The address invited.
    pub email: String,
    /// The role it grants.
    pub role: MemberRole,
    /// Who invited (an address).
    pub invited_by: String,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
    /// When it was used.
    pub accepted_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl InvitationRecord {
    /// Where it stands at `now`.
    pub fn status(&self, now: DateTime<Utc>) -> InvitationStatus {
        if self.accepted_at.is_some() {
            InvitationStatus::Used
        } else if self.revoked_at.is_some() {
            InvitationStatus::Revoked
        } else if self.expires_at <= now {
            InvitationStatus::Expired
        } else {
            InvitationStatus::Open
        }
    }
}

/// What accepting an invitation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptOutcome {
    /// The user is a member now.
    Joined,
    /// The user was a member already; the invitation is used up.
    AlreadyMember,
    /// The invitation was used, revoked or expired meanwhile.
    Gone,
}

/// A change to one member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberChange {
    /// The project.
    pub project_id: i64,
    /// The member.
    pub user_id: i64,
    /// Their new role; `None` removes them.
    pub role: Option<MemberRole>,
}

/// What a member change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberOutcome {
    /// Done; the provisioning job is queued.
    Done,
    /// They already have that role: nothing to do.
    Unchanged,
    /// They are not a member.
    NotMember,
    /// Refused: the project would be left without a manager.
    LastManager,
}

/// Settings of projects.
#[derive(Debug, Clone)]
pub struct ProjectSettings {
    /// How long an invitation link works.
    pub invitation_lifetime: chrono::Duration,
    /// The auto-approval rules of quota changes, in order.
    pub quota_rules: Vec<crate::projects::requests::QuotaRule>,
    /// The maximums of each resource and how far ahead an end date may be (the applications' rules).
    pub rules: crate::applications::model::ApplicationRules,
    /// How long a closed project's namespace is kept (an admin can restore the project meanwhile).
    pub close_grace: chrono::Duration,
}

impl Default for ProjectSettings {
    fn default() -> Self {
        Self {
            invitation_lifetime: chrono::Duration::days(7),
            quota_rules: crate::projects::requests::QuotaRule::defaults(),
            rules: crate::applications::model::ApplicationRules::default(),
            close_grace: chrono::Duration::days(30),
        }
    }
}

/// The longest reason for a suspension.
pub const SUSPEND_REASON_MAX: usize = 1_000;

/// How many provisioning attempts a project page lists.
pub const ATTEMPTS_SHOWN: u32 = 50;

/// Projects as their members and admins see them, and their members.
pub struct ProjectService {
    store: Arc<dyn ProjectStore>,
    lifecycle: Arc<dyn lifecycle::LifecycleStore>,
    mail: Arc<dyn MailRenderer>,
    settings: ProjectSettings,
}

impl std::fmt::Debug for ProjectService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProjectService").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl ProjectService {
    /// The service over `store` and `lifecycle` (usually the same database), mailing through `mail`.
    pub fn new(
        store: Arc<dyn ProjectStore>,
        lifecycle: Arc<dyn lifecycle::LifecycleStore>,
        mail: Arc<dyn MailRenderer>,
        settings: ProjectSettings,
    ) -> Self {
        Self { store, lifecycle, mail, settings }
    }

    /// The user's projects; every project for an admin.
    pub async fn list(&self, user: &User) -> Result<Vec<ProjectSummary>, AppError> {
        let member = (user.role != Role::Admin).then_some(user.id);
        let mut projects = self.store.projects(member).await?;
        if user.role == Role::Admin {
            // An admin who is also a member sees their role too.
            let own = self.store.projects(Some(user.id)).await?;
            for project in &mut projects {
                project.role = own.iter().find(|mine| mine.id == project.id).and_then(|mine| mine.role);
            }
        }
        Ok(projects)
    }

    /// The names of the projects `user` manages that are not closed.
    pub async fn managed_names(&self, user: &User) -> Result<Vec<String>, AppError> {
        Ok(self
            .store
            .projects(Some(user.id))
            .await?
            .into_iter()
            .filter(|project| project.role == Some(MemberRole::Manager) && project.state != ProjectState::Closed)
            .map(|project| project.name)
            .collect())
    }

    /// A project's page, for its members and admins; to anyone else it does not exist.
    pub async fn view(&self, user: &User, name: &str) -> Result<ProjectView, AppError> {
        let mut project = self.store.project_by_name(name, ATTEMPTS_SHOWN).await?.ok_or(AppError::NotFound)?;
        let is_admin = user.role == Role::Admin;
        let role = project.members.iter().find(|member| member.user_id == user.id).map(|member| member.role);
        if !is_admin && role.is_none() {
            return Err(AppError::NotFound);
        }
        project.viewer_is_admin = is_admin;
        project.viewer_id = user.id;
        project.viewer_role = role;
        if !project.viewer_manages() {
            // Who else was invited is the managers' business.
            project.invitations.clear();
        }
        self.add_requests(&mut project).await?;
        Ok(project)
    }

    /// The project `name` as `user` may act on it with `action`: 404 to people who are not members (unless admins),
    /// 403 to members who may not.
    async fn project_for(&self, user: &User, name: &str, action: MemberAction) -> Result<ProjectView, AppError> {
        let project = self.view(user, name).await?;
        if !may(action, project.viewer_role, project.viewer_is_admin) {
            return Err(AppError::Forbidden);
        }
        if project.state == ProjectState::Closed {
            return Err(AppError::Conflict {
                message: "The project is closed: nothing about it changes unless an admin restores it.".into(),
            });
        }
        Ok(project)
    }

    /// An admin suspends an active project, with a reason the managers are told: its quota on the cluster becomes
    /// zero (the objects stay).
    pub async fn suspend(&self, admin: &User, name: &str, reason: &str, request: &RequestInfo) -> Result<(), AppError> {
        crate::auth::ssr::require_admin(admin)?;
        let reason = crate::applications::model::required_text(reason, SUSPEND_REASON_MAX, true)
            .map_err(|error| AppError::invalid("reason", error))?;
        let project = self.store.project_by_name(name, 0).await?.ok_or(AppError::NotFound)?;
        if project.state != ProjectState::Active {
            return Err(AppError::Conflict {
                message: format!(
                    "Only an active project can be suspended; this one is {}.",
                    project.state.label().to_lowercase()
                ),
            });
        }
        let notice = MailNotice {
            subject: format!("Your project {} is suspended", project.name),
            paragraphs: vec![
                format!("{} suspended the project {}: {reason}", admin.audit_name(), project.name),
                "Its objects stay on the cluster, but its quota is zero until an admin resumes it: running pods \
                 keep running, and nothing new can start."
                    .to_owned(),
            ],
            path: format!("/projects/{}", project.name),
            link_label: "See the project".to_owned(),
        };
        let mail = self.mail_to_managers(project.id, &notice).await?;
        let audit = NewAuditEntry::by(admin, "project.suspend", format!("project:{}", project.id), request)
            .with_details(serde_json::json!({ "project": project.name, "reason": reason }));
        if self.store.set_suspended(project.id, Some(&reason), &mail, &audit).await? {
            Ok(())
        } else {
            Err(AppError::Conflict { message: "The project changed meanwhile; reload the page.".into() })
        }
    }

    /// Berth suspends an active project because the billing account it draws on has no BU left (when
    /// `suspend_when_spent` is on); false when the project is not active. The managers are told why.
    pub async fn suspend_for_budget(&self, name: &str, account: &str) -> Result<bool, AppError> {
        let Some(project) = self.store.project_by_name(name, 0).await? else { return Ok(false) };
        if project.state != ProjectState::Active {
            return Ok(false);
        }
        let reason = format!("its billing account {account} has used all the BU granted to it");
        let notice = MailNotice {
            subject: format!("Your project {} is suspended", project.name),
            paragraphs: vec![
                format!("Berth suspended the project {}: {reason}.", project.name),
                "Its objects stay on the cluster, but its quota is zero until an admin grants more BU and resumes it."
                    .to_owned(),
            ],
            path: format!("/projects/{}", project.name),
            link_label: "See the project".to_owned(),
        };
        let mail = self.mail_to_managers(project.id, &notice).await?;
        let audit = NewAuditEntry::system("project.suspend", format!("project:{}", project.id), Utc::now())
            .with_details(serde_json::json!({ "project": project.name, "reason": reason }));
        Ok(self.store.set_suspended(project.id, Some(&reason), &mail, &audit).await?)
    }

    /// An admin resumes a suspended project: its quota is restored.
    pub async fn resume(&self, admin: &User, name: &str, request: &RequestInfo) -> Result<(), AppError> {
        crate::auth::ssr::require_admin(admin)?;
        let project = self.store.project_by_name(name, 0).await?.ok_or(AppError::NotFound)?;
        if project.state != ProjectState::Suspended {
            return Err(AppError::Conflict { message: "The project is not suspended.".into() });
        }
        let notice = MailNotice {
            subject: format!("Your project {} is resumed", project.name),
            paragraphs: vec![format!(
                "{} resumed the project {}: its quota on the cluster is restored.",
                admin.audit_name(),
                project.name
            )],
            path: format!("/projects/{}", project.name),
            link_label: "See the project".to_owned(),
        };
        let mail = self.mail_to_managers(project.id, &notice).await?;
        let audit = NewAuditEntry::by(admin, "project.resume", format!("project:{}", project.id), request)
            .with_details(serde_json::json!({ "project": project.name }));
        if self.store.set_suspended(project.id, None, &mail, &audit).await? {
            Ok(())
        } else {
            Err(AppError::Conflict { message: "The project changed meanwhile; reload the page.".into() })
        }
    }

    async fn mail_to_managers(&self, project_id: i64, notice: &MailNotice) -> Result<Vec<OutgoingMail>, AppError> {
        Ok(self.notices(&self.store.manager_addresses(project_id).await?, notice))
    }

    /// `notice` to each of the stored `addresses` (one that no longer parses is skipped).
    fn notices(&self, addresses: &[String], notice: &MailNotice) -> Vec<OutgoingMail> {
        addresses
            .iter()
            .filter_map(|address| EmailAddress::parse(address).ok())
            .map(|address| self.mail.notice(&address, notice))
            .collect()
    }

    /// A manager (or an admin) invites `email` to the project as `role`: the link goes out by mail.
    pub async fn invite(
        &self,
        user: &User,
        name: &str,
        email: &str,
        role: &str,
        request: &RequestInfo,
    ) -> Result<(), AppError> {
        let address = EmailAddress::parse(email.trim()).map_err(|error| AppError::invalid("email", error))?;
        let role = parse_role(role)?;
        let project = self.project_for(user, name, MemberAction::Invite).await?;
        let token = new_token();
        let expires_at = Utc::now() + self.settings.invitation_lifetime;
        let invitation = NewInvitation {
            project_id: project.id,
            email: address.as_str().to_owned(),
            role,
            token_hash: token_hash(&token),
            invited_by: user.id,
            expires_at,
        };
        let mail = self.invitation_mail(user, &project, &address, role, &token, expires_at);
        let audit = NewAuditEntry::by(user, "project.invite", format!("project:{}", project.id), request).with_details(
            serde_json::json!({ "project": project.name, "email": address.as_str(), "role": role.as_str() }),
        );
        match self.store.invite(&invitation, &mail, &audit).await? {
            InviteOutcome::Invited => Ok(()),
            InviteOutcome::AlreadyMember => {
                Err(AppError::invalid("email", format!("{address} is a member of {} already.", project.name)))
            }
            InviteOutcome::AlreadyInvited => Err(AppError::invalid(
                "email",
                format!("{address} has an open invitation already: send it again from the list below."),
            )),
        }
    }

    /// A manager sends an open invitation again: a new link, valid for the whole lifetime again; the old link stops
    /// working.
    pub async fn resend_invitation(
        &self,
        user: &User,
        name: &str,
        invitation_id: i64,
        request: &RequestInfo,
    ) -> Result<(), AppError> {
        let (project, invitation) = self.open_invitation(user, name, invitation_id).await?;
        let address = EmailAddress::parse(&invitation.email).map_err(|error| AppError::invalid("email", error))?;
        let token = new_token();
        let expires_at = Utc::now() + self.settings.invitation_lifetime;
        let mail = self.invitation_mail(user, &project, &address, invitation.role, &token, expires_at);
        let audit = NewAuditEntry::by(user, "project.invitation_resend", format!("project:{}", project.id), request)
            .with_details(serde_json::json!({ "project": project.name, "email": invitation.email }));
        if self
            .store
            .resend_invitation(project.id, invitation_id, &token_hash(&token), expires_at, &mail, &audit)
            .await?
        {
            Ok(())
        } else {
            Err(gone_invitation())
        }
    }

    /// A manager revokes an open invitation: its link stops working.
    pub async fn revoke_invitation(
        &self,
        user: &User,
        name: &str,
        invitation_id: i64,
        request: &RequestInfo,
    ) -> Result<(), AppError> {
        let (project, invitation) = self.open_invitation(user, name, invitation_id).await?;
        let audit = NewAuditEntry::by(user, "project.invitation_revoke", format!("project:{}", project.id), request)
            .with_details(serde_json::json!({ "project": project.name, "email": invitation.email }));
        if self.store.revoke_invitation(project.id, invitation_id, &audit).await? {
            Ok(())
        } else {
            Err(gone_invitation())
        }
    }

    /// Open invitation `invitation_id` of project `name`, for a manager or admin who may send it again or revoke it.
    async fn open_invitation(
        &self,
        user: &User,
        name: &str,
        invitation_id: i64,
    ) -> Result<(ProjectView, InvitationView), AppError> {
        let project = self.project_for(user, name, MemberAction::ManageInvitation).await?;
        let invitation = project
            .invitations
            .iter()
            .find(|invitation| invitation.id == invitation_id)
            .cloned()
            .ok_or(AppError::NotFound)?;
        Ok((project, invitation))
    }

    /// What the invitation link `token` is, for whoever opened it (`viewer`: the signed-in person, if any).
    pub async fn invitation_preview(
        &self,
        viewer: Option<&User>,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<InvitationPreview, AppError> {
        let invitation = self.store.invitation(&token_hash(token.trim())).await?.ok_or(AppError::NotFound)?;
        let viewer_address = viewer.and_then(|user| user.email.as_ref()).map(|email| email.as_str().to_owned());
        let for_viewer = viewer_address.as_deref() == Some(invitation.email.as_str());
        Ok(InvitationPreview {
            status: invitation.status(now),
            invited: if for_viewer { invitation.email.clone() } else { hide_address(&invitation.email) },
            project: invitation.project,
            title: invitation.title,
            role: invitation.role,
            invited_by: invitation.invited_by,
            expires_at: invitation.expires_at,
            signed_in: viewer.is_some(),
            for_viewer,
            viewer: viewer_address.filter(|_| !for_viewer),
        })
    }

    /// The signed-in `user` accepts invitation link `token`; returns the project's name. Only the invited address
    /// may accept, once, before the link expires.
    pub async fn accept_invitation(&self, user: &User, token: &str, request: &RequestInfo) -> Result<String, AppError> {
        let invitation = self.store.invitation(&token_hash(token.trim())).await?.ok_or(AppError::NotFound)?;
        if user.email.as_ref().map(EmailAddress::as_str) != Some(invitation.email.as_str()) {
            return Err(AppError::Conflict {
                message: format!(
                    "This invitation is for {}, and you are signed in as {}. Sign out, then sign in with the \
                     invited address to accept it.",
                    hide_address(&invitation.email),
                    user.email.as_ref().map_or("an account without an address", EmailAddress::as_str)
                ),
            });
        }
        match invitation.status(Utc::now()) {
            InvitationStatus::Open => {}
            status => return Err(closed_invitation(status)),
        }
        if invitation.project_state == ProjectState::Closed {
            return Err(AppError::Conflict { message: "The project is closed.".into() });
        }
        let audit = NewAuditEntry::by(user, "project.join", format!("project:{}", invitation.project_id), request)
            .with_details(serde_json::json!({ "project": invitation.project, "role": invitation.role.as_str() }));
        match self.store.accept_invitation(invitation.id, user.id, &audit).await? {
            AcceptOutcome::Joined | AcceptOutcome::AlreadyMember => Ok(invitation.project),
            AcceptOutcome::Gone => Err(gone_invitation()),
        }
    }

    /// A manager gives member `user_id` another role.
    pub async fn change_role(
        &self,
        user: &User,
        name: &str,
        user_id: i64,
        role: &str,
        request: &RequestInfo,
    ) -> Result<(), AppError> {
        let role = parse_role(role)?;
        let project = self.project_for(user, name, MemberAction::ChangeRole).await?;
        self.change(user, &project, user_id, Some(role), "project.member_role", request).await
    }

    /// A manager removes member `user_id`, or a member leaves (`user_id` is their own).
    pub async fn remove_member(
        &self,
        user: &User,
        name: &str,
        user_id: i64,
        request: &RequestInfo,
    ) -> Result<(), AppError> {
        let (action, audit_action) = if user_id == user.id {
            (MemberAction::Leave, "project.leave")
        } else {
            (MemberAction::Remove, "project.member_remove")
        };
        let project = self.project_for(user, name, action).await?;
        self.change(user, &project, user_id, None, audit_action, request).await
    }

    async fn change(
        &self,
        user: &User,
        project: &ProjectView,
        user_id: i64,
        role: Option<MemberRole>,
        audit_action: &str,
        request: &RequestInfo,
    ) -> Result<(), AppError> {
        let member = project.members.iter().find(|member| member.user_id == user_id).ok_or(AppError::NotFound)?;
        let roles: Vec<MemberRole> = project.members.iter().map(|member| member.role).collect();
        // Checked here for a clear message, and again by the store under the transaction's lock.
        if !keeps_a_manager(&roles, member.role, role) {
            return Err(AppError::Conflict { message: LAST_MANAGER.into() });
        }
        let audit = NewAuditEntry::by(user, audit_action, format!("project:{}", project.id), request).with_details(
            serde_json::json!({ "project": project.name, "member": member.email, "role": role.map(MemberRole::as_str) }),
        );
        let change = MemberChange { project_id: project.id, user_id, role };
        match self.store.change_member(&change, &audit).await? {
            MemberOutcome::Done | MemberOutcome::Unchanged => Ok(()),
            MemberOutcome::NotMember => Err(AppError::NotFound),
            MemberOutcome::LastManager => Err(AppError::Conflict { message: LAST_MANAGER.into() }),
        }
    }

    fn invitation_mail(
        &self,
        inviter: &User,
        project: &ProjectView,
        to: &EmailAddress,
        role: MemberRole,
        token: &str,
        expires_at: DateTime<Utc>,
    ) -> OutgoingMail {
        let notice = MailNotice {
            subject: format!("You are invited to the project {} on Berth", project.name),
            paragraphs: vec![
                format!(
                    "{} invites you to join the project {} ({}) as {}, which gives you the {} role in its namespace.",
                    inviter.audit_name(),
                    project.name,
                    project.title,
                    role.label().to_lowercase(),
                    role.cluster_role()
                ),
                format!(
                    "Open the link and sign in (or sign up) as {to} to accept. It works once, until {}. If you \
                     did not expect this, ignore this message.",
                    expires_at.format("%Y-%m-%d %H:%M UTC")
                ),
            ],
            path: format!("/invitations/accept?token={token}"),
            link_label: "Open the invitation".to_owned(),
        };
        // The link is a secret: the outbox erases the message once sent, or when the link expires.
        OutgoingMail { secret_expires_at: Some(expires_at), ..self.mail.notice(to, &notice) }
    }

    /// An admin queues the project's provisioning again (after a failure, or to repair drift).
    pub async fn reprovision(&self, admin: &User, name: &str, request: &RequestInfo) -> Result<(), AppError> {
        crate::auth::ssr::require_admin(admin)?;
        let project = self.store.project_by_name(name, 0).await?.ok_or(AppError::NotFound)?;
        let audit = NewAuditEntry::by(admin, "project.reprovision", format!("project:{}", project.id), request)
            .with_details(serde_json::json!({ "project": project.name }));
        if self.store.reprovision(project.id, &audit).await? { Ok(()) } else { Err(AppError::NotFound) }
    }
}

fn parse_role(text: &str) -> Result<MemberRole, AppError> {
    MemberRole::parse(text.trim()).ok_or_else(|| AppError::invalid("role", "Choose a role: manager, member or viewer."))
}

fn gone_invitation() -> AppError {
    AppError::Conflict {
        message: "This invitation was accepted, revoked or sent again meanwhile; reload the page.".into(),
    }
}

fn closed_invitation(status: InvitationStatus) -> AppError {
    let message = match status {
        InvitationStatus::Open => "This invitation is open.",
        InvitationStatus::Expired => "This invitation has expired. Ask a manager of the project to send it again.",
        InvitationStatus::Used => "This invitation was used already: each link works once.",
        InvitationStatus::Revoked => "This invitation was revoked by a manager of the project.",
    };
    AppError::Conflict { message: message.into() }
}
