//! How replies leave: `.eml` files by default, SMTP in production. Replies
//! wait in the store's outbox until a `Transport` has accepted them.

pub mod drain;
pub mod file;
pub mod pause;
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
    /// The server or the sign-in failed, not this message: no connection,
    /// TLS, a refused login, any 4xx, a 5xx to `MAIL FROM` or to the
    /// message itself. The outbox pauses; every reply stays pending.
    #[error("sending refused: {0}")]
    Server(String),
    /// This message will never go as it is (a recipient refused with a
    /// 5xx, an address no server would take): recorded, shown by `status`.
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
    /// `tokens`: the OAuth token source, shared with the intake.
    pub fn from_settings(
        settings: &crate::config::Settings,
        tokens: Option<std::sync::Arc<crate::oauth2::TokenSource>>,
    ) -> anyhow::Result<Configured> {
        Ok(match &settings.smtp {
            Some(cfg) => Configured::Smtp(smtp::SmtpTransport::with_tokens(
                cfg,
                tokens,
                smtp::COMMAND_TIMEOUT,
            )?),
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
