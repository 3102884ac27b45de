//! One typed configuration, read from flags, `BERTH_*` environment variables and an optional TOML file, in that
//! order of precedence. Bad values stop startup with a message naming the setting.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Deserialize;
use url::Url;

/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:3000";
/// Default database: an SQLite file under `./data/`.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/berth.db";
/// Default public base URL.
pub const DEFAULT_BASE_URL: &str = "http://127.0.0.1:3000";
/// Default log filter when neither the setting nor `RUST_LOG` is given.
pub const DEFAULT_LOG_FILTER: &str = "info";
/// Default mail transport: `.eml` files in a directory beside the default database.
pub const DEFAULT_MAIL_URL: &str = "file:data/mail";
/// Default sender.
pub const DEFAULT_MAIL_FROM: &str = "Berth <berth@localhost>";
/// Default idle timeout of a signed-in session, in minutes.
pub const DEFAULT_SESSION_IDLE_MINUTES: u64 = 8 * 60;
/// Default absolute lifetime of a signed-in session, in hours.
pub const DEFAULT_SESSION_LIFETIME_HOURS: u64 = 7 * 24;
/// Default seconds between checks for status content changed by another process.
pub const DEFAULT_STATUS_REFRESH_SECONDS: u64 = 5;

/// Environment variables under `BERTH_` that Berth reads; any other `BERTH_*` variable is a mistake.
const KNOWN_ENV: &[&str] = &[
    "BERTH_CONFIG",
    "BERTH_SUSPEND_WHEN_SPENT",
    "BERTH_MAX_SAMPLE_AGE_DAYS",
    "BERTH_PROMETHEUS_URL",
    "BERTH_LISTEN",
    "BERTH_DATABASE_URL",
    "BERTH_BASE_URL",
    "BERTH_LOG_LEVEL",
    "BERTH_LOG_FORMAT",
    "BERTH_ADMIN_EMAILS",
    "BERTH_STATUS_REFRESH_SECONDS",
    "BERTH_MAIL_URL",
    "BERTH_MAIL_FROM",
    "BERTH_MAIL_CA_FILE",
    "BERTH_SESSION_IDLE_MINUTES",
    "BERTH_SESSION_LIFETIME_HOURS",
    "BERTH_TRUSTED_PROXIES",
    "BERTH_RESERVED_PROJECT_PREFIXES",
    "BERTH_MAX_QUOTA",
    "BERTH_MAX_APPLICATION_MONTHS",
    "BERTH_DIGEST_HOUR_UTC",
    "BERTH_PROVISIONER",
    "BERTH_GITOPS_DIR",
    "BERTH_GITOPS_COMMIT",
    "BERTH_WEBHOOK_URL",
    "BERTH_WEBHOOK_SECRET",
    "BERTH_WEBHOOK_TIMEOUT_SECONDS",
    "BERTH_OPENSHIFT",
    "BERTH_JOB_MAX_ATTEMPTS",
    "BERTH_JOB_LEASE_SECONDS",
    "BERTH_JOB_POLL_SECONDS",
    "BERTH_JOB_FIRST_RETRY_SECONDS",
    "BERTH_DRIFT_CHECK_MINUTES",
];
/// Default directory of the GitOps backend's files.
pub const DEFAULT_GITOPS_DIR: &str = "data/gitops";
/// Prefix of variables that belong to Berth's test scripts, not to the server.
const TEST_ENV_PREFIX: &str = "BERTH_TEST_";

/// Command line of the `berth` binary.
#[derive(Debug, Parser)]
#[command(
    name = "berth",
    version,
    about = "Berth: self-service access portal for container clouds",
    long_about = "Berth: self-service access portal for container clouds.\n\n\
        Every setting can be given as a flag, as a BERTH_* environment variable, or as a key in the TOML file named \
        by --config (keys are the flag names with '_' for '-'). Flags win over the environment, which wins over the \
        file."
)]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Settings.
    #[command(flatten)]
    pub settings: SettingsArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server (the default).
    Serve,
    /// Check the configuration, print it with secrets hidden, and exit.
    CheckConfig,
    /// Manage administrators from the command line (the account must have signed in once).
    Admin {
        /// What to do.
        #[command(subcommand)]
        action: AdminAction,
    },
}

/// `berth admin …`.
#[derive(Debug, Clone, Subcommand)]
pub enum AdminAction {
    /// Give the account with this e-mail address the admin role.
    Grant {
        /// The account's e-mail address.
        email: String,
    },
    /// Take the admin role away from the account with this e-mail address.
    Revoke {
        /// The account's e-mail address.
        email: String,
    },
}

/// Settings as given on the command line or in the environment; each `None` falls back to the file, then the default.
#[derive(Debug, Default, Args)]
pub struct SettingsArgs {
    /// TOML file with settings; flags and environment variables override its values.
    #[arg(long, env = "BERTH_CONFIG", value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,

    /// Address and port to listen on. [default: 127.0.0.1:3000]
    #[arg(long, env = "BERTH_LISTEN", value_name = "ADDR:PORT", global = true)]
    pub listen: Option<String>,

    /// Database URL: `sqlite://PATH` (created if missing) or `postgres://USER:PASSWORD@HOST:PORT/DB`.
    /// [default: sqlite://data/berth.db]
    #[arg(long, env = "BERTH_DATABASE_URL", value_name = "URL", hide_env_values = true, global = true)]
    pub database_url: Option<String>,

    /// The address people use to reach Berth; links in feeds and mail start with it, and an https URL makes
    /// cookies Secure. [default: http://127.0.0.1:3000]
    #[arg(long, env = "BERTH_BASE_URL", value_name = "URL", global = true)]
    pub base_url: Option<String>,

    /// Log filter in RUST_LOG syntax: a level (error, warn, info, debug, trace) or per-target directives such as
    /// `info,server=debug,sqlx=warn`. [default: $RUST_LOG, else info]
    #[arg(long, env = "BERTH_LOG_LEVEL", value_name = "FILTER", global = true)]
    pub log_level: Option<String>,

    /// Log format. [default: text]
    #[arg(long, env = "BERTH_LOG_FORMAT", value_enum, global = true)]
    pub log_format: Option<LogFormat>,

    /// E-mail addresses of administrators, comma-separated. [default: none]
    #[arg(
        long = "admin-emails",
        env = "BERTH_ADMIN_EMAILS",
        value_delimiter = ',',
        value_name = "EMAILS",
        global = true
    )]
    pub admin_emails: Option<Vec<String>>,

    /// Seconds between checks for status content changed by another Berth process on the same database
    /// (1 to 86400). [default: 5]
    #[arg(long, env = "BERTH_STATUS_REFRESH_SECONDS", value_name = "SECONDS", global = true)]
    pub status_refresh_seconds: Option<u64>,

    /// Where mail goes: `smtp://[USER:PASSWORD@]HOST[:PORT]` (STARTTLS required; port 587), with `?tls=none` for a
    /// local relay without TLS (port 25); `smtps://…` for TLS from the start (port 465); or `file:DIR` to write
    /// each message as an .eml file into DIR. [default: file:data/mail]
    #[arg(long, env = "BERTH_MAIL_URL", value_name = "URL", hide_env_values = true, global = true)]
    pub mail_url: Option<String>,

    /// Sender of Berth's mail, as `Name <address>` or `address`. [default: Berth <berth@localhost>]
    #[arg(long, env = "BERTH_MAIL_FROM", value_name = "MAILBOX", global = true)]
    pub mail_from: Option<String>,

    /// PEM file with extra root certificates to trust for the SMTP server's TLS certificate, besides the usual
    /// public ones (for a relay with a certificate from an internal CA). [default: none]
    #[arg(long, env = "BERTH_MAIL_CA_FILE", value_name = "FILE", global = true)]
    pub mail_ca_file: Option<PathBuf>,

    /// Minutes without a request after which a signed-in session ends (5 to 43200). [default: 480]
    #[arg(long, env = "BERTH_SESSION_IDLE_MINUTES", value_name = "MINUTES", global = true)]
    pub session_idle_minutes: Option<u64>,

    /// Hours after sign-in at which a session ends however active it is (1 to 8760). [default: 168]
    #[arg(long, env = "BERTH_SESSION_LIFETIME_HOURS", value_name = "HOURS", global = true)]
    pub session_lifetime_hours: Option<u64>,

    /// Reverse proxies whose `X-Forwarded-For` / `Forwarded` headers are believed, as comma-separated addresses or
    /// CIDRs (`10.0.0.0/8,::1`). The client is the right-most address in those headers that is not a trusted
    /// proxy; requests from anywhere else are keyed by their own address. [default: none]
    #[arg(long, env = "BERTH_TRUSTED_PROXIES", value_delimiter = ',', value_name = "CIDRS", global = true)]
    pub trusted_proxies: Option<Vec<String>>,

    /// Project name prefixes nobody may apply for, comma-separated (`default`, `kube-` and `openshift-` are always
    /// refused). [default: none]
    #[arg(
        long,
        env = "BERTH_RESERVED_PROJECT_PREFIXES",
        value_delimiter = ',',
        value_name = "PREFIXES",
        global = true
    )]
    pub reserved_project_prefixes: Option<Vec<String>>,

    /// The most of each resource one application may ask for, as `cpu_cores=64,memory_gib=256,storage_gib=10000,
    /// pods=500,gpus=8` (resources left out keep these defaults; none may be below the standard quota).
    #[arg(long, env = "BERTH_MAX_QUOTA", value_name = "LIST", global = true)]
    pub max_quota: Option<String>,

    /// How many months ahead an application's expected end date may be (1 to 120). [default: 24]
    #[arg(long, env = "BERTH_MAX_APPLICATION_MONTHS", value_name = "MONTHS", global = true)]
    pub max_application_months: Option<u32>,

    /// Hour of the day (UTC, 0 to 23) from which admins who chose it get the daily digest of waiting applications.
    /// [default: 7]
    #[arg(long, env = "BERTH_DIGEST_HOUR_UTC", value_name = "HOUR", global = true)]
    pub digest_hour_utc: Option<u32>,

    /// Where approved projects are provisioned: `gitops` (a YAML file per project in --gitops-dir, for Argo CD or
    /// Flux), `kubernetes` (server-side apply through the Kubernetes API, see --kubeconfig) or `webhook` (a signed
    /// JSON POST to --webhook-url). [default: gitops]
    #[arg(long, env = "BERTH_PROVISIONER", value_enum, global = true)]
    pub provisioner: Option<ProvisionerKind>,

    /// Directory of the GitOps backend's files (created when missing). [default: data/gitops]
    #[arg(long, env = "BERTH_GITOPS_DIR", value_name = "DIR", global = true)]
    pub gitops_dir: Option<PathBuf>,

    /// Commit each change of the GitOps files to the git repository in --gitops-dir (initialised when missing;
    /// needs the `git` binary). [default: false]
    #[arg(long, env = "BERTH_GITOPS_COMMIT", value_name = "BOOL", global = true)]
    pub gitops_commit: Option<bool>,

    /// URL the webhook backend POSTs each change to.
    #[arg(long, env = "BERTH_WEBHOOK_URL", value_name = "URL", global = true)]
    pub webhook_url: Option<String>,

    /// Shared secret that signs the webhook's requests (HMAC-SHA256); at least 16 characters.
    #[arg(long, env = "BERTH_WEBHOOK_SECRET", value_name = "SECRET", hide_env_values = true, global = true)]
    pub webhook_secret: Option<String>,

    /// Seconds to wait for the webhook's answer before trying again later (1 to 300). [default: 10]
    #[arg(long, env = "BERTH_WEBHOOK_TIMEOUT_SECONDS", value_name = "SECONDS", global = true)]
    pub webhook_timeout_seconds: Option<u64>,

    /// The kubeconfig file of the `kubernetes` backend. Without one, Berth uses $KUBECONFIG or ~/.kube/config,
    /// else the in-cluster service account.
    #[arg(long, env = "BERTH_KUBECONFIG", value_name = "FILE", global = true)]
    pub kubeconfig: Option<PathBuf>,

    /// The kubeconfig context to use. [default: the file's current context]
    #[arg(long, env = "BERTH_KUBE_CONTEXT", value_name = "NAME", global = true)]
    pub kube_context: Option<String>,

    /// Seconds to wait for each answer of the Kubernetes API before trying again later (1 to 300). [default: 10]
    #[arg(long, env = "BERTH_KUBERNETES_TIMEOUT_SECONDS", value_name = "SECONDS", global = true)]
    pub kubernetes_timeout_seconds: Option<u64>,

    /// OpenShift: namespaces get the `openshift.io/requester` and `openshift.io/display-name` annotations.
    /// [default: false]
    #[arg(long, env = "BERTH_OPENSHIFT", value_name = "BOOL", global = true)]
    pub openshift: Option<bool>,

    /// Attempts before a background job is failed for good (1 to 100). [default: 10]
    #[arg(long, env = "BERTH_JOB_MAX_ATTEMPTS", value_name = "N", global = true)]
    pub job_max_attempts: Option<u32>,

    /// Seconds a runner holds a job it claimed (renewed while it runs); a job whose runner died is taken over
    /// after this long (2 to 3600). [default: 60]
    #[arg(long, env = "BERTH_JOB_LEASE_SECONDS", value_name = "SECONDS", global = true)]
    pub job_lease_seconds: Option<u64>,

    /// Seconds between looks for due jobs when no wake-up came (1 to 3600). [default: 1]
    #[arg(long, env = "BERTH_JOB_POLL_SECONDS", value_name = "SECONDS", global = true)]
    pub job_poll_seconds: Option<u64>,

    /// Seconds before the first retry of a failed job; later retries wait twice as long each time, with jitter,
    /// at most 10 minutes (1 to 600). [default: 5]
    #[arg(long, env = "BERTH_JOB_FIRST_RETRY_SECONDS", value_name = "SECONDS", global = true)]
    pub job_first_retry_seconds: Option<u64>,

    /// Days an invitation to join a project works (1 to 90). [default: 7]
    #[arg(long, env = "BERTH_INVITATION_DAYS", value_name = "DAYS", global = true)]
    pub invitation_days: Option<u32>,

    /// How old a pushed usage sample may be, in days (1 to 400); older ones are refused, so that statements long
    /// sent stay as they were. [default: 60]
    #[arg(long, env = "BERTH_MAX_SAMPLE_AGE_DAYS", value_name = "DAYS", global = true)]
    pub max_sample_age_days: Option<u32>,

    /// Suspend the projects of a billing account once all its BU are used. [default: false]
    #[arg(long, env = "BERTH_SUSPEND_WHEN_SPENT", value_name = "BOOL", global = true)]
    pub suspend_when_spent: Option<bool>,

    /// Prometheus HTTP API to read each project's hourly usage from (none: usage comes only from collectors).
    #[arg(long, env = "BERTH_PROMETHEUS_URL", value_name = "URL", global = true)]
    pub prometheus_url: Option<String>,

    /// Days a closed project's namespace is kept before it is deleted; an admin can restore the project meanwhile
    /// (1 to 365). [default: 30]
    #[arg(long, env = "BERTH_CLOSE_GRACE_DAYS", value_name = "DAYS", global = true)]
    pub close_grace_days: Option<u32>,

    /// Minutes between drift checks, which compare active projects with what the backend holds; 0 turns them
    /// off. [default: 10]
    #[arg(long, env = "BERTH_DRIFT_CHECK_MINUTES", value_name = "MINUTES", global = true)]
    pub drift_check_minutes: Option<u64>,
}

/// Which provisioning backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProvisionerKind {
    /// YAML files in a directory (optionally a git repository).
    #[default]
    Gitops,
    /// Server-side apply through the Kubernetes API.
    Kubernetes,
    /// A signed JSON POST.
    Webhook,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The settings file; unknown keys are refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    listen: Option<String>,
    database_url: Option<String>,
    base_url: Option<String>,
    log_level: Option<String>,
    log_format: Option<LogFormat>,
    admin_emails: Option<Vec<String>>,
    status_refresh_seconds: Option<u64>,
    mail_url: Option<String>,
    mail_from: Option<String>,
    mail_ca_file: Option<PathBuf>,
    session_idle_minutes: Option<u64>,
    session_lifetime_hours: Option<u64>,
    trusted_proxies: Option<Vec<String>>,
    reserved_project_prefixes: Option<Vec<String>>,
    max_quota: Option<String>,
    max_application_months: Option<u32>,
    digest_hour_utc: Option<u32>,
    provisioner: Option<ProvisionerKind>,
    gitops_dir: Option<PathBuf>,
    gitops_commit: Option<bool>,
    webhook_url: Option<String>,
    webhook_secret: Option<String>,
    webhook_timeout_seconds: Option<u64>,
    kubeconfig: Option<PathBuf>,
    kube_context: Option<String>,
    kubernetes_timeout_seconds: Option<u64>,
    openshift: Option<bool>,
    job_max_attempts: Option<u32>,
    job_lease_seconds: Option<u64>,
    job_poll_seconds: Option<u64>,
    job_first_retry_seconds: Option<u64>,
    drift_check_minutes: Option<u64>,
    invitation_days: Option<u32>,
    close_grace_days: Option<u32>,
    /// The auto-approval rules of quota changes, in order (file only; `[[quota_rules]]` tables with a `kind`).
    quota_rules: Option<Vec<app::projects::requests::QuotaRule>>,
    /// The objects every project gets (file only).
    cluster: Option<ClusterFile>,
    /// BU rates with the day each takes effect (file only; `[[billing_rates]]` tables).
    billing_rates: Option<Vec<BillingRatesFile>>,
    prometheus_url: Option<String>,
    max_sample_age_days: Option<u32>,
    suspend_when_spent: Option<bool>,
    /// PromQL per resource (file only; `[prometheus_queries]`), each giving cores or GiB by `namespace`.
    prometheus_queries: Option<PrometheusQueriesFile>,
    /// The service level availability is measured against (file only; `[service_level]`).
    service_level: Option<ServiceLevelFile>,
    #[serde(default)]
    oidc_providers: Vec<OidcProviderFile>,
}

/// The `[service_level]` table of the settings file; anything left out keeps Rahti's level (JHS 174 level A).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceLevelFile {
    /// Availability promised, in percent ("97", "99.5").
    target: Option<String>,
    /// Days the hours apply ("mon-fri", "all"). [default: mon-fri]
    days: Option<String>,
    /// The hours ("08:00-16:00"), or "always". [default: 08:00-16:00]
    hours: Option<String>,
    /// The hours' time zone. [default: Europe/Helsinki]
    time_zone: Option<String>,
}

fn parse_service_level(file: &FileSettings) -> Result<app::status::ssr::ServiceLevelSettings, ConfigError> {
    let mut level = app::status::ssr::ServiceLevelSettings::default();
    let Some(settings) = &file.service_level else { return Ok(level) };
    if let Some(target) = &settings.target {
        level.target_milli_percent = parse_percent(target)
            .ok_or_else(|| invalid("service_level.target", format!("{target:?} is not a percentage from 0 to 100")))?;
    }
    let hours = settings.hours.as_deref().unwrap_or("08:00-16:00");
    level.hours = if hours.trim().eq_ignore_ascii_case("always") {
        app::status::availability::ServiceHours::Always
    } else {
        app::status::availability::ServiceHours::parse(
            settings.days.as_deref().unwrap_or("mon-fri"),
            hours,
            settings.time_zone.as_deref().unwrap_or("Europe/Helsinki"),
        )
        .map_err(|message| invalid("service_level", message))?
    };
    Ok(level)
}

/// "97" or "99.95" as thousandths of a percent; `None` unless it is from 0 to 100 with at most three decimals.
fn parse_percent(text: &str) -> Option<i64> {
    let (whole, fraction) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
    if fraction.len() > 3 || !fraction.chars().all(|c| c.is_ascii_digit()) || whole.is_empty() {
        return None;
    }
    let whole: i64 = whole.parse().ok().filter(|whole| (0..=100).contains(whole))?;
    let fraction: i64 = format!("{fraction:0<3}").parse().ok()?;
    Some(whole * 1000 + fraction).filter(|value| *value <= 100_000)
}

/// The `[prometheus_queries]` table of the settings file: any query left out keeps its default.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PrometheusQueriesFile {
    cpu: Option<String>,
    memory: Option<String>,
    storage: Option<String>,
}

/// Where hourly usage is read from, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrometheusConfig {
    /// The Prometheus server's base URL.
    pub url: Url,
    /// PromQL per billed resource, in [`BilledResource::ALL`](app::billing::model::BilledResource::ALL) order; each
    /// gives the hour's mean in cores or GiB by `namespace`, evaluated at the hour's end.
    pub queries: [String; 3],
}

/// Defaults for kube-state-metrics, cAdvisor and the kubelet: CPU cores used (the hour's rate), memory working set,
/// and the capacity of persistent volume claims, each the hour's mean, summed by namespace.
pub const DEFAULT_PROMETHEUS_QUERIES: [&str; 3] = [
    "sum by (namespace) (rate(container_cpu_usage_seconds_total{container!=\"\"}[1h]))",
    "sum by (namespace) (avg_over_time(container_memory_working_set_bytes{container!=\"\"}[1h])) / 1073741824",
    "sum by (namespace) (avg_over_time(kubelet_volume_stats_capacity_bytes[1h])) / 1073741824",
];

fn parse_prometheus(args: &SettingsArgs, file: &FileSettings) -> Result<Option<PrometheusConfig>, ConfigError> {
    let Some(url) = args.prometheus_url.clone().or_else(|| file.prometheus_url.clone()) else { return Ok(None) };
    let url = Url::parse(&url).map_err(|error| invalid("prometheus-url", format!("not a URL ({error})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("prometheus-url", "use an http or https URL"));
    }
    let given = file.prometheus_queries.clone().unwrap_or_default();
    let pick = |query: Option<String>, default: &str| {
        query
            .map(|query| query.trim().to_owned())
            .filter(|query| !query.is_empty())
            .unwrap_or_else(|| default.to_owned())
    };
    let [cpu, memory, storage] = DEFAULT_PROMETHEUS_QUERIES;
    Ok(Some(PrometheusConfig {
        url,
        queries: [pick(given.cpu, cpu), pick(given.memory, memory), pick(given.storage, storage)],
    }))
}

/// A `[[billing_rates]]` table of the settings file: BU per unit-hour, as decimals, from a day on.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct BillingRatesFile {
    from: chrono::NaiveDate,
    cpu_core_hour: String,
    memory_gib_hour: String,
    storage_tib_hour: String,
}

/// The rate schedule of the file's `[[billing_rates]]` tables, or Rahti's 2026 rates.
fn parse_billing(file: &FileSettings) -> Result<app::billing::ssr::BillingSettings, ConfigError> {
    use app::billing::model::{MilliBu, RateSchedule, Rates};
    let Some(tables) = &file.billing_rates else { return Ok(app::billing::ssr::BillingSettings::default()) };
    let amount = |field: &str, from: chrono::NaiveDate, text: &str| {
        MilliBu::parse(text)
            .map_err(|error| invalid("billing_rates", format!("{field} of the rates from {from}: {text:?}: {error}")))
    };
    let mut entries = Vec::with_capacity(tables.len());
    for table in tables {
        let rates = Rates {
            cpu: amount("cpu_core_hour", table.from, &table.cpu_core_hour)?,
            memory: amount("memory_gib_hour", table.from, &table.memory_gib_hour)?,
            storage: amount("storage_tib_hour", table.from, &table.storage_tib_hour)?,
        };
        entries.push((table.from, rates));
    }
    let rates = RateSchedule::new(entries).map_err(|error| invalid("billing_rates", error.to_string()))?;
    Ok(app::billing::ssr::BillingSettings { rates, ..Default::default() })
}

/// The `[cluster]` table of the settings file: the LimitRange and NetworkPolicy every project gets.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClusterFile {
    default_cpu_limit: Option<String>,
    default_memory_limit: Option<String>,
    default_cpu_request: Option<String>,
    default_memory_request: Option<String>,
    max_limit_request_ratio: Option<u32>,
    max_pvc_size: Option<String>,
    network_policy: Option<bool>,
    ingress_namespace_labels: Option<std::collections::BTreeMap<String, String>>,
}

/// An `[[oidc_providers]]` table of the settings file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OidcProviderFile {
    id: String,
    display_name: String,
    issuer_url: String,
    client_id: String,
    client_secret: Secret,
    scopes: Option<Vec<String>>,
    email_domains: Option<Vec<String>>,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Where data lives.
    pub database_url: DatabaseUrl,
    /// The public address of this deployment.
    pub base_url: Url,
    /// Logging.
    pub log: LogSettings,
    /// Administrators named in the configuration (lower-cased).
    pub admin_emails: Vec<app::email::EmailAddress>,
    /// How often the status content is checked for changes made by other processes.
    pub status_refresh: std::time::Duration,
    /// Outgoing mail.
    pub mail: MailSettings,
    /// Signed-in session timeouts.
    pub sessions: SessionSettings,
    /// OpenID Connect providers offered on the sign-in page, in the file's order.
    pub oidc_providers: Vec<OidcProviderConfig>,
    /// Reverse proxies whose forwarding headers name the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// What applications are checked against, and when the admins' digest goes out.
    pub applications: app::applications::ssr::ApplicationSettings,
    /// Where projects are provisioned.
    pub provisioner: ProvisionerConfig,
    /// The objects every project gets.
    pub cluster: app::projects::ssr::desired::ClusterSettings,
    /// Members and invitations.
    pub projects: app::projects::ssr::ProjectSettings,
    /// How background jobs are run.
    pub jobs: crate::jobs::JobSettings,
    /// Rates and the usage push API's limits.
    pub billing: app::billing::ssr::BillingSettings,
    /// The Prometheus server usage is read from, if any.
    pub prometheus: Option<PrometheusConfig>,
    /// The service level the status page measures availability against.
    pub service_level: app::status::ssr::ServiceLevelSettings,
}

/// The provisioning backend and its settings.
#[derive(Debug, Clone)]
pub enum ProvisionerConfig {
    /// A YAML file per project in `dir`, committed to git there when `commit`.
    GitOps {
        /// The directory.
        dir: PathBuf,
        /// Whether to commit each change.
        commit: bool,
    },
    /// Server-side apply through the Kubernetes API.
    Kubernetes {
        /// Where the client's settings come from.
        source: KubeSource,
        /// How long to wait for each answer.
        timeout: std::time::Duration,
    },
    /// A signed POST of each change to `url`.
    Webhook {
        /// Where.
        url: Url,
        /// The signing key.
        secret: Secret,
        /// How long to wait for an answer.
        timeout: std::time::Duration,
    },
}

/// Where the Kubernetes backend's client settings come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KubeSource {
    /// A kubeconfig file, with its current context or the named one.
    Kubeconfig {
        /// The file.
        path: PathBuf,
        /// The context; the file's current context when none.
        context: Option<String>,
    },
    /// `$KUBECONFIG` or `~/.kube/config`, else the in-cluster service account.
    Infer,
}

/// Checks that `path` is a kubeconfig with the `context` asked for (or a current one), without connecting.
fn check_kubeconfig(path: &Path, context: Option<&str>) -> Result<(), String> {
    let kubeconfig = kube::config::Kubeconfig::read_from(path).map_err(|error| app::error::cause_chain(&error))?;
    let Some(wanted) = context.map(str::to_owned).or(kubeconfig.current_context) else {
        return Err("it has no current-context; name one with --kube-context".to_owned());
    };
    if kubeconfig.contexts.iter().any(|named| named.name == wanted) {
        Ok(())
    } else {
        Err(format!("it has no context named {wanted:?}"))
    }
}

/// Outgoing mail settings.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// Transport.
    pub url: MailUrl,
    /// Sender.
    pub from: lettre::message::Mailbox,
    /// Extra trusted root certificates (PEM) for SMTP over TLS.
    pub ca_file: Option<PathBuf>,
}

/// Signed-in session timeouts.
#[derive(Debug, Clone, Copy)]
pub struct SessionSettings {
    /// Ends a session after this long without a request.
    pub idle: std::time::Duration,
    /// Ends a session this long after sign-in.
    pub lifetime: std::time::Duration,
}

/// One OpenID Connect provider.
#[derive(Debug, Clone)]
pub struct OidcProviderConfig {
    /// Short id used in URLs and stored with identities (`[a-z0-9-]`, not `email`).
    pub id: String,
    /// Name on the sign-in button.
    pub display_name: String,
    /// Issuer; endpoints come from its discovery document.
    pub issuer_url: Url,
    /// Client id registered with the provider.
    pub client_id: String,
    /// Client secret.
    pub client_secret: Secret,
    /// Scopes asked for (`openid` is always among them).
    pub scopes: Vec<String>,
    /// E-mail domains this provider may vouch for (lower-case; subdomains included); empty: any domain.
    pub email_domains: Vec<String>,
}

/// A secret setting: `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(********)")
    }
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain text: only for a relay on the same host or network.
    None,
    /// STARTTLS, required.
    StartTls,
    /// TLS from the first byte.
    Tls,
}

/// Where mail goes. `Debug` hides the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailUrl {
    /// An SMTP server.
    Smtp {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
        /// Connection security.
        security: SmtpSecurity,
        /// User name and password, if the server wants them.
        credentials: Option<(String, Secret)>,
    },
    /// A directory that receives one .eml file per message.
    Directory(PathBuf),
}

impl MailUrl {
    /// Parses `smtp://…`, `smtps://…` or `file:DIR`.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let text = text.trim();
        if let Some(rest) = text.strip_prefix("file:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(invalid("mail-url", "a file: URL needs a directory, as in file:data/mail"));
            }
            return Ok(Self::Directory(PathBuf::from(path)));
        }
        let url = Url::parse(text).map_err(|error| invalid("mail-url", format!("not a valid URL ({error})")))?;
        let implicit_tls = match url.scheme() {
            "smtp" => false,
            "smtps" => true,
            other => {
                return Err(invalid(
                    "mail-url",
                    format!("unsupported scheme {other:?}: use smtp://, smtps:// or file:"),
                ));
            }
        };
        let host = url
            .host_str()
            .filter(|host| !host.is_empty())
            .ok_or_else(|| invalid("mail-url", "the URL needs a host"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
        let mut security = if implicit_tls { SmtpSecurity::Tls } else { SmtpSecurity::StartTls };
        for (key, value) in url.query_pairs() {
            match (key.as_ref(), value.as_ref()) {
                ("tls", "none") if !implicit_tls => security = SmtpSecurity::None,
                ("tls", "starttls") if !implicit_tls => security = SmtpSecurity::StartTls,
                _ => {
                    return Err(invalid(
                        "mail-url",
                        format!("unknown option {key}={value}: smtp:// takes tls=none or tls=starttls"),
                    ));
                }
            }
        }
        let port = url.port().unwrap_or(match security {
            SmtpSecurity::None => 25,
            SmtpSecurity::StartTls => 587,
            SmtpSecurity::Tls => 465,
        });
        let decode = |text: &str| {
            percent_decode(text)
                .map_err(|()| invalid("mail-url", "the user name or password is not valid percent-encoding"))
        };
        let credentials = if url.username().is_empty() {
            None
        } else {
            Some((decode(url.username())?, Secret(decode(url.password().unwrap_or_default())?)))
        };
        Ok(Self::Smtp { host, port, security, credentials })
    }
}

fn percent_decode(text: &str) -> Result<String, ()> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).and_then(|hex| std::str::from_utf8(hex).ok()).ok_or(())?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| ())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| ())
}

/// Logging settings.
#[derive(Debug, Clone)]
pub struct LogSettings {
    /// RUST_LOG-style filter.
    pub filter: String,
    /// Line format.
    pub format: LogFormat,
}

/// A configuration problem, naming the setting.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value that does not parse.
    #[error("invalid value for setting `{setting}`: {reason}")]
    Invalid {
        /// The setting's flag name.
        setting: &'static str,
        /// Why the value was refused.
        reason: String,
    },
    /// An unknown `BERTH_*` environment variable.
    #[error("unknown setting: environment variable {0} is not a Berth setting (known: {known})", known = KNOWN_ENV.join(", "))]
    UnknownEnv(String),
    /// The settings file cannot be read.
    #[error("cannot read settings file {path}")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The settings file is not valid TOML or has an unknown key or a value of the wrong type.
    #[error("settings file {path}: {message}")]
    ParseFile {
        /// The file.
        path: PathBuf,
        /// The TOML parser's message, which names the key.
        message: String,
    },
}

impl Config {
    /// Builds the configuration from parsed flags and environment, the settings file they name, and defaults.
    pub fn from_args(args: SettingsArgs) -> Result<Self, ConfigError> {
        check_env_names(std::env::vars_os().filter_map(|(key, _)| key.into_string().ok()))?;
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileSettings::default(),
        };
        Self::merge(args, file)
    }

    fn merge(args: SettingsArgs, file: FileSettings) -> Result<Self, ConfigError> {
        let applications = parse_application_settings(&args, &file)?;
        let provisioner = parse_provisioner(&args, &file)?;
        let cluster = parse_cluster(&args, &file)?;
        let invitation_days = args.invitation_days.or(file.invitation_days).unwrap_or(7);
        if !(1..=90).contains(&invitation_days) {
            return Err(invalid("invitation-days", format!("{invitation_days} is not between 1 and 90")));
        }
        let close_grace_days = args.close_grace_days.or(file.close_grace_days).unwrap_or(30);
        if !(1..=365).contains(&close_grace_days) {
            return Err(invalid("close-grace-days", format!("{close_grace_days} is not between 1 and 365")));
        }
        let projects = app::projects::ssr::ProjectSettings {
            invitation_lifetime: chrono::Duration::days(i64::from(invitation_days)),
            quota_rules: file.quota_rules.clone().unwrap_or_else(app::projects::requests::QuotaRule::defaults),
            rules: applications.rules.clone(),
            close_grace: chrono::Duration::days(i64::from(close_grace_days)),
        };
        let jobs = parse_jobs(&args, &file)?;
        let mut billing = parse_billing(&file)?;
        let max_sample_age_days = args.max_sample_age_days.or(file.max_sample_age_days).unwrap_or(60);
        if !(1..=400).contains(&max_sample_age_days) {
            return Err(invalid("max-sample-age-days", format!("{max_sample_age_days} is not between 1 and 400")));
        }
        billing.max_sample_age = chrono::Duration::days(i64::from(max_sample_age_days));
        billing.suspend_when_spent = args.suspend_when_spent.or(file.suspend_when_spent).unwrap_or(false);
        let applications = app::applications::ssr::ApplicationSettings { rates: billing.rates.clone(), ..applications };
        let prometheus = parse_prometheus(&args, &file)?;
        let service_level = parse_service_level(&file)?;
        let listen = args.listen.or(file.listen).unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen = SocketAddr::from_str(&listen)
            .map_err(|error| invalid("listen", format!("{listen:?} is not an ADDRESS:PORT ({error})")))?;

        let database_url = args.database_url.or(file.database_url);
        let database_url = DatabaseUrl::parse(database_url.as_deref().unwrap_or(DEFAULT_DATABASE_URL))?;

        let base_url = args.base_url.or(file.base_url).unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
        let base_url = parse_base_url(&base_url)?;

        let filter = args
            .log_level
            .or(file.log_level)
            .or_else(|| std::env::var("RUST_LOG").ok().filter(|value| !value.trim().is_empty()))
            .unwrap_or_else(|| DEFAULT_LOG_FILTER.to_owned());
        tracing_subscriber::EnvFilter::try_new(&filter)
            .map_err(|error| invalid("log-level", format!("{filter:?} is not a valid filter ({error})")))?;
        let format = args.log_format.or(file.log_format).unwrap_or_default();

        let admin_emails = args
            .admin_emails
            .or(file.admin_emails)
            .unwrap_or_default()
            .iter()
            .filter(|email| !email.trim().is_empty())
            .map(|email| {
                app::email::EmailAddress::parse(email).map_err(|error| invalid("admin-emails", error.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;

        let refresh =
            args.status_refresh_seconds.or(file.status_refresh_seconds).unwrap_or(DEFAULT_STATUS_REFRESH_SECONDS);
        if !(1..=86_400).contains(&refresh) {
            return Err(invalid("status-refresh-seconds", format!("{refresh} is not between 1 and 86400")));
        }
        let status_refresh = std::time::Duration::from_secs(refresh);

        let mail_url = MailUrl::parse(args.mail_url.or(file.mail_url).as_deref().unwrap_or(DEFAULT_MAIL_URL))?;
        let mail_from = args.mail_from.or(file.mail_from).unwrap_or_else(|| DEFAULT_MAIL_FROM.to_owned());
        let mail_from = mail_from.parse::<lettre::message::Mailbox>().map_err(|error| {
            invalid(
                "mail-from",
                format!("{mail_from:?} is not a mailbox such as `Berth <berth@example.org>` ({error})"),
            )
        })?;

        let idle = args.session_idle_minutes.or(file.session_idle_minutes).unwrap_or(DEFAULT_SESSION_IDLE_MINUTES);
        if !(5..=43_200).contains(&idle) {
            return Err(invalid("session-idle-minutes", format!("{idle} is not between 5 and 43200")));
        }
        let lifetime =
            args.session_lifetime_hours.or(file.session_lifetime_hours).unwrap_or(DEFAULT_SESSION_LIFETIME_HOURS);
        if !(1..=8_760).contains(&lifetime) {
            return Err(invalid("session-lifetime-hours", format!("{lifetime} is not between 1 and 8760")));
        }
        let sessions = SessionSettings {
            idle: std::time::Duration::from_secs(idle * 60),
            lifetime: std::time::Duration::from_secs(lifetime * 3600),
        };

        let oidc_providers = parse_providers(file.oidc_providers)?;
        let trusted_proxies = args
            .trusted_proxies
            .or(file.trusted_proxies)
            .unwrap_or_default()
            .iter()
            .map(|text| text.trim())
            .filter(|text| !text.is_empty())
            .map(parse_proxy)
            .collect::<Result<Vec<_>, _>>()?;

        Ok(Self {
            applications,
            provisioner,
            cluster,
            projects,
            jobs,
            billing,
            prometheus,
            service_level,
            listen,
            database_url,
            base_url,
            log: LogSettings { filter, format },
            admin_emails,
            status_refresh,
            mail: MailSettings { url: mail_url, from: mail_from, ca_file: args.mail_ca_file.or(file.mail_ca_file) },
            sessions,
            oidc_providers,
            trusted_proxies,
        })
    }

    /// Whether cookies must be `Secure`: the site is served over https.
    pub fn is_https(&self) -> bool {
        self.base_url.scheme() == "https"
    }
}

fn parse_application_settings(
    args: &SettingsArgs,
    file: &FileSettings,
) -> Result<app::applications::ssr::ApplicationSettings, ConfigError> {
    use app::applications::model::{ApplicationRules, RESOURCES};
    let mut rules = ApplicationRules::default();
    let prefixes = args.reserved_project_prefixes.clone().or_else(|| file.reserved_project_prefixes.clone());
    for prefix in prefixes.unwrap_or_default() {
        let prefix = prefix.trim();
        if prefix.is_empty() {
            continue;
        }
        if prefix.len() > 63 || !prefix.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return Err(invalid(
                "reserved-project-prefixes",
                format!("{prefix:?} is not a name prefix (a-z, 0-9 and '-', at most 63 characters)"),
            ));
        }
        rules.reserved_prefixes.push(prefix.to_owned());
    }
    if let Some(list) = args.max_quota.as_ref().or(file.max_quota.as_ref()) {
        for item in list.split(',').map(str::trim).filter(|item| !item.is_empty()) {
            let (key, value) =
                item.split_once('=').ok_or_else(|| invalid("max-quota", format!("{item:?} is not RESOURCE=NUMBER")))?;
            let resource = RESOURCES.into_iter().find(|resource| resource.field() == key.trim()).ok_or_else(|| {
                let known: Vec<_> = RESOURCES.iter().map(|resource| resource.field()).collect();
                invalid("max-quota", format!("unknown resource {key:?} (known: {})", known.join(", ")))
            })?;
            let value: u32 =
                value.trim().parse().map_err(|_| invalid("max-quota", format!("{item:?}: not a whole number")))?;
            if value < rules.default_quota.get(resource) {
                return Err(invalid(
                    "max-quota",
                    format!("{item:?} is below the standard quota of {}", rules.default_quota.get(resource)),
                ));
            }
            rules.max_quota.set(resource, value);
        }
    }
    let months = args.max_application_months.or(file.max_application_months).unwrap_or(rules.max_months);
    if !(1..=120).contains(&months) {
        return Err(invalid("max-application-months", format!("{months} is not between 1 and 120")));
    }
    rules.max_months = months;
    let digest_hour_utc = args.digest_hour_utc.or(file.digest_hour_utc).unwrap_or(7);
    if digest_hour_utc > 23 {
        return Err(invalid("digest-hour-utc", format!("{digest_hour_utc} is not between 0 and 23")));
    }
    Ok(app::applications::ssr::ApplicationSettings { rules, digest_hour_utc, ..Default::default() })
}

fn parse_provisioner(args: &SettingsArgs, file: &FileSettings) -> Result<ProvisionerConfig, ConfigError> {
    match args.provisioner.or(file.provisioner).unwrap_or_default() {
        ProvisionerKind::Gitops => Ok(ProvisionerConfig::GitOps {
            dir: args
                .gitops_dir
                .clone()
                .or_else(|| file.gitops_dir.clone())
                .unwrap_or_else(|| DEFAULT_GITOPS_DIR.into()),
            commit: args.gitops_commit.or(file.gitops_commit).unwrap_or(false),
        }),
        ProvisionerKind::Kubernetes => {
            let context = args.kube_context.clone().or_else(|| file.kube_context.clone());
            let source = match args.kubeconfig.clone().or_else(|| file.kubeconfig.clone()) {
                Some(path) => {
                    check_kubeconfig(&path, context.as_deref())
                        .map_err(|reason| invalid("kubeconfig", format!("cannot use {}: {reason}", path.display())))?;
                    KubeSource::Kubeconfig { path, context }
                }
                None if context.is_some() => {
                    return Err(invalid("kube-context", "a context needs a kubeconfig file (--kubeconfig)"));
                }
                None => KubeSource::Infer,
            };
            let timeout = args.kubernetes_timeout_seconds.or(file.kubernetes_timeout_seconds).unwrap_or(10);
            if !(1..=300).contains(&timeout) {
                return Err(invalid("kubernetes-timeout-seconds", format!("{timeout} is not between 1 and 300")));
            }
            Ok(ProvisionerConfig::Kubernetes { source, timeout: std::time::Duration::from_secs(timeout) })
        }
        ProvisionerKind::Webhook => {
            let url = args
                .webhook_url
                .clone()
                .or_else(|| file.webhook_url.clone())
                .ok_or_else(|| invalid("webhook-url", "the webhook provisioner needs a URL"))?;
            let url = Url::parse(&url).map_err(|error| invalid("webhook-url", format!("not a URL ({error})")))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(invalid("webhook-url", "use an http or https URL"));
            }
            let secret = args
                .webhook_secret
                .clone()
                .or_else(|| file.webhook_secret.clone())
                .ok_or_else(|| invalid("webhook-secret", "the webhook provisioner needs a signing secret"))?;
            if secret.chars().count() < 16 {
                return Err(invalid("webhook-secret", "use at least 16 characters"));
            }
            let timeout = args.webhook_timeout_seconds.or(file.webhook_timeout_seconds).unwrap_or(10);
            if !(1..=300).contains(&timeout) {
                return Err(invalid("webhook-timeout-seconds", format!("{timeout} is not between 1 and 300")));
            }
            Ok(ProvisionerConfig::Webhook {
                url,
                secret: Secret::new(secret),
                timeout: std::time::Duration::from_secs(timeout),
            })
        }
    }
}

/// A Kubernetes quantity as the settings may give one: digits, an optional fraction, an optional suffix.
fn is_quantity(text: &str) -> bool {
    let number_end = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, suffix) = text.split_at(number_end);
    !number.is_empty()
        && number.chars().filter(|c| *c == '.').count() <= 1
        && !number.starts_with('.')
        && ["", "m", "k", "M", "G", "T", "Ki", "Mi", "Gi", "Ti"].contains(&suffix)
}

fn parse_cluster(
    args: &SettingsArgs,
    file: &FileSettings,
) -> Result<app::projects::ssr::desired::ClusterSettings, ConfigError> {
    let mut cluster = app::projects::ssr::desired::ClusterSettings::default();
    let table = file.cluster.as_ref();
    let quantity = |setting: &'static str, value: Option<&String>, target: &mut String| -> Result<(), ConfigError> {
        if let Some(value) = value {
            if !is_quantity(value.trim()) {
                return Err(invalid(setting, format!("{value:?} is not a Kubernetes quantity such as 500m or 1Gi")));
            }
            *target = value.trim().to_owned();
        }
        Ok(())
    };
    quantity(
        "cluster.default_cpu_limit",
        table.and_then(|t| t.default_cpu_limit.as_ref()),
        &mut cluster.default_cpu_limit,
    )?;
    quantity(
        "cluster.default_memory_limit",
        table.and_then(|t| t.default_memory_limit.as_ref()),
        &mut cluster.default_memory_limit,
    )?;
    quantity(
        "cluster.default_cpu_request",
        table.and_then(|t| t.default_cpu_request.as_ref()),
        &mut cluster.default_cpu_request,
    )?;
    quantity(
        "cluster.default_memory_request",
        table.and_then(|t| t.default_memory_request.as_ref()),
        &mut cluster.default_memory_request,
    )?;
    quantity("cluster.max_pvc_size", table.and_then(|t| t.max_pvc_size.as_ref()), &mut cluster.max_pvc_size)?;
    if let Some(ratio) = table.and_then(|t| t.max_limit_request_ratio) {
        if !(1..=100).contains(&ratio) {
            return Err(invalid("cluster.max_limit_request_ratio", format!("{ratio} is not between 1 and 100")));
        }
        cluster.max_limit_request_ratio = ratio;
    }
    if let Some(enabled) = table.and_then(|t| t.network_policy) {
        cluster.network_policy = enabled;
    }
    if let Some(labels) = table.and_then(|t| t.ingress_namespace_labels.clone()) {
        if labels.is_empty() {
            return Err(invalid(
                "cluster.ingress_namespace_labels",
                "name at least one label (or set network_policy = false)",
            ));
        }
        cluster.ingress_namespace_labels = labels;
    }
    cluster.openshift = args.openshift.or(file.openshift).unwrap_or(false);
    Ok(cluster)
}

fn parse_jobs(args: &SettingsArgs, file: &FileSettings) -> Result<crate::jobs::JobSettings, ConfigError> {
    let ranged = |setting: &'static str, value: Option<u64>, default: u64, range: std::ops::RangeInclusive<u64>| {
        let value = value.unwrap_or(default);
        if range.contains(&value) {
            Ok(value)
        } else {
            Err(invalid(setting, format!("{value} is not between {} and {}", range.start(), range.end())))
        }
    };
    let attempts =
        ranged("job-max-attempts", args.job_max_attempts.or(file.job_max_attempts).map(u64::from), 10, 1..=100)?;
    let lease = ranged("job-lease-seconds", args.job_lease_seconds.or(file.job_lease_seconds), 60, 2..=3600)?;
    let poll = ranged("job-poll-seconds", args.job_poll_seconds.or(file.job_poll_seconds), 1, 1..=3600)?;
    let retry =
        ranged("job-first-retry-seconds", args.job_first_retry_seconds.or(file.job_first_retry_seconds), 5, 1..=600)?;
    let drift = ranged("drift-check-minutes", args.drift_check_minutes.or(file.drift_check_minutes), 10, 0..=10_080)?;
    Ok(crate::jobs::JobSettings {
        lease: std::time::Duration::from_secs(lease),
        poll: std::time::Duration::from_secs(poll),
        max_attempts: u32::try_from(attempts).unwrap_or(10),
        first_backoff: std::time::Duration::from_secs(retry),
        drift_check: (drift > 0).then(|| std::time::Duration::from_secs(drift * 60)),
    })
}

fn parse_providers(providers: Vec<OidcProviderFile>) -> Result<Vec<OidcProviderConfig>, ConfigError> {
    let mut seen = std::collections::HashSet::new();
    providers
        .into_iter()
        .map(|provider| {
            let id = provider.id.trim().to_owned();
            let id_ok = (1..=32).contains(&id.len())
                && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && id != "email";
            if !id_ok {
                return Err(invalid(
                    "oidc_providers.id",
                    format!("{id:?} must be 1 to 32 of a-z, 0-9 and '-', and not \"email\""),
                ));
            }
            if !seen.insert(id.clone()) {
                return Err(invalid("oidc_providers.id", format!("{id:?} is configured twice")));
            }
            let issuer_url = Url::parse(provider.issuer_url.trim())
                .map_err(|error| invalid("oidc_providers.issuer_url", format!("{id}: not a URL ({error})")))?;
            let loopback = matches!(issuer_url.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
                || matches!(issuer_url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback())
                || issuer_url.host_str() == Some("localhost");
            if issuer_url.scheme() != "https" && !(issuer_url.scheme() == "http" && loopback) {
                return Err(invalid(
                    "oidc_providers.issuer_url",
                    format!("{id}: the issuer must be https (http only on loopback)"),
                ));
            }
            if provider.display_name.trim().is_empty() || provider.client_id.trim().is_empty() {
                return Err(invalid("oidc_providers", format!("{id}: display_name and client_id must not be empty")));
            }
            let mut scopes = provider.scopes.unwrap_or_else(|| vec!["openid".into(), "email".into(), "profile".into()]);
            if !scopes.iter().any(|scope| scope == "openid") {
                scopes.insert(0, "openid".into());
            }
            let email_domains = provider
                .email_domains
                .unwrap_or_default()
                .iter()
                .map(|domain| domain.trim().trim_start_matches('@').to_lowercase())
                .map(|domain| {
                    let probe = format!("x@{domain}");
                    match app::email::EmailAddress::parse(&probe) {
                        Ok(_) => Ok(domain),
                        Err(_) => Err(invalid(
                            "oidc_providers.email_domains",
                            format!("{id}: {domain:?} is not a domain such as uni.example"),
                        )),
                    }
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(OidcProviderConfig {
                id,
                email_domains,
                display_name: provider.display_name.trim().to_owned(),
                issuer_url,
                client_id: provider.client_id.trim().to_owned(),
                client_secret: provider.client_secret,
                scopes,
            })
        })
        .collect()
}

/// A trusted proxy: an address (a single host) or a CIDR.
fn parse_proxy(text: &str) -> Result<ipnet::IpNet, ConfigError> {
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| invalid("trusted-proxies", format!("{text:?} is not an address or CIDR such as 10.0.0.0/8")))
}

fn invalid(setting: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { setting, reason: reason.into() }
}

fn check_env_names(names: impl Iterator<Item = String>) -> Result<(), ConfigError> {
    for name in names {
        if name.starts_with("BERTH_") && !name.starts_with(TEST_ENV_PREFIX) && !KNOWN_ENV.contains(&name.as_str()) {
            return Err(ConfigError::UnknownEnv(name));
        }
    }
    Ok(())
}

fn read_file(path: &Path) -> Result<FileSettings, ConfigError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile { path: path.to_owned(), source })?;
    toml::from_str(&text).map_err(|error| ConfigError::ParseFile { path: path.to_owned(), message: error.to_string() })
}

fn parse_base_url(text: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(text).map_err(|error| invalid("base-url", format!("{text:?} is not a URL ({error})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid("base-url", format!("{text:?} must be an http:// or https:// URL with a host")));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("base-url", format!("{text:?} must not carry credentials, a query or a fragment")));
    }
    Ok(url)
}

/// Where Berth stores its data. `Debug` and `Display` hide any password.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// An SQLite database file (or `:memory:`).
    Sqlite(String),
    /// A PostgreSQL server.
    Postgres(Url),
}

impl DatabaseUrl {
    /// Parses `sqlite://PATH`, `sqlite:PATH` or `postgres[ql]://…`.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let text = text.trim();
        if let Some(rest) = text.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            let file = path.split('?').next().unwrap_or_default();
            if file.is_empty() {
                return Err(invalid("database-url", "an sqlite URL needs a file path, as in sqlite://data/berth.db"));
            }
            return Ok(Self::Sqlite(text.to_owned()));
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            let url = Url::parse(text)
                .map_err(|error| invalid("database-url", format!("not a valid PostgreSQL URL ({error})")))?;
            return Ok(Self::Postgres(url));
        }
        let scheme = text.split(':').next().unwrap_or_default();
        Err(invalid("database-url", format!("unsupported scheme {scheme:?}: use sqlite:// or postgres://")))
    }

    /// The URL to hand to the driver. Contains secrets: never log it.
    pub fn expose(&self) -> &str {
        match self {
            Self::Sqlite(text) => text,
            Self::Postgres(url) => url.as_str(),
        }
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(text) => f.write_str(text),
            Self::Postgres(url) => {
                let mut shown = url.clone();
                if url.password().is_some() {
                    let _ = shown.set_password(Some("********"));
                }
                // Query parameters may carry a password too (`?password=`).
                if url.query().is_some() {
                    shown.set_query(Some("…"));
                }
                f.write_str(shown.as_str())
            }
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> SettingsArgs {
        SettingsArgs::default()
    }

    #[test]
    fn defaults_apply_when_nothing_is_given() {
        let config = Config::merge(args(), FileSettings::default()).unwrap();
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(config.database_url, DatabaseUrl::Sqlite(DEFAULT_DATABASE_URL.into()));
        assert_eq!(config.base_url.as_str(), "http://127.0.0.1:3000/");
        assert_eq!(config.log.format, LogFormat::Text);
        assert!(config.admin_emails.is_empty());
        assert!(!config.is_https());
    }

    #[test]
    fn flags_and_environment_win_over_the_file() {
        let file: FileSettings = toml::from_str(
            "listen = \"0.0.0.0:8080\"\nbase_url = \"https://berth.example.org\"\nlog_format = \"json\"\n",
        )
        .unwrap();
        let config = Config::merge(SettingsArgs { listen: Some("127.0.0.1:9000".into()), ..args() }, file).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:9000");
        assert_eq!(config.base_url.as_str(), "https://berth.example.org/");
        assert_eq!(config.log.format, LogFormat::Json);
        assert!(config.is_https());
    }

    #[test]
    fn unknown_file_keys_are_refused_by_name() {
        let error = toml::from_str::<FileSettings>("listen_address = \"x\"").unwrap_err();
        assert!(error.to_string().contains("listen_address"), "{error}");
    }

    #[test]
    fn bad_values_name_their_setting() {
        let cases: [(SettingsArgs, &str); 9] = [
            (SettingsArgs { mail_from: Some("nobody".into()), ..args() }, "`mail-from`"),
            (SettingsArgs { session_idle_minutes: Some(1), ..args() }, "`session-idle-minutes`"),
            (SettingsArgs { session_lifetime_hours: Some(0), ..args() }, "`session-lifetime-hours`"),
            (SettingsArgs { status_refresh_seconds: Some(0), ..args() }, "`status-refresh-seconds`"),
            (SettingsArgs { listen: Some("localhost".into()), ..args() }, "`listen`"),
            (SettingsArgs { database_url: Some("mysql://x".into()), ..args() }, "`database-url`"),
            (SettingsArgs { base_url: Some("ftp://x".into()), ..args() }, "`base-url`"),
            (SettingsArgs { log_level: Some("info,=[".into()), ..args() }, "`log-level`"),
            (SettingsArgs { admin_emails: Some(vec!["not-an-address".into()]), ..args() }, "`admin-emails`"),
        ];
        for (given, setting) in cases {
            let error = Config::merge(given, FileSettings::default()).unwrap_err().to_string();
            assert!(error.contains(setting), "{error:?} should name {setting}");
        }
    }

    #[test]
    fn unknown_berth_variables_are_refused_but_test_variables_pass() {
        let known = ["BERTH_LISTEN".to_owned(), "BERTH_TEST_POSTGRES_URL".to_owned(), "PATH".to_owned()];
        assert!(check_env_names(known.into_iter()).is_ok());
        let error = check_env_names(["BERTH_LISTNE".to_owned()].into_iter()).unwrap_err();
        assert!(error.to_string().contains("BERTH_LISTNE"));
    }

    #[test]
    fn secrets_never_show_in_debug_or_display() {
        let url = DatabaseUrl::parse("postgres://berth:hunter2@db.internal:5432/berth?password=hunter2").unwrap();
        for shown in [format!("{url}"), format!("{url:?}")] {
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(shown.contains("db.internal"), "{shown}");
        }
        let config = Config::merge(
            SettingsArgs { database_url: Some("postgres://u:hunter2@h/db".into()), ..args() },
            FileSettings::default(),
        )
        .unwrap();
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn mail_urls_parse_with_sensible_defaults_and_hide_passwords() {
        assert_eq!(MailUrl::parse("file:data/mail").unwrap(), MailUrl::Directory("data/mail".into()));
        let MailUrl::Smtp { host, port, security, credentials } =
            MailUrl::parse("smtp://berth%40example.org:p%40ss@mail.example.org").unwrap()
        else {
            panic!("smtp")
        };
        assert_eq!((host.as_str(), port, security), ("mail.example.org", 587, SmtpSecurity::StartTls));
        let (user, password) = credentials.unwrap();
        assert_eq!((user.as_str(), password.expose()), ("berth@example.org", "p@ss"));
        assert!(matches!(
            MailUrl::parse("smtp://127.0.0.1:2525?tls=none").unwrap(),
            MailUrl::Smtp { port: 2525, security: SmtpSecurity::None, credentials: None, .. }
        ));
        assert!(matches!(
            MailUrl::parse("smtps://h").unwrap(),
            MailUrl::Smtp { port: 465, security: SmtpSecurity::Tls, .. }
        ));
        for bad in ["http://h", "smtp://h?tls=maybe", "smtps://h?tls=none", "file:"] {
            assert!(MailUrl::parse(bad).unwrap_err().to_string().contains("`mail-url`"), "{bad}");
        }
        let shown = format!("{:?}", MailUrl::parse("smtp://u:hunter2@h").unwrap());
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn oidc_providers_are_checked() {
        let file: FileSettings = toml::from_str(
            "[[oidc_providers]]\nid = \"haka\"\ndisplay_name = \"Haka\"\nissuer_url = \"https://idp.example.org\"\n\
             client_id = \"berth\"\nclient_secret = \"hunter2\"\n",
        )
        .unwrap();
        let config = Config::merge(args(), file).unwrap();
        assert_eq!(config.oidc_providers[0].scopes, ["openid", "email", "profile"]);
        assert!(!format!("{config:?}").contains("hunter2"));
        let provider = |id: &str, issuer: &str| OidcProviderFile {
            id: id.into(),
            display_name: "X".into(),
            issuer_url: issuer.into(),
            client_id: "c".into(),
            client_secret: Secret::new("s"),
            scopes: None,
            email_domains: None,
        };
        assert!(parse_providers(vec![provider("email", "https://x")]).is_err());
        assert!(parse_providers(vec![provider("Bad Id", "https://x")]).is_err());
        assert!(parse_providers(vec![provider("a", "http://idp.example.org")]).is_err());
        assert!(parse_providers(vec![provider("a", "http://127.0.0.1:4000")]).is_ok());
        assert!(parse_providers(vec![provider("a", "https://x"), provider("a", "https://y")]).is_err());
        let limited =
            OidcProviderFile { email_domains: Some(vec!["@Uni.Example".into()]), ..provider("a", "https://x") };
        assert_eq!(parse_providers(vec![limited]).unwrap()[0].email_domains, ["uni.example"]);
        let bad = OidcProviderFile { email_domains: Some(vec!["not a domain".into()]), ..provider("a", "https://x") };
        assert!(parse_providers(vec![bad]).is_err());
    }

    #[test]
    fn quota_rules_and_the_grace_period_come_from_the_file_with_defaults() {
        let defaults = Config::merge(SettingsArgs::default(), FileSettings::default()).unwrap();
        assert_eq!(defaults.projects.quota_rules, app::projects::requests::QuotaRule::defaults());
        assert_eq!(defaults.projects.close_grace, chrono::Duration::days(30));
        let file: FileSettings = toml::from_str(
            "close_grace_days = 14\nmax_quota = \"cpu_cores=128\"\n[[quota_rules]]\nkind = \"step_increase\"\n\
             max_increase_percent = 25\nmin_days_since_increase = 7\n",
        )
        .unwrap();
        let config = Config::merge(SettingsArgs::default(), file).unwrap();
        assert_eq!(
            config.projects.quota_rules,
            vec![app::projects::requests::QuotaRule::StepIncrease {
                max_increase_percent: 25,
                min_days_since_increase: 7,
                min_usage_percent: None
            }],
            "the file's list replaces the defaults, in its order"
        );
        assert_eq!(config.projects.close_grace, chrono::Duration::days(14));
        assert_eq!(config.projects.rules.max_quota.cpu_cores, 128, "requests share the applications' maximums");
        let error =
            Config::merge(SettingsArgs::default(), FileSettings { close_grace_days: Some(0), ..Default::default() })
                .unwrap_err();
        assert!(error.to_string().contains("close-grace-days"), "{error}");
        assert!(toml::from_str::<FileSettings>("[[quota_rules]]\nkind = \"always\"\n").is_err());
    }

    #[test]
    fn billing_rates_come_from_the_file_and_bad_ones_stop_startup() {
        use app::billing::model::{MilliBu, Rates};
        let defaults = Config::merge(SettingsArgs::default(), FileSettings::default()).unwrap();
        assert_eq!(defaults.billing.rates.entries()[0].1, Rates::RAHTI_2026);
        let file: FileSettings = toml::from_str(
            "[[billing_rates]]\nfrom = \"2027-01-01\"\ncpu_core_hour = \"1.2\"\nmemory_gib_hour = \"1.6\"\n\
             storage_tib_hour = \"3.6\"\n[[billing_rates]]\nfrom = \"2026-01-01\"\ncpu_core_hour = \"1.05\"\n\
             memory_gib_hour = \"1.6\"\nstorage_tib_hour = \"3.6\"\n",
        )
        .unwrap();
        let config = Config::merge(SettingsArgs::default(), file).unwrap();
        let entries = config.billing.rates.entries();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].1.cpu, MilliBu(1200), "sorted by day");
        let bad = |text: &str| {
            let file: FileSettings = toml::from_str(text).unwrap();
            Config::merge(SettingsArgs::default(), file).unwrap_err().to_string()
        };
        let precise = bad("[[billing_rates]]\nfrom = \"2026-01-01\"\ncpu_core_hour = \"1.0505\"\n\
             memory_gib_hour = \"1.6\"\nstorage_tib_hour = \"3.6\"\n");
        assert!(precise.contains("cpu_core_hour") && precise.contains("three decimals"), "{precise}");
        let twice = bad("[[billing_rates]]\nfrom = \"2026-01-01\"\ncpu_core_hour = \"1\"\nmemory_gib_hour = \"1\"\n\
             storage_tib_hour = \"1\"\n[[billing_rates]]\nfrom = \"2026-01-01\"\ncpu_core_hour = \"2\"\n\
             memory_gib_hour = \"1\"\nstorage_tib_hour = \"1\"\n");
        assert!(twice.contains("2026-01-01"), "{twice}");
        assert!(toml::from_str::<FileSettings>("[[billing_rates]]\nfrom = \"2026-01-01\"\n").is_err());
    }

    #[test]
    fn prometheus_is_optional_and_its_queries_default_per_resource() {
        let defaults = Config::merge(SettingsArgs::default(), FileSettings::default()).unwrap();
        assert_eq!(defaults.prometheus, None);
        assert_eq!(defaults.billing.max_sample_age, chrono::Duration::days(60));
        assert!(!defaults.billing.suspend_when_spent, "off unless asked for");
        let args = SettingsArgs { suspend_when_spent: Some(true), ..Default::default() };
        assert!(Config::merge(args, FileSettings::default()).unwrap().billing.suspend_when_spent);
        let args = SettingsArgs { max_sample_age_days: Some(400), ..Default::default() };
        let config = Config::merge(args, FileSettings::default()).unwrap();
        assert_eq!(config.billing.max_sample_age, chrono::Duration::days(400));
        let args = SettingsArgs { max_sample_age_days: Some(0), ..Default::default() };
        assert!(Config::merge(args, FileSettings::default()).is_err());
        let file: FileSettings = toml::from_str(
            "prometheus_url = \"http://127.0.0.1:9090\"\n[prometheus_queries]\nmemory = \"sum by (namespace) (m)\"\n",
        )
        .unwrap();
        let config = Config::merge(SettingsArgs::default(), file).unwrap().prometheus.unwrap();
        assert_eq!(config.url.as_str(), "http://127.0.0.1:9090/");
        assert_eq!(config.queries[0], DEFAULT_PROMETHEUS_QUERIES[0]);
        assert_eq!(config.queries[1], "sum by (namespace) (m)");
        let args = SettingsArgs { prometheus_url: Some("ftp://x".into()), ..Default::default() };
        let error = Config::merge(args, FileSettings::default()).unwrap_err();
        assert!(error.to_string().contains("prometheus-url"), "{error}");
        assert!(toml::from_str::<FileSettings>("[prometheus_queries]\ngpu = \"x\"\n").is_err());
    }

    #[test]
    fn application_rules_come_from_the_settings_and_bad_ones_stop_startup() {
        let file = FileSettings {
            reserved_project_prefixes: Some(vec!["csc-".into(), " ".into()]),
            max_quota: Some("gpus=16, cpu_cores=128".into()),
            max_application_months: Some(36),
            ..Default::default()
        };
        let config = Config::merge(SettingsArgs::default(), file).unwrap();
        let rules = &config.applications.rules;
        assert_eq!(rules.reserved_prefixes, vec!["csc-".to_owned()]);
        assert_eq!((rules.max_quota.gpus, rules.max_quota.cpu_cores, rules.max_quota.pods), (16, 128, 500));
        assert_eq!(rules.max_months, 36);
        for (file, setting) in [
            (
                FileSettings { reserved_project_prefixes: Some(vec!["CSC-".into()]), ..Default::default() },
                "reserved-project-prefixes",
            ),
            (FileSettings { max_quota: Some("cpu_cores=2".into()), ..Default::default() }, "max-quota"),
            (FileSettings { max_quota: Some("disks=2".into()), ..Default::default() }, "max-quota"),
            (FileSettings { max_application_months: Some(0), ..Default::default() }, "max-application-months"),
            (FileSettings { digest_hour_utc: Some(24), ..Default::default() }, "digest-hour-utc"),
        ] {
            let error = Config::merge(SettingsArgs::default(), file).unwrap_err();
            assert!(error.to_string().contains(setting), "{error}");
        }
    }

    #[test]
    fn provisioning_settings_are_checked_and_the_webhook_secret_is_hidden() {
        let config = Config::merge(args(), FileSettings::default()).unwrap();
        assert!(
            matches!(config.provisioner, ProvisionerConfig::GitOps { ref dir, commit: false } if dir == Path::new("data/gitops"))
        );
        assert_eq!(config.jobs.max_attempts, 10);
        assert_eq!(config.jobs.drift_check, Some(std::time::Duration::from_secs(600)));
        let webhook = |url: &str, secret: &str| SettingsArgs {
            provisioner: Some(ProvisionerKind::Webhook),
            webhook_url: Some(url.to_owned()),
            webhook_secret: Some(secret.to_owned()),
            ..args()
        };
        let config = Config::merge(
            webhook("https://hooks.example.org/berth", "0123456789abcdef-secret"),
            FileSettings::default(),
        )
        .unwrap();
        assert!(!format!("{config:?}").contains("0123456789abcdef-secret"), "the secret never shows");
        let short = Config::merge(webhook("https://hooks.example.org/berth", "short"), FileSettings::default());
        assert!(short.unwrap_err().to_string().contains("webhook-secret"));
        let ftp = Config::merge(webhook("ftp://hooks.example.org", "0123456789abcdef-secret"), FileSettings::default());
        assert!(ftp.unwrap_err().to_string().contains("webhook-url"));
        let missing = SettingsArgs { provisioner: Some(ProvisionerKind::Webhook), ..args() };
        assert!(Config::merge(missing, FileSettings::default()).unwrap_err().to_string().contains("webhook-url"));
        let lease = SettingsArgs { job_lease_seconds: Some(1), ..args() };
        assert!(Config::merge(lease, FileSettings::default()).unwrap_err().to_string().contains("job-lease-seconds"));
        let off = SettingsArgs { drift_check_minutes: Some(0), ..args() };
        assert_eq!(Config::merge(off, FileSettings::default()).unwrap().jobs.drift_check, None);
    }

    #[test]
    fn the_kubernetes_backend_takes_a_kubeconfig_with_its_context_or_infers_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        std::fs::write(
            &path,
            "apiVersion: v1\nkind: Config\ncurrent-context: rahti\nclusters:\n- name: c\n  cluster:\n    server: \
             https://api.rahti.example:6443\ncontexts:\n- name: rahti\n  context:\n    cluster: c\n    user: u\n\
             users:\n- name: u\n  user:\n    token: sha256~s3cr3t\n",
        )
        .unwrap();
        let kubernetes = |kubeconfig: Option<&Path>, context: Option<&str>| SettingsArgs {
            provisioner: Some(ProvisionerKind::Kubernetes),
            kubeconfig: kubeconfig.map(Path::to_owned),
            kube_context: context.map(str::to_owned),
            ..args()
        };
        let config = Config::merge(kubernetes(Some(&path), None), FileSettings::default()).unwrap();
        assert!(matches!(
            config.provisioner,
            ProvisionerConfig::Kubernetes { source: KubeSource::Kubeconfig { context: None, .. }, timeout }
                if timeout == std::time::Duration::from_secs(10)
        ));
        assert!(!format!("{config:?}").contains("s3cr3t"), "the token stays in the file");
        let inferred = Config::merge(kubernetes(None, None), FileSettings::default()).unwrap();
        assert!(matches!(inferred.provisioner, ProvisionerConfig::Kubernetes { source: KubeSource::Infer, .. }));

        let error = |settings| Config::merge(settings, FileSettings::default()).unwrap_err().to_string();
        let other = error(kubernetes(Some(&path), Some("catalyst")));
        assert!(other.contains("kubeconfig") && other.contains("no context named \"catalyst\""), "{other}");
        let missing = error(kubernetes(Some(&dir.path().join("nope")), None));
        assert!(missing.contains("kubeconfig") && missing.contains("nope"), "{missing}");
        assert!(error(kubernetes(None, Some("rahti"))).contains("kube-context"));
        let slow = SettingsArgs { kubernetes_timeout_seconds: Some(0), ..kubernetes(Some(&path), None) };
        assert!(error(slow).contains("kubernetes-timeout-seconds"));
    }

    #[test]
    fn cluster_objects_come_from_the_file_and_bad_quantities_name_their_key() {
        let file: FileSettings = toml::from_str(
            "[cluster]\ndefault_cpu_limit = \"1\"\nmax_pvc_size = \"1.5Ti\"\nnetwork_policy = false\n\
             [cluster.ingress_namespace_labels]\n\"policy-group.network.openshift.io/ingress\" = \"\"\n",
        )
        .unwrap();
        let config = Config::merge(SettingsArgs { openshift: Some(true), ..args() }, file).unwrap();
        assert_eq!((config.cluster.default_cpu_limit.as_str(), config.cluster.max_pvc_size.as_str()), ("1", "1.5Ti"));
        assert!(!config.cluster.network_policy && config.cluster.openshift);
        assert_eq!(config.cluster.default_memory_request, "500Mi", "what the file leaves out keeps its default");
        let bad: FileSettings = toml::from_str("[cluster]\ndefault_memory_limit = \"lots\"\n").unwrap();
        assert!(Config::merge(args(), bad).unwrap_err().to_string().contains("cluster.default_memory_limit"));
        assert!(toml::from_str::<FileSettings>("[cluster]\nbogus = 1\n").is_err(), "unknown keys are refused");
        for good in ["500m", "1Gi", "100", "0.5", "2Ti"] {
            assert!(is_quantity(good), "{good}");
        }
        for bad in ["", "1GB", ".5", "1.2.3", "-1", "1 Gi"] {
            assert!(!is_quantity(bad), "{bad}");
        }
    }

    #[test]
    fn trusted_proxies_are_addresses_or_cidrs() {
        let file =
            FileSettings { trusted_proxies: Some(vec!["10.0.0.0/8".into(), "::1".into()]), ..Default::default() };
        let config = Config::merge(args(), file).unwrap();
        assert_eq!(config.trusted_proxies.len(), 2);
        assert!(config.trusted_proxies[1].contains(&"::1".parse::<std::net::IpAddr>().unwrap()));
        let file = FileSettings { trusted_proxies: Some(vec!["10.0.0.0/33".into()]), ..Default::default() };
        assert!(Config::merge(args(), file).unwrap_err().to_string().contains("trusted-proxies"));
    }

    #[test]
    fn the_cli_parses_every_setting_and_documents_it() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        let help = Cli::command().render_long_help().to_string();
        for flag in [
            "--listen",
            "--database-url",
            "--base-url",
            "--log-level",
            "--log-format",
            "--admin-emails",
            "--status-refresh-seconds",
            "--mail-url",
            "--mail-from",
            "--mail-ca-file",
            "--session-idle-minutes",
            "--session-lifetime-hours",
            "--config",
        ] {
            assert!(help.contains(flag), "--help must document {flag}");
        }
    }
}
