//! The lifecycle of an access application, in one place: its states, the transitions between them and who may make
//! each. Pure: the store applies a transition as one conditional update (`… WHERE id = ? AND state = ?`) of the
//! state this module names.

use serde::{Deserialize, Serialize};

/// Where an application is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationState {
    /// Being written; only the applicant sees it.
    Draft,
    /// Waiting for an admin's decision.
    Submitted,
    /// An admin asked the applicant to change it; the applicant edits and submits again.
    ChangesRequested,
    /// Approved: a project was created from it. Final.
    Approved,
    /// Rejected, with a reason. Final.
    Rejected,
    /// Withdrawn by the applicant before a decision. Final.
    Withdrawn,
}

/// Every state, in lifecycle order.
pub const ALL_STATES: [ApplicationState; 6] = [
    ApplicationState::Draft,
    ApplicationState::Submitted,
    ApplicationState::ChangesRequested,
    ApplicationState::Approved,
    ApplicationState::Rejected,
    ApplicationState::Withdrawn,
];

impl ApplicationState {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Submitted => "submitted",
            Self::ChangesRequested => "changes_requested",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Withdrawn => "withdrawn",
        }
    }

    /// Reads the stored form.
    pub fn parse(text: &str) -> Option<Self> {
        ALL_STATES.into_iter().find(|state| state.as_str() == text)
    }

    /// What people read.
    pub fn label(self) -> &'static str {
        match self {
            Self::Draft => "Draft",
            Self::Submitted => "Waiting for review",
            Self::ChangesRequested => "Changes requested",
            Self::Approved => "Approved",
            Self::Rejected => "Rejected",
            Self::Withdrawn => "Withdrawn",
        }
    }

    /// Whether nothing can happen to it any more.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Approved | Self::Rejected | Self::Withdrawn)
    }

    /// Whether an admin must act on it.
    pub fn awaits_admin(self) -> bool {
        self == Self::Submitted
    }

    /// Whether the applicant may change its fields.
    pub fn is_editable(self) -> bool {
        matches!(self, Self::Draft | Self::ChangesRequested)
    }

    /// Whether its project name is reserved against other applications: from submission until a decision.
    pub fn holds_its_name(self) -> bool {
        matches!(self, Self::Submitted | Self::ChangesRequested)
    }
}

impl std::fmt::Display for ApplicationState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A change of state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    /// The applicant sends a draft, or a changed application, for review.
    Submit,
    /// An admin asks for changes (with a message).
    RequestChanges,
    /// An admin approves (possibly with another quota).
    Approve,
    /// An admin rejects (with a reason).
    Reject,
    /// The applicant withdraws it.
    Withdraw,
}

/// Every transition.
pub const ALL_TRANSITIONS: [Transition; 5] =
    [Transition::Submit, Transition::RequestChanges, Transition::Approve, Transition::Reject, Transition::Withdraw];

impl Transition {
    /// The stored form (timeline events and audit actions).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submit => "submit",
            Self::RequestChanges => "request_changes",
            Self::Approve => "approve",
            Self::Reject => "reject",
            Self::Withdraw => "withdraw",
        }
    }

    /// Reads the stored form.
    pub fn parse(text: &str) -> Option<Self> {
        ALL_TRANSITIONS.into_iter().find(|transition| transition.as_str() == text)
    }

    /// Who may make it.
    pub fn actor(self) -> Actor {
        match self {
            Self::Submit | Self::Withdraw => Actor::Applicant,
            Self::RequestChanges | Self::Approve | Self::Reject => Actor::Admin,
        }
    }
}

/// The part a person plays in a transition. An admin applying for a project of their own is its applicant for
/// that application, and may still decide it only as an admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Actor {
    /// The person who applied.
    Applicant,
    /// An admin.
    Admin,
}

/// Why a transition cannot be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// This actor never makes this transition.
    #[error("only {} may {}", if *.allowed == Actor::Admin { "an admin" } else { "the applicant" }, .transition.as_str())]
    NotYours {
        /// What was attempted.
        transition: Transition,
        /// Who may.
        allowed: Actor,
    },
    /// Not from this state.
    #[error("an application that is {} cannot be {}", .from.as_str(), .transition.as_str())]
    NotFrom {
        /// The state it is in.
        from: ApplicationState,
        /// What was attempted.
        transition: Transition,
    },
}

/// The state `transition` by `actor` leads to from `from`, or why it is refused. The single definition of the
/// lifecycle: `draft → submitted → (changes_requested ↔ submitted) → approved | rejected`, and `withdrawn` from any
/// state before a decision.
pub fn next_state(
    from: ApplicationState,
    transition: Transition,
    actor: Actor,
) -> Result<ApplicationState, TransitionError> {
    use ApplicationState::*;
    if transition.actor() != actor {
        return Err(TransitionError::NotYours { transition, allowed: transition.actor() });
    }
    let to = match (from, transition) {
        (Draft | ChangesRequested, Transition::Submit) => Submitted,
        (Submitted, Transition::RequestChanges) => ChangesRequested,
        (Submitted, Transition::Approve) => Approved,
        // An applicant who never answers a request for changes can still be turned down.
        (Submitted | ChangesRequested, Transition::Reject) => Rejected,
        (Draft | Submitted | ChangesRequested, Transition::Withdraw) => Withdrawn,
        _ => return Err(TransitionError::NotFrom { from, transition }),
    };
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::ApplicationState::*;
    use super::*;

    /// Every allowed (from, transition) pair and where it leads; everything else is refused.
    const ALLOWED: [(ApplicationState, Transition, ApplicationState); 9] = [
        (Draft, Transition::Submit, Submitted),
        (ChangesRequested, Transition::Submit, Submitted),
        (Submitted, Transition::RequestChanges, ChangesRequested),
        (Submitted, Transition::Approve, Approved),
        (Submitted, Transition::Reject, Rejected),
        (ChangesRequested, Transition::Reject, Rejected),
        (Draft, Transition::Withdraw, Withdrawn),
        (Submitted, Transition::Withdraw, Withdrawn),
        (ChangesRequested, Transition::Withdraw, Withdrawn),
    ];

    #[test]
    fn every_pair_of_state_and_transition_is_allowed_or_refused_as_designed() {
        let mut checked = 0;
        for from in ALL_STATES {
            for transition in ALL_TRANSITIONS {
                for actor in [Actor::Applicant, Actor::Admin] {
                    let outcome = next_state(from, transition, actor);
                    let allowed = ALLOWED.iter().find(|(f, t, _)| *f == from && *t == transition);
                    match (allowed, actor == transition.actor()) {
                        (_, false) => assert_eq!(
                            outcome,
                            Err(TransitionError::NotYours { transition, allowed: transition.actor() }),
                            "{from} {transition:?} by {actor:?}"
                        ),
                        (Some((_, _, to)), true) => assert_eq!(outcome, Ok(*to), "{from} {transition:?}"),
                        (None, true) => assert_eq!(
                            outcome,
                            Err(TransitionError::NotFrom { from, transition }),
                            "{from} {transition:?} must be refused"
                        ),
                    }
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 6 * 5 * 2);
    }

    #[test]
    fn final_states_have_no_way_out() {
        for from in ALL_STATES.into_iter().filter(|state| state.is_final()) {
            for transition in ALL_TRANSITIONS {
                assert!(next_state(from, transition, transition.actor()).is_err(), "{from} {transition:?}");
            }
        }
    }

    #[test]
    fn applicants_withdraw_at_any_point_before_a_decision() {
        for from in ALL_STATES {
            let withdrawn = next_state(from, Transition::Withdraw, Actor::Applicant).is_ok();
            assert_eq!(withdrawn, !from.is_final(), "{from}");
        }
    }

    #[test]
    fn stored_forms_round_trip() {
        for state in ALL_STATES {
            assert_eq!(ApplicationState::parse(state.as_str()), Some(state));
        }
        for transition in ALL_TRANSITIONS {
            assert_eq!(Transition::parse(transition.as_str()), Some(transition));
        }
        assert_eq!(ApplicationState::parse("Approved"), None);
    }

    #[test]
    fn only_open_applications_hold_their_name_and_only_some_are_editable() {
        let holding: Vec<_> = ALL_STATES.into_iter().filter(|state| state.holds_its_name()).collect();
        assert_eq!(holding, [Submitted, ChangesRequested]);
        let editable: Vec<_> = ALL_STATES.into_iter().filter(|state| state.is_editable()).collect();
        assert_eq!(editable, [Draft, ChangesRequested]);
    }
}
