//! What the tests do as mail users: send through Postfix (plainly, or
//! logged in on the submission port) and read mailboxes over IMAP.

use std::time::{Duration, Instant};

use async_imap::Session;
use futures::TryStreamExt;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tokio::net::TcpStream as AsyncTcpStream;

use super::process::err;
use super::{password, MailStack};

impl MailStack {
    /// Sends a message through Postfix as a mail client would.
    pub async fn send(&self, from: &str, to: &[&str], raw: &[u8]) -> Result<(), String> {
        self.submit(self.ports.smtp, from, None, to, raw).await
    }

    /// Sends a message as `user`, logged in on the submission port as a
    /// staff member's mail client would: the organisation's MX vouches for
    /// it with an `Authentication-Results` header (`dmarc=pass`).
    pub async fn send_authenticated(
        &self,
        user: &str,
        to: &[&str],
        raw: &[u8],
    ) -> Result<(), String> {
        self.submit(self.ports.submission, user, Some(user), to, raw)
            .await
    }

    async fn submit(
        &self,
        port: u16,
        from: &str,
        login: Option<&str>,
        to: &[&str],
        raw: &[u8],
    ) -> Result<(), String> {
        let parse = |a: &str| a.parse::<Address>().map_err(err);
        let envelope = Envelope::new(
            Some(parse(from)?),
            to.iter().map(|a| parse(a)).collect::<Result<Vec<_>, _>>()?,
        )
        .map_err(err)?;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
            .port(port)
            .timeout(Some(Duration::from_secs(10)));
        if let Some(user) = login {
            builder = builder.credentials(Credentials::new(user.into(), password(user)));
        }
        builder
            .build()
            .send_raw(&envelope, raw)
            .await
            .map(|_| ())
            .map_err(err)
    }

    /// Logs in as `user` over plain IMAP.
    pub async fn imap_session(&self, user: &str) -> Session<AsyncTcpStream> {
        let tcp = AsyncTcpStream::connect(("127.0.0.1", self.ports.imap))
            .await
            .expect("IMAP connect");
        let mut client = async_imap::Client::new(tcp);
        client.read_response().await.expect("IMAP greeting");
        client
            .login(user, password(user))
            .await
            .map_err(|(e, _)| e)
            .expect("IMAP login")
    }

    /// The messages of `user`'s `folder` (name as on the wire), in UID order.
    pub async fn messages(&self, user: &str, folder: &str) -> Vec<Vec<u8>> {
        let mut session = self.imap_session(user).await;
        let messages = read_folder(&mut session, folder).await;
        let _ = session.logout().await;
        messages
    }

    /// Waits until `user`'s `folder` holds at least `count` messages.
    pub async fn wait_for_messages(
        &self,
        user: &str,
        folder: &str,
        count: usize,
        limit: Duration,
    ) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + limit;
        loop {
            let found = self.messages(user, folder).await;
            if found.len() >= count || Instant::now() >= deadline {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The names (as on the wire) of `user`'s folders.
    pub async fn folders(&self, user: &str) -> Vec<String> {
        let mut session = self.imap_session(user).await;
        let names = session.list(Some(""), Some("*")).await.expect("LIST");
        let names: Vec<_> = names.try_collect().await.expect("LIST answers");
        let _ = session.logout().await;
        names.iter().map(|n| n.name().to_string()).collect()
    }
}

/// Reads every message of `folder`, in UID order.
async fn read_folder(session: &mut Session<AsyncTcpStream>, folder: &str) -> Vec<Vec<u8>> {
    let selected = match session.examine(folder).await {
        Ok(mailbox) => mailbox,
        Err(async_imap::error::Error::No(_)) => return Vec::new(),
        Err(e) => panic!("EXAMINE {folder}: {e}"),
    };
    if selected.exists == 0 {
        return Vec::new();
    }
    let fetches = session
        .uid_fetch("1:*", "(UID BODY.PEEK[])")
        .await
        .expect("UID FETCH");
    let mut fetches: Vec<_> = fetches.try_collect().await.expect("UID FETCH answers");
    fetches.sort_by_key(|f| f.uid);
    fetches
        .iter()
        .filter_map(|f| f.body().map(<[u8]>::to_vec))
        .collect()
}

/// A simple applicant message with a unique Message-ID.
pub fn mail(from: &str, to: &str, subject: &str, body: &str) -> Vec<u8> {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: Sat, 28 Nov 2026 08:00:00 +0000\r\n\
         Message-ID: <{nanos}.{n}@clinique.example>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}
