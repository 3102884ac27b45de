//! Being told about incidents and maintenance: e-mail subscriptions with double opt-in (`/status/subscribe`, the
//! confirmation and unsubscribe pages; every message also carries RFC 8058 one-click unsubscribe headers), and
//! outbound webhooks that admins register under `/admin/status/webhooks`. The fan-out itself is a job on the server.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::components::{ErrorNotice, FieldError, field_message, other_error};
use crate::error::AppError;

/// The subscription form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscribeForm {
    /// The address to send to.
    #[serde(default)]
    pub email: String,
    /// Components to hear about (keys: ids; a checked box sends "on"); none checked: all of them.
    #[serde(default)]
    pub components: std::collections::BTreeMap<String, String>,
}

/// The webhook registration form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookForm {
    /// Where to POST (http or https).
    #[serde(default)]
    pub url: String,
    /// What it is for.
    #[serde(default)]
    pub description: String,
}

/// A registered webhook as admins see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEntry {
    /// Id.
    pub id: i64,
    /// Where it POSTs.
    pub url: String,
    /// What it is for.
    pub description: String,
    /// Its recent deliveries, newest first.
    pub deliveries: Vec<DeliveryEntry>,
}

/// A delivery of an event to a webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryEntry {
    /// The event ("incident.opened").
    pub event: String,
    /// When the event happened, in words.
    pub at: String,
    /// Attempts so far.
    pub attempts: i64,
    /// The last response's status code, or the last error, or "waiting".
    pub outcome: String,
    /// Whether it was delivered (a 2xx answer).
    pub delivered: bool,
}

/// The admins' webhooks page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhooksView {
    /// Registered webhooks.
    pub webhooks: Vec<WebhookEntry>,
}

#[cfg(feature = "ssr")]
use crate::ssr::{app_state, respond_with_error, signed_in_admin};

/// The components a visitor may choose from (anyone).
#[server(prefix = "/api", endpoint = "status_subscribe_choices")]
pub async fn get_subscribe_choices() -> Result<Vec<(i64, String)>, AppError> {
    let state = app_state()?;
    state.status.component_choices().await.map_err(respond_with_error)
}

/// Asks for a subscription; a confirmation link is mailed (anyone). The answer is the same whether or not the address
/// was subscribed already, so that it tells nobody who is.
#[server(prefix = "/api", endpoint = "status_subscribe")]
pub async fn subscribe(form: SubscribeForm) -> Result<(), AppError> {
    let state = app_state()?;
    state.notifications.subscribe(&form).await.map_err(respond_with_error)
}

/// Confirms a subscription by the token in its link (anyone with the link).
#[server(prefix = "/api", endpoint = "status_subscription_confirm")]
pub async fn confirm_subscription(token: String) -> Result<(), AppError> {
    let state = app_state()?;
    state.notifications.confirm(&token).await.map_err(respond_with_error)
}

/// Ends a subscription by the token in its messages (anyone with the link).
#[server(prefix = "/api", endpoint = "status_unsubscribe")]
pub async fn unsubscribe(token: String) -> Result<(), AppError> {
    let state = app_state()?;
    state.notifications.unsubscribe(&token).await.map_err(respond_with_error)
}

/// The webhooks and their recent deliveries (admins only).
#[server(prefix = "/api", endpoint = "admin_webhooks")]
pub async fn get_webhooks() -> Result<WebhooksView, AppError> {
    let (state, auth, _) = signed_in_admin()?;
    state.notifications.webhooks(&auth.user).await.map_err(respond_with_error)
}

/// Registers a webhook; returns the signing secret, shown once (admins only).
#[server(prefix = "/api", endpoint = "admin_webhook_add")]
pub async fn add_webhook(form: WebhookForm) -> Result<String, AppError> {
    let (state, auth, request) = signed_in_admin()?;
    state.notifications.add_webhook(&auth.user, &form, &request).await.map_err(respond_with_error)
}

/// Removes a webhook (admins only).
#[server(prefix = "/api", endpoint = "admin_webhook_remove")]
pub async fn remove_webhook(id: i64) -> Result<(), AppError> {
    let (state, auth, request) = signed_in_admin()?;
    state.notifications.remove_webhook(&auth.user, id, &request).await.map_err(respond_with_error)
}

/// `/status/subscribe`.
#[component]
pub fn SubscribePage() -> impl IntoView {
    let action = ServerAction::<Subscribe>::new();
    let choices = Resource::new_blocking(|| (), |()| get_subscribe_choices());
    let email_error = field_message(action, "email");
    view! {
        <Title text="Subscribe to status updates"/>
        <h1>"Subscribe to status updates"</h1>
        <p>"Get an e-mail when an incident is opened, updated or resolved, and when maintenance is announced. \
            You confirm the address first; every message has a link to stop them."</p>
        {move || action.value().get().map(|result| match result {
            Ok(()) => view! {
                <p class="notice" role="status">"Check your inbox: follow the link in the message to confirm."</p>
            }.into_any(),
            Err(AppError::Invalid { .. } | AppError::InvalidFields { .. }) => ().into_any(),
            Err(error) => view! { <ErrorNotice error/> }.into_any(),
        })}
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let choices = choices.await.unwrap_or_default();
                view! {
                    <ActionForm action attr:class="stack card">
                        <label for="subscribe-email">"E-mail address"</label>
                        <input id="subscribe-email" name="form[email]" type="email" required=true maxlength="254"
                            autocomplete="email" aria-describedby="subscribe-email-error"/>
                        <FieldError id="subscribe-email-error".to_owned() message=email_error/>
                        <fieldset>
                            <legend>"Only these components (none ticked: all)"</legend>
                            {choices.into_iter().map(|(id, name)| view! {
                                <label class="check"><input type="checkbox" name=format!("form[components][{id}]")/> " " {name}</label>
                            }).collect_view()}
                        </fieldset>
                        <button type="submit">"Subscribe"</button>
                    </ActionForm>
                }
            })}
        </Suspense>
    }
}

/// `/status/subscribe/confirm?token=…`: a button, so that a mail scanner following the link confirms nothing.
#[component]
pub fn ConfirmSubscriptionPage() -> impl IntoView {
    let action = ServerAction::<ConfirmSubscription>::new();
    let query = use_query_map();
    let token = move || query.with(|query| query.get("token").unwrap_or_default());
    view! {
        <Title text="Confirm your subscription"/>
        <h1>"Confirm your subscription"</h1>
        {move || match action.value().get() {
            Some(Ok(())) => view! { <p class="notice" role="status">"Subscribed. You will hear of incidents and maintenance."</p> }.into_any(),
            Some(Err(error)) => view! { <ErrorNotice error/> }.into_any(),
            None => view! {
                <ActionForm action attr:class="stack">
                    <input type="hidden" name="token" value=token/>
                    <button type="submit">"Confirm"</button>
                </ActionForm>
            }.into_any(),
        }}
    }
}

/// `/status/unsubscribe?token=…`.
#[component]
pub fn UnsubscribePage() -> impl IntoView {
    let action = ServerAction::<Unsubscribe>::new();
    let query = use_query_map();
    let token = move || query.with(|query| query.get("token").unwrap_or_default());
    view! {
        <Title text="Unsubscribe"/>
        <h1>"Stop status e-mails"</h1>
        {move || match action.value().get() {
            Some(Ok(())) => view! { <p class="notice" role="status">"Done: no more status e-mails go to this address."</p> }.into_any(),
            Some(Err(error)) => view! { <ErrorNotice error/> }.into_any(),
            None => view! {
                <ActionForm action attr:class="stack">
                    <input type="hidden" name="token" value=token/>
                    <button type="submit">"Unsubscribe"</button>
                </ActionForm>
            }.into_any(),
        }}
    }
}

/// `/admin/status/webhooks`.
#[component]
pub fn WebhooksPage() -> impl IntoView {
    let add = ServerAction::<AddWebhook>::new();
    let remove = ServerAction::<RemoveWebhook>::new();
    let page = Resource::new_blocking(move || (add.version().get(), remove.version().get()), |_| get_webhooks());
    let url_error = field_message(add, "url");
    view! {
        <Title text="Status webhooks"/>
        <h1>"Status webhooks"</h1>
        <p>
            "Each incident change and maintenance announcement is POSTed as JSON to every webhook, signed: the "
            <code>"Berth-Signature"</code> " header is " <code>"t=<unix time>,v1=<hex HMAC-SHA256 of \"t.body\">"</code>
            " with the webhook's secret. A delivery that does not get a 2xx answer is retried with backoff."
        </p>
        <p><a href="/admin/status">"Status operations"</a></p>
        {move || other_error(remove)().map(|error| view! { <ErrorNotice error/> })}
        <section class="card" aria-labelledby="add-webhook-heading">
            <h2 id="add-webhook-heading">"Add a webhook"</h2>
            {move || add.value().get().and_then(Result::ok).map(|secret| view! {
                <p class="notice" role="status">"Added. Its signing secret, shown only now: " <code class="secret">{secret}</code></p>
            })}
            {move || other_error(add)().map(|error| view! { <ErrorNotice error/> })}
            <ActionForm action=add attr:class="stack">
                <label for="webhook-url">"URL"</label>
                <input id="webhook-url" name="form[url]" type="url" required=true maxlength="2000" aria-describedby="webhook-url-error"/>
                <FieldError id="webhook-url-error".to_owned() message=url_error/>
                <label for="webhook-description">"What it is for"</label>
                <input id="webhook-description" name="form[description]" maxlength="200"/>
                <button type="submit">"Add"</button>
            </ActionForm>
        </section>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(WebhooksView { webhooks }) if webhooks.is_empty() => view! { <p>"No webhooks."</p> }.into_any(),
                    Ok(WebhooksView { webhooks }) => webhooks.into_iter().map(|hook| view! {
                        <article class="card" id=format!("webhook-{}", hook.id)>
                            <h3>{hook.url}</h3>
                            <p class="hint">{hook.description}</p>
                            <table>
                                <thead><tr><th scope="col">"Event"</th><th scope="col">"When"</th><th scope="col">"Attempts"</th><th scope="col">"Outcome"</th></tr></thead>
                                <tbody>{hook.deliveries.into_iter().map(|delivery| view! {
                                    <tr class=if delivery.delivered { "delivered" } else { "pending" }>
                                        <td>{delivery.event}</td><td>{delivery.at}</td><td>{delivery.attempts}</td><td>{delivery.outcome}</td>
                                    </tr>
                                }).collect_view()}</tbody>
                            </table>
                            <ActionForm action=remove attr:class="inline">
                                <input type="hidden" name="id" value=hook.id.to_string()/>
                                <button type="submit" class="danger">"Remove"</button>
                            </ActionForm>
                        </article>
                    }).collect_view().into_any(),
                    Err(error) => view! { <ErrorNotice error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[cfg(feature = "ssr")]
pub mod ssr {
    //! The store contract and the service behind subscriptions and webhooks.

    use std::sync::Arc;

    use async_trait::async_trait;
    use chrono::{DateTime, Duration, Utc};

    use super::{DeliveryEntry, SubscribeForm, WebhookEntry, WebhookForm, WebhooksView};
    use crate::auth::ssr::{MailNotice, MailRenderer, NewAuditEntry, OutgoingMail, RequestInfo, User, require_admin};
    use crate::email::EmailAddress;
    use crate::error::{AppError, StoreError};
    use crate::status::ssr::StatusService;

    /// A confirmation message is sent to one address at most this often.
    pub const CONFIRM_RESEND: Duration = Duration::minutes(10);
    /// Deliveries shown per webhook.
    pub const DELIVERIES_SHOWN: u32 = 20;

    /// A subscriber.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct SubscriberRecord {
        /// Id.
        pub id: i64,
        /// Their address.
        pub email: String,
        /// The token of their links.
        pub token: String,
        /// Components they hear about; empty: all.
        pub components: Vec<i64>,
        /// When the last confirmation message was queued.
        pub confirm_sent_at: Option<DateTime<Utc>>,
        /// When they confirmed.
        pub confirmed_at: Option<DateTime<Utc>>,
        /// When they unsubscribed.
        pub unsubscribed_at: Option<DateTime<Utc>>,
    }

    /// A webhook.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct WebhookRecord {
        /// Id.
        pub id: i64,
        /// Where it POSTs.
        pub url: String,
        /// What it is for.
        pub description: String,
    }

    /// A delivery.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct DeliveryRecord {
        /// The webhook.
        pub webhook_id: i64,
        /// The event's kind.
        pub event: String,
        /// When the event happened.
        pub at: DateTime<Utc>,
        /// Attempts so far.
        pub attempts: i64,
        /// The last answer's status code.
        pub last_status: Option<i64>,
        /// The last failure without an answer.
        pub last_error: Option<String>,
        /// When a 2xx answer came.
        pub delivered_at: Option<DateTime<Utc>>,
    }

    /// Storage of subscribers and webhooks.
    #[async_trait]
    pub trait NotificationStore: Send + Sync + 'static {
        /// The subscriber with `email`, if any.
        async fn subscriber_by_email(&self, email: &str) -> Result<Option<SubscriberRecord>, StoreError>;

        /// Records a (pending) subscription for `email` with `token` and `components` (keeping the token of an
        /// existing row), and queues `mail`, in one transaction.
        async fn request_subscription(
            &self,
            email: &str,
            token: &str,
            components: &[i64],
            mail: &OutgoingMail,
            now: DateTime<Utc>,
        ) -> Result<(), StoreError>;

        /// Confirms the subscription with `token` (and takes back an earlier unsubscribe); false when unknown.
        async fn confirm_subscription(&self, token: &str, now: DateTime<Utc>) -> Result<bool, StoreError>;

        /// Ends the subscription with `token`; false when unknown (ending an ended one is true).
        async fn unsubscribe(&self, token: &str, now: DateTime<Utc>) -> Result<bool, StoreError>;

        /// Registers a webhook with `audit`; returns its id.
        async fn add_webhook(
            &self,
            url: &str,
            secret: &str,
            description: &str,
            audit: &NewAuditEntry,
        ) -> Result<i64, StoreError>;

        /// Removes a webhook with `audit`; false when there is none.
        async fn remove_webhook(&self, id: i64, audit: &NewAuditEntry) -> Result<bool, StoreError>;

        /// The webhooks not removed, oldest first.
        async fn webhooks(&self) -> Result<Vec<WebhookRecord>, StoreError>;

        /// Up to `per_webhook` most recent deliveries of each webhook not removed.
        async fn recent_deliveries(&self, per_webhook: u32) -> Result<Vec<DeliveryRecord>, StoreError>;
    }

    /// Subscriptions and webhooks.
    pub struct NotificationService {
        store: Arc<dyn NotificationStore>,
        status: Arc<StatusService>,
        mail: Arc<dyn MailRenderer>,
    }

    impl std::fmt::Debug for NotificationService {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("NotificationService").finish_non_exhaustive()
        }
    }

    impl NotificationService {
        /// A service over `store`; components come from `status`; mail is rendered by `mail`.
        pub fn new(store: Arc<dyn NotificationStore>, status: Arc<StatusService>, mail: Arc<dyn MailRenderer>) -> Self {
            Self { store, status, mail }
        }

        /// Queues a confirmation message unless the address is subscribed already or was sent one in the last
        /// [`CONFIRM_RESEND`]; the visitor is told the same either way.
        pub async fn subscribe(&self, form: &SubscribeForm) -> Result<(), AppError> {
            let email = EmailAddress::parse(form.email.trim())
                .map_err(|_| AppError::invalid("email", "Enter an e-mail address such as name@example.org."))?;
            let components = self.status.chosen_components(form.components.keys()).await?;
            let now = Utc::now();
            let existing = self.store.subscriber_by_email(email.as_str()).await?;
            if let Some(subscriber) = &existing {
                let active = subscriber.confirmed_at.is_some() && subscriber.unsubscribed_at.is_none();
                let recently = subscriber.confirm_sent_at.is_some_and(|sent| now - sent < CONFIRM_RESEND);
                if active || recently {
                    return Ok(());
                }
            }
            let token = match existing {
                Some(subscriber) => subscriber.token,
                None => crate::auth::ssr::new_token(),
            };
            let mail = self.mail.notice(
                &email,
                &MailNotice {
                    subject: "Confirm your status subscription".to_owned(),
                    paragraphs: vec![
                        "Someone, probably you, asked for e-mail about incidents and maintenance of the service."
                            .to_owned(),
                        "Confirm with the link below. If it was not you, ignore this message: nothing will be sent."
                            .to_owned(),
                    ],
                    path: format!("/status/subscribe/confirm?token={token}"),
                    link_label: "Confirm the subscription".to_owned(),
                },
            );
            self.store.request_subscription(email.as_str(), &token, &components, &mail, now).await?;
            Ok(())
        }

        /// Confirms the subscription of `token`.
        pub async fn confirm(&self, token: &str) -> Result<(), AppError> {
            if self.store.confirm_subscription(token.trim(), Utc::now()).await? {
                Ok(())
            } else {
                Err(AppError::Conflict { message: "This link is not valid. Subscribe again to get a new one.".into() })
            }
        }

        /// Ends the subscription of `token`.
        pub async fn unsubscribe(&self, token: &str) -> Result<(), AppError> {
            if self.store.unsubscribe(token.trim(), Utc::now()).await? {
                Ok(())
            } else {
                Err(AppError::Conflict { message: "This link is not valid; nothing was changed.".into() })
            }
        }

        /// The webhooks and their recent deliveries (admins only).
        pub async fn webhooks(&self, admin: &User) -> Result<WebhooksView, AppError> {
            require_admin(admin)?;
            let deliveries = self.store.recent_deliveries(DELIVERIES_SHOWN).await?;
            let webhooks = self
                .store
                .webhooks()
                .await?
                .into_iter()
                .map(|hook| WebhookEntry {
                    id: hook.id,
                    url: hook.url,
                    description: hook.description,
                    deliveries: deliveries
                        .iter()
                        .filter(|delivery| delivery.webhook_id == hook.id)
                        .map(|delivery| DeliveryEntry {
                            event: delivery.event.clone(),
                            at: crate::status::moment_words(delivery.at),
                            attempts: delivery.attempts,
                            outcome: match (&delivery.last_status, &delivery.last_error) {
                                (Some(code), _) => format!("HTTP {code}"),
                                (None, Some(error)) => error.clone(),
                                (None, None) => "waiting".to_owned(),
                            },
                            delivered: delivery.delivered_at.is_some(),
                        })
                        .collect(),
                })
                .collect();
            Ok(WebhooksView { webhooks })
        }

        /// Registers a webhook and returns its new secret (admins only).
        pub async fn add_webhook(
            &self,
            admin: &User,
            form: &WebhookForm,
            request: &RequestInfo,
        ) -> Result<String, AppError> {
            require_admin(admin)?;
            let url = form.url.trim();
            let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")).unwrap_or_default();
            let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
            if url.len() > 2000 || host.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(AppError::invalid(
                    "url",
                    "Enter an http or https URL, such as https://chat.example.org/hook.",
                ));
            }
            let description = crate::status::ssr::optional_text_field("description", &form.description, 200)?;
            let secret = crate::auth::ssr::new_token();
            let audit = NewAuditEntry::by(admin, "webhook.create", "webhook:new".to_owned(), request)
                .with_details(serde_json::json!({ "url": url }));
            self.store.add_webhook(url, &secret, &description, &audit).await?;
            Ok(secret)
        }

        /// Removes a webhook (admins only).
        pub async fn remove_webhook(&self, admin: &User, id: i64, request: &RequestInfo) -> Result<(), AppError> {
            require_admin(admin)?;
            let audit = NewAuditEntry::by(admin, "webhook.remove", format!("webhook:{id}"), request);
            if self.store.remove_webhook(id, &audit).await? { Ok(()) } else { Err(AppError::NotFound) }
        }
    }
}
