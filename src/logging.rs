//! Log set-up: readable text on a terminal, one JSON object a line
//! elsewhere (or when asked), filtered by `RUST_LOG` (default `info`).
//!
//! Lines about a message carry its Message-ID and request ids as fields;
//! form contents and secrets are never logged.

use std::io::IsTerminal;

use tracing_subscriber::{fmt, EnvFilter};

/// Installs the global subscriber. `format` is `auto`, `text` or `json`.
/// lopdf's own warnings about a damaged file are noise: guichet reports
/// the outcome (`unreadable_pdf`…) itself.
/// Logs go to standard error, so that command output on standard out stays
/// clean for scripts (`queue list --json | jq`).
pub fn init(format: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,lopdf=error"));
    let json = match format {
        "json" => true,
        "text" => false,
        _ => !std::io::stderr().is_terminal(),
    };
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // A second call (tests) keeps the first subscriber.
    let _ = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init()
    } else {
        builder.with_target(false).try_init()
    };
}
