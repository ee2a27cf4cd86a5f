//! How replies leave: `.eml` files by default, SMTP in production. Replies
//! wait in the store's outbox until a `Transport` has accepted them.

pub mod drain;
pub mod file;
pub mod pause;
pub mod smtp;

pub use crate::domain::Outgoing;

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

#[cfg(test)]
mod tests {
    use super::Outgoing;

    fn mail(raw: &[u8]) -> Outgoing {
        Outgoing {
            id: "0001-ack".into(),
            envelope_from: "acces@organisme.example".into(),
            to: vec!["a@b.example".into()],
            raw: raw.to_vec(),
        }
    }

    /// Text stays text (a byte a byte, plus JSON escapes), other bytes go
    /// as base64, and a record of an older version, numbers, still reads.
    #[test]
    fn message_bytes_are_kept_compactly_and_older_records_still_read() {
        let text = mail(b"Subject: r\xc3\xa9ponse\r\n\r\nBonjour\r\n");
        let json = serde_json::to_string(&text).unwrap();
        assert!(
            json.contains(r#""raw":"Subject: réponse\r\n\r\nBonjour\r\n""#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<Outgoing>(&json).unwrap(), text);

        let binary = mail(&[0xff, 0x00, 0x80, b'x']);
        let json = serde_json::to_string(&binary).unwrap();
        assert!(json.contains(r#""raw":{"base64":"/wCAeA=="}"#), "{json}");
        assert_eq!(serde_json::from_str::<Outgoing>(&json).unwrap(), binary);

        let older = r#"{"id":"0001-ack","envelope_from":"acces@organisme.example","to":["a@b.example"],"raw":[72,105]}"#;
        assert_eq!(serde_json::from_str::<Outgoing>(older).unwrap().raw, b"Hi");
    }
}
