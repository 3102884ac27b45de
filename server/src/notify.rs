//! Telling subscribers and webhooks about status events. An event row is written with the incident or maintenance
//! change that causes it, with a job that fans it out here: one delivery job per webhook, and the subscribers' mail
//! into the outbox in batches (each batch one transaction, each subscriber at most once per event, so a fan-out cut
//! short by a crash is finished by its retry). A webhook delivery is a JSON POST signed with HMAC-SHA256 over the
//! timestamp and the body; each attempt is logged with its answer, and a failure is retried with the job's backoff.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use app::auth::ssr::{MailNotice, MailRenderer, OutgoingMail};
use app::email::EmailAddress;
use app::error::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Subscribers read (and mailed) per transaction.
pub const MAIL_BATCH: u32 = 500;
/// How long a webhook may take to answer.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// A status event, as the fan-out reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusEvent {
    /// Id.
    pub id: i64,
    /// `incident.opened`, `incident.updated`, `incident.resolved`, `maintenance.scheduled`, `maintenance.cancelled`.
    pub kind: String,
    /// The incident's or window's id.
    pub subject_id: i64,
    /// Its title.
    pub title: String,
    /// The incident's status after the change.
    pub status: Option<String>,
    /// The update's message, or the window's description.
    pub message: String,
    /// The affected components: id and name.
    pub components: Vec<(i64, String)>,
    /// A window's start and end.
    pub window: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// When it happened.
    pub at: DateTime<Utc>,
}

/// A confirmed subscriber, as the fan-out reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// Id.
    pub id: i64,
    /// Address.
    pub email: String,
    /// Their links' token.
    pub token: String,
    /// Components they hear about (empty: all).
    pub components: Vec<i64>,
}

/// A delivery to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryWork {
    /// The delivery.
    pub id: i64,
    /// Where to POST.
    pub url: String,
    /// The signing secret.
    pub secret: String,
    /// Whether it is done already, or its webhook was removed.
    pub finished: bool,
    /// The event.
    pub event: StatusEvent,
}

/// What the fan-out and delivery jobs read and write.
#[async_trait]
pub trait NotifyStore: Send + Sync {
    /// Event `id`, if it exists.
    async fn status_event(&self, id: i64) -> Result<Option<StatusEvent>, StoreError>;

    /// A delivery (and its job) for each webhook not removed that has none for event `id`; returns how many.
    async fn queue_webhook_deliveries(&self, event_id: i64, now: DateTime<Utc>) -> Result<usize, StoreError>;

    /// Up to `limit` confirmed, subscribed recipients with ids above `after`, by id.
    async fn recipients_after(&self, after: i64, limit: u32) -> Result<Vec<Recipient>, StoreError>;

    /// Queues `mails` (recipient id, message) for event `event_id` in one transaction, skipping recipients mailed
    /// about it before; returns how many were queued.
    async fn queue_event_mails(
        &self,
        event_id: i64,
        mails: &[(i64, OutgoingMail)],
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError>;

    /// Delivery `id` with its webhook and event.
    async fn webhook_delivery(&self, id: i64) -> Result<Option<DeliveryWork>, StoreError>;

    /// Logs an attempt of delivery `id`: the answer's status code, or the error; a 2xx answer finishes it.
    async fn record_attempt(
        &self,
        id: i64,
        status_code: Option<u16>,
        error: Option<&str>,
        duration: Duration,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}

/// Why a delivery did not succeed (the job retries it).
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No usable answer.
    #[error("the webhook at {url} answered {outcome}")]
    Refused {
        /// Where.
        url: String,
        /// "HTTP 500" or the error.
        outcome: String,
    },
}

/// Fans event `event_id` out to webhooks and subscribers. Returns the number of messages queued.
pub async fn fan_out(
    store: &dyn NotifyStore,
    mail: &dyn MailRenderer,
    base_url: &str,
    event_id: i64,
) -> Result<usize, StoreError> {
    let Some(event) = store.status_event(event_id).await? else { return Ok(0) };
    let hooks = store.queue_webhook_deliveries(event_id, Utc::now()).await?;
    let (mut after, mut queued) = (0, 0);
    loop {
        let recipients = store.recipients_after(after, MAIL_BATCH).await?;
        let Some(last) = recipients.last() else { break };
        after = last.id;
        let mails: Vec<(i64, OutgoingMail)> = recipients
            .iter()
            .filter(|recipient| {
                recipient.components.is_empty()
                    || event.components.iter().any(|(id, _)| recipient.components.contains(id))
            })
            .filter_map(|recipient| {
                let to = EmailAddress::parse(&recipient.email).ok()?;
                Some((recipient.id, event_mail(mail, base_url, &event, &to, &recipient.token)))
            })
            .collect();
        queued += store.queue_event_mails(event_id, &mails, Utc::now()).await?;
    }
    tracing::info!(event = event_id, kind = %event.kind, webhooks = hooks, mails = queued, "status event fanned out");
    Ok(queued)
}

/// The message to one subscriber.
fn event_mail(
    mail: &dyn MailRenderer,
    base_url: &str,
    event: &StatusEvent,
    to: &EmailAddress,
    token: &str,
) -> OutgoingMail {
    let affected = event.components.iter().map(|(_, name)| name.as_str()).collect::<Vec<_>>().join(", ");
    let (subject, path) = match event.kind.as_str() {
        "maintenance.scheduled" => (format!("Maintenance: {}", event.title), "/status".to_owned()),
        "maintenance.cancelled" => (format!("Maintenance cancelled: {}", event.title), "/status".to_owned()),
        kind => {
            let status = event.status.as_deref().map(status_words).unwrap_or_default();
            let word = if kind == "incident.opened" { "Incident" } else { "Update" };
            (format!("{word}: {} ({status})", event.title), format!("/status#incident-{}", event.subject_id))
        }
    };
    let mut paragraphs = vec![event.message.clone()];
    if let Some((starts, ends)) = event.window {
        paragraphs.push(format!(
            "From {} to {} UTC.",
            starts.format("%-d %B %Y %H:%M"),
            ends.format("%-d %B %Y %H:%M")
        ));
    }
    if !affected.is_empty() {
        paragraphs.push(format!("Affects: {affected}."));
    }
    paragraphs.push(format!("To stop these messages: {base_url}/status/unsubscribe?token={token}"));
    let notice = MailNotice { subject, paragraphs, path, link_label: "The status page".to_owned() };
    OutgoingMail {
        list_unsubscribe: Some(format!("{base_url}/status/unsubscribe/one-click?token={token}")),
        ..mail.notice(to, &notice)
    }
}

fn status_words(status: &str) -> &'static str {
    match status {
        "investigating" => "investigating",
        "identified" => "cause identified",
        "monitoring" => "fix applied, monitoring",
        "resolved" => "resolved",
        _ => "updated",
    }
}

/// The JSON body of a webhook delivery.
pub fn event_json(event: &StatusEvent, base_url: &str) -> String {
    let components: Vec<&str> = event.components.iter().map(|(_, name)| name.as_str()).collect();
    let subject = match event.window {
        Some((starts, ends)) => serde_json::json!({ "maintenance": {
            "id": event.subject_id,
            "title": event.title,
            "description": event.message,
            "starts_at": starts,
            "ends_at": ends,
            "components": components,
            "url": format!("{base_url}/status"),
        }}),
        None => serde_json::json!({ "incident": {
            "id": event.subject_id,
            "title": event.title,
            "status": event.status,
            "message": event.message,
            "components": components,
            "url": format!("{base_url}/status#incident-{}", event.subject_id),
        }}),
    };
    let mut body = serde_json::json!({ "id": event.id, "type": event.kind, "created_at": event.at });
    if let (Some(body), serde_json::Value::Object(subject)) = (body.as_object_mut(), subject) {
        body.extend(subject);
    }
    body.to_string()
}

/// The `Berth-Signature` header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>`.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        unreachable!("HMAC takes a key of any length")
    };
    mac.update(format!("{timestamp}.{body}").as_bytes());
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("t={timestamp},v1={hex}")
}

/// Makes one attempt of delivery `id`. `Ok(true)`: delivered (or nothing to do); an error is retried by the job.
pub async fn deliver(
    store: &dyn NotifyStore,
    client: &reqwest::Client,
    base_url: &str,
    id: i64,
) -> Result<bool, DeliveryError> {
    let Some(work) = store.webhook_delivery(id).await? else { return Ok(true) };
    if work.finished {
        return Ok(true);
    }
    let body = event_json(&work.event, base_url);
    let now = Utc::now();
    let started = Instant::now();
    let answer = client
        .post(&work.url)
        .timeout(WEBHOOK_TIMEOUT)
        .header("content-type", "application/json")
        .header("user-agent", "Berth-Webhook/1")
        .header("berth-event", &work.event.kind)
        .header("berth-delivery", work.id.to_string())
        .header("berth-signature", signature(&work.secret, now.timestamp(), &body))
        .body(body)
        .send()
        .await;
    let duration = started.elapsed();
    let (code, error) = match &answer {
        Ok(response) => (Some(response.status().as_u16()), None),
        // Without the URL: it may carry a token of the receiver's.
        Err(error) => (None, Some(reqwest_error_words(error))),
    };
    store.record_attempt(id, code, error.as_deref(), duration, Utc::now()).await?;
    match code {
        Some(200..=299) => Ok(true),
        _ => Err(DeliveryError::Refused {
            url: work.url.split('?').next().unwrap_or_default().to_owned(),
            outcome: code.map_or_else(|| error.unwrap_or_default(), |code| format!("HTTP {code}")),
        }),
    }
}

fn reqwest_error_words(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "could not connect".to_owned()
    } else {
        "request failed".to_owned()
    }
}

/// Components `ids` with their names, for events.
pub fn names_of(ids: &[i64], names: &BTreeMap<i64, String>) -> Vec<(i64, String)> {
    ids.iter().map(|&id| (id, names.get(&id).cloned().unwrap_or_else(|| format!("component {id}")))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_an_hmac_of_the_timestamp_and_body() {
        // The expected value is from Python: hmac.new(b"secret", b"1700000000.{\"a\":1}", hashlib.sha256).
        assert_eq!(
            signature("secret", 1_700_000_000, "{\"a\":1}"),
            "t=1700000000,v1=49f24e537407743fa4a0242bb63b94b9a47ee99cbbe071ccd8a22550ae411686"
        );
    }

    #[test]
    fn component_ids_become_names() {
        let names = BTreeMap::from([(1, "API".to_owned())]);
        assert_eq!(names_of(&[1, 7], &names), vec![(1, "API".to_owned()), (7, "component 7".to_owned())]);
        assert!(names_of(&[], &names).is_empty());
    }
}
