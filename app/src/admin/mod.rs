//! The admin area: users (roles, disabling) and the audit trail. Every server function checks the role itself;
//! the pages only show what those return.

use chrono::{DateTime, NaiveDate, Utc};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::auth::model::{AuditFilter, AuditRecord, Role, UserSummary};
use crate::components::ErrorNotice;
use crate::error::AppError;

/// All users, newest first (admins only).
#[server(prefix = "/api", endpoint = "admin_users")]
pub async fn get_users() -> Result<Vec<UserSummary>, AppError> {
    let (state, auth, _) = crate::ssr::signed_in_admin()?;
    state.auth.users(&auth.user).await.map_err(crate::ssr::respond_with_error)
}

/// Grants (`admin`) or revokes (`user`) the admin role (admins only).
#[server(prefix = "/api", endpoint = "admin_set_role")]
pub async fn set_user_role(user_id: i64, role: String) -> Result<(), AppError> {
    let (state, auth, request) = crate::ssr::signed_in_admin()?;
    let role =
        Role::parse(&role).map_err(|_| crate::ssr::respond_with_error(AppError::invalid("role", "Unknown role.")))?;
    state.auth.set_role(&auth.user, user_id, role, &request).await.map_err(crate::ssr::respond_with_error)?;
    Ok(())
}

/// Disables (`true`) or enables an account (admins only).
#[server(prefix = "/api", endpoint = "admin_set_disabled")]
pub async fn set_user_disabled(user_id: i64, disabled: bool) -> Result<(), AppError> {
    let (state, auth, request) = crate::ssr::signed_in_admin()?;
    state.auth.set_disabled(&auth.user, user_id, disabled, &request).await.map_err(crate::ssr::respond_with_error)?;
    Ok(())
}

/// The audit filter as typed into the form: dates as `YYYY-MM-DD`, both ends inclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditQuery {
    /// Actor contains.
    pub actor: String,
    /// Action starts with.
    pub action: String,
    /// First day.
    pub since: String,
    /// Last day.
    pub until: String,
    /// Older than this row.
    pub before: Option<i64>,
}

impl AuditQuery {
    /// The store's filter; an error names the field.
    pub fn filter(&self) -> Result<AuditFilter, AppError> {
        let day = |field: &str, text: &str| -> Result<Option<NaiveDate>, AppError> {
            let text = text.trim();
            if text.is_empty() {
                return Ok(None);
            }
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map(Some)
                .map_err(|_| AppError::invalid(field, "Enter a date as YYYY-MM-DD."))
        };
        let start_of = |date: NaiveDate| -> DateTime<Utc> { date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc() };
        let text = |text: &str| Some(text.trim().to_owned()).filter(|text| !text.is_empty());
        Ok(AuditFilter {
            actor: text(&self.actor),
            action: text(&self.action),
            since: day("since", &self.since)?.map(start_of),
            until: day("until", &self.until)?.and_then(|date| date.succ_opt()).map(start_of),
            before_id: self.before,
        })
    }
}

/// Audit rows matching the filter, newest first, one page (admins only).
#[server(prefix = "/api", endpoint = "admin_audit")]
pub async fn get_audit(query: AuditQuery) -> Result<Vec<AuditRecord>, AppError> {
    let (state, auth, _) = crate::ssr::signed_in_admin()?;
    let filter = query.filter().map_err(crate::ssr::respond_with_error)?;
    state.auth.audit_entries(&auth.user, &filter).await.map_err(crate::ssr::respond_with_error)
}

/// `/admin`: what admins can do.
#[component]
pub fn AdminHomePage() -> impl IntoView {
    // Loading the user list proves the role on the server, so that the page answers 403 to everyone else.
    let users = Resource::new_blocking(|| (), |()| get_users());
    view! {
        <Title text="Administration"/>
        <h1>"Administration"</h1>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match users.await {
                    Ok(users) => view! {
                        <ul class="admin-links">
                            <li><a href="/admin/users">"Users"</a> {format!(" ({} accounts)", users.len())}</li>
                            <li><a href="/admin/applications">"Applications"</a></li>
                            <li><a href="/projects">"Projects"</a></li>
                            <li><a href="/admin/requests">"Quota changes and renewals waiting"</a></li>
                            <li><a href="/admin/status">"Status operations: incidents, maintenance, components"</a></li>
                            <li><a href="/admin/status/content">"Status page content: matrix, service level, known issues"</a></li>
                            <li><a href="/admin/feedback">"Feedback from users"</a></li>
                            <li><a href="/admin/jobs">"Background jobs"</a></li>
                            <li><a href="/admin/audit">"Audit trail"</a></li>
                        </ul>
                        <crate::billing::views::CollectorsSection/>
                    }.into_any(),
                    Err(error) => view! { <ErrorNotice error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// `/admin/users`: every account, with role and disable controls.
#[component]
pub fn AdminUsersPage() -> impl IntoView {
    let set_role = ServerAction::<SetUserRole>::new();
    let set_disabled = ServerAction::<SetUserDisabled>::new();
    let users =
        Resource::new_blocking(move || (set_role.version().get(), set_disabled.version().get()), |_| get_users());
    let action_error = move || {
        set_role.value().get().and_then(Result::err).or_else(|| set_disabled.value().get().and_then(Result::err))
    };
    view! {
        <Title text="Users"/>
        <h1>"Users"</h1>
        {move || action_error().map(|error| view! { <ErrorNotice error/> })}
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match users.await {
                    Ok(users) => view! {
                        <table class="data">
                            <thead><tr>
                                <th scope="col">"E-mail"</th><th scope="col">"Name"</th>
                                <th scope="col">"Organisation"</th><th scope="col">"Role"</th>
                                <th scope="col">"State"</th><th scope="col">"Since"</th><th scope="col">"Actions"</th>
                            </tr></thead>
                            <tbody>
                                {users.into_iter().map(|user| view! { <UserRow user set_role set_disabled/> }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(error) => view! { <ErrorNotice error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn UserRow(
    user: UserSummary,
    set_role: ServerAction<SetUserRole>,
    set_disabled: ServerAction<SetUserDisabled>,
) -> impl IntoView {
    let id = user.id.to_string();
    let (next_role, role_label) =
        if user.role == Role::Admin { ("user", "Revoke admin") } else { ("admin", "Make admin") };
    let (next_disabled, disable_label) = if user.disabled { ("false", "Enable") } else { ("true", "Disable") };
    let who = user.email.clone().unwrap_or_else(|| format!("user {}", user.id));
    let (role_aria, disable_aria) = (format!("{role_label}: {who}"), format!("{disable_label}: {who}"));
    let (role_id, disable_id) = (id.clone(), id);
    view! {
        <tr>
            <td>{user.email.unwrap_or_else(|| "—".into())}</td>
            <td>{user.display_name.unwrap_or_else(|| "—".into())}</td>
            <td>{user.organisation.unwrap_or_else(|| "—".into())}</td>
            <td>{user.role.as_str()}</td>
            <td>{if user.disabled { "disabled" } else { "active" }}</td>
            <td>{user.created_at.format("%Y-%m-%d").to_string()}</td>
            <td class="actions">
                <ActionForm action=set_role attr:class="inline">
                    <input type="hidden" name="user_id" value=role_id/>
                    <input type="hidden" name="role" value=next_role/>
                    <button type="submit" aria-label=role_aria>{role_label}</button>
                </ActionForm>
                <ActionForm action=set_disabled attr:class="inline">
                    <input type="hidden" name="user_id" value=disable_id/>
                    <input type="hidden" name="disabled" value=next_disabled/>
                    <button type="submit" aria-label=disable_aria>{disable_label}</button>
                </ActionForm>
            </td>
        </tr>
    }
}

/// `/admin/audit`: the audit trail, filtered by actor, action and time. The filter form is a plain GET form.
#[component]
pub fn AdminAuditPage() -> impl IntoView {
    let query = use_query_map();
    let current = move || {
        let query = query.read();
        let text = |key: &str| query.get(key).unwrap_or_default();
        AuditQuery {
            actor: text("actor"),
            action: text("action"),
            since: text("since"),
            until: text("until"),
            before: query.get("before").and_then(|before| before.parse().ok()),
        }
    };
    let rows = Resource::new_blocking(current, get_audit);
    let field_error =
        move |field: &'static str| move || rows.get().and_then(Result::err).and_then(|error| error.for_field(field));
    view! {
        <Title text="Audit trail"/>
        <h1>"Audit trail"</h1>
        <form method="get" action="/admin/audit" class="filters">
            <FilterField name="actor" label="Actor contains" kind="text" value=current().actor error=field_error("actor")/>
            <FilterField name="action" label="Action starts with" kind="text" value=current().action error=field_error("action")/>
            <FilterField name="since" label="From (date)" kind="date" value=current().since error=field_error("since")/>
            <FilterField name="until" label="To (date)" kind="date" value=current().until error=field_error("until")/>
            <button type="submit">"Filter"</button>
        </form>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match rows.await {
                    Ok(rows) => view! { <AuditTable rows query=current()/> }.into_any(),
                    Err(error) if ["since", "until"].iter().any(|f| error.for_field(f).is_some()) => ().into_any(),
                    Err(error) => view! { <ErrorNotice error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn FilterField(
    name: &'static str,
    label: &'static str,
    kind: &'static str,
    value: String,
    error: impl Fn() -> Option<String> + Send + Sync + Copy + 'static,
) -> impl IntoView {
    let error_id = format!("{name}-error");
    view! {
        <div class="field">
            <label for=name>{label}</label>
            <input id=name name=name type=kind value=value aria-invalid=move || error().map(|_| "true")
                aria-describedby=error_id.clone()/>
            {move || error().map(|message| view! { <p id=error_id.clone() class="field-error">{message}</p> })}
        </div>
    }
}

#[component]
fn AuditTable(rows: Vec<AuditRecord>, query: AuditQuery) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p>"No entries match."</p> }.into_any();
    }
    let older = (rows.len() >= 100).then(|| {
        let last = rows.last().map_or(0, |row| row.id);
        let mut params = leptos_router::params::ParamsMap::new();
        for (key, value) in
            [("actor", &query.actor), ("action", &query.action), ("since", &query.since), ("until", &query.until)]
        {
            if !value.is_empty() {
                params.insert(key, value.clone());
            }
        }
        params.insert("before", last.to_string());
        format!("/admin/audit{}", params.to_query_string())
    });
    view! {
        <table class="data audit">
            <thead><tr>
                <th scope="col">"When (UTC)"</th><th scope="col">"Actor"</th><th scope="col">"Action"</th>
                <th scope="col">"Target"</th><th scope="col">"IP"</th><th scope="col">"Details"</th>
            </tr></thead>
            <tbody>
                {rows.into_iter().map(|row| view! {
                    <tr>
                        <td>{row.at.format("%Y-%m-%d %H:%M:%S").to_string()}</td>
                        <td>{row.actor}</td>
                        <td><code>{row.action}</code></td>
                        <td>{row.target}</td>
                        <td>{row.ip.unwrap_or_default()}</td>
                        <td><code>{row.details}</code></td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        {older.map(|href| view! { <p><a href=href>"Older entries"</a></p> })}
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_dates_are_whole_days_and_bad_ones_name_their_field() {
        let query = AuditQuery { since: "2026-11-01".into(), until: "2026-11-24".into(), ..Default::default() };
        let filter = query.filter().unwrap();
        assert_eq!(filter.since.unwrap().to_rfc3339(), "2026-11-01T00:00:00+00:00");
        assert_eq!(filter.until.unwrap().to_rfc3339(), "2026-11-25T00:00:00+00:00", "the last day is included");
        let bad = AuditQuery { until: "24.11.2026".into(), ..Default::default() }.filter().unwrap_err();
        assert!(bad.for_field("until").is_some());
        assert_eq!(AuditQuery { actor: "  ".into(), ..Default::default() }.filter().unwrap().actor, None);
    }
}
