//! `/status/incidents`: past incidents, newest first, and each component's availability over a chosen period
//! against the service level. Public, and a GET form, so that every view of it can be linked to.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use super::{IncidentCard, PageIncident};
use crate::components::ErrorNotice;
use crate::error::AppError;

/// A page of the incident history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryPage {
    /// Incidents, newest first.
    pub incidents: Vec<PageIncident>,
    /// The `before` of the next page, if there is one.
    pub next: Option<i64>,
}

/// Each component's availability over a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AvailabilityView {
    /// First day (YYYY-MM-DD).
    pub from: String,
    /// Last day.
    pub to: String,
    /// Per component: name, percentage (or why there is none), service hours counted, time unavailable, and
    /// whether the target was met.
    pub rows: Vec<(String, String, String, String, bool)>,
    /// The target, in words.
    pub target: String,
    /// The service hours, in words.
    pub hours: String,
}

/// A page of past incidents, older than `before` when given.
#[server(prefix = "/api", endpoint = "status_history")]
pub async fn get_incident_history(before: Option<i64>) -> Result<HistoryPage, AppError> {
    let state = crate::ssr::app_state()?;
    let (incidents, next) = state.status.incident_history(before).await.map_err(crate::ssr::respond_with_error)?;
    Ok(HistoryPage { incidents: incidents.iter().map(super::page_incident).collect(), next })
}

/// Availability of each component from day `from` to day `to` (both included; the last 30 days when empty).
#[server(prefix = "/api", endpoint = "status_availability")]
pub async fn get_availability(from: String, to: String) -> Result<AvailabilityView, AppError> {
    use chrono::Duration;

    let state = crate::ssr::app_state()?;
    let today = chrono::Utc::now().date_naive();
    let from = if from.trim().is_empty() { (today - Duration::days(29)).to_string() } else { from };
    let to = if to.trim().is_empty() { today.to_string() } else { to };
    let table = state.status.availability_between(&from, &to).await.map_err(crate::ssr::respond_with_error)?;
    let hours = |duration: chrono::Duration| {
        let minutes = duration.num_minutes();
        format!("{} h {:02} min", minutes / 60, minutes % 60)
    };
    let target = table.target_milli_percent;
    Ok(AvailabilityView {
        from: table.from.to_string(),
        to: table.to.to_string(),
        rows: table
            .rows
            .iter()
            .map(|(name, figure)| {
                (
                    name.clone(),
                    figure
                        .percent_text()
                        .map_or_else(|| "no service hours".to_owned(), |percent| format!("{percent}%")),
                    hours(figure.counted),
                    hours(figure.unavailable),
                    figure.meets(target),
                )
            })
            .collect(),
        target: format!("{}%", super::availability::milli_percent_text(target)),
        hours: state.status.settings().hours.describe(),
    })
}

/// `/status/incidents`.
#[component]
pub fn IncidentHistoryPage() -> impl IntoView {
    let query = use_query_map();
    let text = move |key: &str| query.read().get(key).unwrap_or_default();
    let before = move || query.read().get("before").and_then(|id| id.parse::<i64>().ok());
    let history = Resource::new_blocking(before, get_incident_history);
    let period = Resource::new_blocking(move || (text("from"), text("to")), |(from, to)| get_availability(from, to));
    view! {
        <Title text="Incident history"/>
        <h1>"Incident history"</h1>
        <p><a href="/status">"Back to the service status"</a></p>
        <section aria-labelledby="availability-heading">
            <h2 id="availability-heading">"Availability"</h2>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let result = period.await;
                    let failed = result.as_ref().err();
                    let field = |name: &'static str| failed.and_then(|error| error.for_field(name));
                    let (from_error, to_error) = (field("from"), field("to"));
                    let other = failed.filter(|_| from_error.is_none() && to_error.is_none()).cloned();
                    view! {
                        <form method="get" action="/status/incidents" class="filters">
                            <div class="field">
                                <label for="from">"From (YYYY-MM-DD)"</label>
                                <input id="from" name="from" type="date" value=text("from")
                                    aria-invalid=from_error.is_some().then_some("true") aria-describedby="from-error"/>
                                <p class="field-error" id="from-error">{from_error}</p>
                            </div>
                            <div class="field">
                                <label for="to">"To (YYYY-MM-DD)"</label>
                                <input id="to" name="to" type="date" value=text("to")
                                    aria-invalid=to_error.is_some().then_some("true") aria-describedby="to-error"/>
                                <p class="field-error" id="to-error">{to_error}</p>
                            </div>
                            <button type="submit">"Show"</button>
                        </form>
                        {other.map(|error| view! { <ErrorNotice error/> })}
                        {result.ok().map(|view| view! { <AvailabilityTable view/> })}
                    }
                })}
            </Suspense>
        </section>
        <section aria-labelledby="history-heading">
            <h2 id="history-heading">"Incidents"</h2>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match history.await {
                        Ok(page) if page.incidents.is_empty() => view! { <p>"No incidents."</p> }.into_any(),
                        Ok(page) => view! {
                            {page.incidents.into_iter().map(|incident| view! { <IncidentCard incident/> }).collect_view()}
                            {page.next.map(|next| view! {
                                <p><a href=format!("/status/incidents?before={next}")>"Older incidents"</a></p>
                            })}
                        }.into_any(),
                        Err(error) => view! { <ErrorNotice error/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn AvailabilityTable(view: AvailabilityView) -> impl IntoView {
    let AvailabilityView { from, to, rows, target, hours } = view;
    view! {
        <table class="data stacked">
            <caption>{format!("From {from} to {to}, within service hours ({hours}), against the target of {target}.")}</caption>
            <thead><tr>
                <th scope="col">"Component"</th><th scope="col">"Available"</th><th scope="col">"Service hours"</th>
                <th scope="col">"Unavailable"</th><th scope="col">"Target"</th>
            </tr></thead>
            <tbody>
                {rows.into_iter().map(|(name, percent, counted, down, meets)| view! {
                    <tr>
                        <th scope="row">{name}</th>
                        <td data-label="Available">{percent}</td>
                        <td data-label="Service hours">{counted}</td>
                        <td data-label="Unavailable">{down}</td>
                        <td data-label="Target">{if meets { "met" } else { "missed" }}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}
