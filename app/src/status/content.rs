//! The edited part of the status page (summary, maturity matrix, work remaining, known issues) as one value, so that
//! each edit stores the whole content as a revision; what changed between two revisions, in a sentence and as a
//! line diff. Pure functions, shared by the server and the browser.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::model::{IssueStatus, MaturityIndicator, ServiceSummary, WorkArea};

/// The edited content as of one revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusContent {
    /// Stage and service level.
    pub service: ServiceSummary,
    /// Maturity matrix rows, in display order.
    pub maturity: Vec<MaturityIndicator>,
    /// Work areas, in display order.
    pub work_remaining: Vec<WorkArea>,
    /// Known issues not removed, in id order.
    pub known_issues: Vec<ContentIssue>,
}

/// A known issue as content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentIssue {
    /// Its id; 0 for one being added (the store gives it one).
    pub id: i64,
    /// One-line summary.
    pub title: String,
    /// What users see.
    pub description: String,
    /// Where it stands.
    pub status: IssueStatus,
    /// What users can do meanwhile.
    pub workaround: Option<String>,
    /// The components it affects, by id, ascending.
    pub component_ids: Vec<i64>,
}

impl ContentIssue {
    /// Whether what users see of the issue differs from `other`'s.
    pub fn differs_from(&self, other: &ContentIssue) -> bool {
        (&self.title, &self.description, self.status, &self.workaround, &self.component_ids)
            != (&other.title, &other.description, other.status, &other.workaround, &other.component_ids)
    }
}

/// A part of the content that one form edits; an edit made on an older revision is taken only if its part did not
/// change since.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentPart {
    /// Stage and service level.
    Summary,
    /// The maturity matrix.
    Maturity,
    /// Work remaining.
    WorkRemaining,
    /// One known issue.
    Issue(i64),
    /// All of it (restoring a revision).
    Everything,
}

impl ContentPart {
    /// Whether this part is the same in `a` and `b`.
    pub fn same_in(self, a: &StatusContent, b: &StatusContent) -> bool {
        let issue =
            |content: &StatusContent, id: i64| content.known_issues.iter().find(|issue| issue.id == id).cloned();
        match self {
            ContentPart::Summary => a.service == b.service,
            ContentPart::Maturity => a.maturity == b.maturity,
            ContentPart::WorkRemaining => a.work_remaining == b.work_remaining,
            ContentPart::Issue(0) => true,
            ContentPart::Issue(id) => issue(a, id) == issue(b, id),
            ContentPart::Everything => a == b,
        }
    }
}

/// How a line fares from one revision to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LineChange {
    /// In both.
    Same,
    /// Only in the newer.
    Added,
    /// Only in the older.
    Removed,
}

/// A line of a diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffLine {
    /// Whether it was added, removed or kept.
    pub change: LineChange,
    /// The text.
    pub text: String,
}

/// The content as lines of text, the form a diff compares; `names` gives component names by id.
pub fn content_lines(content: &StatusContent, names: &BTreeMap<i64, String>) -> Vec<String> {
    let mut lines = vec![
        format!("Stage: {}", content.service.stage),
        format!("Service level: {}", content.service.service_level),
        "Maturity matrix:".to_owned(),
    ];
    for row in &content.maturity {
        lines.push(format!(
            "  {}: now {} ({}); best feasible {} ({})",
            row.indicator,
            row.current.value,
            row.current.state.label(),
            row.best_feasible.value,
            row.best_feasible.state.label()
        ));
    }
    lines.push("Work remaining:".to_owned());
    for area in &content.work_remaining {
        lines.push(format!("  {}: {}", area.area, area.description));
    }
    lines.push("Known issues:".to_owned());
    for issue in &content.known_issues {
        lines.push(format!("  #{} {} [{}]", issue.id, issue.title, issue.status.label()));
        lines.push(format!("    Description: {}", issue.description));
        if let Some(workaround) = &issue.workaround {
            lines.push(format!("    Workaround: {workaround}"));
        }
        if !issue.component_ids.is_empty() {
            let affected: Vec<String> = issue
                .component_ids
                .iter()
                .map(|id| names.get(id).cloned().unwrap_or_else(|| format!("component {id}")))
                .collect();
            lines.push(format!("    Affects: {}", affected.join(", ")));
        }
    }
    lines
}

/// A line diff from `old` to `new` (longest common subsequence; removals before additions at each change).
pub fn diff_lines(old: &[String], new: &[String]) -> Vec<DiffLine> {
    // lengths[i][j]: the longest common subsequence of old[i..] and new[j..].
    let mut lengths = vec![vec![0_u32; new.len() + 1]; old.len() + 1];
    for i in (0..old.len()).rev() {
        for j in (0..new.len()).rev() {
            lengths[i][j] =
                if old[i] == new[j] { lengths[i + 1][j + 1] + 1 } else { lengths[i + 1][j].max(lengths[i][j + 1]) };
        }
    }
    let line = |change, text: &String| DiffLine { change, text: text.clone() };
    let (mut i, mut j, mut lines) = (0, 0, Vec::with_capacity(old.len().max(new.len())));
    while i < old.len() || j < new.len() {
        if i < old.len() && j < new.len() && old[i] == new[j] {
            lines.push(line(LineChange::Same, &old[i]));
            i += 1;
            j += 1;
        } else if i < old.len() && (j == new.len() || lengths[i + 1][j] >= lengths[i][j + 1]) {
            lines.push(line(LineChange::Removed, &old[i]));
            i += 1;
        } else {
            lines.push(line(LineChange::Added, &new[j]));
            j += 1;
        }
    }
    lines
}

/// What changed from `old` to `new`, in one sentence ("Maturity matrix: Monitoring changed; known issue “Slow
/// builds” added"); "No change" when nothing did.
pub fn describe_changes(old: &StatusContent, new: &StatusContent) -> String {
    let mut parts = Vec::new();
    if old.service.stage != new.service.stage {
        parts.push(format!("stage {} → {}", old.service.stage, new.service.stage));
    }
    if old.service.service_level != new.service.service_level {
        parts.push("service level changed".to_owned());
    }
    let rows = |rows: &[MaturityIndicator]| rows.iter().map(|row| (row.indicator.clone(), row.clone())).collect();
    if let Some(words) = list_changes("maturity matrix", &rows(&old.maturity), &rows(&new.maturity)) {
        parts.push(words);
    } else if old.maturity != new.maturity {
        parts.push("maturity matrix reordered".to_owned());
    }
    let areas = |areas: &[WorkArea]| areas.iter().map(|area| (area.area.clone(), area.clone())).collect();
    if let Some(words) = list_changes("work remaining", &areas(&old.work_remaining), &areas(&new.work_remaining)) {
        parts.push(words);
    } else if old.work_remaining != new.work_remaining {
        parts.push("work remaining reordered".to_owned());
    }
    for issue in &new.known_issues {
        match old.known_issues.iter().find(|before| before.id == issue.id && issue.id != 0) {
            None => parts.push(format!("known issue “{}” added", issue.title)),
            Some(before) if before.differs_from(issue) => {
                let mut what = Vec::new();
                if before.title != issue.title {
                    what.push("title".to_owned());
                }
                if before.status != issue.status {
                    what.push(format!("status {} → {}", before.status, issue.status));
                }
                if before.description != issue.description {
                    what.push("description".to_owned());
                }
                if before.workaround != issue.workaround {
                    what.push("workaround".to_owned());
                }
                if before.component_ids != issue.component_ids {
                    what.push("affected components".to_owned());
                }
                parts.push(format!("known issue “{}”: {}", issue.title, what.join(", ")));
            }
            Some(_) => {}
        }
    }
    for issue in &old.known_issues {
        if !new.known_issues.iter().any(|after| after.id == issue.id) {
            parts.push(format!("known issue “{}” removed", issue.title));
        }
    }
    let sentence = if parts.is_empty() { "no change".to_owned() } else { parts.join("; ") };
    let mut letters = sentence.chars();
    letters.next().map(|first| first.to_uppercase().chain(letters).collect()).unwrap_or_default()
}

/// "maturity matrix: Monitoring added, Backups changed" for keyed rows, or `None` when the same keys hold the same
/// rows (the order may differ).
fn list_changes<T: PartialEq>(what: &str, old: &BTreeMap<String, T>, new: &BTreeMap<String, T>) -> Option<String> {
    let mut words = Vec::new();
    for (key, row) in new {
        match old.get(key) {
            None => words.push(format!("{key} added")),
            Some(before) if before != row => words.push(format!("{key} changed")),
            Some(_) => {}
        }
    }
    words.extend(old.keys().filter(|key| !new.contains_key(*key)).map(|key| format!("{key} removed")));
    (!words.is_empty()).then(|| format!("{what}: {}", words.join(", ")))
}

/// A revision in the list of revisions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevisionLine {
    /// Its number.
    pub revision: i64,
    /// What changed, in a sentence.
    pub summary: String,
    /// Who made it ("" for the system).
    pub author: String,
    /// When.
    pub at: DateTime<Utc>,
    /// The revision it restored, if it was a restore.
    pub restored_from: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::model::{Health, RatedValue};

    fn content() -> StatusContent {
        StatusContent {
            service: ServiceSummary { stage: "Beta".into(), service_level: "Office hours".into() },
            maturity: vec![row("Monitoring", "Basic"), row("Backups", "None")],
            work_remaining: vec![WorkArea { area: "HA".into(), description: "Three masters".into() }],
            known_issues: vec![issue(3, "Slow builds")],
        }
    }

    fn row(indicator: &str, value: &str) -> MaturityIndicator {
        MaturityIndicator {
            indicator: indicator.into(),
            current: RatedValue { value: value.into(), state: Health::Warn },
            best_feasible: RatedValue { value: "Full".into(), state: Health::Ok },
        }
    }

    fn issue(id: i64, title: &str) -> ContentIssue {
        ContentIssue {
            id,
            title: title.into(),
            description: "Builds take an hour.".into(),
            status: IssueStatus::Identified,
            workaround: None,
            component_ids: vec![1],
        }
    }

    fn lines(text: &[&str]) -> Vec<String> {
        text.iter().map(|line| (*line).to_owned()).collect()
    }

    #[test]
    fn a_diff_keeps_common_lines_and_marks_the_rest() {
        let diff = diff_lines(&lines(&["a", "b", "c", "d"]), &lines(&["a", "c", "x", "d", "e"]));
        let marked: Vec<String> = diff
            .iter()
            .map(|line| match line.change {
                LineChange::Same => format!(" {}", line.text),
                LineChange::Added => format!("+{}", line.text),
                LineChange::Removed => format!("-{}", line.text),
            })
            .collect();
        assert_eq!(marked, lines(&[" a", "-b", " c", "+x", " d", "+e"]));
        assert!(diff_lines(&[], &[]).is_empty());
        assert!(diff_lines(&lines(&["a"]), &lines(&["a"])).iter().all(|line| line.change == LineChange::Same));
    }

    #[test]
    fn changes_are_described_part_by_part() {
        let old = content();
        assert_eq!(describe_changes(&old, &old), "No change");

        let mut new = old.clone();
        new.service.stage = "Production".into();
        new.maturity[0].current.value = "Full".into();
        new.maturity.push(row("Upgrades", "Manual"));
        new.work_remaining.clear();
        new.known_issues[0].status = IssueStatus::Resolved;
        new.known_issues[0].workaround = Some("Use a smaller image.".into());
        new.known_issues.push(issue(0, "Registry quota"));
        assert_eq!(
            describe_changes(&old, &new),
            "Stage Beta → Production; maturity matrix: Monitoring changed, Upgrades added; work remaining: HA removed; \
             known issue “Slow builds”: status identified → resolved, workaround; known issue “Registry quota” added"
        );

        let mut reordered = old.clone();
        reordered.maturity.reverse();
        assert_eq!(describe_changes(&old, &reordered), "Maturity matrix reordered");
        let mut removed = old.clone();
        removed.known_issues.clear();
        assert_eq!(describe_changes(&old, &removed), "Known issue “Slow builds” removed");
    }

    #[test]
    fn a_part_is_compared_alone() {
        let old = content();
        let mut new = old.clone();
        new.known_issues.push(issue(4, "Other"));
        new.maturity[1].current.value = "Nightly".into();
        assert!(ContentPart::Summary.same_in(&old, &new));
        assert!(ContentPart::WorkRemaining.same_in(&old, &new));
        assert!(ContentPart::Issue(3).same_in(&old, &new));
        assert!(!ContentPart::Issue(4).same_in(&old, &new), "added since");
        assert!(ContentPart::Issue(0).same_in(&old, &new), "a new issue conflicts with nothing");
        assert!(!ContentPart::Maturity.same_in(&old, &new));
        assert!(!ContentPart::Everything.same_in(&old, &new));
    }

    #[test]
    fn content_lines_name_components() {
        let names = BTreeMap::from([(1, "API".to_owned())]);
        let text = content_lines(&content(), &names);
        assert!(text.contains(&"  Monitoring: now Basic (Caution); best feasible Full (OK)".to_owned()), "{text:?}");
        assert!(text.contains(&"    Affects: API".to_owned()), "{text:?}");
        assert!(text.contains(&"  #3 Slow builds [Cause known, fix in progress]".to_owned()), "{text:?}");
    }
}
