//! `/admin/jobs`.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::{CancelJob, JOB_KINDS, JOB_STATES, JOBS_PAGE, JobQuery, JobState, JobView, RetryJob, get_jobs};
use crate::components::ErrorNotice;

/// The admins' view of background jobs.
#[component]
pub fn AdminJobsPage() -> impl IntoView {
    let query = use_query_map();
    let current = move || {
        let query = query.read();
        JobQuery {
            kind: query.get("kind").unwrap_or_default(),
            state: query.get("state").unwrap_or_default(),
            before: query.get("before").and_then(|before| before.parse().ok()),
        }
    };
    let retry = ServerAction::<RetryJob>::new();
    let cancel = ServerAction::<CancelJob>::new();
    let rows = Resource::new_blocking(
        move || (current(), retry.version().get(), cancel.version().get()),
        |(query, ..)| get_jobs(query),
    );
    let action_error =
        move || retry.value().get().and_then(Result::err).or_else(|| cancel.value().get().and_then(Result::err));
    view! {
        <Title text="Jobs"/>
        <h1>"Background jobs"</h1>
        <p class="lede">"Mail and provisioning run as jobs: each is retried with backoff until it succeeds or runs out of attempts."</p>
        <form method="get" action="/admin/jobs" class="filters">
            <div class="field">
                <label for="kind">"Kind"</label>
                <select id="kind" name="kind">
                    <option value="" selected=move || current().kind.is_empty()>"All kinds"</option>
                    {JOB_KINDS.into_iter().map(|kind| view! {
                        <option value=kind selected=move || current().kind == kind>{kind}</option>
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="state">"State"</label>
                <select id="state" name="state">
                    <option value="" selected=move || current().state.is_empty()>"All states"</option>
                    {JOB_STATES.into_iter().map(|state| view! {
                        <option value=state.as_str() selected=move || current().state == state.as_str()>{state.label()}</option>
                    }).collect_view()}
                </select>
            </div>
            <button type="submit">"Filter"</button>
        </form>
        {move || action_error().map(|error| view! { <ErrorNotice error/> })}
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match rows.await {
                    Ok(rows) => view! { <JobTable rows query=current() retry cancel/> }.into_any(),
                    Err(error) => view! { <ErrorNotice error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn JobTable(
    rows: Vec<JobView>,
    query: JobQuery,
    retry: ServerAction<RetryJob>,
    cancel: ServerAction<CancelJob>,
) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p>"No jobs match."</p> }.into_any();
    }
    let older = (rows.len() >= JOBS_PAGE as usize).then(|| {
        let mut params = leptos_router::params::ParamsMap::new();
        for (key, value) in [("kind", &query.kind), ("state", &query.state)] {
            if !value.is_empty() {
                params.insert(key, value.clone());
            }
        }
        params.insert("before", rows.last().map_or(0, |row| row.id).to_string());
        format!("/admin/jobs{}", params.to_query_string())
    });
    view! {
        <table class="data stacked jobs">
            <thead><tr>
                <th scope="col">"Job"</th><th scope="col">"Kind"</th><th scope="col">"For"</th><th scope="col">"State"</th>
                <th scope="col">"Attempts"</th><th scope="col">"Next run / ended (UTC)"</th><th scope="col">"Last error"</th>
                <th scope="col">"Actions"</th>
            </tr></thead>
            <tbody>
                {rows.into_iter().map(|row| {
                    let when = row.done_at.unwrap_or(row.run_at).format("%Y-%m-%d %H:%M:%S").to_string();
                    let can_retry = matches!(row.state, JobState::Failed | JobState::Cancelled);
                    let can_cancel = row.state == JobState::Queued;
                    let (retry_id, cancel_id) = (row.id.to_string(), row.id.to_string());
                    view! {
                        <tr>
                            <td data-label="Job">{row.id}</td>
                            <td data-label="Kind"><code>{row.kind}</code></td>
                            <td data-label="For">{row.subject}</td>
                            <td data-label="State"><span class=format!("badge job-{}", row.state.as_str())>{row.state.label()}</span></td>
                            <td data-label="Attempts">{row.attempts}</td>
                            <td data-label="When">{when}</td>
                            <td data-label="Last error" class="prose-text">{row.last_error.unwrap_or_default()}</td>
                            <td data-label="Actions" class="actions">
                                {can_retry.then(|| view! {
                                    <ActionForm action=retry attr:class="inline">
                                        <input type="hidden" name="id" value=retry_id/>
                                        <button type="submit">"Retry"</button>
                                    </ActionForm>
                                })}
                                {can_cancel.then(|| view! {
                                    <ActionForm action=cancel attr:class="inline">
                                        <input type="hidden" name="id" value=cancel_id/>
                                        <button type="submit" class="secondary">"Cancel"</button>
                                    </ActionForm>
                                })}
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        {older.map(|href| view! { <p><a href=href>"Older jobs"</a></p> })}
    }
    .into_any()
}
