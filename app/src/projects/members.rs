//! Members and invitations, shared by the browser and the server: who may change a project's members, the rule that
//! a project keeps a manager, and what the pages show of invitations.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::model::MemberRole;

/// Something done to a project's members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberAction {
    /// Invite somebody by e-mail.
    Invite,
    /// Send an open invitation again (a new link) or revoke it.
    ManageInvitation,
    /// Give a member another role.
    ChangeRole,
    /// Remove another member.
    Remove,
    /// Leave the project oneself.
    Leave,
    /// Ask for a quota change or a renewal, or withdraw such a request.
    RequestChange,
    /// Close the project.
    Close,
}

/// Whether somebody with `role` in the project (none: not a member), or an admin, may do `action`.
pub fn may(action: MemberAction, role: Option<MemberRole>, is_admin: bool) -> bool {
    match action {
        MemberAction::Leave => role.is_some(),
        MemberAction::Invite
        | MemberAction::ManageInvitation
        | MemberAction::ChangeRole
        | MemberAction::Remove
        | MemberAction::RequestChange
        | MemberAction::Close => is_admin || role == Some(MemberRole::Manager),
    }
}

/// Whether a project whose members have `roles` still has a manager after the member with role `from` gets `to`
/// (`None`: leaves or is removed).
pub fn keeps_a_manager(roles: &[MemberRole], from: MemberRole, to: Option<MemberRole>) -> bool {
    let managers = roles.iter().filter(|role| **role == MemberRole::Manager).count();
    let losing = from == MemberRole::Manager && to != Some(MemberRole::Manager);
    !losing || managers > 1
}

/// The message for a change the last-manager rule refuses.
pub const LAST_MANAGER: &str = "A project always keeps at least one manager: make somebody else a manager first.";

/// An invitation that has not been accepted or revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationView {
    /// Id.
    pub id: i64,
    /// The address invited.
    pub email: String,
    /// The role it grants.
    pub role: MemberRole,
    /// Who invited.
    pub invited_by: String,
    /// Last sent.
    pub sent_at: DateTime<Utc>,
    /// The link stops working then.
    pub expires_at: DateTime<Utc>,
    /// Whether it had stopped working when the page was made (it can be sent again). Decided by the server: the
    /// browser's WebAssembly has no clock of its own here.
    pub expired: bool,
}

/// Where an invitation link stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvitationStatus {
    /// It can be accepted.
    Open,
    /// Its time ran out; a manager can send it again.
    Expired,
    /// It was accepted already (links work once).
    Used,
    /// A manager revoked it.
    Revoked,
}

/// What the invitation page shows to whoever opens the link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationPreview {
    /// The project's name.
    pub project: String,
    /// Its title.
    pub title: String,
    /// The role it grants.
    pub role: MemberRole,
    /// Who invited.
    pub invited_by: String,
    /// The invited address, partly hidden (`a…@example.org`) unless the viewer is that address.
    pub invited: String,
    /// Where it stands.
    pub status: InvitationStatus,
    /// When it stops (or stopped) working.
    pub expires_at: DateTime<Utc>,
    /// Whether somebody is signed in.
    pub signed_in: bool,
    /// Whether the signed-in person is the one invited.
    pub for_viewer: bool,
    /// The signed-in person's address, when they are somebody else.
    pub viewer: Option<String>,
}

/// An address with most of its local part hidden: `ada@example.org` → `a…@example.org`.
pub fn hide_address(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}…@{domain}")
        }
        None => "…".to_owned(),
    }
}

/// One line of a project's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectEventView {
    /// When.
    pub at: DateTime<Utc>,
    /// Who (an address, or `Berth`).
    pub actor: String,
    /// What happened.
    pub summary: String,
    /// The change request it belongs to, if any (a request's timeline is its events).
    pub request_id: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn managers_and_admins_manage_members_and_every_member_may_leave() {
        use MemberAction::*;
        for action in [Invite, ManageInvitation, ChangeRole, Remove, RequestChange, Close] {
            assert!(may(action, Some(MemberRole::Manager), false), "{action:?}");
            assert!(may(action, None, true), "admins: {action:?}");
            for role in [Some(MemberRole::Member), Some(MemberRole::Viewer), None] {
                assert!(!may(action, role, false), "{action:?} by {role:?}");
            }
        }
        for role in MemberRole::ALL {
            assert!(may(Leave, Some(role), false));
        }
        assert!(!may(Leave, None, true), "an admin who is not a member has nothing to leave");
    }

    #[test]
    fn the_last_manager_cannot_leave_or_step_down_but_one_of_two_can() {
        use MemberRole::*;
        let alone = [Manager, Member, Viewer];
        assert!(!keeps_a_manager(&alone, Manager, None));
        assert!(!keeps_a_manager(&alone, Manager, Some(Member)));
        assert!(keeps_a_manager(&alone, Manager, Some(Manager)), "no change keeps the manager");
        assert!(keeps_a_manager(&alone, Member, None));
        assert!(keeps_a_manager(&alone, Viewer, Some(Manager)));
        let two = [Manager, Manager, Viewer];
        assert!(keeps_a_manager(&two, Manager, None));
        assert!(keeps_a_manager(&two, Manager, Some(Viewer)));
    }

    #[test]
    fn addresses_are_hidden_but_their_domain_shows() {
        assert_eq!(hide_address("ada@example.org"), "a…@example.org");
        assert_eq!(hide_address("élodie@uni.fi"), "é…@uni.fi");
        assert_eq!(hide_address("nonsense"), "…");
    }
}
