//! The intake mailbox over IMAP: messages are taken by UID, waited for with
//! IDLE (polling where the server lacks it), and moved to the processed or
//! quarantine folder once their effects are committed.
//!
//! The position of the intake (UIDVALIDITY and the last settled UID) is kept
//! by the caller's store through [`UidCursor`], so that a restart neither
//! loses nor repeats work. When the server renumbers the mailbox (a new
//! UIDVALIDITY), every message still there is handed out again: the
//! pipeline recognises those it already handled by Message-ID and content.
//!
//! Outages are this adapter's business: it reconnects with exponential
//! backoff and jitter, and logs each change of state once. While the server
//! is unreachable `next` returns nothing and `wait` sleeps until the next
//! attempt, so the daemon's loop needs no special case:
//!
//! ```text
//! loop {
//!     while let Some(message) = mailbox.next().await? {
//!         // read, decide, commit to the store (idempotent: a message not
//!         // settled is handed out again once the listing is renewed) …
//!         mailbox.settle(&message.key, disposition).await?;
//!     }
//!     mailbox.wait(Duration::from_secs(300)).await?;
//! }
//! ```
//!
//! A backlog streams: one `UID FETCH n:* (RFC822.SIZE)` lists what waits
//! (UIDs and sizes only), then each message is downloaded when it is
//! asked for, so one message at a time is in memory however many wait.

mod folders;
mod ledger;
mod session;
mod utf7;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use tokio::time::Instant;

use ledger::Ledger;
pub use ledger::{MessageKey, UidMark};
use session::{Failure, Link, Login, Part, Server};

use super::{Disposition, Incoming, Mailbox};
use crate::config;
use crate::net::backoff::Backoff;
use crate::net::tls::client_config;
use crate::oauth2::TokenSource;

/// Where the caller's store keeps the intake's position in the mailbox.
pub trait UidCursor: Send {
    fn load(&self) -> Result<Option<UidMark>>;
    /// Called when the mark advances or the mailbox was renumbered; must be
    /// durable when it returns.
    fn save(&self, mark: UidMark) -> Result<()>;
}

/// A cursor in memory. Clones share the mark, so that its holder can read
/// it: the daemon, whose store persists it after each message and round
/// (the store keeps the value; it never holds the cursor), or a test
/// handing it to a second mailbox (a restart).
#[derive(Debug, Clone, Default)]
pub struct MemoryCursor(Arc<Mutex<Option<UidMark>>>);

impl MemoryCursor {
    /// A cursor at `mark` (where the store last recorded it).
    pub fn at(mark: Option<UidMark>) -> MemoryCursor {
        MemoryCursor(Arc::new(Mutex::new(mark)))
    }

    pub fn get(&self) -> Option<UidMark> {
        *self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl UidCursor for MemoryCursor {
    fn load(&self) -> Result<Option<UidMark>> {
        Ok(self.get())
    }

    fn save(&self, mark: UidMark) -> Result<()> {
        *self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(mark);
        Ok(())
    }
}

/// How long things may take; the defaults suit a real server, tests shorten them.
#[derive(Debug, Clone)]
pub struct Timing {
    /// Any one command (a whole-message fetch gets more, by size).
    pub command: Duration,
    /// An IDLE is ended and re-issued after this (RFC 2177: under 29 minutes).
    pub idle_renewal: Duration,
    /// Without IDLE, how often the mailbox is looked at.
    pub poll: Duration,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            command: Duration::from_secs(30),
            idle_renewal: Duration::from_secs(28 * 60),
            poll: Duration::from_secs(60),
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
        }
    }
}

/// UIDs per MOVE command, to keep command lines short.
const MOVE_CHUNK: usize = 100;

/// The intake mailbox on an IMAP server.
pub struct ImapMailbox {
    server: Server,
    processed_folder: String,
    quarantine_folder: String,
    max_message_bytes: u64,
    timing: Timing,
    cursor: Box<dyn UidCursor>,
    link: Option<Link>,
    /// Known once connected: the mark for the current UIDVALIDITY.
    ledger: Option<Ledger>,
    /// Settled messages still to be moved (retried after a reconnection).
    moves: Vec<(u32, Disposition)>,
    /// UIDs and sizes the last listing found waiting, not yet handed out
    /// (`wait` does not wait while some remain). Emptied with the session.
    listed: std::collections::VecDeque<(u32, u64)>,
    backoff: Backoff,
    retry_at: Option<Instant>,
    /// The outage being reported, so that it is logged once.
    outage: Option<String>,
    /// Whether messages left below the mark by an earlier run were looked for.
    leftovers_checked: bool,
}

impl ImapMailbox {
    /// Prepares the mailbox; the connection is made by the first `next` or
    /// `wait`. Fails on what no retry would fix: unreadable password file or
    /// CA file.
    pub fn new(
        cfg: &config::Imap,
        max_message_bytes: u64,
        cursor: Box<dyn UidCursor>,
    ) -> Result<ImapMailbox> {
        Self::with_timing(cfg, max_message_bytes, cursor, Timing::default())
    }

    pub fn with_timing(
        cfg: &config::Imap,
        max_message_bytes: u64,
        cursor: Box<dyn UidCursor>,
        timing: Timing,
    ) -> Result<ImapMailbox> {
        Self::with_tokens(cfg, None, max_message_bytes, cursor, timing)
    }

    /// A mailbox whose `auth = "oauth2"` login takes its tokens from `tokens`.
    pub fn with_tokens(
        cfg: &config::Imap,
        tokens: Option<Arc<TokenSource>>,
        max_message_bytes: u64,
        cursor: Box<dyn UidCursor>,
        timing: Timing,
    ) -> Result<ImapMailbox> {
        let login = match cfg.auth {
            config::ImapAuth::Password => Login::Password(
                config::secret(&cfg.password, &cfg.password_file, "imap.password")?
                    .context("imap: `password` or `password_file` is required")?,
            ),
            config::ImapAuth::Oauth2 => {
                Login::Token(tokens.context("imap: auth = \"oauth2\" needs the [oauth2] section")?)
            }
        };
        let tls_config = client_config(cfg.ca_file.as_deref()).context("imap")?;
        if cfg.processed_folder == cfg.quarantine_folder {
            bail!("imap: processed_folder and quarantine_folder must differ");
        }
        let server = Server {
            host: cfg.host.clone(),
            port: cfg.port,
            tls: cfg.tls,
            tls_config,
            username: cfg.username.clone(),
            login,
            mailbox: utf7::encode(&cfg.mailbox),
            command_timeout: timing.command,
        };
        Ok(ImapMailbox {
            server,
            processed_folder: utf7::encode(&cfg.processed_folder),
            quarantine_folder: utf7::encode(&cfg.quarantine_folder),
            max_message_bytes,
            backoff: Backoff::new(timing.backoff_min, timing.backoff_max),
            timing,
            cursor,
            link: None,
            ledger: None,
            moves: Vec::new(),
            listed: Default::default(),
            retry_at: None,
            outage: None,
            leftovers_checked: false,
        })
    }

    /// Whether a connection is up (for status reports and tests).
    pub fn is_connected(&self) -> bool {
        self.link.is_some()
    }

    /// Ends the session politely (LOGOUT).
    pub async fn close(&mut self) {
        if let Some(link) = self.link.take() {
            link.close().await;
        }
    }

    /// Makes sure a connection is up, unless the backoff says not yet.
    async fn connect(&mut self) -> Result<bool> {
        if self.link.is_some() {
            return Ok(true);
        }
        if self.retry_at.is_some_and(|at| Instant::now() < at) {
            return Ok(false);
        }
        // Processed first, quarantine second: `Link::folders` keeps the order.
        let folders = [
            self.processed_folder.as_str(),
            self.quarantine_folder.as_str(),
        ];
        match self.server.open(&folders).await {
            Ok(link) => {
                self.adopt(link.uidvalidity)?;
                self.link = Some(link);
                self.listed.clear();
                self.report_leftovers().await;
                self.backoff.reset();
                self.retry_at = None;
                match self.outage.take() {
                    Some(_) => tracing::info!(host = %self.server.host, "IMAP connection restored"),
                    None => tracing::info!(host = %self.server.host, "IMAP connected"),
                }
                Ok(true)
            }
            Err(Failure::Config(why)) => {
                tracing::error!(host = %self.server.host, %why, "IMAP folders unusable: a configuration error (set imap.processed_folder and imap.quarantine_folder to folders this server allows)");
                bail!("imap: configuration error: {why}")
            }
            Err(failure) => {
                self.lost(failure);
                Ok(false)
            }
        }
    }

    /// Once per run, warns about handled messages still in the intake
    /// mailbox: an earlier run committed them, then stopped before moving
    /// them. They are not handed out again; an operator may file them.
    async fn report_leftovers(&mut self) {
        if self.leftovers_checked {
            return;
        }
        let (Some(link), Some(ledger)) = (self.link.as_mut(), self.ledger.as_ref()) else {
            return;
        };
        self.leftovers_checked = true;
        let last = ledger.mark().last_uid;
        if last == 0 {
            return;
        }
        match link.count_up_to(last).await {
            Ok(0) => {}
            Ok(count) => tracing::warn!(
                count,
                last_uid = last,
                "handled messages are still in the IMAP intake mailbox (their move was interrupted); \
                 they are not taken again"
            ),
            Err(failure) => self.failed(failure),
        }
    }

    /// Takes the mailbox generation `uidvalidity`: the stored mark when it
    /// matches, else a fresh start (and queued moves, whose UIDs no longer
    /// mean anything, are dropped: those messages are handed out again).
    fn adopt(&mut self, uidvalidity: u32) -> Result<()> {
        if self
            .ledger
            .as_ref()
            .is_some_and(|l| l.mark().uidvalidity == uidvalidity)
        {
            return Ok(());
        }
        let stored = self.cursor.load().context("loading the IMAP cursor")?;
        let mark = match stored {
            Some(mark) if mark.uidvalidity == uidvalidity => mark,
            previous => {
                let fresh = UidMark {
                    uidvalidity,
                    last_uid: 0,
                };
                if let Some(old) = previous {
                    tracing::warn!(
                        old = old.uidvalidity,
                        new = uidvalidity,
                        dropped_moves = self.moves.len(),
                        "IMAP UIDVALIDITY changed: rescanning the whole mailbox"
                    );
                }
                self.cursor.save(fresh).context("saving the IMAP cursor")?;
                self.moves.clear();
                fresh
            }
        };
        self.ledger = Some(Ledger::new(mark));
        Ok(())
    }

    /// Handles a failed command by dropping the connection and retrying
    /// later: a refusal of a routine command (FETCH, SEARCH) means the
    /// session is in no state to go on, and the backoff keeps it from
    /// being logged and retried in a loop.
    fn failed(&mut self, failure: Failure) {
        self.link = None;
        self.lost(failure);
    }

    /// Schedules the next attempt and logs the outage if it is news. One
    /// outage is one warning: a server going down fails in several ways in
    /// turn (broken pipe, reset, refused), which are details (debug).
    fn lost(&mut self, failure: Failure) {
        let why = failure.to_string();
        // A session ended because its token expired: a new session with a
        // new token at once (the token source renews it), no outage.
        if matches!(self.server.login, Login::Token(_))
            && crate::oauth2::sasl::says_token_expired(&why)
            && self.outage.is_none()
        {
            tracing::info!(host = %self.server.host, "IMAP session ended for an expired token; reopening with a new one");
            self.retry_at = None;
            // At once this time; should the new session fail too, backoff.
            self.outage = Some(why);
            return;
        }
        let delay = self.backoff.next_delay();
        self.retry_at = Some(Instant::now() + delay);
        match self.outage.as_deref() {
            None => {
                tracing::warn!(host = %self.server.host, %why, "IMAP unavailable; reconnecting with backoff")
            }
            Some(before) if before != why => {
                tracing::debug!(host = %self.server.host, %why, "IMAP still unavailable")
            }
            Some(_) => {}
        }
        self.outage = Some(why);
    }

    /// Moves settled messages to their folders; what cannot be moved for
    /// lack of a connection stays queued, what the server refuses is logged
    /// and left in the intake mailbox (below the mark: not handed out again).
    async fn flush_moves(&mut self) {
        let Some(link) = self.link.as_mut() else {
            return;
        };
        let mut pending = std::mem::take(&mut self.moves);
        while let Some((_, first)) = pending.first() {
            let quarantine = matches!(first, Disposition::Quarantine(_));
            let (mut chunk, rest): (Vec<_>, Vec<_>) =
                pending.into_iter().enumerate().partition(|(i, (_, d))| {
                    *i < MOVE_CHUNK && matches!(d, Disposition::Quarantine(_)) == quarantine
                });
            pending = rest.into_iter().map(|(_, m)| m).collect();
            // As placed on this server (under its personal namespace).
            let folder = &link.folders[usize::from(quarantine)].clone();
            let set = chunk
                .iter()
                .map(|(_, (uid, _))| uid.to_string())
                .collect::<Vec<_>>()
                .join(",");
            match link.move_to(&set, folder).await {
                Ok(()) => tracing::debug!(uids = %set, folder = %folder, "IMAP messages moved"),
                Err(Failure::Refused(why)) => tracing::error!(
                    uids = %set, folder = %folder, %why,
                    "IMAP refused to move handled messages; they stay in the intake mailbox"
                ),
                Err(lost) => {
                    self.moves = chunk.drain(..).map(|(_, m)| m).chain(pending).collect();
                    self.failed(lost);
                    return;
                }
            }
        }
    }

    /// The next waiting message: listed (UIDs and sizes) once per listing, downloaded alone.
    async fn take_one(&mut self) -> Result<Option<Incoming>, Failure> {
        let (Some(link), Some(ledger)) = (self.link.as_mut(), self.ledger.as_mut()) else {
            return Ok(None);
        };
        if self.listed.is_empty() {
            let first = ledger.mark().last_uid.saturating_add(1);
            // A session sees messages delivered since its last command only
            // once the server has told it (Dovecot: at the end of a command),
            // so `n:*` would miss them: NOOP first to bring the view up to date.
            link.noop().await?;
            // What the server announced so far is in view now; what it
            // announces from here on makes the next `wait` return at once.
            link.announced_mail();
            let sizes = link.sizes_from(first).await?;
            self.listed = sizes
                .into_iter()
                .filter(|(uid, _)| ledger.wanted(*uid))
                .collect();
        }
        while let Some((uid, size)) = self.listed.pop_front() {
            if !ledger.wanted(uid) {
                continue;
            }
            let oversized = size > self.max_message_bytes;
            let (part, download) = if oversized {
                (Part::Header, session::HEADER_BYTES_AT_MOST)
            } else {
                (Part::Whole, size)
            };
            // Gone meanwhile (another client moved it): nothing to hand out.
            let Some(body) = link.part(uid, part, download).await? else {
                continue;
            };
            ledger.handed_out([uid]);
            return Ok(Some(Incoming {
                key: MessageKey {
                    uidvalidity: ledger.mark().uidvalidity,
                    uid,
                }
                .to_string(),
                bytes: body,
                oversized,
                // Seen within one IDLE round of its delivery.
                received_at: chrono::Utc::now(),
            }));
        }
        Ok(None)
    }
}

impl Mailbox for ImapMailbox {
    /// The next message above the mark, in UID order; a message handed
    /// out but not settled comes again once the listing is renewed.
    async fn next(&mut self) -> Result<Option<Incoming>> {
        if !self.connect().await? {
            return Ok(None);
        }
        self.flush_moves().await;
        match self.take_one().await {
            Ok(message) => Ok(message),
            Err(failure) => {
                self.failed(failure);
                Ok(None)
            }
        }
    }

    /// Advances the stored mark, then moves the message (now, or after a
    /// reconnection). Fails only on a key this mailbox did not hand out or
    /// when the cursor cannot be saved.
    async fn settle(&mut self, key: &str, disposition: Disposition) -> Result<()> {
        let key: MessageKey = key.parse()?;
        let Some(ledger) = self.ledger.as_mut() else {
            bail!("IMAP message {key} settled before any was handed out");
        };
        if let Disposition::Quarantine(reason) = &disposition {
            tracing::warn!(%key, reason = %crate::logging::scrub(reason), "IMAP message quarantined");
        }
        if key.uidvalidity != ledger.mark().uidvalidity {
            // Its UID may now name another message: leave it; the rescan
            // hands it out again and the pipeline recognises it.
            tracing::info!(%key, "IMAP message settled after a UIDVALIDITY change: left for the rescan");
            return Ok(());
        }
        let uid = key.uid;
        if let Some(mark) = ledger.settle(uid) {
            self.cursor.save(mark).context("saving the IMAP cursor")?;
        }
        self.moves.push((uid, disposition));
        if self.connect().await? {
            self.flush_moves().await;
        }
        Ok(())
    }

    /// Returns at once when messages are known to wait; otherwise IDLE (or
    /// a poll) up to `max`, or sleeps until the next reconnection attempt.
    async fn wait(&mut self, max: Duration) -> Result<()> {
        let deadline = Instant::now() + max;
        if !self.connect().await? {
            let until = self.retry_at.map_or(deadline, |at| at.min(deadline));
            tokio::time::sleep_until(until).await;
            return Ok(());
        }
        let Some(mut link) = self.link.take() else {
            return Ok(());
        };
        if !self.listed.is_empty() || link.announced_mail() {
            self.link = Some(link);
            return Ok(());
        }
        let outcome = if link.offers.idle {
            link.idle(max.min(self.timing.idle_renewal))
                .await
                .map(|(link, wake)| {
                    tracing::debug!(?wake, "IMAP IDLE ended");
                    link
                })
        } else {
            tokio::time::sleep_until(deadline.min(Instant::now() + self.timing.poll)).await;
            link.noop().await.map(|()| link)
        };
        match outcome {
            Ok(link) => self.link = Some(link),
            // The session went into IDLE or NOOP and did not come back.
            Err(failure) => self.lost(failure),
        }
        Ok(())
    }

    async fn forget(&mut self, message_ids: &[String]) -> Result<usize> {
        self.remove_kept(message_ids).await
    }
}

// ---- Retention: kept copies removed -----------------------------------------

impl ImapMailbox {
    /// Flags `\Deleted` and expunges, in the processed and quarantine
    /// folders, the messages with these Message-IDs, then selects the intake
    /// mailbox again. Without a connection nothing is removed and the
    /// caller tries again at its next purge.
    async fn remove_kept(&mut self, message_ids: &[String]) -> Result<usize> {
        if message_ids.is_empty() {
            return Ok(0);
        }
        if !self.connect().await? {
            bail!("IMAP unavailable: kept messages are removed at the next purge");
        }
        let Some(link) = self.link.as_mut() else {
            bail!("IMAP unavailable: kept messages are removed at the next purge");
        };
        let folders = [
            self.processed_folder.clone(),
            self.quarantine_folder.clone(),
        ];
        let mut removed = 0;
        let mut outcome = Ok(());
        for folder in &folders {
            match link.remove_by_message_id(folder, message_ids).await {
                Ok(n) => removed += n,
                Err(failure) => {
                    outcome = Err(failure);
                    break;
                }
            }
        }
        let reselect = link.reselect(&self.server.mailbox).await;
        if let Err(failure) = outcome.and(reselect) {
            let why = failure.to_string();
            self.failed(failure);
            bail!("IMAP: kept messages not all removed ({why})");
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> config::Imap {
        config::Imap {
            host: "127.0.0.1".into(),
            port: 1,
            tls: config::Tls::None,
            auth: config::ImapAuth::Password,
            username: "acces@organisme.example".into(),
            password: Some("secret".into()),
            password_file: None,
            mailbox: "INBOX".into(),
            ca_file: None,
            processed_folder: "Traité".into(),
            quarantine_folder: "Quarantaine".into(),
        }
    }

    #[test]
    fn folders_go_out_in_modified_utf7() {
        let mailbox = ImapMailbox::new(&cfg(), 1 << 20, Box::new(MemoryCursor::default())).unwrap();
        assert_eq!(mailbox.processed_folder, "Trait&AOk-");
        assert_eq!(mailbox.quarantine_folder, "Quarantaine");
    }

    #[test]
    fn a_missing_password_or_same_folders_are_refused() {
        let mut c = cfg();
        c.password = None;
        assert!(ImapMailbox::new(&c, 1 << 20, Box::new(MemoryCursor::default())).is_err());
        let mut c = cfg();
        c.quarantine_folder = c.processed_folder.clone();
        assert!(ImapMailbox::new(&c, 1 << 20, Box::new(MemoryCursor::default())).is_err());
    }

    /// The daemon may run the intake on a spawned task.
    #[test]
    fn futures_are_send() {
        fn send<T: Send>(_: &T) {}
        let mut mailbox =
            ImapMailbox::new(&cfg(), 1 << 20, Box::new(MemoryCursor::default())).unwrap();
        send(&mailbox.next());
        send(&mailbox.wait(Duration::from_secs(1)));
        send(&mailbox.settle("1:1", Disposition::Processed));
    }

    /// Exchange ends a session whose token expired (`BYE …
    /// AccessTokenExpired`): reopened at once, and only once without backoff.
    #[test]
    fn a_session_ended_for_an_expired_token_is_reopened_at_once() {
        let tokens = TokenSource::new(&config::OAuth2::command("/bin/true".into())).unwrap();
        let c = config::Imap {
            auth: config::ImapAuth::Oauth2,
            password: None,
            ..cfg()
        };
        let cursor = Box::new(MemoryCursor::default());
        let mut mailbox =
            ImapMailbox::with_tokens(&c, Some(tokens), 1 << 20, cursor, Timing::default()).unwrap();
        let bye = || {
            Failure::Link(
                "server said BYE: User is authenticated but not connected. AccessTokenExpired"
                    .into(),
            )
        };
        mailbox.lost(bye());
        assert!(mailbox.retry_at.is_none(), "reopened at once");
        mailbox.lost(bye());
        assert!(mailbox.retry_at.is_some(), "a second failure waits");
        assert!(ImapMailbox::with_tokens(
            &c,
            None,
            1 << 20,
            Box::new(MemoryCursor::default()),
            Timing::default()
        )
        .is_err());
    }

    #[tokio::test]
    async fn an_unreachable_server_yields_nothing_backs_off_and_is_logged_once() {
        let log = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(log.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let mut c = cfg();
        // A port nobody listens on: bind one, then free it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        c.port = port;
        let timing = Timing {
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_millis(200),
            ..Timing::default()
        };
        let mut mailbox =
            ImapMailbox::with_timing(&c, 1 << 20, Box::new(MemoryCursor::default()), timing)
                .unwrap();
        assert!(mailbox.next().await.unwrap().is_none());
        assert!(!mailbox.is_connected());
        let retry = mailbox.retry_at.expect("a retry is scheduled");
        let started = Instant::now();
        mailbox.wait(Duration::from_secs(5)).await.unwrap();
        assert!(Instant::now() >= retry, "wait sleeps until the retry time");
        assert!(started.elapsed() < Duration::from_secs(1));
        for _ in 0..5 {
            mailbox.wait(Duration::from_secs(5)).await.unwrap();
            assert!(mailbox.next().await.unwrap().is_none());
        }
        let text = log.text();
        assert_eq!(text.matches("IMAP unavailable").count(), 1, "{text}");
    }

    /// Log output kept for inspection.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
        }
    }

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
        type Writer = Captured;

        fn make_writer(&'a self) -> Captured {
            self.clone()
        }
    }
}
