//! Change requests of a project, shared by the browser and the server: a quota change or a renewal (a new end
//! date), its small state machine, and the auto-approval rules that may decide a quota change without an admin.
//! Everything here is pure; the store applies a transition as one conditional update of the state it names.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::applications::model::{Quota, RESOURCES, Resource};

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// Another quota.
    Quota,
    /// A later end date.
    Renewal,
}

impl RequestKind {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Quota => "quota",
            Self::Renewal => "renewal",
        }
    }

    /// Reads the stored form.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Quota, Self::Renewal].into_iter().find(|kind| kind.as_str() == text)
    }

    /// What people read.
    pub fn label(self) -> &'static str {
        match self {
            Self::Quota => "Quota change",
            Self::Renewal => "Renewal",
        }
    }
}

/// Where a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    /// Waiting for an admin.
    Pending,
    /// Approved, by a rule or an admin; applied. Final.
    Approved,
    /// Rejected by an admin, with a reason. Final.
    Rejected,
    /// Withdrawn by a manager before a decision. Final.
    Withdrawn,
}

/// Every state.
pub const REQUEST_STATES: [RequestState; 4] =
    [RequestState::Pending, RequestState::Approved, RequestState::Rejected, RequestState::Withdrawn];

impl RequestState {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Withdrawn => "withdrawn",
        }
    }

    /// Reads the stored form.
    pub fn parse(text: &str) -> Option<Self> {
        REQUEST_STATES.into_iter().find(|state| state.as_str() == text)
    }

    /// What people read.
    pub fn label(self) -> &'static str {
        match self {
            Self::Pending => "Waiting for an admin",
            Self::Approved => "Approved",
            Self::Rejected => "Rejected",
            Self::Withdrawn => "Withdrawn",
        }
    }
}

/// A change of a request's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestTransition {
    /// A rule approves it as it is made.
    AutoApprove,
    /// An admin approves it (possibly with other values).
    Approve,
    /// An admin rejects it.
    Reject,
    /// A manager withdraws it.
    Withdraw,
}

/// Every transition.
pub const REQUEST_TRANSITIONS: [RequestTransition; 4] = [
    RequestTransition::AutoApprove,
    RequestTransition::Approve,
    RequestTransition::Reject,
    RequestTransition::Withdraw,
];

impl RequestTransition {
    /// The state it leaves, or `None` for a transition that happens as the request is made (it has no state yet).
    pub fn from(self) -> Option<RequestState> {
        match self {
            Self::AutoApprove => None,
            Self::Approve | Self::Reject | Self::Withdraw => Some(RequestState::Pending),
        }
    }

    /// The state it reaches.
    pub fn to(self) -> RequestState {
        match self {
            Self::AutoApprove | Self::Approve => RequestState::Approved,
            Self::Reject => RequestState::Rejected,
            Self::Withdraw => RequestState::Withdrawn,
        }
    }

    /// Whether only an admin may make it.
    pub fn needs_admin(self) -> bool {
        matches!(self, Self::Approve | Self::Reject)
    }
}

/// The state a request in `state` reaches by `transition`, if it may be made.
pub fn next_state(state: RequestState, transition: RequestTransition) -> Option<RequestState> {
    (transition.from() == Some(state)).then(|| transition.to())
}

/// A rule that approves a quota change without an admin. The configuration holds an ordered list; the first rule
/// that applies decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum QuotaRule {
    /// No resource goes up and at least one goes down. (A struct variant, so unknown keys are refused.)
    Decrease {},
    /// Each resource that goes up goes up by at most `max_increase_percent` of its current value, within the
    /// maximums, and the project's last increase is more than `min_days_since_increase` days ago (or there was none).
    /// With `min_usage_percent`, each resource that goes up must also be used at least that share of its current
    /// quota (the rule never applies while no usage figures exist).
    StepIncrease {
        /// The largest increase per resource, in percent of the current value.
        max_increase_percent: u32,
        /// Days that must have passed since the last increase.
        min_days_since_increase: u32,
        /// The least usage, in percent of the current quota, of each resource that goes up.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_usage_percent: Option<u32>,
    },
}

impl QuotaRule {
    /// The default list: a decrease is always approved; an increase of at most 50% per resource, once in 30 days
    /// (Catalyst Cloud's rule of one step per 30 days).
    pub fn defaults() -> Vec<QuotaRule> {
        vec![
            QuotaRule::Decrease {},
            QuotaRule::StepIncrease { max_increase_percent: 50, min_days_since_increase: 30, min_usage_percent: None },
        ]
    }

    /// The rule in words.
    pub fn describe(&self) -> String {
        match self {
            Self::Decrease {} => "a decrease is always approved".to_owned(),
            Self::StepIncrease { max_increase_percent, min_days_since_increase, min_usage_percent } => {
                let mut text = format!(
                    "an increase of at most {max_increase_percent}% per resource, within the maximums, is approved \
                     when the project's last increase was more than {min_days_since_increase} days ago"
                );
                if let Some(share) = min_usage_percent {
                    text.push_str(&format!(" and each resource that grows is used at least {share}%"));
                }
                text
            }
        }
    }

    /// Why the rule does not apply, or `None` when it does.
    fn refusal(&self, facts: &QuotaFacts) -> Option<String> {
        let (current, requested) = (&facts.current, &facts.requested);
        let grows: Vec<Resource> =
            RESOURCES.into_iter().filter(|resource| requested.get(*resource) > current.get(*resource)).collect();
        match self {
            Self::Decrease {} => {
                if let Some(resource) = grows.first() {
                    return Some(format!("{} goes up", resource.label()));
                }
                if requested == current {
                    return Some("nothing changes".to_owned());
                }
                None
            }
            Self::StepIncrease { max_increase_percent, min_days_since_increase, min_usage_percent } => {
                for resource in &grows {
                    let (from, to) = (u64::from(current.get(*resource)), u64::from(requested.get(*resource)));
                    if to * 100 > from * (100 + u64::from(*max_increase_percent)) {
                        let most = from * (100 + u64::from(*max_increase_percent)) / 100;
                        return Some(format!(
                            "{} goes from {from} to {to}, more than {max_increase_percent}% (at most {most})",
                            resource.label()
                        ));
                    }
                    if to > u64::from(facts.max.get(*resource)) {
                        return Some(format!(
                            "{} is above the maximum of {}",
                            resource.label(),
                            facts.max.get(*resource)
                        ));
                    }
                }
                if let Some(last) = facts.last_increase_at {
                    let days = (facts.now - last).num_days();
                    if days < i64::from(*min_days_since_increase) && !grows.is_empty() {
                        return Some(format!(
                            "the last increase was {days} day{} ago, not more than {min_days_since_increase}",
                            if days == 1 { "" } else { "s" }
                        ));
                    }
                }
                if let Some(share) = min_usage_percent {
                    let Some(usage) = &facts.usage else {
                        return Some("no usage figures exist yet".to_owned());
                    };
                    for resource in &grows {
                        let (used, quota) = (u64::from(usage.get(*resource)), u64::from(current.get(*resource)));
                        if used * 100 < quota * u64::from(*share) {
                            return Some(format!("{} is used {used} of {quota}, less than {share}%", resource.label()));
                        }
                    }
                }
                None
            }
        }
    }
}

/// What the rules look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaFacts {
    /// The project's quota now.
    pub current: Quota,
    /// The quota asked for.
    pub requested: Quota,
    /// The most of each resource anyone may have.
    pub max: Quota,
    /// When the project's quota last went up, if it did since its approval.
    pub last_increase_at: Option<DateTime<Utc>>,
    /// Now.
    pub now: DateTime<Utc>,
    /// What the project uses, where known (billing's usage figures).
    pub usage: Option<Quota>,
}

/// What the rules decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuotaDecision {
    /// Rule `rule` (counted from 1) approved it; `explanation` says which and why.
    Approved {
        /// The rule's place in the list, from 1.
        rule: usize,
        /// "Approved by rule 2: …".
        explanation: String,
    },
    /// No rule applied; an admin must decide. `explanation` says why each rule did not apply.
    NeedsAdmin {
        /// "No rule applied: …".
        explanation: String,
    },
}

impl QuotaDecision {
    /// The decision in words, as the requester and the admins see it.
    pub fn explanation(&self) -> &str {
        match self {
            Self::Approved { explanation, .. } | Self::NeedsAdmin { explanation } => explanation,
        }
    }
}

/// Evaluates `rules` in order against `facts`: the first that applies approves the change.
pub fn evaluate(rules: &[QuotaRule], facts: &QuotaFacts) -> QuotaDecision {
    let mut refusals = Vec::new();
    for (index, rule) in rules.iter().enumerate() {
        match rule.refusal(facts) {
            None => {
                return QuotaDecision::Approved {
                    rule: index + 1,
                    explanation: format!("Approved automatically by rule {}: {}.", index + 1, rule.describe()),
                };
            }
            Some(why) => refusals.push(format!("rule {} ({}) does not apply: {why}", index + 1, rule.describe())),
        }
    }
    let explanation = if refusals.is_empty() {
        "No auto-approval rule is configured, so an admin decides.".to_owned()
    } else {
        format!("No rule applied, so an admin decides: {}.", refusals.join("; "))
    };
    QuotaDecision::NeedsAdmin { explanation }
}

/// A request as the project page and the admins' queue show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestView {
    /// Id.
    pub id: i64,
    /// The project's name.
    pub project: String,
    /// What it asks for.
    pub kind: RequestKind,
    /// Where it is.
    pub state: RequestState,
    /// Who asked (an address).
    pub requested_by: String,
    /// Why.
    pub reason: String,
    /// The quota when it was asked for (quota changes).
    pub from_quota: Option<Quota>,
    /// The quota asked for.
    pub quota: Option<Quota>,
    /// The end date when it was asked for (renewals).
    pub from_end_date: Option<NaiveDate>,
    /// The end date asked for.
    pub end_date: Option<NaiveDate>,
    /// What was granted, when approved (an admin may grant other values).
    pub granted_quota: Option<Quota>,
    /// The end date granted.
    pub granted_end_date: Option<NaiveDate>,
    /// Which rule approved it, or why none did.
    pub rule: Option<String>,
    /// Who decided (an address; `None` for a rule).
    pub decided_by: Option<String>,
    /// When it was decided.
    pub decided_at: Option<DateTime<Utc>>,
    /// The admin's reason.
    pub decision_reason: Option<String>,
    /// Asked.
    pub created_at: DateTime<Utc>,
}

impl RequestView {
    /// What it asks for, in a few words.
    pub fn summary(&self) -> String {
        match (self.kind, &self.from_quota, &self.quota, self.end_date) {
            (RequestKind::Quota, Some(from), Some(to), _) => quota_change_summary(from, to),
            (RequestKind::Renewal, _, _, Some(end)) => format!("end date {end}"),
            _ => String::new(),
        }
    }
}

/// A row of the admins' queue of waiting requests, ready to show: plain text only, so that the queue's page shares no
/// decoding code with the project page (code two lazily loaded pages share moves into the first-load chunk).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueRow {
    /// The project's name.
    pub project: String,
    /// What kind of request, in words.
    pub kind: String,
    /// What it asks for.
    pub summary: String,
    /// Who asked.
    pub requested_by: String,
    /// When, as `YYYY-MM-DD HH:MM` UTC.
    pub asked_at: String,
    /// Why no rule approved it.
    pub rule: String,
}

impl RequestView {
    /// The request as a row of the admins' queue.
    pub fn queue_row(&self) -> QueueRow {
        QueueRow {
            project: self.project.clone(),
            kind: self.kind.label().to_owned(),
            summary: self.summary(),
            requested_by: self.requested_by.clone(),
            asked_at: self.created_at.format("%Y-%m-%d %H:%M").to_string(),
            rule: self.rule.clone().unwrap_or_else(|| "Renewals are always decided by an admin.".to_owned()),
        }
    }
}

/// The resources that change from `from` to `to`: "CPU cores 4 → 6, pods 50 → 60".
pub fn quota_change_summary(from: &Quota, to: &Quota) -> String {
    let changes: Vec<String> = RESOURCES
        .into_iter()
        .filter(|resource| from.get(*resource) != to.get(*resource))
        .map(|resource| format!("{} {} → {}", resource.label(), from.get(resource), to.get(resource)))
        .collect();
    if changes.is_empty() { "no change".to_owned() } else { changes.join(", ") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(day: u32) -> DateTime<Utc> {
        chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 12, day, 12, 0, 0).unwrap()
    }

    fn facts(requested: Quota) -> QuotaFacts {
        QuotaFacts {
            current: Quota::STANDARD,
            requested,
            max: Quota { cpu_cores: 64, memory_gib: 256, storage_gib: 10_000, pods: 500, gpus: 8 },
            last_increase_at: None,
            now: at(31),
            usage: None,
        }
    }

    fn with(change: impl FnOnce(&mut Quota)) -> Quota {
        let mut quota = Quota::STANDARD;
        change(&mut quota);
        quota
    }

    #[test]
    fn every_transition_is_allowed_from_pending_only_and_auto_approval_only_at_creation() {
        for state in REQUEST_STATES {
            for transition in REQUEST_TRANSITIONS {
                let expected = (state == RequestState::Pending && transition != RequestTransition::AutoApprove)
                    .then(|| transition.to());
                assert_eq!(next_state(state, transition), expected, "{state:?} by {transition:?}");
            }
        }
        assert_eq!(RequestTransition::AutoApprove.from(), None);
        assert_eq!(RequestTransition::AutoApprove.to(), RequestState::Approved);
        assert!(RequestTransition::Approve.needs_admin() && RequestTransition::Reject.needs_admin());
        assert!(!RequestTransition::Withdraw.needs_admin());
    }

    #[test]
    fn states_and_kinds_round_trip_through_their_stored_form() {
        for state in REQUEST_STATES {
            assert_eq!(RequestState::parse(state.as_str()), Some(state));
        }
        for kind in [RequestKind::Quota, RequestKind::Renewal] {
            assert_eq!(RequestKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(RequestState::parse("approved_by_rule"), None);
    }

    #[test]
    fn a_decrease_is_approved_by_the_first_rule() {
        let decision = evaluate(&QuotaRule::defaults(), &facts(with(|q| q.pods = 20)));
        assert_eq!(
            decision,
            QuotaDecision::Approved {
                rule: 1,
                explanation: "Approved automatically by rule 1: a decrease is always approved.".into()
            }
        );
    }

    #[test]
    fn an_increase_of_at_most_half_is_approved_by_the_second_rule_when_there_was_no_increase_before() {
        let decision = evaluate(
            &QuotaRule::defaults(),
            &facts(with(|q| {
                q.cpu_cores = 6;
                q.memory_gib = 24;
                q.pods = 40;
            })),
        );
        let QuotaDecision::Approved { rule, explanation } = decision else { panic!("{decision:?}") };
        assert_eq!(rule, 2);
        assert!(
            explanation.starts_with("Approved automatically by rule 2: an increase of at most 50%"),
            "{explanation}"
        );
    }

    #[test]
    fn an_increase_above_half_needs_an_admin_and_says_why_each_rule_did_not_apply() {
        let decision = evaluate(&QuotaRule::defaults(), &facts(with(|q| q.cpu_cores = 7)));
        let QuotaDecision::NeedsAdmin { explanation } = decision else { panic!("{decision:?}") };
        assert!(
            explanation.contains("rule 1 (a decrease is always approved) does not apply: CPU cores goes up"),
            "{explanation}"
        );
        assert!(explanation.contains("CPU cores goes from 4 to 7, more than 50% (at most 6)"), "{explanation}");
    }

    #[test]
    fn an_increase_within_thirty_days_of_the_last_needs_an_admin_and_after_them_does_not() {
        let mut recent = facts(with(|q| q.pods = 60));
        recent.last_increase_at = Some(at(2));
        let decision = evaluate(&QuotaRule::defaults(), &recent);
        assert!(decision.explanation().contains("the last increase was 29 days ago, not more than 30"), "{decision:?}");
        assert!(matches!(decision, QuotaDecision::NeedsAdmin { .. }));
        recent.last_increase_at = Some(at(1) - chrono::Duration::days(1));
        assert!(matches!(evaluate(&QuotaRule::defaults(), &recent), QuotaDecision::Approved { rule: 2, .. }));
        // A decrease does not wait for anything.
        let mut decrease = facts(with(|q| q.pods = 10));
        decrease.last_increase_at = Some(at(30));
        assert!(matches!(evaluate(&QuotaRule::defaults(), &decrease), QuotaDecision::Approved { rule: 1, .. }));
    }

    #[test]
    fn a_resource_at_zero_cannot_grow_by_a_share_and_the_maximum_holds() {
        let gpu = evaluate(&QuotaRule::defaults(), &facts(with(|q| q.gpus = 1)));
        assert!(gpu.explanation().contains("GPUs goes from 0 to 1, more than 50% (at most 0)"), "{gpu:?}");
        let mut low_max = facts(with(|q| q.cpu_cores = 6));
        low_max.max.cpu_cores = 5;
        let capped = evaluate(&QuotaRule::defaults(), &low_max);
        assert!(capped.explanation().contains("CPU cores is above the maximum of 5"), "{capped:?}");
    }

    #[test]
    fn a_usage_rule_never_applies_without_figures_and_applies_with_enough_usage() {
        let rules = vec![QuotaRule::StepIncrease {
            max_increase_percent: 100,
            min_days_since_increase: 0,
            min_usage_percent: Some(80),
        }];
        let mut asked = facts(with(|q| q.cpu_cores = 8));
        assert!(evaluate(&rules, &asked).explanation().contains("no usage figures exist yet"));
        asked.usage = Some(with(|q| q.cpu_cores = 3));
        assert!(evaluate(&rules, &asked).explanation().contains("CPU cores is used 3 of 4, less than 80%"));
        asked.usage = Some(with(|q| q.cpu_cores = 4));
        assert!(matches!(evaluate(&rules, &asked), QuotaDecision::Approved { rule: 1, .. }));
    }

    #[test]
    fn the_first_rule_that_applies_decides_and_no_rules_means_an_admin() {
        let generous =
            QuotaRule::StepIncrease { max_increase_percent: 1000, min_days_since_increase: 0, min_usage_percent: None };
        let decision = evaluate(&[generous, QuotaRule::Decrease {}], &facts(with(|q| q.pods = 10)));
        assert!(matches!(decision, QuotaDecision::Approved { rule: 1, .. }), "{decision:?}");
        assert_eq!(
            evaluate(&[], &facts(with(|q| q.pods = 10))),
            QuotaDecision::NeedsAdmin {
                explanation: "No auto-approval rule is configured, so an admin decides.".into()
            }
        );
        let unchanged = evaluate(&[QuotaRule::Decrease {}], &facts(Quota::STANDARD));
        assert!(unchanged.explanation().contains("nothing changes"));
    }

    #[test]
    fn rules_read_from_toml_in_order_and_unknown_keys_are_refused() {
        #[derive(Deserialize)]
        struct File {
            quota_rules: Vec<QuotaRule>,
        }
        let file: File = toml::from_str(
            "[[quota_rules]]\nkind = \"decrease\"\n[[quota_rules]]\nkind = \"step_increase\"\n\
             max_increase_percent = 25\nmin_days_since_increase = 7\nmin_usage_percent = 60\n",
        )
        .unwrap();
        assert_eq!(
            file.quota_rules,
            vec![
                QuotaRule::Decrease {},
                QuotaRule::StepIncrease {
                    max_increase_percent: 25,
                    min_days_since_increase: 7,
                    min_usage_percent: Some(60)
                }
            ]
        );
        assert!(toml::from_str::<File>("[[quota_rules]]\nkind = \"decrease\"\nbogus = 1\n").is_err());
        assert!(toml::from_str::<File>("[[quota_rules]]\nkind = \"always\"\n").is_err());
    }

    #[test]
    fn a_change_reads_as_the_resources_that_move() {
        assert_eq!(
            quota_change_summary(
                &Quota::STANDARD,
                &with(|q| {
                    q.cpu_cores = 6;
                    q.pods = 40;
                })
            ),
            "CPU cores 4 → 6, Pods 50 → 40"
        );
        assert_eq!(quota_change_summary(&Quota::STANDARD, &Quota::STANDARD), "no change");
    }
}
