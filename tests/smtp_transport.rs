//! The SMTP transport against a real Postfix: replies land in the
//! recipient's mailbox unchanged, outages are transient, refusals permanent.

mod mailstack;

use std::time::Duration;

use guichet::outbox::smtp::SmtpTransport;
use guichet::outbox::{Outgoing, SendError, Transport};
use mailstack::{mail, MailStack, Options, APPLICANTS, INTAKE};

const DELIVERY: Duration = Duration::from_secs(15);

fn reply(to: &str, subject: &str) -> Outgoing {
    Outgoing {
        id: subject.replace(' ', "-"),
        envelope_from: INTAKE.into(),
        to: vec![to.into()],
        raw: mail(INTAKE, to, subject, "Votre demande a bien été reçue."),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn a_reply_lands_unchanged_in_the_applicant_mailbox() {
    let stack = MailStack::start();
    let transport = SmtpTransport::new(&stack.smtp_config()).unwrap();
    let out = reply(APPLICANTS[0], "Accuse de reception 1");
    transport.send(&out).await.unwrap();
    let got = stack
        .wait_for_messages(APPLICANTS[0], "INBOX", 1, DELIVERY)
        .await;
    assert_eq!(got.len(), 1);
    assert!(
        contains(&got[0], b"Received: from "),
        "Postfix's trace header is there"
    );
    assert!(
        contains(&got[0], &out.raw),
        "the message is delivered byte for byte after the trace headers"
    );
    assert!(stack.messages(APPLICANTS[1], "INBOX").await.is_empty());
}

#[tokio::test]
async fn postfix_down_is_transient_and_sending_resumes_when_it_returns() {
    let mut stack = MailStack::start();
    let transport =
        SmtpTransport::with_timeout(&stack.smtp_config(), Duration::from_secs(5)).unwrap();
    stack.stop_postfix();
    let out = reply(APPLICANTS[1], "Accuse de reception 2");
    match transport.send(&out).await {
        Err(SendError::Transient(why)) => assert!(!why.is_empty()),
        other => panic!("expected a transient failure, got {other:?}"),
    }
    stack.start_postfix();
    transport.send(&out).await.unwrap();
    let got = stack
        .wait_for_messages(APPLICANTS[1], "INBOX", 1, DELIVERY)
        .await;
    assert_eq!(got.len(), 1, "sent once, received once");
}

#[tokio::test]
async fn refused_recipients_are_permanent() {
    let stack = MailStack::start();
    let transport = SmtpTransport::new(&stack.smtp_config()).unwrap();
    for to in ["nobody@organisme.example", "someone@elsewhere.example"] {
        match transport.send(&reply(to, "Refus")).await {
            Err(SendError::Permanent(why)) => assert!(why.contains("550"), "{why}"),
            other => panic!("{to}: expected a permanent failure, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn submission_over_starttls_and_implicit_tls_with_a_private_ca() {
    let stack = MailStack::start_with(Options {
        tls: true,
        ..Options::default()
    });
    let starttls = SmtpTransport::new(&stack.submission_config(INTAKE)).unwrap();
    starttls
        .send(&reply(APPLICANTS[2], "Par STARTTLS"))
        .await
        .unwrap();

    let mut implicit = stack.submission_config(INTAKE);
    implicit.tls = guichet::config::Tls::Implicit;
    implicit.port = stack.ports.smtps;
    SmtpTransport::new(&implicit)
        .unwrap()
        .send(&reply(APPLICANTS[2], "Par SMTPS"))
        .await
        .unwrap();

    let got = stack
        .wait_for_messages(APPLICANTS[2], "INBOX", 2, DELIVERY)
        .await;
    assert_eq!(got.len(), 2);

    let mut wrong = stack.submission_config(INTAKE);
    wrong.password = Some("not the password".into());
    match SmtpTransport::new(&wrong)
        .unwrap()
        .send(&reply(APPLICANTS[2], "Refus"))
        .await
    {
        Err(SendError::Permanent(why)) => assert!(why.contains("535"), "{why}"),
        other => panic!("bad credentials: expected a permanent failure, got {other:?}"),
    }

    let mut untrusted = stack.submission_config(INTAKE);
    untrusted.ca_file = None;
    match SmtpTransport::new(&untrusted)
        .unwrap()
        .send(&reply(APPLICANTS[2], "Refus"))
        .await
    {
        Err(SendError::Transient(_)) => {}
        other => panic!("unknown CA: expected a transient failure, got {other:?}"),
    }
}
