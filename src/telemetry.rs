//! Logging: tracing to stderr, filtered by `SHIM_LOG`, as `pretty` text or `json` lines.
//!
//! The filter is `tracing_subscriber`'s `Targets` syntax (`info`, `warn,function=info`), which needs no regex
//! engine and so keeps the binary small. User output arrives under the target `function`.

use std::io::IsTerminal;
use std::str::FromStr;

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogFormat;

/// Checks a `SHIM_LOG` value; the error says what is wrong.
pub fn check_filter(filter: &str) -> Result<(), String> {
    Targets::from_str(filter).map(|_| ()).map_err(|e| {
        format!("is not a valid log filter ({e}); examples: info, debug, warn,function=info")
    })
}

/// Installs the global subscriber. Call once.
pub fn init(filter: &str, format: LogFormat) {
    let targets = Targets::from_str(filter).unwrap_or_else(|_| Targets::new());
    let registry = tracing_subscriber::registry().with(targets);
    match format {
        LogFormat::Pretty => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(std::io::stderr().is_terminal()),
            )
            .init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(false)
                    .with_writer(std::io::stderr),
            )
            .init(),
    }
}
