//! Signing in with OAuth 2.0 on real servers: Dovecot validates the
//! bearer tokens (JWTs, HS256) itself, Postfix's submission port takes them
//! through Dovecot SASL, and the harness's own endpoint on loopback hands
//! them out (client_credentials and refresh_token with rotation), short-
//! lived so that they expire during a run.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::mailstack::token_server::{TokenServer, CLIENT_ID, CLIENT_SECRET};
use crate::mailstack::{mail, reply, MailStack, Options, APPLICANTS, INTAKE, OAUTH_KEY};
use guichet::config::{self, Grant, SaslMechanism};
use guichet::intake::imap::{ImapMailbox, MemoryCursor, Timing};
use guichet::intake::{Disposition, Mailbox};
use guichet::oauth2::TokenSource;
use guichet::outbox::smtp::SmtpTransport;
use guichet::outbox::Transport;

const DELIVERY: Duration = Duration::from_secs(20);

fn oauth_stack() -> MailStack {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("guichet=debug")
        .try_init();
    MailStack::start_with(Options {
        oauth2: true,
        ..Options::default()
    })
}

/// `[oauth2]` for the harness's endpoint; the secret and refresh token in
/// files under `dir`.
fn oauth_settings(
    server: &TokenServer,
    grant: Grant,
    mechanism: SaslMechanism,
    dir: &Path,
) -> config::OAuth2 {
    let secret = dir.join("oauth2-secret");
    std::fs::write(&secret, format!("{CLIENT_SECRET}\n")).unwrap();
    let refresh = dir.join("oauth2-refresh");
    std::fs::write(&refresh, format!("{}\n", server.current_refresh_token())).unwrap();
    config::OAuth2 {
        mechanism,
        grant,
        token_url: Some(server.url()),
        client_id: Some(CLIENT_ID.into()),
        client_secret: None,
        client_secret_file: Some(secret),
        scope: Some("https://outlook.office365.com/.default".into()),
        refresh_token_file: Some(refresh),
        token_command: None,
        ca_file: None,
    }
}

fn imap_settings(stack: &MailStack) -> config::Imap {
    config::Imap {
        auth: config::ImapAuth::Oauth2,
        password: None,
        ..stack.imap_config(INTAKE)
    }
}

fn smtp_settings(stack: &MailStack) -> config::Smtp {
    config::Smtp {
        port: stack.ports.submission,
        auth: config::SmtpAuth::Oauth2,
        username: Some(INTAKE.into()),
        ..stack.smtp_config()
    }
}

/// The IMAP intake and the SMTP transport of `stack`, both signing in
/// with tokens from `tokens`.
fn adapters(stack: &MailStack, tokens: &Arc<TokenSource>) -> (ImapMailbox, SmtpTransport) {
    let cursor = Box::new(MemoryCursor::default());
    let imap = imap_settings(stack);
    let mailbox =
        ImapMailbox::with_tokens(&imap, Some(tokens.clone()), 1 << 20, cursor, quick()).unwrap();
    let smtp = smtp_settings(stack);
    let timeout = Duration::from_secs(30);
    let transport = SmtpTransport::with_tokens(&smtp, Some(tokens.clone()), timeout).unwrap();
    (mailbox, transport)
}

/// Commands may wait: after a refused login Dovecot slows the next ones
/// from the same address (its auth penalty, up to 15 s).
fn quick() -> Timing {
    Timing {
        command: Duration::from_secs(20),
        backoff_min: Duration::from_millis(200),
        backoff_max: Duration::from_secs(1),
        ..Timing::default()
    }
}

/// Takes the one message waiting (reconnecting as needed), settles it.
async fn take_one(mailbox: &mut ImapMailbox) {
    let deadline = Instant::now() + DELIVERY;
    loop {
        let batch = crate::waiting(mailbox).await;
        if let Some(m) = batch.first() {
            mailbox
                .settle(&m.key, Disposition::Processed)
                .await
                .unwrap();
            return;
        }
        assert!(Instant::now() < deadline, "no message fetched");
        mailbox.wait(Duration::from_millis(300)).await.unwrap();
    }
}

/// Rounds of: a message in, taken over IMAP, a reply out over SMTP, with
/// the sessions ended between rounds; `pause` between rounds.
async fn rounds(
    stack: &MailStack,
    mailbox: &mut ImapMailbox,
    transport: &SmtpTransport,
    count: usize,
    pause: Duration,
) {
    for i in 0..count {
        let raw = mail(APPLICANTS[0], INTAKE, &format!("Demande {i}"), "Bonjour");
        stack.append(INTAKE, "INBOX", &raw).await;
        take_one(mailbox).await;
        transport
            .send(&reply(APPLICANTS[1], &format!("Reponse {i}")))
            .await
            .unwrap_or_else(|e| panic!("round {i}: {e}"));
        stack.kick(INTAKE);
        tokio::time::sleep(pause).await;
    }
}

#[tokio::test]
async fn xoauth2_client_credentials_tokens_renewed_during_the_run() {
    let stack = oauth_stack();
    let server = TokenServer::start(OAUTH_KEY, INTAKE, Duration::from_secs(4));
    let dir = tempfile::tempdir().unwrap();
    let cfg = oauth_settings(
        &server,
        Grant::ClientCredentials,
        SaslMechanism::Xoauth2,
        dir.path(),
    );
    let tokens = TokenSource::new(&cfg).unwrap();
    let (mut mailbox, transport) = adapters(&stack, &tokens);
    let started = Instant::now();
    rounds(&stack, &mut mailbox, &transport, 6, Duration::from_secs(2)).await;
    let run = started.elapsed();
    let got = stack
        .wait_for_messages(APPLICANTS[1], "INBOX", 6, DELIVERY)
        .await;
    assert_eq!(got.len(), 6, "every reply once");
    let counts = server.counts();
    assert!(
        counts.client_credentials >= 3,
        "tokens of 4 s renewed during a {run:?} run: {counts:?}"
    );
    assert_eq!(u64::from(counts.client_credentials), tokens.fetches());
    assert_eq!(counts.refused, 0);
    mailbox.close().await;
    eprintln!(
        "XOAUTH2/client_credentials: run {run:?}, tokens of 4 s, {} fetched; 6 messages in, 6 replies out",
        counts.client_credentials
    );
}

#[tokio::test]
async fn oauthbearer_refresh_token_rotated_written_back_and_a_refused_token_replaced() {
    let stack = oauth_stack();
    // Tokens last 8 s though the endpoint says an hour: the servers turn
    // down a token the client still holds for good.
    let server = TokenServer::start_announcing(
        OAUTH_KEY,
        INTAKE,
        Duration::from_secs(8),
        Duration::from_secs(3600),
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = oauth_settings(
        &server,
        Grant::RefreshToken,
        SaslMechanism::Oauthbearer,
        dir.path(),
    );
    let tokens = TokenSource::new(&cfg).unwrap();
    let (mut mailbox, transport) = adapters(&stack, &tokens);
    rounds(&stack, &mut mailbox, &transport, 3, Duration::from_secs(9)).await;
    let got = stack
        .wait_for_messages(APPLICANTS[1], "INBOX", 3, DELIVERY)
        .await;
    assert_eq!(got.len(), 3, "every reply once");
    let counts = server.counts();
    assert!(counts.refresh_token >= 3, "{counts:?}");
    assert_eq!(counts.refused, 0, "the rotated token was used each time");
    let saved = std::fs::read_to_string(cfg.refresh_token_file.as_ref().unwrap()).unwrap();
    assert_eq!(saved.trim(), server.current_refresh_token());
    assert_ne!(saved.trim(), "rt-0");
    mailbox.close().await;
    eprintln!(
        "OAUTHBEARER/refresh_token: {} refreshes, refresh token now {}",
        counts.refresh_token,
        saved.trim()
    );
}
