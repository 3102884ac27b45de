//! What people see of usage and billing: the project page's cost section, the accounts page, statements and the
//! admins' usage collectors.

use leptos::prelude::*;
use leptos_meta::Title;

use super::{
    AccountSummary, AccountView, AccountsPage, AttachProject, ConsumptionPage, CostBasis, CreateCollector, GrantBu,
    ProjectBilling, RevokeCollector, Statement, get_accounts, get_collectors, get_consumption, get_project_billing,
    get_statement,
};
use crate::applications::model::Quota;
use crate::components::ErrorNotice;
use crate::error::AppError;

/// A project's billing figures, loaded once for the page's cost section and its quota change form.
pub type ProjectBillingResource = Resource<Result<ProjectBilling, AppError>>;

/// Loads project `name`'s billing figures.
pub fn project_billing_resource(name: String) -> ProjectBillingResource {
    Resource::new_blocking(move || name.clone(), get_project_billing)
}

/// The project page's "Usage and cost" section: quota against the latest usage as bars, and BU this month and last.
#[component]
pub fn ProjectCostSection(name: String, billing: ProjectBillingResource) -> impl IntoView {
    let name = StoredValue::new(name);
    view! {
        <section class="card" aria-labelledby="cost-heading">
            <h2 id="cost-heading">"Usage and cost"</h2>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match billing.await {
                        Ok(billing) => view! { <CostFigures name=name.get_value() billing/> }.into_any(),
                        Err(error) => view! { <ErrorNotice error/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn CostFigures(name: String, billing: ProjectBilling) -> impl IntoView {
    let usage_caption = billing
        .usage_at
        .clone()
        .map_or_else(|| "No usage has been reported yet.".to_owned(), |at| format!("Usage in the hour from {at}."));
    view! {
        <dl class="facts">
            <dt>{format!("BU in {}", billing.this_month_label)}</dt><dd class="amount">{billing.this_month}</dd>
            <dt>"BU last month"</dt><dd class="amount">{billing.last_month}</dd>
            <dt>"The quota, reserved"</dt><dd>{billing.reserved}</dd>
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
                            <th scope="row">{bar.label}</th>
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
        <MonthsChart months=billing.months/>
        <p>"Statements: "
            <a href=format!("/billing/statement?project={name}&month={}", billing.statement_months.0)>{billing.this_month_label.clone()}</a>
            " · "
            <a href=format!("/billing/statement?project={name}&month={}", billing.statement_months.1)>"last month"</a>
            " · "
            <a href=format!("/billing/statement.csv?project={name}&month={}", billing.statement_months.0)>"this month as CSV"</a>
        </p>
        {match billing.account {
            Some(account) => view! {
                <h3>"Billing account " <a href="/billing">{account.name}</a></h3>
                {account.alert.map(|alert| view! { <p class="notice notice-warn" role="status">{alert}</p> })}
                <p>{account.figures}</p>
            }.into_any(),
            None => view! { <p>"The project draws on no billing account."</p> }.into_any(),
        }}
    }
}

/// The cost preview of `quota` against the project's account, once the project's billing figures are in; it
/// follows `quota` as the user types.
#[component]
pub fn QuotaCostPreview(billing: ProjectBillingResource, quota: Signal<Quota>, id: String) -> impl IntoView {
    let id = StoredValue::new(id);
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                billing.await.ok().map(|billing| {
                    let CostBasis { rates, balance } = billing.basis;
                    view! {
                        <p class="cost-preview" id=id.get_value() aria-live="polite">
                            {move || super::model::describe_preview(&quota.get(), &rates, balance)}
                        </p>
                    }
                })
            })}
        </Transition>
    }
}

/// BU per month over twelve months: bars drawn on the server as SVG, and the same figures as a table beside them
/// for screen readers and for reading exact values.
#[component]
fn MonthsChart(months: Vec<(String, String, u8)>) -> impl IntoView {
    const BAR: usize = 40;
    let width = months.len() * BAR;
    view! {
        <div class="months">
            <svg viewBox=format!("0 0 {width} 130") width=width height="130" role="img" aria-labelledby="months-title">
                <title id="months-title">"BU per month over the last twelve months"</title>
                {months.iter().enumerate().map(|(index, (label, _, height))| {
                    let bar = u32::from(*height);
                    let short = label.split(' ').next().unwrap_or_default().to_owned();
                    view! {
                        <rect x=(index * BAR + 6).to_string() y=(110 - bar).to_string() width=(BAR - 12).to_string()
                            height=bar.max(1).to_string() class="bar-fill"></rect>
                        <text x=(index * BAR + BAR / 2).to_string() y="125" text-anchor="middle">{short}</text>
                    }
                }).collect_view()}
            </svg>
            <table class="data">
                <caption>"BU per month"</caption>
                <thead><tr><th scope="col">"Month"</th><th scope="col">"BU"</th></tr></thead>
                <tbody>{months.into_iter().map(|(label, amount, _)| view! {
                    <tr><th scope="row">{label}</th><td class="amount">{amount}</td></tr>
                }).collect_view()}</tbody>
            </table>
        </div>
    }
}

/// `/billing/statement?project=NAME&month=YYYY-MM` (or `account=ID`): a monthly statement, a line per project and
/// resource, with a CSV download.
#[component]
pub fn StatementPage() -> impl IntoView {
    let query = leptos_router::hooks::use_query_map();
    let statement = Resource::new_blocking(
        move || {
            let query = query.read();
            (
                query.get("project"),
                query.get("account").and_then(|id| id.parse().ok()),
                query.get("month").unwrap_or_default(),
            )
        },
        |(project, account, month)| get_statement(project, account, month),
    );
    view! {
        <Title text="Statement"/>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match statement.await {
                    Ok(statement) => view! { <StatementView statement/> }.into_any(),
                    Err(error) => view! { <h1>"Statement"</h1> <ErrorNotice error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn StatementView(statement: Statement) -> impl IntoView {
    let Statement { title, month_label, lines, total, previous, next, scope, month } = statement;
    view! {
        <h1>{format!("{title}: statement for {month_label}")}</h1>
        <p>
            <a href=format!("/billing/statement?{scope}&month={previous}")>"Previous month"</a>
            {next.map(|next| view! { " · " <a href=format!("/billing/statement?{scope}&month={next}")>"Next month"</a> })}
            " · " <a href=format!("/billing/statement.csv?{scope}&month={month}")>"Download as CSV"</a>
        </p>
        {if lines.is_empty() {
            view! { <p>"Nothing was charged in this month."</p> }.into_any()
        } else {
            view! {
                <table class="data stacked statement">
                    <thead><tr>
                        <th scope="col">"Project"</th><th scope="col">"Resource"</th><th scope="col">"Hours"</th>
                        <th scope="col">"Average request"</th><th scope="col">"Average usage"</th><th scope="col">"BU"</th>
                    </tr></thead>
                    <tbody>{lines.into_iter().map(|line| view! {
                        <tr>
                            <td data-label="Project">{line.project}</td>
                            <td data-label="Resource">{line.resource}</td>
                            <td data-label="Hours">{line.hours.to_string()}</td>
                            <td data-label="Average request">{line.average_request}</td>
                            <td data-label="Average usage">{line.average_usage}</td>
                            <td data-label="BU" class="amount">{line.amount}</td>
                        </tr>
                    }).collect_view()}</tbody>
                    <tfoot><tr><th scope="row" colspan="5">"Total"</th><td class="amount">{total}</td></tr></tfoot>
                </table>
            }.into_any()
        }}
        <p class="hint">"Each hour is charged the larger of the usage and the request, per resource; a late usage figure adds a correction to its hour."</p>
    }
}

/// An account's granted, consumed and remaining BU, its runway and its alert.
#[component]
fn AccountFigures(account: AccountSummary) -> impl IntoView {
    view! {
        {account.alert.map(|alert| view! { <p class="notice notice-warn" role="status">{alert}</p> })}
        <dl class="facts">
            <dt>"Granted"</dt><dd class="amount">{account.granted}</dd>
            <dt>"Consumed"</dt><dd class="amount">{account.consumed}</dd>
            <dt>"Balance"</dt><dd class="amount">{account.balance}</dd>
            <dt>"Runway"</dt><dd>{account.runway}</dd>
        </dl>
    }
}

/// `/billing`: the viewer's billing accounts (every account for an admin), their grants and projects; admins grant
/// BU, owners move the projects they manage onto their accounts.
#[component]
pub fn BillingPage() -> impl IntoView {
    let grant = ServerAction::<GrantBu>::new();
    let attach = ServerAction::<AttachProject>::new();
    let page = Resource::new_blocking(move || (grant.version().get(), attach.version().get()), |_| get_accounts());
    let action_error =
        move || grant.value().get().and_then(Result::err).or_else(|| attach.value().get().and_then(Result::err));
    view! {
        <Title text="Billing accounts"/>
        <h1>"Billing accounts"</h1>
        {move || action_error().map(|error| view! { <ErrorNotice error/> })}
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(page) if page.accounts.is_empty() => view! {
                        <p>"You have no billing account yet. One is opened when an application that asks for a new account is approved."</p>
                    }.into_any(),
                    Ok(page) => {
                        let AccountsPage { accounts, viewer_is_admin, managed_projects, this_month } = page;
                        view! {
                            {viewer_is_admin.then(|| view! { <ConsumptionSection/> })}
                            {accounts.into_iter().map(|account| view! {
                                <AccountCard account viewer_is_admin managed=managed_projects.clone() this_month=this_month.clone() grant attach/>
                            }).collect_view()}
                        }.into_any()
                    }
                    Err(error) => view! { <ErrorNotice error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The admins' consumption of every project in a month (`?month=YYYY-MM&sort=bu|name`), with the rate history.
#[component]
fn ConsumptionSection() -> impl IntoView {
    let query = leptos_router::hooks::use_query_map();
    let page = Resource::new_blocking(
        move || {
            let query = query.read();
            (query.get("month").unwrap_or_default(), query.get("sort").unwrap_or_default())
        },
        |(month, sort)| get_consumption(month, sort),
    );
    view! {
        <section class="card" aria-labelledby="consumption-heading">
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(page) => {
                            let ConsumptionPage { month, month_label, rows, sort, rates } = page;
                            let by = if sort == "name" { "bu" } else { "name" };
                            view! {
                                <h2 id="consumption-heading">{format!("Consumption in {month_label}")}</h2>
                                <p>
                                    <a href=format!("/billing?month={month}&sort={by}")>{format!("Sort by {}", if by == "bu" { "BU" } else { "name" })}</a>
                                    " · " <a href=format!("/billing/consumption.csv?month={month}&sort={sort}")>"CSV"</a>
                                </p>
                                <table class="data stacked">
                                    <thead><tr><th scope="col">"Project"</th><th scope="col">"Account"</th><th scope="col">"BU"</th></tr></thead>
                                    <tbody>{rows.into_iter().map(|(project, account, amount)| view! {
                                        <tr>
                                            <td data-label="Project"><a href=format!("/projects/{project}")>{project.clone()}</a></td>
                                            <td data-label="Account">{account}</td>
                                            <td data-label="BU" class="amount">{amount}</td>
                                        </tr>
                                    }).collect_view()}</tbody>
                                </table>
                                <h3>"Rates (BU)"</h3>
                                <table class="data">
                                    <thead><tr><th scope="col">"From"</th><th scope="col">"Core-hour"</th><th scope="col">"GiB-hour of memory"</th><th scope="col">"TiB-hour of storage"</th></tr></thead>
                                    <tbody>{rates.into_iter().map(|(from, cpu, memory, storage)| view! {
                                        <tr><th scope="row">{from}</th><td>{cpu}</td><td>{memory}</td><td>{storage}</td></tr>
                                    }).collect_view()}</tbody>
                                </table>
                            }.into_any()
                        }
                        Err(error) => view! { <ErrorNotice error/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn AccountCard(
    account: AccountView,
    viewer_is_admin: bool,
    managed: Vec<String>,
    this_month: String,
    grant: ServerAction<GrantBu>,
    attach: ServerAction<AttachProject>,
) -> impl IntoView {
    let AccountView { summary, grants, projects, viewer_owns } = account;
    let id = summary.id;
    let (labelled_by, heading) = (format!("account-{id}"), format!("account-{id}"));
    let movable: Vec<String> = managed.into_iter().filter(|name| !projects.contains(name)).collect();
    view! {
        <section class="card" aria-labelledby=labelled_by>
            <h2 id=heading>{summary.name.clone()}</h2>
            <p>"Owner: " {summary.owner.clone()}</p>
            <AccountFigures account=summary/>
            <p><a href=format!("/billing/statement?account={id}&month={this_month}")>"This month's statement"</a></p>
            <h3>"Projects drawing on it"</h3>
            {if projects.is_empty() {
                view! { <p>"None."</p> }.into_any()
            } else {
                view! { <ul>{projects.into_iter().map(|name| view! {
                    <li><a href=format!("/projects/{name}")>{name.clone()}</a></li>
                }).collect_view()}</ul> }.into_any()
            }}
            {(viewer_owns && !movable.is_empty()).then(|| view! {
                <ActionForm action=attach attr:class="inline">
                    <input type="hidden" name="account_id" value=id.to_string()/>
                    <label for=format!("attach-{id}")>"Let a project you manage draw on it"</label>
                    <select id=format!("attach-{id}") name="project">
                        {movable.into_iter().map(|name| view! { <option value=name.clone()>{name.clone()}</option> }).collect_view()}
                    </select>
                    <button type="submit">"Move the project here"</button>
                </ActionForm>
            })}
            <h3>"Grants"</h3>
            {if grants.is_empty() {
                view! { <p>"No BU granted yet."</p> }.into_any()
            } else {
                view! {
                    <table class="data stacked">
                        <thead><tr><th scope="col">"When"</th><th scope="col">"BU"</th><th scope="col">"By"</th><th scope="col">"Reason"</th></tr></thead>
                        <tbody>{grants.into_iter().map(|grant| view! {
                            <tr>
                                <td data-label="When">{grant.at}</td>
                                <td data-label="BU" class="amount">{grant.amount}</td>
                                <td data-label="By">{grant.granted_by}</td>
                                <td data-label="Reason" class="prose-text">{grant.reason}</td>
                            </tr>
                        }).collect_view()}</tbody>
                    </table>
                }.into_any()
            }}
            {viewer_is_admin.then(|| view! {
                <ActionForm action=grant attr:class="stack">
                    <input type="hidden" name="account_id" value=id.to_string()/>
                    <label for=format!("grant-amount-{id}")>"BU to grant"</label>
                    <input id=format!("grant-amount-{id}") name="amount" inputmode="decimal" required=true/>
                    <label for=format!("grant-reason-{id}")>"Reason (kept in the audit trail)"</label>
                    <textarea id=format!("grant-reason-{id}") name="reason" rows="2" maxlength="1000" required=true></textarea>
                    <button type="submit">"Grant"</button>
                </ActionForm>
            })}
        </section>
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
