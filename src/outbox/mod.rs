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
