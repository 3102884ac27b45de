//! What an access application holds, checked the same way in the browser (as the user types) and on the server
//! (which decides): the project name, the texts, the end date, the requested quota and the billing choice.

use chrono::{Months, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::error::{AppError, FieldError};

/// Longest project name: a DNS-1123 label.
pub const PROJECT_NAME_MAX: usize = 63;
/// Longest title.
pub const TITLE_MAX: usize = 100;
/// Longest purpose.
pub const PURPOSE_MAX: usize = 4_000;
/// Longest organisation.
pub const ORGANISATION_MAX: usize = 100;
/// Longest justification (of a quota above the defaults, or of a new billing account).
pub const JUSTIFICATION_MAX: usize = 1_000;
/// Longest comment, message or reason.
pub const MESSAGE_MAX: usize = 4_000;

/// Names no project may have, whatever the configuration.
const RESERVED_NAMES: [&str; 1] = ["default"];
/// Prefixes no project name may start with, whatever the configuration.
const RESERVED_PREFIXES: [&str; 2] = ["kube-", "openshift-"];

/// A project's name, which becomes its namespace: a DNS-1123 label (lower-case letters, digits and `-`, starting
/// with a letter, ending with a letter or digit, at most 63 characters) that is not reserved.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProjectName(String);

/// Why a text is not a project name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProjectNameError {
    /// Nothing was given.
    #[error("Enter a project name.")]
    Empty,
    /// Over 63 characters.
    #[error("A project name has at most 63 characters.")]
    TooLong,
    /// Upper-case letters: names are lower-case, so that two names never differ only in case.
    #[error("Use lower-case letters only, for example \"{0}\".")]
    UpperCase(String),
    /// Does not start with a letter.
    #[error("A project name starts with a letter (a–z).")]
    BadStart,
    /// Ends with `-`.
    #[error("A project name ends with a letter or a digit.")]
    BadEnd,
    /// A character outside a–z, 0–9 and `-`.
    #[error("A project name has only lower-case letters a–z, digits and \"-\"; {0:?} is not allowed.")]
    BadCharacter(char),
    /// Reserved by the platform or the configuration.
    #[error("\"{0}\" is reserved for the platform; choose another name.")]
    Reserved(String),
}

impl ProjectName {
    /// Checks `text` (surrounding spaces ignored) against DNS-1123 and the names the platform reserves.
    pub fn parse(text: &str) -> Result<Self, ProjectNameError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(ProjectNameError::Empty);
        }
        if text.chars().count() > PROJECT_NAME_MAX {
            return Err(ProjectNameError::TooLong);
        }
        if text.chars().any(|c| c.is_uppercase()) {
            let lower = text.to_lowercase();
            if lower.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
                return Err(ProjectNameError::UpperCase(lower));
            }
        }
        if let Some(bad) = text.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')) {
            return Err(ProjectNameError::BadCharacter(bad));
        }
        if !text.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(ProjectNameError::BadStart);
        }
        if text.ends_with('-') {
            return Err(ProjectNameError::BadEnd);
        }
        if RESERVED_NAMES.contains(&text) || RESERVED_PREFIXES.iter().any(|prefix| text.starts_with(prefix)) {
            return Err(ProjectNameError::Reserved(text.to_owned()));
        }
        Ok(Self(text.to_owned()))
    }

    /// Refuses a name that starts with one of the configured reserved prefixes.
    pub fn check_reserved(self, reserved_prefixes: &[String]) -> Result<Self, ProjectNameError> {
        if reserved_prefixes.iter().any(|prefix| !prefix.is_empty() && self.0.starts_with(prefix.as_str())) {
            return Err(ProjectNameError::Reserved(self.0));
        }
        Ok(self)
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ProjectName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ProjectName {
    type Error = ProjectNameError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<ProjectName> for String {
    fn from(name: ProjectName) -> Self {
        name.0
    }
}

/// Why a free text is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Nothing was given where something is needed.
    #[error("This cannot be empty.")]
    Empty,
    /// Over the limit, in characters.
    #[error("At most {max} characters, please (this has {given}).")]
    TooLong {
        /// The limit.
        max: usize,
        /// What was given.
        given: usize,
    },
    /// Control characters, or invisible characters that reorder text and can make it read other than it is.
    #[error("Remove the invisible control characters from this text.")]
    ControlCharacters,
}

/// Checks a free text: surrounding spaces trimmed, line breaks made `\n`, at most `max` characters, and no
/// control characters (line breaks and tabs are allowed when `multiline`) or bidirectional overrides. Any script,
/// emoji or markup is fine: pages show it as text.
pub fn clean_text(text: &str, max: usize, multiline: bool) -> Result<String, TextError> {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let text = text.trim();
    let forbidden = |c: char| {
        let allowed_control = multiline && (c == '\n' || c == '\t');
        (c.is_control() && !allowed_control)
            || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
    };
    if text.chars().any(forbidden) {
        return Err(TextError::ControlCharacters);
    }
    let given = text.chars().count();
    if given > max {
        return Err(TextError::TooLong { max, given });
    }
    Ok(text.to_owned())
}

/// [`clean_text`] that also refuses an empty text.
pub fn required_text(text: &str, max: usize, multiline: bool) -> Result<String, TextError> {
    let text = clean_text(text, max, multiline)?;
    if text.is_empty() {
        return Err(TextError::Empty);
    }
    Ok(text)
}

/// A resource of the cluster that a project's quota limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Resource {
    /// CPU cores.
    Cpu,
    /// Memory, GiB.
    Memory,
    /// Persistent storage, GiB.
    Storage,
    /// Pods.
    Pods,
    /// GPUs.
    Gpus,
}

/// Every resource, in the order forms show them.
pub const RESOURCES: [Resource; 5] =
    [Resource::Cpu, Resource::Memory, Resource::Storage, Resource::Pods, Resource::Gpus];

impl Resource {
    /// The form field (and stored column) of the resource.
    pub fn field(self) -> &'static str {
        match self {
            Self::Cpu => "cpu_cores",
            Self::Memory => "memory_gib",
            Self::Storage => "storage_gib",
            Self::Pods => "pods",
            Self::Gpus => "gpus",
        }
    }

    /// What people read.
    pub fn label(self) -> &'static str {
        match self {
            Self::Cpu => "CPU cores",
            Self::Memory => "Memory (GiB)",
            Self::Storage => "Storage (GiB)",
            Self::Pods => "Pods",
            Self::Gpus => "GPUs",
        }
    }

    /// The smallest value one may ask for.
    pub fn minimum(self) -> u32 {
        match self {
            Self::Cpu | Self::Memory | Self::Pods => 1,
            Self::Storage | Self::Gpus => 0,
        }
    }
}

/// An amount of each resource: a requested or granted quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Quota {
    /// CPU cores.
    pub cpu_cores: u32,
    /// Memory, GiB.
    pub memory_gib: u32,
    /// Storage, GiB.
    pub storage_gib: u32,
    /// Pods.
    pub pods: u32,
    /// GPUs.
    pub gpus: u32,
}

impl Quota {
    /// Rahti's standard quota: 4 cores, 16 GiB memory, 100 GiB storage, 50 pods, no GPUs.
    pub const STANDARD: Quota = Quota { cpu_cores: 4, memory_gib: 16, storage_gib: 100, pods: 50, gpus: 0 };

    /// The quota in a few words: "4 cores, 16 GiB memory, 100 GiB storage, 50 pods" (and the GPUs, if any).
    pub fn summary(&self) -> String {
        let mut text = format!(
            "{} cores, {} GiB memory, {} GiB storage, {} pods",
            self.cpu_cores, self.memory_gib, self.storage_gib, self.pods
        );
        if self.gpus > 0 {
            text.push_str(&format!(", {} GPUs", self.gpus));
        }
        text
    }

    /// The amount of `resource`.
    pub fn get(&self, resource: Resource) -> u32 {
        match resource {
            Resource::Cpu => self.cpu_cores,
            Resource::Memory => self.memory_gib,
            Resource::Storage => self.storage_gib,
            Resource::Pods => self.pods,
            Resource::Gpus => self.gpus,
        }
    }

    /// Sets the amount of `resource`.
    pub fn set(&mut self, resource: Resource, value: u32) {
        match resource {
            Resource::Cpu => self.cpu_cores = value,
            Resource::Memory => self.memory_gib = value,
            Resource::Storage => self.storage_gib = value,
            Resource::Pods => self.pods = value,
            Resource::Gpus => self.gpus = value,
        }
    }

    /// The resources of which this asks for more than `default`.
    pub fn above(&self, default: &Quota) -> Vec<Resource> {
        RESOURCES.into_iter().filter(|resource| self.get(*resource) > default.get(*resource)).collect()
    }
}

impl Default for Quota {
    fn default() -> Self {
        Self::STANDARD
    }
}

/// The rules an application is checked against; from the configuration, and sent to the browser so that the form
/// can check as the user types.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationRules {
    /// What is granted without a justification.
    pub default_quota: Quota,
    /// The most of each resource one may ask for.
    pub max_quota: Quota,
    /// Configured name prefixes no project may start with (besides `default`, `kube-` and `openshift-`).
    pub reserved_prefixes: Vec<String>,
    /// How far ahead the expected end date may be.
    pub max_months: u32,
}

impl Default for ApplicationRules {
    fn default() -> Self {
        Self {
            default_quota: Quota::STANDARD,
            max_quota: Quota { cpu_cores: 64, memory_gib: 256, storage_gib: 10_000, pods: 500, gpus: 8 },
            reserved_prefixes: Vec::new(),
            max_months: 24,
        }
    }
}

/// How the project will be paid for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BillingChoice {
    /// One of the applicant's billing accounts.
    Existing(i64),
    /// A new account, asked for with a justification.
    New {
        /// Why a new account is needed.
        justification: String,
    },
}

/// The application form as posted: every field as text, exactly as typed (a field left out is empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ApplicationInput {
    /// Project name.
    pub project_name: String,
    /// Title.
    pub title: String,
    /// What the project is for.
    pub purpose: String,
    /// Organisation.
    pub organisation: String,
    /// Expected end date, `YYYY-MM-DD`.
    pub end_date: String,
    /// CPU cores.
    pub cpu_cores: String,
    /// Memory, GiB.
    pub memory_gib: String,
    /// Storage, GiB.
    pub storage_gib: String,
    /// Pods.
    pub pods: String,
    /// GPUs.
    pub gpus: String,
    /// Why more than the defaults.
    #[serde(default)]
    pub quota_justification: String,
    /// `new`, or the id of an existing billing account.
    #[serde(default)]
    pub billing: String,
    /// Why a new billing account.
    #[serde(default)]
    pub billing_justification: String,
    /// `yes` when the terms of use are accepted.
    #[serde(default)]
    pub accept_terms: Option<String>,
}

impl ApplicationInput {
    /// The form of a new application: the standard quota, the applicant's organisation.
    pub fn new_for(organisation: &str, quota: &Quota) -> Self {
        let mut input = Self { organisation: organisation.to_owned(), billing: "new".into(), ..Self::default() };
        input.set_quota(quota);
        input
    }

    /// The form of a stored application: its fields as text. The terms are accepted again at each submission.
    pub fn from_fields(fields: &ApplicationFields) -> Self {
        let (billing, billing_justification) = match &fields.billing {
            Some(BillingChoice::Existing(id)) => (id.to_string(), String::new()),
            Some(BillingChoice::New { justification }) => ("new".to_owned(), justification.clone()),
            None => ("new".to_owned(), String::new()),
        };
        let mut input = Self {
            project_name: fields.project_name.as_ref().map(|name| name.as_str().to_owned()).unwrap_or_default(),
            title: fields.title.clone(),
            purpose: fields.purpose.clone(),
            organisation: fields.organisation.clone(),
            end_date: fields.end_date.map(|date| date.to_string()).unwrap_or_default(),
            quota_justification: fields.quota_justification.clone(),
            billing,
            billing_justification,
            ..Self::default()
        };
        input.set_quota(&fields.quota);
        input
    }

    /// The text of the field for `resource`.
    pub fn quota_text(&self, resource: Resource) -> &str {
        match resource {
            Resource::Cpu => &self.cpu_cores,
            Resource::Memory => &self.memory_gib,
            Resource::Storage => &self.storage_gib,
            Resource::Pods => &self.pods,
            Resource::Gpus => &self.gpus,
        }
    }

    /// Sets the field named `field` (its form name) to `value`; unknown names change nothing.
    pub fn set(&mut self, field: &str, value: String) {
        let slot = match field {
            "project_name" => &mut self.project_name,
            "title" => &mut self.title,
            "purpose" => &mut self.purpose,
            "organisation" => &mut self.organisation,
            "end_date" => &mut self.end_date,
            "cpu_cores" => &mut self.cpu_cores,
            "memory_gib" => &mut self.memory_gib,
            "storage_gib" => &mut self.storage_gib,
            "pods" => &mut self.pods,
            "gpus" => &mut self.gpus,
            "quota_justification" => &mut self.quota_justification,
            "billing" => &mut self.billing,
            "billing_justification" => &mut self.billing_justification,
            "accept_terms" => {
                self.accept_terms = Some(value).filter(|value| value == "yes");
                return;
            }
            _ => return,
        };
        *slot = value;
    }

    /// Fills the quota fields from `quota`.
    pub fn set_quota(&mut self, quota: &Quota) {
        self.cpu_cores = quota.cpu_cores.to_string();
        self.memory_gib = quota.memory_gib.to_string();
        self.storage_gib = quota.storage_gib.to_string();
        self.pods = quota.pods.to_string();
        self.gpus = quota.gpus.to_string();
    }
}

/// How strictly to check: a draft may leave fields empty (what is filled in must still be right); a submission
/// needs everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    /// Saving a draft.
    Draft,
    /// Submitting for review.
    Submit,
}

/// An application's fields, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationFields {
    /// Project name; empty only in a draft.
    pub project_name: Option<ProjectName>,
    /// Title.
    pub title: String,
    /// Purpose.
    pub purpose: String,
    /// Organisation.
    pub organisation: String,
    /// Expected end date; empty only in a draft.
    pub end_date: Option<NaiveDate>,
    /// Requested quota.
    pub quota: Quota,
    /// Why more than the defaults (empty when nothing is above them).
    pub quota_justification: String,
    /// Billing; empty only in a draft.
    pub billing: Option<BillingChoice>,
    /// Whether the terms of use were accepted.
    pub terms_accepted: bool,
}

/// Checks the project name field.
pub fn check_project_name(text: &str, rules: &ApplicationRules) -> Result<ProjectName, String> {
    ProjectName::parse(text).and_then(|name| name.check_reserved(&rules.reserved_prefixes)).map_err(|e| e.to_string())
}

/// Checks the end date field: a date after `today`, at most `rules.max_months` ahead.
pub fn check_end_date(text: &str, rules: &ApplicationRules, today: NaiveDate) -> Result<NaiveDate, String> {
    let date =
        NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| "Enter a date as YYYY-MM-DD.".to_owned())?;
    if date <= today {
        return Err("The end date must be in the future.".to_owned());
    }
    let latest = today.checked_add_months(Months::new(rules.max_months)).unwrap_or(NaiveDate::MAX);
    if date > latest {
        return Err(format!("The end date can be at most {} months ahead (until {latest}).", rules.max_months));
    }
    Ok(date)
}

/// Checks one quota field.
pub fn check_quota_value(text: &str, resource: Resource, rules: &ApplicationRules) -> Result<u32, String> {
    let max = rules.max_quota.get(resource);
    let value: u32 =
        text.trim().parse().map_err(|_| format!("Enter a whole number from {} to {max}.", resource.minimum()))?;
    if value < resource.minimum() {
        return Err(format!("At least {}.", resource.minimum()));
    }
    if value > max {
        return Err(format!("At most {max}; ask the admins about more."));
    }
    Ok(value)
}

/// Checks the five quota fields (in [`RESOURCES`] order, each named by [`Resource::field`]) against the maximums
/// in `rules`; every problem is reported with its field.
pub fn check_quota(values: &[String; 5], rules: &ApplicationRules) -> Result<Quota, Vec<FieldError>> {
    let mut quota = rules.default_quota;
    let mut errors = Vec::new();
    for (resource, text) in RESOURCES.into_iter().zip(values) {
        match check_quota_value(text, resource, rules) {
            Ok(value) => quota.set(resource, value),
            Err(message) => errors.push(FieldError { field: resource.field().to_owned(), message }),
        }
    }
    if errors.is_empty() { Ok(quota) } else { Err(errors) }
}

/// Checks the whole form; every problem is reported, each with its field.
pub fn check_application(
    input: &ApplicationInput,
    rules: &ApplicationRules,
    today: NaiveDate,
    strictness: Strictness,
) -> Result<ApplicationFields, Vec<FieldError>> {
    let mut errors = Vec::new();
    let submit = strictness == Strictness::Submit;
    let mut note = |field: &str, message: String| errors.push(FieldError { field: field.to_owned(), message });

    let project_name = if input.project_name.trim().is_empty() && !submit {
        None
    } else {
        check_project_name(&input.project_name, rules).map_err(|message| note("project_name", message)).ok()
    };
    let text = |field: &'static str, value: &str, max: usize, multiline: bool, note: &mut dyn FnMut(&str, String)| {
        let checked = if submit { required_text(value, max, multiline) } else { clean_text(value, max, multiline) };
        checked.unwrap_or_else(|error| {
            note(field, error.to_string());
            String::new()
        })
    };
    let title = text("title", &input.title, TITLE_MAX, false, &mut note);
    let purpose = text("purpose", &input.purpose, PURPOSE_MAX, true, &mut note);
    let organisation = text("organisation", &input.organisation, ORGANISATION_MAX, false, &mut note);
    let end_date = if input.end_date.trim().is_empty() && !submit {
        None
    } else {
        check_end_date(&input.end_date, rules, today).map_err(|message| note("end_date", message)).ok()
    };

    let mut quota = rules.default_quota;
    for resource in RESOURCES {
        match check_quota_value(input.quota_text(resource), resource, rules) {
            Ok(value) => quota.set(resource, value),
            Err(message) => note(resource.field(), message),
        }
    }
    let above = quota.above(&rules.default_quota);
    let quota_justification = match clean_text(&input.quota_justification, JUSTIFICATION_MAX, true) {
        Ok(text) if text.is_empty() && submit && !above.is_empty() => {
            let names: Vec<_> = above.iter().map(|resource| resource.label()).collect();
            note(
                "quota_justification",
                format!("Explain why you need more than the standard quota ({}).", names.join(", ")),
            );
            text
        }
        Ok(text) => text,
        Err(error) => {
            note("quota_justification", error.to_string());
            String::new()
        }
    };

    let billing = match input.billing.trim() {
        "new" => match clean_text(&input.billing_justification, JUSTIFICATION_MAX, true) {
            Ok(text) if text.is_empty() && submit => {
                note("billing_justification", "Say briefly why a new billing account is needed.".to_owned());
                None
            }
            Ok(justification) => Some(BillingChoice::New { justification }),
            Err(error) => {
                note("billing_justification", error.to_string());
                None
            }
        },
        "" if !submit => None,
        "" => {
            note("billing", "Choose a billing account, or ask for a new one.".to_owned());
            None
        }
        id => match id.parse::<i64>() {
            Ok(id) => Some(BillingChoice::Existing(id)),
            Err(_) => {
                note("billing", "Choose a billing account from the list, or ask for a new one.".to_owned());
                None
            }
        },
    };
    let terms_accepted = input.accept_terms.as_deref() == Some("yes");
    if submit && !terms_accepted {
        note("accept_terms", "You need to accept the terms of use to submit.".to_owned());
    }

    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(ApplicationFields {
        project_name,
        title,
        purpose,
        organisation,
        end_date,
        quota,
        quota_justification,
        billing,
        terms_accepted,
    })
}

/// [`check_application`]'s errors as the one user-facing error.
pub fn into_app_error(errors: Vec<FieldError>) -> AppError {
    AppError::InvalidFields { errors }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
    }

    fn complete() -> ApplicationInput {
        ApplicationInput {
            project_name: "climate-lab".into(),
            title: "Climate lab".into(),
            purpose: "Running models.\r\nAnd dashboards.".into(),
            end_date: "2027-06-30".into(),
            accept_terms: Some("yes".into()),
            billing_justification: "Our group has no account yet.".into(),
            ..ApplicationInput::new_for("Uni", &Quota::STANDARD)
        }
    }

    #[test]
    fn project_names_are_dns_labels_and_not_reserved() {
        for good in ["a", "climate-lab", "x1", "a-b-c", &"a".repeat(63)] {
            assert!(ProjectName::parse(good).is_ok(), "{good}");
        }
        let cases: [(&str, ProjectNameError); 9] = [
            ("", ProjectNameError::Empty),
            (&"a".repeat(64), ProjectNameError::TooLong),
            ("Climate-Lab", ProjectNameError::UpperCase("climate-lab".into())),
            ("1lab", ProjectNameError::BadStart),
            ("-lab", ProjectNameError::BadStart),
            ("lab-", ProjectNameError::BadEnd),
            ("my_lab", ProjectNameError::BadCharacter('_')),
            ("kube-system", ProjectNameError::Reserved("kube-system".into())),
            ("default", ProjectNameError::Reserved("default".into())),
        ];
        for (text, error) in cases {
            assert_eq!(ProjectName::parse(text), Err(error), "{text:?}");
        }
        assert_eq!(ProjectName::parse("openshift-x"), Err(ProjectNameError::Reserved("openshift-x".into())));
        assert!(matches!(ProjectName::parse("lab\u{1F680}"), Err(ProjectNameError::BadCharacter('\u{1F680}'))));
        assert!(matches!(ProjectName::parse("lab<script>"), Err(ProjectNameError::BadCharacter('<'))));
        assert_eq!(ProjectName::parse("  lab  ").unwrap().as_str(), "lab");
        let configured = vec!["system-".to_owned()];
        assert!(ProjectName::parse("system-x").unwrap().check_reserved(&configured).is_err());
        assert!(ProjectName::parse("systems").unwrap().check_reserved(&configured).is_ok());
    }

    #[test]
    fn texts_keep_any_script_but_no_invisible_controls() {
        assert_eq!(clean_text("  שלום 👋 <b>hi</b> ", 100, false).unwrap(), "שלום 👋 <b>hi</b>");
        assert_eq!(clean_text("a\r\nb", 100, true).unwrap(), "a\nb");
        assert_eq!(clean_text("a\nb", 100, false), Err(TextError::ControlCharacters));
        assert_eq!(clean_text("a\u{0}b", 100, true), Err(TextError::ControlCharacters));
        assert_eq!(clean_text("evil\u{202E}txt.exe", 100, false), Err(TextError::ControlCharacters));
        assert_eq!(clean_text("👋👋👋", 3, false).unwrap(), "👋👋👋", "characters are counted, not bytes");
        assert_eq!(clean_text("abcd", 3, false), Err(TextError::TooLong { max: 3, given: 4 }));
        assert_eq!(required_text("   ", 3, false), Err(TextError::Empty));
    }

    #[test]
    fn a_complete_application_passes_and_is_cleaned() {
        let fields = check_application(&complete(), &ApplicationRules::default(), today(), Strictness::Submit).unwrap();
        assert_eq!(fields.project_name.unwrap().as_str(), "climate-lab");
        assert_eq!(fields.purpose, "Running models.\nAnd dashboards.");
        assert_eq!(fields.quota, Quota::STANDARD);
        assert_eq!(fields.billing, Some(BillingChoice::New { justification: "Our group has no account yet.".into() }));
        assert!(fields.terms_accepted);
    }

    #[test]
    fn a_draft_may_be_incomplete_but_not_wrong() {
        let empty = ApplicationInput::new_for("", &Quota::STANDARD);
        let draft = check_application(&empty, &ApplicationRules::default(), today(), Strictness::Draft).unwrap();
        assert_eq!((draft.project_name, draft.end_date), (None, None));
        let wrong = ApplicationInput { project_name: "Bad Name".into(), ..empty.clone() };
        let errors = check_application(&wrong, &ApplicationRules::default(), today(), Strictness::Draft).unwrap_err();
        assert_eq!(errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), ["project_name"]);
        let errors = check_application(&empty, &ApplicationRules::default(), today(), Strictness::Submit).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["project_name", "title", "purpose", "organisation", "end_date", "billing_justification", "accept_terms"]
        );
    }

    #[test]
    fn end_dates_lie_in_the_future_within_the_limit() {
        let rules = ApplicationRules::default();
        assert!(check_end_date("2026-11-25", &rules, today()).is_err(), "today is not in the future");
        assert!(check_end_date("2026-11-26", &rules, today()).is_ok());
        assert!(check_end_date("2028-11-25", &rules, today()).is_ok(), "exactly 24 months");
        assert!(check_end_date("2028-11-26", &rules, today()).unwrap_err().contains("24 months"));
        assert!(check_end_date("30.6.2027", &rules, today()).unwrap_err().contains("YYYY-MM-DD"));
    }

    #[test]
    fn more_than_the_defaults_needs_a_justification_and_never_more_than_the_maximum() {
        let rules = ApplicationRules::default();
        let more = ApplicationInput { cpu_cores: "8".into(), gpus: "1".into(), ..complete() };
        let errors = check_application(&more, &rules, today(), Strictness::Submit).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "quota_justification");
        assert!(errors[0].message.contains("CPU cores, GPUs"), "{}", errors[0].message);
        let justified = ApplicationInput { quota_justification: "Training runs.".into(), ..more };
        assert_eq!(check_application(&justified, &rules, today(), Strictness::Submit).unwrap().quota.cpu_cores, 8);

        assert!(check_quota_value("65", Resource::Cpu, &rules).unwrap_err().contains("At most 64"));
        assert!(check_quota_value("0", Resource::Cpu, &rules).is_err());
        assert_eq!(check_quota_value("0", Resource::Gpus, &rules), Ok(0));
        assert!(check_quota_value("-1", Resource::Pods, &rules).is_err());
        assert!(check_quota_value("1.5", Resource::Memory, &rules).is_err());
        assert!(check_quota_value("99999999999", Resource::Storage, &rules).is_err());
    }

    #[test]
    fn billing_is_an_account_id_or_a_justified_request() {
        let rules = ApplicationRules::default();
        let existing = ApplicationInput { billing: "17".into(), billing_justification: String::new(), ..complete() };
        assert_eq!(
            check_application(&existing, &rules, today(), Strictness::Submit).unwrap().billing,
            Some(BillingChoice::Existing(17))
        );
        let junk = ApplicationInput { billing: "x".into(), ..complete() };
        let errors = check_application(&junk, &rules, today(), Strictness::Submit).unwrap_err();
        assert_eq!(errors[0].field, "billing");
    }

    #[test]
    fn quota_fields_are_checked_each_with_its_message() {
        let max = ApplicationRules::default();
        let good = ["6", "24", "100", "50", "0"].map(String::from);
        assert_eq!(check_quota(&good, &max).unwrap().cpu_cores, 6);
        let bad = ["-1", "lots", "99999999999999999999", "501", "0"].map(String::from);
        let errors = check_quota(&bad, &max).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|error| error.field.as_str()).collect();
        assert_eq!(fields, ["cpu_cores", "memory_gib", "storage_gib", "pods"]);
        assert!(errors[3].message.contains("At most 500"), "{errors:?}");
        assert!(errors[0].message.contains("whole number"), "{errors:?}");
    }
}
