//! Where the intake's folders go on a real server: under the personal
//! namespace Dovecot announces (`INBOX.` with `.`, the Cyrus and Courier
//! layout), and a server that refuses to create them is a configuration
//! error said plainly, not an outage retried forever.

use std::time::{Duration, Instant};

use crate::mailstack::{mail, MailStack, Options, APPLICANTS, INTAKE, PROCESSED_WIRE};
use guichet::intake::imap::{ImapMailbox, MemoryCursor, Timing};
use guichet::intake::{Disposition, Mailbox};

fn quick() -> Timing {
    Timing {
        command: Duration::from_secs(5),
        backoff_min: Duration::from_millis(100),
        backoff_max: Duration::from_secs(1),
        ..Timing::default()
    }
}

fn intake(stack: &MailStack, cursor: &MemoryCursor) -> ImapMailbox {
    let cfg = stack.imap_config(INTAKE);
    ImapMailbox::with_timing(&cfg, 1 << 20, Box::new(cursor.clone()), quick()).unwrap()
}

fn inbox_prefixed() -> MailStack {
    MailStack::start_with(Options {
        inbox_prefix: true,
        ..Options::default()
    })
}

#[tokio::test]
async fn on_an_inbox_dot_layout_the_folders_go_under_inbox_and_mail_is_taken() {
    let stack = inbox_prefixed();
    // As on Cyrus: nothing may be created outside the personal namespace.
    let mut session = stack.imap_session(INTAKE).await;
    let refused = session.create(PROCESSED_WIRE).await;
    assert!(refused.is_err(), "Dovecot refuses a folder outside INBOX.");
    let _ = session.logout().await;

    for (i, subject) in ["Demande A", "Demande B"].iter().enumerate() {
        let from = APPLICANTS[i];
        let raw = mail(from, INTAKE, subject, "Formulaire ci-joint.");
        stack.append(INTAKE, "INBOX", &raw).await;
    }
    let cursor = MemoryCursor::default();
    let mut mailbox = intake(&stack, &cursor);
    let started = Instant::now();
    let batch = crate::waiting(&mut mailbox).await;
    assert_eq!(batch.len(), 2, "INBOX is read at the first connection");
    mailbox
        .settle(&batch[0].key, Disposition::Processed)
        .await
        .unwrap();
    mailbox
        .settle(&batch[1].key, Disposition::Quarantine("test".into()))
        .await
        .unwrap();
    let took = started.elapsed();
    mailbox.close().await;

    let folders = stack.folders(INTAKE).await;
    let processed = format!("INBOX.{PROCESSED_WIRE}");
    assert!(folders.contains(&processed), "{folders:?}");
    assert!(
        folders.contains(&"INBOX.Quarantaine".to_string()),
        "{folders:?}"
    );
    assert_eq!(stack.messages(INTAKE, &processed).await.len(), 1);
    assert_eq!(stack.messages(INTAKE, "INBOX.Quarantaine").await.len(), 1);
    assert!(stack.messages(INTAKE, "INBOX").await.is_empty());
    eprintln!("INBOX. layout: folders {folders:?}; 2 messages fetched and settled in {took:?}");

    // A second run finds the folders there and goes on.
    let mut again = intake(&stack, &cursor);
    assert!(crate::waiting(&mut again).await.is_empty());
    assert!(again.is_connected());
    again.close().await;
}

#[tokio::test]
async fn folders_the_server_refuses_are_a_configuration_error_not_an_outage() {
    let stack = MailStack::start();
    let mut cfg = stack.imap_config(INTAKE);
    // Dovecot refuses a name that would climb out of its mail directory.
    cfg.processed_folder = "~Traité".into();
    let mut mailbox =
        ImapMailbox::with_timing(&cfg, 1 << 20, Box::new(MemoryCursor::default()), quick())
            .unwrap();
    let err = mailbox.next().await.unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("configuration error"), "{text}");
    assert!(
        text.contains("refuses to create the folder `~Trait&AOk-`"),
        "{text}"
    );
    assert!(!mailbox.is_connected());
}
