//! The webhook backend: each change is POSTed as JSON to a configured URL, signed with HMAC-SHA256. A 2xx answer
//! means done; anything else (or no answer within the timeout) is retried by the job queue.
//!
//! The request:
//! - `Berth-Delivery`: `project-ID-generation-G`, the same for every attempt at one change (receivers dedupe on it);
//! - `Berth-Timestamp`: seconds since the Unix epoch when the request was signed;
//! - `Berth-Signature`: `v1=` and the lower-case hex HMAC-SHA256, keyed with the shared secret, of
//!   `TIMESTAMP.BODY` (the timestamp header, a full stop, and the body's bytes). Receivers recompute it, compare in
//!   constant time, and refuse timestamps more than a few minutes old.
//!
//! The body: `{"action": "provision" | "deprovision", "delivery_id": …, "project": {"id", "name", "generation"},
//! "namespace": …, "objects": [every manifest, namespace first]}` (`objects` is empty for `deprovision`).

use std::time::Duration;

use app::projects::ssr::desired::DesiredState;
use async_trait::async_trait;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use super::{Action, ApplyContext, ProvisionError, Provisioner};
use crate::config::Secret;

/// Header with the delivery id.
pub const DELIVERY_HEADER: &str = "Berth-Delivery";
/// Header with the signing time.
pub const TIMESTAMP_HEADER: &str = "Berth-Timestamp";
/// Header with the signature.
pub const SIGNATURE_HEADER: &str = "Berth-Signature";

/// Sends each change to a URL.
pub struct WebhookProvisioner {
    url: url::Url,
    secret: Secret,
    client: reqwest::Client,
}

impl std::fmt::Debug for WebhookProvisioner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookProvisioner").field("url", &self.url.as_str()).field("secret", &self.secret).finish()
    }
}

/// The `Berth-Signature` value of `body` signed at `timestamp` with `secret`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("v1={hex}")
}

impl WebhookProvisioner {
    /// Posts to `url`, signing with `secret`, waiting at most `timeout` for an answer.
    pub fn new(url: url::Url, secret: Secret, timeout: Duration) -> Self {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("a client with a timeout builds");
        Self { url, secret, client }
    }

    async fn send(
        &self,
        action: Action,
        namespace: &str,
        desired: Option<&DesiredState>,
        context: &ApplyContext,
    ) -> Result<(), ProvisionError> {
        let objects: Vec<serde_json::Value> =
            desired.map(|desired| desired.manifests().into_iter().map(|m| m.body).collect()).unwrap_or_default();
        let body = json!({
            "action": action.as_str(),
            "delivery_id": context.delivery_id,
            "project": { "id": context.project_id, "name": namespace, "generation": context.generation },
            "namespace": namespace,
            "objects": objects,
        })
        .to_string();
        let timestamp = chrono::Utc::now().timestamp();
        let response = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(DELIVERY_HEADER, &context.delivery_id)
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, signature(self.secret.expose(), timestamp, body.as_bytes()))
            .body(body)
            .send()
            .await
            .map_err(|error| {
                // reqwest's message names the URL, never the secret (which travels only in the signature).
                let what = if error.is_timeout() { "did not answer in time" } else { "could not be reached" };
                ProvisionError::Transient(format!(
                    "the provisioning webhook {what}: {}",
                    app::error::cause_chain(&error)
                ))
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let text: String = response.text().await.unwrap_or_default().chars().take(300).collect();
        Err(ProvisionError::Transient(format!("the provisioning webhook answered {status}: {}", text.trim())))
    }
}

#[async_trait]
impl Provisioner for WebhookProvisioner {
    fn backend(&self) -> &'static str {
        "webhook"
    }

    async fn apply(&self, desired: &DesiredState, context: &ApplyContext) -> Result<(), ProvisionError> {
        self.send(Action::Provision, desired.namespace_name(), Some(desired), context).await
    }

    async fn remove(&self, namespace: &str, context: &ApplyContext) -> Result<(), ProvisionError> {
        self.send(Action::Deprovision, namespace, None, context).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Computed independently: Python's hmac.new(b"key", b"1700000000.{}", hashlib.sha256).hexdigest().
        assert_eq!(
            signature("key", 1_700_000_000, b"{}"),
            "v1=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
        );
        assert_ne!(signature("key", 1_700_000_001, b"{}"), signature("key", 1_700_000_000, b"{}"));
        assert_ne!(signature("other", 1_700_000_000, b"{}"), signature("key", 1_700_000_000, b"{}"));
    }

    #[test]
    fn debug_hides_the_secret() {
        let hook = WebhookProvisioner::new(
            "http://127.0.0.1:9/hook".parse().unwrap(),
            Secret::new("s3cr3t-value"),
            Duration::from_secs(1),
        );
        assert!(!format!("{hook:?}").contains("s3cr3t"));
    }
}
