//! The Atom feed of known issues.

use app::status::model::{KnownIssue, StatusReport};
use atom_syndication::{ContentBuilder, EntryBuilder, FeedBuilder, LinkBuilder, PersonBuilder, Text};
use url::Url;

/// `/status/feed.atom` for `report`: one entry per known issue, updated when the issue changes.
pub fn known_issues_feed(report: &StatusReport, base_url: &Url) -> String {
    let page = absolute(base_url, "status");
    let entries = report.known_issues.iter().map(|issue| entry(issue, &page)).collect::<Vec<_>>();
    let feed = FeedBuilder::default()
        .id(page.clone())
        .title(Text::plain("Berth service status: known issues"))
        .subtitle(Some(Text::plain("Known issues with the container cloud, and their workarounds.")))
        .updated(report.updated_at.fixed_offset())
        .authors(vec![PersonBuilder::default().name("Berth").uri(Some(absolute(base_url, ""))).build()])
        .links(vec![
            LinkBuilder::default()
                .href(absolute(base_url, "status/feed.atom"))
                .rel("self")
                .mime_type(Some("application/atom+xml".to_owned()))
                .build(),
            LinkBuilder::default().href(page.clone()).rel("alternate").mime_type(Some("text/html".to_owned())).build(),
        ])
        .entries(entries)
        .build();
    feed.to_string()
}

fn entry(issue: &KnownIssue, page: &str) -> atom_syndication::Entry {
    let workaround = issue.workaround.as_deref().unwrap_or("None yet.");
    let body = format!("{}\n\nStatus: {}.\nWorkaround: {}", issue.description, issue.status.label(), workaround);
    let link = format!("{page}#issue-{}", issue.id);
    EntryBuilder::default()
        .id(link.clone())
        .title(Text::plain(issue.title.clone()))
        .updated(issue.updated_at.fixed_offset())
        .published(Some(issue.opened_at.fixed_offset()))
        .links(vec![LinkBuilder::default().href(link).rel("alternate").mime_type(Some("text/html".to_owned())).build()])
        .summary(Some(Text::plain(format!("{}: {}", issue.status.label(), issue.description))))
        .content(Some(ContentBuilder::default().content_type(Some("text".to_owned())).value(Some(body)).build()))
        .build()
}

/// `/status/incidents.atom`: one entry per incident on the page (open, or resolved in the last days), updated with
/// each of its updates.
pub fn incidents_feed(report: &StatusReport, base_url: &Url) -> String {
    let page = absolute(base_url, "status");
    let entries = report
        .incidents
        .iter()
        .map(|incident| {
            let link = format!("{page}#incident-{}", incident.id);
            let updated = incident.updates.first().map_or(incident.opened_at, |update| update.at);
            let affected: Vec<String> = incident
                .components
                .iter()
                .map(|affected| format!("{}: {}", affected.component, affected.impact.label()))
                .collect();
            let mut body = format!("Status: {}.", incident.status.label());
            if !affected.is_empty() {
                body.push_str(&format!("\nAffected: {}.", affected.join("; ")));
            }
            for update in &incident.updates {
                body.push_str(&format!(
                    "\n\n{} UTC, {}: {}",
                    update.at.format("%Y-%m-%d %H:%M"),
                    update.status.label(),
                    update.message
                ));
            }
            let summary = incident.updates.first().map_or_else(String::new, |update| update.message.clone());
            EntryBuilder::default()
                .id(link.clone())
                .title(Text::plain(format!("{} ({})", incident.title, incident.status.label())))
                .updated(updated.fixed_offset())
                .published(Some(incident.opened_at.fixed_offset()))
                .links(vec![alternate(link)])
                .summary(Some(Text::plain(summary)))
                .content(Some(
                    ContentBuilder::default().content_type(Some("text".to_owned())).value(Some(body)).build(),
                ))
                .build()
        })
        .collect();
    feed(
        report,
        base_url,
        "status/incidents.atom",
        "Berth service status: incidents",
        "Incidents with the container cloud and their updates.",
        entries,
    )
}

/// `/status/maintenance.atom`: one entry per maintenance window in progress or announced.
pub fn maintenance_feed(report: &StatusReport, base_url: &Url) -> String {
    let page = absolute(base_url, "status");
    let entries = report
        .maintenance
        .iter()
        .map(|window| {
            let link = format!("{page}#maintenance-{}", window.id);
            let when = format!(
                "{} to {} UTC",
                window.starts_at.format("%Y-%m-%d %H:%M"),
                window.ends_at.format("%Y-%m-%d %H:%M")
            );
            let body = format!("{when}. Affects: {}.\n\n{}", window.components.join(", "), window.description);
            EntryBuilder::default()
                .id(link.clone())
                .title(Text::plain(format!("Maintenance: {}", window.title)))
                .updated(report.updated_at.fixed_offset())
                .published(Some(window.starts_at.fixed_offset()))
                .links(vec![alternate(link)])
                .summary(Some(Text::plain(when)))
                .content(Some(
                    ContentBuilder::default().content_type(Some("text".to_owned())).value(Some(body)).build(),
                ))
                .build()
        })
        .collect();
    feed(
        report,
        base_url,
        "status/maintenance.atom",
        "Berth service status: maintenance",
        "Announced maintenance of the container cloud.",
        entries,
    )
}

fn alternate(href: String) -> atom_syndication::Link {
    LinkBuilder::default().href(href).rel("alternate").mime_type(Some("text/html".to_owned())).build()
}

fn feed(
    report: &StatusReport,
    base_url: &Url,
    path: &str,
    title: &str,
    subtitle: &str,
    entries: Vec<atom_syndication::Entry>,
) -> String {
    let page = absolute(base_url, "status");
    FeedBuilder::default()
        .id(absolute(base_url, path))
        .title(Text::plain(title))
        .subtitle(Some(Text::plain(subtitle)))
        .updated(report.updated_at.fixed_offset())
        .authors(vec![PersonBuilder::default().name("Berth").uri(Some(absolute(base_url, ""))).build()])
        .links(vec![
            LinkBuilder::default()
                .href(absolute(base_url, path))
                .rel("self")
                .mime_type(Some("application/atom+xml".to_owned()))
                .build(),
            alternate(page),
        ])
        .entries(entries)
        .build()
        .to_string()
}

fn absolute(base_url: &Url, path: &str) -> String {
    base_url.join(path).map(String::from).unwrap_or_else(|_| format!("{base_url}{path}"))
}

#[cfg(test)]
mod tests {
    use app::status::model::{IssueStatus, STATUS_SCHEMA_VERSION, ServiceSummary};
    use chrono::{TimeZone, Utc};

    use super::*;

    #[test]
    fn the_feed_parses_back_with_one_entry_per_issue_and_escapes_text() {
        let at = Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap();
        let report = StatusReport {
            schema_version: STATUS_SCHEMA_VERSION,
            revision: 3,
            updated_at: at,
            service: ServiceSummary { stage: "Beta".into(), service_level: "A".into() },
            maturity: vec![],
            work_remaining: vec![],
            known_issues: vec![KnownIssue {
                id: 7,
                title: "Slow <deploys> & more".into(),
                description: "Takes 15–25 minutes.".into(),
                status: IssueStatus::Identified,
                workaround: None,
                opened_at: at,
                updated_at: at,
                components: vec![],
            }],
            overall: app::status::model::ComponentStatus::Operational,
            components: vec![],
            incidents: vec![],
            maintenance: vec![],
        };
        let base = Url::parse("https://berth.example.org/portal/").unwrap();
        let xml = known_issues_feed(&report, &base);
        assert!(xml.contains("Slow &lt;deploys&gt; &amp; more"), "{xml}");
        let feed: atom_syndication::Feed = xml.parse().unwrap();
        assert_eq!(feed.id(), "https://berth.example.org/portal/status");
        assert_eq!(feed.entries().len(), 1);
        let entry = &feed.entries()[0];
        assert_eq!(entry.id(), "https://berth.example.org/portal/status#issue-7");
        assert_eq!(entry.updated().to_rfc3339(), "2026-11-24T10:00:00+00:00");
        assert!(entry.content().and_then(|c| c.value()).unwrap().contains("Workaround: None yet."));
        assert!(feed.links().iter().any(|link| link.rel() == "self"));
    }
}
