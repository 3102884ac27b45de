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
            }],
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
