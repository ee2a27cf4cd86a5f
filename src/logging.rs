//! Log set-up: native journald fields under systemd, readable text on a
//! terminal, one JSON object a line elsewhere (or when asked), filtered by
//! `RUST_LOG` (default `info`).
//!
//! Lines about a message carry its Message-ID, request ids, outcome and
//! reason codes as fields; in the journal they become `GUICHET_MESSAGE_ID`,
//! `GUICHET_OUTCOME`… (prefixed, so as not to collide with the journal's
//! own `MESSAGE_ID`), which `journalctl GUICHET_OUTCOME=rejected` selects.
//! Form contents and secrets are never logged.

use std::io::IsTerminal;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;

use tracing_subscriber::{fmt, layer::SubscriberExt, util::SubscriberInitExt, EnvFilter};

/// Prefix of guichet's own journal fields.
const JOURNAL_PREFIX: &str = "GUICHET";

/// Is standard error the journal's stream? systemd says so in
/// `JOURNAL_STREAM=<device>:<inode>` of the stream it connected; a child
/// that inherited the variable but not the stream must not believe it.
pub fn stderr_is_journal() -> bool {
    let Some(wanted) = std::env::var("JOURNAL_STREAM")
        .ok()
        .and_then(|v| parse_stream(&v))
    else {
        return false;
    };
    let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() else {
        return false;
    };
    std::fs::File::from(fd)
        .metadata()
        .map(|m| (m.dev(), m.ino()) == wanted)
        .unwrap_or(false)
}

fn parse_stream(value: &str) -> Option<(u64, u64)> {
    let (dev, ino) = value.split_once(':')?;
    Some((dev.parse().ok()?, ino.parse().ok()?))
}

/// Installs the global subscriber. `format` is `auto`, `text` or `json`;
/// with `auto`, the journal is written natively when standard error is it.
/// lopdf's own warnings about a damaged file are noise: guichet reports
/// the outcome (`unreadable_pdf`…) itself.
/// Logs go to standard error, so that command output on standard out stays
/// clean for scripts (`queue list --json | jq`).
pub fn init(format: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,lopdf=error"));
    // async-imap traces every line it writes, LOGIN and AUTHENTICATE (the
    // password, the token) included; ureq writes request lines: never below
    // info, whatever RUST_LOG says.
    let filter = ["async_imap=info", "ureq=info"]
        .iter()
        .filter_map(|d| d.parse().ok())
        .fold(filter, EnvFilter::add_directive);
    if format == "auto" && stderr_is_journal() {
        if let Ok(journal) = tracing_journald::layer() {
            let journal = journal.with_field_prefix(Some(JOURNAL_PREFIX.to_string()));
            // A second call (tests) keeps the first subscriber.
            let _ = tracing_subscriber::registry()
                .with(filter)
                .with(journal)
                .try_init();
            return;
        }
    }
    let json = match format {
        "json" => true,
        "text" => false,
        _ => !std::io::stderr().is_terminal(),
    };
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
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

/// A stable stand-in for an e-mail address in logs: `sha256:` and the
/// first 12 hex digits of the digest of the lower-cased address. An
/// operator can tell whose it is by hashing a known address; a log
/// reader learns nothing.
pub fn pseudonym(address: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(address.trim().to_lowercase().as_bytes());
    format!("sha256:{}", &hex::encode(digest)[..12])
}

/// An error text for the log with every e-mail address in it replaced by
/// `<address>`: servers quote the recipient they refuse, parsers the
/// header they choke on.
pub fn scrub(text: &str) -> String {
    static ADDRESS: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#"[^\s<>"'(),;:\[\]@]+@[^\s<>"'(),;:\[\]@]+"#).expect("a valid pattern")
    });
    ADDRESS.replace_all(text, "<address>").into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_never_reach_the_log() {
        let refused = "550 5.1.1 <Zoe.Tremblay@clinique.example>: Recipient address rejected";
        assert_eq!(
            scrub(refused),
            "550 5.1.1 <<address>>: Recipient address rejected"
        );
        assert_eq!(scrub("timed out after 30 s"), "timed out after 30 s");
        let p = pseudonym("Agent@Organisme.example ");
        assert_eq!(p, pseudonym("agent@organisme.example"));
        assert!(p.starts_with("sha256:") && p.len() == 19 && !p.contains("agent"));
    }

    #[test]
    fn journal_stream_is_device_and_inode() {
        assert_eq!(parse_stream("8:123456"), Some((8, 123456)));
        assert_eq!(parse_stream("8-123456"), None);
        assert_eq!(parse_stream(":1"), None);
    }
}
