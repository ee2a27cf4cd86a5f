//! One IMAP connection to the intake mailbox: connect, secure, log in,
//! select, and the few commands the intake needs, each under a timeout
//! (async-imap itself has none besides IDLE's).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_imap::extensions::idle::IdleResponse;
use async_imap::imap_proto::{MailboxDatum, Response, Status};
use async_imap::types::UnsolicitedResponse;
use async_imap::{Client, Session};
use futures::TryStreamExt;
use rustls::ClientConfig;
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;

use super::folders::{self, Personal};
use crate::config::{Secret, Tls};
use crate::net::stream::MailStream;
use crate::net::tls::server_name;
use crate::oauth2::{sasl, TokenSource};

/// Why a command did not go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The connection is unusable (I/O error, timeout, closed, garbled):
    /// drop it and reconnect.
    Link(String),
    /// The server answered NO or BAD: the connection is still good.
    Refused(String),
    /// The server will not have the folders the settings name (CREATE
    /// refused): no retry fixes that, an operator must.
    Config(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Link(why) => write!(f, "connection: {why}"),
            Failure::Refused(why) => write!(f, "refused by the server: {why}"),
            Failure::Config(why) => write!(f, "configuration: {why}"),
        }
    }
}

impl From<async_imap::error::Error> for Failure {
    fn from(e: async_imap::error::Error) -> Failure {
        use async_imap::error::Error;
        match e {
            Error::No(why) | Error::Bad(why) => Failure::Refused(server_words(&why)),
            other => Failure::Link(other.to_string()),
        }
    }
}

/// The server's own words in async-imap's rendering of a NO or BAD
/// (`code: None, info: Some("[CANNOT] Invalid mailbox name")`).
fn server_words(why: &str) -> String {
    why.split_once("info: Some(\"")
        .and_then(|(_, rest)| rest.strip_suffix("\")"))
        .map(|w| w.replace("\\\"", "\""))
        .unwrap_or_else(|| why.to_string())
}

/// Runs one command step, giving up after `limit`.
async fn timed<T, E: Into<Failure>>(
    limit: Duration,
    what: &str,
    step: impl Future<Output = Result<T, E>>,
) -> Result<T, Failure> {
    match timeout(limit, step).await {
        Ok(result) => result.map_err(Into::into),
        Err(_) => Err(Failure::Link(format!(
            "{what}: no answer within {}s",
            limit.as_secs_f32()
        ))),
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        Failure::Link(e.to_string())
    }
}

/// Where and how to log in; built once from the configuration.
#[derive(Clone)]
pub struct Server {
    pub host: String,
    pub port: u16,
    pub tls: Tls,
    pub tls_config: Arc<ClientConfig>,
    pub username: String,
    pub login: Login,
    /// Modified UTF-7.
    pub mailbox: String,
    pub command_timeout: Duration,
}

/// How the session signs in.
#[derive(Clone)]
pub enum Login {
    Password(Secret),
    /// SASL XOAUTH2 or OAUTHBEARER with a token from the source.
    Token(Arc<TokenSource>),
}

/// What the server offers that changes how the intake works.
#[derive(Debug, Clone, Copy)]
pub struct Offers {
    pub idle: bool,
    pub moves: bool,
    pub uid_expunge: bool,
}

/// A logged-in session with the intake mailbox selected.
pub struct Link {
    session: Session<MailStream>,
    pub offers: Offers,
    pub uidvalidity: u32,
    /// The folders asked for, as named on this server (same order).
    pub folders: Vec<String>,
    command_timeout: Duration,
}

/// Which part of a message to download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Whole,
    /// The header section only, cut at `HEADER_BYTES_AT_MOST`: enough to
    /// answer a message too large to download.
    Header,
}

/// The most of a header section downloaded for an oversized message.
pub const HEADER_BYTES_AT_MOST: u64 = 64 * 1024;

/// Why an IDLE ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The server announced new messages.
    NewMail,
    /// The time allowed passed quietly.
    Quiet,
}

impl Server {
    /// Connects, secures, logs in, selects the mailbox and makes sure the
    /// `folders` exist.
    pub async fn open(&self, folders: &[&str]) -> Result<Link, Failure> {
        let limit = self.command_timeout;
        let addr = (self.host.as_str(), self.port);
        let tcp = timed(limit, "connect", TcpStream::connect(addr)).await?;
        let stream = match self.tls {
            Tls::None => greeted(MailStream::Plain(tcp), limit).await?,
            Tls::Implicit => greeted(self.secure(tcp).await?, limit).await?,
            Tls::Starttls => {
                let mut client = greeted(MailStream::Plain(tcp), limit).await?;
                timed(
                    limit,
                    "STARTTLS",
                    client.run_command_and_check_ok("STARTTLS", None),
                )
                .await?;
                let MailStream::Plain(tcp) = client.into_inner() else {
                    return Err(Failure::Link(
                        "STARTTLS on an already secured stream".into(),
                    ));
                };
                Client::new(self.secure(tcp).await?)
            }
        };
        let mut session = self.sign_in(stream).await?;
        let caps = timed(limit, "CAPABILITY", session.capabilities()).await?;
        let offers = Offers {
            idle: caps.has_str("IDLE"),
            moves: caps.has_str("MOVE"),
            uid_expunge: caps.has_str("UIDPLUS"),
        };
        let personal = personal_namespace(&mut session, caps.has_str("NAMESPACE"), limit).await?;
        let folders: Vec<String> = folders.iter().map(|f| personal.place(f)).collect();
        for folder in &folders {
            ensure_folder(&mut session, folder, limit).await?;
        }
        let selected = timed(limit, "SELECT", session.select(&self.mailbox)).await?;
        let uidvalidity = selected
            .uid_validity
            .ok_or_else(|| Failure::Link("SELECT gave no UIDVALIDITY".into()))?;
        Ok(Link {
            session,
            offers,
            uidvalidity,
            folders,
            command_timeout: limit,
        })
    }

    /// LOGIN with the password, or AUTHENTICATE with a token: when the
    /// server turns a token away (expired, revoked), once more at once with
    /// a new one.
    async fn sign_in(&self, client: Client<MailStream>) -> Result<Session<MailStream>, Failure> {
        let limit = self.command_timeout;
        let tokens = match &self.login {
            Login::Password(password) => {
                return timed(limit, "LOGIN", async {
                    client
                        .login(&self.username, password.expose())
                        .await
                        .map_err(|(e, _)| e)
                })
                .await
            }
            Login::Token(tokens) => tokens,
        };
        let mut client = client;
        let mut tried: Option<Secret> = None;
        loop {
            let token = tokens
                .token()
                .await
                .map_err(|e| Failure::Refused(format!("no OAuth token: {e}")))?;
            if tried.as_ref() == Some(&token) {
                return Err(Failure::Refused("the OAuth token was refused".into()));
            }
            let initial = sasl::initial_response(
                tokens.mechanism,
                &self.username,
                &token,
                &self.host,
                self.port,
            );
            let auth = sasl::ImapAuthenticator::new(tokens.mechanism, initial);
            let name = sasl::name(tokens.mechanism);
            match timeout(limit, client.authenticate(name, auth)).await {
                Err(_) => return Err(Failure::Link("AUTHENTICATE: no answer".into())),
                Ok(Ok(session)) => return Ok(session),
                Ok(Err((e, back))) => {
                    let failure = Failure::from(e);
                    tokens.reject(&token).await;
                    if !matches!(failure, Failure::Refused(_)) || tried.is_some() {
                        return Err(failure);
                    }
                    tracing::debug!(%failure, "IMAP refused the OAuth token; trying a new one");
                    tried = Some(token);
                    client = back;
                }
            }
        }
    }

    async fn secure(&self, tcp: TcpStream) -> Result<MailStream, Failure> {
        let name = server_name(&self.host).map_err(|e| Failure::Link(e.to_string()))?;
        let connector = TlsConnector::from(Arc::clone(&self.tls_config));
        let tls = timed(
            self.command_timeout,
            "TLS handshake",
            connector.connect(name, tcp),
        )
        .await?;
        Ok(MailStream::Tls(Box::new(tls)))
    }
}

/// Wraps the stream in a client once the server's greeting is read.
async fn greeted(stream: MailStream, limit: Duration) -> Result<Client<MailStream>, Failure> {
    let mut client = Client::new(stream);
    let greeting = timed(limit, "greeting", client.read_response()).await?;
    match greeting.as_ref().map(|g| g.parsed()) {
        Some(Response::Data {
            status: Status::Ok, ..
        }) => Ok(client),
        Some(other) => Err(Failure::Link(format!("unexpected greeting {other:?}"))),
        None => Err(Failure::Link("closed before the greeting".into())),
    }
}

/// The personal namespace: NAMESPACE where offered, else the separator
/// from `LIST "" ""` and no prefix.
async fn personal_namespace(
    session: &mut Session<MailStream>,
    offered: bool,
    limit: Duration,
) -> Result<Personal, Failure> {
    if offered {
        let answer = folders::ask(session.get_mut(), limit).await?;
        if let Some(personal) = folders::parse_namespace(&answer) {
            return Ok(personal);
        }
        tracing::debug!("IMAP NAMESPACE gave no personal namespace; asking LIST");
    }
    let root = timed(limit, "LIST", async {
        let names = session.list(Some(""), Some("\"\"")).await?;
        names.try_collect::<Vec<_>>().await
    })
    .await?;
    Ok(Personal {
        prefix: String::new(),
        separator: root
            .first()
            .and_then(|n| n.delimiter())
            .and_then(|d| d.chars().next()),
    })
}

/// Creates (and subscribes, so mail clients show it) a missing folder.
async fn ensure_folder(
    session: &mut Session<MailStream>,
    folder: &str,
    limit: Duration,
) -> Result<(), Failure> {
    let pattern = quoted(folder);
    let found = timed(limit, "LIST", async {
        let names = session.list(Some(""), Some(&pattern)).await?;
        names.try_collect::<Vec<_>>().await
    })
    .await?;
    if found.is_empty() {
        match timed(limit, "CREATE", session.create(folder)).await {
            Ok(()) => tracing::info!(folder, "created the IMAP folder"),
            // Another client (a mail program, a second instance) created it
            // between our LIST and CREATE: the folder is there, as wanted.
            Err(Failure::Refused(why)) if folders::already_exists(&why) => {}
            Err(Failure::Refused(why)) => {
                return Err(Failure::Config(format!(
                    "the server refuses to create the folder `{folder}`: {why}"
                )))
            }
            Err(other) => return Err(other),
        }
        // Not worth failing for: the folder works unsubscribed.
        if let Err(e) = timed(limit, "SUBSCRIBE", session.subscribe(folder)).await {
            tracing::debug!(folder, error = %e, "IMAP folder not subscribed");
        }
    }
    Ok(())
}

/// A quoted IMAP string (LIST patterns are passed to the server unquoted).
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

impl Link {
    /// UIDs and sizes of the messages from `first` on, in UID order. The
    /// server answers `n:*` with the last message even when its UID is
    /// below `n`: such answers are left out.
    pub async fn sizes_from(&mut self, first: u32) -> Result<Vec<(u32, u64)>, Failure> {
        let limit = self.command_timeout;
        let session = &mut self.session;
        let fetches = timed(limit, "UID FETCH (RFC822.SIZE)", async {
            let stream = session
                .uid_fetch(format!("{first}:*"), "(UID RFC822.SIZE)")
                .await?;
            stream.try_collect::<Vec<_>>().await
        })
        .await?;
        let mut sizes: Vec<(u32, u64)> = fetches
            .iter()
            .filter_map(|f| Some((f.uid?, u64::from(f.size?))))
            .filter(|(uid, _)| *uid >= first)
            .collect();
        sizes.sort_unstable();
        sizes.dedup_by_key(|(uid, _)| *uid);
        Ok(sizes)
    }

    /// How many messages with a UID up to `last` the mailbox holds.
    pub async fn count_up_to(&mut self, last: u32) -> Result<usize, Failure> {
        let found = timed(
            self.command_timeout,
            "UID SEARCH",
            self.session.uid_search(format!("UID 1:{last}")),
        )
        .await?;
        Ok(found.into_iter().filter(|uid| *uid <= last).count())
    }

    /// A part of message `uid`, without setting `\Seen`, or `None` when the
    /// message is gone. The time allowed grows with the announced size.
    pub async fn part(
        &mut self,
        uid: u32,
        part: Part,
        size: u64,
    ) -> Result<Option<Vec<u8>>, Failure> {
        let limit = self.command_timeout + Duration::from_secs(size / BYTES_PER_SECOND_AT_LEAST);
        let query = match part {
            Part::Whole => "(UID BODY.PEEK[])".to_string(),
            Part::Header => format!("(UID BODY.PEEK[HEADER]<0.{HEADER_BYTES_AT_MOST}>)"),
        };
        let session = &mut self.session;
        let fetches = timed(limit, "UID FETCH (BODY.PEEK)", async {
            let stream = session.uid_fetch(uid.to_string(), &query).await?;
            stream.try_collect::<Vec<_>>().await
        })
        .await?;
        let found = fetches.iter().find(|f| f.uid == Some(uid));
        let bytes = match part {
            Part::Whole => found.and_then(|f| f.body()),
            Part::Header => found.and_then(|f| f.header()),
        };
        Ok(bytes.map(<[u8]>::to_vec))
    }

    /// Moves the messages `uids` (a UID set, `1,5,7`) to `folder`: UID MOVE,
    /// or where the server lacks it COPY, flag `\Deleted`, and expunge
    /// (UID EXPUNGE with UIDPLUS, plain EXPUNGE otherwise, which also
    /// removes any other message flagged `\Deleted` in the intake mailbox).
    pub async fn move_to(&mut self, uids: &str, folder: &str) -> Result<(), Failure> {
        let limit = self.command_timeout;
        let session = &mut self.session;
        if self.offers.moves {
            return timed(limit, "UID MOVE", session.uid_mv(uids, folder)).await;
        }
        timed(limit, "UID COPY", session.uid_copy(uids, folder)).await?;
        self.delete(uids).await
    }

    /// Flags the messages `uids` of the selected folder `\\Deleted` and
    /// expunges them (UID EXPUNGE with UIDPLUS, plain EXPUNGE otherwise,
    /// which also removes any other message flagged `\\Deleted` there).
    async fn delete(&mut self, uids: &str) -> Result<(), Failure> {
        let limit = self.command_timeout;
        let session = &mut self.session;
        timed(limit, "UID STORE", async {
            let stream = session.uid_store(uids, "+FLAGS.SILENT (\\Deleted)").await?;
            stream.try_collect::<Vec<_>>().await
        })
        .await?;
        if self.offers.uid_expunge {
            timed(limit, "UID EXPUNGE", async {
                let stream = session.uid_expunge(uids).await?;
                stream.try_collect::<Vec<_>>().await
            })
            .await?;
        } else {
            timed(limit, "EXPUNGE", async {
                let stream = session.expunge().await?;
                stream.try_collect::<Vec<_>>().await
            })
            .await?;
        }
        Ok(())
    }

    /// Whether the server announced new messages since the last look (a
    /// RECENT of 0, sent after our own moves, is no news),
    /// emptying what it sent besides answers to commands.
    pub fn announced_mail(&mut self) -> bool {
        let mut news = false;
        while let Ok(note) = self.session.unsolicited_responses.try_recv() {
            news |= matches!(
                note,
                UnsolicitedResponse::Exists(_) | UnsolicitedResponse::Recent(1..)
            );
        }
        news
    }

    /// Keeps the connection alive and lets the server report changes.
    pub async fn noop(&mut self) -> Result<(), Failure> {
        timed(self.command_timeout, "NOOP", self.session.noop()).await
    }

    /// Waits in IDLE up to `limit` for new messages, then ends the IDLE.
    /// On failure the connection is gone.
    pub async fn idle(self, limit: Duration) -> Result<(Link, Wake), Failure> {
        let Link {
            session,
            offers,
            uidvalidity,
            folders,
            command_timeout,
        } = self;
        let mut handle = session.idle();
        timed(command_timeout, "IDLE", handle.init()).await?;
        let deadline = tokio::time::Instant::now() + limit;
        let wake = loop {
            let (answer, _stop) = handle.wait_with_timeout(limit);
            let answer = match tokio::time::timeout_at(deadline, answer).await {
                Err(_) => break Wake::Quiet,
                Ok(answer) => answer?,
            };
            match answer {
                IdleResponse::Timeout => break Wake::Quiet,
                IdleResponse::ManualInterrupt => {
                    return Err(Failure::Link("closed during IDLE".into()))
                }
                IdleResponse::NewData(data) => match data.parsed() {
                    Response::MailboxData(MailboxDatum::Exists(_) | MailboxDatum::Recent(1..)) => {
                        break Wake::NewMail
                    }
                    Response::Data {
                        status: Status::Bye,
                        information,
                        ..
                    } => {
                        return Err(Failure::Link(format!(
                            "server said BYE: {}",
                            information.as_deref().unwrap_or("")
                        )))
                    }
                    _ => continue,
                },
            }
        };
        let session = timed(command_timeout, "DONE", handle.done()).await?;
        Ok((
            Link {
                session,
                offers,
                uidvalidity,
                folders,
                command_timeout,
            },
            wake,
        ))
    }

    /// Ends the session politely; errors do not matter any more.
    pub async fn close(mut self) {
        let _ = timed(self.command_timeout, "LOGOUT", self.session.logout()).await;
    }
}

// ---- Retention: kept copies removed -----------------------------------------

impl Link {
    /// In `folder`, flags `\Deleted` and expunges every message whose
    /// Message-ID header is one of `message_ids` (UID EXPUNGE with UIDPLUS,
    /// else EXPUNGE). Leaves `folder` selected: see [`Link::reselect`].
    pub async fn remove_by_message_id(
        &mut self,
        folder: &str,
        message_ids: &[String],
    ) -> Result<usize, Failure> {
        let limit = self.command_timeout;
        let session = &mut self.session;
        timed(limit, "SELECT", session.select(folder)).await?;
        let mut uids = Vec::new();
        for id in message_ids {
            let query = format!("HEADER Message-ID {}", quoted(id));
            let found = timed(limit, "UID SEARCH", session.uid_search(query)).await?;
            uids.extend(found);
        }
        if uids.is_empty() {
            return Ok(0);
        }
        uids.sort_unstable();
        uids.dedup();
        let set: Vec<String> = uids.iter().map(u32::to_string).collect();
        self.delete(&set.join(",")).await?;
        Ok(uids.len())
    }

    /// Selects the intake mailbox again after work in another folder.
    pub async fn reselect(&mut self, mailbox: &str) -> Result<(), Failure> {
        let selected = timed(self.command_timeout, "SELECT", self.session.select(mailbox)).await?;
        if selected.uid_validity != Some(self.uidvalidity) {
            return Err(Failure::Link("the intake mailbox was renumbered".into()));
        }
        Ok(())
    }
}

/// The slowest transfer rate tolerated when fetching a large message.
const BYTES_PER_SECOND_AT_LEAST: u64 = 64 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_and_bad_answers_keep_the_connection() {
        let refused: Failure =
            async_imap::error::Error::No("[TRYCREATE] no such mailbox".into()).into();
        assert!(matches!(refused, Failure::Refused(_)));
        let lost: Failure = async_imap::error::Error::ConnectionLost.into();
        assert!(matches!(lost, Failure::Link(_)));
    }

    #[test]
    fn refusals_keep_the_servers_words() {
        assert_eq!(
            server_words(
                r#"code: None, info: Some("[CANNOT] Invalid mailbox name: Begins with '~'")"#
            ),
            "[CANNOT] Invalid mailbox name: Begins with '~'"
        );
        assert_eq!(
            server_words("[TRYCREATE] no such mailbox"),
            "[TRYCREATE] no such mailbox"
        );
    }

    #[test]
    fn list_patterns_are_quoted() {
        assert_eq!(quoted("Trait&AOk-"), "\"Trait&AOk-\"");
        assert_eq!(quoted(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
