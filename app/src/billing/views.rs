//! What people see of usage and billing: the project page's cost section and the admins' usage collectors.

use leptos::prelude::*;

use super::{CreateCollector, ProjectBilling, RevokeCollector, get_collectors, get_project_billing};
use crate::components::ErrorNotice;

/// The project page's "Usage and cost" section: quota against the latest usage as bars, and BU this month and last.
#[component]
pub fn ProjectCostSection(name: String) -> impl IntoView {
    let billing = Resource::new_blocking(move || name.clone(), get_project_billing);
    view! {
        <section class="card" aria-labelledby="cost-heading">
            <h2 id="cost-heading">"Usage and cost"</h2>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match billing.await {
                        Ok(billing) => view! { <CostFigures billing/> }.into_any(),
                        Err(error) => view! { <ErrorNotice error/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn CostFigures(billing: ProjectBilling) -> impl IntoView {
    let usage_caption = billing
        .usage_at
        .clone()
        .map_or_else(|| "No usage has been reported yet.".to_owned(), |at| format!("Usage in the hour from {at}."));
    view! {
        <dl class="facts">
            <dt>{format!("BU in {}", billing.this_month_label)}</dt><dd class="amount">{billing.this_month.to_string()}</dd>
            <dt>"BU last month"</dt><dd class="amount">{billing.last_month.to_string()}</dd>
            <dt>"The quota, reserved"</dt>
            <dd>{format!("{} per hour, {} per month", billing.reserved_per_hour, billing.reserved_per_month)}</dd>
        </dl>
        <table class="data usage">
            <caption>{usage_caption}</caption>
            <thead><tr>
                <th scope="col">"Resource"</th><th scope="col">"Quota"</th><th scope="col">"Used"</th>
                <th scope="col">"Of the quota"</th>
            </tr></thead>
            <tbody>
                {billing.usage.into_iter().map(|bar| {
                    let width = bar.percent.map_or(0, |percent| percent.min(100));
                    let over = bar.percent.is_some_and(|percent| percent > 100);
                    view! {
                        <tr>
                            <th scope="row">{bar.resource.label()}</th>
                            <td>{bar.quota}</td>
                            <td>{bar.used.unwrap_or_else(|| "not known".to_owned())}</td>
                            <td>
                                <span class="bar" class:over=over aria-hidden="true">
                                    <span style=format!("width: {width}%")></span>
                                </span>
                                {bar.percent.map(|percent| format!(" {percent}%"))}
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        <p class="hint">"Each hour is charged the larger of what the project used and what its quota reserves, resource by resource."</p>
    }
}

/// The admins' usage collectors: add one (its token is shown once) and revoke one.
#[component]
pub fn CollectorsSection() -> impl IntoView {
    let create = ServerAction::<CreateCollector>::new();
    let revoke = ServerAction::<RevokeCollector>::new();
    let collectors =
        Resource::new_blocking(move || (create.version().get(), revoke.version().get()), |_| get_collectors());
    let name_error = move || create.value().get().and_then(Result::err).and_then(|error| error.for_field("name"));
    view! {
        <section class="card" aria-labelledby="collectors-heading">
            <h2 id="collectors-heading">"Usage collectors"</h2>
            <p>"A collector sends usage samples to " <code>"POST /api/v1/usage"</code> " with its token as a bearer token."</p>
            {move || create.value().get().and_then(Result::ok).map(|token| view! {
                <div class="notice" role="status">
                    <p>"The new collector's token, shown only now:"</p>
                    <p><code class="token">{token}</code></p>
                </div>
            })}
            <ActionForm action=create attr:class="inline">
                <label for="collector-name">"Name"</label>
                <input id="collector-name" name="name" maxlength="100" required=true
                    aria-invalid=move || name_error().map(|_| "true") aria-describedby="collector-name-error"/>
                <button type="submit">"Add collector"</button>
                {move || name_error().map(|message| view! { <p id="collector-name-error" class="field-error">{message}</p> })}
            </ActionForm>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match collectors.await {
                        Ok(list) if list.is_empty() => view! { <p>"No collectors yet."</p> }.into_any(),
                        Ok(list) => view! {
                            <table class="data stacked">
                                <thead><tr>
                                    <th scope="col">"Name"</th><th scope="col">"Added"</th>
                                    <th scope="col">"Last push"</th><th scope="col">"Token"</th>
                                </tr></thead>
                                <tbody>
                                    {list.into_iter().map(|collector| view! {
                                        <tr>
                                            <td data-label="Name">{collector.name}</td>
                                            <td data-label="Added">{format!("{} by {}", collector.created_at.format("%Y-%m-%d %H:%M UTC"), collector.created_by)}</td>
                                            <td data-label="Last push">{collector.last_used_at.map_or_else(|| "never".to_owned(), |at| at.format("%Y-%m-%d %H:%M UTC").to_string())}</td>
                                            <td data-label="Token">{match collector.revoked_at {
                                                Some(at) => format!("revoked {}", at.format("%Y-%m-%d %H:%M UTC")).into_any(),
                                                None => view! {
                                                    <ActionForm action=revoke attr:class="inline">
                                                        <input type="hidden" name="id" value=collector.id.to_string()/>
                                                        <button type="submit" class="danger">"Revoke"</button>
                                                    </ActionForm>
                                                }.into_any(),
                                            }}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                        Err(error) => view! { <ErrorNotice error/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
