//! Replies out over SMTP with lettre's connection: authenticated submission
//! (587 STARTTLS, 465 implicit TLS) or a plain relay on loopback; the
//! login by password or by bearer token (`XOAUTH2`, `OAUTHBEARER`).
//!
//! Each send opens its own connection and closes it, so no connection
//! outlives the server's patience. The steps are taken one by one so that a
//! failure says whose it is: the server's or the sign-in's (connection,
//! TLS, login, any 4xx, a 5xx to `MAIL FROM`, `DATA` or the message), which
//! pauses the outbox, or one recipient's (a 5xx to `RCPT TO`), permanent
//! for that message only.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use base64::Engine;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{
    AsyncSmtpConnection, Certificate, CertificateStore, Tls, TlsParameters,
};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::Address;

use super::{Outgoing, SendError, Transport};
use crate::config::{self, SmtpAuth};
use crate::oauth2::{sasl, TokenSource};

/// How long any one SMTP step (connect, command, data) may take.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// How guichet signs in.
enum Login {
    None,
    Password(Credentials),
    Token {
        user: String,
        tokens: Arc<TokenSource>,
    },
}

/// The SMTP server replies are handed to.
pub struct SmtpTransport {
    host: String,
    port: u16,
    tls: Tls,
    timeout: Duration,
    login: Login,
    hello: ClientId,
}

impl SmtpTransport {
    /// Fails on what no retry would fix: unreadable CA or password file, a
    /// user name without password, `auth = "oauth2"` (see `with_tokens`).
    pub fn new(cfg: &config::Smtp) -> Result<SmtpTransport> {
        Self::with_timeout(cfg, COMMAND_TIMEOUT)
    }

    pub fn with_timeout(cfg: &config::Smtp, timeout: Duration) -> Result<SmtpTransport> {
        Self::build(cfg, None, timeout)
    }

    /// A transport whose `auth = "oauth2"` login takes its tokens from `tokens`.
    pub fn with_tokens(
        cfg: &config::Smtp,
        tokens: Option<Arc<TokenSource>>,
        timeout: Duration,
    ) -> Result<SmtpTransport> {
        Self::build(cfg, tokens, timeout)
    }

    fn build(
        cfg: &config::Smtp,
        tokens: Option<Arc<TokenSource>>,
        timeout: Duration,
    ) -> Result<SmtpTransport> {
        let password = config::secret(&cfg.password, &cfg.password_file, "smtp.password")?;
        let login = match (cfg.auth, &cfg.username, password) {
            (SmtpAuth::None, _, _) => Login::None,
            (SmtpAuth::Oauth2, Some(user), _) => Login::Token {
                user: user.clone(),
                tokens: tokens.context("smtp: auth = \"oauth2\" needs the [oauth2] section")?,
            },
            (SmtpAuth::Oauth2, None, _) => {
                anyhow::bail!("smtp.username: required with auth = \"oauth2\"")
            }
            (SmtpAuth::Password, Some(user), Some(password)) => Login::Password(Credentials::new(
                user.clone(),
                password.expose().to_string(),
            )),
            (SmtpAuth::Password, Some(_), None) => {
                anyhow::bail!("smtp: `username` given without `password` or `password_file`")
            }
            (SmtpAuth::Password, None, Some(_)) => {
                anyhow::bail!("smtp: a password is given without `username`")
            }
            (SmtpAuth::Password, None, None) => Login::None,
        };
        Ok(SmtpTransport {
            host: cfg.host.clone(),
            port: cfg.port,
            tls: tls(cfg)?,
            timeout,
            login,
            hello: ClientId::default(),
        })
    }

    /// Connects, secures and signs in.
    async fn open(&self) -> Result<AsyncSmtpConnection, SendError> {
        let mut conn = self.connect().await?;
        match &self.login {
            Login::None => {}
            Login::Password(credentials) => {
                conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                    .await
                    .map_err(|e| server("authentication", &e))?;
            }
            Login::Token { user, tokens } => {
                let token = tokens.token().await.map_err(|e| {
                    SendError::Server(format!("authentication: no OAuth token: {e}"))
                })?;
                let Err(why) = self.bearer(&mut conn, user, &token, tokens).await else {
                    return Ok(conn);
                };
                // Expired or revoked: once more at once with a new token.
                tokens.reject(&token).await;
                let fresh = tokens.token().await.map_err(|e| {
                    SendError::Server(format!("authentication: no OAuth token: {e}"))
                })?;
                if fresh == token {
                    return Err(SendError::Server(format!("authentication: {why}")));
                }
                conn.abort().await;
                conn = self.connect().await?;
                if let Err(why) = self.bearer(&mut conn, user, &fresh, tokens).await {
                    tokens.reject(&fresh).await;
                    return Err(SendError::Server(format!("authentication: {why}")));
                }
            }
        }
        Ok(conn)
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let implicit = match &self.tls {
            Tls::Wrapper(params) => Some(params.clone()),
            _ => None,
        };
        let mut conn = AsyncSmtpConnection::connect_tokio1(
            (self.host.as_str(), self.port),
            Some(self.timeout),
            &self.hello,
            implicit,
            None,
        )
        .await
        .map_err(|e| server("connection", &e))?;
        if let Tls::Required(params) = &self.tls {
            conn.starttls(params.clone(), &self.hello)
                .await
                .map_err(|e| server("tls", &e))?;
        }
        Ok(conn)
    }

    /// SASL with the bearer token; `Err` says why the server refused it.
    async fn bearer(
        &self,
        conn: &mut AsyncSmtpConnection,
        user: &str,
        token: &config::Secret,
        tokens: &TokenSource,
    ) -> Result<(), String> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let mechanism = tokens.mechanism;
        let initial = sasl::initial_response(mechanism, user, token, &self.host, self.port);
        let command = Line(format!(
            "AUTH {} {}",
            sasl::name(mechanism),
            b64.encode(initial)
        ));
        let answer = conn.command(command).await.map_err(|e| e.to_string())?;
        if !answer.has_code(334) {
            return Ok(());
        }
        // An error challenge: the server's JSON reason, then the refusal.
        let challenge = answer
            .first_word()
            .and_then(|w| b64.decode(w).ok())
            .map(|j| String::from_utf8_lossy(&j).into_owned())
            .unwrap_or_default();
        let end = conn
            .command(Line(b64.encode(sasl::abort_response(mechanism))))
            .await;
        let refusal = match end {
            Err(e) => e.to_string(),
            Ok(r) => format!("unexpected {}", u16::from(r.code())),
        };
        Err(format!("{refusal} {challenge}").trim().to_string())
    }

    /// MAIL FROM, RCPT TO, DATA and the message on a signed-in connection.
    async fn deliver(
        &self,
        conn: &mut AsyncSmtpConnection,
        envelope: &Envelope,
        raw: &[u8],
    ) -> Result<(), SendError> {
        let mut params = Vec::new();
        if !raw.is_ascii() {
            if !conn.server_info().supports_feature(Extension::EightBitMime) {
                return Err(SendError::Permanent(
                    "an 8-bit message and the server lacks 8BITMIME".into(),
                ));
            }
            params.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        conn.command(Mail::new(envelope.from().cloned(), params))
            .await
            .map_err(|e| server("sender", &e))?;
        for to in envelope.to() {
            if let Err(e) = conn.command(Rcpt::new(to.clone(), vec![])).await {
                return Err(if e.is_permanent() {
                    SendError::Permanent(format!("recipient: {e}"))
                } else {
                    server("server", &e)
                });
            }
        }
        conn.command(Data).await.map_err(|e| server("server", &e))?;
        conn.message(raw).await.map_err(|e| server("server", &e))?;
        Ok(())
    }
}

/// One raw command line (SASL exchanges lettre does not write itself).
struct Line(String);

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\r\n", self.0)
    }
}

/// A failure of the server or the sign-in at `step`; a TLS failure says so
/// whatever the step.
fn server(step: &str, e: &lettre::transport::smtp::Error) -> SendError {
    let step = if e.is_tls() { "tls" } else { step };
    SendError::Server(format!("{step}: {e}"))
}

/// lettre's TLS mode. Trusted: the certificates of `ca_file` alone, else
/// the built-in web PKI roots, as for IMAP (not the system store, so both
/// adapters trust the same authorities on any machine).
fn tls(cfg: &config::Smtp) -> Result<Tls> {
    if cfg.tls == config::Tls::None {
        return Ok(Tls::None);
    }
    let mut params = TlsParameters::builder(cfg.host.clone());
    params = match &cfg.ca_file {
        Some(path) => {
            // Fails clearly on a file without certificates, as for IMAP.
            let certs = crate::net::tls::read_pem_certificates(path).context("smtp")?;
            certs.into_iter().try_fold(
                params.certificate_store(CertificateStore::None),
                |p, der| {
                    let cert = Certificate::from_der(der.to_vec())
                        .with_context(|| format!("smtp.ca_file {}", path.display()))?;
                    anyhow::Ok(p.add_root_certificate(cert))
                },
            )?
        }
        None => params.certificate_store(CertificateStore::WebpkiRoots),
    };
    let params = params.build_rustls().context("smtp: TLS settings")?;
    Ok(match cfg.tls {
        config::Tls::Implicit => Tls::Wrapper(params),
        _ => Tls::Required(params),
    })
}

/// The SMTP envelope of `mail`; an empty sender is the null reverse-path.
fn envelope(mail: &Outgoing) -> Result<Envelope, SendError> {
    let parse = |a: &str| {
        a.parse::<Address>()
            .map_err(|e| SendError::Permanent(format!("address `{a}`: {e}")))
    };
    let from = match mail.envelope_from.as_str() {
        "" => None,
        a => Some(parse(a)?),
    };
    let to = mail
        .to
        .iter()
        .map(|a| parse(a))
        .collect::<Result<Vec<_>, _>>()?;
    Envelope::new(from, to).map_err(|e| SendError::Permanent(format!("envelope: {e}")))
}

impl Transport for SmtpTransport {
    /// Sends `mail.raw` unchanged with its envelope.
    async fn send(&self, mail: &Outgoing) -> Result<(), SendError> {
        let envelope = envelope(mail)?;
        let mut conn = self.open().await?;
        let result = self.deliver(&mut conn, &envelope, &mail.raw).await;
        match result {
            Ok(()) => {
                let _ = conn.quit().await;
            }
            Err(_) => conn.abort().await,
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(from: &str, to: &[&str]) -> Outgoing {
        Outgoing {
            id: "r1".into(),
            envelope_from: from.into(),
            to: to.iter().map(|s| s.to_string()).collect(),
            raw: b"Subject: x\r\n\r\nx\r\n".to_vec(),
        }
    }

    #[test]
    fn bad_addresses_are_permanent_failures() {
        assert!(matches!(
            envelope(&mail("acces@organisme.example", &["not an address"])),
            Err(SendError::Permanent(_))
        ));
        assert!(matches!(
            envelope(&mail("acces@organisme.example", &[])),
            Err(SendError::Permanent(_))
        ));
        let null_sender = envelope(&mail("", &["a@clinique.example"])).unwrap();
        assert!(null_sender.from().is_none());
    }

    /// The daemon may send from a spawned task.
    #[test]
    fn sending_is_send() {
        fn send<T: Send>(_: &T) {}
        let cfg = config::Smtp {
            host: "127.0.0.1".into(),
            port: 2525,
            tls: config::Tls::None,
            auth: config::SmtpAuth::Password,
            username: None,
            password: None,
            password_file: None,
            ca_file: None,
        };
        let transport = SmtpTransport::new(&cfg).unwrap();
        let out = mail("acces@organisme.example", &["a@clinique.example"]);
        send(&transport.send(&out));
    }

    #[test]
    fn credentials_come_in_pairs() {
        let cfg = config::Smtp {
            host: "127.0.0.1".into(),
            port: 2525,
            tls: config::Tls::None,
            auth: config::SmtpAuth::Password,
            username: Some("acces@organisme.example".into()),
            password: None,
            password_file: None,
            ca_file: None,
        };
        assert!(SmtpTransport::new(&cfg).is_err());
        let cfg = config::Smtp {
            username: None,
            ..cfg
        };
        assert!(SmtpTransport::new(&cfg).is_ok());
    }
}
