//! Replies out over SMTP with lettre: authenticated submission (587
//! STARTTLS, 465 implicit TLS) or a plain relay on loopback.
//!
//! Each send opens its own connection and closes it (lettre's pool is not
//! built in), so no connection outlives the server's patience.

use std::time::Duration;

use anyhow::{Context, Result};
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::{Outgoing, SendError, Transport};
use crate::config;

/// How long any one SMTP step (connect, command, data) may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// The SMTP server replies are handed to.
pub struct SmtpTransport {
    inner: AsyncSmtpTransport<Tokio1Executor>,
}

impl SmtpTransport {
    /// Fails on what no retry would fix: unreadable CA or password file, a
    /// user name without password.
    pub fn new(cfg: &config::Smtp) -> Result<SmtpTransport> {
        Self::with_timeout(cfg, COMMAND_TIMEOUT)
    }

    pub fn with_timeout(cfg: &config::Smtp, timeout: Duration) -> Result<SmtpTransport> {
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&cfg.host)
            .port(cfg.port)
            .timeout(Some(timeout))
            .tls(tls(cfg)?);
        let password = config::secret(&cfg.password, &cfg.password_file, "smtp.password")?;
        match (&cfg.username, password) {
            (Some(user), Some(password)) => {
                builder = builder.credentials(Credentials::new(user.clone(), password))
            }
            (Some(_), None) => {
                anyhow::bail!("smtp: `username` given without `password` or `password_file`")
            }
            (None, Some(_)) => anyhow::bail!("smtp: a password is given without `username`"),
            (None, None) => {}
        }
        Ok(SmtpTransport {
            inner: builder.build(),
        })
    }
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

/// 5xx answers and messages lettre cannot express are permanent; refused
/// connections, 4xx, timeouts and TLS trouble are worth retrying.
fn classify(e: &lettre::transport::smtp::Error) -> SendError {
    let text = e.to_string();
    if e.is_permanent() || e.is_client() {
        SendError::Permanent(text)
    } else {
        SendError::Transient(text)
    }
}

impl Transport for SmtpTransport {
    /// Sends `mail.raw` unchanged with its envelope.
    async fn send(&self, mail: &Outgoing) -> Result<(), SendError> {
        let envelope = envelope(mail)?;
        self.inner
            .send_raw(&envelope, &mail.raw)
            .await
            .map(|_| ())
            .map_err(|e| classify(&e))
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
