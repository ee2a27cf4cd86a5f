//! Settings: the built-in default (compiled in), then a TOML file, then
//! `GUICHET__SECTION__KEY` environment variables, each overriding the last.
//!
//! A bad value is refused at start with the key and the reason, so that a
//! daemon never runs on a half-understood configuration.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

/// The built-in default: local folders under `./var`.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// Where a file is looked for when `--config` is not given.
pub const SYSTEM_CONFIG: &str = "/etc/guichet/guichet.toml";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub intake: Intake,
    pub outbox: Outbox,
    pub staff: Staff,
    pub store: Store,
    pub replies: Replies,
    pub log: Log,
    pub retention: Retention,
    /// Absent: no metrics are exposed.
    pub metrics: Option<Metrics>,
    /// Absent: the built-in templates and role list.
    #[serde(default)]
    pub desk: DeskFiles,
    /// Absent: the defaults of [`Limits`].
    #[serde(default)]
    pub limits: Limits,
    /// Absent: the Maildir of `intake.maildir`.
    pub imap: Option<Imap>,
    /// Absent: `.eml` files in `outbox.dir`.
    pub smtp: Option<Smtp>,
    /// How bearer tokens are had, for `auth = "oauth2"`.
    pub oauth2: Option<OAuth2>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Intake {
    /// The desk's own address: replies come from it, tokens are plus-addressed on it.
    pub address: String,
    pub maildir: PathBuf,
    /// A message larger than this is answered and set aside, never loaded whole.
    pub max_message_bytes: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outbox {
    pub dir: PathBuf,
    /// Seconds before the first new attempt at a reply the server turned
    /// away for now; each further attempt waits twice as long, at most an
    /// hour. Short for a local relay, longer for a provider that throttles.
    pub retry_first_s: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Staff {
    pub members: Vec<String>,
    pub authserv_id: String,
    /// Approval requests a member may have unanswered at once.
    #[serde(default = "default_max_outstanding")]
    pub max_outstanding: usize,
    /// Days a reply token stays valid; an unanswered request is then put
    /// to staff again.
    #[serde(default = "default_token_days")]
    pub token_days: u32,
    /// A program given each new account as JSON on standard input (never
    /// the password), to hand it to the organisation's systems.
    #[serde(default)]
    pub handoff_command: Option<PathBuf>,
    /// Hour (server local time, 0–23) from which the daemon sends the daily
    /// digest; absent: the daemon sends none, `guichet digest` (the systemd
    /// timer) does.
    #[serde(default)]
    pub digest_hour: Option<u32>,
}

fn default_max_outstanding() -> usize {
    5
}

fn default_token_days() -> u32 {
    14
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Store {
    pub path: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replies {
    /// At most this many automatic replies to one sender in 24 hours.
    pub per_sender_per_day: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Log {
    /// `auto` (text on a terminal, JSON elsewhere), `text` or `json`.
    pub format: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Every copy of a request's personal data is erased this many days
    /// after its final decision (approved, refused, rejected, or a
    /// correction never answered); 0: at the next purge. The request's
    /// number, dates, states, reasons and service stay.
    pub days: u32,
}

/// Where Prometheus finds the desk's numbers: an HTTP endpoint, a
/// node_exporter textfile, or both.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    /// `GET /metrics` on this address; loopback only.
    pub listen: Option<std::net::SocketAddr>,
    /// A `.prom` file rewritten after every round of work.
    pub textfile: Option<PathBuf>,
}

/// Operators' copies of the desk's editable files, re-read on SIGHUP.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeskFiles {
    /// A directory of reply templates; a file it lacks keeps the built-in text.
    pub templates: Option<PathBuf>,
    /// A role-word list added to the built-in one.
    pub roles: Option<PathBuf>,
}

/// What one message may cost the daemon, whatever is in it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Seconds one message may take, its parse and all its attachments:
    /// PDFs not read by then are answered `unreadable_pdf` and the message
    /// is set aside. Keep it well under the unit's `WatchdogSec`.
    pub message_seconds: u32,
    /// Resident memory (MiB) above which the daemon, between two messages,
    /// stops to be restarted with its memory given back; the unit's
    /// `MemoryMax=` sits above it.
    pub memory_max_mb: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            message_seconds: 120,
            memory_max_mb: 1536,
        }
    }
}

/// How a connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tls {
    Implicit,
    Starttls,
    /// Plain text: only for a server on loopback.
    None,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Imap {
    pub host: String,
    pub port: u16,
    pub tls: Tls,
    #[serde(default)]
    pub auth: ImapAuth,
    pub username: String,
    pub password: Option<Secret>,
    pub password_file: Option<PathBuf>,
    #[serde(default = "default_mailbox")]
    pub mailbox: String,
    pub ca_file: Option<PathBuf>,
    /// Where handled messages go (UTF-8; sent in modified UTF-7); created if missing.
    #[serde(default = "default_processed_folder")]
    pub processed_folder: String,
    /// Where messages that could not be handled go, for an operator.
    #[serde(default = "default_quarantine_folder")]
    pub quarantine_folder: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub tls: Tls,
    /// `password` without user name nor password: no login (a relay).
    #[serde(default)]
    pub auth: SmtpAuth,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub password_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
}

/// How guichet signs in to the IMAP server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImapAuth {
    #[default]
    Password,
    /// A bearer token from `[oauth2]` (SASL XOAUTH2 or OAUTHBEARER).
    Oauth2,
}

/// How guichet signs in to the SMTP server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpAuth {
    #[default]
    Password,
    Oauth2,
    /// No login, even with a user name (a relay that trusts the address).
    None,
}

/// The SASL mechanism that carries the bearer token.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SaslMechanism {
    /// Google's and Microsoft's `XOAUTH2`.
    #[default]
    Xoauth2,
    /// RFC 7628 `OAUTHBEARER`.
    Oauthbearer,
}

/// How the access token is had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grant {
    /// The application's own identity (Microsoft 365 with `IMAP.AccessAsApp`).
    ClientCredentials,
    /// A user's consent given once (Google Workspace); the provider may rotate it.
    RefreshToken,
    /// A program prints an access token on standard output.
    Command,
}

/// The `[oauth2]` section of the contract.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2 {
    #[serde(default)]
    pub mechanism: SaslMechanism,
    pub grant: Grant,
    pub token_url: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub client_secret_file: Option<PathBuf>,
    pub scope: Option<String>,
    /// Read at start, rewritten (atomically) when the provider rotates it.
    pub refresh_token_file: Option<PathBuf>,
    pub token_command: Option<PathBuf>,
    /// For the token endpoint.
    pub ca_file: Option<PathBuf>,
}

impl OAuth2 {
    /// Checks that the grant has what it needs, and that secrets travel
    /// over TLS (`http` only to loopback).
    fn validate(&self) -> Result<()> {
        let need = |value: bool, key: &str| -> Result<()> {
            if !value {
                bail!("oauth2.{key}: required with grant = {:?}", self.grant);
            }
            Ok(())
        };
        match self.grant {
            Grant::ClientCredentials | Grant::RefreshToken => {
                need(self.token_url.is_some(), "token_url")?;
                need(self.client_id.is_some(), "client_id")?;
            }
            Grant::Command => need(self.token_command.is_some(), "token_command")?,
        }
        match self.grant {
            Grant::ClientCredentials => need(
                self.client_secret.is_some() || self.client_secret_file.is_some(),
                "client_secret",
            )?,
            Grant::RefreshToken => need(self.refresh_token_file.is_some(), "refresh_token_file")?,
            Grant::Command => {}
        }
        if let Some(url) = &self.token_url {
            check_token_url(url)?;
        }
        secret(
            &self.client_secret,
            &self.client_secret_file,
            "oauth2.client_secret",
        )?;
        Ok(())
    }

    /// The client secret, from the file or inline.
    pub fn client_secret(&self) -> Result<Option<Secret>> {
        secret(
            &self.client_secret,
            &self.client_secret_file,
            "oauth2.client_secret",
        )
    }

    /// `grant = "command"` running `program`, nothing else set (tests).
    #[cfg(test)]
    pub(crate) fn command(program: PathBuf) -> OAuth2 {
        OAuth2 {
            mechanism: SaslMechanism::Xoauth2,
            grant: Grant::Command,
            token_url: None,
            client_id: None,
            client_secret: None,
            client_secret_file: None,
            scope: None,
            refresh_token_file: None,
            token_command: Some(program),
            ca_file: None,
        }
    }

    /// Where the refresh token lives (`$CREDENTIALS_DIRECTORY` when relative).
    pub fn refresh_token_path(&self) -> Option<PathBuf> {
        self.refresh_token_file.as_deref().map(credential_path)
    }
}

/// `https://…`, or `http://` to a loopback host.
fn check_token_url(url: &str) -> Result<()> {
    let (scheme, rest) = url
        .split_once("://")
        .with_context(|| format!("oauth2.token_url: `{url}` is not a URL"))?;
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    match scheme {
        "https" if !host.is_empty() => Ok(()),
        "http" if is_loopback(host) => Ok(()),
        _ => bail!("oauth2.token_url: must be https (plain http only to loopback), not `{url}`"),
    }
}

/// A password or token: never printed, never logged (`Debug` hides it).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl From<&str> for Secret {
    fn from(value: &str) -> Secret {
        Secret(value.to_string())
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret(value)
    }
}

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

fn default_mailbox() -> String {
    "INBOX".to_string()
}

fn default_processed_folder() -> String {
    "Traité".to_string()
}

fn default_quarantine_folder() -> String {
    "Quarantaine".to_string()
}

/// Reads a secret given either inline or as a file path (systemd credentials:
/// `password_file = "/run/credentials/guichet.service/imap"`). A relative
/// file name is looked up in `$CREDENTIALS_DIRECTORY` when it is set.
pub fn secret(
    inline: &Option<Secret>,
    file: &Option<PathBuf>,
    key: &str,
) -> Result<Option<Secret>> {
    match (inline, file) {
        (Some(_), Some(_)) => bail!("{key}: give `{key}` or `{key}_file`, not both"),
        (Some(p), None) => Ok(Some(p.clone())),
        (None, Some(f)) => {
            let path = credential_path(f);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("{key}_file: cannot read {}", path.display()))?;
            Ok(Some(Secret::new(
                text.trim_end_matches(['\r', '\n']).to_string(),
            )))
        }
        (None, None) => Ok(None),
    }
}

/// A credential file: relative names are in `$CREDENTIALS_DIRECTORY`
/// when it is set (systemd `LoadCredential=`).
pub fn credential_path(f: &Path) -> PathBuf {
    match std::env::var_os("CREDENTIALS_DIRECTORY") {
        Some(dir) if f.is_relative() => Path::new(&dir).join(f),
        _ => f.to_path_buf(),
    }
}

impl Settings {
    /// Loads the settings: default, then `file` (or the system file when it
    /// exists), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Settings> {
        Self::load_with_env(file, std::env::vars())
    }

    /// As `load`, with the environment given, so that tests need not touch
    /// the process's own.
    pub fn load_with_env(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings> {
        let mut builder = config::Config::builder().add_source(config::File::from_str(
            DEFAULT_TOML,
            config::FileFormat::Toml,
        ));
        let system = Path::new(SYSTEM_CONFIG);
        match file {
            Some(f) => {
                if !f.exists() {
                    bail!("configuration file {} does not exist", f.display());
                }
                builder =
                    builder.add_source(config::File::from(f).format(config::FileFormat::Toml));
            }
            None if system.exists() => {
                builder = builder.add_source(config::File::from(system));
            }
            None => {}
        }
        let env: config::Map<String, String> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("GUICHET__"))
            .collect();
        builder = builder.add_source(
            config::Environment::with_prefix("GUICHET")
                .prefix_separator("__")
                .separator("__")
                .list_separator(",")
                .with_list_parse_key("staff.members")
                .try_parsing(true)
                .source(Some(env)),
        );
        let raw = builder.build().context("configuration")?;
        let settings: Settings = raw
            .try_deserialize()
            .map_err(|e| anyhow::anyhow!("configuration refused: {e}"))?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks what types alone cannot: addresses, limits, plain text off loopback.
    fn validate(&self) -> Result<()> {
        if !looks_like_address(&self.intake.address) {
            bail!(
                "intake.address: `{}` is not an e-mail address",
                self.intake.address
            );
        }
        if self.staff.members.is_empty() {
            bail!("staff.members: at least one staff address is needed");
        }
        for m in &self.staff.members {
            if !looks_like_address(m) {
                bail!("staff.members: `{m}` is not an e-mail address");
            }
        }
        if self.staff.max_outstanding == 0 {
            bail!("staff.max_outstanding: must be at least 1");
        }
        if !(1..=365).contains(&self.staff.token_days) {
            bail!("staff.token_days: must be between 1 and 365");
        }
        if self.staff.digest_hour.is_some_and(|h| h > 23) {
            bail!("staff.digest_hour: must be between 0 and 23");
        }
        if !(1..=600).contains(&self.limits.message_seconds) {
            bail!("limits.message_seconds: must be between 1 and 600");
        }
        if self.limits.memory_max_mb < 256 {
            bail!("limits.memory_max_mb: must be at least 256");
        }
        if self.intake.max_message_bytes < 1024 {
            bail!("intake.max_message_bytes: must be at least 1024");
        }
        if !matches!(self.log.format.as_str(), "auto" | "text" | "json") {
            bail!(
                "log.format: `{}` is not one of auto, text, json",
                self.log.format
            );
        }
        if !(1..=3600).contains(&self.outbox.retry_first_s) {
            bail!("outbox.retry_first_s: must be between 1 and 3600");
        }
        if self.retention.days > 36500 {
            bail!("retention.days: must be at most 36500");
        }
        if let Some(m) = &self.metrics {
            if m.listen.is_none() && m.textfile.is_none() {
                bail!("metrics: give `listen` or `textfile` (or leave the section out)");
            }
            if let Some(addr) = m.listen.filter(|a| !a.ip().is_loopback()) {
                bail!("metrics.listen: `{addr}` is not a loopback address");
            }
        }
        let mut oauth2_used = false;
        if let Some(imap) = &self.imap {
            check_plain("imap", imap.tls, &imap.host)?;
            secret(&imap.password, &imap.password_file, "imap.password")?;
            oauth2_used |= imap.auth == ImapAuth::Oauth2;
        }
        if let Some(smtp) = &self.smtp {
            check_plain("smtp", smtp.tls, &smtp.host)?;
            secret(&smtp.password, &smtp.password_file, "smtp.password")?;
            if smtp.auth == SmtpAuth::Oauth2 {
                oauth2_used = true;
                if smtp.username.is_none() {
                    bail!("smtp.username: required with auth = \"oauth2\"");
                }
            }
        }
        match &self.oauth2 {
            Some(o) => o.validate()?,
            None if oauth2_used => {
                bail!("oauth2: the section is required when [imap] or [smtp] has auth = \"oauth2\"")
            }
            None => {}
        }
        Ok(())
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

fn check_plain(section: &str, tls: Tls, host: &str) -> Result<()> {
    if tls == Tls::None && !is_loopback(host) {
        bail!("{section}.tls: `none` is allowed only for a server on loopback, not `{host}`");
    }
    Ok(())
}

fn looks_like_address(s: &str) -> bool {
    crate::address::Address::parse(s).is_some_and(|a| a.domain().contains('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn built_in_default_runs_on_local_folders() {
        let s = Settings::load_with_env(None, env(&[])).unwrap();
        assert_eq!(s.intake.address, "acces@organisme.example");
        assert_eq!(s.staff.members, vec!["agent@organisme.example"]);
        assert_eq!(s.staff.authserv_id, "mx.organisme.example");
        assert!(s.imap.is_none() && s.smtp.is_none());
        assert_eq!(s.store.path, PathBuf::from("var/db"));
        assert_eq!(s.staff.max_outstanding, 5);
        assert_eq!(s.staff.token_days, 14);
        assert!(s.staff.handoff_command.is_none() && s.staff.digest_hour.is_none());
    }

    #[test]
    fn staff_sign_off_keys_are_checked() {
        let s = Settings::load_with_env(
            None,
            env(&[
                ("GUICHET__STAFF__MAX_OUTSTANDING", "2"),
                ("GUICHET__STAFF__DIGEST_HOUR", "7"),
                (
                    "GUICHET__STAFF__HANDOFF_COMMAND",
                    "/usr/local/bin/enregistrer",
                ),
            ]),
        )
        .unwrap();
        assert_eq!(s.staff.max_outstanding, 2);
        assert_eq!(s.staff.digest_hour, Some(7));
        assert_eq!(
            s.staff.handoff_command,
            Some(PathBuf::from("/usr/local/bin/enregistrer"))
        );
        for (key, value, name) in [
            (
                "GUICHET__STAFF__MAX_OUTSTANDING",
                "0",
                "staff.max_outstanding",
            ),
            ("GUICHET__STAFF__TOKEN_DAYS", "0", "staff.token_days"),
            ("GUICHET__STAFF__DIGEST_HOUR", "24", "staff.digest_hour"),
        ] {
            let err = Settings::load_with_env(None, env(&[(key, value)])).unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn environment_overrides_default() {
        let s = Settings::load_with_env(
            None,
            env(&[
                ("GUICHET__STORE__PATH", "/tmp/x"),
                ("GUICHET__STAFF__MEMBERS", "a@b.example,c@d.example"),
            ]),
        )
        .unwrap();
        assert_eq!(s.store.path, PathBuf::from("/tmp/x"));
        assert_eq!(s.staff.members.len(), 2);
    }

    #[test]
    fn operators_keys_have_safe_defaults_and_refuse_exposure() {
        let s = Settings::load_with_env(None, env(&[])).unwrap();
        assert_eq!(s.retention.days, 90);
        assert_eq!(s.outbox.retry_first_s, 30);
        assert!(s.metrics.is_none() && s.desk.templates.is_none());
        let ok =
            Settings::load_with_env(None, env(&[("GUICHET__METRICS__LISTEN", "127.0.0.1:9464")]))
                .unwrap();
        assert_eq!(ok.metrics.unwrap().listen.unwrap().port(), 9464);
        for (key, value, named) in [
            ("GUICHET__METRICS__LISTEN", "0.0.0.0:9464", "metrics.listen"),
            ("GUICHET__RETENTION__DAYS", "40000", "retention.days"),
            (
                "GUICHET__OUTBOX__RETRY_FIRST_S",
                "0",
                "outbox.retry_first_s",
            ),
        ] {
            let err = Settings::load_with_env(None, env(&[(key, value)])).unwrap_err();
            assert!(err.to_string().contains(named), "{err}");
        }
    }

    #[test]
    fn oauth2_keys_are_the_contracts_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("g.toml");
        let imap = "[imap]\nhost='imap.example.org'\nport=993\ntls='implicit'\nusername='a@b.example'\nauth='oauth2'\n\
                    [smtp]\nhost='smtp.example.org'\nport=587\ntls='starttls'\nusername='a@b.example'\nauth='oauth2'\n";
        std::fs::write(&f, imap).unwrap();
        let err = Settings::load_with_env(Some(&f), env(&[])).unwrap_err();
        assert!(err.to_string().contains("oauth2"), "{err}");
        let secret_file = dir.path().join("oauth2-secret");
        std::fs::write(&secret_file, "s3cr3t\n").unwrap();
        let good = format!(
            "{imap}[oauth2]\nmechanism='oauthbearer'\ngrant='client_credentials'\n\
             token_url='https://login.microsoftonline.com/t/oauth2/v2.0/token'\nclient_id='c'\n\
             client_secret_file='{}'\nscope='https://outlook.office365.com/.default'\n",
            secret_file.display()
        );
        std::fs::write(&f, &good).unwrap();
        let s = Settings::load_with_env(Some(&f), env(&[])).unwrap();
        let o = s.oauth2.unwrap();
        assert_eq!(
            (o.mechanism, o.grant),
            (SaslMechanism::Oauthbearer, Grant::ClientCredentials)
        );
        assert_eq!(o.client_secret().unwrap().unwrap().expose(), "s3cr3t");
        assert_eq!(
            format!("{:?}", o.client_secret().unwrap()),
            "Some(Secret(..))"
        );
        assert_eq!(s.imap.as_ref().unwrap().auth, ImapAuth::Oauth2);
        let inline = good.replace(
            &format!("client_secret_file='{}'", secret_file.display()),
            "client_secret='hunter2'",
        );
        std::fs::write(&f, inline).unwrap();
        let s = Settings::load_with_env(Some(&f), env(&[("GUICHET__IMAP__PASSWORD", "pw-s3cr3t")]))
            .unwrap();
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("pw-s3cr3t"),
            "{shown}"
        );
        assert_eq!(
            s.oauth2.unwrap().client_secret().unwrap().unwrap().expose(),
            "hunter2"
        );
        for (from, to, key) in [
            ("https://login", "http://login", "oauth2.token_url"),
            (
                "grant='client_credentials'",
                "grant='refresh_token'",
                "oauth2.refresh_token_file",
            ),
            (
                "grant='client_credentials'",
                "grant='command'",
                "oauth2.token_command",
            ),
            ("grant='client_credentials'", "grant='password'", "grant"),
        ] {
            std::fs::write(&f, good.replace(from, to)).unwrap();
            let err = Settings::load_with_env(Some(&f), env(&[])).unwrap_err();
            assert!(err.to_string().contains(key), "{key}: {err}");
        }
        std::fs::write(
            &f,
            good.replace(
                "https://login.microsoftonline.com/t",
                "http://127.0.0.1:8080",
            ),
        )
        .unwrap();
        assert!(
            Settings::load_with_env(Some(&f), env(&[])).is_ok(),
            "loopback may be http"
        );
        let err = Settings::load_with_env(Some(&f), env(&[("GUICHET__SMTP__AUTH", "kerberos")]))
            .unwrap_err();
        assert!(err.to_string().contains("kerberos"), "{err}");
    }

    #[test]
    fn bad_values_are_refused_with_their_key() {
        let err = Settings::load_with_env(None, env(&[("GUICHET__INTAKE__ADDRESS", "nobody")]))
            .unwrap_err();
        assert!(err.to_string().contains("intake.address"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("g.toml");
        std::fs::write(
            &f,
            "[imap]\nhost='imap.example.org'\nport=143\ntls='none'\nusername='a'\npassword='b'\n",
        )
        .unwrap();
        let err = Settings::load_with_env(Some(&f), env(&[])).unwrap_err();
        assert!(err.to_string().contains("imap.tls"), "{err}");
        std::fs::write(&f, "[store]\npth='x'\n").unwrap();
        let err = Settings::load_with_env(Some(&f), env(&[])).unwrap_err();
        assert!(err.to_string().contains("pth"), "{err}");
    }
}
