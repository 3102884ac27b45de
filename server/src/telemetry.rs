//! Logging: tracing with a RUST_LOG-style filter, as text or JSON.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::{LogFormat, LogSettings};

/// Installs the global subscriber. The filter was validated with the configuration, so this fails only if a
/// subscriber is already installed.
pub fn init(settings: &LogSettings) -> Result<(), tracing_subscriber::util::TryInitError> {
    let filter = EnvFilter::try_new(&settings.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    match settings.format {
        // Colours only on a terminal: escape codes in a log file or journal are noise.
        LogFormat::Text => registry
            .with(tracing_subscriber::fmt::layer().with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout())))
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init(),
    }
}
