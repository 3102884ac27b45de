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
/// Default seconds between checks for status content changed by another process.
pub const DEFAULT_STATUS_REFRESH_SECONDS: u64 = 5;

/// Environment variables under `BERTH_` that Berth reads; any other `BERTH_*` variable is a mistake.
const KNOWN_ENV: &[&str] = &[
    "BERTH_CONFIG",
    "BERTH_LISTEN",
    "BERTH_DATABASE_URL",
    "BERTH_BASE_URL",
    "BERTH_LOG_LEVEL",
    "BERTH_LOG_FORMAT",
    "BERTH_ADMIN_EMAILS",
    "BERTH_STATUS_REFRESH_SECONDS",
];
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

        Ok(Self { listen, database_url, base_url, log: LogSettings { filter, format }, admin_emails, status_refresh })
    }

    /// Whether cookies must be `Secure`: the site is served over https.
    pub fn is_https(&self) -> bool {
        self.base_url.scheme() == "https"
    }
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
        let cases: [(SettingsArgs, &str); 6] = [
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
            "--config",
        ] {
            assert!(help.contains(flag), "--help must document {flag}");
        }
    }
}
