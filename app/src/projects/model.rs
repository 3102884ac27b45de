//! What a project is, shared by the browser and the server: its lifecycle states and its members' roles.

use serde::{Deserialize, Serialize};

/// Where a project is in its life on the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProjectState {
    /// Approved; its objects are being made on the cluster.
    Provisioning,
    /// Its objects exist as approved.
    Active,
    /// Provisioning gave up after its last attempt; an admin can try again.
    ProvisioningFailed,
    /// Kept, but its quota is zero.
    Suspended,
    /// Ended.
    Closed,
}

/// Every state, in lifecycle order.
pub const PROJECT_STATES: [ProjectState; 5] = [
    ProjectState::Provisioning,
    ProjectState::Active,
    ProjectState::ProvisioningFailed,
    ProjectState::Suspended,
    ProjectState::Closed,
];

impl ProjectState {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provisioning => "provisioning",
            Self::Active => "active",
            Self::ProvisioningFailed => "provisioning_failed",
            Self::Suspended => "suspended",
            Self::Closed => "closed",
        }
    }

    /// Reads the stored form.
    pub fn parse(text: &str) -> Option<Self> {
        PROJECT_STATES.into_iter().find(|state| state.as_str() == text)
    }

    /// What people read.
    pub fn label(self) -> &'static str {
        match self {
            Self::Provisioning => "Provisioning",
            Self::Active => "Active",
            Self::ProvisioningFailed => "Provisioning failed",
            Self::Suspended => "Suspended",
            Self::Closed => "Closed",
        }
    }
}

/// A member's role in a project, and the cluster role its role binding grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberRole {
    /// Runs the project: the `admin` cluster role in its namespace.
    Manager,
    /// Works in it: `edit`.
    Member,
    /// Looks: `view`.
    Viewer,
}

impl MemberRole {
    /// Every role, from the most rights to the fewest.
    pub const ALL: [Self; 3] = [Self::Manager, Self::Member, Self::Viewer];

    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Manager => "manager",
            Self::Member => "member",
            Self::Viewer => "viewer",
        }
    }

    /// Reads the stored form.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.as_str() == text)
    }

    /// What people read.
    pub fn label(self) -> &'static str {
        match self {
            Self::Manager => "Manager",
            Self::Member => "Member",
            Self::Viewer => "Viewer",
        }
    }

    /// The Kubernetes ClusterRole bound in the project's namespace.
    pub fn cluster_role(self) -> &'static str {
        match self {
            Self::Manager => "admin",
            Self::Member => "edit",
            Self::Viewer => "view",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_and_roles_round_trip_through_their_stored_form() {
        for state in PROJECT_STATES {
            assert_eq!(ProjectState::parse(state.as_str()), Some(state));
        }
        assert_eq!(ProjectState::parse("deleted"), None);
        for role in MemberRole::ALL {
            assert_eq!(MemberRole::parse(role.as_str()), Some(role));
        }
        assert_eq!(MemberRole::parse("owner"), None);
    }

    #[test]
    fn roles_map_to_the_standard_cluster_roles() {
        assert_eq!(MemberRole::Manager.cluster_role(), "admin");
        assert_eq!(MemberRole::Member.cluster_role(), "edit");
        assert_eq!(MemberRole::Viewer.cluster_role(), "view");
    }
}
