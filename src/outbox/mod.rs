//! How replies leave: `.eml` files by default, SMTP in production. Replies
//! wait in the store's outbox until a `Transport` has accepted them.

pub mod file;
pub mod smtp;

/// One message ready to go: envelope and the RFC 5322 bytes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Outgoing {
    /// Store key; also the stem of the `.eml` file name.
    pub id: String,
    pub envelope_from: String,
    pub to: Vec<String>,
    pub raw: Vec<u8>,
}

/// Why a message was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth trying again later (connection refused, 4xx).
    #[error("temporary failure: {0}")]
    Transient(String),
    /// Will never go through as it is (5xx): recorded, shown by `status`.
    #[error("permanent failure: {0}")]
    Permanent(String),
}

/// Something that accepts outgoing mail.
#[allow(async_fn_in_trait)]
pub trait Transport {
    async fn send(&self, mail: &Outgoing) -> Result<(), SendError>;
}

/// The transport the settings name: SMTP when `[smtp]` is given, else
/// `.eml` files in `outbox.dir`.
pub enum Configured {
    File(file::FileTransport),
    Smtp(smtp::SmtpTransport),
}

impl Configured {
    pub fn from_settings(settings: &crate::config::Settings) -> anyhow::Result<Configured> {
        Ok(match &settings.smtp {
            Some(cfg) => Configured::Smtp(smtp::SmtpTransport::new(cfg)?),
            None => {
                Configured::File(file::FileTransport::new(&settings.outbox.dir).map_err(|e| {
                    anyhow::anyhow!(
                        "outbox.dir: cannot create {}: {e}",
                        settings.outbox.dir.display()
                    )
                })?)
            }
        })
    }
}

impl Transport for Configured {
    async fn send(&self, mail: &Outgoing) -> Result<(), SendError> {
        match self {
            Configured::File(t) => t.send(mail).await,
            Configured::Smtp(t) => t.send(mail).await,
        }
    }
}
