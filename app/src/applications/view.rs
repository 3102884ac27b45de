//! What the application pages show, as the server sends it to them. Nothing here is secret: each value is checked
//! against the viewer on the server before it is sent.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::model::{ApplicationFields, ApplicationInput, ApplicationRules, Quota};
use super::state::ApplicationState;

/// The header counts waiting applications up to this many and then says "100+".
pub const WAITING_SHOWN_UP_TO: i64 = 100;

/// The header's count of waiting applications: the number, or "100+" once it reaches [`WAITING_SHOWN_UP_TO`].
pub fn waiting_label(count: i64) -> (String, String) {
    if count >= WAITING_SHOWN_UP_TO {
        (format!("{WAITING_SHOWN_UP_TO}+"), format!("{WAITING_SHOWN_UP_TO} or more waiting"))
    } else {
        (count.to_string(), format!("{count} waiting"))
    }
}

/// A project, by id and name, with the quota it was granted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectRef {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Granted quota.
    pub quota: Quota,
    /// `provisioning`, `active`, ….
    pub state: String,
}

/// One event of an application's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationEvent {
    /// Id, in order.
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who, as shown at the time.
    pub actor: String,
    /// Whether an admin acted (not the applicant).
    pub by_admin: bool,
    /// `created`, `saved`, a transition (`submit`, `approve`, …), `comment` or `take`.
    pub kind: String,
    /// State before, for transitions.
    pub from_state: Option<ApplicationState>,
    /// State after, for transitions.
    pub to_state: Option<ApplicationState>,
    /// Comment, message or reason.
    pub message: String,
}

impl ApplicationEvent {
    /// What happened, in words.
    pub fn summary(&self) -> String {
        match self.kind.as_str() {
            "created" => "Draft created".to_owned(),
            "saved" => "Changes saved".to_owned(),
            "comment" => "Comment".to_owned(),
            "take" => "Taken for review".to_owned(),
            "submit" if self.from_state == Some(ApplicationState::ChangesRequested) => "Resubmitted".to_owned(),
            "submit" => "Submitted".to_owned(),
            "request_changes" => "Changes requested".to_owned(),
            "approve" => "Approved".to_owned(),
            "reject" => "Rejected".to_owned(),
            "withdraw" => "Withdrawn".to_owned(),
            other => other.replace('_', " "),
        }
    }
}

/// One row of "My applications".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationSummaryRow {
    /// Id.
    pub id: i64,
    /// State.
    pub state: ApplicationState,
    /// Project name ('' in a draft without one).
    pub project_name: String,
    /// Title.
    pub title: String,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// One row of the admins' queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueRow {
    /// Id.
    pub id: i64,
    /// State.
    pub state: ApplicationState,
    /// Project name.
    pub project_name: String,
    /// Title.
    pub title: String,
    /// Organisation.
    pub organisation: String,
    /// Applicant's address.
    pub applicant: String,
    /// The admin who took it.
    pub assigned_to: Option<String>,
    /// Waiting since.
    pub submitted_at: Option<DateTime<Utc>>,
    /// The requested quota.
    pub quota: Quota,
}

/// The application form as the browser posts it: which application and version it was made on, the key that makes
/// a second save of a new form save the same draft, what to do, and the fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationForm {
    /// The application, once saved (empty before). Text, like every field of a posted form.
    #[serde(default)]
    pub id: String,
    /// The version the form was made on (empty before the first save).
    #[serde(default)]
    pub version: String,
    /// One per form.
    pub draft_key: String,
    /// `save` or `submit`.
    #[serde(default)]
    pub intent: String,
    /// The fields, as typed.
    #[serde(flatten)]
    pub input: ApplicationInput,
}

/// Everything the form needs to show itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormView {
    /// What the form holds (a new one, the saved application, or what was typed before an error).
    pub form: ApplicationForm,
    /// The rules to check against while typing.
    pub rules: ApplicationRules,
    /// The applicant's billing accounts, as (id, name).
    pub billing_accounts: Vec<(i64, String)>,
    /// Their balances, for the cost preview's runway.
    pub billing_balances: Vec<(i64, crate::billing::model::MilliBu)>,
    /// The BU rates in force, for the cost preview.
    pub rates: crate::billing::model::Rates,
    /// The terms version a submission accepts.
    pub terms_version: String,
    /// Whether the form was made on an application that changes were requested for (its button says resubmit).
    pub resubmission: bool,
    /// Today, on the server (end dates are checked against it while typing).
    pub today: chrono::NaiveDate,
}

/// One application, as its applicant or an admin sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationView {
    /// Id.
    pub id: i64,
    /// Where it is in its lifecycle.
    pub state: ApplicationState,
    /// Its version (forms carry it).
    pub version: i64,
    /// The fields.
    pub fields: ApplicationFields,
    /// Applicant's address and name.
    pub applicant: String,
    /// Applicant's id.
    pub applicant_id: i64,
    /// Terms version accepted.
    pub terms_version: Option<String>,
    /// The admin who took it.
    pub assigned_to: Option<String>,
    /// Who decided (or asked for changes), and when.
    pub decided: Option<(String, DateTime<Utc>)>,
    /// The reason given.
    pub decision_reason: Option<String>,
    /// The project approval created.
    pub project: Option<ProjectRef>,
    /// Timeline and comments, oldest first.
    pub events: Vec<ApplicationEvent>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// Last (re)submitted.
    pub submitted_at: Option<DateTime<Utc>>,
    /// Whether the viewer is the applicant.
    pub viewer_is_applicant: bool,
    /// Whether the viewer is an admin.
    pub viewer_is_admin: bool,
    /// The defaults and maximums the quota is compared with.
    pub rules: ApplicationRules,
    /// The edit form, when the viewer is the applicant and it can be edited.
    pub form: Option<FormView>,
    /// For admins: the applicant's other applications.
    pub other_applications: Vec<ApplicationSummaryRow>,
    /// For admins: the applicant's projects.
    pub applicant_projects: Vec<ProjectRef>,
}

/// The admins' queue filter as typed into its form (a GET form, so every page can be linked to).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueQuery {
    /// `submitted` (default), `changes_requested`, `approved`, ….
    #[serde(default)]
    pub state: String,
    /// Organisation, exactly.
    #[serde(default)]
    pub organisation: String,
    /// Applicant's address contains.
    #[serde(default)]
    pub applicant: String,
    /// Name, title or applicant contains.
    #[serde(default)]
    pub q: String,
    /// `age` (default) or `name`.
    #[serde(default)]
    pub sort: String,
    /// After this row: its sort key.
    #[serde(default)]
    pub after: String,
    /// After this row: its id.
    #[serde(default)]
    pub after_id: Option<i64>,
}

/// One page of the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuePage {
    /// The rows.
    pub rows: Vec<QueueRow>,
    /// The query of the next page, when there is one.
    pub next: Option<QueueQuery>,
    /// The defaults, to mark rows that ask for more.
    pub default_quota: Quota,
    /// When the page was made (ages are counted from it).
    pub now: DateTime<Utc>,
}

/// How long ago, in words: "3 days", "5 hours", "12 minutes".
pub fn age(since: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let minutes = (now - since).num_minutes().max(0);
    let (value, unit) = match minutes {
        0..60 => (minutes, "minute"),
        60..2880 => (minutes / 60, "hour"),
        _ => (minutes / 1440, "day"),
    };
    format!("{value} {unit}{}", if value == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_naturally() {
        let now = DateTime::parse_from_rfc3339("2026-11-25T12:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(age(now, now), "0 minutes");
        assert_eq!(age(now - chrono::Duration::minutes(1), now), "1 minute");
        assert_eq!(age(now - chrono::Duration::minutes(150), now), "2 hours");
        assert_eq!(age(now - chrono::Duration::hours(47), now), "47 hours");
        assert_eq!(age(now - chrono::Duration::days(9), now), "9 days");
        assert_eq!(age(now + chrono::Duration::days(1), now), "0 minutes", "a clock skew is not negative");
    }

    #[test]
    fn the_waiting_count_stops_at_one_hundred() {
        assert_eq!(waiting_label(0), ("0".to_owned(), "0 waiting".to_owned()));
        assert_eq!(waiting_label(99), ("99".to_owned(), "99 waiting".to_owned()));
        assert_eq!(waiting_label(100), ("100+".to_owned(), "100 or more waiting".to_owned()));
    }
}
