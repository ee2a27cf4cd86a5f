//! Where applicant and staff e-mail comes from: a Maildir by default, an
//! IMAP mailbox in production. The daemon sees only the `Mailbox` trait.

use std::time::Duration;

use chrono::{DateTime, Utc};

pub mod imap;
pub mod maildir;

/// One raw message waiting in the mailbox.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// The mailbox's own handle on it (Maildir file name, IMAP `uidvalidity:uid`).
    pub key: String,
    /// The whole message; only its header section when `oversized`.
    pub bytes: Vec<u8>,
    /// Larger than `intake.max_message_bytes`: never downloaded whole;
    /// `bytes` holds just the header section (at most 64 KiB), enough to
    /// answer the sender before the message is quarantined.
    pub oversized: bool,
    /// When the mailbox received it (Maildir delivery time, IMAP INTERNALDATE):
    /// the request's place in the queue, even if the desk was down that day.
    pub received_at: DateTime<Utc>,
}

/// What to do with a message once its effects are committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Handled: out of the inbox (Maildir `cur/`, IMAP `Traité`).
    Processed,
    /// Could not be handled: set aside for an operator, with the reason logged.
    Quarantine(String),
}

/// A mailbox the daemon takes messages from.
#[allow(async_fn_in_trait)]
pub trait Mailbox {
    /// The next message waiting, in arrival order; `None` when none waits.
    /// One message at a time, so that a backlog of any length costs the
    /// memory of one message: a mailbox lists what waits (names, UIDs and
    /// sizes, not contents) and reads each message only when it is asked
    /// for. A message handed out and not settled comes again once the
    /// messages listed after it were handed out. Oversized messages are not
    /// loaded: they come with only their header section and `oversized` set.
    async fn next(&mut self) -> anyhow::Result<Option<Incoming>>;

    /// Takes a handled message out of the inbox. Called only after the
    /// store has committed and flushed what the message produced.
    async fn settle(&mut self, key: &str, disposition: Disposition) -> anyhow::Result<()>;

    /// Waits until new mail may have arrived (IMAP IDLE) or `max` has passed.
    async fn wait(&mut self, max: Duration) -> anyhow::Result<()>;

    /// Ends the session before the daemon exits (IMAP LOGOUT). A folder
    /// has nothing to end.
    async fn logout(&mut self) -> anyhow::Result<()> {
        Ok(())
    }

    /// Removes for good the kept copies (processed and quarantine folders)
    /// of the messages with these Message-IDs, once retention or an
    /// erasure calls for it; returns how many were removed. A mailbox that
    /// keeps nothing it can remove says so.
    async fn forget(&mut self, message_ids: &[String]) -> anyhow::Result<usize> {
        anyhow::ensure!(
            message_ids.is_empty(),
            "this mailbox cannot remove the messages it keeps"
        );
        Ok(0)
    }
}

/// The mailbox the settings name: IMAP when `[imap]` is given, else the
/// Maildir of `intake.maildir`.
pub enum Configured {
    Maildir(maildir::Maildir),
    Imap(Box<imap::ImapMailbox>),
}

impl Configured {
    /// `tokens`: the OAuth token source, shared with the outbox.
    pub fn from_settings(
        settings: &crate::config::Settings,
        position: &imap::MemoryCursor,
        tokens: Option<std::sync::Arc<crate::oauth2::TokenSource>>,
    ) -> anyhow::Result<Configured> {
        let max = settings.intake.max_message_bytes;
        Ok(match &settings.imap {
            Some(cfg) => Configured::Imap(Box::new(imap::ImapMailbox::with_tokens(
                cfg,
                tokens,
                max,
                Box::new(position.clone()),
                imap::Timing::default(),
            )?)),
            None => Configured::Maildir(maildir::Maildir::open(&settings.intake.maildir, max)?),
        })
    }
}

impl Mailbox for Configured {
    async fn next(&mut self) -> anyhow::Result<Option<Incoming>> {
        match self {
            Configured::Maildir(m) => m.next().await,
            Configured::Imap(m) => m.next().await,
        }
    }

    async fn settle(&mut self, key: &str, disposition: Disposition) -> anyhow::Result<()> {
        match self {
            Configured::Maildir(m) => m.settle(key, disposition).await,
            Configured::Imap(m) => m.settle(key, disposition).await,
        }
    }

    async fn wait(&mut self, max: Duration) -> anyhow::Result<()> {
        match self {
            Configured::Maildir(m) => m.wait(max).await,
            Configured::Imap(m) => m.wait(max).await,
        }
    }

    async fn forget(&mut self, message_ids: &[String]) -> anyhow::Result<usize> {
        match self {
            Configured::Maildir(m) => m.forget(message_ids).await,
            Configured::Imap(m) => m.forget(message_ids).await,
        }
    }

    async fn logout(&mut self) -> anyhow::Result<()> {
        match self {
            Configured::Maildir(m) => m.logout().await,
            Configured::Imap(m) => {
                m.close().await;
                Ok(())
            }
        }
    }
}
